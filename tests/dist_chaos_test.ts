// Seeded chaos across three or four nodes in one process: processes on every
// node link to, monitor (by pid, by [name, node], by local name) and globally
// register each other; then a seeded run of events — kills with every kind of
// reason, remote exit signals, crashes, sends, demonitors, unlinks,
// disconnects, reconnects (explicit and on first use, D2), a kill racing a
// disconnect, a node stopped and started again under its name (a new
// creation), and, over the in-memory transport, silent partitions caught by
// heartbeats (D9). A small model predicts, after each event, every Down,
// Exit, death and node event; the test awaits exactly those (a timeout is
// only a safety net), passes a barrier (`syncGlobal` on every node: each peer
// answers after everything it sent before), and then requires every mailbox,
// table and replica to be exactly what the model says.
//
// Nothing here sleeps to synchronise. `MOTE_CHAOS_SEED=<n>` replays one seed
// (in each test); `MOTE_CHAOS_STEPS=<n>` changes the number of events;
// `MOTE_CHAOS_VERBOSE=1` prints each run's events and what was checked. The
// last test reproduces a bug found on the way (see there).
//
// Model notes. Nodes are started with `mesh: false`: peer lists then never
// dial, so a partition made by `disconnect` stays until the model heals it,
// and the connection graph is exact. Where a race makes two outcomes legal
// (a kill racing a disconnect; a node stopping, whose last exit signals race
// its close), every relation across the connection lost in that step may see
// the exit reason or `noconnection`, and a process killed by such a signal
// may die of either; every other outcome is exact.
import assert from "node:assert/strict";
import {
  Crash,
  Down,
  Exit,
  type ExitReason,
  type Pid,
  type Process,
  type Ref,
} from "../mod.ts";
import {
  type MemoryConnection,
  MemoryTransport,
  type Node,
  NodeDown,
  type NodeDownReason,
  type NodeEvent,
  NodeUp,
  startNode,
  type Transport,
} from "../dist/mod.ts";
import { settle } from "./_util.ts";

const COOKIE = "chaos-cookie";
/** Only a safety net: every wait is for an event the model predicts. */
const SAFETY_MS = 4000;
const SEEDS = [1, 2, 3];
const envSeed = Deno.env.get("MOTE_CHAOS_SEED");
const envSteps = Deno.env.get("MOTE_CHAOS_STEPS");
const STEPS = envSteps === undefined ? 45 : Number(envSteps);

let nameSeq = 0;

// ---- a seeded random source (mulberry32) ----

class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    assert.ok(items.length > 0, "pick from an empty list");
    return items[this.int(items.length)]!;
  }
}

// ---- reasons ----

function sameReason(a: ExitReason, b: ExitReason): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  if (a instanceof Crash || b instanceof Crash) {
    return a instanceof Crash && b instanceof Crash && a.name === b.name &&
      a.message === b.message;
  }
  try {
    assert.deepEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

function hasReason(set: readonly ExitReason[], r: ExitReason): boolean {
  return set.some((s) => sameReason(s, r));
}

function union(a: readonly ExitReason[], b: readonly ExitReason[]) {
  return [...a, ...b.filter((r) => !hasReason(a, r))];
}

const show = (v: unknown) => Deno.inspect(v, { depth: 4, compact: true });

// ---- the world: nodes, actors, relations ----

/** A message an actor logs: `seq` counts per sender and receiver (D5). */
interface AppMsg {
  chaos: "msg";
  from: string;
  seq: number;
}
const isApp = (m: unknown): m is AppMsg =>
  typeof m === "object" && m !== null && (m as AppMsg).chaos === "msg";

/** A command, sent locally by the test: die with a reason. */
interface DieCmd {
  chaosCmd: "die";
  reason: ExitReason | "crash";
}

/** A command: exit(target, "kill"), then demonitor(ref, flush), in one turn. */
interface KillDemonitorCmd {
  chaosCmd: "killAndDemonitor";
  target: Pid;
  ref: Ref;
}

interface Actor {
  readonly label: string;
  readonly node: string;
  readonly gen: number;
  readonly pid: Pid;
  readonly proc: Process;
  readonly trap: boolean;
  readonly localName: string;
  globalName: string | undefined;
  alive: boolean;
  readonly log: unknown[];
  checked: number;
}

interface Link {
  readonly a: Actor;
  readonly b: Actor;
}

interface Mon {
  readonly watcher: Actor;
  readonly target: Actor;
  readonly ref: Ref;
  readonly how: string;
}

interface NodeState {
  readonly name: string;
  readonly node: Node;
  readonly gen: number;
  readonly events: NodeEvent[];
  checked: number;
  /** Index in `events` from which the observer's node monitors mirror them. */
  mirrorFrom: number;
  readonly observer: { pid: Pid; log: unknown[]; checked: number };
  readonly unsubscribe: () => void;
}

type Expect =
  | { kind: "down"; ref: Ref; reasons: () => ExitReason[] }
  | { kind: "exit"; from: Pid; reasons: () => ExitReason[] }
  | { kind: "msg"; from: string; seq: number };

interface NodeExpect {
  peer: string;
  kind: "up" | "down";
  reasons: NodeDownReason[];
}

/** What one event must cause, filled in by the model before it is run. */
class Step {
  readonly lost = new Set<string>();
  readonly deaths = new Map<Actor, ExitReason[]>();
  readonly exited = new Map<Actor, Promise<ExitReason>>();
  readonly partners = new Map<Actor, { other: Actor; lost: boolean }[]>();
  readonly expect = new Map<Actor, Expect[]>();
  readonly nodeEvents = new Map<string, NodeExpect[]>();
  /** Messages a dying actor sent before it died: before its Exit/Down (D5). */
  readonly finals = new Map<Actor, Set<string>>();
  constructor(readonly desc: string) {}
  add(actor: Actor, e: Expect): void {
    let list = this.expect.get(actor);
    if (list === undefined) this.expect.set(actor, list = []);
    list.push(e);
  }
  nodeEvent(node: string, e: NodeExpect): void {
    let list = this.nodeEvents.get(node);
    if (list === undefined) this.nodeEvents.set(node, list = []);
    list.push(e);
  }
}

const pairKey = (x: string, y: string) => x < y ? `${x}|${y}` : `${y}|${x}`;

class World {
  readonly rng: Rng;
  readonly nodes = new Map<string, NodeState>();
  readonly names: string[] = [];
  readonly edges = new Set<string>();
  readonly actors: Actor[] = [];
  links: Link[] = [];
  mons: Mon[] = [];
  readonly seqs = new Map<string, number>();
  readonly trace: string[] = [];
  readonly #waiters = new Set<() => boolean>();
  #labels = 0;
  readonly memory: MemoryTransport | undefined;
  /** Memory transport only: the connection ends of each node pair, newest last. */
  readonly ends = new Map<string, MemoryConnection[]>();
  readonly tickTime: number | undefined;

  constructor(readonly seed: number, memory: boolean) {
    this.rng = new Rng(seed);
    if (memory) {
      this.memory = new MemoryTransport();
      this.tickTime = 400;
    }
  }

  notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  /** Resolves once `cond` holds; re-checked on every logged message or node event. */
  until(cond: () => boolean, what: () => string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!cond()) return false;
        this.#waiters.delete(check);
        clearTimeout(timer);
        resolve();
        return true;
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out waiting for ${what()}`));
      }, SAFETY_MS);
      if (!check()) this.#waiters.add(check);
    });
  }

  connected(x: string, y: string): boolean {
    return x === y || this.edges.has(pairKey(x, y));
  }

  live(): Actor[] {
    return this.actors.filter((a) => a.alive);
  }

  liveNodes(): NodeState[] {
    return [...this.nodes.values()];
  }

  /** A transport per node, so the test knows who dialled whom (memory only). */
  transportFor(name: string): Transport | undefined {
    const memory = this.memory;
    if (memory === undefined) return undefined;
    return {
      listen: (addr) => memory.listen(addr),
      connect: async (addr) => {
        // The transport records both ends synchronously, newest last.
        const connecting = memory.connect(addr);
        const server = memory.connections.at(-1)!;
        const client = memory.connections.at(-2)!;
        const conn = await connecting;
        const target = [...this.nodes.values()].find((n) =>
          n.node.address?.port === addr.port
        );
        if (target !== undefined) {
          const key = pairKey(name, target.name);
          const list = this.ends.get(key) ?? [];
          list.push(client, server);
          this.ends.set(key, list);
        }
        return conn;
      },
    };
  }

  async startNode(name: string, gen: number): Promise<NodeState> {
    const transport = this.transportFor(name);
    const node = await startNode({
      name,
      cookie: COOKIE,
      mesh: false,
      ...(transport === undefined ? {} : { transport, host: "mem" }),
      ...(this.tickTime === undefined ? {} : { tickTime: this.tickTime }),
    });
    const events: NodeEvent[] = [];
    const unsubscribe = node.onNodeEvent((e) => {
      events.push(e);
      this.notify();
    });
    const observerLog: unknown[] = [];
    const ready = Promise.withResolvers<void>();
    const pid = node.runtime.spawn(async (proc) => {
      ready.resolve();
      for (;;) {
        observerLog.push(await proc.receive());
        this.notify();
      }
    });
    await ready.promise;
    const state: NodeState = {
      name,
      node,
      gen,
      events,
      checked: 0,
      mirrorFrom: Infinity,
      observer: { pid, log: observerLog, checked: 0 },
      unsubscribe,
    };
    this.nodes.set(name, state);
    return state;
  }

  async spawnActor(ns: NodeState): Promise<Actor> {
    const label = `w${++this.#labels}`;
    const trap = this.rng.chance(0.4);
    const log: unknown[] = [];
    const ready = Promise.withResolvers<Process>();
    const pid = ns.node.runtime.spawn(async (proc) => {
      ready.resolve(proc);
      for (;;) {
        const m = await proc.receive();
        const cmd = m as DieCmd;
        if (typeof m === "object" && m !== null && cmd.chaosCmd === "die") {
          if (cmd.reason === "crash") throw new Error(`chaos crash ${label}`);
          return proc.stop(cmd.reason);
        }
        const kd = m as KillDemonitorCmd;
        if (
          typeof m === "object" && m !== null &&
          kd.chaosCmd === "killAndDemonitor"
        ) {
          proc.exit(kd.target, "kill");
          proc.demonitor(kd.ref, { flush: true });
          continue;
        }
        log.push(m);
        this.notify();
      }
    }, { trapExit: trap, name: label });
    const proc = await ready.promise;
    const actor: Actor = {
      label,
      node: ns.name,
      gen: ns.gen,
      pid,
      proc,
      trap,
      localName: label,
      globalName: undefined,
      alive: true,
      log,
      checked: 0,
    };
    this.actors.push(actor);
    if (this.rng.chance(0.4)) {
      actor.globalName = `g-${label}`;
      ns.node.registerGlobal(actor.globalName, pid);
    }
    return actor;
  }

  // ---- the model: what an event causes ----

  /** `a` dies in `step` with one of `reasons`; its links and monitors fire (L2, M1). */
  die(step: Step, a: Actor, reasons: ExitReason[]): void {
    const known = step.deaths.get(a);
    if (known !== undefined) {
      // Reached again by another signal of the same step: whichever came
      // first killed it, so its reason is any of them; pass the new ones on.
      const added = reasons.filter((r) => !hasReason(known, r));
      if (added.length === 0) return;
      known.push(...added);
      for (const p of step.partners.get(a) ?? []) {
        this.linkSignal(step, a, p.other, p.lost, added, false);
      }
      return;
    }
    if (!a.alive) return;
    a.alive = false;
    const mine = this.links.filter((l) => l.a === a || l.b === a);
    this.links = this.links.filter((l) => l.a !== a && l.b !== a);
    const partners = mine.map((l) => {
      const other = l.a === a ? l.b : l.a;
      return { other, lost: step.lost.has(pairKey(a.node, other.node)) };
    });
    // Linked across a connection lost in this step, it may have died of
    // that first.
    if (!a.trap && partners.some((p) => p.lost)) {
      reasons = union(reasons, ["noconnection"]);
    }
    step.deaths.set(a, [...reasons]);
    // Asked now, while it lives: once dead, whenExited says noproc.
    const ns = this.nodes.get(a.node);
    if (ns !== undefined && ns.gen === a.gen) {
      step.exited.set(a, ns.node.runtime.whenExited(a.pid));
    }
    const actual = () => this.actualReason(a);
    // Monitors held by `a` go away; monitors on `a` fire.
    const fired = this.mons.filter((m) => m.target === a);
    this.mons = this.mons.filter((m) => m.watcher !== a && m.target !== a);
    for (const m of fired) {
      if (m.watcher === a) continue;
      const lost = step.lost.has(pairKey(a.node, m.watcher.node));
      step.add(m.watcher, {
        kind: "down",
        ref: m.ref,
        reasons: () => lost ? union([actual()], ["noconnection"]) : [actual()],
      });
    }
    step.partners.set(a, partners);
    for (const p of partners) {
      this.linkSignal(step, a, p.other, p.lost, reasons, true);
    }
  }

  linkSignal(
    step: Step,
    from: Actor,
    to: Actor,
    lost: boolean,
    reasons: ExitReason[],
    first: boolean,
  ): void {
    const signal = lost ? union(reasons, ["noconnection"]) : reasons;
    if (to.trap) {
      if (first && to.alive) {
        step.add(to, {
          kind: "exit",
          from: from.pid,
          reasons: () =>
            lost
              ? union([this.actualReason(from)], ["noconnection"])
              : [this.actualReason(from)],
        });
      }
      return;
    }
    const fatal = signal.filter((r) => r !== "normal");
    if (fatal.length === 0) return; // L2: normal is ignored
    assert.ok(
      fatal.length === signal.length,
      "model: a race between normal and another reason (never generated)",
    );
    this.die(step, to, fatal);
  }

  /** The connection x–y is lost in `step` (D7): every relation across it fires. */
  lose(
    step: Step,
    x: string,
    y: string,
    reasonX: NodeDownReason[],
    reasonY: NodeDownReason[],
  ): void {
    const key = pairKey(x, y);
    step.lost.add(key);
    this.edges.delete(key);
    const across = (a: Actor, b: Actor) =>
      (a.node === x && b.node === y) || (a.node === y && b.node === x);
    // Records go first (D7), then the signals.
    const links = this.links.filter((l) => across(l.a, l.b));
    const mons = this.mons.filter((m) => across(m.watcher, m.target));
    this.links = this.links.filter((l) => !links.includes(l));
    this.mons = this.mons.filter((m) => !mons.includes(m));
    for (const m of mons) {
      if (!m.watcher.alive) continue;
      step.add(m.watcher, {
        kind: "down",
        ref: m.ref,
        reasons: () => ["noconnection"],
      });
    }
    for (const l of links) {
      for (const [from, to] of [[l.a, l.b], [l.b, l.a]] as const) {
        if (!to.alive) continue;
        if (to.trap) {
          step.add(to, {
            kind: "exit",
            from: from.pid,
            reasons: () => ["noconnection"],
          });
        } else this.die(step, to, ["noconnection"]);
      }
    }
    if (this.nodes.has(x)) {
      step.nodeEvent(x, { peer: y, kind: "down", reasons: reasonX });
    }
    if (this.nodes.has(y)) {
      step.nodeEvent(y, { peer: x, kind: "down", reasons: reasonY });
    }
  }

  /** A connection x–y comes up: a NodeUp on each side. */
  gain(step: Step, x: string, y: string): void {
    this.edges.add(pairKey(x, y));
    step.nodeEvent(x, { peer: y, kind: "up", reasons: [] });
    step.nodeEvent(y, { peer: x, kind: "up", reasons: [] });
  }

  actualReason(a: Actor): ExitReason {
    const r = this.exitReasons.get(a);
    assert.ok(r !== undefined || !a.alive, `model: ${a.label} is alive`);
    return r as ExitReason;
  }
  readonly exitReasons = new Map<Actor, ExitReason>();
  readonly tally = new Map<string, number>();

  nextSeq(from: Actor, to: Actor): number {
    const key = `${from.label}>${to.label}`;
    const n = (this.seqs.get(key) ?? 0) + 1;
    this.seqs.set(key, n);
    return n;
  }

  // ---- settling and checking ----

  fresh(a: Actor): unknown[] {
    return a.log.slice(a.checked);
  }

  /** Waits for what `step` predicts, passes a barrier, and checks everything. */
  async settle(step: Step): Promise<void> {
    const waits: Promise<unknown>[] = [];
    for (const [a, reasons] of step.deaths) {
      const exited = step.exited.get(a);
      if (exited === undefined) continue; // its node stopped: shutdown
      waits.push(
        withTimeout(exited, () => `${a.label} to die`).then((r) => {
          this.exitReasons.set(a, r);
          assert.ok(
            hasReason(reasons, r),
            `${a.label} died of ${show(r)}; expected one of ${show(reasons)}`,
          );
        }),
      );
    }
    for (const [a, list] of step.expect) {
      if (!a.alive) continue;
      waits.push(
        this.until(
          () => this.fresh(a).length >= list.length,
          () =>
            `${a.label} to get ${show(list)}; it has ${show(this.fresh(a))}`,
        ),
      );
    }
    for (const [name, list] of step.nodeEvents) {
      const ns = this.nodes.get(name);
      if (ns === undefined) continue;
      waits.push(
        this.until(
          () => ns.events.length - ns.checked >= list.length,
          () =>
            `${name} to see ${show(list)}; it saw ${
              show(ns.events.slice(ns.checked))
            }`,
        ),
      );
    }
    await Promise.all(waits);
    await this.barrier();
    this.checkMailboxes(step);
    this.checkNodeEvents(step);
    this.audit();
  }

  /** Every node pings every peer twice; each answers after all it sent before. */
  async barrier(): Promise<void> {
    for (let round = 0; round < 2; round++) {
      await settle();
      await Promise.all(this.liveNodes().map((n) => n.node.syncGlobal()));
    }
    await settle();
  }

  checkMailboxes(step: Step): void {
    for (const a of this.live()) {
      const got = this.fresh(a);
      a.checked = a.log.length;
      const want = [...(step.expect.get(a) ?? [])];
      for (const m of got) {
        const k = m instanceof Down
          ? `Down ${show((m as Down).reason)}`
          : m instanceof Exit
          ? `Exit ${show((m as Exit).reason)}`
          : "msg";
        this.tally.set(k, (this.tally.get(k) ?? 0) + 1);
      }
      const where = `${a.label} (trap ${a.trap}) on ${a.node}`;
      const lastSeq = new Map<string, number>();
      got.forEach((m, i) => {
        let j = -1;
        if (m instanceof Down) {
          j = want.findIndex((e) => e.kind === "down" && e.ref.equals(m.ref));
        } else if (m instanceof Exit) {
          j = want.findIndex((e) => e.kind === "exit" && e.from.equals(m.from));
        } else if (isApp(m)) {
          j = want.findIndex((e) =>
            e.kind === "msg" && e.from === m.from && e.seq === m.seq
          );
          // D5: in the order sent.
          assert.ok(
            (lastSeq.get(m.from) ?? 0) < m.seq,
            `${where}: ${show(m)} out of order`,
          );
          lastSeq.set(m.from, m.seq);
        }
        assert.ok(
          j >= 0,
          `${where}: unexpected ${show(m)} (expected ${show(want)}; got ${
            show(got)
          })`,
        );
        const e = want.splice(j, 1)[0]!;
        if (e.kind !== "msg") {
          const r = (m as Down | Exit).reason;
          const ok = e.reasons();
          assert.ok(
            hasReason(ok, r),
            `${where}: ${show(m)} has reason ${show(r)}; expected one of ${
              show(ok)
            }`,
          );
          // D5: what a dying process sent before it died comes first.
          const from = m instanceof Exit ? m.from : undefined;
          const dying = [...step.finals.keys()].find((d) =>
            from !== undefined
              ? d.pid.equals(from)
              : (m as Down).pid?.equals(d.pid) ||
                ((m as Down).name === d.localName &&
                  (m as Down).node === d.node)
          );
          if (dying !== undefined && step.finals.get(dying)!.has(a.label)) {
            const before = got.slice(0, i).some((x) =>
              isApp(x) && x.from === dying.label
            );
            assert.ok(before, `${where}: ${show(m)} overtook a message (D5)`);
          }
        }
      });
      assert.deepEqual(want, [], `${where}: never got ${show(want)}`);
    }
  }

  checkNodeEvents(step: Step): void {
    for (const ns of this.liveNodes()) {
      const got = ns.events.slice(ns.checked);
      ns.checked = ns.events.length;
      const want = [...(step.nodeEvents.get(ns.name) ?? [])];
      for (const e of got) {
        const kind = e instanceof NodeUp ? "up" : "down";
        const j = want.findIndex((w) => w.peer === e.node && w.kind === kind);
        assert.ok(
          j >= 0,
          `${ns.name}: unexpected ${show(e)}; expected ${show(want)}`,
        );
        const w = want.splice(j, 1)[0]!;
        if (e instanceof NodeDown) {
          assert.ok(
            w.reasons.includes(e.reason),
            `${ns.name}: ${show(e)}; expected a reason in ${show(w.reasons)}`,
          );
        } else {
          const peer = this.nodes.get(e.node);
          assert.equal(e.creation, peer?.node.creation, "NodeUp creation");
        }
      }
      assert.deepEqual(want, [], `${ns.name}: never saw ${show(want)}`);
      // D8: the node monitor (monitorNode of every other node) got the same.
      const obs = ns.observer;
      const seen = obs.log.slice(obs.checked);
      obs.checked = obs.log.length;
      const mirrored = got.filter((_, i) =>
        ns.checked - got.length + i >= ns.mirrorFrom
      );
      assert.deepEqual(
        seen.map((m) => show(m)),
        mirrored.map((m) => show(m)),
        `${ns.name}: monitorNode and onNodeEvent disagree`,
      );
    }
  }

  /** No stale state anywhere: tables, connections, names, stats. */
  audit(): void {
    for (const ns of this.liveNodes()) {
      const { node } = ns;
      const rt = node.runtime;
      const neighbours = this.names.filter((n) =>
        n !== ns.name && this.edges.has(pairKey(n, ns.name))
      ).sort();
      assert.deepEqual(node.nodes().sort(), neighbours, `${ns.name}.nodes()`);
      for (const peer of this.names) {
        if (peer === ns.name) continue;
        const stats = node.stats(peer);
        if (!neighbours.includes(peer)) {
          assert.equal(stats, undefined, `${ns.name}.stats(${peer})`);
          continue;
        }
        assert.ok(stats !== undefined, `${ns.name}.stats(${peer})`);
        assert.equal(stats.creation, this.nodes.get(peer)!.node.creation);
        for (const v of [stats.framesIn, stats.framesOut, stats.bytesIn]) {
          assert.ok(Number.isInteger(v) && v > 0, `stats ${show(stats)}`);
        }
        assert.ok(stats.bytesOut >= stats.framesOut, `stats ${show(stats)}`);
        assert.ok(stats.queuedBytes >= 0 && stats.queuedBytes < 1 << 20);
        assert.ok(stats.idleMs >= 0);
      }
      // Global names: this node's and its neighbours' live holders (D7, N2).
      const names = this.live().filter((a) =>
        a.globalName !== undefined &&
        (a.node === ns.name || neighbours.includes(a.node))
      );
      assert.deepEqual(
        node.globalNames(),
        names.map((a) => a.globalName!).sort(),
        `${ns.name}.globalNames()`,
      );
      for (const a of names) {
        assert.ok(node.whereisGlobal(a.globalName!)?.equals(a.pid));
      }
      // Processes: the live actors here and the observer, nothing else.
      const mine = this.actors.filter((a) =>
        a.node === ns.name && a.gen === ns.gen
      );
      for (const a of mine) {
        assert.equal(rt.isAlive(a.pid), a.alive, `${a.label} alive`);
      }
      assert.equal(
        rt.processCount,
        mine.filter((a) => a.alive).length + 1,
        `${ns.name}.processCount`,
      );
    }
    for (const a of this.live()) {
      const rt = this.nodes.get(a.node)!.node.runtime;
      const info = rt.processInfo(a.pid);
      assert.ok(info !== undefined, `${a.label} has info`);
      const keys = (pids: readonly Pid[]) => pids.map((p) => p.key).sort();
      const linked = this.links.filter((l) => l.a === a || l.b === a).map((
        l,
      ) => (l.a === a ? l.b : l.a).pid);
      assert.deepEqual(
        keys(info.links),
        keys(linked),
        `${a.label}.links (a stale link survives?)`,
      );
      const held = this.mons.filter((m) => m.watcher === a);
      assert.deepEqual(
        info.monitors.map((m) => m.ref.key).sort(),
        held.map((m) => m.ref.key).sort(),
        `${a.label}.monitors`,
      );
      assert.deepEqual(
        keys(info.monitoredBy),
        keys(this.mons.filter((m) => m.target === a).map((m) => m.watcher.pid)),
        `${a.label}.monitoredBy`,
      );
    }
  }
}

function withTimeout<T>(p: Promise<T>, what: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out waiting for ${what()}`)),
      SAFETY_MS,
    );
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

// ---- events ----

/** New actors (up to four live per node) and random relations among connected ones. */
async function grow(w: World): Promise<Step> {
  const step = new Step("grow");
  for (const ns of w.liveNodes()) {
    const have = w.live().filter((a) => a.node === ns.name).length;
    for (let i = have; i < 4; i++) await w.spawnActor(ns);
  }
  const live = w.live();
  const made: string[] = [];
  // Mostly between connected nodes; now and then across a lost connection,
  // which a link or monitor makes again on first use (D2).
  const pairs = () => {
    const a = w.rng.pick(live);
    const anywhere = w.rng.chance(0.15);
    const others = live.filter((b) =>
      b !== a && (anywhere || w.connected(a.node, b.node))
    );
    if (others.length === 0) return undefined;
    const b = w.rng.pick(others);
    if (!w.connected(a.node, b.node)) {
      w.gain(step, a.node, b.node);
      made.push(`(${a.node} connects to ${b.node} on first use)`);
    }
    return [a, b] as const;
  };
  for (let i = 0; i < 8; i++) {
    const p = pairs();
    if (p === undefined) continue;
    const [a, b] = p;
    if (
      w.links.some((l) => (l.a === a && l.b === b) || (l.a === b && l.b === a))
    ) {
      continue;
    }
    if (a.node !== b.node && w.rng.chance(0.5)) {
      a.proc.link([b.localName, b.node]); // N3: by name, looked up there
      made.push(`${a.label} links [${b.localName}, node]`);
    } else {
      a.proc.link(b.pid);
      made.push(`${a.label} links ${b.label}`);
    }
    w.links.push({ a, b });
  }
  for (let i = 0; i < 8; i++) {
    const p = pairs();
    if (p === undefined) continue;
    const [a, b] = p;
    const how = w.rng.int(3);
    let ref: Ref;
    if (how === 0) ref = a.proc.monitor(b.pid);
    else if (a.node === b.node) ref = a.proc.monitor(b.localName);
    else ref = a.proc.monitor([b.localName, b.node]);
    const desc = ["pid", "name", "name"][how]!;
    made.push(`${a.label} monitors ${b.label} by ${desc}`);
    w.mons.push({ watcher: a, target: b, ref, how: desc });
  }
  w.trace.push(`grow: ${made.join(", ")}`);
  return step;
}

const REASONS: (ExitReason | "crash")[] = [
  "normal",
  "shutdown",
  "boom",
  { why: "chaos", n: 7 },
  "crash",
];

/** An actor dies: killed, crashed, or stopped with a reason; first it sends a message to each partner (D5). */
function kill(w: World): Step | undefined {
  const live = w.live();
  if (live.length === 0) return undefined;
  const t = w.rng.pick(live);
  const rt = w.nodes.get(t.node)!.node.runtime;
  if (w.rng.chance(0.3)) {
    const step = new Step(`kill ${t.label}`);
    w.die(step, t, ["killed"]);
    rt.exit(t.pid, "kill");
    return step;
  }
  const reason = w.rng.pick(REASONS);
  const step = new Step(`${t.label} dies with ${show(reason)}`);
  const partners = new Set<Actor>([
    ...w.links.filter((l) => l.a === t || l.b === t).map((l) =>
      l.a === t ? l.b : l.a
    ),
    ...w.mons.filter((m) => m.target === t).map((m) => m.watcher),
  ]);
  const finals = new Set<string>();
  for (const p of partners) {
    const seq = w.nextSeq(t, p);
    t.proc.send(p.pid, { chaos: "msg", from: t.label, seq });
    step.add(p, { kind: "msg", from: t.label, seq });
    finals.add(p.label);
  }
  step.finals.set(t, finals);
  w.die(step, t, [
    reason === "crash" ? new Crash("Error", `chaos crash ${t.label}`) : reason,
  ]);
  rt.send(t.pid, { chaosCmd: "die", reason } satisfies DieCmd);
  return step;
}

/** exit(pid or [name, node], reason) from a process, usually on another node (D6, L3). */
function exitSignal(w: World): Step | undefined {
  const live = w.live();
  const pairs = live.flatMap((k) =>
    live.filter((t) => t !== k && w.connected(k.node, t.node)).map((t) =>
      [k, t] as const
    )
  );
  if (pairs.length === 0) return undefined;
  const [k, t] = w.rng.pick(pairs);
  const reason = w.rng.pick<ExitReason>(["kill", "boom", "normal", {
    why: "exit",
  }]);
  const byName = k.node !== t.node && w.rng.chance(0.3);
  const step = new Step(
    `${k.label} exit(${byName ? "[name, node] of " : ""}${t.label}, ${
      show(reason)
    })`,
  );
  if (reason === "kill") w.die(step, t, ["killed"]);
  else if (t.trap) {
    step.add(t, { kind: "exit", from: k.pid, reasons: () => [reason] });
  } else if (reason !== "normal") w.die(step, t, [reason]);
  k.proc.exit(byName ? [t.localName, t.node] : t.pid, reason);
  return step;
}

/** A burst of messages from one actor to another, by pid, name or global name; across a lost connection, it reconnects first (D2). */
function send(w: World): Step | undefined {
  const live = w.live();
  if (live.length < 2) return undefined;
  const a = w.rng.pick(live);
  const b = w.rng.chance(0.1)
    ? w.rng.pick(w.actors.filter((x) => x !== a))
    : w.rng.pick(live.filter((x) => x !== a));
  const n = 1 + w.rng.int(20);
  const bNode = w.nodes.get(b.node)!;
  const stale = b.gen !== bNode.gen;
  const how = stale ? 0 : w.rng.int(3);
  const step = new Step(
    `${a.label} sends ${n} to ${b.label}${b.alive ? "" : " (dead)"} by ${
      ["pid", "name", "global name"][how]
    }`,
  );
  if (!w.connected(a.node, b.node)) w.gain(step, a.node, b.node); // D2
  const global = b.globalName === undefined || !b.alive
    ? undefined
    : w.nodes.get(a.node)!.node.whereisGlobal(b.globalName);
  for (let i = 0; i < n; i++) {
    if (b.alive) {
      const seq = w.nextSeq(a, b);
      step.add(b, { kind: "msg", from: a.label, seq });
      const msg: AppMsg = { chaos: "msg", from: a.label, seq };
      if (how === 1) a.proc.send([b.localName, b.node], msg);
      else if (how === 2 && global !== undefined) a.proc.send(global, msg);
      else a.proc.send(b.pid, msg);
    } else {
      a.proc.send(b.pid, { chaos: "msg", from: a.label, seq: -1 }); // dropped (P3, D1)
    }
  }
  return step;
}

function demonitor(w: World): Step | undefined {
  if (w.mons.length === 0) return undefined;
  const m = w.rng.pick(w.mons);
  const flush = w.rng.chance(0.5);
  const step = new Step(
    `${m.watcher.label} demonitors ${m.target.label}${flush ? " (flush)" : ""}`,
  );
  w.mons = w.mons.filter((x) => x !== m);
  assert.equal(m.watcher.proc.demonitor(m.ref, { flush }), true, step.desc);
  return step;
}

/**
 * A demonitor (with flush) in the same turn as the target's death: no Down,
 * ever (M3). Either the test demonitors and then kills, or the watcher itself
 * runs `exit(target, "kill"); demonitor(ref, { flush: true })` — as in
 * Erlang, only the process itself can flush its own mailbox.
 */
function demonitorRace(w: World): Step | undefined {
  if (w.mons.length === 0) return undefined;
  const m = w.rng.pick(w.mons);
  const first = w.rng.chance(0.5);
  const t = m.target;
  const step = new Step(
    first
      ? `${m.watcher.label} demonitors ${t.label}, then ${t.label} is killed`
      : `${m.watcher.label} kills ${t.label} and demonitors it (flush)`,
  );
  w.mons = w.mons.filter((x) => x !== m);
  w.die(step, t, ["killed"]);
  if (first) {
    assert.equal(m.watcher.proc.demonitor(m.ref, { flush: true }), true);
    w.nodes.get(t.node)!.node.runtime.exit(t.pid, "kill");
  } else {
    const cmd: KillDemonitorCmd = {
      chaosCmd: "killAndDemonitor",
      target: t.pid,
      ref: m.ref,
    };
    w.nodes.get(m.watcher.node)!.node.runtime.send(m.watcher.pid, cmd);
  }
  return step;
}

function unlink(w: World): Step | undefined {
  if (w.links.length === 0) return undefined;
  const l = w.rng.pick(w.links);
  const [p, q] = w.rng.chance(0.5) ? [l.a, l.b] : [l.b, l.a];
  const step = new Step(`${p.label} unlinks ${q.label}`);
  w.links = w.links.filter((x) => x !== l);
  p.proc.unlink(q.pid);
  return step;
}

function disconnect(w: World): Step | undefined {
  const edges = [...w.edges];
  if (edges.length === 0) return undefined;
  const [x, y] = w.rng.pick(edges).split("|") as [string, string];
  const [from, to] = w.rng.chance(0.5) ? [x, y] : [y, x];
  const step = new Step(`${from} disconnects ${to}`);
  w.lose(step, from, to, ["disconnected"], ["connection_closed"]);
  assert.equal(w.nodes.get(from)!.node.disconnect(to), true);
  return step;
}

async function reconnect(w: World): Promise<Step | undefined> {
  const missing = w.names.flatMap((x) =>
    w.names.filter((y) => x < y && !w.edges.has(pairKey(x, y))).map((y) =>
      [x, y] as const
    )
  );
  if (missing.length === 0) return undefined;
  const [x, y] = w.rng.pick(missing);
  const step = new Step(`${x} connects to ${y}`);
  w.gain(step, x, y);
  const to = w.nodes.get(y)!.node;
  await w.nodes.get(x)!.node.connect(y, to.address!);
  return step;
}

/** A kill racing a disconnect of the victim's node from another. */
async function race(w: World): Promise<Step | undefined> {
  const edges = [...w.edges];
  const live = w.live();
  const choices = live.flatMap((t) =>
    edges.filter((e) => e.split("|").includes(t.node)).map((e) =>
      [t, e] as const
    )
  );
  if (choices.length === 0) return undefined;
  const [t, edge] = w.rng.pick(choices);
  const [x, y] = edge.split("|") as [string, string];
  const other = x === t.node ? y : x;
  const [from, to] = w.rng.chance(0.5) ? [t.node, other] : [other, t.node];
  const delay = w.rng.int(3);
  const step = new Step(
    `kill ${t.label} racing ${from} disconnects ${to} (delay ${delay})`,
  );
  // The kill's signals across the lost connection may or may not get
  // through before it closes: noconnection or the exit reason, both legal
  // (in Erlang too: a signal in flight when the connection drops is lost,
  // and the link/monitor then fires with noconnection).
  step.lost.add(edge);
  w.die(step, t, ["killed"]);
  w.lose(step, from, to, ["disconnected"], ["connection_closed"]);
  w.nodes.get(t.node)!.node.runtime.exit(t.pid, "kill");
  if (delay === 1) { for (let i = 0; i < 10; i++) await Promise.resolve(); }
  if (delay === 2) await new Promise((r) => setTimeout(r, 0));
  assert.equal(w.nodes.get(from)!.node.disconnect(to), true);
  return step;
}

/** Stops a node: its processes end with shutdown, its peers run D7 (S1). */
async function stopNode(w: World, name: string): Promise<Step> {
  const ns = w.nodes.get(name)!;
  const step = new Step(`stop ${name}`);
  // Each connection of the node is lost; its processes' last exit signals
  // are written before the close, but may also be overtaken: either reason.
  for (const peer of w.names) {
    if (w.edges.has(pairKey(name, peer))) step.lost.add(pairKey(name, peer));
  }
  for (const a of w.live().filter((a) => a.node === name)) {
    w.die(step, a, ["shutdown"]);
    w.exitReasons.set(a, "shutdown");
  }
  for (const peer of w.names) {
    if (w.edges.has(pairKey(name, peer))) {
      w.lose(step, name, peer, ["node_stopped"], ["connection_closed"]);
    }
  }
  ns.unsubscribe();
  w.nodes.delete(name);
  await ns.node.stop();
  return step;
}

/** Starts a node under the name of a stopped one: a new creation; old pids are dead (D1). */
async function startAgain(
  w: World,
  name: string,
  oldCreation: number,
): Promise<Step> {
  const gen =
    Math.max(...w.actors.filter((a) => a.node === name).map((a) => a.gen), 0) +
    1;
  const ns = await w.startNode(name, gen);
  assert.notEqual(ns.node.creation, oldCreation, "a new creation");
  const step = new Step(`start ${name} again`);
  for (const peer of w.names) {
    if (peer === name) continue;
    w.gain(step, name, peer);
    await ns.node.connect(peer, w.nodes.get(peer)!.node.address!);
  }
  ns.mirrorFrom = ns.events.length;
  for (const peer of w.names) {
    if (peer !== name) ns.node.monitorNode(ns.observer.pid, peer);
  }
  // Pids and names of the earlier life are dead (D1): noproc, never noconnection.
  const old = w.actors.filter((a) => a.node === name && a.gen < gen);
  const watchers = w.live().filter((a) => a.node !== name);
  for (let i = 0; i < 3 && old.length > 0 && watchers.length > 0; i++) {
    const dead = w.rng.pick(old);
    const wa = w.rng.pick(watchers);
    // A second link to the same dead pid before the first's noproc came
    // back finds the link already there: one Exit, as in Erlang.
    const linkAgain = step.expect.get(wa)?.some((e) =>
      e.kind === "exit" && e.from.equals(dead.pid)
    );
    assert.equal(ns.node.runtime.processInfo(dead.pid), undefined);
    assert.equal(ns.node.runtime.isAlive(dead.pid), false);
    const ref = wa.proc.monitor(dead.pid);
    step.add(wa, { kind: "down", ref, reasons: () => ["noproc"] });
    const byName = wa.proc.monitor([dead.localName, name]);
    step.add(wa, { kind: "down", ref: byName, reasons: () => ["noproc"] });
    wa.proc.send(dead.pid, { chaos: "msg", from: wa.label, seq: -1 });
    if (wa.trap && !linkAgain) {
      wa.proc.link(dead.pid);
      step.add(wa, { kind: "exit", from: dead.pid, reasons: () => ["noproc"] });
    }
  }
  return step;
}

/** Memory transport only: the connection x–y goes silent both ways; heartbeats find it (D9). */
function partition(w: World): Step | undefined {
  const edges = [...w.edges];
  if (edges.length === 0 || w.memory === undefined) return undefined;
  const edge = w.rng.pick(edges);
  const ends = w.ends.get(edge);
  if (ends === undefined || ends.length < 2) return undefined;
  const [x, y] = edge.split("|") as [string, string];
  const step = new Step(`silent partition ${x} / ${y}`);
  // Either side may time out first; the other then hears the close.
  const either: NodeDownReason[] = ["heartbeat_timeout", "connection_closed"];
  w.lose(step, x, y, either, either);
  for (const end of ends) end.cut(); // the live pair, and closed ones
  return step;
}

// ---- the run ----

async function chaos(seed: number, memory: boolean): Promise<void> {
  const w = new World(seed, memory);
  const count = 3 + (seed % 2);
  const base = memory ? "m" : "t";
  for (let i = 0; i < count; i++) {
    w.names.push(`${base}${String.fromCharCode(97 + i)}${++nameSeq}@127.0.0.1`);
  }
  let stepNo = 0;
  let desc = "setup";
  try {
    for (const name of w.names) await w.startNode(name, 1);
    const setup = new Step("mesh");
    for (const [i, x] of w.names.entries()) {
      for (const y of w.names.slice(i + 1)) {
        w.gain(setup, x, y);
        await w.nodes.get(x)!.node.connect(y, w.nodes.get(y)!.node.address!);
      }
    }
    for (const ns of w.liveNodes()) {
      ns.mirrorFrom = ns.events.length;
      for (const peer of w.names) {
        if (peer !== ns.name) ns.node.monitorNode(ns.observer.pid, peer);
      }
    }
    await w.settle(setup);
    let step: Step | undefined = await grow(w);
    await w.settle(step);
    for (stepNo = 1; stepNo <= STEPS; stepNo++) {
      const roll = w.rng.next();
      step = undefined;
      if (w.live().length < w.names.length * 2 || roll < 0.08) {
        step = await grow(w);
      } else if (roll < 0.3) step = kill(w);
      else if (roll < 0.4) step = exitSignal(w);
      else if (roll < 0.55) step = send(w);
      else if (roll < 0.61) {
        step = w.rng.chance(0.5) ? demonitor(w) : demonitorRace(w);
      } else if (roll < 0.66) step = unlink(w);
      else if (roll < 0.76) {
        step = memory && w.rng.chance(0.5) ? partition(w) : disconnect(w);
      } else if (roll < 0.85) step = await reconnect(w);
      else if (roll < 0.92) step = await race(w);
      else {
        const name = w.rng.pick(w.names);
        const creation = w.nodes.get(name)!.node.creation;
        step = await stopNode(w, name);
        desc = step.desc;
        w.trace.push(`${stepNo}: ${desc}`);
        await w.settle(step);
        step = await startAgain(w, name, creation);
      }
      if (step === undefined) continue;
      desc = step.desc;
      w.trace.push(`${stepNo}: ${desc}`);
      await w.settle(step);
    }
    // The end: every node stops; the last one alone has nothing left.
    const names = [...w.names];
    for (const name of names.slice(0, -1)) {
      step = await stopNode(w, name);
      desc = step.desc;
      w.trace.push(`end: ${desc}`);
      await w.settle(step);
    }
    const last = w.nodes.get(names.at(-1)!)!;
    assert.deepEqual(last.node.nodes(), []);
    assert.deepEqual(
      last.node.globalNames(),
      w.live().filter((a) => a.globalName !== undefined).map((a) =>
        a.globalName!
      ).sort(),
    );
    if (Deno.env.get("MOTE_CHAOS_VERBOSE") !== undefined) {
      console.log(`seed ${seed}:\n  ${w.trace.join("\n  ")}`);
      console.log(w.tally);
    }
  } catch (error) {
    const msg = error instanceof Error ? error.message : String(error);
    throw new Error(
      `chaos seed ${seed} (${
        memory ? "memory" : "tcp"
      }), step ${stepNo} "${desc}": ${msg}\n` +
        `replay: MOTE_CHAOS_SEED=${seed}\ntrace:\n  ${
          w.trace.slice(-25).join("\n  ")
        }`,
      { cause: error },
    );
  } finally {
    await Promise.all(w.liveNodes().map((ns) => ns.node.stop()));
  }
}

const seeds = envSeed === undefined ? SEEDS : [Number(envSeed)];

Deno.test("D7: seeded chaos over TCP — links, monitors, names, kills, disconnects, reconnects and restarts leave exactly what the rules say", async () => {
  for (const seed of seeds) await chaos(seed, false);
});

Deno.test("D9: seeded chaos over the in-memory transport — silent partitions found by heartbeats run D7 like any loss", async () => {
  for (const seed of seeds) await chaos(seed, true);
});

// Found while building the restart event of the model above (which runs with
// `mesh: false` so as not to depend on it): a node that restarted on a new
// port was never meshed with a node that knew its old address. A peer list
// entry for a third node only filled a gap (node.ts, #onPeerList), so the
// stale address outranked the fresh one a connected peer reported; the dial
// to it failed ("Cannot reach node"), and the two stayed apart although both
// were connected to the same peer. Erlang asks EPMD at each connect, so the
// mesh forms. Now the reported address is tried when the known one fails.
Deno.test({
  name:
    "D8: a node restarted on a new port joins the mesh of a node that knew its old address",
  fn: async () => {
    const n = ++nameSeq;
    const cName = `restarted${n}@127.0.0.1`;
    const warnings: string[] = [];
    const outcome = Promise.withResolvers<string>();
    const logger = {
      error: (m: string) => warnings.push(m),
      warn: (m: string) => {
        warnings.push(m);
        // The failed dial to the stale address says so here.
        if (m.includes(`Cannot reach node ${cName}`)) {
          outcome.resolve(`not meshed: ${m}`);
        }
      },
    };
    const a = await startNode({
      name: `a${n}@127.0.0.1`,
      cookie: COOKIE,
      logger,
    });
    const b = await startNode({ name: `b${n}@127.0.0.1`, cookie: COOKIE });
    let c = await startNode({ name: cName, cookie: COOKIE });
    try {
      await a.connect(b.name, b.address!);
      await a.connect(cName, c.address!); // a learns c's address
      a.disconnect(b.name);
      a.disconnect(cName);
      await c.stop();
      c = await startNode({ name: cName, cookie: COOKIE }); // a new port
      await c.connect(b.name, b.address!);
      // a meets b again; b's peer list names c at its new address.
      a.onNodeEvent((e) => {
        if (e instanceof NodeUp && e.node === cName) outcome.resolve("meshed");
      });
      await a.connect(b.name, b.address!);
      assert.equal(await outcome.promise, "meshed");
      assert.deepEqual(a.nodes().sort(), [b.name, cName].sort());
    } finally {
      await Promise.all([a.stop(), b.stop(), c.stop()]);
    }
  },
});
