// Monitors (M1–M4).
import assert from "node:assert/strict";
import { Crash, Down, type Pid, type Ref, Runtime } from "../mod.ts";
import { assertInstanceOf, idle, settle } from "./_util.ts";

const isDown = (m: unknown): m is Down => m instanceof Down;

// --- M1 -------------------------------------------------------------------

Deno.test("M1: monitor returns a unique ref; exactly one Down(ref, pid, reason) arrives", async () => {
  await using rt = new Runtime();
  const target = rt.spawn(async (proc) => {
    await proc.receive();
    throw new Error("target failed");
  });
  const got = Promise.withResolvers<[Ref, Down, number]>();
  rt.spawn(async (proc) => {
    const ref = proc.monitor(target);
    proc.send(target, "fail now");
    const down = await proc.receive(isDown);
    // Nothing else arrives for this monitor.
    const extra = await proc.receive(isDown, { timeout: 0 });
    got.resolve([ref, down, extra === undefined ? 0 : 1]);
  });
  const [ref, down, extra] = await got.promise;
  assert.ok(down.ref.equals(ref));
  assert.ok(down.pid?.equals(target));
  assert.equal(down.node, rt.node);
  assertInstanceOf(down.reason, Crash);
  assert.equal(down.reason.message, "target failed");
  assert.equal(extra, 0);
});

Deno.test("M1: a process monitoring itself, by pid or by its name, gets a ref and no monitor, as in Erlang", async () => {
  await using rt = new Runtime();
  const got = Promise.withResolvers<unknown[]>();
  rt.spawn(async (proc) => {
    rt.register("me", proc.self);
    const refs = [
      proc.monitor(proc.self),
      proc.monitor("me"),
      proc.monitor(["me", rt.node]),
    ];
    const info = rt.processInfo(proc.self)!;
    got.resolve([
      new Set(refs.map(String)).size,
      info.monitors.length,
      info.monitoredBy.length,
      refs.map((r) => proc.demonitor(r)),
    ]);
    await proc.receive();
  });
  assert.deepEqual(await got.promise, [3, 0, 0, [false, false, false]]);
});

Deno.test("M1: several monitors on one target give several Downs with distinct refs", async () => {
  await using rt = new Runtime();
  const target = rt.spawn(idle);
  const got = Promise.withResolvers<[Ref[], Down[]]>();
  const ready = Promise.withResolvers<void>();
  rt.spawn(async (proc) => {
    const refs = [
      proc.monitor(target),
      proc.monitor(target),
      proc.monitor(target),
    ];
    ready.resolve();
    const downs = [
      await proc.receive(isDown),
      await proc.receive(isDown),
      await proc.receive(isDown),
    ];
    got.resolve([refs, downs]);
  });
  await ready.promise;
  rt.exit(target, "bye");
  const [refs, downs] = await got.promise;
  assert.equal(new Set(refs.map((r) => r.id)).size, 3);
  assert.deepEqual(
    downs.map((d) => refs.findIndex((r) => r.equals(d.ref))).sort(),
    [0, 1, 2],
  );
  for (const d of downs) assert.equal(d.reason, "bye");
});

Deno.test("M1: a monitor set on a process that dies later in the same turn gives its Down", async () => {
  await using rt = new Runtime();
  const got = Promise.withResolvers<Down>();
  let targetRan = false;
  rt.spawn(async (proc) => {
    const target = proc.spawn(() => {
      targetRan = true;
    });
    proc.monitor(target);
    proc.exit(target, "kill");
    got.resolve(await proc.receive(isDown));
  });
  assert.equal((await got.promise).reason, "killed");
  assert.equal(targetRan, false);
});

Deno.test("M1: spawnMonitor monitors before the child runs", async () => {
  await using rt = new Runtime();
  const got = Promise.withResolvers<[Pid, Ref, Down]>();
  rt.spawn(async (proc) => {
    const [pid, ref] = proc.spawnMonitor(() => {
      throw new Error("at once");
    });
    got.resolve([pid, ref, await proc.receive(isDown)]);
  });
  const [pid, ref, down] = await got.promise;
  assert.ok(down.ref.equals(ref));
  assert.ok(down.pid?.equals(pid));
  assertInstanceOf(down.reason, Crash);
});

// --- M2 -------------------------------------------------------------------

Deno.test("M2: monitoring a dead pid gives Down noproc at once", async () => {
  await using rt = new Runtime();
  const dead = rt.spawn(() => {});
  await rt.whenExited(dead);
  const got = Promise.withResolvers<[number, Down]>();
  rt.spawn(async (proc) => {
    const ref = proc.monitor(dead);
    const queued = proc.mailboxLength;
    const down = await proc.receive(isDown);
    assert.ok(down.ref.equals(ref));
    got.resolve([queued, down]);
  });
  const [queued, down] = await got.promise;
  assert.equal(queued, 1);
  assert.equal(down.reason, "noproc");
  assert.ok(down.pid?.equals(dead));
});

Deno.test("M2: monitoring an unregistered name gives Down noproc with the name", async () => {
  await using rt = new Runtime({ node: "a@host" });
  const got = Promise.withResolvers<Down[]>();
  rt.spawn(async (proc) => {
    proc.monitor("ghost");
    proc.monitor(["ghost", "a@host"]);
    got.resolve([await proc.receive(isDown), await proc.receive(isDown)]);
  });
  for (const down of await got.promise) {
    assert.equal(down.reason, "noproc");
    assert.equal(down.name, "ghost");
    assert.equal(down.pid, undefined);
    assert.equal(down.node, "a@host");
  }
});

// --- M3 -------------------------------------------------------------------

Deno.test("M3: after demonitor returns, no Down for that ref arrives", async () => {
  await using rt = new Runtime();
  const target = rt.spawn(idle);
  const got = Promise.withResolvers<[boolean, boolean, unknown]>();
  rt.spawn(async (proc) => {
    const ref = proc.monitor(target);
    const first = proc.demonitor(ref);
    const second = proc.demonitor(ref);
    proc.exit(target, "kill");
    got.resolve([first, second, await proc.receive(isDown, { timeout: 0 })]);
  });
  assert.deepEqual(await got.promise, [true, false, undefined]);
  assert.equal(rt.processInfo(target), undefined);
});

Deno.test("M3: demonitor racing a Down already queued: without flush it stays", async () => {
  await using rt = new Runtime();
  const target = rt.spawn(idle);
  const got = Promise.withResolvers<[boolean, unknown]>();
  rt.spawn(async (proc) => {
    const ref = proc.monitor(target);
    proc.exit(target, "kill"); // the Down is queued now
    const active = proc.demonitor(ref);
    got.resolve([active, await proc.receive({ timeout: 0 })]);
  });
  const [active, msg] = await got.promise;
  assert.equal(active, false);
  assertInstanceOf(msg, Down);
  assert.equal(msg.reason, "killed");
});

Deno.test("M3: demonitor(ref, {flush}) removes a Down already queued, and only that one", async () => {
  await using rt = new Runtime();
  const a = rt.spawn(idle);
  const b = rt.spawn(idle);
  const got = Promise.withResolvers<unknown[]>();
  rt.spawn(async (proc) => {
    const refA = proc.monitor(a);
    const refB = proc.monitor(b);
    proc.send(proc.self, "before");
    proc.exit(a, "kill");
    proc.exit(b, "kill");
    proc.send(proc.self, "after");
    proc.demonitor(refA, { flush: true });
    const rest = [];
    while (proc.mailboxLength > 0) rest.push(await proc.receive());
    assert.ok((rest[1] as Down).ref.equals(refB));
    got.resolve(rest);
  });
  const rest = await got.promise;
  assert.equal(rest.length, 3);
  assert.equal(rest[0], "before");
  assertInstanceOf(rest[1], Down);
  assert.equal(rest[2], "after");
});

// --- M4 -------------------------------------------------------------------

Deno.test("M4: a monitor is one-directional: the watcher's death does not affect the target", async () => {
  await using rt = new Runtime();
  const target = rt.spawn(idle, { trapExit: true });
  const watcher = rt.spawn(async (proc) => {
    proc.monitor(target);
    await proc.receive();
    throw new Error("watcher crashed");
  });
  await settle();
  assert.deepEqual(rt.processInfo(target)?.monitoredBy, [watcher]);
  rt.send(watcher, "crash");
  await rt.whenExited(watcher);
  await settle();
  assert.ok(rt.isAlive(target));
  assert.equal(rt.processInfo(target)?.mailboxLength, 0);
  assert.deepEqual(rt.processInfo(target)?.monitoredBy, []);
});

Deno.test("M4: the target exiting does not kill the watcher, even abnormally", async () => {
  await using rt = new Runtime();
  const target = rt.spawn(idle);
  const watcher = rt.spawn(async (proc) => {
    proc.monitor(target);
    await proc.receive(() => false);
  });
  await settle();
  rt.exit(target, "kill");
  await settle();
  assert.ok(rt.isAlive(watcher));
  assert.equal(rt.processInfo(watcher)?.mailboxLength, 1);
});

Deno.test("M1: a Down is delivered to a watcher that is waiting for it in receive", async () => {
  await using rt = new Runtime();
  const N = 1000;
  const targets: Pid[] = [];
  for (let i = 0; i < N; i++) targets.push(rt.spawn(idle));
  const ready = Promise.withResolvers<void>();
  const done = Promise.withResolvers<number>();
  rt.spawn(async (proc) => {
    for (const t of targets) proc.monitor(t);
    ready.resolve();
    let n = 0;
    while (n < N) {
      await proc.receive(isDown);
      n++;
    }
    done.resolve(n);
  });
  await ready.promise;
  for (const t of targets) rt.exit(t, "kill");
  assert.equal(await done.promise, N);
});
