/**
 * One session per connected node: a reader loop that decodes frames and
 * dispatches on the tag (one small handler per tag), a write queue that
 * coalesces every frame queued in a turn into one write, and the liveness
 * check of D9. A session ends once, with a reason, and never throws.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import {
  type Frame,
  type FrameDecoder,
  type FrameOf,
  FrameWriter,
  type PeerInfo,
  Pid,
  type Ref,
  Tag,
  tagName,
  WireError,
} from "../wire/mod.ts";
import type { Codec } from "../wire/mod.ts";
import type { Clock } from "../actor/clock.ts";
import type { LocalGate } from "../actor/router.ts";
import type { ExitReason } from "../actor/reason.ts";
import type { Connection } from "./transport.ts";
import { ProtocolError } from "./errors.ts";
import type { NodeDownReason } from "./messages.ts";
import type { GlobalFrame } from "./global.ts";

/** A turn's frames are cut into writes of about this many bytes. */
const CHUNK_BYTES = 256 * 1024;
/** Longest a stopping node waits for its queued frames to move on, in ms. */
const DRAIN_MS = 2_000;
/** Room the reader offers each read, at least. */
const READ_BYTES = 64 * 1024;
// A read that brought this many frames waits for the processes it woke
// (see the read loop).
const DRAIN_FRAMES = 32;

/** Resolves on a macrotask, so after every microtask queued before it. */
function afterMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Traffic counters of one session. */
export interface SessionStats {
  /** Frames received. */
  framesIn: number;
  /** Frames sent. */
  framesOut: number;
  /** Bytes received. */
  bytesIn: number;
  /** Bytes sent. */
  bytesOut: number;
}

/** What a session needs from its node. */
export interface SessionHost {
  readonly gate: LocalGate;
  readonly clock: Clock;
  /** D9: a session that hears nothing for this long is lost. */
  readonly tickTime: number;
  /** Frames longer than this are refused when sent (the peer would refuse them). */
  readonly maxFrameBytes: number;
  /** A fresh id for an UNLINK (unique on the node, so on every connection). */
  nextUnlinkId(): number;
  /** A PEER_LIST arrived. */
  peers(session: Session, peers: PeerInfo[]): void;
  /** A global-name frame arrived (0x30–0x34); may throw `ProtocolError`. */
  global(session: Session, frame: GlobalFrame): void;
  /** The session ended (runs D7). Called exactly once. */
  ended(session: Session, reason: NodeDownReason, error: unknown): void;
  /** A SPAWN_REQUEST arrived (its `from` is checked to be the peer's). */
  spawnRequest(
    session: Session,
    frame: FrameOf<typeof Tag.SPAWN_REQUEST>,
  ): void;
  /** A SPAWN_REPLY arrived. */
  spawnReply(session: Session, frame: FrameOf<typeof Tag.SPAWN_REPLY>): void;
}

/** A live connection to one peer node, after the handshake. */
export class Session {
  /** The peer's node name. */
  readonly peer: string;
  /** The peer's creation number. */
  readonly creation: number;
  /** Traffic counters. */
  readonly stats: SessionStats = {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
  };
  /** Resolves when the reader and writer have both finished. */
  readonly done: Promise<void>;
  #conn: Connection;
  #decoder: FrameDecoder;
  #writer: FrameWriter;
  #host: SessionHost;
  #gate: LocalGate;
  readonly #readsInHostTurns: boolean;
  #closed = false;
  // Bytes waiting for the connection, in order: frames that waited for it
  // (D2), then chunks cut from the writer. Short: the writer is cut only
  // every CHUNK_BYTES.
  #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #flushScheduled = false;
  // Reading the clock is a call into the host, too dear for every read and
  // write: they only raise a flag, and the ticker (every T/16) turns a raised
  // flag into "heard from / wrote at" its own time. That time is at most one
  // tick late, so silence is never overestimated: a peer is dropped after
  // between T and T + T/8 of silence, never before T.
  #lastRead: number;
  #lastWrite: number;
  #read = false;
  #wrote = false;
  #timer: unknown;
  // Unlinks sent and not yet acknowledged, by "local|remote" pid keys.
  #unlinking = new Map<string, number>();

  constructor(
    conn: Connection,
    decoder: FrameDecoder,
    codec: Codec,
    peer: { name: string; creation: number },
    host: SessionHost,
  ) {
    this.#conn = conn;
    this.#decoder = decoder;
    this.#writer = new FrameWriter(codec, {
      maxFrameBytes: host.maxFrameBytes,
    });
    this.#host = host;
    this.#gate = host.gate;
    this.#readsInHostTurns = conn.readsInHostTurns === true;
    this.peer = peer.name;
    this.creation = peer.creation;
    this.#lastRead = this.#lastWrite = host.clock.now();
    this.#armTicker();
    this.done = this.#readLoop();
  }

  /** Whether the session has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes queued and not yet handed to the connection. */
  get queuedBytes(): number {
    return this.#queuedBytes + this.#writer.byteLength;
  }

  /**
   * Resolves once fewer than `bytes` are queued for the peer, or the session
   * has ended (what was queued then is lost with the connection anyway).
   */
  whenBelow(bytes: number): Promise<void> {
    if (this.#closed || this.queuedBytes < bytes) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#drainWaiters.push({ bytes, resolve });
    return promise;
  }

  #wakeDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    if (waiters.length === 0) return;
    const queued = this.#closed ? -1 : this.queuedBytes;
    this.#drainWaiters = waiters.filter((w) => {
      if (queued >= w.bytes) return true;
      w.resolve();
      return false;
    });
  }
  #drainWaiters: { bytes: number; resolve: () => void }[] = [];

  /** Milliseconds since anything was read from the peer, to a sixteenth of the tick time. */
  get idleMs(): number {
    return this.#read ? 0 : this.#host.clock.now() - this.#lastRead;
  }

  /**
   * Queues a frame. A message (SEND, REG_SEND) with no write in flight
   * leaves at once, with whatever was queued before it; other frames, and
   * frames queued while a write is in flight, leave together at the end of
   * the turn or after that write, in one write. Throws
   * `UnencodableValueError` (queuing nothing) if it cannot be encoded. A
   * `lazy` frame (housekeeping nobody waits for, such as DEMONITOR) does not
   * start a write of its own: it leaves with the next frame, or on the next
   * tick (within a sixteenth of the tick time), which saves a write per call.
   */
  send(frame: Frame, lazy = false): void {
    if (this.#closed) return;
    this.#writer.write(frame);
    this.stats.framesOut++;
    // A long turn is cut into chunks, so the buffer stays small and the
    // first bytes leave while the rest is encoded.
    if (this.#writer.byteLength >= CHUNK_BYTES) {
      this.#enqueue(this.#writer.takeView());
    } else if (lazy) return;
    const tag = frame.tag;
    if (
      (tag !== Tag.SEND && tag !== Tag.REG_SEND) || this.#writing
    ) {
      this.#scheduleFlush();
      return;
    }
    // A message with no write in flight leaves now, not a turn later (with
    // any signal queued before it this turn, such as a call's MONITOR); what
    // the rest of the turn queues goes out together once this write is done.
    this.#startWrites();
  }

  #enqueue(bytes: Uint8Array): void {
    this.#queue.push(bytes);
    this.#queuedBytes += bytes.length;
  }

  /** Queues bytes already encoded (frames that waited for the connection, D2). */
  sendEncoded(bytes: Uint8Array, frames: number): void {
    if (this.#closed || bytes.length === 0) return;
    this.#enqueue(bytes);
    this.stats.framesOut += frames;
    this.#scheduleFlush();
  }
  /**
   * Local `from` links to `to` again before its UNLINK was acknowledged:
   * that unlink's answer no longer matters (Erlang's link protocol), and an
   * EXIT from `to` is again one through the link.
   */
  relinked(from: Pid, to: Pid): void {
    if (this.#unlinking.size > 0) {
      this.#unlinking.delete(unlinkKey(from, to));
    }
  }

  /** Sends UNLINK with a fresh id and remembers it until acknowledged. */
  unlink(from: Pid, to: Pid): void {
    const id = this.#host.nextUnlinkId();
    this.#unlinking.set(unlinkKey(from, to), id);
    this.send({ tag: Tag.UNLINK, id, from, to });
  }

  /** An UNLINK queued before this session was up (D2) leaves on it first. */
  awaitUnlinkAck(from: Pid, to: Pid, id: number): void {
    this.#unlinking.set(unlinkKey(from, to), id);
  }

  /**
   * Asks the peer to answer (`PING`) and resolves with whether it did within
   * `ms`: `true` as soon as any frame is read from it (only its `PONG` if
   * `pongOnly`), `false` at the deadline or when the session ends first. A
   * probe already under way is shared, with its own deadline and mode. The
   * node asks this when a newcomer under the peer's name wants in: a peer
   * that answers is alive, and the newcomer a duplicate.
   */
  probe(ms: number, pongOnly = false): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    if (this.#probing === undefined) {
      const { promise, resolve } = Promise.withResolvers<boolean>();
      const timer = this.#host.clock.setTimeout(
        () => this.#settleProbe(false),
        ms,
      );
      this.#probing = { promise, resolve, timer, pongOnly };
      this.send({ tag: Tag.PING });
    }
    return this.#probing.promise;
  }
  #probing:
    | {
      promise: Promise<boolean>;
      resolve: (alive: boolean) => void;
      timer: unknown;
      pongOnly: boolean;
    }
    | undefined;

  #settleProbe(alive: boolean): void {
    const probing = this.#probing;
    if (probing === undefined) return; // a late answer to a probe given up
    this.#probing = undefined;
    this.#host.clock.clearTimeout(probing.timer);
    probing.resolve(alive);
  }

  /**
   * Ends the session (D7 runs through the host). Idempotent. With `drain`,
   * frames already queued (exit signals of processes stopped with the node)
   * are written before the connection closes.
   */
  close(reason: NodeDownReason, error?: unknown, drain = false): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#host.clock.clearTimeout(this.#timer);
    this.#unlinking.clear();
    this.#settleProbe(false);
    if (drain) this.#closing = this.#drainAndClose();
    else this.#conn.close();
    this.#wakeDrainWaiters();
    this.#host.ended(this, reason, error);
  }

  async #drainAndClose(): Promise<void> {
    // Nothing is read any more, so a peer stopping too, with as much queued
    // for us, would hold both drains for good (its socket, or its credit
    // over TLS, full). A drain that makes no progress for a while gives up:
    // the connection closes, and the writes end. One that moves, however
    // slowly, goes on.
    const clock = this.#host.clock;
    const patience = Math.min(DRAIN_MS, this.#host.tickTime / 4);
    const giveUp = () => this.#conn.close();
    let timer = clock.setTimeout(giveUp, patience);
    const moved = () => {
      clock.clearTimeout(timer);
      timer = clock.setTimeout(giveUp, patience);
    };
    try {
      await this.#writesDone();
      moved();
      const rest = [...this.#queue];
      if (this.#writer.byteLength > 0) rest.push(this.#writer.take());
      for (const bytes of rest) {
        for (let at = 0; at < bytes.length; at += CHUNK_BYTES) {
          await this.#conn.write(bytes.subarray(at, at + CHUNK_BYTES));
          moved();
        }
      }
    } catch {
      // The peer is gone already; nothing left to tell it.
    } finally {
      clock.clearTimeout(timer);
      this.#conn.close();
    }
  }
  #closing: Promise<void> | undefined;

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#writing) return;
    this.#flushScheduled = true;
    queueMicrotask(this.#startFlush);
  }

  #startFlush = (): void => {
    this.#flushScheduled = false;
    this.#startWrites();
  };

  // Writes run one at a time, each started from the last one's completion:
  // callbacks rather than an async loop, which cost an allocation and a
  // microtask more per write.
  #writing = false;
  #inFlight: Uint8Array | undefined = undefined;
  #writesIdle: PromiseWithResolvers<void> | undefined = undefined;

  #startWrites(): void {
    if (this.#writing || this.#closed) return;
    this.#writing = true;
    this.#writeNext();
  }

  #writeNext(): void {
    let bytes: Uint8Array;
    if (this.#closed) return this.#writesStopped();
    if (this.#queue.length > 0) {
      bytes = this.#queue.shift()!;
      this.#queuedBytes -= bytes.length;
    } else if (this.#writer.byteLength > 0) {
      bytes = this.#writer.takeView();
    } else return this.#writesStopped();
    this.#wrote = true;
    this.stats.bytesOut += bytes.length;
    this.#inFlight = bytes;
    let writing: Promise<void>;
    try {
      writing = this.#conn.write(bytes);
    } catch (error) { // a transport that throws rather than rejects
      return this.#writeFailed(error);
    }
    writing.then(this.#written, this.#writeFailed);
  }

  #written = (): void => {
    this.#writer.recycle(this.#inFlight!);
    this.#inFlight = undefined;
    this.#wakeDrainWaiters();
    this.#writeNext();
  };

  #writeFailed = (error: unknown): void => {
    this.#inFlight = undefined;
    this.#writesStopped();
    this.close("connection_closed", error);
  };

  #writesStopped(): void {
    this.#writing = false;
    this.#writesIdle?.resolve();
    this.#writesIdle = undefined;
  }

  /** Resolves once no write is in flight. */
  #writesDone(): Promise<void> {
    if (!this.#writing) return Promise.resolve();
    return (this.#writesIdle ??= Promise.withResolvers()).promise;
  }

  #armTicker(): void {
    this.#tickDue = this.#host.clock.now() + this.#tickPeriod();
    this.#timer = this.#host.clock.setTimeout(this.#tick, this.#tickPeriod());
  }
  #tickDue = 0;

  #tickPeriod(): number {
    return Math.max(1, this.#host.tickTime / 16);
  }

  #tick = (): void => {
    if (this.#closed) return;
    const now = this.#host.clock.now();
    const tickTime = this.#host.tickTime;
    if (this.#read) {
      this.#read = false;
      this.#lastRead = now;
    }
    if (this.#wrote) {
      this.#wrote = false;
      this.#lastWrite = now;
    }
    // A tick that comes a period late means this node itself was busy (a
    // long run of work that never yielded to I/O): what the peer sent may
    // be waiting unread. Judge silence only on a tick that came on time.
    const starved = now - this.#tickDue > this.#tickPeriod();
    if (!starved && now - this.#lastRead >= tickTime) {
      this.close("heartbeat_timeout");
      return;
    }
    if (now - this.#lastWrite >= tickTime / 8 && !this.#writing) {
      this.#writer.trim(); // idle for a while: give back write buffers
    }
    if (
      now - this.#lastWrite >= tickTime / 4 && this.#writer.byteLength === 0
    ) {
      this.send({ tag: Tag.TICK });
      this.#lastWrite = now;
    } else if (this.#writer.byteLength > 0) {
      this.#scheduleFlush(); // lazy frames left behind
    }
    this.#armTicker();
  };

  #reads = 0;

  async #readLoop(): Promise<void> {
    const decoder = this.#decoder;
    try {
      // Frames that came in with the handshake wait for the node to record
      // this session: one that ends it at once (a protocol error) must find
      // it recorded, or D7 would leave a closed session behind as the peer's.
      await null;
      if (this.#closed) return;
      for (;;) {
        let frames = 0;
        for (;;) {
          const frame = this.#decoder.next();
          if (frame === undefined) break;
          this.stats.framesIn++;
          frames++;
          this.#dispatch(frame);
          if (this.#closed) return;
        }
        // Any frame answers a probe: a PONG may wait behind what the peer
        // queued before it, and a peer that keeps sending is alive.
        if (
          frames > 0 && this.#probing !== undefined && !this.#probing.pongOnly
        ) this.#settleProbe(true);
        // Let the processes woken by these frames run first: what they send
        // in reply is then written (send starts the write at once) before
        // the next read is set up. Reads of a full socket outpace the
        // processes they feed, so after a read that brought many messages
        // wait for a macrotask, which comes only once the processes have
        // worked through them all; and while the runtime holds its
        // processes back for the host, wait for them to run. Otherwise a
        // fast sender fills a process's mailbox without bound.
        const heldBack = this.#gate.heldBack();
        if (heldBack !== undefined) await heldBack;
        else if (frames >= DRAIN_FRAMES) await afterMicrotasks();
        else await null;
        if (this.#closed) return;
        // A peer that keeps the socket full makes every read complete at
        // once, and this loop could then run for seconds without giving
        // the event loop a turn: no ticks, so no heartbeats to the peer.
        // Every 16 reads, if the ticker is overdue, let it run.
        if (
          (++this.#reads & 15) === 0 &&
          this.#host.clock.now() - this.#tickDue > this.#tickPeriod()
        ) {
          await new Promise<void>((resolve) => setTimeout(resolve, 0));
          if (this.#closed) return;
        }
        // Straight into the decoder's buffer: no copy on the way in. Asking
        // only for the rest of a large frame that has begun lets a buffer
        // end with it, so no piece of it is copied into the next one.
        const needed = decoder.needed;
        const n = await this.#conn.read(
          decoder.writable(
            needed > 0 && needed < READ_BYTES ? needed : READ_BYTES,
          ),
        );
        if (this.#closed) return;
        if (n === null) {
          this.close("connection_closed");
          return;
        }
        this.#read = true;
        if (this.#readsInHostTurns) this.#gate.hostTurned();
        this.stats.bytesIn += n;
        decoder.commit(n);
      }
    } catch (error) {
      const protocol = error instanceof WireError ||
        error instanceof ProtocolError;
      this.close(protocol ? "protocol_error" : "connection_closed", error);
    } finally {
      await this.#writesDone();
      await this.#closing;
      await this.#conn.closed;
    }
  }

  // One small handler per tag; the `never` check makes a new tag fail to compile.
  #dispatch(frame: Frame): void {
    switch (frame.tag) {
      case Tag.TICK:
        return;
      case Tag.PING:
        return this.send({ tag: Tag.PONG });
      case Tag.PONG:
        return this.#settleProbe(true);
      case Tag.SEND:
        if (frame.message === undefined) this.#undefined(frame.tag);
        return this.#gate.deliver(frame.to, frame.message);
      case Tag.REG_SEND:
        if (frame.message === undefined) this.#undefined(frame.tag);
        this.#gate.deliverNamed(frame.name, frame.message);
        return;
      case Tag.PEER_LIST:
        return this.#host.peers(this, frame.peers);
      case Tag.LINK:
        return this.#onLink(frame);
      case Tag.UNLINK:
        return this.#onUnlink(frame);
      case Tag.UNLINK_ACK:
        return this.#onUnlinkAck(frame);
      case Tag.EXIT:
        if (frame.reason === undefined) this.#undefined(frame.tag);
        return this.#onExit(frame);
      case Tag.EXIT2:
        this.#fromPeer(frame.from, frame.tag);
        if (frame.reason === undefined) this.#undefined(frame.tag);
        return this.#gate.exit(
          frame.from,
          frame.to,
          frame.reason as ExitReason,
          "explicit",
        );
      case Tag.LINK_NAME:
        return this.#onLinkName(frame);
      case Tag.LINK_NAME_REPLY:
        return this.#onLinkNameReply(frame);
      case Tag.MONITOR:
        return this.#onMonitor(frame);
      case Tag.DEMONITOR:
        this.#fromPeer(frame.from, frame.tag);
        this.#fromPeer(frame.ref, frame.tag);
        return this.#gate.demonitor(frame.from, frame.to, frame.ref);
      case Tag.MONITOR_EXIT:
        if (frame.from instanceof Pid) this.#fromPeer(frame.from, frame.tag);
        if (frame.reason === undefined) this.#undefined(frame.tag);
        return this.#gate.down(
          frame.to,
          frame.ref,
          frame.from,
          this.peer,
          frame.reason as ExitReason,
        );
      case Tag.SPAWN_REQUEST:
        this.#fromPeer(frame.from, frame.tag);
        this.#fromPeer(frame.ref, frame.tag);
        return this.#host.spawnRequest(this, frame);
      case Tag.SPAWN_REPLY:
        return this.#host.spawnReply(this, frame);
      case Tag.GLOBAL_REGISTER:
      case Tag.GLOBAL_UNREGISTER:
      case Tag.GLOBAL_SYNC:
      case Tag.GLOBAL_PING:
      case Tag.GLOBAL_PONG:
        return this.#host.global(this, frame);
      case Tag.HANDSHAKE_NAME:
      case Tag.HANDSHAKE_CHALLENGE:
      case Tag.HANDSHAKE_REPLY:
      case Tag.HANDSHAKE_ACK:
      case Tag.HANDSHAKE_REFUSE:
        throw new ProtocolError(
          this.peer,
          `${tagName(frame.tag)} after the handshake`,
        );
      default: {
        const unhandled: never = frame;
        throw new ProtocolError(
          this.peer,
          `unhandled frame ${String(unhandled)}`,
        );
      }
    }
  }

  /** Signals must come from the peer's own processes: it cannot speak for a third node. */
  // The peer speaks for its own pids, and the refs it sends (of monitors,
  // spawn requests) are its own: a forged one could otherwise stand for a
  // ref of this node and overwrite a local monitor.
  #fromPeer(from: Pid | Ref, tag: number): void {
    if (from.node !== this.peer) {
      throw new ProtocolError(
        this.peer,
        `${tagName(tag)} with ${from}, ${
          from instanceof Pid ? "a pid" : "a ref"
        } of another node`,
      );
    }
  }

  // A link by name: the named process takes its half now, and the reply
  // (ahead of any EXIT it sends later) tells the requester which pid.
  #onLinkName(frame: FrameOf<typeof Tag.LINK_NAME>): void {
    this.#fromPeer(frame.from, frame.tag);
    this.#fromPeer(frame.ref, frame.tag);
    const pid = this.#gate.linkName(frame.from, frame.name) ?? null;
    // The named process took its half now, after any UNLINK of `from` it
    // sent before: as for a link made again, that UNLINK's answer no longer
    // matters (the requester takes its half on the reply, which comes after
    // that UNLINK, so both end linked).
    if (pid !== null) this.relinked(pid, frame.from);
    this.send({ tag: Tag.LINK_NAME_REPLY, ref: frame.ref, pid });
  }

  #onLinkNameReply(frame: FrameOf<typeof Tag.LINK_NAME_REPLY>): void {
    const { ref, pid } = frame;
    if (ref.node !== this.#gate.node || ref.creation !== this.#gate.creation) {
      throw new ProtocolError(
        this.peer,
        `LINK_NAME_REPLY with ${ref}, not a ref of this node`,
      );
    }
    if (
      pid !== null &&
      (pid.node !== this.peer || pid.creation !== this.creation)
    ) {
      throw new ProtocolError(
        this.peer,
        `LINK_NAME_REPLY with ${pid}, a pid of another node or creation`,
      );
    }
    const linked = this.#gate.linkNameReply(ref, pid ?? undefined, this.peer);
    // The requester took its half while its own UNLINK of the pair is on
    // its way, which takes the peer's half away: a LINK follows it, as a
    // link made again does (Erlang's link protocol).
    if (
      linked !== undefined && this.#unlinking.size > 0 &&
      this.#unlinking.delete(unlinkKey(linked, pid!))
    ) {
      this.send({ tag: Tag.LINK, from: linked, to: pid! });
    }
  }

  // A process never sees undefined as a message (receive uses it for a
  // timeout) or as an exit reason; the runtime refuses both locally, and a
  // peer cannot slip them in.
  #undefined(tag: number): never {
    throw new ProtocolError(
      this.peer,
      `${tagName(tag)} with undefined as its ${
        tag === Tag.SEND || tag === Tag.REG_SEND ? "message" : "reason"
      }`,
    );
  }

  // A signal for a pid must be for one of this node's: the answer to one
  // for a third node's would speak for that node's pid.
  #toHere(to: Pid, tag: number): void {
    if (to.node !== this.#gate.node) {
      throw new ProtocolError(
        this.peer,
        `${tagName(tag)} to ${to}, a pid of another node`,
      );
    }
  }

  #onLink(frame: FrameOf<typeof Tag.LINK>): void {
    this.#fromPeer(frame.from, frame.tag);
    this.#toHere(frame.to, frame.tag);
    // Our UNLINK of this pair is on its way and the peer sent LINK before
    // it saw it: the peer drops its new half when our UNLINK arrives, so we
    // take none (Erlang's link protocol), and both end unlinked.
    if (
      this.#unlinking.size > 0 &&
      this.#unlinking.has(unlinkKey(frame.to, frame.from))
    ) return;
    if (!this.#gate.link(frame.from, frame.to)) {
      this.send({
        tag: Tag.EXIT,
        from: frame.to,
        to: frame.from,
        reason: "noproc",
      }); // L4 across nodes
    }
  }

  #onUnlink(frame: FrameOf<typeof Tag.UNLINK>): void {
    this.#fromPeer(frame.from, frame.tag);
    this.#gate.unlink(frame.from, frame.to);
    this.send({
      tag: Tag.UNLINK_ACK,
      id: frame.id,
      from: frame.to,
      to: frame.from,
    });
  }

  #onUnlinkAck(frame: FrameOf<typeof Tag.UNLINK_ACK>): void {
    const key = unlinkKey(frame.to, frame.from);
    if (this.#unlinking.get(key) === frame.id) this.#unlinking.delete(key);
  }

  #onExit(frame: FrameOf<typeof Tag.EXIT>): void {
    this.#fromPeer(frame.from, frame.tag);
    // Sent before the peer saw our UNLINK: it belongs to the link we removed.
    if (this.#unlinking.has(unlinkKey(frame.to, frame.from))) return;
    this.#gate.exit(frame.from, frame.to, frame.reason as ExitReason, "link");
  }

  #onMonitor(frame: FrameOf<typeof Tag.MONITOR>): void {
    this.#fromPeer(frame.from, frame.tag);
    this.#fromPeer(frame.ref, frame.tag);
    if (frame.to instanceof Pid) this.#toHere(frame.to, frame.tag);
    if (this.#gate.monitor(frame.from, frame.to, frame.ref) === undefined) {
      this.send({
        tag: Tag.MONITOR_EXIT,
        from: frame.to,
        to: frame.from,
        ref: frame.ref,
        reason: "noproc",
      });
    }
  }
}

/** The key of a pending UNLINK of remote `to` by local `from`. */
function unlinkKey(from: Pid, to: Pid): string {
  return `${from.key}|${to.key}`;
}
