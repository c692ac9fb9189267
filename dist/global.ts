/**
 * Global names: one name → pid replica per node, kept in step over the
 * sessions (tags 0x30–0x34). `node.ts` only wires it in.
 *
 * Rules, in the order they matter:
 *
 * - Each node is the authority for its own processes. It alone registers,
 *   unregisters and releases names held by them, and it tells every connected
 *   peer directly: GLOBAL_REGISTER / GLOBAL_UNREGISTER as things change, and
 *   a GLOBAL_SYNC of all its own names when a connection comes up (so a node
 *   that joins learns the existing names, and two replicas that diverged while
 *   apart merge). A frame about a pid of any other node is a protocol error.
 *   This needs the full mesh a cluster forms by default.
 * - Conflict: when a replica learns that a name it maps to a pid of node X is
 *   held by a pid of another node Y, the pid that sorts first (node name, then
 *   creation, then id) wins. Every replica computes the same winner from the
 *   same two pids, with no coordination. Only the node that hosts the loser
 *   tells it ({@linkcode GlobalNameConflict}), so it is told exactly once.
 * - Release: a registered process's exit releases its names (its node
 *   broadcasts GLOBAL_UNREGISTER); a lost connection drops, on this side, every
 *   name held by that node's processes (D7).
 * - GLOBAL_PING / GLOBAL_PONG: a peer answers a ping after everything it sent
 *   before, so once every pong is in, this replica has seen every change its
 *   peers made before the ping reached them (Erlang's `global:sync()`).
 *
 * @module
 */
import {
  type FrameOf,
  type GlobalEntry,
  MAX_NAME_BYTES,
  Pid,
  Tag,
  tagName,
} from "../wire/mod.ts";
import type { LocalGate } from "../actor/router.ts";
import type { Runtime } from "../actor/runtime.ts";
import {
  describe,
  InvalidArgumentError,
  NoProcessError,
} from "../actor/errors.ts";
import type { Session } from "./session.ts";
import {
  GlobalNameTakenError,
  NodeStoppedError,
  ProtocolError,
} from "./errors.ts";
import { GlobalNameConflict } from "./messages.ts";

/** The frames {@linkcode GlobalRegistry.receive} handles. */
export type GlobalFrame = FrameOf<
  | typeof Tag.GLOBAL_REGISTER
  | typeof Tag.GLOBAL_UNREGISTER
  | typeof Tag.GLOBAL_SYNC
  | typeof Tag.GLOBAL_PING
  | typeof Tag.GLOBAL_PONG
>;

/** What the registry needs from its node. */
export interface GlobalHost {
  readonly runtime: Runtime;
  readonly gate: LocalGate;
  /** The sessions connected now. */
  sessions(): Iterable<Session>;
  /** The node's frame limit: a sync longer than this goes in parts. */
  readonly maxFrameBytes?: number;
}

// A GLOBAL_SYNC's length field, tag and count.
const SYNC_HEADER_BYTES = 4 + 1 + 4;
const utf8 = new TextEncoder();

/**
 * The deterministic conflict rule: whether `a` wins a name over `b`. Pids
 * compare by node name (UTF-16 code units, as `<` on strings), then creation,
 * then id; the smaller wins.
 */
export function globalWinner(a: Pid, b: Pid): Pid {
  if (a.node !== b.node) return a.node < b.node ? a : b;
  if (a.creation !== b.creation) return a.creation < b.creation ? a : b;
  return a.id <= b.id ? a : b;
}

const encoder = new TextEncoder();

/** Throws {@linkcode InvalidArgumentError} unless `name` can be a global name. */
export function checkGlobalName(name: unknown): asserts name is string {
  if (typeof name !== "string" || name.length === 0) {
    throw new InvalidArgumentError(
      "name",
      `expected a non-empty string, got ${describe(name)}`,
    );
  }
  if (!name.isWellFormed()) {
    // A lone surrogate would reach peers as U+FFFD: another name.
    throw new InvalidArgumentError(
      "name",
      "expected well-formed Unicode (no lone surrogates)",
    );
  }
  if (name.length * 3 > MAX_NAME_BYTES) {
    const n = encoder.encode(name).length;
    if (n > MAX_NAME_BYTES) {
      throw new InvalidArgumentError(
        "name",
        `a global name is at most ${MAX_NAME_BYTES} bytes of UTF-8, got ${n}`,
      );
    }
  }
}

/** One node's replica of the cluster's global names. */
export class GlobalRegistry {
  readonly #host: GlobalHost;
  readonly #node: string;
  /** name → holder, for every node's processes. */
  readonly #names = new Map<string, Pid>();
  /** pid key → names it holds, for this node's processes (watched for exit). */
  readonly #own = new Map<string, Set<string>>();
  /** Pings awaiting their pong, per session. */
  readonly #pings = new Map<Session, Map<number, () => void>>();
  #nextPing = 0;
  #stopped = false;

  constructor(host: GlobalHost) {
    this.#host = host;
    this.#node = host.runtime.node;
  }

  /** The holder of `name`, if this replica knows one. */
  whereis(name: string): Pid | undefined {
    return this.#names.get(name);
  }

  /** Every name in this replica, sorted. */
  names(): string[] {
    return [...this.#names.keys()].sort();
  }

  /** Registers local `pid` under `name` now and tells every peer. */
  register(name: string, pid: Pid): void {
    checkGlobalName(name);
    if (!(pid instanceof Pid)) {
      throw new InvalidArgumentError(
        "pid",
        `expected a Pid, got ${describe(pid)}`,
      );
    }
    if (this.#stopped) {
      throw new NodeStoppedError(`Cannot register "${name}" globally`);
    }
    if (pid.node !== this.#node) {
      throw new InvalidArgumentError(
        "pid",
        `${pid} is a process of ${pid.node}: register it on that node`,
      );
    }
    const runtime = this.#host.runtime;
    if (!runtime.isAlive(pid)) {
      throw new NoProcessError(`Cannot register "${name}" globally`, pid);
    }
    const holder = this.#names.get(name);
    if (holder !== undefined) {
      if (holder.equals(pid)) return;
      // A local holder that just exited is released a microtask later; its
      // name is free already.
      if (holder.node !== this.#node || runtime.isAlive(holder)) {
        throw new GlobalNameTakenError(name, holder);
      }
      this.#own.get(holder.key)?.delete(name);
    }
    this.#names.set(name, pid);
    let held = this.#own.get(pid.key);
    if (held === undefined) {
      this.#own.set(pid.key, held = new Set());
      runtime.whenExited(pid).then(() => this.#exited(pid));
    }
    held.add(name);
    this.#broadcast({ tag: Tag.GLOBAL_REGISTER, name, pid });
  }

  /** Unregisters `name`, held by a local process; false if nobody holds it. */
  unregister(name: string): boolean {
    checkGlobalName(name);
    const holder = this.#names.get(name);
    if (holder === undefined) return false;
    if (holder.node !== this.#node) {
      throw new InvalidArgumentError(
        "name",
        `"${name}" is held by ${holder}: only ${holder.node} can unregister it`,
      );
    }
    this.#release(name, holder);
    return true;
  }

  /**
   * Resolves once every peer connected now has answered a ping, so every
   * change it made before has reached this replica. A peer lost meanwhile
   * counts as answered (its names are gone).
   */
  sync(): Promise<void> {
    const waits: Promise<void>[] = [];
    if (this.#stopped) return Promise.resolve();
    for (const session of this.#host.sessions()) {
      const id = ++this.#nextPing;
      const { promise, resolve } = Promise.withResolvers<void>();
      let pending = this.#pings.get(session);
      if (pending === undefined) this.#pings.set(session, pending = new Map());
      pending.set(id, resolve);
      session.send({ tag: Tag.GLOBAL_PING, id });
      waits.push(promise);
    }
    return Promise.all(waits).then(() => {});
  }

  /**
   * A connection came up: tell the peer every name this node's processes
   * hold, in as many GLOBAL_SYNC frames as the node's frame limit needs
   * (each is applied entry by entry, so parts add up).
   */
  sessionUp(session: Session): void {
    const room = (this.#host.maxFrameBytes ?? Infinity) - SYNC_HEADER_BYTES;
    const nodeBytes = utf8.encode(this.#node).length;
    let entries: GlobalEntry[] = [];
    let size = 0;
    for (const [name, pid] of this.#names) {
      if (pid.node !== this.#node) continue;
      // name:name, then pid: node:name id:u53 creation:u32.
      const bytes = 1 + utf8.encode(name).length + 1 + nodeBytes + 12;
      if (entries.length > 0 && size + bytes > room) {
        session.send({ tag: Tag.GLOBAL_SYNC, entries });
        entries = [];
        size = 0;
      }
      entries.push({ name, pid });
      size += bytes;
    }
    session.send({ tag: Tag.GLOBAL_SYNC, entries });
  }

  /** A connection is gone (D7): forget its node's names, settle its pings. */
  sessionEnded(session: Session): void {
    for (const [name, pid] of this.#names) {
      if (pid.node === session.peer && pid.creation === session.creation) {
        this.#names.delete(name);
      }
    }
    const pending = this.#pings.get(session);
    this.#pings.delete(session);
    for (const resolve of pending?.values() ?? []) resolve();
  }

  /** The node stops: the replica empties and every pending sync resolves. */
  stop(): void {
    this.#stopped = true;
    this.#names.clear();
    for (const pending of this.#pings.values()) {
      for (const resolve of pending.values()) resolve();
    }
    this.#pings.clear();
  }

  /**
   * A global-name frame from `session`; throws {@linkcode ProtocolError} on a
   * forged one. One small handler per tag; the `never` check makes a new tag
   * that is not handled fail to compile.
   */
  receive(session: Session, frame: GlobalFrame): void {
    switch (frame.tag) {
      case Tag.GLOBAL_REGISTER:
        if (this.#fromPeer(session, frame.tag, frame.name, frame.pid)) {
          this.#learn(frame.name, frame.pid);
        }
        return;
      case Tag.GLOBAL_UNREGISTER:
        if (
          this.#fromPeer(session, frame.tag, frame.name, frame.pid) &&
          this.#names.get(frame.name)?.equals(frame.pid)
        ) this.#names.delete(frame.name);
        return;
      case Tag.GLOBAL_SYNC:
        return this.#onSync(session, frame);
      case Tag.GLOBAL_PING:
        return session.send({ tag: Tag.GLOBAL_PONG, id: frame.id });
      case Tag.GLOBAL_PONG:
        return this.#onPong(session, frame);
      default: {
        const unhandled: never = frame;
        throw new ProtocolError(
          session.peer,
          `unhandled frame ${String(unhandled)}`,
        );
      }
    }
  }

  #onSync(session: Session, frame: FrameOf<typeof Tag.GLOBAL_SYNC>): void {
    // Check every entry before applying any, so a forged one changes nothing.
    const valid = frame.entries.filter((e) =>
      this.#fromPeer(session, frame.tag, e.name, e.pid)
    );
    for (const e of valid) this.#learn(e.name, e.pid);
  }

  #onPong(session: Session, frame: FrameOf<typeof Tag.GLOBAL_PONG>): void {
    const pending = this.#pings.get(session);
    const resolve = pending?.get(frame.id);
    if (resolve === undefined) return;
    pending!.delete(frame.id);
    if (pending!.size === 0) this.#pings.delete(session);
    resolve();
  }

  /**
   * A peer speaks only for its own processes. False for a pid of its earlier
   * creation (dead, D1: dropped).
   */
  #fromPeer(session: Session, tag: number, name: string, pid: Pid): boolean {
    if (pid.node !== session.peer) {
      throw new ProtocolError(
        session.peer,
        `${tagName(tag)} for ${pid}, a pid of another node`,
      );
    }
    if (name.length === 0) {
      throw new ProtocolError(session.peer, `${tagName(tag)} with no name`);
    }
    return pid.creation === session.creation;
  }

  /** A peer's process holds `name`: apply it, or settle a conflict. */
  #learn(name: string, pid: Pid): void {
    const held = this.#names.get(name);
    // No holder, or one of the same node, which is the authority on it.
    if (held === undefined || held.node === pid.node) {
      this.#names.set(name, pid);
      return;
    }
    if (globalWinner(held, pid) === held) return; // pid's own node tells it
    this.#names.set(name, pid);
    if (held.node === this.#node) {
      this.#own.get(held.key)?.delete(name);
      this.#host.gate.deliver(held, new GlobalNameConflict(name, pid));
    }
  }

  #release(name: string, holder: Pid): void {
    this.#names.delete(name);
    this.#own.get(holder.key)?.delete(name);
    this.#broadcast({ tag: Tag.GLOBAL_UNREGISTER, name, pid: holder });
  }

  #exited(pid: Pid): void {
    const held = this.#own.get(pid.key);
    this.#own.delete(pid.key);
    if (this.#stopped || held === undefined) return;
    for (const name of held) {
      if (this.#names.get(name)?.equals(pid)) this.#release(name, pid);
    }
  }

  #broadcast(frame: GlobalFrame): void {
    for (const session of this.#host.sessions()) session.send(frame);
  }
}
