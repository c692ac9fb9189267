// Multi-process distribution tests: this process is one node, and each child
// node is a separate Deno process (examples/node_child.ts), so SIGKILL and
// SIGSTOP hit a real peer. Nothing sleeps to synchronise: every step awaits a
// message, an event or a line on the child's stdout. Timers only bound a
// wait (and are always cleared), so a broken runtime fails instead of hanging.
import assert from "node:assert/strict";
import {
  type Node,
  NodeDown,
  NodeUp,
  remoteChild,
  startNode,
} from "../dist/mod.ts";
import {
  call,
  cast,
  Down,
  Exit,
  type Pid,
  type Process,
  type Runtime,
  startSupervisor,
  stopServer,
  whichChildren,
} from "../mod.ts";
import { type ChildNode, spawnChildNode } from "../examples/node_child.ts";
import { within as withinMs } from "./_util.ts";

const COOKIE = "dist-process-test";
const SAFETY_MS = 8_000;

/** Rejects after SAFETY_MS unless `promise` settles first. */
function within<T>(promise: Promise<T>, what: string): Promise<T> {
  return withinMs(promise, what, SAFETY_MS);
}

/** Lets queued work run (no timing involved), so a test can check that something did NOT happen. */
async function settle(): Promise<void> {
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 20; i++) await Promise.resolve();
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
  }
}

/**
 * A local process that runs `setup` and then records every message it gets,
 * so the test can await one that matches.
 */
class Probe {
  readonly pid: Pid;
  readonly messages: unknown[] = [];
  readonly started: Promise<void>;
  #waiters: {
    match: (m: unknown) => boolean;
    resolve: (m: unknown) => void;
  }[] = [];

  constructor(
    rt: Runtime,
    setup: (proc: Process) => void | Promise<void>,
    options: { trapExit?: boolean } = {},
  ) {
    const started = Promise.withResolvers<void>();
    this.started = started.promise;
    this.pid = rt.spawn(async (proc) => {
      await setup(proc);
      started.resolve();
      for (;;) {
        const msg = await proc.receive();
        this.messages.push(msg);
        const i = this.#waiters.findIndex((w) => w.match(msg));
        if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve(msg);
      }
    }, options.trapExit ? { trapExit: true } : {});
  }

  /** The first message (received so far or later) that `match` accepts. */
  wait<T>(match: (m: unknown) => m is T, what: string): Promise<T> {
    const seen = this.messages.find(match);
    if (seen !== undefined) return Promise.resolve(seen as T);
    const got = Promise.withResolvers<unknown>();
    this.#waiters.push({ match, resolve: got.resolve });
    return within(got.promise as Promise<T>, what);
  }
}

const isReplyFrom = (pid: Pid) => (m: unknown): m is { from: Pid } =>
  typeof m === "object" && m !== null && "from" in m &&
  pid.equals((m as { from: unknown }).from);

/** Round trip through the child's echo: everything sent to its node before has been handled. */
async function syncWith(proc: Process, echo: Pid): Promise<void> {
  proc.send(echo, { from: proc.self, op: "sync" });
  await proc.receive(isReplyFrom(echo));
}

async function startPair(
  parentName: string,
  childName: string,
  tickTime: number,
  options: { handshakeTimeout?: number } = {},
): Promise<{ a: Node; b: ChildNode }> {
  const a = await startNode({
    name: parentName,
    cookie: COOKIE,
    tickTime,
    ...options,
  });
  try {
    const b = await spawnChildNode({
      name: childName,
      cookie: COOKIE,
      tickTime,
      parent: { name: a.name, ...a.address! },
    });
    // A barrier: resolves at once if the child's connection is already up.
    await a.connect(b.name, b.address);
    return { a, b };
  } catch (error) {
    await a.stop();
    throw error;
  }
}

function nodeEvents(a: Node): {
  events: (NodeUp | NodeDown)[];
  next: <T>(m: (e: unknown) => e is T, what: string) => Promise<T>;
  stop: () => void;
} {
  const events: (NodeUp | NodeDown)[] = [];
  const waiters: { m: (e: unknown) => boolean; r: (e: unknown) => void }[] = [];
  const stop = a.onNodeEvent((e) => {
    events.push(e);
    const i = waiters.findIndex((w) => w.m(e));
    if (i >= 0) waiters.splice(i, 1)[0]!.r(e);
  });
  return {
    events,
    next<T>(m: (e: unknown) => e is T, what: string): Promise<T> {
      const got = Promise.withResolvers<unknown>();
      waiters.push({ m, r: got.resolve });
      return within(got.promise as Promise<T>, what);
    },
    stop,
  };
}

const isDown = (m: unknown): m is Down => m instanceof Down;
const isExit = (m: unknown): m is Exit => m instanceof Exit;
const isNodeDown = (m: unknown): m is NodeDown => m instanceof NodeDown;
const isNodeUp = (m: unknown): m is NodeUp => m instanceof NodeUp;

Deno.test("D7: a SIGKILLed node: every remote link and monitor on the survivor fires noconnection and node monitors see NodeDown", async () => {
  const { a, b } = await startPair("d7a@127.0.0.1", "d7b@127.0.0.1", 10_000);
  try {
    const rt = a.runtime;
    const echo = b.pid("echo");
    const crasher = b.pid("crasher");
    const refs: string[] = [];
    // Monitors by pid and by name.
    const monitorer = new Probe(rt, async (proc) => {
      refs.push(proc.monitor(echo).key);
      refs.push(proc.monitor(crasher).key);
      refs.push(proc.monitor(["crasher", b.name]).key);
      await syncWith(proc, echo);
    });
    // Links, trapped.
    const trapper = new Probe(rt, async (proc) => {
      proc.link(echo);
      proc.link(crasher);
      await syncWith(proc, echo);
    }, { trapExit: true });
    // A link, not trapped: the process dies with noconnection.
    const plainReady = Promise.withResolvers<void>();
    const plain = rt.spawn(async (proc) => {
      proc.link(echo);
      await syncWith(proc, echo);
      plainReady.resolve();
      for (;;) await proc.receive();
    });
    // A link and a monitor set up by the remote side on a local process.
    const target = new Probe(rt, async (proc) => {
      proc.send(echo, { from: proc.self, op: "link" });
      await proc.receive(isReplyFrom(echo));
      proc.send(echo, { from: proc.self, op: "monitor" });
      await proc.receive(isReplyFrom(echo));
    }, { trapExit: true });
    const nodeWatcher = new Probe(
      rt,
      (proc) => a.monitorNode(proc.self, b.name),
    );
    const events = nodeEvents(a);

    await within(
      Promise.all([
        monitorer.started,
        trapper.started,
        plainReady.promise,
        target.started,
        nodeWatcher.started,
      ]),
      "the links and monitors to be set up",
    );
    assert.equal(rt.processInfo(target.pid)!.links.length, 1);
    assert.equal(rt.processInfo(target.pid)!.monitoredBy.length, 1);
    const eventDown = events.next(isNodeDown, "the NodeDown event");
    // whenExited answers "noproc" for a pid already dead: ask before the kill.
    const plainExit = rt.whenExited(plain);

    assert.ok(b.kill("SIGKILL"));

    const downs = await within(
      Promise.all([0, 1, 2].map((i) =>
        monitorer.wait(
          (m): m is Down => isDown(m) && m.ref.key === refs[i],
          `Down #${i}`,
        )
      )),
      "the Downs",
    );
    for (const down of downs) assert.equal(down.reason, "noconnection");
    assert.ok(downs[0]!.pid!.equals(echo));
    assert.ok(downs[1]!.pid!.equals(crasher));
    assert.equal(downs[2]!.name, "crasher");

    const exits = await Promise.all(
      [echo, crasher].map((pid) =>
        trapper.wait(
          (m): m is Exit => isExit(m) && m.from.equals(pid),
          `Exit from ${pid}`,
        )
      ),
    );
    for (const exit of exits) assert.equal(exit.reason, "noconnection");
    assert.equal(
      await within(plainExit, "the untrapped process to die"),
      "noconnection",
    );
    const remoteLinkExit = await target.wait(
      isExit,
      "Exit on the link the remote side made",
    );
    assert.ok(remoteLinkExit.from.equals(echo));
    assert.equal(remoteLinkExit.reason, "noconnection");

    const down = await nodeWatcher.wait(isNodeDown, "NodeDown (monitorNode)");
    assert.equal(down.node, b.name);
    assert.equal(down.reason, "connection_closed");
    assert.equal((await eventDown).node, b.name);

    // Each fired once, and every record of the connection is gone.
    await settle();
    assert.equal(monitorer.messages.filter(isDown).length, 3);
    assert.equal(trapper.messages.filter(isExit).length, 2);
    assert.equal(nodeWatcher.messages.filter(isNodeDown).length, 1);
    assert.equal(events.events.filter(isNodeDown).length, 1);
    for (const pid of [monitorer.pid, trapper.pid, target.pid]) {
      const info = rt.processInfo(pid)!;
      assert.deepEqual(info.links, [], `links of ${pid}`);
      assert.deepEqual(info.monitors, [], `monitors of ${pid}`);
      assert.deepEqual(info.monitoredBy, [], `monitoredBy of ${pid}`);
    }
    assert.deepEqual(a.nodes(), []);
    assert.equal(a.stats(b.name), undefined);
    events.stop();
    assert.equal((await b.close()).signal, "SIGKILL");
  } finally {
    await b.close();
    await a.stop();
  }
});

Deno.test("D9: a SIGSTOPped node is detected by heartbeat within the tick time", async () => {
  const tick = 1_000;
  const { a, b } = await startPair("d9a@127.0.0.1", "d9b@127.0.0.1", tick);
  try {
    const rt = a.runtime;
    const echo = b.pid("echo");
    const pong = b.pid("pong");
    let ref = "";
    const watcher = new Probe(rt, async (proc) => {
      ref = proc.monitor(echo).key;
      a.monitorNode(proc.self, b.name);
      await syncWith(proc, echo);
    });
    await within(watcher.started, "the monitors to be set up");
    // Stop the child right after hearing from it, so "silent since" is "now".
    // Without this round trip, an idle peer last ticked up to 3/8 of the tick
    // before the stop (it ticks after tick/4 of silence, checked every tick/8),
    // and detection, correctly tick after the last frame heard, could come
    // as early as ~0.63 tick after the stop. This does not hide a bug: the
    // bound checked is D9's own (nothing heard for the tick time).
    const pinger = new Probe(rt, async (proc) => {
      proc.send(pong, [proc.self, "last words"]);
      await proc.receive((m) => m === "last words");
    });
    await within(pinger.started, "a round trip");
    assert.ok(b.kill("SIGSTOP"));
    const stoppedAt = performance.now();

    const down = await watcher.wait(isNodeDown, "NodeDown after the freeze");
    const detectedIn = performance.now() - stoppedAt;
    assert.equal(down.reason, "heartbeat_timeout");
    const monitorDown = await watcher.wait(
      (m): m is Down => isDown(m) && m.ref.key === ref,
      "Down after the freeze",
    );
    assert.equal(monitorDown.reason, "noconnection");
    assert.ok(
      detectedIn >= tick * 0.9 && detectedIn <= tick * 1.5,
      `detected after ${detectedIn.toFixed(0)} ms; expected ${tick * 0.9}..${
        tick * 1.5
      } ms`,
    );
    assert.deepEqual(a.nodes(), []);
    b.kill("SIGCONT");
  } finally {
    await b.close();
    await a.stop();
  }
});

Deno.test("D1: a node restarted under the same name comes back with a new creation; old pids give noproc", async () => {
  const { a, b: first } = await startPair(
    "d1a@127.0.0.1",
    "d1b@127.0.0.1",
    10_000,
  );
  let second: ChildNode | undefined;
  try {
    const rt = a.runtime;
    const name = first.name;
    const oldEcho = first.pid("echo");
    const oldCreation = first.ready.creation;
    assert.equal(a.stats(name)?.creation, oldCreation);
    const nodeWatcher = new Probe(rt, (proc) => a.monitorNode(proc.self, name));
    await within(nodeWatcher.started, "the node monitor");

    first.kill("SIGKILL");
    await nodeWatcher.wait(isNodeDown, "NodeDown of the first incarnation");
    await first.close();

    second = await spawnChildNode({
      name,
      cookie: COOKIE,
      tickTime: 10_000,
      parent: { name: a.name, ...a.address! },
    });
    await a.connect(name, second.address);
    const up = await nodeWatcher.wait(isNodeUp, "NodeUp of the restart");
    assert.equal(up.node, name);
    assert.equal(up.creation, second.ready.creation);
    assert.notEqual(up.creation, oldCreation);
    assert.equal(a.stats(name)?.creation, up.creation);
    const newEcho = second.pid("echo");
    // Same start order, so the same id: only the creation tells them apart.
    assert.equal(newEcho.id, oldEcho.id);
    assert.ok(!newEcho.equals(oldEcho));

    const probe = new Probe(rt, () => {});
    await within(probe.started, "the probe");
    const oldDown = Promise.withResolvers<Down>();
    rt.spawn(async (proc) => {
      const ref = proc.monitor(oldEcho);
      oldDown.resolve(
        await proc.receive((m): m is Down => isDown(m) && m.ref.equals(ref)),
      );
      // The reply to "new" comes after any reply to "old" would have (D5).
      proc.send(oldEcho, { from: probe.pid, tag: "old" });
      proc.send(["echo", name], { from: probe.pid, tag: "new" });
    });
    const down = await within(oldDown.promise, "Down for the old pid");
    assert.equal(down.reason, "noproc");
    assert.ok(down.pid!.equals(oldEcho));
    const reply = await probe.wait(
      isReplyFrom(newEcho),
      "the reply from the new echo",
    );
    assert.deepEqual(
      (reply as unknown as { echo: { tag: string } }).echo.tag,
      "new",
    );
    await settle();
    assert.equal(
      probe.messages.length,
      1,
      "the message to the old pid was dropped",
    );
    assert.equal(
      nodeWatcher.messages.filter(isNodeDown).length,
      1,
    );
  } finally {
    await second?.close();
    await first.close();
    await a.stop();
  }
});

Deno.test("D3: a SIGSTOPped node restarted under its name is let in long before the tick time; the frozen incarnation's links and monitors fire noconnection", async () => {
  // Tick time 10 s: the heartbeat would drop the frozen node after 10 s. The
  // survivor probes the old connection when the restart connects, and lets
  // it in once the probe goes unanswered (half the handshake deadline).
  const { a, b: first } = await startPair(
    "d3fa@127.0.0.1",
    "d3fb@127.0.0.1",
    10_000,
    { handshakeTimeout: 2_000 },
  );
  let second: ChildNode | undefined;
  try {
    const rt = a.runtime;
    const name = first.name;
    const oldEcho = first.pid("echo");
    let ref = "";
    const watcher = new Probe(rt, async (proc) => {
      proc.link(oldEcho);
      ref = proc.monitor(oldEcho).key;
      a.monitorNode(proc.self, name);
      await syncWith(proc, oldEcho);
    }, { trapExit: true });
    await within(watcher.started, "the link and monitors to be set up");
    assert.ok(first.kill("SIGSTOP"));
    const stoppedAt = performance.now();

    second = await spawnChildNode({
      name,
      cookie: COOKIE,
      tickTime: 10_000,
      parent: { name: a.name, ...a.address! },
    });
    const up = await watcher.wait(isNodeUp, "NodeUp of the restart");
    // Before the heartbeat could have dropped the frozen node (10 s).
    const letIn = performance.now() - stoppedAt;
    assert.equal(up.creation, second.ready.creation);
    assert.notEqual(up.creation, first.ready.creation);
    assert.ok(letIn < 8_000, `let in ${letIn.toFixed(0)} ms after SIGSTOP`);
    const exit = await watcher.wait(isExit, "Exit from the frozen echo");
    assert.ok(exit.from.equals(oldEcho));
    assert.equal(exit.reason, "noconnection");
    const down = await watcher.wait(
      (m): m is Down => isDown(m) && m.ref.key === ref,
      "Down for the frozen echo",
    );
    assert.equal(down.reason, "noconnection");
    // NodeDown came first (the Exit and Down with it), then NodeUp.
    const nodeEvents = watcher.messages.filter((m) =>
      isNodeDown(m) || isNodeUp(m)
    );
    assert.deepEqual(nodeEvents.map((e) => e.constructor.name), [
      "NodeDown",
      "NodeUp",
    ]);
    assert.equal(a.stats(name)?.creation, second.ready.creation);

    const probe = new Probe(rt, (proc) => {
      proc.send(["echo", name], { from: proc.self, tag: "new" });
    });
    await probe.wait(isReplyFrom(second.pid("echo")), "the new echo's reply");
  } finally {
    first.kill("SIGKILL");
    await second?.close();
    await first.close();
    await a.stop();
  }
});

Deno.test("spawn: a supervised counter on a SIGKILLed node is restarted on the next node, and its global name follows it", async () => {
  const { a, b: alpha } = await startPair(
    "supa@127.0.0.1",
    "supalpha@127.0.0.1",
    2_000,
  );
  let beta: ChildNode | undefined;
  let sup: Pid | undefined;
  try {
    beta = await spawnChildNode({
      name: "supbeta@127.0.0.1",
      cookie: COOKIE,
      tickTime: 2_000,
      parent: { name: a.name, ...a.address! },
    });
    await a.connect(beta.name, beta.address);
    sup = await startSupervisor(a.runtime, {
      strategy: "one_for_one",
      children: [
        remoteChild("counter", {
          via: a,
          nodes: [alpha.name, beta.name],
          name: "counter",
          args: { global: "counter" },
        }),
      ],
    });
    const [first] = await whichChildren(a.runtime, sup);
    const counter = first!.pid!;
    assert.equal(counter.node, alpha.name);
    // The registration left alpha before the spawn reply did.
    assert.ok(a.whereisGlobal("counter")?.equals(counter));
    cast(a.runtime, counter, { add: 5 });
    assert.equal(await call(a.runtime, counter, "get"), 5);

    const watcher = new Probe(a.runtime, (proc) => {
      proc.monitor(counter);
      a.monitorNode(proc.self, alpha.name);
    });
    await watcher.started;
    assert.ok(alpha.kill("SIGKILL"));
    const down = await watcher.wait(isDown, "Down of the counter");
    assert.equal(down.reason, "noconnection");
    assert.equal((await watcher.wait(isNodeDown, "NodeDown")).node, alpha.name);
    assert.equal(a.whereisGlobal("counter"), undefined, "dropped with alpha");

    // The supervisor answers after it has handled the exit: restarted on beta.
    const [second] = await within(whichChildren(a.runtime, sup), "children");
    const moved = second!.pid!;
    assert.equal(moved.node, beta.name);
    assert.ok(a.whereisGlobal("counter")?.equals(moved));
    assert.equal(await call(a.runtime, moved, "get"), 0, "a fresh counter");
  } finally {
    if (sup !== undefined) await stopServer(a.runtime, sup).catch(() => {});
    await alpha.close();
    await beta?.close();
    await a.stop();
  }
});

Deno.test("D9: a node flooded by a faster sender still sends its heartbeats", async () => {
  // The child reads more slowly than the parent writes (its sink spins on
  // each message), so every read it makes completes at once, for longer
  // than the tick time. Its reader must still let its ticker run.
  const tickTime = 400;
  const { a, b } = await startPair(
    "flooda@127.0.0.1",
    "floodb@127.0.0.1",
    tickTime,
  );
  const events = nodeEvents(a);
  try {
    const n = 12_000; // 12 000 × 100 µs: 1.2 s of work for the child
    const result = Promise.withResolvers<{ count: number }>();
    a.runtime.spawn(async (proc) => {
      const sink = ["sink", b.name] as const;
      proc.send(sink, { expect: n, notify: proc.self });
      for (let i = 0; i < n; i++) proc.send(sink, { spin: 100 });
      result.resolve(await proc.receive() as { count: number });
    });
    const done = await within(result.promise, "the sink's count").catch(
      (e) => {
        // Say what the node saw, which is what tells a slow sink from a lost one.
        throw new Error(
          `no count; node events: ${Deno.inspect(events.events)}, connected: ${
            Deno.inspect(a.nodes())
          }`,
          { cause: e },
        );
      },
    );
    assert.equal(done.count, n);
    assert.deepEqual(events.events, [], "no NodeDown during the flood");
    assert.deepEqual(a.nodes(), [b.name]);
  } finally {
    events.stop();
    await b.close();
    await a.stop();
  }
});
