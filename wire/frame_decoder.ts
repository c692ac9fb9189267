/**
 * Frame decoding: {@linkcode FrameDecoder} for a byte stream cut anywhere,
 * {@linkcode decodeFrame} for one whole frame.
 *
 * ## Layout
 *
 * All integers are unsigned big-endian. Every frame is
 *
 * ```text
 * length  u32   number of bytes after this field (tag + body), 1 … maxFrameBytes
 * tag     u8    one of Tag
 * body    length - 1 bytes, by tag, below
 * ```
 *
 * Field types:
 *
 * ```text
 * name    u8 n, then n bytes of UTF-8 (n ≤ 255)          node, registered and host names
 * u53     u64 below 2^53 (8 bytes)
 * pid     node:name  id:u53  creation:u32                 (13 + n bytes)
 * ref     node:name  id:u53  creation:u32                 (same layout as pid)
 * pid?    u8 0x00 (null) | u8 0x01 + pid
 * dest    u8 0x01 + pid  | u8 0x02 + name                 Pid | string
 * payload all remaining bytes of the body: one value of the payload Codec
 * ```
 *
 * Bodies:
 *
 * ```text
 * 0x01 HANDSHAKE_NAME       name:name  creation:u32  version:u16
 * 0x02 HANDSHAKE_CHALLENGE  name:name  creation:u32  challenge:32 bytes
 * 0x03 HANDSHAKE_REPLY      challenge:32 bytes  digest:32 bytes
 * 0x04 HANDSHAKE_ACK        digest:32 bytes
 * 0x05 HANDSHAKE_REFUSE     reason: all remaining bytes, UTF-8 (may be empty)
 * 0x08 TICK                 (empty)
 * 0x09 PING                 (empty)
 * 0x0a PONG                 (empty)
 * 0x10 SEND                 to:pid  message:payload
 * 0x11 REG_SEND             from:pid?  name:name  message:payload
 * 0x12 PEER_LIST            count:u16, then count × (name:name  host:name  port:u16)
 * 0x13 LINK                 from:pid  to:pid
 * 0x14 UNLINK               id:u53  from:pid  to:pid
 * 0x15 EXIT                 from:pid  to:pid  reason:payload
 * 0x16 MONITOR              from:pid  to:dest  ref:ref
 * 0x17 DEMONITOR            from:pid  to:dest  ref:ref
 * 0x18 MONITOR_EXIT         from:dest  to:pid  ref:ref  reason:payload
 * 0x19 UNLINK_ACK           id:u53  from:pid  to:pid
 * 0x1a EXIT2                from:pid  to:pid  reason:payload
 * 0x20 SPAWN_REQUEST        from:pid  ref:ref  flags:u8  name:name  args:payload
 *                           flags: bit 0 link, bit 1 monitor; other bits must be 0
 * 0x21 SPAWN_REPLY          to:pid  ref:ref  result:u8, then
 *                           0x00: pid:pid (spawned)  |  0x01: reason:payload (refused)
 * 0x30 GLOBAL_REGISTER      name:name  pid:pid
 * 0x31 GLOBAL_UNREGISTER    name:name  pid:pid
 * 0x32 GLOBAL_SYNC          count:u32, then count × (name:name  pid:pid)
 * 0x33 GLOBAL_PING          id:u53
 * 0x34 GLOBAL_PONG          id:u53
 * ```
 *
 * A body must be used exactly: missing bytes are a
 * {@linkcode TruncatedFrameError}, extra ones a {@linkcode TrailingBytesError}
 * (a payload takes all the rest, so the codec judges its own end).
 *
 * @module
 */

import { ByteReader, NameCache, readU32 } from "./_bytes.ts";
import type { Codec } from "./codec.ts";
import {
  EmptyFrameError,
  FrameDecodeError,
  FrameTooLargeError,
  InvalidFieldError,
  TrailingBytesError,
  TruncatedFrameError,
  UnknownTagError,
  WireError,
} from "./errors.ts";
import {
  CHALLENGE_BYTES,
  DIGEST_BYTES,
  type Frame,
  type GlobalEntry,
  type PeerInfo,
  SPAWN_ERROR,
  SPAWN_LINK,
  SPAWN_MONITOR,
  SPAWN_OK,
} from "./frame.ts";
import {
  checkMaxFrameBytes,
  OPT_NAME,
  OPT_NONE,
  OPT_PID,
} from "./frame_encoder.ts";
import { Tag, tagName } from "./tags.ts";
import { Pid, Ref } from "./terms.ts";
import {
  checkBytes,
  checkCodec,
  checkOptions,
  messageOf,
  shown,
} from "./_shown.ts";

/** Default {@linkcode FrameDecoderOptions.maxFrameBytes}: 16 MiB. */
export const DEFAULT_MAX_FRAME_BYTES: number = 16 * 1024 * 1024;

function pid(r: ByteReader, what: string): Pid {
  return new Pid(
    r.name8(`${what}.node`),
    r.u53(`${what}.id`),
    r.u32(`${what}.creation`),
  );
}

function ref(r: ByteReader, what: string): Ref {
  return new Ref(
    r.name8(`${what}.node`),
    r.u53(`${what}.id`),
    r.u32(`${what}.creation`),
  );
}

function dest(r: ByteReader, what: string): Pid | string {
  const at = r.pos;
  const kind = r.u8(what);
  if (kind === OPT_PID) return pid(r, what);
  if (kind === OPT_NAME) return r.name8(what);
  throw r.invalid(
    `${what} has kind 0x${
      kind.toString(16)
    }: expected 0x01 (pid) or 0x02 (name)`,
    at,
  );
}

function payload(r: ByteReader, codec: Codec, what: string): unknown {
  r.need(1, what);
  const at = r.pos;
  r.pos = r.end;
  try {
    return codec.decodeRange !== undefined
      ? codec.decodeRange(r.buf, at, r.end)
      : codec.decode(r.buf.subarray(at, r.end));
  } catch (e) {
    throw new FrameDecodeError(
      `${what} does not decode: ${messageOf(e)}`,
      { tag: r.tag, offset: r.base + at, cause: e },
    );
  }
}

function peerList(r: ByteReader): Frame {
  const count = r.u16("peer count");
  // Each entry takes at least 4 bytes: check before looping on a lie.
  r.need(count * 4, `${count} peers`);
  const peers: PeerInfo[] = [];
  for (let i = 0; i < count; i++) {
    const name = r.name8(`peers[${i}].name`);
    const host = r.name8(`peers[${i}].host`);
    peers.push({ name, host, port: r.u16(`peers[${i}].port`) });
  }
  return { tag: Tag.PEER_LIST, peers };
}

function globalSync(r: ByteReader): Frame {
  const count = r.u32("entry count");
  // Each entry takes at least 14 bytes: check before looping on a lie.
  r.need(count * 14, `${count} entries`);
  const entries: GlobalEntry[] = [];
  for (let i = 0; i < count; i++) {
    const name = r.name8(`entries[${i}].name`);
    entries.push({ name, pid: pid(r, `entries[${i}].pid`) });
  }
  return { tag: Tag.GLOBAL_SYNC, entries };
}

function optionalPid(r: ByteReader, what: string): Pid | null {
  const at = r.pos;
  const kind = r.u8(what);
  if (kind === OPT_NONE) return null;
  if (kind === OPT_PID) return pid(r, what);
  throw r.invalid(
    `${what} has kind 0x${
      kind.toString(16)
    }: expected 0x00 (none) or 0x01 (pid)`,
    at,
  );
}

function regSend(r: ByteReader, codec: Codec): Frame {
  const from = optionalPid(r, "from");
  const name = r.name8("name");
  return {
    tag: Tag.REG_SEND,
    from,
    name,
    message: payload(r, codec, "message"),
  };
}

function spawnRequest(r: ByteReader, codec: Codec): Frame {
  const from = pid(r, "from");
  const reqRef = ref(r, "ref");
  const at = r.pos;
  const flags = r.u8("flags");
  if ((flags & ~(SPAWN_LINK | SPAWN_MONITOR)) !== 0) {
    throw r.invalid(
      `flags 0x${
        flags.toString(16)
      } has unknown bits: only 0x01 (link) and 0x02 (monitor) are defined`,
      at,
    );
  }
  const name = r.name8("name");
  return {
    tag: Tag.SPAWN_REQUEST,
    from,
    ref: reqRef,
    name,
    link: (flags & SPAWN_LINK) !== 0,
    monitor: (flags & SPAWN_MONITOR) !== 0,
    args: payload(r, codec, "args"),
  };
}

function spawnReply(r: ByteReader, codec: Codec): Frame {
  const to = pid(r, "to");
  const reqRef = ref(r, "ref");
  const at = r.pos;
  const result = r.u8("result");
  if (result === SPAWN_OK) {
    return {
      tag: Tag.SPAWN_REPLY,
      to,
      ref: reqRef,
      ok: true,
      pid: pid(r, "pid"),
    };
  }
  if (result === SPAWN_ERROR) {
    return {
      tag: Tag.SPAWN_REPLY,
      to,
      ref: reqRef,
      ok: false,
      reason: payload(r, codec, "reason"),
    };
  }
  throw r.invalid(
    `result is 0x${result.toString(16)}: expected 0x00 (pid) or 0x01 (reason)`,
    at,
  );
}

function body(r: ByteReader, tag: number, codec: Codec): Frame {
  switch (tag) {
    case Tag.HANDSHAKE_NAME:
      return {
        tag,
        name: r.name8("name"),
        creation: r.u32("creation"),
        version: r.u16("version"),
      };
    case Tag.HANDSHAKE_CHALLENGE:
      return {
        tag,
        name: r.name8("name"),
        creation: r.u32("creation"),
        challenge: r.bytes(CHALLENGE_BYTES, "challenge"),
      };
    case Tag.HANDSHAKE_REPLY:
      return {
        tag,
        challenge: r.bytes(CHALLENGE_BYTES, "challenge"),
        digest: r.bytes(DIGEST_BYTES, "digest"),
      };
    case Tag.HANDSHAKE_ACK:
      return { tag, digest: r.bytes(DIGEST_BYTES, "digest") };
    case Tag.HANDSHAKE_REFUSE:
      return { tag, reason: r.utf8(r.left, "reason") };
    case Tag.TICK:
    case Tag.PING:
    case Tag.PONG:
      return { tag };
    case Tag.SEND:
      return { tag, to: pid(r, "to"), message: payload(r, codec, "message") };
    case Tag.REG_SEND:
      return regSend(r, codec);
    case Tag.PEER_LIST:
      return peerList(r);
    case Tag.LINK:
      return { tag, from: pid(r, "from"), to: pid(r, "to") };
    case Tag.UNLINK:
    case Tag.UNLINK_ACK:
      return { tag, id: r.u53("id"), from: pid(r, "from"), to: pid(r, "to") };
    case Tag.EXIT:
      return {
        tag,
        from: pid(r, "from"),
        to: pid(r, "to"),
        reason: payload(r, codec, "reason"),
      };
    case Tag.EXIT2:
      return {
        tag,
        from: pid(r, "from"),
        to: dest(r, "to"),
        reason: payload(r, codec, "reason"),
      };
    case Tag.LINK_NAME:
      return {
        tag,
        from: pid(r, "from"),
        ref: ref(r, "ref"),
        name: r.name8("name"),
      };
    case Tag.LINK_NAME_REPLY:
      return { tag, ref: ref(r, "ref"), pid: optionalPid(r, "pid") };
    case Tag.MONITOR:
    case Tag.DEMONITOR:
      return {
        tag,
        from: pid(r, "from"),
        to: dest(r, "to"),
        ref: ref(r, "ref"),
      };
    case Tag.MONITOR_EXIT:
      return {
        tag,
        from: dest(r, "from"),
        to: pid(r, "to"),
        ref: ref(r, "ref"),
        reason: payload(r, codec, "reason"),
      };
    case Tag.SPAWN_REQUEST:
      return spawnRequest(r, codec);
    case Tag.SPAWN_REPLY:
      return spawnReply(r, codec);
    case Tag.GLOBAL_REGISTER:
    case Tag.GLOBAL_UNREGISTER:
      return { tag, name: r.name8("name"), pid: pid(r, "pid") };
    case Tag.GLOBAL_SYNC:
      return globalSync(r);
    case Tag.GLOBAL_PING:
    case Tag.GLOBAL_PONG:
      return { tag, id: r.u53("id") };
    default:
      throw new UnknownTagError(tag, r.base + r.pos - 1);
  }
}

// Decodes the frame whose tag is at buf[start] and which ends at `end`;
// `base` is the input offset of buf[0]. Throws only WireErrors.
function decodeBody(
  buf: Uint8Array,
  start: number,
  end: number,
  base: number,
  codec: Codec,
  reader?: ByteReader,
): Frame {
  const tag = buf[start]!;
  const r = reader !== undefined
    ? reader.reset(buf, start + 1, end, base, tag)
    : new ByteReader(buf, start + 1, end, base, tag);
  let frame: Frame;
  try {
    frame = body(r, tag, codec);
  } catch (e) {
    if (e instanceof WireError) throw e;
    // A stack overflow or a bug: still a WireError for the caller.
    throw new FrameDecodeError(
      `${tagName(tag)} frame does not decode: ${(e as Error)?.message ?? e}`,
      { tag, offset: base + start, cause: e },
    );
  }
  if (r.left !== 0) {
    throw new TrailingBytesError(
      `${r.left} bytes left after the last field`,
      { tag, offset: base + r.pos },
    );
  }
  return frame;
}

function carriesPayload(tag: number): boolean {
  return tag === Tag.SEND || tag === Tag.REG_SEND || tag === Tag.EXIT ||
    tag === Tag.EXIT2 || tag === Tag.MONITOR_EXIT ||
    tag === Tag.SPAWN_REQUEST || tag === Tag.SPAWN_REPLY;
}

/**
 * Decodes one whole frame, length prefix included; `bytes` must hold
 * exactly that frame. Throws a {@linkcode WireError} otherwise. Binary data
 * in the payload may share memory with `bytes`.
 *
 * @example
 * ```ts
 * import { decodeFrame, MsgpackCodec, Tag } from "./mod.ts";
 * const frame = decodeFrame(new Uint8Array([0, 0, 0, 1, 0x08]), new MsgpackCodec());
 * if (frame.tag !== Tag.TICK) throw new Error();
 * ```
 */
export function decodeFrame(bytes: Uint8Array, codec: Codec): Frame {
  checkBytes(bytes, "decodeFrame bytes");
  checkCodec(codec, "decodeFrame codec");
  if (bytes.length < 4) {
    throw new TruncatedFrameError(
      `${bytes.length} bytes cannot hold a length prefix`,
      { offset: 0 },
    );
  }
  const length = readU32(bytes, 0);
  if (length === 0) throw new EmptyFrameError(0);
  if (bytes.length - 4 < length) {
    throw new TruncatedFrameError(
      `the frame declares ${length} bytes after its prefix but ${
        bytes.length - 4
      } are given`,
      { offset: bytes.length },
    );
  }
  if (bytes.length - 4 > length) {
    throw new TrailingBytesError(
      `${bytes.length - 4 - length} bytes follow the frame`,
      { offset: 4 + length },
    );
  }
  return decodeBody(bytes, 4, bytes.length, 0, codec);
}

/** Options of {@linkcode FrameDecoder}. */
export interface FrameDecoderOptions {
  /**
   * Largest accepted length field (bytes after the prefix); a larger one is
   * refused with {@linkcode FrameTooLargeError} before anything is
   * allocated for it. Default 16 MiB.
   */
  maxFrameBytes?: number;
}

const EMPTY = new Uint8Array(0);
const MIN_BUFFER = 256 * 1024;
// Frames from this size up decide the size of a new buffer (#makeRoom).
const LARGE_FRAME = 4 * 1024;

/**
 * Cuts a byte stream into frames. Feed it chunks of any size with
 * {@linkcode FrameDecoder.push}, then call {@linkcode FrameDecoder.next}
 * until it returns `undefined`.
 *
 * Errors are final: once `next` has thrown a {@linkcode WireError}, it
 * throws the same error again, since the stream can no longer be trusted;
 * the connection should be closed.
 *
 * Memory: bytes are copied once into an internal buffer; a frame whose
 * length is known gets its whole room reserved at once, so a large frame
 * arriving in small pieces is not re-copied. Binary payload values are views
 * of that buffer (never overwritten afterwards), so holding one keeps its
 * buffer (256 KiB to 512 KiB, or the frame's size; under a `maxFrameBytes`
 * below 256 KiB, about that limit) alive.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameDecoder, MsgpackCodec, Tag } from "./mod.ts";
 * const codec = new MsgpackCodec();
 * const bytes = encodeFrame({ tag: Tag.HANDSHAKE_REFUSE, reason: "busy" }, codec);
 * const decoder = new FrameDecoder(codec);
 * for (const b of bytes) decoder.push(new Uint8Array([b]));
 * const frame = decoder.next();
 * if (frame?.tag !== Tag.HANDSHAKE_REFUSE || frame.reason !== "busy") throw new Error();
 * if (decoder.next() !== undefined || decoder.buffered !== 0) throw new Error();
 * ```
 */
export class FrameDecoder {
  readonly #codec: Codec;
  #max: number;
  #buf: Uint8Array = EMPTY;
  #start = 0;
  #end = 0;
  // Part of #buf was handed to the codec (binary payloads may be views of
  // it), so those bytes must never be overwritten.
  #lent = false;
  // Stream offset of #buf[#start].
  #consumed = 0;
  // Size (with its prefix) of the last frame: the guess for the next one's.
  #lastFrame = 0;
  #failed: WireError | undefined;
  // Node and registered names repeat in every frame of a connection. One
  // reader serves every frame.
  readonly #reader = new ByteReader(EMPTY, 0, 0, 0, undefined, new NameCache());

  /** A decoder for payloads of `codec`; see {@linkcode FrameDecoderOptions}. */
  constructor(codec: Codec, options?: FrameDecoderOptions) {
    checkCodec(codec, "FrameDecoder codec");
    checkOptions(options, "FrameDecoder options");
    this.#codec = codec;
    this.#max = checkMaxFrameBytes(
      options?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    );
  }

  /**
   * The largest accepted length field, as {@linkcode
   * FrameDecoderOptions.maxFrameBytes}. It may be changed between frames: a
   * node reads a handshake under a small limit, so that a peer that has
   * proved nothing cannot make it reserve much memory, and raises the limit
   * once the handshake is done. While the limit is small, so are the
   * decoder's buffers. Setting anything but an integer from 1 to 2^32-1
   * throws `RangeError`.
   *
   * @example
   * ```ts
   * import { encodeFrame, FrameDecoder, MsgpackCodec, Tag } from "./mod.ts";
   * const codec = new MsgpackCodec();
   * const decoder = new FrameDecoder(codec, { maxFrameBytes: 64 });
   * decoder.push(encodeFrame({ tag: Tag.TICK }, codec));
   * if (decoder.next()?.tag !== Tag.TICK) throw new Error();
   * decoder.maxFrameBytes = 1 << 20;
   * decoder.push(encodeFrame({ tag: Tag.HANDSHAKE_REFUSE, reason: "x".repeat(100) }, codec));
   * if (decoder.next()?.tag !== Tag.HANDSHAKE_REFUSE) throw new Error();
   * ```
   */
  get maxFrameBytes(): number {
    return this.#max;
  }

  set maxFrameBytes(max: number) {
    this.#max = checkMaxFrameBytes(max);
  }

  /** Appends bytes of the stream; `chunk` is copied, so it may be reused. */
  push(chunk: Uint8Array): void {
    checkBytes(chunk, "FrameDecoder.push chunk");
    const n = chunk.length;
    if (n === 0) return;
    if (this.#end + n > this.#buf.length) this.#makeRoom(n);
    this.#buf.set(chunk, this.#end);
    this.#end += n;
  }

  /**
   * Free space at the end of the decoder's buffer, at least `min` bytes, to
   * read the stream into directly (saving the copy {@linkcode
   * FrameDecoder.push} makes); then {@linkcode FrameDecoder.commit} the
   * number of bytes read. The view is valid until the next call that adds
   * bytes. Asking for no more than {@linkcode FrameDecoder.needed} when a
   * frame has begun lets a buffer end where that frame does.
   *
   * @example
   * ```ts
   * import { encodeFrame, FrameDecoder, MsgpackCodec, Tag } from "./mod.ts";
   * const codec = new MsgpackCodec();
   * const decoder = new FrameDecoder(codec);
   * const bytes = encodeFrame({ tag: Tag.TICK }, codec);
   * decoder.writable(bytes.length).set(bytes);
   * decoder.commit(bytes.length);
   * if (decoder.next()?.tag !== Tag.TICK) throw new Error();
   * ```
   */
  writable(min: number): Uint8Array {
    if (!Number.isInteger(min) || min < 1) {
      throw new RangeError(
        `writable needs a positive integer, got ${shown(min)}`,
      );
    }
    const buf = this.#buf;
    if (this.#end + min > buf.length || buf.length < this.#floor()) {
      this.#makeRoom(min);
    }
    return this.#buf.subarray(this.#end);
  }

  /** Adds `n` bytes just written into the view {@linkcode FrameDecoder.writable} gave. */
  commit(n: number): void {
    if (!Number.isInteger(n) || n < 0 || this.#end + n > this.#buf.length) {
      throw new RangeError(
        `commit of ${shown(n)} bytes exceeds the ${
          this.#buf.length - this.#end
        } writable`,
      );
    }
    this.#end += n;
  }

  /**
   * The smallest buffer worth making. A decoder under a small limit (a
   * handshake's) needs no more; one whose limit was raised since moves to a
   * buffer of the usual size at its next read.
   */
  #floor(): number {
    return Math.min(MIN_BUFFER, this.#max + 4);
  }

  #makeRoom(n: number): void {
    const buf = this.#buf;
    const start = this.#start;
    const unread = this.#end - start;
    let need = unread + n;
    let unit = this.#lastFrame;
    if (unread >= 4) {
      // Reserve the whole pending frame now, so its later pieces fit.
      const length = readU32(buf, start);
      if (length <= this.#max) {
        need = Math.max(need, 4 + length);
        unit = 4 + length;
      }
    }
    const floor = this.#floor();
    if (!this.#lent && need <= buf.length && buf.length >= floor) {
      buf.copyWithin(0, start, this.#end);
    } else {
      let size = Math.max(need, floor, unread * 2);
      // A new buffer starts at a frame. Sized to a whole number of large
      // frames like the last, a stream of them ends each buffer at a frame
      // boundary, and no frame is left to copy into the next.
      if (unit >= LARGE_FRAME && unit <= MIN_BUFFER) {
        size = Math.ceil(size / unit) * unit;
      }
      const next = new Uint8Array(size);
      next.set(buf.subarray(start, this.#end));
      this.#buf = next;
      this.#lent = false;
    }
    this.#start = 0;
    this.#end = unread;
  }

  /**
   * The next whole frame, or `undefined` if more bytes are needed. Throws a
   * {@linkcode WireError} on bad input (and again on every later call).
   */
  next(): Frame | undefined {
    if (this.#failed !== undefined) throw this.#failed;
    const start = this.#start;
    const unread = this.#end - start;
    if (unread < 4) return undefined;
    const buf = this.#buf;
    const length = readU32(buf, start);
    if (length === 0) throw this.#fail(new EmptyFrameError(this.#consumed));
    if (length > this.#max) {
      throw this.#fail(
        new FrameTooLargeError(length, this.#max, this.#consumed),
      );
    }
    if (unread - 4 < length) return undefined;
    const end = start + 4 + length;
    const tag = buf[start + 4]!;
    let frame: Frame;
    try {
      frame = decodeBody(
        buf,
        start + 4,
        end,
        this.#consumed - start,
        this.#codec,
        this.#reader,
      );
    } catch (e) {
      throw this.#fail(
        e instanceof WireError ? e : new InvalidFieldError(
          `unexpected failure: ${messageOf(e)}`,
          { tag, offset: this.#consumed, cause: e },
        ),
      );
    }
    if (carriesPayload(tag)) this.#lent = true;
    this.#lastFrame = 4 + length;
    this.#consumed += 4 + length;
    if (end === this.#end && !this.#lent) {
      this.#start = this.#end = 0;
    } else {
      this.#start = end;
    }
    return frame;
  }

  #fail(e: WireError): WireError {
    this.#failed = e;
    return e;
  }

  /**
   * Bytes still to come before the frame that has begun is whole: 0 if none
   * has begun, or its length prefix is not all here yet (or is refused).
   *
   * @example
   * ```ts
   * import { encodeFrame, FrameDecoder, MsgpackCodec, Tag } from "./mod.ts";
   * const codec = new MsgpackCodec();
   * const bytes = encodeFrame({ tag: Tag.HANDSHAKE_REFUSE, reason: "busy" }, codec);
   * const decoder = new FrameDecoder(codec);
   * decoder.push(bytes.subarray(0, 6));
   * if (decoder.next() !== undefined) throw new Error();
   * if (decoder.needed !== bytes.length - 6) throw new Error();
   * ```
   */
  get needed(): number {
    const unread = this.#end - this.#start;
    if (unread < 4) return 0;
    const length = readU32(this.#buf, this.#start);
    if (length === 0 || length > this.#max) return 0;
    return Math.max(0, 4 + length - unread);
  }

  /** Bytes pushed but not yet returned as frames. */
  get buffered(): number {
    return this.#end - this.#start;
  }
}
