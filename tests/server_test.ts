// Servers (actor/server.ts): call, cast, info, terminate, deferred replies,
// start failures, and calls that cannot be answered — locally and across two
// nodes. Nothing sleeps to synchronise: every step awaits a reply, an exit or
// a promise the server resolves.
import assert from "node:assert/strict";
import {
  call,
  CallError,
  cast,
  type Clock,
  ConcurrentReceiveError,
  Crash,
  Down,
  Exit,
  type ExitReason,
  type From,
  InitStop,
  InvalidArgumentError,
  isCrash,
  ManualClock,
  type Pid,
  type Process,
  reply,
  Runtime,
  RuntimeStoppedError,
  type ServerBehaviour,
  ServerStartError,
  startServer,
  startSupervisor,
  stopServer,
  whichChildren,
} from "../actor/mod.ts";
import { NodeDown, startNode } from "../dist/mod.ts";
import { assertInstanceOf, idle, runGcFixture, settle } from "./_util.ts";
import { nodeName } from "./_nodes.ts";

type CounterCall = "get" | { add: number } | "crash" | { stop: string };
type CounterCast = "inc" | "halt";

function counter(
  log: unknown[] = [],
): ServerBehaviour<number, number, CounterCall, number, CounterCast> {
  return {
    init: (start) => start,
    handleCall(request, _from, n) {
      if (request === "get") return { reply: n, state: n };
      if (request === "crash") throw new TypeError("bad call");
      if ("stop" in request) return { stop: request.stop, reply: n, state: n };
      return { reply: n + request.add, state: n + request.add };
    },
    handleCast(message, n) {
      if (message === "halt") return { stop: "normal", state: n };
      return { state: n + 1 };
    },
    handleInfo(message, n) {
      log.push(message);
      return { state: n };
    },
    terminate(reason, n) {
      log.push({ terminate: reason, state: n });
    },
  };
}

/** Rejection of `promise`, asserted to be a CallError. */
async function callError(promise: Promise<unknown>): Promise<CallError> {
  const error = await promise.then(
    () => assert.fail("expected the call to reject"),
    (e: unknown) => e,
  );
  assertInstanceOf(error, CallError);
  return error;
}

Deno.test("server: call, cast and info reach their callbacks with the state", async () => {
  const rt = new Runtime();
  const log: unknown[] = [];
  const pid = await startServer(rt, counter(log), 10, { name: "counter" });
  assert.equal(await call(rt, pid, "get"), 10);
  assert.equal(await call(rt, "counter", { add: 5 }), 15);
  cast(rt, pid, "inc");
  rt.send(pid, { plain: true });
  assert.equal(await call(rt, pid, "get"), 16);
  assert.deepEqual(log, [{ plain: true }]);
  // Typed pids make a wrong request a compile error (never run).
  const _typeChecks = () => {
    // @ts-expect-error: "nope" is not a CounterCall
    call(rt, pid, "nope");
    // @ts-expect-error: 42 is not a CounterCast
    cast(rt, pid, 42);
    // @ts-expect-error: the reply is a number
    const _s: Promise<string> = call(rt, pid, "get");
  };
  const n: number = await call(rt, pid, "get");
  assert.equal(n, 16);
  await rt.shutdown();
});

Deno.test("server: a call from inside a process, and info gets Down", async () => {
  const rt = new Runtime();
  const log: unknown[] = [];
  const pid = await startServer(rt, counter(log), 1);
  const result = Promise.withResolvers<number>();
  rt.spawn(async (proc) => {
    result.resolve(await call(proc, pid, { add: 1 }));
  });
  assert.equal(await result.promise, 2);
  // handleInfo sees a Down of a monitor the server set itself.
  const watched = rt.spawn(idle);
  const seen = Promise.withResolvers<Down>();
  const watcher = await startServer(rt, {
    init: (_: undefined, self) => {
      self.monitor(watched);
      return 0;
    },
    handleInfo: (message, state) => {
      if (message instanceof Down) seen.resolve(message);
      return { state };
    },
  }, undefined);
  rt.exit(watched, "bye");
  assert.equal((await seen.promise).reason, "bye");
  assert.ok(rt.isAlive(watcher));
  await rt.shutdown();
});

Deno.test("server: terminate runs on a stop from a callback and on stopServer", async () => {
  const rt = new Runtime();
  const log: unknown[] = [];
  const a = await startServer(rt, counter(log), 3);
  const aExit = rt.whenExited(a);
  // A stop with a reply: the caller gets the reply, then the server is gone.
  assert.equal(await call(rt, a, { stop: "done" }), 3);
  assert.equal(await aExit, "done");
  const b = await startServer(rt, counter(log), 4);
  cast(rt, b, "halt");
  assert.equal(await rt.whenExited(b), "normal");
  const c = await startServer(rt, counter(log), 5);
  await stopServer(rt, c, "shutdown");
  assert.equal(rt.isAlive(c), false);
  assert.deepEqual(log, [
    { terminate: "done", state: 3 },
    { terminate: "normal", state: 4 },
    { terminate: "shutdown", state: 5 },
  ]);
  await callError(stopServer(rt, c)).then((e) =>
    assert.equal(e.reason, "noproc")
  );
  await rt.shutdown();
});

Deno.test("server: stopServer rejects with the reason the server went with when it is not the one asked for, as gen_server:stop", async () => {
  await using rt = new Runtime();
  const gate = Promise.withResolvers<void>();
  const entered = Promise.withResolvers<void>();
  const behaviour = {
    init: () => 0,
    // Holds the server while the cast and the stop queue up behind it.
    handleCall: async (_: unknown, __: unknown, n: number) => {
      entered.resolve();
      await gate.promise;
      return { reply: n, state: n };
    },
    handleCast: (reason: string, n: number) => ({ stop: reason, state: n }),
    terminate: (reason: ExitReason) => {
      if (reason === "crash in terminate") throw new Error("terminate failed");
    },
  };
  // A stop taken before this one wins: the caller hears its reason.
  const a = await startServer(rt, behaviour, undefined);
  const held = call(rt, a, "hold");
  await entered.promise;
  cast(rt, a, "earlier");
  const stopping = callError(stopServer(rt, a, "normal"));
  for (let i = 0; (rt.processInfo(a)?.mailboxLength ?? 0) < 2; i++) {
    assert.ok(i < 100, "the cast and the stop reach the server");
    await settle();
  }
  gate.resolve();
  assert.equal(await held, 0);
  assert.equal((await stopping).reason, "earlier");
  // Not the same term either: a Map with other entries.
  const gate2 = Promise.withResolvers<void>();
  const entered2 = Promise.withResolvers<void>();
  const m = await startServer(rt, {
    ...behaviour,
    handleCall: async (_: unknown, __: unknown, n: number) => {
      entered2.resolve();
      await gate2.promise;
      return { reply: n, state: n };
    },
    handleCast: (reason: ExitReason, n: number) => ({ stop: reason, state: n }),
  }, 0);
  const held2 = call(rt, m, "hold");
  await entered2.promise;
  const went = new Map([["k", 1]]);
  cast(rt, m, went);
  const stopping2 = callError(stopServer(rt, m, new Map([["k", 2]])));
  for (let i = 0; (rt.processInfo(m)?.mailboxLength ?? 0) < 2; i++) {
    assert.ok(i < 100, "the cast and the stop reach the server");
    await settle();
  }
  gate2.resolve();
  assert.equal(await held2, 0);
  assert.equal((await stopping2).reason, went);
  // terminate crashed: the caller hears that crash.
  const b = await startServer(rt, behaviour, undefined);
  const crashed = await callError(stopServer(rt, b, "crash in terminate"));
  assert.ok(isCrash(crashed.reason));
  assert.equal(crashed.reason.message, "terminate failed");
  // The reason asked for, structured, is the same term: it resolves.
  const c = await startServer(rt, behaviour, undefined);
  const cExit = rt.whenExited(c);
  await stopServer(rt, c, ["shutdown", { why: [1, "x"] }]);
  assert.deepEqual(await cExit, ["shutdown", { why: [1, "x"] }]);
});

Deno.test("server: with trapExit, terminate runs on its parent's exit signal; other Exits go to handleInfo", async () => {
  const rt = new Runtime();
  const log: unknown[] = [];
  const started = Promise.withResolvers<Pid>();
  const parent = rt.spawn(async (proc) => {
    started.resolve(
      await startServer(proc, counter(log), 7, { link: true, trapExit: true }),
    );
    await proc.receive();
  });
  const server = await started.promise;
  const other = rt.spawn(idle);
  rt.spawn((proc) => {
    proc.link(server);
    proc.link(other);
  });
  rt.exit(other, "oops"); // unrelated: not linked to server
  rt.exit(parent, "shutdown");
  assert.equal(await rt.whenExited(server), "shutdown");
  assert.deepEqual(log.at(-1), { terminate: "shutdown", state: 7 });
  assert.ok(log.slice(0, -1).every((m) => m instanceof Exit));
  await rt.shutdown();
});

Deno.test("server: started without link, it has no parent (as gen_server:start): its starter's exit signal goes to handleInfo", async () => {
  const rt = new Runtime();
  const log: unknown[] = [];
  const starter = rt.spawn(async (proc) => {
    const server = await startServer(proc, counter(log), 7, {
      trapExit: true,
    });
    proc.exit(server, "shutdown");
    // The Exit is in the server's mailbox before this call: served after it.
    assert.equal(await call(proc, server, "get"), 7);
    await stopServer(proc, server);
  });
  assert.equal(await rt.whenExited(starter), "normal");
  assertInstanceOf(log[0], Exit);
  assert.equal(log[0].reason, "shutdown");
  assert.deepEqual(log.at(-1), { terminate: "normal", state: 7 });
  await rt.shutdown();
});

Deno.test("server: a deferred reply is sent later with reply(from, value)", async () => {
  const rt = new Runtime();
  const pid = await startServer(rt, {
    init: () => [] as From[],
    handleCall: (req: "wait" | "release", from, waiting) => {
      if (req === "wait") return { noreply: true, state: [...waiting, from] };
      waiting.forEach((w, i) => reply(w, `released ${i}`));
      return { reply: waiting.length, state: [] };
    },
  }, undefined);
  const first = call(rt, pid, "wait");
  const second = call(rt, pid, "wait");
  assert.equal(await call(rt, pid, "release"), 2);
  assert.equal(await first, "released 0");
  assert.equal(await second, "released 1");
  await rt.shutdown();
});

Deno.test("server: a throwing init rejects with ServerStartError and leaves nothing running", async () => {
  const rt = new Runtime();
  await assert.rejects(
    startServer(
      rt,
      {
        init: async () => {
          await Promise.resolve();
          throw new RangeError("no config");
        },
      },
      undefined,
      { name: "broken" },
    ),
    (error: unknown) => {
      assertInstanceOf(error, ServerStartError);
      assertInstanceOf(error.reason, Crash);
      assert.equal(error.reason.message, "no config");
      assertInstanceOf(error.cause, RangeError);
      return true;
    },
  );
  assert.equal(rt.whereis("broken"), undefined);
  assert.equal(rt.processCount, 0);
  // From a linked process: the starter sees the rejection, not an exit signal.
  const outcome = Promise.withResolvers<unknown>();
  const starter = rt.spawn(async (proc) => {
    outcome.resolve(
      await startServer(
        proc,
        {
          init: () => {
            throw new Error("nope");
          },
        },
        undefined,
        { link: true },
      ).catch((e) => e),
    );
    await proc.receive();
  });
  assertInstanceOf(await outcome.promise, ServerStartError);
  await settle();
  assert.ok(rt.isAlive(starter));
  assert.equal(rt.processCount, 1);
  await rt.shutdown();
});

Deno.test("server: an init that throws InitStop fails the start with exactly its reason, which the process exits with (OTP's {stop, Reason} from init)", async () => {
  const rt = new Runtime();
  let exited: Promise<unknown> | undefined;
  const stop = new InitStop(["shutdown", { port: 80 }]);
  const error = await startServer(rt, {
    init: (_: undefined, self) => {
      exited = rt.whenExited(self.self);
      throw stop;
    },
  }, undefined).catch((e) => e);
  assertInstanceOf(error, ServerStartError);
  assert.deepEqual(error.reason, ["shutdown", { port: 80 }]);
  assert.equal(error.cause, stop);
  assert.deepEqual(await exited, ["shutdown", { port: 80 }]);
  assert.equal(stop.name, "InitStop");
  assert.match(
    stop.message,
    /^Server init stopped: \["shutdown",\{"port":80\}\]$/,
  );
  // From an async init too; a string reason stays a string, not a crash.
  const plain = await startServer(rt, {
    init: async () => {
      await Promise.resolve();
      throw new InitStop("no_license");
    },
  }, undefined).catch((e) => e);
  assertInstanceOf(plain, ServerStartError);
  assert.equal(plain.reason, "no_license");
  assert.equal(plain.message, "Cannot start server: no_license");
  assert.throws(() => new InitStop(undefined as never), InvalidArgumentError);
  assert.equal(rt.processCount, 0);
  await rt.shutdown();
});

Deno.test("server: an init slower than initTimeout is killed and the start rejects with timeout", async () => {
  const rt = new Runtime();
  const stuck = Promise.withResolvers<number>();
  const error = await startServer(
    rt,
    {
      init: () => stuck.promise,
    },
    undefined,
    { initTimeout: 20, name: "slow" },
  ).catch((e) => e);
  assertInstanceOf(error, ServerStartError);
  assert.equal(error.reason, "timeout");
  assert.equal(rt.processCount, 0);
  assert.equal(rt.whereis("slow"), undefined);
  stuck.resolve(0); // the abandoned init finishing later changes nothing
  await settle();
  assert.equal(rt.processCount, 0);
  await rt.shutdown();
});

Deno.test("server: a call to a dead server or an unregistered name rejects with noproc at once", async () => {
  const rt = new Runtime();
  const dead = rt.spawn(() => {});
  await rt.whenExited(dead);
  // A timeout far beyond the test's budget: only "at once" can pass.
  const opts = { timeout: 60_000 };
  assert.equal((await callError(call(rt, dead, "x", opts))).reason, "noproc");
  const e = await callError(call(rt, "ghost", "x", opts));
  assert.equal(e.reason, "noproc");
  assert.equal(e.server, "ghost");
  assert.equal(e.name, "CallError");
  cast(rt, dead, "ignored");
  cast(rt, "ghost", "ignored");
  await rt.shutdown();
});

Deno.test("server: a crash during a call rejects the call at once with the crash", async () => {
  const rt = new Runtime();
  const log: unknown[] = [];
  const pid = await startServer(rt, counter(log), 0);
  const exited = rt.whenExited(pid);
  const e = await callError(call(rt, pid, "crash", { timeout: 60_000 }));
  assertInstanceOf(e.reason, Crash);
  assert.equal(e.reason.name, "TypeError");
  assert.equal(e.reason.message, "bad call");
  const exit = await exited;
  assertInstanceOf(exit, Crash);
  // terminate ran with the crash.
  assertInstanceOf((log.at(-1) as { terminate: unknown }).terminate, Crash);
  // A server that dies while a call waits for a deferred reply.
  const mute = await startServer(rt, {
    init: () => null,
    handleCall: (_req: "hang", _from, state) => ({ noreply: true, state }),
  }, undefined);
  const pending = call(rt, mute, "hang", { timeout: 60_000 });
  await settle();
  rt.exit(mute, "gone");
  assert.equal((await callError(pending)).reason, "gone");
  await rt.shutdown();
});

Deno.test("server: a call timeout rejects with timeout and the late reply is dropped", async () => {
  const rt = new Runtime();
  const late = Promise.withResolvers<From>();
  const server = await startServer(rt, {
    init: () => null,
    handleCall: (req: "slow" | "fast", from, state) => {
      if (req === "fast") return { reply: "fast", state };
      late.resolve(from);
      return { noreply: true, state };
    },
  }, undefined);
  const outcome = Promise.withResolvers<unknown>();
  const next = Promise.withResolvers<void>();
  const caller = rt.spawn(async (proc: Process) => {
    // An earlier call with a long deadline must not delay the short one.
    await call(proc, server, "fast", { timeout: 60_000 });
    outcome.resolve(
      await call(proc, server, "slow", { timeout: 20 }).catch((e) => e),
    );
    await proc.receive((m) => m === "go");
    next.resolve();
    await proc.receive((m) => m === "never");
  });
  const error = await outcome.promise;
  assertInstanceOf(error, CallError);
  assert.equal(error.reason, "timeout");
  reply(await late.promise, "too late");
  // The reply is sent before "go", so it has been delivered (or dropped) by
  // the time the caller takes "go".
  rt.send(caller, "go");
  await next.promise;
  await settle();
  assert.equal(rt.processInfo(caller)?.mailboxLength, 0);
  // The monitor is gone too, and the caller still calls normally.
  assert.deepEqual(rt.processInfo(caller)?.monitors, []);
  assert.equal(await call(rt, server, "fast"), "fast");
  await rt.shutdown();
});

Deno.test("server: late replies are dropped however many calls timed out, and so is a second reply to one call", async () => {
  // A clock on which every deadline has passed by the next timer: each
  // call times out on its second tick, with no real waiting.
  let now = 0;
  const clock: Clock = {
    now: () => (now += 100),
    setTimeout: (fn) => setTimeout(fn, 0),
    clearTimeout: (handle) => clearTimeout(handle as number),
  };
  await using rt = new Runtime({ clock });
  const froms: From[] = [];
  const server = await startServer(rt, {
    init: () => null,
    handleCall: (req: "late" | "twice", from, state) => {
      if (req === "late") {
        froms.push(from);
        return { noreply: true, state };
      }
      reply(from, "first");
      reply(from, "second");
      return { noreply: true, state };
    },
  }, undefined);
  const N = 1100; // more than a bounded record of timed-out calls would hold
  const timedOut = Promise.withResolvers<number>();
  const twice = Promise.withResolvers<unknown>();
  const go = Promise.withResolvers<void>();
  const caller = rt.spawn(async (proc: Process) => {
    let timeouts = 0;
    for (let i = 0; i < N; i++) {
      const e = await call(proc, server, "late", { timeout: 10 }).catch((e) =>
        e
      );
      if (e instanceof CallError && e.reason === "timeout") timeouts++;
    }
    timedOut.resolve(timeouts);
    twice.resolve(await call(proc, server, "twice"));
    await proc.receive((m) => m === "go");
    go.resolve();
    await proc.receive((m) => m === "never");
  });
  assert.equal(await timedOut.promise, N);
  assert.equal(await twice.promise, "first");
  for (const from of froms) reply(from, "too late");
  // Every reply above was sent before "go", so each has been delivered or
  // dropped by the time the caller takes it.
  rt.send(caller, "go");
  await go.promise;
  assert.equal(rt.processInfo(caller)?.mailboxLength, 0);
});

Deno.test("server: a reply that comes after the call failed with the server's exit is dropped, as with gen_server's alias", async () => {
  await using rt = new Runtime();
  const handed = Promise.withResolvers<From>();
  const server = await startServer(rt, {
    init: () => null,
    handleCall: (_req: "handoff", from, state) => {
      // Another process will answer, after the server is gone.
      handed.resolve(from);
      return { stop: "gone", state };
    },
  }, undefined);
  const outcome = Promise.withResolvers<unknown>();
  const checked = Promise.withResolvers<number>();
  const caller = rt.spawn(async (proc: Process) => {
    outcome.resolve(await call(proc, server, "handoff").catch((e) => e));
    await proc.receive((m) => m === "go");
    checked.resolve(proc.mailboxLength);
    await proc.receive((m) => m === "never");
  });
  const error = await outcome.promise;
  assertInstanceOf(error, CallError);
  assert.equal(error.reason, "gone");
  const from = await handed.promise;
  // The reply and "go" come from one sender, in order (P4).
  rt.spawn((proc) => {
    reply(from, "too late");
    proc.send(caller, "go");
  });
  assert.equal(await checked.promise, 0);
  assert.equal(rt.processInfo(caller)?.mailboxLength, 0);
});

Deno.test("server: a call across two nodes, by pid and by [name, node]", async () => {
  await using a = await startNode({ name: "a1@127.0.0.1", cookie: "c" });
  await using b = await startNode({ name: "b1@127.0.0.1", cookie: "c" });
  await a.connect(b.name, b.address!);
  const log: unknown[] = [];
  const pid = await startServer(b.runtime, counter(log), 100, { name: "ctr" });
  assert.equal(await call(a.runtime, pid, "get"), 100);
  assert.equal(
    await call<CounterCall, number>(a.runtime, ["ctr", b.name], { add: 1 }),
    101,
  );
  cast(a.runtime, ["ctr", b.name], "inc");
  assert.equal(await call(a.runtime, pid, "get"), 102);
  // A remote crash arrives as the crash; a remote unknown name as noproc.
  const e = await callError(call(a.runtime, pid, "crash", { timeout: 60_000 }));
  assertInstanceOf(e.reason, Crash);
  assert.equal(e.reason.message, "bad call");
  const missing = await callError(
    call(a.runtime, ["ctr", b.name], "get", { timeout: 60_000 }),
  );
  assert.equal(missing.reason, "noproc");
  await a.runtime.shutdown();
  await b.runtime.shutdown();
});

Deno.test("server: stopServer of a server on another node resolves when it went with the reason asked for, compared as the wire carries it", async () => {
  await using a = await startNode({ name: nodeName("a"), cookie: "c" });
  await using b = await startNode({ name: nodeName("b"), cookie: "c" });
  await a.connect(b.name, b.address!);
  class Why {
    constructor(readonly code: number) {}
  }
  const bare = Object.assign(Object.create(null), { why: "bare" });
  // Each crosses the wire in another shape (a plain object, a new Map...),
  // and is still the same term.
  const reasons: unknown[] = [
    ["shutdown", { why: [1, "x"] }],
    bare,
    new Why(7),
    NaN,
    { at: new Date(0), bytes: new Uint8Array([1, 2, 3]) },
    new Map<unknown, unknown>([["k", [1]], [2, { v: null }]]),
    new Set(["x", 1]),
  ];
  for (const reason of reasons) {
    const pid = await startServer(b.runtime, counter([]), 0);
    const exited = b.runtime.whenExited(pid);
    await stopServer(a.runtime, pid, reason as ExitReason);
    assert.notEqual(await exited, undefined);
  }
});

Deno.test("server: losing the server's node during a call rejects it at once with noconnection", async () => {
  await using a = await startNode({ name: "a2@127.0.0.1", cookie: "c" });
  // b's runtime outlives its node: stopping the node cuts the connection
  // while the server lives on, unreachable.
  const rtB = new Runtime({ node: "b2@127.0.0.1" });
  const b = await startNode({ runtime: rtB, cookie: "c" });
  await a.connect(b.name, b.address!);
  const arrived = Promise.withResolvers<void>();
  await startServer(
    b.runtime,
    {
      init: () => null,
      handleCall: (_req: "hang", _from, state) => {
        arrived.resolve();
        return { noreply: true, state };
      },
    },
    undefined,
    { name: "mute" },
  );
  const pending = call(a.runtime, ["mute", b.name], "hang", {
    timeout: 60_000,
  });
  await arrived.promise;
  await b.stop();
  assert.equal((await callError(pending)).reason, "noconnection");
  assert.equal(rtB.processCount, 1);
  await a.runtime.shutdown();
  await rtB.shutdown();
});

Deno.test("server: a caller killed during a call stops there; its monitor is released and the reply goes nowhere", async () => {
  const rt = new Runtime();
  const held: From[] = [];
  const server = await startServer(rt, {
    init: () => null,
    handleCall: (_req: "hold" | "count", from, state) => {
      if (_req === "count") return { reply: held.length, state };
      held.push(from);
      return { noreply: true, state };
    },
  }, undefined);
  let after = false;
  const calling = Promise.withResolvers<void>();
  const caller = rt.spawn(async (proc) => {
    const pending = call(proc, server, "hold", { timeout: 60_000 });
    calling.resolve();
    await pending;
    after = true;
  });
  await calling.promise;
  assert.equal(await call(rt, server, "count"), 1, "the call reached it");
  assert.equal(rt.processInfo(server)!.monitoredBy.length, 1);
  const exited = rt.whenExited(caller);
  rt.exit(caller, "kill");
  assert.equal(await exited, "killed");
  assert.deepEqual(rt.processInfo(server)!.monitoredBy, []);
  reply(held[0]!, "too late"); // to a dead process: dropped, nothing thrown
  await settle();
  assert.equal(after, false, "code after the await never ran");
  await rt.shutdown();
});

Deno.test("server: a call with timeout 0 sends its request and times out at once, as gen_server's; the reply is dropped", async () => {
  await using rt = new Runtime();
  const handled: unknown[] = [];
  const server = await startServer(rt, {
    init: () => null,
    handleCall: (req: string, _from, state) => {
      handled.push(req);
      return { reply: `re:${req}`, state };
    },
  }, undefined);
  const remoteLike = Promise.withResolvers<unknown[]>();
  const caller = rt.spawn(async (proc: Process) => {
    const zero = await call(proc, server, "zero", { timeout: 0 }).catch((
      e,
    ) => e);
    // The next call still gets its own reply, not the dropped one.
    const next = await call(proc, server, "next");
    remoteLike.resolve([zero, next]);
    await proc.receive((m) => m === "never");
  });
  const [zero, next] = await remoteLike.promise;
  assertInstanceOf(zero, CallError);
  assert.equal(zero.reason, "timeout");
  assert.equal(next, "re:next");
  assert.deepEqual(handled, ["zero", "next"], "the request was sent");
  await settle();
  assert.equal(rt.processInfo(caller)?.mailboxLength, 0);
  assert.deepEqual(rt.processInfo(caller)?.monitors, []);
  // From the runtime too.
  const fromRuntime = await call(rt, server, "rt", { timeout: 0 }).catch((
    e,
  ) => e);
  assertInstanceOf(fromRuntime, CallError);
  assert.equal(fromRuntime.reason, "timeout");
});

Deno.test("server: a call times out after its timeout, never before, and at most a sixteenth of it (plus one timer's lateness) after, however late each timer fires", async () => {
  // Every host timer fires 1 ms late, as a millisecond timer in Deno does.
  const manual = new ManualClock();
  const clock: Clock = {
    now: () => manual.now(),
    setTimeout: (fn, ms) => manual.setTimeout(fn, ms + 1),
    clearTimeout: (handle) => manual.clearTimeout(handle),
  };
  await using rt = new Runtime({ clock });
  const server = await startServer(rt, {
    init: () => null,
    handleCall: (_req: "slow" | "fast", _from, state) =>
      _req === "fast" ? { reply: "fast", state } : { noreply: true, state },
  }, undefined);
  const timeout = 160;
  const started: number[] = [];
  const ended: number[] = [];
  const caller = rt.spawn(async (proc: Process) => {
    for (let i = 0; i < 3; i++) {
      // The second and third calls start on a running ticker, between ticks.
      if (i > 0) await call(proc, server, "fast", { timeout });
      started.push(manual.now());
      const error = await call(proc, server, "slow", { timeout }).catch((e) =>
        e
      );
      assertInstanceOf(error, CallError);
      ended.push(manual.now());
      await proc.receive((m) => m === "next");
    }
  });
  for (let round = 0; round < 3; round++) {
    await settle();
    for (let ms = 0; ended.length === round && ms < 1000; ms++) {
      manual.advance(1);
      for (let j = 0; j < 20; j++) await Promise.resolve(); // microtasks only
    }
    rt.send(caller, "next");
    manual.advance(3); // the next call starts between two ticks
  }
  assert.equal(ended.length, 3);
  for (let i = 0; i < 3; i++) {
    const took = ended[i]! - started[i]!;
    assert.ok(took >= timeout, `call ${i} timed out early, after ${took} ms`);
    assert.ok(
      took <= timeout + timeout / 16 + 2,
      `call ${i} timed out after ${took} ms`,
    );
  }
});

Deno.test("server: many pending callers, some answered, some killed, some timed out; the server's crash reaches exactly the rest", async () => {
  // Time moves only when the test says: the short timeouts fire once every
  // call is held, however slow the machine.
  const clock = new ManualClock();
  const rt = new Runtime({ clock });
  const held = new Map<number, From>();
  const allHeld = Promise.withResolvers<void>();
  const server = await startServer(rt, {
    init: () => null,
    handleCall: (req: number | "crash", from, state) => {
      if (req === "crash") throw new Error("boom");
      held.set(req, from);
      if (held.size === 40) allHeld.resolve();
      return { noreply: true, state };
    },
  }, undefined);
  const outcomes = new Map<number, unknown>();
  const callers: Pid[] = [];
  for (let i = 0; i < 40; i++) {
    callers.push(rt.spawn(async (proc) => {
      // Every fourth caller gives up early; the others wait.
      const timeout = i % 4 === 3 ? 5 : 60_000;
      outcomes.set(
        i,
        await call(proc, server, i, { timeout }).catch((e) => e),
      );
    }));
  }
  const watchers = () =>
    new Set(rt.processInfo(server)!.monitoredBy.map(String));
  await allHeld.promise;
  assert.equal(watchers().size, 40);
  // Answer every fifth, kill every seventh that is still waiting.
  for (let i = 0; i < 40; i += 5) reply(held.get(i)!, `r${i}`);
  for (let i = 0; i < 40; i += 7) {
    if (i % 5 !== 0) rt.exit(callers[i]!, "kill");
  }
  const timedOut = [...Array(40).keys()].filter((i) =>
    i % 4 === 3 && i % 5 !== 0 && i % 7 !== 0
  );
  const ends = timedOut.map((i) => rt.whenExited(callers[i]!));
  clock.advance(10);
  for (const end of ends) assert.equal(await end, "normal");
  const waiting = [...Array(40).keys()].filter((i) =>
    i % 5 !== 0 && i % 7 !== 0 && i % 4 !== 3
  );
  assert.deepEqual(
    watchers(),
    new Set(waiting.map((i) => String(callers[i]))),
    "exactly the callers still waiting watch the server",
  );
  const error = await call(rt, server, "crash").catch((e) => e);
  assertInstanceOf(error, CallError);
  for (const i of waiting) await rt.whenExited(callers[i]!);
  for (let i = 0; i < 40; i++) {
    const got = outcomes.get(i);
    if (i % 5 === 0) assert.equal(got, `r${i}`);
    else if (i % 7 === 0) assert.equal(got, undefined, "killed: no outcome");
    else {
      assertInstanceOf(got, CallError);
      if (i % 4 === 3) assert.equal(got.reason, "timeout");
      else {
        assertInstanceOf(got.reason, Crash);
        assert.match(got.reason.message, /boom/);
      }
    }
  }
  for (const pid of callers) {
    assert.equal(rt.isAlive(pid), false);
  }
  await rt.shutdown();
});

Deno.test("server: a second call while one is pending throws ConcurrentReceiveError and leaves the first intact", async () => {
  const rt = new Runtime();
  const held: From[] = [];
  const reached = Promise.withResolvers<void>();
  const server = await startServer(rt, {
    init: () => null,
    handleCall: (_req: string, from, state) => {
      held.push(from);
      reached.resolve();
      return { noreply: true, state };
    },
  }, undefined);
  const result = Promise.withResolvers<unknown>();
  rt.spawn(async (proc) => {
    const first = call(proc, server, "first");
    assert.throws(
      () => call(proc, server, "second"),
      ConcurrentReceiveError,
    );
    result.resolve(await first);
  });
  await reached.promise;
  reply(held[0]!, "answered");
  assert.equal(await result.promise, "answered");
  assert.equal(held.length, 1, "the second call was never sent");
  await rt.shutdown();
});

Deno.test("server: a call from something that is not a Runtime or a Process is an InvalidArgumentError", async () => {
  const rt = new Runtime();
  const server = await startServer(rt, { init: () => null }, undefined);
  const fake = { send() {}, runtime: rt } as unknown as Process;
  await assert.rejects(call(fake, server, "x"), InvalidArgumentError);
  await rt.shutdown();
});

Deno.test("server: cast, startServer and stopServer from something that is not a Runtime or a Process are InvalidArgumentErrors; the promise-returning ones reject", async () => {
  const rt = new Runtime();
  const server = await startServer(rt, counter(), 1);
  // deno-lint-ignore no-explicit-any
  const bad = "rt" as any;
  const castError = (() => {
    try {
      cast(bad, server, "inc");
    } catch (error) {
      return error;
    }
  })();
  assertInstanceOf(castError, InvalidArgumentError);
  assert.equal(
    castError.message,
    'Invalid caller: expected a Runtime or one of its processes, got "rt"',
  );
  for (const caller of [undefined, null, bad, { send() {} }]) {
    let started: Promise<unknown> | undefined;
    let stopped: Promise<unknown> | undefined;
    assert.doesNotThrow(() => {
      started = startServer(caller, counter(), 1);
      stopped = stopServer(caller, server);
    });
    await assert.rejects(started!, InvalidArgumentError);
    await assert.rejects(stopped!, InvalidArgumentError);
  }
  assert.equal(await call(rt, server, "get"), 1, "the server is untouched");
  await rt.shutdown();
});

Deno.test("server: a bad call or stop timeout rejects with an InvalidArgumentError that quotes a string", async () => {
  const rt = new Runtime();
  const server = await startServer(rt, counter(), 1);
  // deno-lint-ignore no-explicit-any
  const anyCall = call as any;
  // deno-lint-ignore no-explicit-any
  const anyStop = stopServer as any;
  let pending: Promise<unknown>[] = [];
  assert.doesNotThrow(() => {
    pending = [
      anyCall(rt, server, "get", { timeout: "100" }),
      anyStop(rt, server, "normal", { timeout: "100" }),
      anyCall(rt, server, "get", null),
      anyCall(rt, server, "get", { timeout: -1 }),
    ];
  });
  const [callError, stopError, nullOptions, negative] = await Promise.all(
    pending.map((p) => p.catch((e) => e)),
  );
  assertInstanceOf(callError, InvalidArgumentError);
  assert.equal(
    callError.message,
    'Invalid call timeout: expected milliseconds >= 0 or Infinity, got "100"',
  );
  assertInstanceOf(stopError, InvalidArgumentError);
  assert.match(stopError.message, /^Invalid stop timeout: .*got "100"$/);
  assertInstanceOf(nullOptions, InvalidArgumentError);
  assertInstanceOf(negative, InvalidArgumentError);
  assert.ok(rt.isAlive(server));
  const fromProcess = Promise.withResolvers<unknown>();
  rt.spawn(async (proc) => {
    fromProcess.resolve(
      await anyCall(proc, server, "get", { timeout: NaN }).catch((e: unknown) =>
        e
      ),
    );
  });
  assertInstanceOf(await fromProcess.promise, InvalidArgumentError);
  await rt.shutdown();
});

Deno.test("server: a behaviour without an init function, or with a callback that is not one, is refused before anything is spawned", async () => {
  const rt = new Runtime();
  // deno-lint-ignore no-explicit-any
  const start = (behaviour: any, options?: any) =>
    startServer(rt, behaviour, 1, options);
  const refusals: [unknown, RegExp][] = [
    [
      {},
      /^Invalid server behaviour: expected init to be a function, got undefined$/,
    ],
    [null, /expected an object with an init function, got null/],
    [() => 1, /expected an object with an init function, got a function/],
    [{ init: "x" }, /expected init to be a function, got "x"/],
    [
      { init: () => 1, handleCall: {} },
      /expected handleCall to be a function when given, got an object/,
    ],
    [{ init: () => 1, handleCast: 5 }, /handleCast .* got number 5/],
    [{ init: () => 1, handleInfo: "no" }, /handleInfo .* got "no"/],
    [{ init: () => 1, terminate: null }, /terminate .* got null/],
  ];
  for (const [behaviour, message] of refusals) {
    const error = await start(behaviour).catch((e) => e);
    assertInstanceOf(error, InvalidArgumentError);
    assert.match(error.message, message);
  }
  // Options of the wrong type are refused too, instead of ignored.
  await assert.rejects(start(counter(), { link: "yes" }), InvalidArgumentError);
  await assert.rejects(start(counter(), { trapExit: 1 }), InvalidArgumentError);
  await assert.rejects(start(counter(), 5), InvalidArgumentError);
  assert.equal(rt.processCount, 0, "nothing was spawned");
  // A class-based behaviour (callbacks on the prototype) is fine.
  class Echo {
    init(n: number) {
      return n;
    }
    handleCall(_req: "get", _from: From, n: number) {
      return { reply: n, state: n };
    }
  }
  const echo = await startServer(rt, new Echo(), 7);
  assert.equal(await call(rt, echo, "get"), 7);
  await rt.shutdown();
});

Deno.test("server: a caller keeps its monitor on a remote server between calls: one MONITOR for a run of calls, released on a call elsewhere or at exit, and its Down never reaches the mailbox", async () => {
  await using a = await startNode({ name: "a3@127.0.0.1", cookie: "c" });
  await using b = await startNode({ name: "b3@127.0.0.1", cookie: "c" });
  await a.connect(b.name, b.address!);
  const s1 = await startServer(b.runtime, counter(), 1);
  const s2 = await startServer(b.runtime, counter(), 2);
  const watchersOf = (pid: Pid) =>
    b.runtime.processInfo(pid)!.monitoredBy.map(String);
  const framesOut = () => a.stats(b.name)!.framesOut;
  const done = Promise.withResolvers<Pid>();
  const caller = a.runtime.spawn(async (proc) => {
    try {
      const me = String(proc.self);
      const before = framesOut();
      for (let i = 0; i < 3; i++) assert.equal(await call(proc, s1, "get"), 1);
      assert.equal(framesOut() - before, 4, "one MONITOR, three SENDs");
      const kept = a.runtime.processInfo(proc.self)!.monitors;
      assert.equal(kept.length, 1);
      assert.ok(kept[0]!.pid!.equals(s1));
      assert.deepEqual(watchersOf(s1), [me]);
      // Another server: the first monitor is released on the way.
      assert.equal(await call(proc, s2, "get"), 2);
      assert.deepEqual(watchersOf(s1), []);
      assert.deepEqual(watchersOf(s2), [me]);
      // s2 dies between calls: its Down is not a message for anyone.
      await stopServer(b.runtime, s2);
      assert.equal(await call(proc, s1, "get"), 1); // after the Down, in order
      assert.equal(proc.mailboxLength, 0);
      assert.equal(await proc.receive({ timeout: 0 }), undefined);
      const error = await call(proc, s2, "get").catch((e) => e);
      assertInstanceOf(error, CallError);
      assert.equal(error.reason, "noproc");
      // Losing the node between calls: no Down in the mailbox either.
      assert.equal(await call(proc, s1, "get"), 1);
      const lost = a.runtime.processInfo(proc.self)!.monitors.length;
      assert.equal(lost, 1);
      const down = Promise.withResolvers<void>();
      const off = a.onNodeEvent((e) => e instanceof NodeDown && down.resolve());
      a.disconnect(b.name);
      await down.promise;
      off();
      assert.equal(proc.mailboxLength, 0);
      assert.deepEqual(a.runtime.processInfo(proc.self)!.monitors, []);
      // A new connection, a new monitor; exiting releases it.
      assert.equal(await call(proc, s1, "get"), 1);
      assert.deepEqual(watchersOf(s1), [me]);
      done.resolve(proc.self);
    } catch (error) {
      done.reject(error);
    }
  });
  assert.ok((await done.promise).equals(caller));
  assert.equal(await a.runtime.whenExited(caller), "normal");
  // A round trip after the exit: its DEMONITOR has been handled by then.
  await call(a.runtime, s1, "get");
  assert.ok(!watchersOf(s1).includes(String(caller)));
  await a.runtime.shutdown();
  await b.runtime.shutdown();
});

Deno.test("server: a call by [name, localNode] is answered, watched like one by name, and gets noproc once the name is gone", async () => {
  await using rt = new Runtime();
  let holding: From | undefined;
  const held = Promise.withResolvers<void>();
  const server = await startServer(rt, {
    init: (_: undefined, proc) => {
      proc.register("named");
      return null;
    },
    handleCall: (req: "hold" | "ping", from, state) => {
      if (req === "ping") return { reply: "pong", state };
      holding = from;
      held.resolve();
      return { noreply: true, state };
    },
  }, undefined);
  const dest = ["named", rt.node] as const;
  assert.equal(await call(rt, dest, "ping"), "pong");
  const caller = rt.spawn(async (proc) => {
    assert.equal(await call(proc, dest, "hold"), "late");
  });
  await held.promise;
  assert.deepEqual(rt.processInfo(caller)!.monitors.map((m) => m.name), [
    "named",
  ]);
  assert.deepEqual(rt.processInfo(server)!.monitoredBy, [caller]);
  reply(holding!, "late");
  assert.equal(await rt.whenExited(caller), "normal");
  assert.deepEqual(rt.processInfo(server)!.monitoredBy, []);
  await stopServer(rt, server);
  const error = await call(rt, dest, "ping").catch((e) => e);
  assertInstanceOf(error, CallError);
  assert.equal(error.reason, "noproc");
});

Deno.test("server: after a crowd of callers, the server gives back its caller slots", async () => {
  await using rt = new Runtime();
  const held: From[] = [];
  const allHeld = Promise.withResolvers<void>();
  let self: Process | undefined;
  const server = await startServer(rt, {
    init: (_: undefined, proc) => {
      self = proc;
      return null;
    },
    handleCall: (_req: null, from, state) => {
      held.push(from);
      if (held.length === 200) allHeld.resolve();
      return { noreply: true, state };
    },
  }, undefined);
  // Internal: the server's caller slots (actor/monitor.ts, watchCall).
  const slots = () => (self as unknown as { callers?: unknown[] }).callers!;
  const calls = Array.from({ length: 200 }, () => call(rt, server, null));
  await allHeld.promise;
  assert.ok(slots().length >= 200);
  for (const from of held) reply(from, "ok");
  assert.deepEqual(new Set(await Promise.all(calls)), new Set(["ok"]));
  assert.ok(slots().length <= 32, `${slots().length} slots kept`);
  assert.deepEqual(rt.processInfo(server)!.monitoredBy, []);
  // And they still serve.
  held.length = 0;
  const again = call(rt, server, null);
  await settle();
  reply(held[0]!, "again");
  assert.equal(await again, "again");
});

Deno.test("server: a terminate that crashes after a crash ends the server with terminate's crash, as gen_server", async () => {
  const rt = new Runtime();
  const pid = await startServer(rt, {
    init: () => null,
    handleCast: (_m: "go") => {
      throw new Error("first");
    },
    terminate: (reason) => {
      assert.ok(reason instanceof Crash && reason.message === "first");
      throw new Error("second");
    },
  }, undefined);
  const exited = rt.whenExited(pid);
  cast(rt, pid, "go");
  const reason = await exited;
  assertInstanceOf(reason, Crash);
  assert.equal(reason.message, "second");
  await rt.shutdown();
});

Deno.test("server: starting a server under a taken name rejects with ServerStartError ['already_started', pid], as gen_server's {error, {already_started, Pid}}", async () => {
  const rt = new Runtime();
  let inits = 0;
  const behaviour = {
    init: () => {
      inits++;
      return null;
    },
  };
  const first = await startServer(rt, behaviour, undefined, { name: "one" });
  const error = await startServer(rt, behaviour, undefined, { name: "one" })
    .catch((e: unknown) => e);
  assertInstanceOf(error, ServerStartError);
  assert.ok(Array.isArray(error.reason));
  assert.equal(error.reason[0], "already_started");
  assert.ok(first.equals(error.reason[1]));
  assert.equal(inits, 1); // nothing else ran
  assert.equal(rt.processes().length, 1);
  await rt.shutdown();
});

Deno.test("server: a callback that calls or stops its own server gets CallError calling_self at once, and nothing reaches its mailbox (as gen_server)", async () => {
  const rt = new Runtime();
  const seen: unknown[] = [];
  const pid = await startServer(
    rt,
    {
      init: () => 0,
      handleCall: async (
        req: "self" | "name" | "stop" | "get",
        _from,
        n,
        proc,
      ) => {
        if (req === "get") return { reply: n, state: n + 1 };
        const pending = req === "stop"
          ? stopServer(proc, proc.self, "normal", { timeout: 10_000 })
          : call(proc, req === "name" ? "me" : proc.self, "get", {
            timeout: 10_000,
          });
        const error = await pending.catch((e: unknown) => e);
        seen.push(error instanceof CallError ? error.reason : error);
        return { reply: proc.mailboxLength, state: n };
      },
    },
    undefined,
    { name: "me" },
  );
  assert.equal(await call(rt, pid, "self"), 0);
  assert.equal(await call(rt, pid, "name"), 0);
  assert.equal(await call(rt, pid, "stop"), 0);
  assert.deepEqual(seen, ["calling_self", "calling_self", "calling_self"]);
  // Still serving, and no call of its own was left to answer.
  assert.equal(await call(rt, pid, "get"), 0);
  assert.equal(rt.isAlive(pid), true);
  await rt.shutdown();
});

Deno.test("startServer: a server keeps neither the process that started it once that has exited, nor its init arguments once init has run", async () => {
  // The reaction that fails the start should the server die in init waits
  // on the server's exit; it used to hold startServer's whole context, the
  // starter first. The server's body, which runs for its whole life, used
  // to hold the init arguments (from a remote start too: a frame's payload).
  // Run in a child with the GC exposed.
  assert.deepEqual(await runGcFixture("server_retention.ts"), {
    servers: 5,
    starters: 0,
    args: 0,
  });
});

Deno.test("server: a thenable reply (which call's promise would await, past its timeout) is refused: the server crashes with InvalidMessageError, and the call fails", async () => {
  await using rt = new Runtime();
  const srv = await startServer(rt, {
    init: () => 0,
    handleCall: () => ({ reply: { then() {} }, state: 0 }),
  }, null);
  const error = await call(rt, srv, "x", { timeout: 1_000 }).catch((e) => e);
  assertInstanceOf(error, CallError);
  assertInstanceOf(error.reason, Crash);
  assert.equal(error.reason.name, "InvalidMessageError");
});

Deno.test("server: a thenable may be a call request or a cast (nothing awaits those), and a thenable reply given with a stop crashes the server before terminate", async () => {
  await using rt = new Runtime();
  class Query {
    then() {}
  }
  const seen: unknown[] = [];
  const terminated = Promise.withResolvers<unknown>();
  const srv = await startServer(rt, {
    init: () => 0,
    handleCall: (req, _from, state) => {
      seen.push(req);
      return req === "stop"
        ? { stop: "normal", reply: new Query(), state }
        : { reply: req instanceof Query ? "a query" : req, state };
    },
    handleCast: (msg, state) => {
      seen.push(msg);
      return { state };
    },
    terminate: (reason) => void terminated.resolve(reason),
  }, null);
  assert.equal(await call(rt, srv, new Query()), "a query");
  cast(rt, srv, new Query());
  assert.equal(await call(rt, srv, "sync"), "sync");
  assert.ok(seen[0] instanceof Query && seen[1] instanceof Query);
  const error = await call(rt, srv, "stop").catch((e) => e);
  assertInstanceOf(error, CallError);
  const reason = await terminated.promise;
  assertInstanceOf(reason, Crash);
  assert.equal(reason.name, "InvalidMessageError");
});

Deno.test("server: on a runtime that has been shut down, call, stopServer, startServer, startSupervisor and whichChildren reject with RuntimeStoppedError saying what was asked", async () => {
  const rt = new Runtime();
  const server = await startServer(rt, counter(), 0);
  const sup = await startSupervisor(rt, {
    strategy: "one_for_one",
    children: [],
  });
  await rt.shutdown();
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ["call", () => call(rt, server, "get"), /^Cannot call the pid <.*>/],
    ["stopServer", () => stopServer(rt, server), /^Cannot stop the pid <.*>/],
    ["startServer", () => startServer(rt, counter(), 0), /^Cannot start/],
    [
      "startSupervisor",
      () => startSupervisor(rt, { strategy: "one_for_one", children: [] }),
      /^Cannot start/,
    ],
    [
      "whichChildren",
      () => whichChildren(rt, sup),
      /^Cannot call the pid <.*>/,
    ],
  ];
  for (const [what, run, message] of cases) {
    const error = await run().then(() => undefined, (e: unknown) => e);
    assertInstanceOf(error, RuntimeStoppedError, what);
    assert.match(error.message, message, what);
    assert.match(error.message, /the runtime has been shut down$/, what);
  }
});

Deno.test('server: a callback result of the wrong shape stops the server with ["bad_return_value", result], as gen_server\'s; terminate hears it with the state from before', async () => {
  await using rt = new Runtime();
  type Terminated = [unknown, unknown];
  const start = (terminated: Terminated[]) =>
    startServer(rt, {
      init: () => "before",
      // deno-lint-ignore no-explicit-any
      handleCall: (() => ({ state: "after" })) as any,
      // deno-lint-ignore no-explicit-any
      handleCast: (() => ({ status: "after" })) as any,
      // deno-lint-ignore no-explicit-any
      handleInfo: (() => undefined) as any,
      terminate: (reason, state) => void terminated.push([reason, state]),
    }, undefined);
  // A call: the caller's call fails with the reason, at once.
  const calls: Terminated[] = [];
  const viaCall = await start(calls);
  const error = await call(rt, viaCall, "x").catch((e) => e);
  assertInstanceOf(error, CallError);
  assert.deepEqual(error.reason, ["bad_return_value", { state: "after" }]);
  assert.deepEqual(calls, [[error.reason, "before"]]);
  // A cast and a plain message.
  const casts: Terminated[] = [];
  const viaCast = await start(casts);
  cast(rt, viaCast, "x");
  assert.deepEqual(await rt.whenExited(viaCast), [
    "bad_return_value",
    { status: "after" },
  ]);
  const infos: Terminated[] = [];
  const viaInfo = await start(infos);
  rt.send(viaInfo, "hello");
  assert.deepEqual(await rt.whenExited(viaInfo), [
    "bad_return_value",
    undefined,
  ]);
  assert.equal(infos[0]![1], "before");
});
