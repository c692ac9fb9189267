/**
 * A distributed node: a runtime made reachable from other nodes over a
 * {@linkcode Transport}. It listens, connects on first use (D2), forms a full
 * mesh from peer lists, routes messages and signals for remote pids (D5, D6),
 * runs D7 for every lost connection, offers node monitoring (D8), and keeps
 * a replica of the cluster's global names (`global.ts`).
 *
 * @module
 */
import {
  type Codec,
  Crash,
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  type Frame,
  FrameDecoder,
  type FrameOf,
  FrameWriter,
  MsgpackCodec,
  type PeerInfo,
  Pid,
  type Ref,
  Tag,
} from "../wire/mod.ts";
import type { Process } from "../actor/process.ts";
import {
  type Caller,
  checkOptions,
  type ServerBehaviour,
  type ServerPid,
} from "../actor/server.ts";
import { Runtime } from "../actor/runtime.ts";
import type { Clock } from "../actor/clock.ts";
import type { ExitCause, LocalGate, Router } from "../actor/router.ts";
import type { ExitReason } from "../actor/reason.ts";
import type { Logger } from "../actor/runtime.ts";
import {
  checkMethods,
  describe,
  InvalidArgumentError,
  isInstance,
  wireNameFault,
} from "../actor/errors.ts";
import { containLogger } from "../actor/_logger.ts";
import { GlobalRegistry } from "./global.ts";
import {
  type Address,
  type Connection,
  type Listener,
  tcpTransport,
  type Transport,
} from "./transport.ts";
import {
  acceptorHandshake,
  connectorHandshake,
  cookieKey,
  FrameReader,
  type PeerIdentity,
} from "./handshake.ts";
import { Session, type SessionHost } from "./session.ts";
import {
  GlobalNotRegisteredError,
  HandshakeError,
  HandshakeRefusedError,
  NodeStoppedError,
  NodeUnreachableError,
} from "./errors.ts";
import {
  checkSpawnable,
  type RemoteBody,
  type RemoteSpawnRequest,
  type Spawnable,
  Spawner,
} from "./spawn.ts";
import {
  NodeDown,
  type NodeDownReason,
  type NodeEvent,
  NodeUp,
} from "./messages.ts";

/** The refusal reason that settles simultaneous connects (D4). */
const SIMULTANEOUS = "simultaneous connect";

/**
 * How many nodes with no connection a node remembers the learned address of
 * (from peer lists), to connect on first use (D2); past this, those idle
 * longest are forgotten, and one asked for again is resolved afresh. A node
 * that sees many short-lived nodes come and go (clients with fresh names)
 * would otherwise keep a record of every one for good. Addresses given by
 * the user (the `peers` option, `connect(node, address)`) are kept.
 */
const MAX_IDLE_PEERS = 1024;

/**
 * After a failed accept (out of file descriptors, say, while a flood of
 * connections waits out its handshakes), the listener is tried again after
 * a pause that starts here and doubles up to {@linkcode ACCEPT_RETRY_MAX_MS},
 * as Go's net/http does: giving up would leave the node deaf for good, and
 * trying at once would spin while the error lasts.
 */
const ACCEPT_RETRY_MIN_MS = 5;
const ACCEPT_RETRY_MAX_MS = 1_000;
/**
 * A spell of failed accepts is logged when it starts and again every this
 * many failures (about a minute at the longest pause), so a listener broken
 * for good is not forgotten after one line.
 */
const ACCEPT_FAILURES_PER_LOG = 64;

/**
 * Longest frame a peer may send before its handshake is done (the largest
 * handshake frame is about 310 bytes). The decoder reserves room for a
 * frame's declared length, so without this a peer that proved nothing could
 * make the node reserve 16 MiB for 5 bytes, on every connection it opens.
 */
const HANDSHAKE_MAX_FRAME_BYTES = 4096;

/** Options for {@linkcode startNode}. */
export interface NodeOptions {
  /**
   * The runtime to distribute; its node name is the node's name. When
   * omitted, give `name` and the node makes (and owns) a runtime.
   */
  readonly runtime?: Runtime;
  /** Node name when no runtime is given, e.g. `"a@127.0.0.1"`. */
  readonly name?: string;
  /** Shared secret: only nodes with the same cookie connect (D3). */
  readonly cookie: string;
  /** Host to listen on. Default `"127.0.0.1"`. */
  readonly host?: string;
  /** Port to listen on; `0` (default) lets the OS choose. */
  readonly port?: number;
  /** Listen for connections. Default `true`; a node that only connects out may say `false`. */
  readonly listen?: boolean;
  /**
   * Known nodes and their addresses, for connecting on first use (D2). Each
   * address is `{ host, port }`: a host of 1 to 255 bytes, with no spaces or control characters (what a peer list
   * carries), a port from 1 to 65535; anything else is refused with
   * `InvalidArgumentError`.
   */
  readonly peers?: Readonly<Record<string, Address>>;
  /**
   * Asked for the address of a node not otherwise known. Of the nodes it is
   * not connected to, a node remembers the addresses learnt from peer lists
   * for the 1024 that went last; one forgotten is asked for here again.
   * An answer that takes longer than `handshakeTimeout` is not waited for:
   * the node counts as unreachable, and `signal` aborts (as it does when
   * the node stops), so a lookup in flight can be given up.
   */
  readonly resolve?: (
    node: string,
    options: { readonly signal: AbortSignal },
  ) => Address | undefined | Promise<Address | undefined>;
  /** Connect to the nodes that peers list, forming a full mesh. Default `true`. */
  readonly mesh?: boolean;
  /** D9: a connection silent this long (ms) is lost. Default 60 000, as Erlang's net_ticktime. */
  readonly tickTime?: number;
  /**
   * Deadline for setting a connection up, in ms: for the whole handshake,
   * and, when this node dials, for finding the node (`resolve`) and making
   * the connection as well, as Erlang's `net_setuptime` (a host that drops
   * packets would otherwise hold a dial for minutes). Default 5 000. A node
   * that
   * connects under a connected name (restarted, or reconnecting after it
   * dropped the connection on its side) waits up to half of it, or a
   * quarter of `tickTime` if less, while the old connection is asked
   * whether it still answers (docs/protocol.md, "A connected name").
   */
  readonly handshakeTimeout?: number;
  /**
   * Largest frame accepted, in bytes. Default 16 MiB. Until a peer has
   * passed the handshake, its frames may be no longer than 4 KiB
   * (docs/protocol.md, "Handshake"). The node sends no frame longer than
   * this either: a message that would make one is refused with
   * `UnencodableValueError` when it is sent, and an exit reason reaches
   * remote links and monitors as a `Crash` saying so. A peer with a lower
   * limit closes the connection on such a frame, so give every node of a
   * cluster the same limit. Process groups and the global-name sync cut
   * their messages to fit it; a node's peer list travels in one frame when
   * a connection is made, so a limit far below the default must still hold
   * it (about 520 bytes a connected node at most).
   */
  readonly maxFrameBytes?: number;
  /** Byte streams. Default: TCP. */
  readonly transport?: Transport;
  /** Payload codec. Default: {@linkcode MsgpackCodec}. */
  readonly codec?: Codec;
  /** Clock for ticks and deadlines. Default: the runtime's clock. */
  readonly clock?: Clock;
  /**
   * Where protocol errors, refused handshakes and failed accepts are
   * reported. Default: nowhere. A listener whose accept fails (out of file
   * descriptors, say) is tried again after a pause of 5 ms doubling up to
   * 1 s; the first failure of a spell is an error (and every 64th after
   * it), the first accept after it a warning.
   */
  readonly logger?: Logger;
  /**
   * The spawn allow-list: what other nodes may start here by name (see
   * {@linkcode Node.allowSpawn}, {@linkcode Node.allowServer}). Nothing else
   * can be spawned remotely. Default: nothing.
   */
  readonly spawnables?: Readonly<Record<string, Spawnable>>;
}

/** Options for {@linkcode Node.startServer}. */
export interface RemoteServerRequest extends RemoteSpawnRequest {
  /** Link the server to the calling process, atomically (a process caller only). */
  readonly link?: boolean;
}

/** Per-peer figures from {@linkcode Node.stats}. */
export interface PeerStats {
  /** The peer's node name. */
  readonly node: string;
  /** The peer's creation number. */
  readonly creation: number;
  /** Frames received. */
  readonly framesIn: number;
  /** Frames sent. */
  readonly framesOut: number;
  /** Bytes received. */
  readonly bytesIn: number;
  /** Bytes sent. */
  readonly bytesOut: number;
  /** Bytes queued, not yet written. */
  readonly queuedBytes: number;
  /** Milliseconds since the peer was last heard from. */
  readonly idleMs: number;
}

interface Peer {
  readonly name: string;
  address: Address | undefined;
  /**
   * Where another peer's list last said the node listens, when that differs
   * from `address`: tried once if `address` fails (a node that restarted on
   * a new port, D8).
   */
  reported: Address | undefined;
  session: Session | undefined;
  dialing: boolean;
  inbound: number;
  pending: FrameWriter | undefined;
  pendingFrames: number;
  waiters: PromiseWithResolvers<void>[];
  graceTimer: unknown;
  /** Its address came from the user: the record is never forgotten. */
  pinned: boolean;
  /** Settles once a connection `disconnect` is draining has closed. */
  draining: Promise<void> | undefined;
  /** UNLINKs among the `pending` frames: awaited once the session is up. */
  unlinks: [from: Pid, to: Pid, id: number][] | undefined;
}

/** What a {@linkcode Node.events} iterator has heard, and how it lets go. */
interface EventFeed {
  readonly queue: NodeEvent[];
  /** Resolves the next() waiting, if any. */
  wake: (() => void) | undefined;
  closed: boolean;
  readonly wakeUp: () => void;
  /** Told of the node stopping and of the signal aborting. */
  readonly waker: () => void;
  /** Unsubscribes and ends a waiting next(); may run more than once. */
  readonly close: () => void;
}

/** Whether `peer` has no connection and nothing waits on one. */
function isIdle(peer: Peer): boolean {
  return peer.session === undefined && !peer.dialing && peer.inbound === 0 &&
    peer.pending === undefined && peer.waiters.length === 0 &&
    peer.graceTimer === undefined && peer.draining === undefined;
}

/**
 * Starts a node: listens (unless `listen: false`) and attaches to the
 * runtime as its router.
 *
 * @example
 * ```ts
 * import { startNode } from "./mod.ts";
 * import { Runtime } from "../mod.ts";
 * await using a = await startNode({ name: "a@127.0.0.1", cookie: "secret" });
 * await using b = await startNode({ name: "b@127.0.0.1", cookie: "secret" });
 * const got = Promise.withResolvers<unknown>();
 * b.runtime.spawn(async (proc) => got.resolve(await proc.receive()), { name: "inbox" });
 * await a.connect("b@127.0.0.1", b.address!);
 * a.runtime.send(["inbox", "b@127.0.0.1"], "hello from a");
 * if (await got.promise !== "hello from a") throw new Error();
 * ```
 */
export async function startNode(options: NodeOptions): Promise<Node> {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError(
      "node options",
      `expected an object, got ${describe(options)}`,
    );
  }
  if (typeof options.cookie !== "string" || options.cookie.length === 0) {
    throw new InvalidArgumentError("cookie", "expected a non-empty string");
  }
  // What the Node constructor would refuse, refused before anything is
  // made: a refusal there would leave the listener open.
  positive(options.tickTime, 60_000, "tickTime");
  positive(options.handshakeTimeout, 5_000, "handshakeTimeout");
  frameLimit(options.maxFrameBytes);
  checkListenAddress(options.host, options.port);
  checkMethods(
    "transport",
    options.transport,
    options.listen === false ? ["connect"] : ["listen", "connect"],
  );
  checkMethods("codec", options.codec, ["encode", "decode"]);
  checkMethods("logger", options.logger, ["error", "warn"]);
  checkMethods("clock", options.clock, ["now", "setTimeout", "clearTimeout"]);
  for (const flag of ["listen", "mesh"] as const) {
    const value = options[flag];
    if (value !== undefined && typeof value !== "boolean") {
      throw new InvalidArgumentError(
        `${flag} option`,
        `expected a boolean, got ${describe(value)}`,
      );
    }
  }
  if (options.resolve !== undefined && typeof options.resolve !== "function") {
    throw new InvalidArgumentError(
      "resolve option",
      `expected a function (node) => address, got ${describe(options.resolve)}`,
    );
  }
  const spawnables = options.spawnables ?? {};
  if (spawnables === null || typeof spawnables !== "object") {
    throw new InvalidArgumentError(
      "spawnables option",
      `expected an object of name: spawnable, got ${describe(spawnables)}`,
    );
  }
  for (const [name, spawnable] of Object.entries(spawnables)) {
    checkSpawnable(name, spawnable);
  }
  const peers = options.peers ?? {};
  if (peers === null || typeof peers !== "object") {
    throw new InvalidArgumentError(
      "peers option",
      `expected an object of node name: address, got ${describe(peers)}`,
    );
  }
  for (const [name, address] of Object.entries(peers)) {
    checkNodeName(name);
    checkAddress(address, `address of ${name} in the peers option`);
  }
  let runtime = options.runtime;
  const owns = runtime === undefined;
  if (runtime !== undefined && !(runtime instanceof Runtime)) {
    throw new InvalidArgumentError(
      "runtime option",
      `expected a Runtime, got ${describe(runtime)}`,
    );
  }
  if (runtime === undefined) {
    if (typeof options.name !== "string") {
      throw new InvalidArgumentError(
        "name",
        "give a runtime, or a node name to make one",
      );
    }
    runtime = new Runtime({
      node: options.name,
      ...(options.clock ? { clock: options.clock } : {}),
    });
  } else if (options.name !== undefined && options.name !== runtime.node) {
    throw new InvalidArgumentError(
      "name",
      `the runtime is named ${runtime.node}, not ${describe(options.name)}`,
    );
  }
  if (runtime.node === "nonode@nohost") {
    throw new InvalidArgumentError(
      "runtime",
      'name the runtime (new Runtime({ node: "a@host" })) to distribute it',
    );
  }
  const transport = options.transport ?? tcpTransport();
  const key = await cookieKey(options.cookie);
  let listener: Listener | undefined;
  try {
    // The transport's own error (the address is in use, say) comes through.
    listener = options.listen === false ? undefined : await transport.listen({
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 0,
    });
  } catch (error) {
    if (owns) await runtime.shutdown();
    throw error;
  }
  try {
    return new Node(runtime, owns, transport, key, listener, options);
  } catch (error) {
    // Refused after listening (the runtime has a router already, say):
    // nothing may be left open.
    listener?.close();
    if (owns) await runtime.shutdown();
    throw error;
  }
}

/** A running node. Create with {@linkcode startNode}; stop with {@linkcode Node.stop}. */
export class Node implements AsyncDisposable {
  /** The runtime this node distributes. */
  readonly runtime: Runtime;
  /** The address it listens on, if it listens. */
  readonly address: Address | undefined;
  #owns: boolean;
  #gate: LocalGate;
  #transport: Transport;
  #codec: Codec;
  #clock: Clock;
  #key: CryptoKey;
  #listener: Listener | undefined;
  #tickTime: number;
  #handshakeTimeout: number;
  #maxFrameBytes: number;
  // Ids of this node's UNLINKs, on every connection: one made before its
  // connection was up keeps its id on it.
  #unlinkIds = 0;
  #logger: Logger | undefined;
  #resolve: NodeOptions["resolve"];
  #mesh: boolean;
  #peers = new Map<string, Peer>();
  // Names of the peers that went idle, the longest idle first (see #idled);
  // some may have become busy again since.
  #idlePeers = new Set<string>();
  #nodeMonitors = new Map<string, Map<string, { pid: Pid; count: number }>>();
  // Keys of the pids whose exit is awaited to drop their node monitors: one
  // wait per process, however often it monitors and demonitors nodes.
  #nodeMonitorExits = new Set<string>();
  #subscribers = new Set<(event: NodeEvent) => void>();
  #wakers = new Set<() => void>();
  /** Connections in their handshake: a stop closes them rather than wait. */
  #handshaking = new Set<Connection>();
  #tasks = new Set<Promise<void>>();
  #stopped = false;
  #closing: Promise<void> | undefined;
  #host: SessionHost;
  #global: GlobalRegistry;
  #spawner: Spawner;

  /** Use {@linkcode startNode}. */
  constructor(
    runtime: Runtime,
    owns: boolean,
    transport: Transport,
    key: CryptoKey,
    listener: Listener | undefined,
    options: NodeOptions,
  ) {
    this.runtime = runtime;
    this.#owns = owns;
    this.#transport = transport;
    this.#key = key;
    this.#listener = listener;
    this.address = listener?.addr;
    this.#codec = options.codec ?? new MsgpackCodec();
    this.#clock = options.clock ?? runtime.clock;
    this.#tickTime = positive(options.tickTime, 60_000, "tickTime");
    this.#handshakeTimeout = positive(
      options.handshakeTimeout,
      5_000,
      "handshakeTimeout",
    );
    this.#maxFrameBytes = frameLimit(options.maxFrameBytes);
    this.#logger = containLogger(options.logger);
    this.#resolve = options.resolve;
    this.#mesh = options.mesh !== false;
    for (const [name, address] of Object.entries(options.peers ?? {})) {
      const peer = this.#peer(name);
      peer.address = address;
      peer.pinned = true;
    }
    let gate: LocalGate | undefined;
    runtime.attachRouter((g) => {
      gate = g;
      return this.#router();
    });
    this.#gate = gate!;
    this.#host = {
      gate: this.#gate,
      clock: this.#clock,
      tickTime: this.#tickTime,
      maxFrameBytes: this.#maxFrameBytes,
      nextUnlinkId: () => ++this.#unlinkIds,
      peers: (session, peers) => this.#onPeerList(session, peers),
      global: (session, frame) => this.#global.receive(session, frame),
      ended: (session, reason, error) =>
        this.#onSessionEnded(session, reason, error),
      spawnRequest: (session, frame) => this.#spawner.serve(session, frame),
      spawnReply: (session, frame) => this.#spawner.reply(session, frame),
    };
    this.#global = new GlobalRegistry({
      runtime,
      gate: this.#gate,
      sessions: () => this.#sessions(),
      maxFrameBytes: this.#maxFrameBytes,
    });
    const isStopped = () => this.#stopped;
    this.#spawner = new Spawner({
      runtime,
      gate: this.#gate,
      clock: this.#clock,
      get stopped() {
        return isStopped();
      },
      send: (name, frame) => {
        this.#emit(name, frame, true);
        return this.#peers.get(name)?.session;
      },
    });
    for (const [name, spawnable] of Object.entries(options.spawnables ?? {})) {
      this.#spawner.allow(name, spawnable);
    }
    if (listener !== undefined) this.#track(this.#acceptLoop(listener));
  }

  *#sessions(): Generator<Session> {
    for (const peer of this.#peers.values()) {
      if (peer.session !== undefined) yield peer.session;
    }
  }

  /** This node's name. */
  get name(): string {
    return this.runtime.node;
  }

  /** This node's creation number. */
  get creation(): number {
    return this.runtime.creation;
  }

  /**
   * The longest frame this node accepts and sends, in bytes (the
   * `maxFrameBytes` option, 16 MiB by default).
   */
  get maxFrameBytes(): number {
    return this.#maxFrameBytes;
  }

  /** Names of the nodes connected now. */
  nodes(): string[] {
    return [...this.#peers.values()].filter((p) => p.session !== undefined).map(
      (p) => p.name,
    );
  }

  /**
   * Connects to `node` (at `address`, or where it is known to be) and
   * resolves once the handshake is done. Rejects with
   * {@linkcode NodeUnreachableError} if it cannot (within
   * `handshakeTimeout`), with {@linkcode NodeStoppedError} if this node
   * stops first, with
   * `InvalidArgumentError` if `node` is not a node name or `address` is not
   * `{ host, port }` with a host of 1 to 255 bytes (no spaces or control characters) and a port from 1 to
   * 65535. Connecting to this node's own name resolves at once, whatever
   * the address, as in Erlang (so a second node under the same name is not
   * noticed from here; the other nodes refuse it, `duplicate name`).
   */
  connect(node: string, address?: Address): Promise<void> {
    if (this.#stopped) {
      return Promise.reject(new NodeStoppedError(`Cannot connect to ${node}`));
    }
    try {
      checkNodeName(node);
      if (address !== undefined) checkAddress(address, "address");
    } catch (error) {
      return Promise.reject(error);
    }
    if (node === this.name) return Promise.resolve();
    const peer = this.#peer(node);
    if (address !== undefined) {
      peer.address = address;
      peer.pinned = true;
    }
    if (peer.session !== undefined) return Promise.resolve();
    const waiter = Promise.withResolvers<void>();
    peer.waiters.push(waiter);
    this.#dial(peer);
    return waiter.promise;
  }

  /**
   * Closes the connection to `node`, if any (D7 runs here at once, with
   * reason `disconnected`). What was sent to `node` before, in this turn
   * too (messages, an `unlink`), is still written before the connection
   * closes, as a socket's close does, unless the peer has stopped reading.
   * A send to `node` right after connects again once that is done, so it
   * arrives after them.
   */
  disconnect(node: string): boolean {
    const peer = this.#peers.get(node);
    const session = peer?.session;
    if (session === undefined) return false;
    // Set first: closing tells node-event listeners, who may send again.
    const draining = peer!.draining = session.done.then(() => {
      if (peer!.draining !== draining) return;
      peer!.draining = undefined;
      this.#idled(peer!);
    }, () => {});
    session.close("disconnected", undefined, true);
    return true;
  }

  /**
   * Delivers {@linkcode NodeDown} to local `pid` each time the connection to
   * `node` is lost (or cannot be made) and {@linkcode NodeUp} each time it is
   * made, until {@linkcode Node.demonitorNode} (D8). Connects if needed.
   * Calls stack, as in Erlang: each needs its own demonitor. Unlike
   * `erlang:monitor_node/2`, which fires once and is gone, this one stays
   * (a NodeUp after a NodeDown is how a watcher hears of a reconnect).
   */
  monitorNode(pid: Pid, node: string): void {
    if (!(pid instanceof Pid) || !this.runtime.isAlive(pid)) {
      throw new InvalidArgumentError(
        "pid",
        `expected a live local pid, got ${describe(pid)}${
          pid instanceof Pid ? ", which is not alive here" : ""
        }`,
      );
    }
    checkNodeName(node);
    let watchers = this.#nodeMonitors.get(node);
    if (watchers === undefined) {
      this.#nodeMonitors.set(node, watchers = new Map());
    }
    const entry = watchers.get(pid.key);
    if (entry !== undefined) entry.count++;
    else watchers.set(pid.key, { pid, count: 1 });
    if (!this.#nodeMonitorExits.has(pid.key)) {
      this.#nodeMonitorExits.add(pid.key);
      this.runtime.whenExited(pid).then(() => {
        this.#nodeMonitorExits.delete(pid.key);
        for (const [watched, set] of this.#nodeMonitors) {
          set.delete(pid.key);
          if (set.size === 0) this.#nodeMonitors.delete(watched);
        }
      });
    }
    if (node === this.name || this.#stopped) return;
    const peer = this.#peer(node);
    if (peer.session === undefined) this.#dial(peer);
  }

  /** Removes one {@linkcode Node.monitorNode} of `node` by `pid`; false if there was none. */
  demonitorNode(pid: Pid, node: string): boolean {
    const watchers = this.#nodeMonitors.get(node);
    const entry = pid instanceof Pid ? watchers?.get(pid.key) : undefined;
    if (entry === undefined) return false;
    if (--entry.count === 0) watchers!.delete(pid.key);
    if (watchers!.size === 0) this.#nodeMonitors.delete(node);
    return true;
  }

  /**
   * Calls `listener` with every {@linkcode NodeUp} and {@linkcode NodeDown}
   * (connection losses only, not failed attempts). Returns an unsubscribe
   * function. A listener that throws is reported to the node's `logger`
   * (`error`), and the others still run. Throws `InvalidArgumentError` if
   * `listener` is not a function.
   */
  onNodeEvent(listener: (event: NodeEvent) => void): () => void {
    if (typeof listener !== "function") {
      throw new InvalidArgumentError(
        "node event listener",
        `expected a function, got ${describe(listener)}`,
      );
    }
    this.#subscribers.add(listener);
    return () => void this.#subscribers.delete(listener);
  }

  /**
   * The same events as {@linkcode Node.onNodeEvent}, as an async iterator
   * that ends when `signal` aborts or the node stops. It subscribes at once,
   * so events between this call and the first `next()` are kept (make it
   * before a `connect` whose `NodeUp` you want); end it, by breaking out of
   * the loop or calling `return()`, to let go. Throws `InvalidArgumentError`
   * at once if `signal` is given and is not an `AbortSignal`.
   *
   * @example
   * ```ts ignore
   * for await (const event of node.events()) console.log(event);
   * ```
   */
  events(signal?: AbortSignal): AsyncGenerator<NodeEvent, void, undefined> {
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new InvalidArgumentError(
        "events signal",
        `expected an AbortSignal, got ${describe(signal)}`,
      );
    }
    const feed: EventFeed = {
      queue: [],
      wake: undefined,
      closed: false,
      wakeUp: () => {
        const w = feed.wake;
        feed.wake = undefined;
        w?.();
      },
      // The node stopping (after its last events) or the signal aborting
      // ends the feed, iterated or not.
      waker: () => {
        if (this.#stopped || signal?.aborted === true) feed.close();
        else feed.wakeUp();
      },
      close: () => {
        if (feed.closed) return;
        feed.closed = true;
        unsubscribe();
        this.#wakers.delete(feed.waker);
        signal?.removeEventListener("abort", feed.waker);
        feed.wakeUp(); // a next() waiting ends
      },
    };
    const unsubscribe = this.onNodeEvent((event) => {
      feed.queue.push(event);
      feed.wakeUp();
    });
    this.#wakers.add(feed.waker);
    signal?.addEventListener("abort", feed.waker);
    if (this.#stopped || signal?.aborted === true) feed.close();
    const events = this.#events(feed, signal);
    // A generator ended before its first next() never runs its finally.
    const end = events.return.bind(events);
    events.return = (value) => {
      feed.close();
      return end(value);
    };
    const fail = events.throw.bind(events);
    events.throw = (error) => {
      feed.close();
      return fail(error);
    };
    return events;
  }

  async *#events(
    feed: EventFeed,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<NodeEvent, void, undefined> {
    try {
      for (;;) {
        if (feed.queue.length > 0) {
          yield feed.queue.shift()!;
          continue;
        }
        if (feed.closed || this.#stopped || signal?.aborted === true) return;
        await new Promise<void>((resolve) => feed.wake = resolve);
      }
    } finally {
      feed.close();
    }
  }

  /**
   * Registers the local process `pid` under the global `name`, for the whole
   * cluster: this node's replica maps it at once and every connected peer is
   * told; a node that connects later learns it on connecting. The name is
   * released when the process exits, and dropped by the other nodes when they
   * lose the connection to this one (D7). A process may hold several global
   * names.
   *
   * Throws {@linkcode GlobalNameTakenError} if this replica maps `name` to
   * another live process, `NoProcessError` if `pid` is not alive, and
   * `InvalidArgumentError` for a name that is not a non-empty string of at
   * most 255 UTF-8 bytes or a pid of another node.
   *
   * Two nodes that register one name before hearing of each other both
   * succeed here; once they are connected every replica keeps the pid that
   * sorts first (node name, then creation, then id), and the other process
   * gets a {@linkcode GlobalNameConflict} message, exactly once. Global names
   * assume the full mesh that nodes form by default.
   *
   * @example
   * ```ts
   * import { startNode } from "./mod.ts";
   * await using a = await startNode({ name: "a@127.0.0.1", cookie: "c" });
   * await using b = await startNode({ name: "b@127.0.0.1", cookie: "c" });
   * await a.connect(b.name, b.address!);
   * const got = Promise.withResolvers<unknown>();
   * const db = a.runtime.spawn(async (proc) => got.resolve(await proc.receive()));
   * a.registerGlobal("db", db);
   * await b.syncGlobal(); // b has now seen what a did before
   * if (!b.whereisGlobal("db")?.equals(db)) throw new Error();
   * b.sendGlobal("db", "hello");
   * if (await got.promise !== "hello") throw new Error();
   * ```
   */
  registerGlobal(name: string, pid: Pid): void {
    this.#global.register(name, pid);
  }

  /**
   * Removes the global `name`, which must be held by a process of this node
   * (the node hosting a process is the authority on its names; others throw
   * `InvalidArgumentError`). False if no process holds it.
   *
   * @example
   * ```ts
   * import { startNode } from "./mod.ts";
   * await using a = await startNode({ name: "a@127.0.0.1", cookie: "c" });
   * const pid = a.runtime.spawn(async (proc) => void await proc.receive());
   * a.registerGlobal("job", pid);
   * if (!a.unregisterGlobal("job") || a.whereisGlobal("job") !== undefined) throw new Error();
   * if (a.unregisterGlobal("job")) throw new Error();
   * ```
   */
  unregisterGlobal(name: string): boolean {
    return this.#global.unregister(name);
  }

  /**
   * The process this node's replica maps the global `name` to, if any. Use
   * it to `call` a server by global name: `call(proc, node.whereisGlobal("db")!, req)`.
   *
   * @example
   * ```ts
   * import { startNode } from "./mod.ts";
   * await using a = await startNode({ name: "a@127.0.0.1", cookie: "c" });
   * if (a.whereisGlobal("nobody") !== undefined) throw new Error();
   * ```
   */
  whereisGlobal(name: string): Pid | undefined {
    return this.#global.whereis(name);
  }

  /**
   * Every global name this node's replica knows, sorted.
   *
   * @example
   * ```ts
   * import { startNode } from "./mod.ts";
   * await using a = await startNode({ name: "a@127.0.0.1", cookie: "c" });
   * const pid = a.runtime.spawn(async (proc) => void await proc.receive());
   * a.registerGlobal("b", pid);
   * a.registerGlobal("a", pid);
   * if (a.globalNames().join() !== "a,b") throw new Error();
   * ```
   */
  globalNames(): string[] {
    return this.#global.names();
  }

  /**
   * Sends `message` to the process holding the global `name`, wherever it
   * runs. Like a send to a local name, an unknown name throws
   * ({@linkcode GlobalNotRegisteredError}, a `NotRegisteredError`); once
   * resolved to a pid, the send never throws for a dead or unreachable
   * process (P3).
   *
   * @example
   * ```ts
   * import { GlobalNotRegisteredError, startNode } from "./mod.ts";
   * await using a = await startNode({ name: "a@127.0.0.1", cookie: "c" });
   * try {
   *   a.sendGlobal("nobody", "hi");
   *   throw new Error("expected a throw");
   * } catch (e) {
   *   if (!(e instanceof GlobalNotRegisteredError)) throw e;
   * }
   * ```
   */
  sendGlobal(name: string, message: unknown): void {
    if (typeof name !== "string") {
      throw new InvalidArgumentError(
        "global name",
        `expected a string, got ${describe(name)}`,
      );
    }
    const pid = this.#global.whereis(name);
    if (pid === undefined) throw new GlobalNotRegisteredError(name);
    this.runtime.send(pid, message);
  }

  /**
   * Resolves once every node connected now has answered a ping sent after
   * this call. Each peer answers after everything it sent before, so by then
   * this replica has seen every global registration, release and SYNC those
   * peers made before the ping reached them (Erlang's `global:sync()`). A
   * peer lost meanwhile counts as answered: its names are gone.
   *
   * @example
   * ```ts
   * import { startNode } from "./mod.ts";
   * await using a = await startNode({ name: "a@127.0.0.1", cookie: "c" });
   * await a.syncGlobal(); // no peers: resolves at once
   * ```
   */
  syncGlobal(): Promise<void> {
    return this.#global.sync();
  }

  /**
   * Lets other nodes start `body` here under `name` (the allow-list: nothing
   * else can be spawned remotely). The body gets the new process and the
   * arguments the requester sent, which came over the wire: check them.
   * Throws `InvalidArgumentError` for a name that is not a non-empty string
   * of at most 255 UTF-8 bytes, or a body that is not a function.
   *
   * @example
   * ```ts
   * import { startNode } from "./mod.ts";
   * await using a = await startNode({ name: "a@127.0.0.1", cookie: "c" });
   * await using b = await startNode({ name: "b@127.0.0.1", cookie: "c" });
   * const got = Promise.withResolvers<unknown>();
   * b.allowSpawn("greeter", async (proc, greeting: string) => {
   *   got.resolve(`${greeting}, ${await proc.receive()}`);
   * });
   * await a.connect(b.name, b.address!);
   * const pid = await a.spawn({ node: b.name, name: "greeter", args: "hello" });
   * a.runtime.send(pid, "world");
   * if (pid.node !== b.name || await got.promise !== "hello, world") throw new Error();
   * ```
   */
  allowSpawn<Args = unknown>(name: string, body: RemoteBody<Args>): void {
    this.#spawner.allow(name, { body: body as RemoteBody<never> });
  }

  /**
   * Lets other nodes start a server running `behaviour` here under `name`,
   * with their arguments as `init`'s. They get the reply once `init`
   * returned; an `init` that fails is the refusal reason. With `trapExit`,
   * `terminate` runs when a linked requester exits. Throws
   * `InvalidArgumentError` for a bad name (as {@linkcode Node.allowSpawn}),
   * or a behaviour whose `init` (or another callback, when given) is not a
   * function.
   */
  allowServer<Args, State, Call, Reply, Cast>(
    name: string,
    behaviour: ServerBehaviour<Args, State, Call, Reply, Cast>,
    options: { readonly trapExit?: boolean } = {},
  ): void {
    checkOptions("allowServer options", options, { trapExit: "boolean" });
    this.#spawner.allow(name, {
      server: behaviour,
      ...(options.trapExit === true ? { trapExit: true } : {}),
    });
  }

  /** Removes `name` from the spawn allow-list; false if it was not there. */
  disallowSpawn(name: string): boolean {
    return this.#spawner.disallow(name);
  }

  /**
   * Starts the allow-listed `request.name` on `request.node` and resolves
   * with its pid once it runs. Rejects with {@linkcode RemoteSpawnError}:
   * `unknown_spawnable` for a name not on that node's allow-list,
   * `noconnection` when the node cannot be reached or the connection is lost
   * before the reply (the process may then have started there, unknown to
   * anyone, as in Erlang: link or monitor it if that matters), `timeout`,
   * or the reason a server's `init` failed.
   * Bad arguments reject with `InvalidArgumentError`, arguments that cannot
   * cross the wire with `UnencodableValueError`.
   */
  async spawn(request: RemoteSpawnRequest): Promise<Pid> {
    const [pid] = await this.#spawner.request(undefined, request, false, false);
    return pid;
  }

  /**
   * Like {@linkcode Node.spawn}, linked to `caller` atomically (L5 across
   * nodes): the other node links the process before it runs, so even a body
   * that crashes at once reaches `caller` (an `Exit` when it traps exits).
   * If `caller` exits before the reply, the new process gets its exit
   * signal and the promise rejects with reason `noproc`.
   *
   * @example
   * ```ts
   * import { startNode } from "./mod.ts";
   * import { Exit } from "../mod.ts";
   * await using a = await startNode({ name: "a@127.0.0.1", cookie: "c" });
   * await using b = await startNode({ name: "b@127.0.0.1", cookie: "c" });
   * b.allowSpawn("crasher", () => { throw new Error("at once"); });
   * await a.connect(b.name, b.address!);
   * const exit = Promise.withResolvers<Exit>();
   * a.runtime.spawn(async (proc) => {
   *   proc.trapExit(true);
   *   await a.spawnLink(proc, { node: b.name, name: "crasher" });
   *   exit.resolve(await proc.receive((m): m is Exit => m instanceof Exit));
   * });
   * if ((await exit.promise).from.node !== b.name) throw new Error();
   * ```
   */
  async spawnLink(caller: Process, request: RemoteSpawnRequest): Promise<Pid> {
    requireCaller(caller);
    const [pid] = await this.#spawner.request(caller, request, true, false);
    return pid;
  }

  /**
   * Like {@linkcode Node.spawn}, monitored by `caller` atomically: the other
   * node sets the monitor before the process runs, so a process that dies at
   * once still gives exactly one `Down`, carrying the returned ref.
   */
  spawnMonitor(
    caller: Process,
    request: RemoteSpawnRequest,
  ): Promise<[Pid, Ref]> {
    try {
      requireCaller(caller);
      return this.#spawner.request(caller, request, false, true);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Starts an allow-listed server (see {@linkcode Node.allowServer}) on
   * `request.node` and resolves with its pid, typed for `call` and `cast`,
   * once its `init` returned. With `link: true` (a process caller only) it is
   * linked to the caller atomically, which makes it a valid supervisor
   * child. Errors as for {@linkcode Node.spawn}.
   *
   * @example
   * ```ts
   * import { startNode } from "./mod.ts";
   * import { call } from "../mod.ts";
   * await using a = await startNode({ name: "a@127.0.0.1", cookie: "c" });
   * await using b = await startNode({ name: "b@127.0.0.1", cookie: "c" });
   * b.allowServer("doubler", {
   *   init: (factor: number) => factor,
   *   handleCall: (n: number, _from, factor) => ({ reply: n * factor, state: factor }),
   * });
   * await a.connect(b.name, b.address!);
   * const pid = await a.startServer<number, number>(a.runtime, {
   *   node: b.name,
   *   name: "doubler",
   *   args: 2,
   * });
   * if (await call(a.runtime, pid, 21) !== 42) throw new Error();
   * ```
   */
  async startServer<Call = unknown, Reply = unknown, Cast = unknown>(
    caller: Caller,
    request: RemoteServerRequest,
  ): Promise<ServerPid<Call, Reply, Cast>> {
    const link = request?.link === true;
    if (request?.link !== undefined && typeof request.link !== "boolean") {
      throw new InvalidArgumentError(
        "link option",
        `expected a boolean, got ${describe(request.link)}`,
      );
    }
    const proc = caller instanceof Runtime ? undefined : caller;
    if (caller instanceof Runtime) {
      if (caller !== this.runtime) {
        throw new InvalidArgumentError(
          "caller",
          "expected this node's runtime or one of its processes",
        );
      }
      if (link) {
        throw new InvalidArgumentError(
          "link option",
          "only a process can link to the server it starts",
        );
      }
    } else requireCaller(caller);
    const [pid] = await this.#spawner.request(proc, request, link, false);
    return pid;
  }

  /**
   * Flow control for senders that can outrun the network: resolves once
   * fewer than `below` bytes (default 1 MiB) are queued for `node`, or at
   * once when nothing is queued or `node` is not connected. A send never
   * blocks, so a producer that sends in a loop awaits this now and then to
   * keep memory bounded. It measures only what this node has not yet
   * written: a receiving process that awaits something else between
   * messages (a timer, I/O) lets its mailbox grow on the other node, and
   * there only calls or acknowledgements pace the producer. Rejects with
   * `InvalidArgumentError` for a `below` that is not a positive number.
   *
   * @example
   * ```ts
   * import { startNode } from "./mod.ts";
   * await using a = await startNode({ name: "a@127.0.0.1", cookie: "c" });
   * await using b = await startNode({ name: "b@127.0.0.1", cookie: "c" });
   * await a.connect(b.name, b.address!);
   * const sink = b.runtime.spawn(async (proc) => { for (;;) await proc.receive(); });
   * const chunk = new Uint8Array(64 * 1024);
   * for (let i = 0; i < 256; i++) {
   *   a.runtime.send(sink, chunk);
   *   if (i % 16 === 15) await a.drain(b.name, { below: 1 << 20 });
   * }
   * ```
   */
  drain(
    node: string,
    options: { readonly below?: number } = {},
  ): Promise<void> {
    if (options === null || typeof options !== "object") {
      return Promise.reject(
        new InvalidArgumentError(
          "drain options",
          `expected an object, got ${describe(options)}`,
        ),
      );
    }
    const below = options.below ?? 1 << 20;
    if (typeof below !== "number" || !(below > 0)) {
      return Promise.reject(
        new InvalidArgumentError(
          "drain threshold",
          `expected a positive number of bytes, got ${describe(below)}`,
        ),
      );
    }
    const session = this.#peers.get(node)?.session;
    return session === undefined ? Promise.resolve() : session.whenBelow(below);
  }

  /** Traffic figures for the connection to `node`, if connected. */
  stats(node: string): PeerStats | undefined {
    const session = this.#peers.get(node)?.session;
    if (session === undefined) return undefined;
    return {
      node,
      creation: session.creation,
      ...session.stats,
      queuedBytes: session.queuedBytes,
      idleMs: session.idleMs,
    };
  }

  /**
   * Stops the node: closes the listener and every connection (D7 runs for
   * each with `node_stopped`; one still in its handshake, or being made, is
   * given up at once), and resolves when every socket and timer is
   * released (S1). Frames already queued for a peer (the exit signals of
   * processes stopped with the node) are written first, for as long as they
   * keep moving; a peer that takes none of them for 2 s (or a quarter of
   * the tick time, if less) does not hold the stop longer. A node that made
   * its own runtime shuts that down too.
   */
  stop(): Promise<void> {
    return this.#owns ? this.runtime.shutdown() : this.#close();
  }

  /** Same as {@linkcode Node.stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  #close(): Promise<void> {
    return this.#closing ??= (async () => {
      this.#stopped = true;
      this.#global.stop();
      this.#listener?.close();
      for (const conn of this.#handshaking) conn.close();
      for (const peer of this.#peers.values()) {
        this.#clock.clearTimeout(peer.graceTimer);
        peer.pending = peer.unlinks = undefined;
        peer.session?.close("node_stopped", undefined, true);
        this.#failWaiters(
          peer,
          new NodeStoppedError(`Cannot connect to ${peer.name}`),
        );
      }
      this.#spawner.stop();
      for (const wake of this.#wakers) wake();
      while (this.#tasks.size > 0) await Promise.all(this.#tasks);
      this.#gate.detach();
    })();
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  /** Resolves after `ms`, or at once when the node stops. */
  #pause(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    const wake = () => {
      this.#clock.clearTimeout(timer);
      this.#wakers.delete(wake);
      resolve();
    };
    const timer = this.#clock.setTimeout(wake, ms);
    this.#wakers.add(wake);
    return promise;
  }

  /** Closes a connection no session owns; stop waits until it has closed. */
  #drop(conn: Connection): void {
    conn.close();
    if (conn.closed !== undefined) this.#track(conn.closed);
  }

  #peer(name: string): Peer {
    let peer = this.#peers.get(name);
    if (peer === undefined) {
      peer = {
        name,
        address: undefined,
        reported: undefined,
        session: undefined,
        dialing: false,
        inbound: 0,
        pending: undefined,
        pendingFrames: 0,
        waiters: [],
        graceTimer: undefined,
        pinned: false,
        draining: undefined,
        unlinks: undefined,
      };
      this.#peers.set(name, peer);
    }
    return peer;
  }

  /**
   * Where `peer` may have gone idle (a connection lost or refused, a
   * handshake over): a record that knows no address has nothing to keep and
   * goes; one that does joins the idle records, of which only the
   * MAX_IDLE_PEERS newest stay.
   */
  #idled(peer: Peer): void {
    if (
      this.#stopped || peer.pinned || !isIdle(peer) ||
      this.#peers.get(peer.name) !== peer
    ) return;
    const idle = this.#idlePeers;
    idle.delete(peer.name);
    if (peer.address === undefined && peer.reported === undefined) {
      this.#peers.delete(peer.name);
      return;
    }
    idle.add(peer.name);
    for (const name of idle) {
      if (idle.size <= MAX_IDLE_PEERS) break;
      idle.delete(name);
      const old = this.#peers.get(name);
      if (old !== undefined && !old.pinned && isIdle(old)) {
        this.#peers.delete(name);
      }
    }
  }

  // ---- outbound: the router the runtime calls ----

  #router(): Router {
    return {
      send: (to, message) =>
        this.#emit(to.node, { tag: Tag.SEND, to, message }, true),
      sendNamed: (name, node, message, from) =>
        this.#emit(node, {
          tag: Tag.REG_SEND,
          from: from ?? null,
          name,
          message,
        }, true),
      link: (from, to) => {
        const peer = this.#peers.get(to.node);
        if (peer?.session !== undefined) peer.session.relinked(from, to);
        else if (peer?.unlinks !== undefined) {
          // Linked again behind a queued UNLINK: its answer no longer matters.
          peer.unlinks = peer.unlinks.filter(([f, t]) =>
            !(f.equals(from) && t.equals(to))
          );
        }
        this.#emit(to.node, { tag: Tag.LINK, from, to }, true);
      },
      linkName: (from, name, node, ref) =>
        this.#emit(node, { tag: Tag.LINK_NAME, from, ref, name }, true),
      unlink: (from, to) => {
        const peer = this.#peers.get(to.node);
        if (peer?.session !== undefined) return peer.session.unlink(from, to);
        // The LINK it undoes still waits for the connection (D2): so does
        // the UNLINK, behind it.
        if (peer?.pending === undefined) return;
        const id = ++this.#unlinkIds;
        this.#emit(to.node, { tag: Tag.UNLINK, id, from, to }, false);
        (peer.unlinks ??= []).push([from, to, id]);
      },
      exit: (
        from: Pid,
        to: Pid | string,
        node: string,
        reason: ExitReason,
        cause: ExitCause,
      ) =>
        cause === "link" && to instanceof Pid
          ? this.#emitReason(node, { tag: Tag.EXIT, from, to, reason })
          : this.#emit(node, { tag: Tag.EXIT2, from, to, reason }, true),
      monitor: (from: Pid, target: Pid | string, node: string, ref: Ref) =>
        this.#emit(node, { tag: Tag.MONITOR, from, to: target, ref }, true),
      demonitor: (from: Pid, target: Pid | string, node: string, ref: Ref) =>
        this.#emit(
          node,
          { tag: Tag.DEMONITOR, from, to: target, ref },
          false,
          true,
        ),
      monitorExit: (from, to, ref, reason, name) =>
        this.#emitReason(to.node, {
          tag: Tag.MONITOR_EXIT,
          from: name ?? from,
          to,
          ref,
          reason,
        }),
      close: () => this.#close(),
    };
  }

  /**
   * Queues an exit signal a process's death caused (a link's EXIT, a
   * monitor's MONITOR_EXIT). Any value may be an exit reason, but not every
   * value can cross the wire: such a reason travels as a `Crash` saying so,
   * so the watcher still hears of the death and the dying process's other
   * signals still go out.
   */
  #emitReason(
    node: string,
    frame: FrameOf<typeof Tag.EXIT | typeof Tag.MONITOR_EXIT>,
  ): void {
    try {
      this.#emit(node, frame, false);
    } catch (error) {
      // A reason that cannot travel (or whose encoding threw anything at
      // all) still ends the link or monitor: as a Crash saying why.
      this.#emit(node, { ...frame, reason: Crash.from(error) }, false);
    }
  }

  /**
   * Queues `frame` for `node`: on its session, or, while the connection is
   * being made, in order behind what already waits (D2). With `connect`, an
   * unconnected node is dialled; without, the frame is dropped (there is
   * nothing on the other side for it to act on). A `lazy` frame waits for
   * the next one on its session (see `Session.send`).
   */
  #emit(node: string, frame: Frame, connect: boolean, lazy = false): void {
    if (this.#stopped) return;
    const peer = connect ? this.#peer(node) : this.#peers.get(node);
    if (peer === undefined) return;
    if (peer.session !== undefined) {
      peer.session.send(frame, lazy);
      return;
    }
    if (!connect && peer.pending === undefined) return;
    // Recorded only once encoded: a frame that cannot be (the caller gets
    // the error) leaves no empty queue behind to pass for frames waiting.
    const pending = peer.pending ??
      new FrameWriter(this.#codec, { maxFrameBytes: this.#maxFrameBytes });
    pending.write(frame);
    peer.pending = pending;
    peer.pendingFrames++;
    this.#dial(peer);
  }

  #dial(peer: Peer): void {
    if (
      this.#stopped || peer.session !== undefined || peer.dialing ||
      peer.inbound > 0
    ) return;
    peer.dialing = true;
    this.#track(this.#connectTo(peer));
  }

  async #connectTo(peer: Peer): Promise<void> {
    // A connection disconnect is draining goes first: what was sent on it
    // reaches the node before what waits for this one (D5), and the node
    // sees it end before this one asks in.
    if (peer.draining !== undefined) await peer.draining;
    let conn: Connection | undefined;
    let address: Address | undefined;
    // One deadline for finding the node, connecting and the handshake, as
    // Erlang's net_setuptime: a host that drops our SYNs would hold a
    // connect for minutes.
    const deadline = this.#clock.now() + this.#handshakeTimeout;
    try {
      const resolve = this.#resolve;
      // Never synchronously: a connect(name, address) made in the same turn
      // as the send or monitorNode that set off this dial gives the address.
      address = peer.address ??
        await (resolve === undefined ? undefined : this.#bounded(
          (signal) => Promise.resolve(resolve(peer.name, { signal })),
          deadline,
          peer.name,
          "resolving its address",
        ));
      if (address === undefined) {
        throw new NodeUnreachableError(
          peer.name,
          "no address is known (use node.connect(name, address), the peers option, a peer list, or resolve)",
        );
      }
      if (peer.address === undefined) {
        checkAddress(address, `address resolve gave for ${peer.name}`);
      }
      if (this.#stopped) return;
      const at = address;
      conn = await this.#bounded(
        (signal) => this.#transport.connect(at, { signal }),
        deadline,
        peer.name,
        `connecting to ${at.host}:${at.port}`,
        (late) => this.#drop(late),
      );
      await this.#handshake(conn, peer.name, deadline);
      peer.dialing = false;
    } catch (error) {
      peer.dialing = false;
      if (conn !== undefined) this.#drop(conn);
      if (this.#stopped || peer.session !== undefined) return;
      if (
        isInstance(error, HandshakeRefusedError) &&
        error.reason === SIMULTANEOUS
      ) {
        // D4: the peer's own connection to us wins; give it time to arrive.
        this.#clock.clearTimeout(peer.graceTimer);
        peer.graceTimer = this.#clock.setTimeout(() => {
          peer.graceTimer = undefined;
          if (
            peer.session === undefined && peer.inbound === 0 && !peer.dialing
          ) this.#unreachable(peer, error);
        }, this.#handshakeTimeout);
        return;
      }
      if (peer.inbound > 0) return;
      if (peer.address !== undefined && peer.address !== address) {
        // An address became known while this attempt ran: try it.
        peer.dialing = false;
        this.#dial(peer);
        return;
      }
      const reported = peer.reported;
      peer.reported = undefined;
      if (reported !== undefined && !sameAddress(reported, address)) {
        // Another peer saw it elsewhere (restarted on a new port, say).
        peer.address = reported;
        this.#dial(peer);
        return;
      }
      this.#unreachable(peer, error);
    }
  }

  /**
   * What `work` gives, given up at `deadline` (a NodeUnreachableError for
   * `node` saying `what` timed out) or when the node stops; `work` is told
   * through its signal. What it gives after that goes to `late`.
   */
  async #bounded<T>(
    work: (signal: AbortSignal) => Promise<T>,
    deadline: number,
    node: string,
    what: string,
    late?: (value: T) => void,
  ): Promise<T> {
    const abort = new AbortController();
    const gaveUp = Promise.withResolvers<never>();
    const giveUp = (error: Error) => {
      abort.abort(error);
      gaveUp.reject(error);
    };
    const timer = this.#clock.setTimeout(
      () =>
        giveUp(
          new NodeUnreachableError(
            node,
            `${what} timed out after ${this.#handshakeTimeout} ms`,
          ),
        ),
      Math.max(0, deadline - this.#clock.now()),
    );
    const wake = () =>
      giveUp(new NodeStoppedError(`Cannot connect to ${node}`));
    this.#wakers.add(wake);
    // Never synchronously: a transport or resolve that throws at once must
    // still clear the timer.
    const working = (async () => await work(abort.signal))();
    try {
      return await Promise.race([working, gaveUp.promise]);
    } catch (error) {
      working.then((value) => late?.(value), () => {});
      // Ours, rather than what the work made of being aborted.
      throw abort.signal.aborted ? abort.signal.reason : error;
    } finally {
      this.#clock.clearTimeout(timer);
      this.#wakers.delete(wake);
    }
  }

  /** A connection to `peer` could not be made: what waited for it learns so. */
  #unreachable(peer: Peer, error: unknown): void {
    peer.pending = peer.unlinks = undefined;
    peer.pendingFrames = 0;
    this.#logger?.warn(`Cannot reach node ${peer.name}`, {
      node: peer.name,
      error,
    });
    const unreachable = isInstance(error, NodeUnreachableError)
      ? error
      : new NodeUnreachableError(peer.name, Crash.from(error).message, {
        cause: error,
      });
    this.#failWaiters(peer, unreachable);
    this.#spawner.unreachable(peer.name, unreachable);
    this.#gate.nodeDown(peer.name);
    this.#notifyMonitors(peer.name, new NodeDown(peer.name, "unreachable"));
    this.#idled(peer);
  }

  #failWaiters(peer: Peer, error: Error): void {
    const waiters = peer.waiters;
    peer.waiters = [];
    for (const w of waiters) w.reject(error);
  }

  // ---- inbound ----

  async #acceptLoop(listener: Listener): Promise<void> {
    let failures = 0;
    for (;;) {
      let conn: Connection | null;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.#stopped) return;
        const retryInMs = Math.min(
          ACCEPT_RETRY_MAX_MS,
          ACCEPT_RETRY_MIN_MS * 2 ** Math.min(failures, 16),
        );
        failures++;
        // Not at every failure: a spell may last as long as a flood.
        if (failures % ACCEPT_FAILURES_PER_LOG === 1) {
          this.#logger?.error("Accepting a connection failed; trying again", {
            error,
            failures,
            retryInMs,
          });
        }
        await this.#pause(retryInMs);
        continue;
      }
      if (failures > 0 && conn !== null) {
        this.#logger?.warn("Accepting connections again", { failures });
        failures = 0;
      }
      if (conn === null) return;
      if (this.#stopped) {
        this.#drop(conn);
        return;
      }
      this.#track(this.#accepted(conn));
    }
  }

  async #accepted(conn: Connection): Promise<void> {
    try {
      await this.#handshake(conn, undefined);
    } catch (error) {
      this.#drop(conn);
      if (!this.#stopped) {
        this.#logger?.warn("Refused an incoming connection", {
          remote: conn.remoteAddr,
          error,
        });
      }
    }
  }

  /**
   * D3/D4: who may connect, decided once the peer's name is known. A
   * newcomer under a connected name is let on, to be decided by #confirm
   * once it has proven the cookie.
   */
  #admit(identity: PeerIdentity): string | undefined {
    if (this.#stopped) return "the node is stopping";
    // A runtime's node name has 1 to 255 characters; the wire allows 0.
    if (identity.name.length === 0) return "bad node name: empty";
    if (identity.name === this.name) {
      return `duplicate name: this node is ${this.name}`;
    }
    const peer = this.#peers.get(identity.name);
    if (peer === undefined) return undefined;
    if (peer.session !== undefined) {
      // The node restarted, or it dropped the connection on its side and
      // the close never reached us, or a second node claims the name:
      // #confirm asks the old connection. One newcomer at a time.
      return peer.inbound > 0
        ? `duplicate name: ${identity.name} is already connected`
        : undefined;
    }
    if (peer.inbound > 0) {
      return `duplicate name: ${identity.name} is already connecting`;
    }
    if (peer.dialing && this.name > identity.name) return SIMULTANEOUS;
    return undefined;
  }

  /**
   * A newcomer that proved the cookie under the name of a node connected
   * through `old` when it was admitted. Either that node restarted (another
   * creation), or it dropped the connection on its side (the same one), and
   * `old` has not yet been seen to go: a host that vanished sends no FIN, a
   * FIN can be lost, and the heartbeat takes the tick time. Or a second node
   * runs under the same name. Ask the old connection: a node that answers
   * within the probe window is alive, and the newcomer a duplicate.
   * Resolves with the refusal, or with no refusal and the old session if it
   * stayed silent, for #sessionUp to replace. Erlang takes the newcomer's
   * word instead (the handshake's `alive` status).
   *
   * What answers: for another creation, any frame, since a live node's PONG
   * may wait behind its traffic. For the same one, only the PONG: frames the
   * node wrote before it dropped its side may still arrive, and no PONG can
   * come from a socket it has closed. A busy node of the same creation that
   * misses the window (D4's race, when it dialled too) loses nothing but
   * the old connection: it takes the new one too (#sessionUp).
   */
  async #confirm(
    old: Session | undefined,
    identity: PeerIdentity,
    deadline: number,
  ): Promise<{ refusal?: string; silent?: Session }> {
    // None, or it ended meanwhile: nothing to ask.
    if (old === undefined || old.closed) return {};
    const window = Math.min(this.#handshakeTimeout / 2, this.#tickTime / 4);
    const alive = await old.probe(
      Math.max(0, Math.min(window, deadline - this.#clock.now())),
      old.creation === identity.creation,
    );
    if (this.#stopped) return { refusal: "the node is stopping" };
    if (alive) {
      return {
        refusal:
          `duplicate name: ${identity.name} is already connected, and answers`,
      };
    }
    return { silent: old };
  }

  /** Runs the handshake under one deadline; on success the session starts. `expected` marks the connector side. */
  async #handshake(
    conn: Connection,
    expected: string | undefined,
    deadline = this.#clock.now() + this.#handshakeTimeout,
  ): Promise<void> {
    if (this.#stopped) throw new NodeStoppedError("Handshake not begun");
    const codec = this.#codec;
    // A peer that has proved nothing may not make this node reserve much.
    const decoder = new FrameDecoder(codec, {
      maxFrameBytes: Math.min(HANDSHAKE_MAX_FRAME_BYTES, this.#maxFrameBytes),
    });
    const reader = new FrameReader(conn, decoder);
    const write = (frame: Frame) => conn.write(encodeFrame(frame, codec));
    const self = { name: this.name, creation: this.creation };
    let timedOut = false;
    const timer = this.#clock.setTimeout(() => {
      timedOut = true;
      conn.close();
    }, Math.max(0, deadline - this.#clock.now()));
    let admitted: Peer | undefined;
    // The connection the peer's name had when the newcomer was admitted,
    // and the same if the probe found it silent.
    let suspect: Session | undefined;
    let silent: Session | undefined;
    this.#handshaking.add(conn);
    try {
      const identity = expected !== undefined
        ? await connectorHandshake(reader, write, self, this.#key, expected)
        : await acceptorHandshake(
          reader,
          write,
          self,
          this.#key,
          (peer) => {
            const refusal = this.#admit(peer);
            if (refusal === undefined) {
              admitted = this.#peer(peer.name);
              admitted.inbound++;
              suspect = admitted.session;
            }
            return refusal;
          },
          async (peer) => {
            const verdict = await this.#confirm(suspect, peer, deadline);
            silent = verdict.silent;
            return verdict.refusal;
          },
        );
      if (this.#stopped) throw new NodeStoppedError("Handshake finished");
      decoder.maxFrameBytes = this.#maxFrameBytes;
      this.#sessionUp(conn, decoder, identity, expected !== undefined, silent);
    } catch (error) {
      if (timedOut) {
        throw new HandshakeError(
          `Handshake timed out after ${this.#handshakeTimeout} ms`,
          expected,
          {
            cause: error,
          },
        );
      }
      throw error;
    } finally {
      this.#handshaking.delete(conn);
      this.#clock.clearTimeout(timer);
      if (admitted !== undefined) {
        admitted.inbound--;
        if (
          admitted.session === undefined && !admitted.dialing &&
          admitted.pending !== undefined
        ) {
          this.#dial(admitted);
        }
        this.#idled(admitted);
      }
    }
  }

  /**
   * A connection that finished its handshake becomes the peer's session.
   * When this node accepted it, one of the same incarnation already up wins
   * (D4's race), unless it is the one the probe found `silent`: the peer
   * dropped it on its side. When this node dialled it, the new one wins:
   * an acceptor that held a connection to us answers only once its probe
   * has let go of it, so keeping ours would leave the two nodes with none.
   */
  #sessionUp(
    conn: Connection,
    decoder: FrameDecoder,
    identity: PeerIdentity,
    dialled: boolean,
    silent?: Session,
  ): void {
    const peer = this.#peer(identity.name);
    const old = peer.session;
    if (old !== undefined) {
      if (
        old.creation === identity.creation && !dialled && old !== silent
      ) {
        this.#drop(conn);
        return;
      }
      // The peer restarted, or left this connection behind: it is gone
      // (D1, D7).
      old.close("connection_closed");
    }
    this.#clock.clearTimeout(peer.graceTimer);
    peer.graceTimer = undefined;
    const session = new Session(
      conn,
      decoder,
      this.#codec,
      identity,
      this.#host,
    );
    peer.session = session;
    this.#track(session.done);
    try {
      if (peer.pending !== undefined) {
        for (const [from, to, id] of peer.unlinks ?? []) {
          session.awaitUnlinkAck(from, to, id);
        }
        session.sendEncoded(peer.pending.take(), peer.pendingFrames);
        peer.pending = peer.unlinks = undefined;
        peer.pendingFrames = 0;
      }
      this.#spawner.sessionUp(peer.name, session);
      session.send({ tag: Tag.PEER_LIST, peers: this.#peerList(peer.name) });
      this.#global.sessionUp(session);
    } catch (error) {
      // A fault of this node's own, not the peer's: a connection half set
      // up would leave whoever waits on it waiting for good. Drop it (D7
      // runs), and tell them why.
      this.#logger?.error(
        `Setting up the connection to ${peer.name} failed; it is closed`,
        { node: peer.name, error },
      );
      session.close("connection_closed", error);
      this.#failWaiters(
        peer,
        new NodeUnreachableError(
          peer.name,
          `setting up the connection failed: ${Crash.from(error).message}`,
          { cause: error },
        ),
      );
      return;
    }
    const waiters = peer.waiters;
    peer.waiters = [];
    for (const w of waiters) w.resolve();
    const up = new NodeUp(identity.name, identity.creation);
    this.#notifyMonitors(identity.name, up);
    this.#publish(up);
  }

  /** This node first (so the receiver learns where we listen), then our connected peers. */
  #peerList(exclude: string): PeerInfo[] {
    const list: PeerInfo[] = [];
    if (this.address !== undefined) {
      list.push({
        name: this.name,
        host: this.address.host,
        port: this.address.port,
      });
    }
    for (const peer of this.#peers.values()) {
      if (
        peer.name !== exclude && peer.session !== undefined &&
        peer.address !== undefined
      ) {
        list.push({
          name: peer.name,
          host: peer.address.host,
          port: peer.address.port,
        });
      }
    }
    return list;
  }

  #onPeerList(session: Session, peers: PeerInfo[]): void {
    for (const info of peers) {
      if (info.name === this.name) continue;
      // An address no node could listen on is not dialled, nor kept.
      const fault = hostFault(info.host) ??
        (info.port >= 1
          ? undefined
          : `expected a port from 1 to 65535, got ${info.port}`);
      if (fault !== undefined) {
        this.#logger?.warn(
          `A peer list from ${session.peer} gives ${info.name} an address that cannot be dialled; ignored`,
          { node: session.peer, peer: info.name, fault },
        );
        continue;
      }
      const peer = this.#peer(info.name);
      // The sender's own entry is authoritative; others fill gaps, or are
      // kept to try if the address known fails.
      const address = { host: info.host, port: info.port };
      if (info.name === session.peer || peer.address === undefined) {
        peer.address = address;
        peer.reported = undefined;
      } else if (!sameAddress(peer.address, address)) {
        peer.reported = address;
      }
      if (
        this.#mesh && info.name !== session.peer && peer.session === undefined
      ) this.#dial(peer);
      this.#idled(peer);
    }
  }

  /** D7, once per lost connection: records go first, then the signals and events. */
  #onSessionEnded(
    session: Session,
    reason: NodeDownReason,
    error: unknown,
  ): void {
    const peer = this.#peers.get(session.peer);
    if (peer?.session === session) peer.session = undefined;
    if (reason === "protocol_error") {
      this.#logger?.error(
        `Protocol error from ${session.peer}; connection closed`,
        { node: session.peer, error },
      );
    }
    this.#global.sessionEnded(session);
    this.#spawner.sessionEnded(session);
    this.#gate.nodeDown(session.peer);
    const down = new NodeDown(session.peer, reason);
    this.#notifyMonitors(session.peer, down);
    this.#publish(down);
    if (peer !== undefined) this.#idled(peer);
  }

  #notifyMonitors(node: string, message: NodeUp | NodeDown): void {
    const watchers = this.#nodeMonitors.get(node);
    if (watchers === undefined) return;
    for (const { pid, count } of [...watchers.values()]) {
      for (let i = 0; i < count; i++) this.#gate.deliver(pid, message);
    }
  }

  #publish(event: NodeEvent): void {
    for (const listener of [...this.#subscribers]) {
      try {
        listener(event);
      } catch (error) {
        this.#logger?.error("A node event listener threw", { error });
      }
    }
  }
}

/** Why `host` cannot be a host name or IP address, or `undefined`. */
function hostFault(host: unknown): string | undefined {
  if (typeof host !== "string" || host.length === 0) {
    return `expected a host name or IP address, got ${describe(host)}`;
  }
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x20\x7f]/.test(host)) {
    return `expected no spaces or control characters, got ${describe(host)}`;
  }
  return wireNameFault(host);
}

/** The `host` and `port` options: where a node listens. */
function checkListenAddress(host: unknown, port: unknown): void {
  if (host !== undefined) {
    const fault = hostFault(host);
    // A host travels in peer lists, so it must fit the wire too.
    if (fault !== undefined) throw new InvalidArgumentError("host", fault);
  }
  if (
    port !== undefined &&
    !(typeof port === "number" && Number.isInteger(port) && port >= 0 &&
      port <= 65535)
  ) {
    throw new InvalidArgumentError(
      "port",
      `expected a port from 0 (any) to 65535, got ${describe(port)}`,
    );
  }
}

/**
 * Refuses an address that cannot be dialled, or sent in a peer list (whose
 * host field holds at most 255 bytes).
 */
function checkAddress(
  address: unknown,
  what: string,
): asserts address is Address {
  if (address === null || typeof address !== "object") {
    throw new InvalidArgumentError(
      what,
      `expected { host, port }, got ${describe(address)}`,
    );
  }
  const { host, port } = address as { host?: unknown; port?: unknown };
  const fault = hostFault(host);
  if (fault !== undefined) {
    throw new InvalidArgumentError(what, `host: ${fault}`);
  }
  if (
    typeof port !== "number" || !Number.isInteger(port) || port < 1 ||
    port > 65535
  ) {
    throw new InvalidArgumentError(
      what,
      `expected a port from 1 to 65535, got ${describe(port)}`,
    );
  }
}

function positive(
  value: number | undefined,
  fallback: number,
  name: string,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    throw new InvalidArgumentError(
      name,
      `expected a positive number of milliseconds, got ${describe(value)}`,
    );
  }
  return value;
}

function frameLimit(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_FRAME_BYTES;
  if (!Number.isInteger(value) || value < 1 || value > 0xffff_ffff) {
    throw new InvalidArgumentError(
      "maxFrameBytes",
      `expected an integer from 1 to 2^32-1, got ${describe(value)}`,
    );
  }
  return value;
}

function requireCaller(caller: unknown): asserts caller is Process {
  if (
    typeof caller !== "object" || caller === null ||
    caller instanceof Runtime ||
    !("self" in caller) || !(caller.self instanceof Pid)
  ) {
    throw new InvalidArgumentError(
      "caller",
      "expected the Process that will own the link or monitor",
    );
  }
}

function checkNodeName(node: unknown): asserts node is string {
  if (typeof node !== "string" || node.length === 0) {
    throw new InvalidArgumentError(
      "node",
      `expected a node name, got ${describe(node)}`,
    );
  }
}

function sameAddress(a: Address | undefined, b: Address | undefined): boolean {
  return a?.host === b?.host && a?.port === b?.port;
}
