/**
 * The frames nodes exchange, as a union discriminated by the numeric `tag`.
 * The byte layout of each is given in `frame_decoder.ts` and
 * `docs/protocol.md`.
 *
 * @module
 */

import type { Tag, TagValue } from "./tags.ts";
import type { Pid, Ref } from "./terms.ts";

/** Length of a handshake challenge, in bytes. */
export const CHALLENGE_BYTES = 32;
/** Length of a handshake digest (HMAC-SHA256), in bytes. */
export const DIGEST_BYTES = 32;
/** Longest node name, registered name or host name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 255;

/** One entry of a {@linkcode Tag.PEER_LIST} frame: a node and where it listens. */
export interface PeerInfo {
  /** Node name. */
  name: string;
  /** Host the node listens on. */
  host: string;
  /** TCP port the node listens on, 0–65535. */
  port: number;
}

/**
 * One entry of a {@linkcode Tag.GLOBAL_SYNC} frame: a global name and the pid
 * that holds it.
 */
export interface GlobalEntry {
  /** The global name, 1–255 bytes of UTF-8. */
  name: string;
  /** The process holding it, always a process of the sending node. */
  pid: Pid;
}

/**
 * A decoded frame. Control fields (names, pids, refs, ids) have a fixed
 * binary layout; only `message` and `reason` go through the payload
 * {@linkcode Codec}.
 *
 * @example
 * ```ts
 * import { Tag } from "./tags.ts";
 * import type { Frame } from "./frame.ts";
 * import { Pid } from "./terms.ts";
 * const f: Frame = { tag: Tag.SEND, to: new Pid("b@host", 3, 1), message: "hi" };
 * if (f.tag !== 0x10) throw new Error();
 * ```
 */
export type Frame =
  | {
    tag: typeof Tag.HANDSHAKE_NAME;
    name: string;
    creation: number;
    version: number;
  }
  | {
    tag: typeof Tag.HANDSHAKE_CHALLENGE;
    name: string;
    creation: number;
    /** 32 random bytes. */
    challenge: Uint8Array;
  }
  | {
    tag: typeof Tag.HANDSHAKE_REPLY;
    /** The connector's own 32-byte challenge. */
    challenge: Uint8Array;
    /** HMAC-SHA256(cookie, acceptor's challenge), 32 bytes. */
    digest: Uint8Array;
  }
  | {
    tag: typeof Tag.HANDSHAKE_ACK;
    /** HMAC-SHA256(cookie, connector's challenge), 32 bytes. */
    digest: Uint8Array;
  }
  | { tag: typeof Tag.HANDSHAKE_REFUSE; reason: string }
  | { tag: typeof Tag.TICK }
  | { tag: typeof Tag.PING }
  | { tag: typeof Tag.PONG }
  | { tag: typeof Tag.SEND; to: Pid; message: unknown }
  | {
    tag: typeof Tag.REG_SEND;
    from: Pid | null;
    name: string;
    message: unknown;
  }
  | { tag: typeof Tag.PEER_LIST; peers: PeerInfo[] }
  | { tag: typeof Tag.LINK; from: Pid; to: Pid }
  | {
    tag: typeof Tag.UNLINK;
    /** Unsigned integer below 2^53. */
    id: number;
    from: Pid;
    to: Pid;
  }
  | {
    tag: typeof Tag.UNLINK_ACK;
    /** Unsigned integer below 2^53. */
    id: number;
    from: Pid;
    to: Pid;
  }
  | { tag: typeof Tag.EXIT; from: Pid; to: Pid; reason: unknown }
  | {
    tag: typeof Tag.EXIT2;
    from: Pid;
    /** A pid, or a name registered on the receiving node. */
    to: Pid | string;
    reason: unknown;
  }
  | {
    tag: typeof Tag.LINK_NAME;
    /** The process that links. */
    from: Pid;
    /** Request id, minted by the requester; echoed by the reply. */
    ref: Ref;
    /** A name registered on the receiving node. */
    name: string;
  }
  | {
    tag: typeof Tag.LINK_NAME_REPLY;
    /** The request's `ref`. */
    ref: Ref;
    /** The process linked to, of the replying node; `null`: none had the name. */
    pid: Pid | null;
  }
  | {
    tag: typeof Tag.MONITOR;
    from: Pid;
    /** A pid, or a name registered on the receiving node. */
    to: Pid | string;
    ref: Ref;
  }
  | {
    tag: typeof Tag.DEMONITOR;
    from: Pid;
    /** A pid, or a name registered on the receiving node. */
    to: Pid | string;
    ref: Ref;
  }
  | {
    tag: typeof Tag.MONITOR_EXIT;
    /** The monitored pid, or the registered name it was monitored by. */
    from: Pid | string;
    to: Pid;
    ref: Ref;
    reason: unknown;
  }
  | {
    tag: typeof Tag.SPAWN_REQUEST;
    /** The requesting process (or the requesting node's pseudo-pid, id 0). */
    from: Pid;
    /** Request id, minted by the requester; also the monitor's ref. */
    ref: Ref;
    /** Name on the receiving node's spawn allow-list. */
    name: string;
    /** Link the new process to `from` before it runs. */
    link: boolean;
    /** Monitor the new process from `from` (under `ref`) before it runs. */
    monitor: boolean;
    /** The arguments for the spawned body or server `init`. */
    args: unknown;
  }
  | {
    tag: typeof Tag.SPAWN_REPLY;
    /** The requester, as in the request's `from`. */
    to: Pid;
    /** The request's `ref`. */
    ref: Ref;
    ok: true;
    /** The new process, a pid of the replying node. */
    pid: Pid;
  }
  | {
    tag: typeof Tag.SPAWN_REPLY;
    /** The requester, as in the request's `from`. */
    to: Pid;
    /** The request's `ref`. */
    ref: Ref;
    ok: false;
    /** Why nothing was spawned, e.g. `"unknown_spawnable"` or an init crash. */
    reason: unknown;
  }
  | {
    tag: typeof Tag.GLOBAL_REGISTER;
    name: string;
    /** A process of the sending node. */
    pid: Pid;
  }
  | {
    tag: typeof Tag.GLOBAL_UNREGISTER;
    name: string;
    /** The process that held the name, of the sending node. */
    pid: Pid;
  }
  | {
    tag: typeof Tag.GLOBAL_SYNC;
    /** Every global name the sender's own processes hold. */
    entries: GlobalEntry[];
  }
  | {
    tag: typeof Tag.GLOBAL_PING;
    /** Unsigned integer below 2^53, echoed by the answering GLOBAL_PONG. */
    id: number;
  }
  | {
    tag: typeof Tag.GLOBAL_PONG;
    /** The id of the GLOBAL_PING answered. */
    id: number;
  };

/** Bit 0 of the flags byte of {@linkcode Tag.SPAWN_REQUEST}: link. */
export const SPAWN_LINK = 0x01;
/** Bit 1 of the flags byte of {@linkcode Tag.SPAWN_REQUEST}: monitor. */
export const SPAWN_MONITOR = 0x02;
/** Result byte of {@linkcode Tag.SPAWN_REPLY}: a pid follows. */
export const SPAWN_OK = 0x00;
/** Result byte of {@linkcode Tag.SPAWN_REPLY}: a reason payload follows. */
export const SPAWN_ERROR = 0x01;

/** A frame of one tag, e.g. `FrameOf<typeof Tag.SEND>`. */
export type FrameOf<T extends TagValue> = Extract<Frame, { tag: T }>;
