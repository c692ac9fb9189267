// Registered names (N1–N3).
import assert from "node:assert/strict";
import {
  Down,
  Exit,
  InvalidArgumentError,
  NameTakenError,
  NoProcessError,
  NotRegisteredError,
  Pid,
  Runtime,
} from "../mod.ts";
import { assertInstanceOf, assertThrows, idle, settle } from "./_util.ts";

// --- N1 -------------------------------------------------------------------

Deno.test("N1: register maps a name to a live pid; whereis and registered see it", async () => {
  await using rt = new Runtime();
  const pid = rt.spawn(idle);
  rt.register("db", pid);
  assert.ok(rt.whereis("db")?.equals(pid));
  assert.deepEqual(rt.registered(), ["db"]);
  assert.equal(rt.processInfo(pid)?.name, "db");
  const named = rt.spawn(idle, { name: "cache" });
  assert.ok(rt.whereis("cache")?.equals(named));
  assert.equal(rt.whereis("nothing"), undefined);
});

Deno.test("N1: registering a taken name fails with NameTakenError naming the holder", async () => {
  await using rt = new Runtime();
  const holder = rt.spawn(idle, { name: "db" });
  const other = rt.spawn(idle);
  const err = assertThrows(() => rt.register("db", other), NameTakenError);
  assert.equal(err.name, "NameTakenError");
  assert.equal(err.registeredName, "db");
  assert.ok(err.pid.equals(holder));
  assert.match(err.message, /Cannot register "db": the name is taken by/);
  const before = rt.processCount;
  assertThrows(() => rt.spawn(idle, { name: "db" }), NameTakenError);
  assert.equal(rt.processCount, before, "a failed spawn creates no process");
});

Deno.test("N1: a pid has at most one name", async () => {
  await using rt = new Runtime();
  const pid = rt.spawn(idle, { name: "first" });
  const err = assertThrows(() => rt.register("second", pid), NameTakenError);
  assert.ok(err.pid.equals(pid));
  assert.match(err.message, /already registered as "first"/);
  assert.equal(rt.whereis("second"), undefined);
});

Deno.test("N1: registering a dead or unknown pid fails with NoProcessError", async () => {
  await using rt = new Runtime();
  const dead = rt.spawn(() => {});
  await rt.whenExited(dead);
  const err = assertThrows(() => rt.register("late", dead), NoProcessError);
  assert.equal(err.name, "NoProcessError");
  assert.ok(err.pid.equals(dead));
  assertThrows(
    () => rt.register("remote", new Pid("other@host", 1, 1)),
    NoProcessError,
  );
  assert.equal(rt.whereis("late"), undefined);
});

Deno.test("N1: bad names and pids give InvalidArgumentError", async () => {
  await using rt = new Runtime();
  const pid = rt.spawn(idle);
  // deno-lint-ignore no-explicit-any
  const anyRt = rt as any;
  assertThrows(() => rt.register("", pid), InvalidArgumentError);
  assertThrows(() => anyRt.register(42, pid), InvalidArgumentError);
  assertThrows(() => anyRt.register("x", { id: 1 }), InvalidArgumentError);
  assertThrows(() => anyRt.spawn(idle, { name: "" }), InvalidArgumentError);
});

Deno.test("N1: a process registers itself; unregister frees the name", async () => {
  await using rt = new Runtime();
  const ready = Promise.withResolvers<void>();
  const pid = rt.spawn(async (proc) => {
    proc.register("me");
    ready.resolve();
    await proc.receive();
  });
  await ready.promise;
  assert.ok(rt.whereis("me")?.equals(pid));
  assert.equal(rt.unregister("me"), true);
  assert.equal(rt.unregister("me"), false);
  assert.equal(rt.whereis("me"), undefined);
  assert.equal(rt.processInfo(pid)?.name, undefined);
  rt.register("me-again", pid);
  assert.ok(rt.whereis("me-again")?.equals(pid));
});

// --- N2 -------------------------------------------------------------------

Deno.test("N2: a name is released when its process exits, however it exits", async () => {
  await using rt = new Runtime();
  const returns = rt.spawn(() => {}, { name: "returns" });
  const crashes = rt.spawn(() => {
    throw new Error("x");
  }, { name: "crashes" });
  const killed = rt.spawn(idle, { name: "killed" });
  rt.exit(killed, "kill");
  assert.equal(rt.whereis("killed"), undefined);
  await Promise.all([rt.whenExited(returns), rt.whenExited(crashes)]);
  assert.deepEqual(rt.registered(), []);
  assertThrows(() => rt.send("returns", 1), NotRegisteredError);
  const again = rt.spawn(idle, { name: "returns" });
  assert.ok(rt.whereis("returns")?.equals(again));
});

// --- N3 -------------------------------------------------------------------

Deno.test("N3: send by name and by [name, localNode]", async () => {
  await using rt = new Runtime({ node: "a@host" });
  const got = Promise.withResolvers<unknown[]>();
  rt.spawn(async (proc) => {
    got.resolve([await proc.receive(), await proc.receive()]);
  }, { name: "inbox" });
  rt.send("inbox", 1);
  rt.send(["inbox", "a@host"], 2);
  assert.deepEqual(await got.promise, [1, 2]);
});

Deno.test("N3: monitor by name gives a Down carrying the name and the pid", async () => {
  await using rt = new Runtime({ node: "a@host" });
  const target = rt.spawn(idle, { name: "svc" });
  const got = Promise.withResolvers<Down[]>();
  const ready = Promise.withResolvers<void>();
  rt.spawn(async (proc) => {
    proc.monitor("svc");
    proc.monitor(["svc", "a@host"]);
    ready.resolve();
    got.resolve([
      await proc.receive((m) => m instanceof Down) as Down,
      await proc.receive((m) => m instanceof Down) as Down,
    ]);
  });
  await ready.promise;
  rt.exit(target, "gone");
  for (const down of await got.promise) {
    assert.equal(down.reason, "gone");
    assert.equal(down.name, "svc");
    assert.ok(down.pid?.equals(target));
  }
});

Deno.test("N3: link by name and by [name, localNode]", async () => {
  await using rt = new Runtime({ node: "a@host" });
  const a = rt.spawn(idle, { name: "a" });
  const b = rt.spawn(idle, { name: "b" });
  const ready = Promise.withResolvers<void>();
  const got = Promise.withResolvers<[Exit, Exit]>();
  const linker = rt.spawn(async (proc) => {
    proc.trapExit(true);
    proc.link("a");
    proc.link(["b", "a@host"]);
    ready.resolve();
    got.resolve([
      await proc.receive((m) => m instanceof Exit) as Exit,
      await proc.receive((m) => m instanceof Exit) as Exit,
    ]);
  });
  await ready.promise;
  assert.equal(rt.processInfo(linker)?.links.length, 2);
  rt.exit(a, "x");
  rt.exit(b, "y");
  const [e1, e2] = await got.promise;
  assert.ok(e1.from.equals(a) && e1.reason === "x");
  assert.ok(e2.from.equals(b) && e2.reason === "y");
});

Deno.test("N3: exit by name reaches the registered process", async () => {
  await using rt = new Runtime({ node: "a@host" });
  const pid = rt.spawn(idle, { name: "victim" });
  const exited = rt.whenExited(pid);
  rt.exit(["victim", "a@host"], "kill");
  assert.equal(await exited, "killed");
});

Deno.test("N3: a name on another node with no distribution attached: send is dropped, monitor gives noconnection", async () => {
  await using rt = new Runtime({ node: "a@host" });
  rt.send(["svc", "b@elsewhere"], "dropped");
  const got = Promise.withResolvers<Down>();
  rt.spawn(async (proc) => {
    proc.monitor(["svc", "b@elsewhere"]);
    got.resolve(await proc.receive((m) => m instanceof Down) as Down);
  });
  const down = await got.promise;
  assertInstanceOf(down, Down);
  assert.equal(down.reason, "noconnection");
  assert.equal(down.node, "b@elsewhere");
  await settle();
});

Deno.test("N3: a [name, node] on another node that cannot travel (over 255 bytes of UTF-8, or a lone surrogate) is refused with InvalidArgumentError", async () => {
  await using rt = new Runtime({ node: "here@127.0.0.1" });
  const tooLong = "n".repeat(256);
  const lone = "\uD800x";
  for (const name of [tooLong, lone]) {
    const dest: [string, string] = [name, "there@127.0.0.1"];
    assert.throws(() => rt.send(dest, "m"), InvalidArgumentError);
    assert.throws(() => rt.exit(dest, "bye"), InvalidArgumentError);
    const refused = Promise.withResolvers<unknown[]>();
    rt.spawn((p) => {
      const errors: unknown[] = [];
      for (const act of [() => p.link(dest), () => p.monitor(dest)]) {
        try {
          act();
        } catch (error) {
          errors.push(error);
        }
      }
      refused.resolve(errors);
    });
    const errors = await refused.promise;
    assert.equal(errors.length, 2);
    for (const e of errors) assertInstanceOf(e, InvalidArgumentError);
  }
  // 255 bytes travel; on this node any string names a process.
  assert.doesNotThrow(() =>
    rt.send(["é".repeat(127) + "x", "there@127.0.0.1"], "m")
  );
  assert.throws(
    () => rt.send([tooLong, "here@127.0.0.1"], "m"),
    NotRegisteredError,
  );
});
