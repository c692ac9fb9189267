// Process groups (dist/groups.ts), after Erlang's pg: on one runtime, then
// across nodes over loopback TCP. Every wait is on an event (a GroupJoin or
// GroupLeave to a watching probe), never on time.
import assert from "node:assert/strict";
import { InvalidArgumentError, NameTakenError, Pid, Runtime } from "../mod.ts";
import {
  GroupJoin,
  GroupLeave,
  type Groups,
  GroupsStoppedError,
  MemoryTransport,
  type Node,
  startGroups,
  startNode,
} from "../dist/mod.ts";
import { type Probe, probe } from "./_probe.ts";
import { nodeName, nodePair } from "./_nodes.ts";
import { within } from "./_util.ts";

const COOKIE = "groups-cookie";

const keys = (pids: readonly Pid[]) => pids.map((p) => p.key).sort();

/** A process that only waits, to be a member. */
function idle(rt: Runtime): Pid {
  return rt.spawn(async (proc) => void await proc.receive((m) => m === "stop"));
}

/** The next GroupJoin or GroupLeave of `ref`'s watch, as `[kind, group, pid keys]`. */
async function nextEvent(
  watcher: Probe,
  ref: { key: string },
): Promise<[string, string, string[]]> {
  const e = await watcher.next<GroupJoin | GroupLeave>((m) =>
    (m instanceof GroupJoin || m instanceof GroupLeave) && m.ref.key === ref.key
  );
  return [
    e instanceof GroupJoin ? "join" : "leave",
    e.group,
    e.pids.map((p) => p.key),
  ];
}

Deno.test("groups: join, leave and read on one runtime; a pid joined twice is a member twice", async () => {
  const rt = new Runtime();
  try {
    const groups = await startGroups(rt);
    assert.ok(rt.whereis("pg")?.equals(groups.pid));
    const [a, b] = [idle(rt), idle(rt)];
    groups.join("room", [a, b]);
    groups.join("room", a);
    groups.join("lobby", b);
    assert.deepEqual(keys(groups.members("room")), keys([a, a, b]));
    assert.deepEqual(keys(groups.localMembers("lobby")), keys([b]));
    assert.deepEqual(groups.whichGroups(), ["lobby", "room"]);
    assert.deepEqual(groups.localGroups(), ["lobby", "room"]);
    assert.equal(groups.leave("room", a), true);
    assert.deepEqual(keys(groups.members("room")), keys([a, b]));
    assert.equal(groups.leave("room", [a, b]), true);
    assert.equal(groups.leave("room", a), false, "not a member any more");
    assert.deepEqual(groups.members("room"), []);
    assert.deepEqual(groups.whichGroups(), ["lobby"]);
    assert.deepEqual(groups.members("nobody"), []);
  } finally {
    await rt.shutdown();
  }
});

Deno.test("groups: a member that exits leaves every group; watchers see each change in order", async () => {
  const rt = new Runtime();
  try {
    const groups = await startGroups(rt);
    const watcher = await probe(rt);
    const all = await probe(rt);
    const a = idle(rt);
    const room = groups.monitor(watcher.pid, "room");
    const scope = groups.monitor(all.pid);
    assert.deepEqual(room.members, []);
    assert.equal(scope.members.size, 0);
    groups.join("room", [a, a]);
    groups.join("lobby", a);
    rt.send(a, "stop");
    assert.deepEqual(await nextEvent(watcher, room.ref), [
      "join",
      "room",
      [a.key, a.key],
    ]);
    assert.deepEqual(await nextEvent(watcher, room.ref), [
      "leave",
      "room",
      [a.key, a.key],
    ]);
    const seen = [];
    for (let i = 0; i < 4; i++) seen.push(await nextEvent(all, scope.ref));
    assert.deepEqual(seen.map(([kind, group]) => `${kind} ${group}`).sort(), [
      "join lobby",
      "join room",
      "leave lobby",
      "leave room",
    ]);
    assert.deepEqual(groups.whichGroups(), []);
    assert.deepEqual(watcher.seen, [], "the lobby is not the room's business");
  } finally {
    await rt.shutdown();
  }
});

Deno.test("groups: a watch ends with demonitor, and with the watcher's exit", async () => {
  const rt = new Runtime();
  try {
    const groups = await startGroups(rt);
    const watcher = await probe(rt);
    const later = await probe(rt);
    const first = groups.monitor(watcher.pid, "room");
    assert.equal(groups.demonitor(first.ref), true);
    assert.equal(groups.demonitor(first.ref), false);
    const second = groups.monitor(later.pid, "room");
    const a = idle(rt);
    groups.join("room", a);
    // An event for a watch made after the demonitor proves the first had
    // its chance to come, and it did not.
    assert.deepEqual(await nextEvent(later, second.ref), [
      "join",
      "room",
      [a.key],
    ]);
    assert.deepEqual(watcher.seen, []);
    // A watcher that exits takes its watches with it (no send to a dead pid
    // is observable, but its subscription is gone: demonitor says so).
    const gone = rt.spawn(async (proc) => void await proc.receive());
    const third = groups.monitor(gone, "room");
    rt.exit(gone, "kill");
    await rt.whenExited(gone);
    groups.join("room", a); // the scope handles the Down before this join's event
    assert.deepEqual((await nextEvent(later, second.ref))[0], "join");
    assert.equal(groups.demonitor(third.ref), false);
  } finally {
    await rt.shutdown();
  }
});

Deno.test("groups: bad arguments get named errors; a taken scope name and a stopped scope too", async () => {
  const rt = new Runtime();
  const other = new Runtime({ node: "other@host" });
  try {
    const groups = await startGroups(rt);
    const a = idle(rt);
    for (const group of ["", 42, null, undefined]) {
      assert.throws(
        () => groups.join(group as string, a),
        InvalidArgumentError,
      );
      assert.throws(
        () => groups.members(group as string),
        InvalidArgumentError,
      );
    }
    assert.throws(() => groups.join("g", "pid" as never), InvalidArgumentError);
    assert.throws(
      () => groups.join("g", [a, 7] as never),
      InvalidArgumentError,
    );
    const foreign = idle(other);
    assert.throws(() => groups.join("g", foreign), InvalidArgumentError);
    assert.throws(() => groups.monitor(foreign, "g"), InvalidArgumentError);
    assert.throws(() => groups.demonitor("ref" as never), InvalidArgumentError);
    assert.deepEqual(groups.members("g"), [], "nothing half joined");
    await assert.rejects(startGroups(rt), NameTakenError);
    const second = await startGroups(rt, { scope: "other" });
    assert.notEqual(second.pid.key, groups.pid.key);
    await assert.rejects(startGroups(rt, { scope: "" }), InvalidArgumentError);
    groups.join("g", a);
    const watch = groups.monitor(a, "g");
    await groups.stop();
    assert.equal(rt.isAlive(groups.pid), false);
    assert.throws(() => groups.join("g", a), GroupsStoppedError);
    assert.throws(() => groups.leave("g", a), GroupsStoppedError);
    assert.throws(() => groups.members("g"), GroupsStoppedError);
    assert.throws(() => groups.whichGroups(), GroupsStoppedError);
    assert.throws(() => groups.demonitor(watch.ref), GroupsStoppedError);
    await groups.stop(); // again: nothing to do
    // A scope whose runtime goes before it ever ran: the start rejects.
    const doomed = new Runtime();
    const starting = startGroups(doomed);
    await doomed.shutdown();
    await assert.rejects(starting, GroupsStoppedError);
  } finally {
    await Promise.all([rt.shutdown(), other.shutdown()]);
  }
});

/** Groups on each node of a connected pair, and a watcher on b of `group`. */
async function groupsPair(group: string) {
  const n = await nodePair(COOKIE);
  const ga = await startGroups(n.a);
  const gb = await startGroups(n.b);
  const watcher = await probe(n.b.runtime);
  const { ref } = gb.monitor(watcher.pid, group);
  return { ...n, ga, gb, watcher, ref };
}

Deno.test("groups: across two nodes, joins and leaves on one reach the other's view and watchers", async () => {
  const { a, b, ga, gb, watcher, ref, ...rest } = await groupsPair("room");
  await using _ = rest;
  const x = idle(a.runtime);
  const y = idle(a.runtime);
  ga.join("room", [x, y]);
  assert.deepEqual(await nextEvent(watcher, ref), [
    "join",
    "room",
    [x.key, y.key],
  ]);
  assert.deepEqual(keys(gb.members("room")), keys([x, y]));
  assert.deepEqual(gb.localMembers("room"), []);
  const z = idle(b.runtime);
  gb.join("room", z);
  assert.deepEqual(await nextEvent(watcher, ref), ["join", "room", [z.key]]);
  assert.deepEqual(keys(gb.members("room")), keys([x, y, z]));
  ga.leave("room", x);
  assert.deepEqual(await nextEvent(watcher, ref), ["leave", "room", [x.key]]);
  a.runtime.send(y, "stop"); // exits: leaves everywhere
  assert.deepEqual(await nextEvent(watcher, ref), ["leave", "room", [y.key]]);
  assert.deepEqual(keys(gb.members("room")), keys([z]));
  assert.deepEqual(gb.whichGroups(), ["room"]);
  // a's view has b's member too, and nothing else.
  const onA = await probe(a.runtime);
  const watchA = ga.monitor(onA.pid, "room");
  assert.deepEqual(keys(watchA.members), keys([z]));
});

Deno.test("groups: a scope started later learns the existing members (discover, sync)", async () => {
  const n = await nodePair(COOKIE);
  await using _ = n;
  const ga = await startGroups(n.a);
  const x = idle(n.a.runtime);
  ga.join("room", [x, x]);
  const watcher = await probe(n.b.runtime);
  const gb = await startGroups(n.b);
  const { ref, members } = gb.monitor(watcher.pid, "room");
  if (members.length === 0) {
    assert.deepEqual(await nextEvent(watcher, ref), [
      "join",
      "room",
      [x.key, x.key],
    ]);
  }
  assert.deepEqual(keys(gb.members("room")), keys([x, x]));
  // And the other way: b's member reaches a, which knew no scope on b.
  const y = idle(n.b.runtime);
  const onA = await probe(n.a.runtime);
  const watchA = ga.monitor(onA.pid, "room");
  gb.join("room", y);
  assert.deepEqual(await nextEvent(onA, watchA.ref), [
    "join",
    "room",
    [y.key],
  ]);
});

Deno.test("D7: groups: a lost connection takes the other node's members out; a reconnect brings them back", async () => {
  const { a, b, ga, gb, watcher, ref, ...rest } = await groupsPair("room");
  await using _ = rest;
  const x = idle(a.runtime);
  ga.join("room", x);
  assert.deepEqual(await nextEvent(watcher, ref), ["join", "room", [x.key]]);
  assert.ok(b.disconnect(a.name));
  assert.deepEqual(await nextEvent(watcher, ref), ["leave", "room", [x.key]]);
  assert.deepEqual(gb.members("room"), []);
  await b.connect(a.name, a.address!);
  assert.deepEqual(await nextEvent(watcher, ref), ["join", "room", [x.key]]);
  assert.deepEqual(keys(gb.members("room")), keys([x]));
  assert.deepEqual(keys(ga.members("room")), keys([x]));
});

Deno.test("groups: a stopped scope's members leave the other nodes' views", async () => {
  const { a, ga, gb, watcher, ref, ...rest } = await groupsPair("room");
  await using _ = rest;
  const x = idle(a.runtime);
  ga.join("room", x);
  assert.deepEqual(await nextEvent(watcher, ref), ["join", "room", [x.key]]);
  await ga.stop();
  assert.deepEqual(await nextEvent(watcher, ref), ["leave", "room", [x.key]]);
  assert.deepEqual(gb.members("room"), []);
  assert.equal(a.runtime.isAlive(x), true, "members live on");
});

Deno.test("groups: three nodes see every member; only scopes of the same name share", async () => {
  const nodes: Node[] = [];
  try {
    for (const base of ["a", "b", "c"]) {
      nodes.push(await startNode({ name: nodeName(base), cookie: COOKIE }));
    }
    const [a, b, c] = nodes as [Node, Node, Node];
    await b.connect(a.name, a.address!);
    await c.connect(a.name, a.address!); // the mesh connects c to b
    const scopes: Groups[] = [];
    for (const node of nodes) scopes.push(await startGroups(node));
    const other = await startGroups(c, { scope: "other" });
    const watches = await Promise.all(nodes.map(async (node, i) => {
      const watcher = await probe(node.runtime);
      return { watcher, ref: scopes[i]!.monitor(watcher.pid, "all").ref };
    }));
    const members = nodes.map((node) => idle(node.runtime));
    nodes.forEach((_, i) => scopes[i]!.join("all", members[i]!));
    for (const [i, { watcher, ref }] of watches.entries()) {
      const joined: string[] = [];
      while (joined.length < 3) {
        const [kind, , pids] = await nextEvent(watcher, ref);
        assert.equal(kind, "join");
        joined.push(...pids);
      }
      assert.deepEqual(joined.sort(), keys(members), `node ${i}`);
      assert.deepEqual(keys(scopes[i]!.members("all")), keys(members));
    }
    assert.deepEqual(other.members("all"), [], "another scope is apart");
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
});

Deno.test("D10: groups: malformed scope messages are ignored, as are pids of another node or incarnation than the scope's", async () => {
  const { a, b, ga, gb, watcher, ref, ...rest } = await groupsPair("room");
  await using _ = rest;
  const x = idle(a.runtime);
  const y = idle(b.runtime);
  const forged = { scope: ga.pid };
  const bad: unknown[] = [
    { $pg: "join", ...forged, group: 5, pids: [x] },
    { $pg: "join", ...forged, group: "room", pids: "x" },
    { $pg: "join", ...forged, group: "room", pids: [y] }, // b's own pid
    { // a pid of a's earlier incarnation
      $pg: "join",
      ...forged,
      group: "room",
      pids: [new Pid(a.name, 1, (a.creation + 1) >>> 0)],
    },
    { $pg: "sync", ...forged, groups: [["room", [x]], ["", [x]]] },
    { $pg: "sync", ...forged, groups: [["room"]] },
    { $pg: "sync", ...forged, groups: { room: [x] } },
    { $pg: "leave", scope: "nope", group: "room", pids: [x] },
    { $pg: "discover", scope: 42 },
    { $pg: "nonsense", ...forged },
    "just a string",
    null,
  ];
  // Sent from a's runtime (as a's scope could): all dropped by b's scope.
  for (const message of bad) a.runtime.send(["pg", b.name], message);
  ga.join("room", x); // a real one after them, in order (D5)
  assert.deepEqual(await nextEvent(watcher, ref), ["join", "room", [x.key]]);
  assert.deepEqual(keys(gb.members("room")), keys([x]));
  assert.equal(b.runtime.isAlive(gb.pid), true);
  assert.deepEqual(watcher.seen, []);
});

Deno.test("groups: large groups stay whole: 130 000 members in one join reach the other node, in parts", async () => {
  const { a, b, ga, gb, watcher, ref, ...rest } = await groupsPair("big");
  await using _ = rest;
  /** Events of `kind` until they add up to `n` pids (a large change comes in parts). */
  const total = async (kind: string, n: number) => {
    let got = 0;
    while (got < n) {
      const [k, group, pids] = await nextEvent(watcher, ref);
      assert.deepEqual([k, group], [kind, "big"]);
      got += pids.length;
    }
    assert.equal(got, n);
  };
  const x = idle(a.runtime);
  const many = new Array<Pid>(130_000).fill(x); // one pid, joined 130 000 times
  ga.join("big", many);
  await total("join", 130_000);
  assert.equal(gb.members("big").length, 130_000);
  const fresh = await probe(a.runtime);
  assert.equal(ga.monitor(fresh.pid, "big").members.length, 130_000);
  assert.equal(ga.leave("big", many.slice(0, 65_000)), true);
  await total("leave", 65_000);
  assert.equal(gb.members("big").length, 65_000);
  // The members leave with the connection, and come back with the sync
  // that follows the reconnect, which comes in parts.
  assert.ok(b.disconnect(a.name));
  await total("leave", 65_000);
  await b.connect(a.name, a.address!);
  await total("join", 65_000);
  assert.equal(gb.members("big").length, 65_000);
  a.runtime.send(x, "stop");
  await total("leave", 65_000);
  assert.deepEqual(gb.members("big"), []);
  assert.deepEqual(watcher.seen, []);
});

Deno.test("groups: scopes never open a connection: a join right after a disconnect does not bring the node back", async () => {
  // In memory, where every dial shows in the transport's connections.
  const transport = new MemoryTransport();
  const common = { cookie: COOKIE, transport, host: "mem" };
  const a = await startNode({ name: nodeName("a"), ...common });
  const b = await startNode({ name: nodeName("b"), ...common });
  try {
    await b.connect(a.name, a.address!);
    const ga = await startGroups(a);
    const gb = await startGroups(b);
    const watcher = await probe(b.runtime);
    const { ref } = gb.monitor(watcher.pid, "room");
    const x = idle(a.runtime);
    ga.join("room", x);
    assert.deepEqual(await nextEvent(watcher, ref), ["join", "room", [x.key]]);
    const dialled = transport.connections.length;
    assert.ok(b.disconnect(a.name));
    const y = idle(b.runtime);
    gb.join("room", y); // before b's scope has seen a go: it still knows a's
    assert.deepEqual(await nextEvent(watcher, ref), ["join", "room", [y.key]]);
    assert.deepEqual(await nextEvent(watcher, ref), ["leave", "room", [x.key]]);
    await new Promise((resolve) => setTimeout(resolve, 0)); // a dial is microtasks here
    assert.equal(transport.connections.length, dialled, "nobody dialled");
    assert.deepEqual(b.nodes(), []);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

Deno.test("groups: a scope on a bare runtime is local, even if a node routes for that runtime", async () => {
  const n = await nodePair(COOKIE);
  await using _ = n;
  const local = await startGroups(n.b.runtime); // given the runtime only
  const y = idle(n.b.runtime);
  local.join("mine", y);
  const ga = await startGroups(n.a); // discovers b's scope by name at once
  ga.join("room", idle(n.a.runtime));
  // b has read a's discover and join (b's pings come back after them), and
  // a has read whatever b's scope sent back (a's pings likewise).
  await n.b.syncGlobal();
  await new Promise((resolve) => setTimeout(resolve, 0));
  await n.a.syncGlobal();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(ga.whichGroups(), ["room"], "b's local scope kept apart");
  assert.deepEqual(local.whichGroups(), ["mine"]);
});

Deno.test("groups: a node restarted under its name while its old connection hangs: the old members leave, the new ones join", async () => {
  const transport = new MemoryTransport();
  const common = { cookie: COOKIE, transport, host: "mem" };
  const a = await startNode({
    name: nodeName("a"),
    ...common,
    handshakeTimeout: 1_000, // the probe waits half
  });
  const b = await startNode({ name: nodeName("b"), ...common });
  let b2: Node | undefined;
  try {
    await b.connect(a.name, a.address!);
    const [bEnd, aEnd] = transport.connections;
    const ga = await startGroups(a);
    const gb = await startGroups(b);
    const watcher = await probe(a.runtime);
    const { ref } = ga.monitor(watcher.pid, "room");
    const old = idle(b.runtime);
    gb.join("room", old);
    assert.deepEqual(await nextEvent(watcher, ref), ["join", "room", [
      old.key,
    ]]);
    aEnd!.cut(); // b's host vanished without a FIN
    bEnd!.cut();
    b2 = await startNode({ name: b.name, ...common });
    const gb2 = await startGroups(b2);
    const fresh = idle(b2.runtime);
    gb2.join("room", fresh);
    await b2.connect(a.name, a.address!); // a probes the silent old link, lets b2 in
    assert.deepEqual(await nextEvent(watcher, ref), ["leave", "room", [
      old.key,
    ]]);
    assert.deepEqual(await nextEvent(watcher, ref), ["join", "room", [
      fresh.key,
    ]]);
    assert.deepEqual(keys(ga.members("room")), keys([fresh]));
  } finally {
    await Promise.all([a.stop(), b.stop(), b2?.stop()]);
  }
});

Deno.test("groups: a sync larger than the peer's frame limit comes in parts, and the connection stays", async () => {
  const small = { cookie: COOKIE, maxFrameBytes: 64 * 1024 };
  const a = await startNode({ name: nodeName("a"), ...small });
  const b = await startNode({ name: nodeName("b"), ...small });
  try {
    const ga = await startGroups(a);
    const pids = Array.from({ length: 50 }, () => idle(a.runtime));
    for (let g = 0; g < 100; g++) ga.join(`g${g}`, pids); // 5 000 memberships
    const gb = await startGroups(b);
    const watcher = await probe(b.runtime);
    const { ref } = gb.monitor(watcher.pid);
    await b.connect(a.name, a.address!);
    let joined = 0;
    while (joined < 5_000) joined += (await nextEvent(watcher, ref))[2].length;
    assert.equal(gb.whichGroups().length, 100);
    assert.deepEqual(b.nodes(), [a.name]);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

Deno.test("groups: under a small maxFrameBytes, joins and syncs go in parts that fit it; a group name with no room for a member is refused before anything changes", async () => {
  const small = { cookie: COOKIE, maxFrameBytes: 16 * 1024 };
  const a = await startNode({ name: nodeName("a"), ...small });
  const b = await startNode({ name: nodeName("b"), ...small });
  try {
    const ga = await startGroups(a);
    const gb = await startGroups(b);
    // 1 000 members before the nodes meet (a sync), 1 000 after (a join):
    // a part of 1 000 pids would be some 30 KiB.
    const early = Array.from({ length: 1000 }, () => idle(a.runtime));
    ga.join("early", early);
    const watcher = await probe(b.runtime);
    const { ref } = gb.monitor(watcher.pid);
    await b.connect(a.name, a.address!);
    let joined = 0;
    while (joined < 1000) joined += (await nextEvent(watcher, ref))[2].length;
    const late = Array.from({ length: 1000 }, () => idle(a.runtime));
    ga.join("late", late);
    joined = 0;
    while (joined < 1000) joined += (await nextEvent(watcher, ref))[2].length;
    assert.deepEqual(keys(gb.members("early")), keys(early));
    assert.deepEqual(keys(gb.members("late")), keys(late));
    assert.deepEqual(b.nodes(), [a.name], "the connection stays");
    // A name that fills the frame on its own: refused, and nothing joined.
    const huge = "g".repeat(16 * 1024);
    assert.throws(() => ga.join(huge, idle(a.runtime)), InvalidArgumentError);
    assert.deepEqual(ga.members(huge), []);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

Deno.test("groups: the parts fit the frame for a node whose name takes 255 bytes too", async () => {
  const long = (base: string) => {
    const tail = nodeName(base);
    return "n".repeat(255 - tail.length) + tail;
  };
  const small = { cookie: COOKIE, maxFrameBytes: 278_537 };
  const a = await startNode({ name: long("a"), ...small });
  const b = await startNode({ name: long("b"), ...small });
  try {
    assert.equal(new TextEncoder().encode(a.name).length, 255);
    const ga = await startGroups(a);
    const gb = await startGroups(b);
    const early = Array.from({ length: 1024 }, () => idle(a.runtime));
    ga.join("early", early); // a sync
    const watcher = await probe(b.runtime);
    const { ref } = gb.monitor(watcher.pid);
    await b.connect(a.name, a.address!);
    let joined = 0;
    while (joined < 1024) joined += (await nextEvent(watcher, ref))[2].length;
    const late = Array.from({ length: 1024 }, () => idle(a.runtime));
    ga.join("late", late); // a join
    joined = 0;
    while (joined < 1024) joined += (await nextEvent(watcher, ref))[2].length;
    assert.equal(gb.members("early").length, 1024);
    assert.equal(gb.members("late").length, 1024);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

Deno.test("groups: a watcher whose receive matcher leaves a group while a member's exit is told keeps every view right", async () => {
  const { a, ga, gb, watcher, ref, ...rest } = await groupsPair("g2");
  await using _ = rest;
  const x = idle(a.runtime);
  ga.join("g1", x);
  ga.join("g2", x);
  assert.deepEqual(await nextEvent(watcher, ref), ["join", "g2", [x.key]]);
  const matched = Promise.withResolvers<boolean>();
  const watching = Promise.withResolvers<void>();
  a.runtime.spawn(async (proc) => {
    ga.monitor(proc.self, "g1");
    watching.resolve();
    // Runs as the scope tells of x's exit, between its groups.
    await proc.receive((m) => {
      if (!(m instanceof GroupLeave)) return false;
      matched.resolve(ga.leave("g2", x));
      return true;
    });
  });
  await watching.promise;
  a.runtime.send(x, "stop");
  const left = await within(matched.promise, "the matcher's leave", 5_000);
  assert.equal(left, false, "x had left g2 already");
  assert.deepEqual(await nextEvent(watcher, ref), ["leave", "g2", [x.key]]);
  assert.deepEqual(ga.members("g2"), []);
  assert.deepEqual(gb.members("g2"), []);
  assert.deepEqual(ga.whichGroups(), []);
});
