/**
 * Process groups, after Erlang's `pg`: any number of processes join a named
 * group, and every node of the cluster sees each group's members, with
 * events for those who watch a group.
 *
 * How it works, as in `pg`: each node runs one scope process, registered
 * under the scope's name. It keeps its own node's members and tells the
 * scope of every other node about each join and leave. Scopes find each
 * other when a connection comes up (`discover`, answered with a `sync` of
 * the answerer's members), and monitor each other: when a node goes or its
 * scope stops, its members leave everywhere. A member that exits leaves
 * every group it was in. Between two scopes, changes arrive in the order
 * they were made (D5); across the cluster, views converge as the messages
 * arrive, and nothing is agreed on beyond that.
 *
 * These are ordinary messages between the scopes, a map with a `$pg` key,
 * so they need nothing from the wire protocol. A malformed one is ignored,
 * as is one that lists pids of another node (or incarnation) than its
 * scope's. That keeps a confused peer from corrupting a view, not a hostile
 * one: as in Erlang, every connected node is trusted (it knows the cookie),
 * and a message does not say which node it came from. Scopes send only to
 * nodes that are connected, so groups never open a connection, and never
 * reopen one that was just closed.
 *
 * @module
 */
import { Pid, Ref } from "../wire/mod.ts";
import { Runtime } from "../actor/runtime.ts";
import type { Process } from "../actor/process.ts";
import { Down } from "../actor/messages.ts";
import { describe, InvalidArgumentError } from "../actor/errors.ts";
import { GroupsStoppedError } from "./errors.ts";
import { Node } from "./node.ts";
import { NodeUp } from "./messages.ts";

/**
 * What a process that monitors a group (or the whole scope) is sent when
 * the group changes: {@linkcode GroupJoin} or {@linkcode GroupLeave}.
 */
export abstract class GroupEvent {
  /** The monitor's reference: what {@linkcode Groups.monitor} returned. */
  readonly ref: Ref;
  /** The group that changed. */
  readonly group: string;
  /** The processes that joined or left, once for each time they did. */
  readonly pids: readonly Pid[];

  /** Builds an event; the scope does this. */
  constructor(ref: Ref, group: string, pids: readonly Pid[]) {
    this.ref = ref;
    this.group = group;
    this.pids = pids;
  }
}

/** Processes joined a group a process monitors. */
export class GroupJoin extends GroupEvent {}

/**
 * Processes left a group a process monitors, whether by
 * {@linkcode Groups.leave}, by exiting, or because their node's connection
 * or scope went.
 */
export class GroupLeave extends GroupEvent {}

/** Options of {@linkcode startGroups}. */
export interface GroupsOptions {
  /**
   * The scope: its process is registered under this name on each node, and
   * only scopes of the same name share groups. Default `"pg"`, as Erlang's
   * default scope.
   */
  readonly scope?: string;
}

/** What one other node's scope has told us. */
interface RemoteScope {
  readonly scope: Pid;
  readonly monitor: Ref;
  groups: Map<string, Pid[]>;
}

/** A local member's monitor, shared by all its joins. */
interface Watched {
  readonly monitor: Ref;
  joins: number;
  /** The groups it is in, and how many times in each. */
  readonly groups: Map<string, number>;
}

/** A process that watches a group (`group`) or the whole scope. */
interface Subscription {
  readonly pid: Pid;
  readonly ref: Ref;
  readonly group: string | undefined;
}

/**
 * Starts this node's scope process for process groups and returns its
 * handle. With a {@linkcode Node}, groups span every node that runs a scope
 * of the same name; with a bare `Runtime`, they are local. Throws
 * `NameTakenError` if the scope's name is registered already.
 *
 * @example
 * ```ts
 * import { Runtime } from "../mod.ts";
 * import { startGroups } from "./groups.ts";
 * const rt = new Runtime();
 * const groups = await startGroups(rt);
 * const worker = rt.spawn(async (proc) => void await proc.receive());
 * groups.join("workers", worker);
 * if (!groups.members("workers")[0]?.equals(worker)) throw new Error();
 * await rt.shutdown();
 * ```
 */
export async function startGroups(
  host: Node | Runtime,
  options: GroupsOptions = {},
): Promise<Groups> {
  const node = host instanceof Node ? host : undefined;
  if (node === undefined && !(host instanceof Runtime)) {
    throw new InvalidArgumentError(
      "groups host",
      `expected a Node or a Runtime, got ${describe(host)}`,
    );
  }
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError(
      "groups options",
      `expected an object, got ${describe(options)}`,
    );
  }
  const scope = options.scope ?? "pg";
  if (typeof scope !== "string" || scope.length === 0) {
    throw new InvalidArgumentError(
      "scope",
      `expected a non-empty string, got ${describe(scope)}`,
    );
  }
  const runtime = node?.runtime ?? host as Runtime;
  const ready = Promise.withResolvers<Process>();
  const groups = new Groups(runtime, scope, node, PRIVATE);
  const pid = runtime.spawn(async (proc) => {
    groups[ATTACH](proc); // before any message: a discover may be waiting
    ready.resolve(proc);
    for (;;) groups[HANDLE](await proc.receive());
  });
  // Registered at once, so a discover from another node finds it.
  try {
    runtime.register(scope, pid);
  } catch (error) {
    runtime.exit(pid, "kill");
    throw error;
  }
  // Killed before it ran (its runtime shut down, say): it never will.
  const proc = await Promise.race([
    ready.promise,
    runtime.whenExited(pid).then(() => undefined),
  ]);
  if (proc === undefined) throw new GroupsStoppedError(scope);
  return groups;
}

/**
 * Most pids in one message between scopes: a large join, leave or sync goes
 * in parts. Fewer when the node's frames are small: each part must fit its
 * `maxFrameBytes` (see `#pidsPerMessage`).
 */
const MAX_PIDS = 1024;
// Bytes of a message between scopes besides its pids and group names (its
// keys, the scope's pid, a part number), with room to spare.
const ENVELOPE_BYTES = 1024;
const utf8 = new TextEncoder();

/** Keys of what only this module may call on a `Groups`. */
const PRIVATE = Symbol("Groups");
const HANDLE = Symbol("handle");
const ATTACH = Symbol("attach");

/**
 * One node's view of a scope's process groups, and the way to change its
 * own part: join and leave local processes, read members (any node's), and
 * monitor groups. Made by {@linkcode startGroups}; reads are synchronous,
 * from the node's replica, as Erlang's `pg` reads its ETS table.
 *
 * Differences from `pg` to know: `members` lists this node's members first,
 * in the order they joined, then other nodes' (pg puts the newest first);
 * an event lists every pid that joined or left in one change, a pid once per
 * occurrence, where pg sends a pid that exits once per occurrence; and a
 * `GroupLeave` lists only the pids that were members, where pg echoes what
 * `leave` was given. Every method throws {@linkcode GroupsStoppedError}
 * once the scope has stopped.
 */
export class Groups implements AsyncDisposable {
  /** The scope's name. */
  readonly scope: string;
  #runtime: Runtime;
  #node: Node | undefined;
  #proc: Process | undefined;
  #local = new Map<string, Pid[]>();
  #watched = new Map<string, Watched>();
  #remote = new Map<string, RemoteScope>();
  #subscriptions = new Map<string, Subscription>();
  // Syncs in several parts, gathered until the last, by node.
  #partial = new Map<string, { scope: Pid; groups: Map<string, Pid[]> }>();
  // Subscribers, by pid key: the monitor that drops their subscriptions
  // when they exit, and those subscriptions' ref keys.
  #subscribers = new Map<string, { monitor: Ref; refs: Set<string> }>();
  #stopped: Promise<void> | undefined;

  /** Made by {@linkcode startGroups} only. */
  constructor(
    runtime: Runtime,
    scope: string,
    node: Node | undefined,
    key: symbol,
  ) {
    if (key !== PRIVATE) {
      throw new InvalidArgumentError(
        "Groups constructor",
        "groups are made by startGroups",
      );
    }
    this.#runtime = runtime;
    this.#node = node;
    this.scope = scope;
  }

  /** The scope process. */
  get pid(): Pid {
    return this.#pid!;
  }
  #pid: Pid | undefined;

  /** Wires the scope process to its node's events. */
  [ATTACH](proc: Process): void {
    this.#proc = proc;
    this.#pid = proc.self;
    let unsubscribe = () => {};
    const node = this.#node;
    if (node !== undefined) {
      unsubscribe = node.onNodeEvent((event) => {
        if (event instanceof NodeUp) this.#discover(event.node);
        else this.#partial.delete(event.node); // a sync cut short
      });
      for (const name of node.nodes()) this.#discover(name);
    }
    this.#stopped = this.#runtime.whenExited(proc.self).then(() => {
      unsubscribe();
      this.#proc = undefined;
      // What it knew goes with it: the other scopes see it go, too.
      this.#local.clear();
      this.#watched.clear();
      this.#remote.clear();
      this.#subscriptions.clear();
      this.#subscribers.clear();
      this.#partial.clear();
    });
  }

  /**
   * Adds local processes to `group` (a pid given twice, or joined twice,
   * is a member twice, and leaves once per leave). Throws
   * `InvalidArgumentError` for a group that is not a non-empty string or a
   * pid of another node, and {@linkcode GroupsStoppedError} once the scope
   * has stopped. A process that is already dead leaves again at once.
   *
   * @example
   * ```ts
   * import { Runtime } from "../mod.ts";
   * import { startGroups } from "./groups.ts";
   * const rt = new Runtime();
   * const groups = await startGroups(rt);
   * const a = rt.spawn(async (proc) => void await proc.receive());
   * groups.join("room", [a, a]);
   * if (groups.members("room").length !== 2) throw new Error();
   * groups.leave("room", a);
   * if (groups.members("room").length !== 1) throw new Error();
   * await rt.shutdown();
   * ```
   */
  join(group: string, pids: Pid | readonly Pid[]): void {
    const proc = this.#self();
    checkGroup(group);
    const list = this.#localPids(pids);
    if (list.length === 0) return;
    // Before anything changes: a group its node could never tell of.
    this.#pidsPerMessage(group);
    for (const pid of list) {
      const key = pid.key;
      let watched = this.#watched.get(key);
      if (watched === undefined) {
        watched = { monitor: proc.monitor(pid), joins: 0, groups: new Map() };
        this.#watched.set(key, watched);
      }
      watched.joins++;
      watched.groups.set(group, (watched.groups.get(group) ?? 0) + 1);
    }
    append(this.#local, group, list);
    this.#tellPeers("join", group, list);
    this.#notify(group, list, GroupJoin);
  }

  /**
   * Takes local processes out of `group`, once each. Returns whether any of
   * them was a member. Throws as {@linkcode Groups.join} does.
   */
  leave(group: string, pids: Pid | readonly Pid[]): boolean {
    this.#self();
    checkGroup(group);
    const left = this.#leaveLocal(group, this.#localPids(pids));
    if (left.length === 0) return false;
    this.#tellPeers("leave", group, left);
    this.#notify(group, left, GroupLeave);
    return true;
  }

  /** The members of `group` on every node this one knows of, this node's first. */
  members(group: string): Pid[] {
    this.#self();
    checkGroup(group);
    let all = this.#local.get(group) ?? [];
    for (const remote of this.#remote.values()) {
      const pids = remote.groups.get(group);
      if (pids !== undefined) all = all.concat(pids);
    }
    return all === this.#local.get(group) ? [...all] : all;
  }

  /** The members of `group` on this node. */
  localMembers(group: string): Pid[] {
    this.#self();
    checkGroup(group);
    return [...(this.#local.get(group) ?? [])];
  }

  /** Every group with a member on any node known, sorted. */
  whichGroups(): string[] {
    this.#self();
    const names = new Set(this.#local.keys());
    for (const remote of this.#remote.values()) {
      for (const group of remote.groups.keys()) names.add(group);
    }
    return [...names].sort();
  }

  /** Every group with a member on this node, sorted. */
  localGroups(): string[] {
    this.#self();
    return [...this.#local.keys()].sort();
  }

  /**
   * Watches `group` for process `pid` (a local one): it gets a
   * {@linkcode GroupJoin} or {@linkcode GroupLeave} with `ref` for every
   * change after the `members` returned, in order, until
   * {@linkcode Groups.demonitor} or its exit. Without `group`, watches
   * every group of the scope, and `members` is the current map.
   *
   * @example
   * ```ts
   * import { Runtime } from "../mod.ts";
   * import { GroupJoin, startGroups } from "./groups.ts";
   * const rt = new Runtime();
   * const groups = await startGroups(rt);
   * const seen = Promise.withResolvers<GroupJoin>();
   * rt.spawn(async (proc) => {
   *   const { ref } = groups.monitor(proc.self, "room");
   *   proc.send(proc.self, "ready");
   *   await proc.receive((m) => m === "ready");
   *   groups.join("room", proc.self);
   *   seen.resolve(await proc.receive((m) => m instanceof GroupJoin && m.ref.equals(ref)) as GroupJoin);
   * });
   * if ((await seen.promise).group !== "room") throw new Error();
   * await rt.shutdown();
   * ```
   */
  monitor(pid: Pid, group: string): { ref: Ref; members: Pid[] };
  /**
   * Watches every group of the scope for process `pid`; `members` maps each
   * group that has members now to them.
   */
  monitor(pid: Pid): { ref: Ref; members: Map<string, Pid[]> };
  monitor(
    pid: Pid,
    group?: string,
  ): { ref: Ref; members: Pid[] | Map<string, Pid[]> } {
    const proc = this.#self();
    if (group !== undefined) checkGroup(group);
    if (!(pid instanceof Pid)) {
      throw new InvalidArgumentError(
        "monitoring pid",
        `expected a Pid, got ${describe(pid)}`,
      );
    }
    const [subscriber] = this.#localPids(pid, "monitoring pid");
    const members = group !== undefined
      ? this.members(group)
      : new Map(this.whichGroups().map((g) => [g, this.members(g)]));
    const ref = this.#runtime.makeRef();
    this.#subscriptions.set(ref.key, { pid: subscriber!, ref, group });
    let entry = this.#subscribers.get(subscriber!.key);
    if (entry === undefined) {
      entry = { monitor: proc.monitor(subscriber!), refs: new Set() };
      this.#subscribers.set(subscriber!.key, entry);
    }
    entry.refs.add(ref.key);
    return { ref, members };
  }

  /** Stops the watch `ref` made; returns whether it was on. */
  demonitor(ref: Ref): boolean {
    this.#self();
    if (!(ref instanceof Ref)) {
      throw new InvalidArgumentError(
        "ref",
        `expected a Ref, got ${describe(ref)}`,
      );
    }
    const sub = this.#subscriptions.get(ref.key);
    if (sub === undefined) return false;
    this.#subscriptions.delete(ref.key);
    const entry = this.#subscribers.get(sub.pid.key)!;
    entry.refs.delete(ref.key);
    if (entry.refs.size === 0) {
      this.#subscribers.delete(sub.pid.key);
      this.#proc?.demonitor(entry.monitor, { flush: true });
    }
    return true;
  }

  /**
   * Stops the scope process: this node's members leave every group on the
   * other nodes (their scopes see it go), and this node's view empties.
   */
  async stop(): Promise<void> {
    const proc = this.#proc;
    if (proc !== undefined && this.#runtime.isAlive(proc.self)) {
      this.#runtime.exit(proc.self, "shutdown");
    }
    await this.#stopped;
  }

  /** Same as {@linkcode Groups.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /** Handles one message of the scope process. */
  [HANDLE](message: unknown): void {
    if (message instanceof Down) return this.#down(message);
    if (message === null || typeof message !== "object") return;
    try {
      this.#fromPeer(message as Record<string, unknown>);
    } catch {
      // A local sender's getter or Proxy that throws: not a scope's message.
    }
  }

  #fromPeer(m: Record<string, unknown>): void {
    const scope = m.scope;
    // Another connected node's scope, or nothing: a scope hears only from
    // its peers, and a scope of a bare runtime from none.
    if (
      !(scope instanceof Pid) || scope.node === this.#runtime.node ||
      this.#node?.stats(scope.node)?.creation !== scope.creation
    ) return;
    switch (m.$pg) {
      case "discover":
        return this.#discovered(scope);
      case "sync": {
        const groups = syncGroups(m.groups, scope);
        if (groups === undefined) return;
        // Parts of one sync, gathered by node: a part 0 starts afresh.
        const before = this.#partial.get(scope.node);
        const gathered = m.part === 0 || before === undefined ||
            !before.scope.equals(scope)
          ? new Map<string, Pid[]>()
          : before.groups;
        for (const [group, pids] of groups) append(gathered, group, pids);
        if (m.more === true) {
          this.#partial.set(scope.node, { scope, groups: gathered });
        } else {
          this.#partial.delete(scope.node);
          this.#synced(scope, gathered);
        }
        return;
      }
      case "join":
      case "leave": {
        const remote = this.#remote.get(scope.key);
        const pids = peerPids(m.pids, scope);
        if (
          remote === undefined || typeof m.group !== "string" ||
          m.group.length === 0 || pids === undefined || pids.length === 0
        ) return;
        if (m.$pg === "join") this.#remoteJoin(remote, m.group, pids);
        else this.#remoteLeave(remote, m.group, pids);
        return;
      }
    }
  }

  #self(): Process {
    const proc = this.#proc;
    if (proc === undefined || !this.#runtime.isAlive(proc.self)) {
      throw new GroupsStoppedError(this.scope);
    }
    return proc;
  }

  #localPids(pids: unknown, what = "pids"): Pid[] {
    const list = pids instanceof Pid ? [pids] : pids;
    if (!Array.isArray(list)) {
      throw new InvalidArgumentError(
        what,
        `expected a Pid or an array of them, got ${describe(pids)}`,
      );
    }
    for (const pid of list) {
      if (
        !(pid instanceof Pid) || pid.node !== this.#runtime.node ||
        pid.creation !== this.#runtime.creation
      ) {
        throw new InvalidArgumentError(
          what,
          `expected pids of this node (${this.#runtime.node}), got ${
            describe(pid)
          }`,
        );
      }
    }
    return [...list] as Pid[];
  }

  /** Whether `node` is connected now: scopes never open a connection (pg's `noconnect`). */
  #connected(node: string): boolean {
    return this.#node?.stats(node) !== undefined;
  }

  #discover(node: string): void {
    if (this.#proc === undefined || !this.#connected(node)) return;
    this.#proc.send([this.scope, node], {
      $pg: "discover",
      scope: this.#proc.self,
    });
  }

  /** Tells the connected scopes, in messages that fit a frame. */
  #tellPeers(op: "join" | "leave", group: string, pids: readonly Pid[]): void {
    const self = this.#proc!.self;
    const most = this.#pidsPerMessage(group);
    for (const remote of this.#remote.values()) {
      if (!this.#connected(remote.scope.node)) continue;
      for (let i = 0; i < pids.length; i += most) {
        this.#proc!.send(remote.scope, {
          $pg: op,
          scope: self,
          group,
          pids: pids.slice(i, i + most),
        });
      }
    }
  }

  /**
   * How many of this node's pids one message about `group` may carry: at
   * most MAX_PIDS, and what fits the node's `maxFrameBytes`. Throws
   * `InvalidArgumentError` for a group whose name leaves no room for one.
   */
  #pidsPerMessage(group: string): number {
    const room = this.#room - groupBytes(group);
    const most = Math.min(MAX_PIDS, Math.floor(room / this.#pidBytes));
    if (most < 1) {
      throw new InvalidArgumentError(
        "group",
        `a name of ${
          groupBytes(group)
        } bytes leaves no room for a member in a frame of ${
          this.#node!.maxFrameBytes
        } bytes (maxFrameBytes)`,
      );
    }
    return most;
  }

  // Bytes a message may give to group names and pids, and those of one of
  // this node's pids: a msgpack extension header of up to 4 bytes, the node
  // name (1 + n), the id (8) and the creation (4).
  get #room(): number {
    return (this.#node?.maxFrameBytes ?? Infinity) - ENVELOPE_BYTES;
  }
  get #pidBytes(): number {
    return 17 + utf8.encode(this.#runtime.node).length;
  }

  /**
   * Another node's scope asks: answer with ours, and learn of it. A large
   * membership goes in parts of at most MAX_PIDS pids (`part` counts from 0,
   * `more` says another follows), so no message outgrows a frame; the peer
   * applies them together.
   */
  #discovered(scope: Pid): void {
    const self = this.#proc!.self;
    let part = 0;
    let chunk: [string, Pid[]][] = [];
    let size = 0;
    const flush = (more: boolean) => {
      this.#proc!.send(scope, {
        $pg: "sync",
        scope: self,
        groups: chunk,
        part: part++,
        more,
      });
      chunk = [];
      size = 0;
    };
    // `size` counts bytes against the frame, and pids against MAX_PIDS.
    let pids = 0;
    const pidBytes = this.#pidBytes;
    for (const [group, members] of this.#local) {
      const most = this.#pidsPerMessage(group);
      for (let i = 0; i < members.length; i += most) {
        const piece = members.slice(i, i + most);
        const bytes = groupBytes(group) + piece.length * pidBytes;
        if (size + bytes > this.#room || pids + piece.length > MAX_PIDS) {
          flush(true);
          pids = 0;
        }
        chunk.push([group, piece]);
        size += bytes;
        pids += piece.length;
      }
    }
    flush(false);
    if (!this.#remote.has(scope.key)) {
      this.#known(scope);
      this.#discover(scope.node); // so that it learns ours too
    }
  }

  #known(scope: Pid): RemoteScope {
    // One scope per node: a newer one (its node restarted) replaces.
    for (const other of this.#remote.values()) {
      if (other.scope.node === scope.node && !other.scope.equals(scope)) {
        this.#proc!.demonitor(other.monitor, { flush: true });
        this.#forget(other);
      }
    }
    let remote = this.#remote.get(scope.key);
    if (remote === undefined) {
      remote = {
        scope,
        monitor: this.#proc!.monitor(scope),
        groups: new Map(),
      };
      this.#remote.set(scope.key, remote);
    }
    return remote;
  }

  /** A scope's whole membership: what changed since its last word is told. */
  #synced(scope: Pid, groups: Map<string, Pid[]>): void {
    const remote = this.#known(scope);
    const old = remote.groups;
    remote.groups = groups;
    for (const group of new Set([...old.keys(), ...groups.keys()])) {
      const before = old.get(group) ?? [];
      const after = groups.get(group) ?? [];
      const left = without(before, after);
      const joined = without(after, before);
      if (left.length > 0) this.#notify(group, left, GroupLeave);
      if (joined.length > 0) this.#notify(group, joined, GroupJoin);
    }
  }

  #remoteJoin(remote: RemoteScope, group: string, pids: Pid[]): void {
    append(remote.groups, group, pids);
    this.#notify(group, pids, GroupJoin);
  }

  #remoteLeave(remote: RemoteScope, group: string, pids: Pid[]): void {
    const members = remote.groups.get(group);
    if (members === undefined) return;
    const left = removeEach(members, pids);
    if (members.length === 0) remote.groups.delete(group);
    if (left.length > 0) this.#notify(group, left, GroupLeave);
  }

  /** Its members leave, as seen here. */
  #forget(remote: RemoteScope): void {
    this.#remote.delete(remote.scope.key);
    for (const [group, pids] of remote.groups) {
      this.#notify(group, pids, GroupLeave);
    }
  }

  #down(down: Down): void {
    const pid = down.pid;
    if (pid === undefined) return;
    const remote = this.#remote.get(pid.key);
    if (remote !== undefined && remote.monitor.equals(down.ref)) {
      return this.#forget(remote);
    }
    const watched = this.#watched.get(pid.key);
    if (watched !== undefined && watched.monitor.equals(down.ref)) {
      this.#watched.delete(pid.key);
      // First the view, then the news: telling runs receive matchers, which
      // may change groups (a leave of this pid elsewhere finds it gone).
      const changes: [string, Pid[]][] = [];
      for (const [group, times] of watched.groups) {
        const members = this.#local.get(group);
        if (members === undefined) continue;
        // It is in there `times` times: take them out where they are.
        const left = removeEach(members, new Array<Pid>(times).fill(pid));
        if (members.length === 0) this.#local.delete(group);
        if (left.length > 0) changes.push([group, left]);
      }
      for (const [group, left] of changes) {
        this.#tellPeers("leave", group, left);
        this.#notify(group, left, GroupLeave);
      }
    }
    const subscriber = this.#subscribers.get(pid.key);
    if (subscriber !== undefined && subscriber.monitor.equals(down.ref)) {
      this.#subscribers.delete(pid.key);
      for (const ref of subscriber.refs) this.#subscriptions.delete(ref);
    }
  }

  #leaveLocal(group: string, pids: Pid[]): Pid[] {
    const members = this.#local.get(group);
    if (members === undefined) return [];
    const left = removeEach(members, pids);
    if (members.length === 0) this.#local.delete(group);
    for (const pid of left) {
      const watched = this.#watched.get(pid.key);
      if (watched === undefined) continue;
      const n = (watched.groups.get(group) ?? 1) - 1;
      if (n === 0) watched.groups.delete(group);
      else watched.groups.set(group, n);
      if (--watched.joins === 0) {
        this.#watched.delete(pid.key);
        this.#proc!.demonitor(watched.monitor, { flush: true });
      }
    }
    return left;
  }

  #notify(
    group: string,
    pids: readonly Pid[],
    Event: typeof GroupJoin | typeof GroupLeave,
  ): void {
    if (this.#subscriptions.size === 0) return;
    // One frozen list for all: events go by reference to local watchers.
    const list = Object.freeze([...pids]);
    // A snapshot: a send runs receive matchers, which may watch anew.
    for (const sub of [...this.#subscriptions.values()]) {
      if (!this.#subscriptions.has(sub.ref.key)) continue; // demonitored meanwhile
      if (sub.group === undefined || sub.group === group) {
        this.#proc!.send(sub.pid, new Event(sub.ref, group, list));
      }
    }
  }
}

/** Bytes `group` takes in a message (its UTF-8, a string header, an array's). */
function groupBytes(group: string): number {
  return utf8.encode(group).length + 8;
}

function checkGroup(group: unknown): asserts group is string {
  if (typeof group !== "string" || group.length === 0) {
    throw new InvalidArgumentError(
      "group",
      `expected a non-empty string, got ${describe(group)}`,
    );
  }
}

/** Pids a peer's scope may speak for: an array of pids of its node and incarnation, or `undefined`. */
function peerPids(value: unknown, scope: Pid): Pid[] | undefined {
  if (!Array.isArray(value)) return undefined;
  for (const pid of value) {
    if (
      !(pid instanceof Pid) || pid.node !== scope.node ||
      pid.creation !== scope.creation
    ) return undefined;
  }
  return value as Pid[];
}

/** A peer's `sync`: `[group, pids][]`, checked; `undefined` if malformed. */
function syncGroups(
  value: unknown,
  scope: Pid,
): Map<string, Pid[]> | undefined {
  if (!Array.isArray(value)) return undefined;
  const groups = new Map<string, Pid[]>();
  for (const entry of value) {
    if (!Array.isArray(entry) || entry.length !== 2) return undefined;
    const [group, pids] = entry as unknown[];
    const list = peerPids(pids, scope);
    if (typeof group !== "string" || group.length === 0 || list === undefined) {
      return undefined;
    }
    if (list.length > 0) append(groups, group, list);
  }
  return groups;
}

/** Appends `pids` to `groups`' list for `group` (a loop: a spread call has a size limit). */
function append(
  groups: Map<string, Pid[]>,
  group: string,
  pids: readonly Pid[],
) {
  let members = groups.get(group);
  if (members === undefined) groups.set(group, members = []);
  for (const pid of pids) members.push(pid);
}

/** How many times each pid occurs, by key. */
function counts(pids: readonly Pid[]): Map<string, number> {
  const n = new Map<string, number>();
  for (const pid of pids) n.set(pid.key, (n.get(pid.key) ?? 0) + 1);
  return n;
}

/**
 * Removes one occurrence of each of `pids` from `members`, in place; for
 * many pids in one pass (a leave of many from a large group stays linear).
 * Returns those removed.
 */
function removeEach(members: Pid[], pids: readonly Pid[]): Pid[] {
  // The usual case, one pid (a member's exit, seen from another node): a
  // search that stops where it finds it, with no key strings built.
  if (pids.length <= 16) {
    const removed: Pid[] = [];
    for (const pid of pids) {
      const i = members.findIndex((p) => p.equals(pid));
      if (i < 0) continue;
      members.splice(i, 1);
      removed.push(pid);
    }
    return removed;
  }
  const wanted = counts(pids);
  const removed: Pid[] = [];
  let kept = 0;
  for (const pid of members) {
    const n = wanted.get(pid.key);
    if (n !== undefined && n > 0) {
      wanted.set(pid.key, n - 1);
      removed.push(pid);
    } else members[kept++] = pid;
  }
  members.length = kept;
  return removed;
}

/** `a` less one occurrence of each element of `b` (multisets of pids). */
function without(a: readonly Pid[], b: readonly Pid[]): Pid[] {
  const rest = [...a];
  removeEach(rest, b);
  return rest;
}
