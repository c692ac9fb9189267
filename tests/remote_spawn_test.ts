// Remote spawn across in-process nodes over real loopback sockets: the
// allow-list, atomic links and monitors, failures, servers, and supervisor
// children that fail over to another node.
import assert from "node:assert/strict";
import { rawPeer as openRawPeer } from "./_raw_peer.ts";
import {
  call,
  Crash,
  Down,
  Exit,
  InvalidArgumentError,
  Runtime,
  startSupervisor,
  SupervisorStartError,
  whichChildren,
} from "../mod.ts";
import {
  NodeDown,
  NodeUnreachableError,
  remoteChild,
  RemoteSpawnError,
  startNode,
} from "../dist/mod.ts";
import { Pid, Ref, Tag, UnencodableValueError } from "../wire/mod.ts";
import { is, type Probe, probe } from "./_probe.ts";
import { idle, runGcFixture, settle } from "./_util.ts";
import { nodeName, nodePair } from "./_nodes.ts";

const COOKIE = "spawn-cookie";
const name = nodeName;
const pair = () => nodePair(COOKIE);

async function rejectsWith(
  promise: Promise<unknown>,
  reason: unknown,
): Promise<RemoteSpawnError> {
  // The timer is a safety net only, so a request that never settles fails
  // the test instead of hanging it.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const error = await Promise.race([
    promise.then(
      (v) => assert.fail(`expected a rejection, got ${Deno.inspect(v)}`),
      (e) => e,
    ),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("never settled")), 5000);
    }),
  ]).finally(() => clearTimeout(timer));
  assert.ok(error instanceof RemoteSpawnError, Deno.inspect(error));
  assert.equal(error.name, "RemoteSpawnError");
  assert.deepEqual(error.reason, reason);
  return error;
}

Deno.test("spawn: returns a pid on the other node that runs and receives", async () => {
  await using n = await pair();
  const { a, b } = n;
  b.allowSpawn("echo", async (proc, tag: string) => {
    const m = await proc.receive() as { reply: Pid; text: string };
    proc.send(m.reply, [tag, m.text, proc.self]);
  });
  const me = await probe(a.runtime);
  const pid = await a.spawn({ node: b.name, name: "echo", args: "t1" });
  assert.equal(pid.node, b.name);
  assert.equal(pid.creation, b.creation);
  assert.ok(b.runtime.isAlive(pid));
  a.runtime.send(pid, { reply: me.pid, text: "hi" });
  const got = await me.next<[string, string, Pid]>();
  assert.equal(got[0], "t1");
  assert.equal(got[1], "hi");
  assert.ok(got[2].equals(pid));
});

Deno.test("spawn: a name that is not on the allow-list is refused with unknown_spawnable", async () => {
  await using n = await pair();
  const { a, b } = n;
  b.allowSpawn("allowed", idle);
  const before = b.runtime.processCount;
  const error = await rejectsWith(
    a.spawn({ node: b.name, name: "rm -rf" }),
    "unknown_spawnable",
  );
  assert.equal(error.node, b.name);
  assert.equal(error.spawnName, "rm -rf");
  assert.match(error.message, /Cannot spawn "rm -rf" on b\d+@127.0.0.1/);
  assert.equal(b.runtime.processCount, before);
  // A name removed from the list is refused too.
  assert.ok(b.disallowSpawn("allowed"));
  await rejectsWith(
    a.spawn({ node: b.name, name: "allowed" }),
    "unknown_spawnable",
  );
});

Deno.test("spawn: the allow-list may be given as a node option", async () => {
  const b = await startNode({
    name: name("b"),
    cookie: COOKIE,
    spawnables: {
      hello: { body: (proc, to: Pid) => proc.send(to, "hello") },
      counter: { server: { init: (n: number) => n } },
    },
  });
  const a = await startNode({ name: name("a"), cookie: COOKIE });
  try {
    await a.connect(b.name, b.address!);
    const me = await probe(a.runtime);
    await a.spawn({ node: b.name, name: "hello", args: me.pid });
    assert.equal(await me.next(), "hello");
    const server = await a.spawn({ node: b.name, name: "counter", args: 1 });
    assert.ok(b.runtime.isAlive(server));
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

Deno.test("spawn: spawnLink — a body that crashes at once still reaches the trapping requester", async () => {
  await using n = await pair();
  const { a, b } = n;
  b.allowSpawn("crash", () => {
    throw new TypeError("at once");
  });
  const me = await probe(a.runtime, { trapExit: true });
  const pid = await a.spawnLink(me.proc, { node: b.name, name: "crash" });
  const exit = await me.next<Exit>(is(Exit));
  assert.ok(exit.from.equals(pid));
  assert.ok(exit.reason instanceof Crash);
  assert.equal(exit.reason.name, "TypeError");
  assert.equal(exit.reason.message, "at once");
});

Deno.test("spawn: spawnLink — a requester that does not trap dies with the child's crash", async () => {
  await using n = await pair();
  const { a, b } = n;
  b.allowSpawn("crash", async (proc) => {
    await proc.receive();
    throw new Error("told to");
  });
  const requester = await probe(a.runtime);
  const pid = await a.spawnLink(requester.proc, {
    node: b.name,
    name: "crash",
  });
  assert.deepEqual(a.runtime.processInfo(requester.pid)?.links, [pid]);
  assert.deepEqual(b.runtime.processInfo(pid)?.links, [requester.pid]);
  a.runtime.send(pid, "go");
  const reason = await a.runtime.whenExited(requester.pid);
  assert.ok(reason instanceof Crash && reason.message === "told to");
});

Deno.test("spawn: spawnMonitor — a process that dies at once gives exactly one Down", async () => {
  await using n = await pair();
  const { a, b } = n;
  b.allowSpawn("brief", () => {});
  const me = await probe(a.runtime);
  const [pid, ref] = await a.spawnMonitor(me.proc, {
    node: b.name,
    name: "brief",
  });
  const down = await me.next<Down>(is(Down));
  assert.ok(down.ref.equals(ref));
  assert.ok(down.pid?.equals(pid));
  assert.equal(down.reason, "normal");
  // Nothing else follows: a second process spawned and answering afterwards
  // proves every frame sent before has been handled.
  await roundTrip(a, b, me);
  await settle();
  assert.deepEqual(me.seen, []);
  assert.deepEqual(a.runtime.processInfo(me.pid)?.monitors, []);
});

Deno.test("spawn: spawnMonitor — demonitor works on the returned ref", async () => {
  await using n = await pair();
  const { a, b } = n;
  b.allowSpawn("idle", idle);
  const me = await probe(a.runtime);
  const [pid, ref] = await a.spawnMonitor(me.proc, {
    node: b.name,
    name: "idle",
  });
  assert.deepEqual(b.runtime.processInfo(pid)?.monitoredBy, [me.pid]);
  assert.ok(me.proc.demonitor(ref));
  await roundTrip(a, b, me);
  assert.deepEqual(b.runtime.processInfo(pid)?.monitoredBy, []);
});

Deno.test("spawn: a requester that exits before the reply — the linked child gets its exit signal", async () => {
  await using n = await pair();
  const { a, b } = n;
  const spy = await probe(b.runtime);
  b.allowSpawn("trapper", async (proc, report: Pid) => {
    proc.trapExit(true);
    const exit = await proc.receive((m): m is Exit => m instanceof Exit);
    proc.send(report, [proc.self, exit]);
  });
  const requester = await probe(a.runtime);
  const pending = a.spawnLink(requester.proc, {
    node: b.name,
    name: "trapper",
    args: spy.pid,
  });
  // Killed in the same turn: the reply cannot have arrived yet.
  a.runtime.exit(requester.pid, "kill");
  await rejectsWith(pending, "noproc");
  const [child, exit] = await spy.next<[Pid, Exit]>();
  assert.equal(child.node, b.name);
  assert.ok(exit.from.equals(requester.pid));
  assert.equal(exit.reason, "killed");
});

Deno.test("spawn: a requester that exits before the reply — a monitor is removed on the child's side", async () => {
  await using n = await pair();
  const { a, b } = n;
  const started = Promise.withResolvers<Pid>();
  b.allowSpawn("idle", (proc) => {
    started.resolve(proc.self);
    return idle(proc);
  });
  const requester = await probe(a.runtime);
  const pending = a.spawnMonitor(requester.proc, {
    node: b.name,
    name: "idle",
  });
  a.runtime.exit(requester.pid, "kill");
  await rejectsWith(pending, "noproc");
  const child = await started.promise;
  // The DEMONITOR left right after the reply came; a ping round trip after it.
  const me = await probe(a.runtime);
  await roundTrip(a, b, me);
  assert.deepEqual(b.runtime.processInfo(child)?.monitoredBy, []);
});

Deno.test("spawn: a lost connection while waiting rejects with noconnection; the linked child gets noconnection", async () => {
  await using n = await pair();
  const { a, b } = n;
  const initStarted = Promise.withResolvers<Pid>();
  b.allowServer("stuck", {
    init: (_: unknown, self) => {
      initStarted.resolve(self.self);
      return new Promise<never>(() => {});
    },
  });
  const me = await probe(a.runtime);
  const pending = a.spawnLink(me.proc, { node: b.name, name: "stuck" });
  const server = await initStarted.promise;
  assert.ok(a.disconnect(b.name));
  await rejectsWith(pending, "noconnection");
  // The link was set before init ran, so D7 reached the server on b.
  assert.equal(await b.runtime.whenExited(server), "noconnection");
  assert.ok(a.runtime.isAlive(me.pid));
});

Deno.test("spawn: a server whose requester's connection was lost during init ends instead of running orphaned", async () => {
  await using n = await pair();
  const { a, b } = n;
  const initStarted = Promise.withResolvers<Pid>();
  const release = Promise.withResolvers<void>();
  b.allowServer("gated", {
    init: async (_: unknown, self) => {
      initStarted.resolve(self.self);
      await release.promise;
      return null;
    },
  });
  const pending = a.spawn({ node: b.name, name: "gated" });
  const server = await initStarted.promise;
  const bSawIt = Promise.withResolvers<void>();
  b.onNodeEvent((e) => e instanceof NodeDown && bSawIt.resolve());
  a.disconnect(b.name);
  await rejectsWith(pending, "noconnection");
  await bSawIt.promise;
  release.resolve();
  assert.equal(await b.runtime.whenExited(server), "noconnection");
});

Deno.test("spawn: an unreachable node rejects with noconnection, caused by NodeUnreachableError", async () => {
  const gone = await startNode({ name: name("gone"), cookie: COOKIE });
  const address = gone.address!;
  await gone.stop();
  const a = await startNode({
    name: name("a"),
    cookie: COOKIE,
    peers: { [gone.name]: address },
  });
  try {
    const refused = await rejectsWith(
      a.spawn({ node: gone.name, name: "anything" }),
      "noconnection",
    );
    assert.ok(refused.cause instanceof NodeUnreachableError);
    const unknown = await rejectsWith(
      a.spawn({ node: "nowhere@127.0.0.1", name: "anything" }),
      "noconnection",
    );
    assert.ok(unknown.cause instanceof NodeUnreachableError);
  } finally {
    await a.stop();
  }
  // A stopped node refuses at once.
  await rejectsWith(
    a.spawn({ node: "x@127.0.0.1", name: "anything" }),
    "noconnection",
  );
});

Deno.test("spawn: a timeout rejects; a child spawned after it is abandoned", async () => {
  await using n = await pair();
  const { a, b } = n;
  const release = Promise.withResolvers<void>();
  const spy = await probe(b.runtime);
  b.allowServer("late", {
    init: async (report: Pid) => {
      await release.promise;
      return report;
    },
    handleInfo: (m, report, self) => {
      self.send(report, m);
      return { state: report };
    },
  }, { trapExit: true });
  const me = await probe(a.runtime);
  await rejectsWith(
    a.spawnLink(me.proc, {
      node: b.name,
      name: "late",
      args: spy.pid,
      timeout: 20,
    }),
    "timeout",
  );
  release.resolve();
  const exit = await spy.next<Exit>(is(Exit));
  assert.ok(exit.from.equals(me.pid));
  assert.equal(exit.reason, "abandoned");
  assert.deepEqual(a.runtime.processInfo(me.pid)?.links, []);
});

Deno.test("spawn: startServer on another node, then call and cast across nodes", async () => {
  await using n = await pair();
  const { a, b } = n;
  b.allowServer("counter", {
    init: (start: number) => start,
    handleCall: (req: "get", _from, count) => ({
      reply: req === "get" ? count : -1,
      state: count,
    }),
    handleCast: (by: number, count) => ({ state: count + by }),
  });
  const me = await probe(a.runtime, { trapExit: true });
  const pid = await a.startServer<"get", number, number>(me.proc, {
    node: b.name,
    name: "counter",
    args: 40,
    link: true,
  });
  assert.equal(pid.node, b.name);
  assert.equal(await call(a.runtime, pid, "get"), 40);
  a.runtime.send(pid, { $cast: 2 });
  assert.equal(await call(a.runtime, pid, "get"), 42);
  b.runtime.exit(pid, "stopped");
  const exit = await me.next<Exit>(is(Exit));
  assert.ok(exit.from.equals(pid));
  assert.equal(exit.reason, "stopped");
});

Deno.test("spawn: a class-based, frozen behaviour keeps its methods", async () => {
  await using n = await pair();
  const { a, b } = n;
  class Greeter {
    readonly greeting = "hello";
    init(who: string): string {
      return who;
    }
    handleCall(_req: "greet", _from: unknown, who: string) {
      return { reply: `${this.greeting}, ${who}`, state: who };
    }
  }
  b.allowServer("greeter", Object.freeze(new Greeter()));
  const pid = await a.startServer<"greet", string>(a.runtime, {
    node: b.name,
    name: "greeter",
    args: "ada",
  });
  assert.equal(await call(a.runtime, pid, "greet"), "hello, ada");
});

Deno.test("spawn: a server whose init fails is refused with the crash", async () => {
  await using n = await pair();
  const { a, b } = n;
  b.allowServer("broken", {
    init: () => {
      throw new RangeError("no config");
    },
  });
  const me = await probe(a.runtime, { trapExit: true });
  const before = b.runtime.processCount;
  const error = await a.startServer(me.proc, {
    node: b.name,
    name: "broken",
    link: true,
  }).then(() => assert.fail("started"), (e) => e);
  assert.ok(error instanceof RemoteSpawnError);
  assert.ok(error.reason instanceof Crash);
  assert.equal(error.reason.name, "RangeError");
  assert.equal(error.reason.message, "no config");
  assert.equal(b.runtime.processCount, before);
  await settle();
  assert.deepEqual(me.seen, [], "the failure is told by the rejection only");
});

Deno.test("spawn: on this node's own name, the same allow-list applies without frames", async () => {
  const a = await startNode({ name: name("a"), cookie: COOKIE });
  try {
    a.allowSpawn("crash", () => {
      throw new Error("local");
    });
    a.allowServer("id", {
      init: () => 0,
      handleCall: (x: number, _f, s) => ({ reply: x, state: s }),
    });
    const me = await probe(a.runtime, { trapExit: true });
    const pid = await a.spawnLink(me.proc, { node: a.name, name: "crash" });
    const exit = await me.next<Exit>(is(Exit));
    assert.ok(exit.from.equals(pid));
    const [, ref] = await a.spawnMonitor(me.proc, {
      node: a.name,
      name: "crash",
    });
    assert.ok((await me.next<Down>(is(Down))).ref.equals(ref));
    const server = await a.startServer<number, number>(a.runtime, {
      node: a.name,
      name: "id",
    });
    assert.equal(await call(a.runtime, server, 7), 7);
    await rejectsWith(
      a.spawn({ node: a.name, name: "missing" }),
      "unknown_spawnable",
    );
  } finally {
    await a.stop();
  }
});

Deno.test("spawn: bad arguments are named errors", async () => {
  await using n = await pair();
  const { a, b } = n;
  b.allowSpawn("idle", idle);
  const me = await probe(a.runtime);
  await assert.rejects(
    a.spawn({ node: 42 as unknown as string, name: "idle" }),
    InvalidArgumentError,
  );
  await assert.rejects(
    a.spawn(null as unknown as { node: string; name: string }),
    InvalidArgumentError,
  );
  await assert.rejects(
    a.spawn({ node: b.name, name: "" }),
    InvalidArgumentError,
  );
  await assert.rejects(
    a.spawn({ node: b.name, name: "idle", timeout: -1 }),
    InvalidArgumentError,
  );
  await assert.rejects(
    a.spawnLink(
      a.runtime as unknown as typeof me.proc,
      { node: b.name, name: "idle" },
    ),
    InvalidArgumentError,
  );
  await assert.rejects(
    a.spawnMonitor(
      undefined as unknown as typeof me.proc,
      { node: b.name, name: "idle" },
    ),
    InvalidArgumentError,
  );
  const other = new Runtime({ node: "other@127.0.0.1" });
  const foreign = await probe(other);
  await assert.rejects(
    a.spawnLink(foreign.proc, { node: b.name, name: "idle" }),
    InvalidArgumentError,
  );
  await other.shutdown();
  await assert.rejects(
    a.startServer(a.runtime, { node: b.name, name: "idle", link: true }),
    InvalidArgumentError,
  );
  await assert.rejects(
    a.spawn({ node: b.name, name: "idle", args: { f: () => {} } }),
    UnencodableValueError,
  );
  assert.throws(
    () => b.allowSpawn("", idle),
    InvalidArgumentError,
  );
  assert.throws(
    () => b.allowSpawn("x", "not a function" as never),
    InvalidArgumentError,
  );
  assert.throws(
    () => b.allowServer("x", {} as never),
    InvalidArgumentError,
  );
  assert.throws(
    () => remoteChild("w", { via: a, nodes: [], name: "idle" }),
    InvalidArgumentError,
  );
});

Deno.test("spawn: allowSpawn and allowServer errors describe the argument given to them, and a bad spawnables option is refused before listening", async () => {
  await using n = await pair();
  const { b } = n;
  const refused = (f: () => unknown): InvalidArgumentError => {
    try {
      f();
    } catch (error) {
      assert.ok(error instanceof InvalidArgumentError, String(error));
      return error;
    }
    throw new assert.AssertionError({ message: "expected a throw" });
  };
  const body = refused(() => b.allowSpawn("w", 5 as never));
  assert.equal(
    body.message,
    'Invalid spawn body for "w": expected a function (proc, args) => …, got number 5',
  );
  assert.equal(body.argument, 'spawn body for "w"');
  const badName = refused(() => b.allowSpawn(7 as never, idle));
  assert.equal(
    badName.message,
    "Invalid spawnable name: expected a non-empty string, got number 7",
  );
  const server = refused(() => b.allowServer("kv", {} as never));
  assert.equal(
    server.message,
    'Invalid server behaviour for "kv": expected init to be a function, got undefined',
  );
  const callback = refused(() =>
    b.allowServer("kv", { init: () => 0, handleCall: "x" } as never)
  );
  assert.match(callback.message, /handleCall .* got "x"$/);
  assert.equal(b.disallowSpawn("w") || b.disallowSpawn("kv"), false);
  // The option takes the same checks, before the node listens or makes a
  // runtime (the sanitizers would see a listener left open).
  for (
    const spawnables of [
      { w: { body: 5 } },
      { kv: { server: { init: 1 } } },
      { x: 5 },
      { x: {} },
      5,
    ]
  ) {
    await assert.rejects(
      startNode({
        name: name("c"),
        cookie: COOKIE,
        spawnables: spawnables as never,
      }),
      InvalidArgumentError,
    );
  }
  const error = await startNode({
    name: name("c"),
    cookie: COOKIE,
    spawnables: { w: { body: 5 as never } },
  }).catch((e) => e);
  assert.match(error.message, /^Invalid spawn body for "w"/);
});

/** A raw peer that passed the handshake with `node`, speaking frames by hand. */
/**
 * A process spawned on `b` that answers `me` at once: every frame `a` sent
 * `b` before has been handled by the time the answer arrives.
 */
async function roundTrip(
  a: Awaited<ReturnType<typeof startNode>>,
  b: Awaited<ReturnType<typeof startNode>>,
  me: Probe,
): Promise<void> {
  b.allowSpawn("ping", (proc, to: Pid) => proc.send(to, "pong"));
  await a.spawn({ node: b.name, name: "ping", args: me.pid });
  assert.equal(await me.next(), "pong");
}

function rawPeer(node: Awaited<ReturnType<typeof startNode>>) {
  return openRawPeer(node, name("raw"), COOKIE);
}

Deno.test("spawn: the frames on the wire, from a hand-written peer", async () => {
  await using b = await startNode({ name: name("b"), cookie: COOKIE });
  const reported = Promise.withResolvers<unknown>();
  b.allowSpawn("report", (_proc, x) => reported.resolve(x));
  const peer = await rawPeer(b);
  try {
    const ref = new Ref(peer.name, 1, 3);
    await peer.write({
      tag: Tag.SPAWN_REQUEST,
      from: peer.pid(1),
      ref,
      name: "nope",
      link: false,
      monitor: false,
      args: null,
    });
    assert.deepEqual(await peer.next(Tag.SPAWN_REPLY), {
      tag: Tag.SPAWN_REPLY,
      to: peer.pid(1),
      ref,
      ok: false,
      reason: "unknown_spawnable",
    });
    const ref2 = new Ref(peer.name, 2, 3);
    await peer.write({
      tag: Tag.SPAWN_REQUEST,
      from: peer.pid(1),
      ref: ref2,
      name: "report",
      link: true,
      monitor: true,
      args: { n: 1 },
    });
    // The reply comes first, then the child's exit through the link and
    // the monitor, in that order (D5).
    const reply = await peer.next(Tag.SPAWN_REPLY);
    assert.ok(reply?.tag === Tag.SPAWN_REPLY && reply.ok);
    assert.equal(reply.pid.node, b.name);
    const exit = await peer.next(Tag.EXIT);
    assert.ok(exit?.tag === Tag.EXIT && exit.from.equals(reply.pid));
    assert.equal(exit.reason, "normal");
    const down = await peer.next(Tag.MONITOR_EXIT);
    assert.ok(down?.tag === Tag.MONITOR_EXIT && down.ref.equals(ref2));
    assert.deepEqual(await reported.promise, { n: 1 });
  } finally {
    peer.close();
  }
});

Deno.test("spawn: a SPAWN_REQUEST for another node's pid, or a reply naming one (or one of another creation), is a protocol error", async () => {
  await using b = await startNode({ name: name("b"), cookie: COOKIE });
  b.allowSpawn("idle", idle);
  const forger = await rawPeer(b);
  try {
    const ended = Promise.withResolvers<unknown>();
    b.onNodeEvent((e) => ended.resolve(e));
    await forger.write({
      tag: Tag.SPAWN_REQUEST,
      from: new Pid("third@host", 1, 1),
      ref: new Ref(forger.name, 1, 3),
      name: "idle",
      link: true,
      monitor: false,
      args: null,
    });
    assert.equal(
      (await ended.promise as { reason: string }).reason,
      "protocol_error",
    );
  } finally {
    forger.close();
  }
  // A reply naming a pid of a third node, or one of the peer's own name but
  // not its incarnation (an earlier creation).
  const forged = [
    (_peer: string) => new Pid("third@host", 1, 1),
    (peer: string) => new Pid(peer, 1, 2),
  ];
  for (const pidOf of forged) {
    const liar = await rawPeer(b);
    try {
      const pending = b.spawn({ node: liar.name, name: "anything" });
      const request = await liar.next(Tag.SPAWN_REQUEST);
      assert.ok(request?.tag === Tag.SPAWN_REQUEST);
      await liar.write({
        tag: Tag.SPAWN_REPLY,
        to: request.from,
        ref: request.ref,
        ok: true,
        pid: pidOf(liar.name),
      });
      await rejectsWith(pending, "noconnection");
    } finally {
      liar.close();
    }
  }
});

/** Three nodes; `a` supervises, `b` and `c` may run "worker". */
async function trio() {
  // b's runtime outlives its node, so stopping the node is a pure network
  // loss: the supervisor sees `noconnection`, not the processes' shutdown.
  const rtB = new Runtime({ node: name("b") });
  const b = await startNode({ runtime: rtB, cookie: COOKIE });
  const c = await startNode({ name: name("c"), cookie: COOKIE });
  const a = await startNode({ name: name("a"), cookie: COOKIE });
  const started = { b: [] as Pid[], c: [] as Pid[] };
  const onC = Promise.withResolvers<Pid>();
  b.allowSpawn("worker", (proc) => {
    started.b.push(proc.self);
    return idle(proc);
  });
  c.allowSpawn("worker", (proc) => {
    started.c.push(proc.self);
    onC.resolve(proc.self);
    return idle(proc);
  });
  await a.connect(b.name, b.address!);
  await a.connect(c.name, c.address!);
  return {
    a,
    b,
    c,
    started,
    onC: onC.promise,
    [Symbol.asyncDispose]: async () => {
      await Promise.all([a.stop(), b.stop(), c.stop()]);
      await rtB.shutdown();
    },
  };
}

Deno.test("spawn: a supervisor's remote child is restarted on the next node when its node goes away", async () => {
  await using t = await trio();
  const { a, b, c } = t;
  const sup = await startSupervisor(a.runtime, {
    strategy: "one_for_one",
    children: [
      remoteChild("w", { via: a, nodes: [b.name, c.name], name: "worker" }),
    ],
  });
  const [first] = await whichChildren(a.runtime, sup);
  assert.equal(first?.pid?.node, b.name);
  assert.deepEqual(t.started.b, [first!.pid]);
  const watcher = await probe(a.runtime);
  watcher.proc.monitor(first!.pid!);
  await b.stop();
  const down = await watcher.next<Down>(is(Down));
  assert.equal(down.reason, "noconnection");
  const moved = await t.onC;
  const [again] = await whichChildren(a.runtime, sup);
  assert.ok(again?.pid?.equals(moved));
  assert.equal(moved.node, c.name);
  assert.ok(a.runtime.isAlive(sup));
  // The restarted child is linked to the supervisor across nodes.
  assert.deepEqual(c.runtime.processInfo(moved)?.links, [sup]);
});

Deno.test("spawn: a supervisor stops its remote child in the usual way", async () => {
  await using t = await trio();
  const { a, b } = t;
  const sup = await startSupervisor(a.runtime, {
    strategy: "one_for_one",
    children: [
      remoteChild("w", {
        via: a,
        nodes: [b.name],
        name: "worker",
        restart: "transient",
      }),
    ],
  });
  const [child] = await whichChildren(a.runtime, sup);
  const pid = child!.pid!;
  const exited = b.runtime.whenExited(pid);
  await a.runtime.shutdown();
  assert.equal(await exited, "shutdown");
});

Deno.test("spawn: a remote child whose every node fails makes the supervisor's start fail", async () => {
  await using t = await trio();
  const { a, b } = t;
  await assert.rejects(
    startSupervisor(a.runtime, {
      strategy: "one_for_one",
      children: [
        remoteChild("w", {
          via: a,
          nodes: [b.name, "nowhere@127.0.0.1"],
          name: "not-listed",
        }),
      ],
    }),
    (e: unknown) =>
      e instanceof SupervisorStartError && e.childId === "w" &&
      e.childReason instanceof Crash &&
      e.childReason.name === "RemoteSpawnError",
  );
});

Deno.test("spawn: a refusal whose reason cannot be turned into text still rejects the request", async () => {
  await using a = await startNode({ name: name("a"), cookie: COOKIE });
  const peer = await rawPeer(a);
  try {
    const pending = a.spawn({ node: peer.name, name: "anything" });
    const request = await peer.next(Tag.SPAWN_REQUEST);
    assert.ok(request?.tag === Tag.SPAWN_REQUEST);
    // A map with a `toString` key that is not a function: String() of it throws.
    const reason = { name: { toString: 1 }, message: "m" };
    await peer.write({
      tag: Tag.SPAWN_REPLY,
      to: request.from,
      ref: request.ref,
      ok: false,
      reason,
    });
    const error = await rejectsWith(pending, reason);
    assert.equal(error.node, peer.name);
    // The connection is still up: it was a well-formed frame.
    assert.deepEqual(a.nodes(), [peer.name]);
  } finally {
    peer.close();
  }
});

Deno.test("spawn: a server that ends during init with a reason that cannot cross the wire is still refused", async () => {
  await using n = await pair();
  const { a, b } = n;
  b.allowServer("odd", {
    init: (_: unknown, self) => self.stop({ f: () => 1 } as never),
  });
  const error = await a.spawn({ node: b.name, name: "odd" }).then(
    (v) => assert.fail(`expected a rejection, got ${Deno.inspect(v)}`),
    (e) => e,
  );
  assert.ok(error instanceof RemoteSpawnError, Deno.inspect(error));
  assert.ok(error.reason instanceof Crash, Deno.inspect(error.reason));
  assert.equal(error.reason.name, "UnencodableValueError");
  assert.deepEqual(a.nodes(), [b.name]);
});

Deno.test("spawn: a requester that exits before the reply with a reason that cannot cross the wire — the child still gets an exit signal", async () => {
  await using n = await pair();
  const { a, b } = n;
  const spy = await probe(b.runtime);
  b.allowSpawn("trapper", async (proc, report: Pid) => {
    proc.trapExit(true);
    const exit = await proc.receive((m): m is Exit => m instanceof Exit);
    proc.send(report, exit);
  });
  const requester = await probe(a.runtime);
  const pending = a.spawnLink(requester.proc, {
    node: b.name,
    name: "trapper",
    args: spy.pid,
  });
  a.runtime.exit(requester.pid, { f: () => 1 } as never);
  await rejectsWith(pending, "noproc");
  const exit = await spy.next<Exit>(is(Exit));
  assert.ok(exit.from.equals(requester.pid));
  assert.ok(exit.reason instanceof Crash, Deno.inspect(exit.reason));
  assert.deepEqual(a.nodes(), [b.name]);
});

Deno.test("spawn: on this node's own name, a server whose init does not return in time is refused with timeout", async () => {
  await using a = await startNode({ name: name("a"), cookie: COOKIE });
  const initStarted = Promise.withResolvers<Pid>();
  a.allowServer("stuck", {
    init: (_: unknown, self) => {
      initStarted.resolve(self.self);
      return new Promise<never>(() => {});
    },
  });
  const me = await probe(a.runtime);
  await rejectsWith(
    a.spawnLink(me.proc, { node: a.name, name: "stuck", timeout: 20 }),
    "timeout",
  );
  // Nothing is left running, and the caller was not touched.
  assert.equal(a.runtime.isAlive(await initStarted.promise), false);
  assert.ok(a.runtime.isAlive(me.pid));
  assert.deepEqual(a.runtime.processInfo(me.pid)?.links, []);
});

Deno.test("spawn: a server started by a remote request keeps nothing of the request's connection once the requester is gone", async () => {
  // Its wrapped init stays with it for life; it used to hold the session
  // it came on, with its read and write buffers (some 290 KB each). Run in
  // a child with the GC exposed, so that retention can be observed.
  assert.deepEqual(await runGcFixture("remote_server_retention.ts"), {
    servers: 5,
    sessions: 5,
    retained: 0,
  });
});
