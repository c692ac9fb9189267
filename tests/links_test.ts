// Links and exit signals (L1–L5).
import assert from "node:assert/strict";
import {
  Crash,
  Exit,
  type ExitReason,
  InitStop,
  InvalidArgumentError,
  type Pid,
  type Process,
  Runtime,
  startServer,
  stopServer,
} from "../mod.ts";
import { assertInstanceOf, idle, settle } from "./_util.ts";

/** Spawns a process that runs `setup`, then reports every message it gets. */
function observer(
  rt: Runtime,
  setup: (proc: Process) => void,
): { pid: Pid; ready: Promise<void>; messages: unknown[] } {
  const ready = Promise.withResolvers<void>();
  const messages: unknown[] = [];
  const pid = rt.spawn(async (proc) => {
    setup(proc);
    ready.resolve();
    for (;;) messages.push(await proc.receive());
  });
  return { pid, ready: ready.promise, messages };
}

// --- L1 -------------------------------------------------------------------

Deno.test("L1: a link is bidirectional: either side's crash kills the other", async () => {
  await using rt = new Runtime();
  for (const crashSide of ["linker", "linked"] as const) {
    const linked = rt.spawn(idle);
    const linker = observer(rt, (proc) => proc.link(linked));
    await linker.ready;
    assert.deepEqual(rt.processInfo(linked)?.links, [linker.pid]);
    assert.deepEqual(rt.processInfo(linker.pid)?.links, [linked]);
    const [dies, survivor] = crashSide === "linker"
      ? [linker.pid, linked]
      : [linked, linker.pid];
    const survivorExit = rt.whenExited(survivor);
    rt.exit(dies, "boom");
    assert.deepEqual(await survivorExit, "boom");
  }
});

Deno.test("L1: link is idempotent and one unlink removes both directions", async () => {
  await using rt = new Runtime();
  const other = rt.spawn(idle);
  const me = observer(rt, (proc) => {
    proc.link(other);
    proc.link(other);
    proc.link(proc.self); // linking to oneself does nothing
  });
  await me.ready;
  assert.deepEqual(rt.processInfo(me.pid)?.links, [other]);
  assert.deepEqual(rt.processInfo(other)?.links, [me.pid]);
  const pair = rt.spawn(async (proc) => {
    proc.link(other);
    proc.link(other);
    proc.unlink(other);
    proc.unlink(other); // nothing left to remove: no error
    await proc.receive();
  });
  await settle();
  assert.deepEqual(rt.processInfo(pair)?.links, []);
  assert.deepEqual(rt.processInfo(other)?.links, [me.pid]);
});

Deno.test("L1: after unlink, neither side sees the other's exit", async () => {
  await using rt = new Runtime();
  const other = rt.spawn(idle);
  const me = observer(rt, (proc) => {
    proc.link(other);
    proc.unlink(other);
  });
  await me.ready;
  assert.deepEqual(rt.processInfo(me.pid)?.links, []);
  assert.deepEqual(rt.processInfo(other)?.links, []);
  rt.exit(other, "boom");
  await settle();
  assert.ok(rt.isAlive(me.pid));
  assert.deepEqual(me.messages, []);
});

// --- L2 -------------------------------------------------------------------

Deno.test("L2: a non-trapping linked process dies with the same reason", async () => {
  await using rt = new Runtime();
  const crasher = rt.spawn(async (proc) => {
    await proc.receive((m) => m === "crash");
    throw new Error("boom");
  });
  const linked = observer(rt, (proc) => proc.link(crasher));
  await linked.ready;
  const exited = rt.whenExited(linked.pid);
  rt.send(crasher, "crash");
  const reason = await exited;
  assertInstanceOf(reason, Crash);
  assert.deepEqual(reason.message, "boom");
});

Deno.test("L2: a non-trapping process ignores a normal exit signal from a link", async () => {
  await using rt = new Runtime();
  const quitter = rt.spawn(async (proc) => {
    await proc.receive();
  });
  const linked = observer(rt, (proc) => proc.link(quitter));
  await linked.ready;
  const quit = rt.whenExited(quitter);
  rt.send(quitter, "go");
  assert.deepEqual(await quit, "normal");
  await settle();
  assert.ok(rt.isAlive(linked.pid));
  assert.deepEqual(linked.messages, []);
  assert.deepEqual(rt.processInfo(linked.pid)?.links, []);
});

Deno.test("L2: a trapping process gets Exit(from, reason) instead of dying, and lives on", async () => {
  await using rt = new Runtime();
  const a = rt.spawn(idle);
  const b = rt.spawn(idle);
  const trapper = observer(rt, (proc) => {
    proc.trapExit(true);
    proc.link(a);
    proc.link(b);
  });
  await trapper.ready;
  rt.exit(a, "kill");
  const stopB = rt.whenExited(b);
  rt.exit(b, "normal"); // ignored by b: it does not trap
  await settle();
  assert.ok(rt.isAlive(b));
  rt.exit(b, "custom");
  await stopB;
  await settle();
  assert.ok(rt.isAlive(trapper.pid));
  assert.deepEqual(trapper.messages.length, 2);
  const [e1, e2] = trapper.messages;
  assertInstanceOf(e1, Exit);
  assertInstanceOf(e2, Exit);
  assert.ok(e1.from.equals(a));
  assert.deepEqual(e1.reason, "killed");
  assert.ok(e2.from.equals(b));
  assert.deepEqual(e2.reason, "custom");
});

Deno.test("L2: a trapping process gets Exit with normal when a linked process returns", async () => {
  await using rt = new Runtime();
  const got = Promise.withResolvers<Exit>();
  rt.spawn(async (proc) => {
    proc.trapExit(true);
    const child = proc.spawnLink(() => {});
    const exit = await proc.receive((m) => m instanceof Exit);
    assert.ok((exit as Exit).from.equals(child));
    got.resolve(exit as Exit);
  });
  assert.deepEqual((await got.promise).reason, "normal");
});

Deno.test("L2: trapExit returns the previous setting and can be turned off again", async () => {
  await using rt = new Runtime();
  const got = Promise.withResolvers<boolean[]>();
  const pid = rt.spawn(async (proc) => {
    const flags = [
      proc.trapExit(true),
      proc.trapExit(false),
      proc.trapExit(false),
    ];
    got.resolve(flags);
    await proc.receive();
  });
  assert.deepEqual(await got.promise, [false, true, false]);
  rt.exit(pid, "off");
  assert.deepEqual(await rt.whenExited(pid), "noproc");
});

Deno.test("L2: spawn option trapExit starts the process trapping", async () => {
  await using rt = new Runtime();
  const trapper = rt.spawn(idle, { trapExit: true });
  assert.deepEqual(rt.processInfo(trapper)?.trapExit, true);
  rt.exit(trapper, "boom");
  assert.ok(rt.isAlive(trapper));
  assert.deepEqual(rt.processInfo(trapper)?.mailboxLength, 1);
});

// --- L3 -------------------------------------------------------------------

Deno.test('L3: exit(pid, "kill") kills a process that traps exits; linked processes see killed', async () => {
  await using rt = new Runtime();
  const target = rt.spawn(idle, { trapExit: true });
  const trapping = observer(rt, (proc) => {
    proc.trapExit(true);
    proc.link(target);
  });
  const plain = observer(rt, (proc) => proc.link(target));
  await Promise.all([trapping.ready, plain.ready]);
  const targetExit = rt.whenExited(target);
  const plainExit = rt.whenExited(plain.pid);
  rt.exit(target, "kill");
  assert.deepEqual(await targetExit, "killed");
  assert.deepEqual(await plainExit, "killed");
  await settle();
  assert.deepEqual(trapping.messages.length, 1);
  const exit = trapping.messages[0];
  assertInstanceOf(exit, Exit);
  assert.deepEqual(exit.reason, "killed");
});

Deno.test("L3: any other reason sent with exit behaves like a link signal", async () => {
  await using rt = new Runtime();
  const plain = rt.spawn(idle);
  const trapper = rt.spawn(idle, { trapExit: true });
  rt.exit(plain, "normal"); // ignored when not trapping
  assert.ok(rt.isAlive(plain));
  rt.exit(trapper, "normal");
  rt.exit(trapper, "stop please");
  assert.ok(rt.isAlive(trapper));
  const info = rt.processInfo(trapper);
  assert.deepEqual(info?.mailboxLength, 2);
  const plainExit = rt.whenExited(plain);
  rt.exit(plain, "stop please");
  assert.deepEqual(await plainExit, "stop please");
});

Deno.test("L3: a process sends exit to another; the trapping target sees its pid as from", async () => {
  await using rt = new Runtime();
  const target = observer(rt, (proc) => proc.trapExit(true));
  await target.ready;
  const sender = rt.spawn((proc) => proc.exit(target.pid, "why"));
  await rt.whenExited(sender);
  await settle();
  const exit = target.messages[0];
  assertInstanceOf(exit, Exit);
  assert.ok(exit.from.equals(sender));
  assert.deepEqual(exit.reason, "why");
});

Deno.test("L3: exit(self, normal) ends the caller with normal; trapping, it becomes a message", async () => {
  await using rt = new Runtime();
  let after = false;
  const ready = Promise.withResolvers<void>();
  const plain = rt.spawn(async (proc) => {
    await proc.receive();
    proc.exit(proc.self, "normal");
    await proc.receive();
    after = true;
  });
  const trapper = rt.spawn(async (proc) => {
    proc.trapExit(true);
    proc.exit(proc.self, "normal");
    ready.resolve();
    await proc.receive(() => false);
  });
  const exited = rt.whenExited(plain);
  rt.send(plain, "go");
  rt.send(plain, "more");
  assert.deepEqual(await exited, "normal");
  await ready.promise;
  assert.ok(rt.isAlive(trapper));
  assert.deepEqual(rt.processInfo(trapper)?.mailboxLength, 1);
  await settle();
  assert.equal(after, false);
});

Deno.test('L3: exit(self, "kill") ends the caller with killed', async () => {
  await using rt = new Runtime();
  const pid = rt.spawn(async (proc) => {
    proc.trapExit(true);
    proc.exit(proc.self, "kill");
    await proc.receive();
  });
  assert.deepEqual(await rt.whenExited(pid), "killed");
});

Deno.test("L3: exit to a dead pid or an unknown name does nothing", async () => {
  await using rt = new Runtime();
  const dead = rt.spawn(() => {});
  await rt.whenExited(dead);
  rt.exit(dead, "kill");
  rt.exit("nobody", "kill");
  const pid = rt.spawn((proc) => {
    proc.exit(dead, "kill");
    proc.exit("nobody", "kill");
  });
  assert.deepEqual(await rt.whenExited(pid), "normal");
});

// --- L4 -------------------------------------------------------------------

Deno.test("L4: linking to a dead pid, untrapped: the caller dies with noproc", async () => {
  await using rt = new Runtime();
  const dead = rt.spawn(() => {});
  await rt.whenExited(dead);
  let after = false;
  const pid = rt.spawn(async (proc) => {
    proc.link(dead);
    await proc.receive();
    after = true;
  });
  assert.deepEqual(await rt.whenExited(pid), "noproc");
  await settle();
  assert.equal(after, false);
});

Deno.test("L4: linking to a dead pid or unregistered name, trapped: an Exit noproc message", async () => {
  await using rt = new Runtime({ node: "a@host" });
  const dead = rt.spawn(() => {});
  await rt.whenExited(dead);
  const got = Promise.withResolvers<unknown[]>();
  rt.spawn(async (proc) => {
    proc.trapExit(true);
    proc.link(dead);
    proc.link("nobody");
    proc.link(["nobody", "a@host"]);
    got.resolve([
      await proc.receive(),
      await proc.receive(),
      await proc.receive(),
    ]);
  });
  const [e1, e2, e3] = await got.promise;
  assertInstanceOf(e1, Exit);
  assert.ok(e1.from.equals(dead));
  for (const e of [e1, e2, e3]) {
    assertInstanceOf(e, Exit);
    assert.deepEqual(e.reason, "noproc");
  }
});

Deno.test("L4: linking to a pid that was killed earlier in the same turn gives noproc", async () => {
  await using rt = new Runtime();
  const target = rt.spawn(idle);
  const got = Promise.withResolvers<unknown>();
  rt.spawn(async (proc) => {
    proc.trapExit(true);
    proc.exit(target, "kill");
    proc.link(target);
    got.resolve(await proc.receive());
  });
  const exit = await got.promise;
  assertInstanceOf(exit, Exit);
  assert.deepEqual(exit.reason, "noproc");
});

Deno.test("L4: linking to a pid that exits right after, in the same turn, gives its reason", async () => {
  await using rt = new Runtime();
  const target = rt.spawn(idle);
  const got = Promise.withResolvers<unknown>();
  rt.spawn(async (proc) => {
    proc.trapExit(true);
    proc.link(target);
    proc.exit(target, "kill");
    got.resolve(await proc.receive());
  });
  const exit = await got.promise;
  assertInstanceOf(exit, Exit);
  assert.deepEqual(exit.reason, "killed");
});

// --- L5 -------------------------------------------------------------------

Deno.test("L5: spawnLink links before the child can run: a child that throws at once takes the parent down", async () => {
  await using rt = new Runtime();
  const parent = rt.spawn(async (proc) => {
    proc.spawnLink(() => {
      throw new Error("child failed at start");
    });
    await proc.receive();
  });
  const reason = await rt.whenExited(parent);
  assertInstanceOf(reason, Crash);
  assert.deepEqual(reason.message, "child failed at start");
});

Deno.test("L5: a child killed in the same turn as spawnLink still reaches its trapping parent", async () => {
  await using rt = new Runtime();
  const got = Promise.withResolvers<unknown>();
  let childRan = false;
  rt.spawn(async (proc) => {
    proc.trapExit(true);
    const child = proc.spawnLink(() => {
      childRan = true;
    });
    assert.deepEqual(rt.processInfo(child)?.links, [proc.self]);
    proc.exit(child, "kill");
    got.resolve(await proc.receive());
  });
  const exit = await got.promise;
  assertInstanceOf(exit, Exit);
  assert.deepEqual(exit.reason, "killed");
  await settle();
  assert.equal(childRan, false);
});

Deno.test("L5: when the parent dies, its spawnLinked children die with it", async () => {
  await using rt = new Runtime();
  const children: Pid[] = [];
  const ready = Promise.withResolvers<void>();
  const parent = rt.spawn(async (proc) => {
    for (let i = 0; i < 3; i++) children.push(proc.spawnLink(idle));
    ready.resolve();
    await proc.receive();
  });
  await ready.promise;
  const exits = children.map((c) => rt.whenExited(c));
  rt.exit(parent, "shutdown");
  assert.deepEqual(await Promise.all(exits), [
    "shutdown",
    "shutdown",
    "shutdown",
  ]);
});

// --- Chains ---------------------------------------------------------------

Deno.test("L2: 10,000 processes linked in a chain all die when one end crashes, without stack overflow", async () => {
  await using rt = new Runtime();
  const N = 10_000;
  const pids: Pid[] = [];
  const linked: Promise<void>[] = [];
  for (let i = 0; i < N; i++) {
    const prev = pids[i - 1];
    const done = Promise.withResolvers<void>();
    linked.push(done.promise);
    pids.push(rt.spawn(async (proc) => {
      if (prev !== undefined) proc.link(prev);
      done.resolve();
      await proc.receive();
    }));
  }
  await Promise.all(linked);
  assert.deepEqual(rt.processInfo(pids[1]!)?.links.length, 2);
  const last = rt.whenExited(pids[N - 1]!);
  rt.exit(pids[0]!, "boom");
  assert.deepEqual(await last, "boom");
  assert.equal(rt.processCount, 0);
});

Deno.test("L5: a chain of 10,000 spawnLinked processes dies at once, no stack overflow", async () => {
  await using rt = new Runtime();
  const N = 10_000;
  const all: Pid[] = [];
  const built = Promise.withResolvers<void>();
  const grow = async (proc: Process): Promise<void> => {
    all.push(proc.self);
    if (all.length < N) proc.spawnLink(grow);
    else built.resolve();
    await proc.receive();
  };
  const root = rt.spawn(grow);
  await built.promise;
  assert.equal(rt.processCount, N);
  const exits = [rt.whenExited(root), rt.whenExited(all[N - 1]!)];
  rt.exit(all[N - 1]!, "leaf crashed");
  assert.deepEqual(await Promise.all(exits), ["leaf crashed", "leaf crashed"]);
  assert.equal(rt.processCount, 0);
  for (const pid of all) assert.equal(rt.isAlive(pid), false);
});

Deno.test("L2: a thenable exit reason (which a promise would call, not hand over) is refused with InvalidArgumentError wherever a reason is given", async () => {
  await using rt = new Runtime();
  const thenables: ExitReason[] = [
    { then() {} },
    Promise.resolve("x"),
    new Proxy({}, {
      get() {
        throw new Error("then getter");
      },
    }),
  ];
  const target = rt.spawn(idle);
  const server = await startServer(rt, { init: () => 0 }, null);
  for (const reason of thenables) {
    assert.throws(() => rt.exit(target, reason), InvalidArgumentError);
    assert.throws(() => new InitStop(reason), InvalidArgumentError);
    await assert.rejects(stopServer(rt, server, reason), InvalidArgumentError);
    const refused = Promise.withResolvers<unknown>();
    rt.spawn((p) => {
      try {
        p.exit(target, reason);
      } catch (error) {
        try {
          p.stop(reason);
        } catch (again) {
          refused.resolve([error, again]);
        }
      }
    });
    const [byExit, byStop] = await refused.promise as unknown[];
    assertInstanceOf(byExit, InvalidArgumentError);
    assertInstanceOf(byStop, InvalidArgumentError);
  }
  assert.ok(rt.isAlive(target) && rt.isAlive(server));
  // A plain object with a then field that is no method is a reason like any.
  const exited = rt.whenExited(target);
  rt.exit(target, { then: 1 });
  assert.deepEqual(await exited, { then: 1 });
});
