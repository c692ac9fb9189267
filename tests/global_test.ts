// Global names across nodes over real loopback sockets: registration, lookup
// and sends from any node, GLOBAL_SYNC for nodes that join, release on exit
// and on connection loss, the conflict rule, and hostile peers. Nothing
// sleeps: `syncGlobal` (a ping each peer answers after everything it sent
// before) and node events are the synchronisation points.
import assert from "node:assert/strict";
import {
  call,
  InvalidArgumentError,
  NameTakenError,
  NoProcessError,
  NotRegisteredError,
  Pid,
  startServer,
} from "../mod.ts";
import {
  GlobalNameConflict,
  GlobalNameTakenError,
  GlobalNotRegisteredError,
  type Node,
  NodeDown,
  NodeStoppedError,
  NodeUp,
  startNode,
  tcpTransport,
} from "../dist/mod.ts";
import {
  connectorHandshake,
  cookieKey,
  FrameReader,
} from "../dist/handshake.ts";
import {
  encodeFrame,
  type Frame,
  FrameDecoder,
  MsgpackCodec,
  Tag,
} from "../wire/mod.ts";
import { is, type Probe, probe } from "./_probe.ts";
import { type RawPeer, rawPeer as openRawPeer } from "./_raw_peer.ts";
import { assertThrows } from "./_util.ts";

const COOKIE = "global-cookie";
let seq = 0;

/** A node named `<base><n>@127.0.0.1`: `a…` sorts before `b…` before `c…`. */
function node(base: string): Promise<Node> {
  return startNode({ name: `${base}${++seq}@127.0.0.1`, cookie: COOKIE });
}

async function cluster(...bases: string[]) {
  const nodes = await Promise.all(bases.map(node));
  return {
    nodes,
    [Symbol.asyncDispose]: async () =>
      void await Promise.all(nodes.map((n) => n.stop())),
  };
}

/** Resolves once `n` is connected to every node of `others`. */
function connectedTo(n: Node, others: Node[]): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  const check = () => {
    if (others.every((o) => n.nodes().includes(o.name))) {
      unsubscribe();
      resolve();
    }
  };
  const unsubscribe = n.onNodeEvent((e) => e instanceof NodeUp && check());
  check();
  return promise;
}

/** Every message `p` received before a marker sent now (mailboxes are FIFO). */
async function drained(p: Probe): Promise<unknown[]> {
  p.proc.send(p.pid, "marker");
  await p.next((m) => m === "marker");
  return p.seen.splice(0);
}

Deno.test("global: a name registered on one node is looked up and sent to from another", async () => {
  await using c = await cluster("a", "b");
  const [a, b] = c.nodes as [Node, Node];
  await a.connect(b.name, b.address!);
  const db = await probe(a.runtime);
  a.registerGlobal("db", db.pid);
  assert.ok(a.whereisGlobal("db")?.equals(db.pid), "applied at once locally");
  await b.syncGlobal();
  assert.ok(b.whereisGlobal("db")?.equals(db.pid));
  assert.deepEqual(b.globalNames(), ["db"]);
  b.sendGlobal("db", { from: "b" });
  assert.deepEqual(await db.next(), { from: "b" });
  // A process on b sends through the resolved pid, as any pid.
  b.runtime.spawn((proc) =>
    proc.send(b.whereisGlobal("db")!, "from a process")
  );
  assert.equal(await db.next(), "from a process");
});

Deno.test("global: a server is called by its global name from another node", async () => {
  await using c = await cluster("a", "b");
  const [a, b] = c.nodes as [Node, Node];
  await a.connect(b.name, b.address!);
  const counter = await startServer(a.runtime, {
    init: (n: number) => n,
    handleCall: (add: number, _from, n) => ({ reply: n + add, state: n + add }),
  }, 10);
  a.registerGlobal("counter", counter);
  await b.syncGlobal();
  const got = await call<number, number>(
    b.runtime,
    b.whereisGlobal("counter")!,
    5,
  );
  assert.equal(got, 15);
});

Deno.test("global: a node that joins later learns the existing names (GLOBAL_SYNC)", async () => {
  await using c = await cluster("a", "b", "c");
  const [a, b, late] = c.nodes as [Node, Node, Node];
  await a.connect(b.name, b.address!);
  const onA = await probe(a.runtime);
  const onB = await probe(b.runtime);
  a.registerGlobal("on-a", onA.pid);
  b.registerGlobal("on-b", onB.pid);
  const meshed = connectedTo(late, [a, b]);
  await late.connect(a.name, a.address!); // learns b from a's peer list
  await meshed;
  await late.syncGlobal();
  assert.deepEqual(late.globalNames(), ["on-a", "on-b"]);
  assert.ok(late.whereisGlobal("on-a")?.equals(onA.pid));
  assert.ok(late.whereisGlobal("on-b")?.equals(onB.pid));
  // And the old nodes learn the newcomer's names.
  const onC = await probe(late.runtime);
  late.registerGlobal("on-c", onC.pid);
  await Promise.all([a.syncGlobal(), b.syncGlobal()]);
  assert.ok(a.whereisGlobal("on-c")?.equals(onC.pid));
  assert.ok(b.whereisGlobal("on-c")?.equals(onC.pid));
  b.sendGlobal("on-c", "welcome");
  assert.equal(await onC.next(), "welcome");
});

Deno.test("global: N2 — a name is released on every node when its process exits", async () => {
  await using c = await cluster("a", "b");
  const [a, b] = c.nodes as [Node, Node];
  await a.connect(b.name, b.address!);
  const worker = await probe(a.runtime);
  a.registerGlobal("worker", worker.pid);
  a.registerGlobal("alias", worker.pid); // a process may hold several names
  await b.syncGlobal();
  assert.deepEqual(b.globalNames(), ["alias", "worker"]);
  a.runtime.exit(worker.pid, "kill");
  await a.runtime.whenExited(worker.pid);
  assert.equal(a.whereisGlobal("worker"), undefined);
  await b.syncGlobal();
  assert.deepEqual(b.globalNames(), []);
  assertThrows(() => b.sendGlobal("worker", "late"), GlobalNotRegisteredError);
  // The name is free again, for a process of either node.
  const next = await probe(b.runtime);
  b.registerGlobal("worker", next.pid);
  await a.syncGlobal();
  assert.ok(a.whereisGlobal("worker")?.equals(next.pid));
});

Deno.test("global: unregisterGlobal releases the name on every node", async () => {
  await using c = await cluster("a", "b");
  const [a, b] = c.nodes as [Node, Node];
  await a.connect(b.name, b.address!);
  const p = await probe(a.runtime);
  a.registerGlobal("job", p.pid);
  await b.syncGlobal();
  assert.ok(b.whereisGlobal("job")?.equals(p.pid));
  assert.equal(a.unregisterGlobal("job"), true);
  assert.equal(a.unregisterGlobal("job"), false);
  await b.syncGlobal();
  assert.equal(b.whereisGlobal("job"), undefined);
  // The process lives on and may register again.
  a.registerGlobal("job", p.pid);
  await b.syncGlobal();
  assert.ok(b.whereisGlobal("job")?.equals(p.pid));
});

Deno.test("global: D7 — the names of a lost node are dropped before NodeDown is seen", async () => {
  await using c = await cluster("a", "b", "c");
  const [a, b, third] = c.nodes as [Node, Node, Node];
  const meshed = connectedTo(third, [a, b]);
  await a.connect(b.name, b.address!);
  await third.connect(a.name, a.address!);
  await meshed;
  const onB = await probe(b.runtime);
  const onA = await probe(a.runtime);
  b.registerGlobal("on-b", onB.pid);
  a.registerGlobal("on-a", onA.pid);
  await Promise.all([a.syncGlobal(), third.syncGlobal()]);
  assert.deepEqual(third.globalNames(), ["on-a", "on-b"]);
  const seen = (n: Node) => {
    const { promise, resolve } = Promise.withResolvers<string[]>();
    n.onNodeEvent((e) => {
      // Records go first (D7): the names are gone when the event arrives.
      if (e instanceof NodeDown && e.node === b.name) resolve(n.globalNames());
    });
    return promise;
  };
  const onAside = seen(a);
  const onThird = seen(third);
  await b.stop();
  assert.deepEqual(await onAside, ["on-a"]);
  assert.deepEqual(await onThird, ["on-a"]);
  assertThrows(() => a.sendGlobal("on-b", "gone"), GlobalNotRegisteredError);
});

Deno.test("global: concurrent registrations on unconnected nodes resolve to one winner everywhere; each loser is told once", async () => {
  await using c = await cluster("a", "b", "c");
  const [a, b, cc] = c.nodes as [Node, Node, Node];
  const pa = await probe(a.runtime);
  const pb = await probe(b.runtime);
  const pc = await probe(cc.runtime);
  // Apart, each node grants the name.
  a.registerGlobal("leader", pa.pid);
  b.registerGlobal("leader", pb.pid);
  cc.registerGlobal("leader", pc.pid);
  const meshed = Promise.all([
    connectedTo(a, [b, cc]),
    connectedTo(b, [a, cc]),
    connectedTo(cc, [a, b]),
  ]);
  await a.connect(b.name, b.address!);
  await cc.connect(a.name, a.address!);
  await meshed;
  await Promise.all([a.syncGlobal(), b.syncGlobal(), cc.syncGlobal()]);
  // The pid that sorts first (node a…) wins on every replica.
  for (const n of [a, b, cc]) {
    assert.ok(n.whereisGlobal("leader")?.equals(pa.pid), n.name);
  }
  // One more round of syncs: nothing is told twice.
  await Promise.all([a.syncGlobal(), b.syncGlobal(), cc.syncGlobal()]);
  assert.deepEqual(await drained(pa), []);
  const toB = await drained(pb);
  assert.equal(toB.length, 1, Deno.inspect(toB));
  const told = toB[0];
  assert.ok(told instanceof GlobalNameConflict);
  assert.equal(told.name, "leader");
  assert.ok(told.winner.equals(pa.pid));
  // c may hear of b's claim first: it is told of whichever beat it.
  const toC = await drained(pc);
  assert.equal(toC.length, 1, Deno.inspect(toC));
  assert.ok(toC[0] instanceof GlobalNameConflict);
  assert.ok(
    toC[0].winner.equals(pa.pid) || toC[0].winner.equals(pb.pid),
    String(toC[0].winner),
  );
  // The losers live on, without the name.
  assert.ok(b.runtime.isAlive(pb.pid) && cc.runtime.isAlive(pc.pid));
  b.sendGlobal("leader", "to the winner");
  assert.equal(await pa.next(), "to the winner");
});

Deno.test("global: registrations crossing on a live connection agree on the same winner", async () => {
  await using c = await cluster("a", "b");
  const [a, b] = c.nodes as [Node, Node];
  await a.connect(b.name, b.address!);
  const pa = await probe(a.runtime);
  const pb = await probe(b.runtime);
  // In one turn, before either REGISTER can arrive at the other side.
  a.registerGlobal("lock", pa.pid);
  b.registerGlobal("lock", pb.pid);
  await Promise.all([a.syncGlobal(), b.syncGlobal()]);
  assert.ok(a.whereisGlobal("lock")?.equals(pa.pid));
  assert.ok(b.whereisGlobal("lock")?.equals(pa.pid));
  assert.deepEqual(await drained(pa), []);
  const told = await drained(pb);
  assert.equal(told.length, 1);
  assert.ok(is(GlobalNameConflict, (m) => m.winner.equals(pa.pid))(told[0]));
  // The loser's exit does not release the winner's name.
  b.runtime.exit(pb.pid, "kill");
  await b.runtime.whenExited(pb.pid);
  await a.syncGlobal();
  assert.ok(a.whereisGlobal("lock")?.equals(pa.pid));
});

Deno.test("global: N1 — a taken name is refused with GlobalNameTakenError", async () => {
  await using c = await cluster("a", "b");
  const [a, b] = c.nodes as [Node, Node];
  await a.connect(b.name, b.address!);
  const pa = await probe(a.runtime);
  const other = await probe(a.runtime);
  const pb = await probe(b.runtime);
  a.registerGlobal("db", pa.pid);
  a.registerGlobal("db", pa.pid); // the same pid again: nothing changes
  const local = assertThrows(
    () => a.registerGlobal("db", other.pid),
    GlobalNameTakenError,
  );
  assert.ok(local.pid.equals(pa.pid));
  await b.syncGlobal();
  const remote = assertThrows(
    () => b.registerGlobal("db", pb.pid),
    GlobalNameTakenError,
  );
  assert.ok(remote instanceof NameTakenError);
  assert.equal(remote.name, "GlobalNameTakenError");
  assert.equal(remote.registeredName, "db");
  assert.ok(remote.pid.equals(pa.pid));
  assert.match(
    remote.message,
    /Cannot register "db" globally: the name is taken by/,
  );
  // Only the holder's node may unregister it.
  assertThrows(() => b.unregisterGlobal("db"), InvalidArgumentError);
  assert.ok(b.whereisGlobal("db")?.equals(pa.pid));
});

Deno.test("global: bad input is refused with named errors", async () => {
  await using c = await cluster("a", "b");
  const [a, b] = c.nodes as [Node, Node];
  const p = await probe(a.runtime);
  const bad = (f: () => unknown) => assertThrows(f, InvalidArgumentError);
  bad(() => a.registerGlobal(42 as unknown as string, p.pid));
  bad(() => a.registerGlobal("", p.pid));
  bad(() => a.registerGlobal("é".repeat(128), p.pid));
  bad(() => a.registerGlobal("x", "pid" as unknown as Pid));
  bad(() => a.registerGlobal("x", new Pid(b.name, 1, b.creation)));
  bad(() => a.unregisterGlobal(null as unknown as string));
  a.registerGlobal("é".repeat(127) + "x", p.pid); // 255 bytes is fine
  const dead = a.runtime.spawn(() => {});
  await a.runtime.whenExited(dead);
  assertThrows(() => a.registerGlobal("x", dead), NoProcessError);
  const missing = assertThrows(
    () => a.sendGlobal("nobody", "hi"),
    GlobalNotRegisteredError,
  );
  assert.ok(missing instanceof NotRegisteredError);
  assert.equal(missing.registeredName, "nobody");
  assert.equal(a.whereisGlobal("nobody"), undefined);
  await a.stop();
  assertThrows(() => a.registerGlobal("late", p.pid), NodeStoppedError);
  assert.deepEqual(a.globalNames(), []);
  await a.syncGlobal(); // a stopped node has nothing to wait for
});

/** A raw peer that passes the handshake and then speaks frames by hand. */
function rawPeer(target: Node, name: string): Promise<RawPeer> {
  return openRawPeer(target, name, COOKIE);
}

Deno.test("global: on connect a node sends GLOBAL_SYNC of its own names, and answers GLOBAL_PING after it", async () => {
  await using c = await cluster("a");
  const [a] = c.nodes as [Node];
  const held = await probe(a.runtime);
  a.registerGlobal("here", held.pid);
  const peer = await rawPeer(a, `raw${++seq}@127.0.0.1`);
  try {
    await peer.write({ tag: Tag.GLOBAL_PING, id: 42 });
    const got: Frame[] = [];
    for (;;) {
      const f = await peer.next();
      assert.ok(f !== null, "closed early");
      got.push(f);
      if (f.tag === Tag.GLOBAL_PONG) break;
    }
    const sync = got.find((f) => f.tag === Tag.GLOBAL_SYNC);
    assert.ok(sync !== undefined, Deno.inspect(got));
    assert.deepEqual(sync.entries.map((e) => e.name), ["here"]);
    assert.ok(sync.entries[0]!.pid.equals(held.pid));
    assert.deepEqual(got.at(-1), { tag: Tag.GLOBAL_PONG, id: 42 });
    // The raw peer's own registration is learnt, and its loss forgets it.
    await peer.write({
      tag: Tag.GLOBAL_REGISTER,
      name: "raw",
      pid: peer.pid(1),
    });
    await peer.write({ tag: Tag.GLOBAL_PING, id: 43 });
    while ((await peer.next())?.tag !== Tag.GLOBAL_PONG) { /* skip */ }
    assert.ok(a.whereisGlobal("raw")?.equals(peer.pid(1)));
  } finally {
    peer.close();
  }
});

Deno.test("global: D10 — a peer registering another node's pid is a protocol error", async () => {
  await using c = await cluster("a");
  const [a] = c.nodes as [Node];
  const ended = Promise.withResolvers<NodeDown>();
  a.onNodeEvent((e) => e instanceof NodeDown && ended.resolve(e));
  const peer = await rawPeer(a, `liar${++seq}@127.0.0.1`);
  try {
    await peer.write({
      tag: Tag.GLOBAL_SYNC,
      entries: [
        { name: "mine", pid: peer.pid(1) },
        { name: "stolen", pid: new Pid("third@host", 1, 1) },
      ],
    });
    assert.equal((await ended.promise).reason, "protocol_error");
    assert.deepEqual(a.globalNames(), []);
  } finally {
    peer.close();
  }
});

Deno.test("global: D10 — a forged frame sent right behind the handshake closes that connection, and the name may connect again", async () => {
  await using c = await cluster("a");
  const [a] = c.nodes as [Node];
  const events: string[] = [];
  const ended = Promise.withResolvers<NodeDown>();
  a.onNodeEvent((e) => {
    events.push(e.constructor.name);
    if (e instanceof NodeDown) ended.resolve(e);
  });
  const name = `eager${++seq}@127.0.0.1`;
  const codec = new MsgpackCodec();
  const conn = await tcpTransport().connect(a.address!);
  // The forged frame leaves in the same write as HANDSHAKE_REPLY, so the
  // node has it buffered before the session exists.
  const forged = encodeFrame({
    tag: Tag.GLOBAL_REGISTER,
    name: "stolen",
    pid: new Pid("third@host", 1, 1),
  }, codec);
  try {
    await connectorHandshake(
      new FrameReader(conn, new FrameDecoder(codec)),
      (f) => {
        const bytes = encodeFrame(f, codec);
        if (f.tag !== Tag.HANDSHAKE_REPLY) return conn.write(bytes);
        const both = new Uint8Array(bytes.length + forged.length);
        both.set(bytes);
        both.set(forged, bytes.length);
        return conn.write(both);
      },
      { name, creation: 3 },
      await cookieKey(COOKIE),
      a.name,
    );
    assert.equal((await ended.promise).reason, "protocol_error");
  } finally {
    conn.close();
  }
  assert.deepEqual(a.nodes(), []);
  assert.deepEqual(events, ["NodeUp", "NodeDown"]);
  // The name is free again: nothing of the dead session is left behind.
  const again = await rawPeer(a, name);
  again.close();
});

Deno.test("global: a GLOBAL_SYNC longer than the frame limit goes in parts; the connection is made and every name arrives", async () => {
  const small = { cookie: COOKIE, maxFrameBytes: 32 * 1024 };
  const a = await startNode({ name: `a${++seq}@127.0.0.1`, ...small });
  const b = await startNode({ name: `b${++seq}@127.0.0.1`, ...small });
  try {
    const holder = a.runtime.spawn(async (p) => void await p.receive());
    // 200 names of 200 bytes: some 44 KB of entries.
    const names = Array.from(
      { length: 200 },
      (_, i) => `${i}`.padEnd(200, "x"),
    );
    for (const name of names) a.registerGlobal(name, holder);
    await a.connect(b.name, b.address!);
    await b.syncGlobal();
    await a.syncGlobal();
    assert.deepEqual(b.globalNames().sort(), [...names].sort());
    assert.ok(b.whereisGlobal(names[199]!)?.equals(holder));
    assert.deepEqual(a.nodes(), [b.name]);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});
