// A node that restarts under its name while its old connection still looks
// up: once the newcomer proves the cookie, the peer asks the old connection
// whether it answers (PING, and anything read counts), lets the new
// incarnation in if it does not, and refuses it as a duplicate name if it
// does (D3). In memory, where a test can make a link go silent (a host
// that vanished sends no FIN) or freeze one end and thaw it.
import assert from "node:assert/strict";
import { Down, Exit, Runtime } from "../mod.ts";
import {
  type Address,
  type MemoryConnection,
  MemoryTransport,
  type Node,
  NodeDown,
  type NodeEvent,
  NodeUnreachableError,
  NodeUp,
  startNode,
} from "../dist/mod.ts";
import { ManualClock } from "../actor/clock.ts";
import { is, probe } from "./_probe.ts";
import { nodeName } from "./_nodes.ts";
import { settle, within } from "./_util.ts";

const COOKIE = "incarnation-cookie";

/** Resolves once `ok()` holds, checking after each macrotask; rejects after `ms`. */
async function until(ok: () => boolean, what: string, ms = 5_000) {
  const deadline = performance.now() + ms;
  while (!ok()) {
    if (performance.now() > deadline) throw new Error(`Timed out: ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
  }
}

/**
 * Freezes b (its end stalls), has `newcomer` connect to a under b's name, and
 * resolves once a has sent b its probe, with the connect's promise (its
 * rejection handled).
 */
async function whileFrozen(
  pair: { a: Node; b: Node; bEnd: MemoryConnection },
  newcomer: Node,
): Promise<{ attempt: Promise<void> }> {
  const { a, b, bEnd } = pair;
  bEnd.stall(); // b is frozen: it does not see the probe
  const sentBefore = a.stats(b.name)!.framesOut;
  const attempt = newcomer.connect(a.name, a.address!);
  attempt.catch(() => {});
  await until(() => a.stats(b.name)!.framesOut > sentBefore, "a probes b");
  return { attempt };
}

/** `a`, and `b` connected to it, on one in-memory transport. */
async function connected(
  options: { clock?: ManualClock; handshakeTimeout?: number } = {},
) {
  const transport = new MemoryTransport();
  const common = { cookie: COOKIE, transport, host: "mem", ...options };
  const a = await startNode({ name: nodeName("a"), ...common });
  const b = await startNode({ name: nodeName("b"), ...common });
  await b.connect(a.name, a.address!);
  // b dialled: its end first, then a's.
  const [bEnd, aEnd] = transport.connections;
  // The restart keeps the default handshake deadline: a's probe must not
  // eat the time its own handshake needs.
  const restart = () =>
    startNode({ name: b.name, ...common, handshakeTimeout: 5_000 });
  return { transport, a, b, aEnd: aEnd!, bEnd: bEnd!, restart };
}

Deno.test("D3: a node restarted under its name is let in when its old connection has gone silent; the old incarnation's links and monitors fire noconnection", async () => {
  // Tick time 60 s (the default): the heartbeat would take a minute to drop
  // the silent connection. The probe waits half the handshake deadline, and
  // leaves the other half for the rest of the handshake.
  const { a, b, aEnd, bEnd, restart } = await connected({
    handshakeTimeout: 1_000,
  });
  let b2: Node | undefined;
  try {
    const events: NodeEvent[] = [];
    a.onNodeEvent((e) => events.push(e));
    const oldTarget = await probe(b.runtime);
    const watcher = await probe(a.runtime, { trapExit: true });
    watcher.proc.link(oldTarget.pid);
    const ref = watcher.proc.monitor(oldTarget.pid);
    a.monitorNode(watcher.pid, b.name);
    // The link has reached b: a message sent after it arrives after it (D5).
    watcher.proc.send(oldTarget.pid, "linked?");
    assert.equal(await oldTarget.next(), "linked?");

    aEnd.cut(); // b's host vanished: nothing more comes from it, and no FIN
    bEnd.cut();
    const t0 = performance.now();
    b2 = await restart();
    assert.notEqual(b2.creation, b.creation);
    await b2.connect(a.name, a.address!);
    const waited = performance.now() - t0;

    const exit = await watcher.next<Exit>(is(Exit));
    assert.ok(exit.from.equals(oldTarget.pid));
    assert.equal(exit.reason, "noconnection");
    const down = await watcher.next<Down>(is(Down));
    assert.ok(down.ref.equals(ref));
    assert.equal(down.reason, "noconnection");
    const nodeDown = await watcher.next<NodeDown>(is(NodeDown));
    const nodeUp = await watcher.next<NodeUp>(is(NodeUp));
    assert.equal(nodeDown.node, b.name);
    assert.equal(nodeUp.creation, b2.creation);
    assert.deepEqual(
      events.map((e) => [e.constructor.name, e.node]),
      [["NodeDown", b.name], ["NodeUp", b.name]],
    );
    assert.equal((events[0] as NodeDown).reason, "connection_closed");
    assert.equal(a.stats(b.name)?.creation, b2.creation);
    assert.ok(waited < 5_000, `let in after ${waited} ms, not a tick time`);

    // The new incarnation is reachable, by name and by pid, both ways.
    const newTarget = await probe(b2.runtime);
    b2.runtime.register("target", newTarget.pid);
    a.runtime.send(["target", b2.name], "to the new one");
    assert.equal(await newTarget.next(), "to the new one");
    b2.runtime.send(watcher.pid, "from the new one");
    assert.equal(await watcher.next(), "from the new one");
    assert.deepEqual(watcher.seen, []);
  } finally {
    await Promise.all([a.stop(), b.stop(), b2?.stop()]);
  }
});

Deno.test("D3: a second node under a connected name is refused while the first answers, even after a freeze", async () => {
  // No clock time passes: the probe waits for as long as the first node is
  // frozen, and its answer decides.
  const clock = new ManualClock();
  const { a, b, bEnd, restart } = await connected({ clock });
  const twin = await restart();
  try {
    const events: NodeEvent[] = [];
    a.onNodeEvent((e) => events.push(e));
    const { attempt: connecting } = await whileFrozen(
      { a, b, bEnd },
      twin,
    );
    let settled = false;
    const attempt = connecting.finally(() => settled = true);
    attempt.catch(() => {});
    for (let i = 0; i < 10; i++) {
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
    }
    assert.equal(settled, false, "no verdict while b is frozen");
    bEnd.resume(); // b thaws and answers
    const error = await attempt.then(
      () => assert.fail("the twin was let in"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof NodeUnreachableError, String(error));
    assert.match(String(error.message), /duplicate name.*answers/);
    assert.deepEqual(a.nodes(), [b.name]);
    assert.equal(a.stats(b.name)?.creation, b.creation);
    assert.deepEqual(events, []);
    const target = await probe(b.runtime);
    a.runtime.send(target.pid, "still connected");
    assert.equal(await target.next(), "still connected");
  } finally {
    await Promise.all([a.stop(), b.stop(), twin.stop()]);
  }
});

Deno.test("D3: the same incarnation connecting again while its old connection answers is refused", async () => {
  // No clock time passes: b's answer decides, not the probe's window.
  const clock = new ManualClock();
  const { transport, a, b } = await connected({ clock });
  // The same name and creation as b, from a second node object.
  const same = await startNode({
    cookie: COOKIE,
    transport,
    host: "mem",
    clock,
    runtime: new Runtime({ node: b.name, creation: b.creation, clock }),
  });
  try {
    const events: NodeEvent[] = [];
    a.onNodeEvent((e) => events.push(e));
    const sent = a.stats(b.name)!.framesOut;
    await assert.rejects(
      same.connect(a.name, a.address!),
      (e: unknown) =>
        e instanceof NodeUnreachableError &&
        /duplicate name.*already connected, and answers/.test(e.message),
    );
    assert.ok(a.stats(b.name)!.framesOut > sent, "a asked b (PING)");
    assert.deepEqual(events, []);
    assert.deepEqual(a.nodes(), [b.name]);
    const target = await probe(b.runtime);
    a.runtime.send(target.pid, "still connected");
    assert.equal(await target.next(), "still connected");
  } finally {
    await Promise.all([a.stop(), b.stop(), same.stop()]);
  }
});

/**
 * a and b linked and monitoring across their connection, which b then
 * drops on its side with the close lost on the way (`aEnd` cut too: nothing
 * a writes reaches b's host, so no reset comes back either).
 */
async function droppedByB(aEndCut: boolean, clock?: ManualClock) {
  const pair = await connected(
    clock === undefined ? { handshakeTimeout: 1_000 } : { clock },
  );
  const { a, b, aEnd, bEnd } = pair;
  const events: NodeEvent[] = [];
  a.onNodeEvent((e) => events.push(e));
  const target = await probe(b.runtime, { trapExit: true });
  const watcher = await probe(a.runtime, { trapExit: true });
  watcher.proc.link(target.pid);
  const ref = watcher.proc.monitor(target.pid);
  a.monitorNode(watcher.pid, b.name);
  watcher.proc.send(target.pid, "linked?");
  assert.equal(await target.next(), "linked?");
  bEnd.cut({ closeUnseen: true });
  if (aEndCut) aEnd.cut();
  b.disconnect(a.name);
  assert.deepEqual(b.nodes(), []);
  // b's side of the link went with its connection (D7).
  const exit = await target.next<Exit>(is(Exit));
  assert.ok(exit.from.equals(watcher.pid));
  assert.equal(exit.reason, "noconnection");
  assert.deepEqual(a.nodes(), [b.name], "a has not noticed");
  return { ...pair, events, target, watcher, ref };
}

/** What a must have seen once b, back on a fresh connection, is let in. */
async function assertReplaced(
  { a, b, events, target, watcher, ref }: Awaited<
    ReturnType<typeof droppedByB>
  >,
) {
  const exit = await watcher.next<Exit>(is(Exit));
  assert.ok(exit.from.equals(target.pid));
  assert.equal(exit.reason, "noconnection");
  const down = await watcher.next<Down>(is(Down));
  assert.ok(down.ref.equals(ref));
  assert.equal(down.reason, "noconnection");
  assert.equal((await watcher.next<NodeDown>(is(NodeDown))).node, b.name);
  assert.equal((await watcher.next<NodeUp>(is(NodeUp))).creation, b.creation);
  assert.deepEqual(
    events.map((e) => [e.constructor.name, e.node]),
    [["NodeDown", b.name], ["NodeUp", b.name]],
  );
  assert.equal((events[0] as NodeDown).reason, "connection_closed");
  assert.deepEqual(a.nodes(), [b.name]);
  assert.deepEqual(b.nodes(), [a.name]);
  // The fresh connection carries traffic both ways.
  a.runtime.send(target.pid, "over the new connection");
  assert.equal(await target.next(), "over the new connection");
  b.runtime.send(watcher.pid, "back");
  assert.equal(await watcher.next(), "back");
  assert.deepEqual(watcher.seen, []);
  assert.deepEqual(target.seen, []);
}

Deno.test("D3: a node that dropped its connection, its close lost, is let back in once the probe meets the reset; the old links and monitors fire noconnection", async () => {
  // On a fake clock the probe's window never ends: the reset decides.
  const clock = new ManualClock();
  const dropped = await droppedByB(false, clock);
  const { a, b } = dropped;
  try {
    await within(
      b.connect(a.name, a.address!),
      "b let back in with the same creation",
      3_000,
    );
    await assertReplaced(dropped);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

Deno.test("D3: a node that dropped its connection, its close lost and no reset coming back, is let back in after the probe's window", async () => {
  // The default tick time: the heartbeat would take a minute.
  const dropped = await droppedByB(true);
  const { a, b } = dropped;
  try {
    const t0 = performance.now();
    await b.connect(a.name, a.address!);
    const waited = performance.now() - t0;
    assert.ok(waited >= 400, `let in after ${waited} ms, before the window`);
    assert.ok(waited < 5_000, `let in after ${waited} ms, not a tick time`);
    await assertReplaced(dropped);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

Deno.test("D4: a node whose own dial lands after the other's connection came up, and that is too busy to answer the probe, ends up with one connection, not none", async () => {
  // x dials y but its address lookup is slow; y dials x meanwhile and x
  // (sorting first) accepts. Then x's dial lands at y, which holds that
  // connection up and probes it; x does not answer in time (its end is
  // stalled). y lets x's second connection in, and x must take it too.
  const clock = new ManualClock();
  const transport = new MemoryTransport();
  const common = { cookie: COOKIE, transport, host: "mem", clock };
  const address = Promise.withResolvers<Address>();
  const x = await startNode({
    name: nodeName("a"),
    ...common,
    resolve: () => address.promise,
  });
  const y = await startNode({ name: nodeName("b"), ...common });
  try {
    const yEvents: string[] = [];
    const xEvents: string[] = [];
    y.onNodeEvent((e) => yEvents.push(e.constructor.name));
    x.onNodeEvent((e) => xEvents.push(e.constructor.name));
    const xDial = x.connect(y.name);
    await y.connect(x.name, x.address!);
    await xDial;
    assert.deepEqual(x.nodes(), [y.name]);
    const xEnd = transport.connections[1]!; // x's end of y's connection
    xEnd.stall();
    const sent = y.stats(x.name)!.framesOut;
    address.resolve(y.address!);
    await until(() => y.stats(x.name)!.framesOut > sent, "y probes x");
    clock.advance(2_600); // the probe's window passes unanswered
    // y moves to the new connection, and x reads its ACK there before the
    // end of the old one, which waits behind x's stalled end.
    await until(() => yEvents.length === 3, "y takes the new connection");
    await settle();
    xEnd.resume();
    await until(
      () => yEvents.length === 3 && xEvents.length === 3,
      "both nodes move to the new connection",
    );
    assert.deepEqual(yEvents, ["NodeUp", "NodeDown", "NodeUp"]);
    assert.deepEqual(xEvents, ["NodeUp", "NodeDown", "NodeUp"]);
    assert.deepEqual(x.nodes(), [y.name]);
    assert.deepEqual(y.nodes(), [x.name]);
    const inbox = await probe(x.runtime);
    y.runtime.send(inbox.pid, "one connection");
    assert.equal(await inbox.next(), "one connection");
  } finally {
    address.resolve(y.address!);
    await Promise.all([x.stop(), y.stop()]);
  }
});

Deno.test("D3: a frame written before a node dropped its connection, arriving late, does not get that node's reconnection refused", async () => {
  // b drops its side (FIN lost) while a frame of its is still on the way
  // to a. No reset comes back for a's PING (a's writes there go nowhere):
  // only a PONG would mean b is alive, and the stale frame is not one.
  const { a, b, aEnd, bEnd } = await connected({ handshakeTimeout: 1_000 });
  try {
    const target = await probe(a.runtime);
    aEnd.stall(); // what b sends now waits on the way
    b.runtime.send(target.pid, "sent before b dropped");
    bEnd.cut({ closeUnseen: true });
    b.disconnect(a.name);
    (aEnd as { write(bytes: Uint8Array): Promise<void> }).write = () =>
      Promise.resolve(); // no reset reaches a
    const sent = a.stats(b.name)!.framesOut;
    const attempt = b.connect(a.name, a.address!);
    await until(() => a.stats(b.name)!.framesOut > sent, "a probes b");
    aEnd.resume(); // the stale frame arrives during the probe
    assert.equal(await target.next(), "sent before b dropped");
    await attempt;
    assert.deepEqual(a.nodes(), [b.name]);
    b.runtime.send(target.pid, "over the new connection");
    assert.equal(await target.next(), "over the new connection");
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

Deno.test("D3: a node whose connection is busy answers the probe with its traffic; a twin is refused", async () => {
  // b keeps a full pipe of messages to a slow process on a: its PONG waits
  // behind them, but every frame read from b tells a that b is alive.
  const { a, b, restart } = await connected({ handshakeTimeout: 1_000 });
  const twin = await restart();
  try {
    const events: NodeEvent[] = [];
    a.onNodeEvent((e) => events.push(e));
    const first = Promise.withResolvers<void>();
    const slow = a.runtime.spawn(async (proc) => {
      for (;;) {
        await proc.receive();
        first.resolve();
        const until = performance.now() + 0.2; // 0.2 ms of work a message
        while (performance.now() < until) { /* busy */ }
      }
    });
    const payload = new Uint8Array(2048);
    b.runtime.spawn((proc) => {
      for (let i = 0; i < 8000; i++) proc.send(slow, payload);
    });
    await first.promise;
    await assert.rejects(
      twin.connect(a.name, a.address!),
      (e: unknown) =>
        e instanceof NodeUnreachableError && /answers/.test(e.message),
    );
    assert.deepEqual(events, []);
    assert.equal(a.stats(b.name)?.creation, b.creation);
  } finally {
    await Promise.all([a.stop(), b.stop(), twin.stop()]);
  }
});

Deno.test("D3: while one newcomer waits on a probe, a second under that name is refused; the old connection closing ends the wait", async () => {
  const clock = new ManualClock();
  const { a, b, bEnd, restart } = await connected({ clock });
  const first = await restart();
  const second = await restart();
  try {
    const { attempt } = await whileFrozen({ a, b, bEnd }, first);
    await assert.rejects(
      second.connect(a.name, a.address!),
      (e: unknown) =>
        e instanceof NodeUnreachableError &&
        /already connected/.test(e.message) && !/answers/.test(e.message),
    );
    // The old connection goes for a reason of its own while the probe
    // waits (no clock time passes): the first newcomer is let in at once.
    a.disconnect(b.name);
    await within(attempt, "the first newcomer let in", 3_000);
    assert.deepEqual(a.nodes(), [b.name]);
    assert.equal(a.stats(b.name)?.creation, first.creation);
  } finally {
    bEnd.resume();
    await Promise.all([a.stop(), b.stop(), first.stop(), second.stop()]);
  }
});

Deno.test("S1: a node stopped while it probes an old connection stops at once, and the newcomer is refused", async () => {
  // On a fake clock the probe's deadline never comes: stop must end it.
  const clock = new ManualClock();
  const { a, b, bEnd, restart } = await connected({ clock });
  const b2 = await restart();
  try {
    const { attempt } = await whileFrozen({ a, b, bEnd }, b2);
    await within(a.stop(), "a.stop() (it waited on the probe)", 3_000);
    bEnd.resume();
    await assert.rejects(attempt, NodeUnreachableError);
    assert.deepEqual(b2.nodes(), []);
  } finally {
    bEnd.resume();
    await Promise.all([a.stop(), b.stop(), b2.stop()]);
  }
});
