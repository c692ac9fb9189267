/**
 * Frame encoding: {@linkcode encodeFrame} for one frame, and
 * {@linkcode FrameWriter} to gather a turn's frames into one buffer. The
 * layout is documented in `frame_decoder.ts` and `docs/protocol.md`.
 *
 * @module
 */

import { ByteWriter, checkUint, U16_MAX, U32_MAX } from "./_bytes.ts";
import type { Codec, MsgpackCodec } from "./codec.ts";
import { ENCODE_INTO } from "./_small_encode.ts";
import { UnencodableValueError } from "./errors.ts";
import {
  CHALLENGE_BYTES,
  DIGEST_BYTES,
  type Frame,
  type FrameOf,
  SPAWN_ERROR,
  SPAWN_LINK,
  SPAWN_MONITOR,
  SPAWN_OK,
} from "./frame.ts";
import { Tag } from "./tags.ts";
import { Pid, Ref } from "./terms.ts";
import {
  checkCodec,
  checkOptions,
  isInstance,
  messageOf,
  shown,
} from "./_shown.ts";

/** Discriminator byte of a `Pid | null` field. */
export const OPT_NONE = 0x00;
/** Discriminator byte of a field holding a pid. */
export const OPT_PID = 0x01;
/** Discriminator byte of a `Pid | string` field holding a registered name. */
export const OPT_NAME = 0x02;

function pid(w: ByteWriter, p: Pid, path: string): void {
  // A Ref has a pid's layout: a frame must not carry one for the other.
  if (!(p instanceof Pid)) {
    throw new UnencodableValueError(`expected a Pid, got ${shown(p)}`, {
      path,
    });
  }
  term(w, p, path);
}

function ref(w: ByteWriter, r: Ref, path: string): void {
  if (!(r instanceof Ref)) {
    throw new UnencodableValueError(`expected a Ref, got ${shown(r)}`, {
      path,
    });
  }
  term(w, r, path);
}

function term(w: ByteWriter, p: Pid | Ref, path: string): void {
  w.name8(p.node, `${path}.node`);
  const { id, creation } = p;
  if (!Number.isSafeInteger(id) || id < 0) {
    checkUint(id, Number.MAX_SAFE_INTEGER, `${path}.id`);
  }
  if (!(creation >= 0 && creation <= U32_MAX && Number.isInteger(creation))) {
    checkUint(creation, U32_MAX, `${path}.creation`);
  }
  w.u53(id);
  w.u32(creation);
}

function pidOrName(w: ByteWriter, p: Pid | string, path: string): void {
  if (typeof p === "string") {
    w.u8(OPT_NAME);
    w.name8(p, path);
  } else {
    w.u8(OPT_PID);
    pid(w, p, path);
  }
}

function fixed(w: ByteWriter, b: Uint8Array, n: number, path: string): void {
  if (!(b instanceof Uint8Array) || b.length !== n) {
    throw new UnencodableValueError(
      `expected a Uint8Array of ${n} bytes, got ${
        b instanceof Uint8Array ? `${b.length} bytes` : typeof b
      }`,
      { path },
    );
  }
  w.bytes(b);
}

function payload(
  w: ByteWriter,
  codec: Codec,
  value: unknown,
  path: string,
): void {
  const c = codec as Partial<Pick<MsgpackCodec, typeof ENCODE_INTO>>;
  let bytes: Uint8Array;
  try {
    // The codec's fast path writes in place: a binary is copied once.
    if (c[ENCODE_INTO] !== undefined && c[ENCODE_INTO](w, value)) return;
    bytes = codec.encodeShared !== undefined
      ? codec.encodeShared(value)
      : codec.encode(value);
  } catch (e) {
    if (isInstance(e, UnencodableValueError)) throw e.within(path);
    throw new UnencodableValueError(
      `the codec refused it: ${messageOf(e)}`,
      { path, cause: e },
    );
  }
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw new UnencodableValueError(
      "the codec returned no bytes",
      { path },
    );
  }
  w.bytes(bytes);
}

function name(w: ByteWriter, f: FrameOf<typeof Tag.HANDSHAKE_NAME>): void {
  w.name8(f.name, "name");
  checkUint(f.creation, U32_MAX, "creation");
  checkUint(f.version, U16_MAX, "version");
  w.u32(f.creation);
  w.u16(f.version);
}

function challenge(
  w: ByteWriter,
  f: FrameOf<typeof Tag.HANDSHAKE_CHALLENGE>,
): void {
  w.name8(f.name, "name");
  checkUint(f.creation, U32_MAX, "creation");
  w.u32(f.creation);
  fixed(w, f.challenge, CHALLENGE_BYTES, "challenge");
}

function reply(w: ByteWriter, f: FrameOf<typeof Tag.HANDSHAKE_REPLY>): void {
  fixed(w, f.challenge, CHALLENGE_BYTES, "challenge");
  fixed(w, f.digest, DIGEST_BYTES, "digest");
}

function ack(w: ByteWriter, f: FrameOf<typeof Tag.HANDSHAKE_ACK>): void {
  fixed(w, f.digest, DIGEST_BYTES, "digest");
}

function refuse(w: ByteWriter, f: FrameOf<typeof Tag.HANDSHAKE_REFUSE>): void {
  if (typeof f.reason !== "string") {
    throw new UnencodableValueError("expected a string", { path: "reason" });
  }
  w.utf8(f.reason);
}

function send(w: ByteWriter, f: FrameOf<typeof Tag.SEND>, c: Codec): void {
  pid(w, f.to, "to");
  payload(w, c, f.message, "message");
}

function regSend(
  w: ByteWriter,
  f: FrameOf<typeof Tag.REG_SEND>,
  c: Codec,
): void {
  if (f.from === null) w.u8(OPT_NONE);
  else {
    w.u8(OPT_PID);
    pid(w, f.from, "from");
  }
  w.name8(f.name, "name");
  payload(w, c, f.message, "message");
}

function peerList(w: ByteWriter, f: FrameOf<typeof Tag.PEER_LIST>): void {
  const peers = f.peers;
  if (!Array.isArray(peers) || peers.length > U16_MAX) {
    throw new UnencodableValueError(
      `expected an array of at most ${U16_MAX} peers`,
      { path: "peers" },
    );
  }
  w.u16(peers.length);
  for (let i = 0; i < peers.length; i++) {
    const p = peers[i]!;
    w.name8(p.name, `peers[${i}].name`);
    w.name8(p.host, `peers[${i}].host`);
    checkUint(p.port, U16_MAX, `peers[${i}].port`);
    w.u16(p.port);
  }
}

function link(w: ByteWriter, f: FrameOf<typeof Tag.LINK>): void {
  pid(w, f.from, "from");
  pid(w, f.to, "to");
}

function unlink(
  w: ByteWriter,
  f: FrameOf<typeof Tag.UNLINK | typeof Tag.UNLINK_ACK>,
): void {
  checkUint(f.id, Number.MAX_SAFE_INTEGER, "id");
  w.u53(f.id);
  pid(w, f.from, "from");
  pid(w, f.to, "to");
}

function exit(w: ByteWriter, f: FrameOf<typeof Tag.EXIT>, c: Codec): void {
  pid(w, f.from, "from");
  pid(w, f.to, "to");
  payload(w, c, f.reason, "reason");
}

function exit2(w: ByteWriter, f: FrameOf<typeof Tag.EXIT2>, c: Codec): void {
  pid(w, f.from, "from");
  pidOrName(w, f.to, "to");
  payload(w, c, f.reason, "reason");
}

function linkName(w: ByteWriter, f: FrameOf<typeof Tag.LINK_NAME>): void {
  pid(w, f.from, "from");
  ref(w, f.ref, "ref");
  w.name8(f.name, "name");
}

function linkNameReply(
  w: ByteWriter,
  f: FrameOf<typeof Tag.LINK_NAME_REPLY>,
): void {
  ref(w, f.ref, "ref");
  if (f.pid === null) w.u8(OPT_NONE);
  else {
    w.u8(OPT_PID);
    pid(w, f.pid, "pid");
  }
}

function monitor(
  w: ByteWriter,
  f: FrameOf<typeof Tag.MONITOR | typeof Tag.DEMONITOR>,
): void {
  pid(w, f.from, "from");
  pidOrName(w, f.to, "to");
  ref(w, f.ref, "ref");
}

function monitorExit(
  w: ByteWriter,
  f: FrameOf<typeof Tag.MONITOR_EXIT>,
  c: Codec,
): void {
  pidOrName(w, f.from, "from");
  pid(w, f.to, "to");
  ref(w, f.ref, "ref");
  payload(w, c, f.reason, "reason");
}

function spawnRequest(
  w: ByteWriter,
  f: FrameOf<typeof Tag.SPAWN_REQUEST>,
  c: Codec,
): void {
  pid(w, f.from, "from");
  ref(w, f.ref, "ref");
  if (typeof f.link !== "boolean" || typeof f.monitor !== "boolean") {
    throw new UnencodableValueError("expected booleans", {
      path: typeof f.link !== "boolean" ? "link" : "monitor",
    });
  }
  w.u8((f.link ? SPAWN_LINK : 0) | (f.monitor ? SPAWN_MONITOR : 0));
  w.name8(f.name, "name");
  payload(w, c, f.args, "args");
}

function spawnReply(
  w: ByteWriter,
  f: FrameOf<typeof Tag.SPAWN_REPLY>,
  c: Codec,
): void {
  pid(w, f.to, "to");
  ref(w, f.ref, "ref");
  if (f.ok === true) {
    w.u8(SPAWN_OK);
    pid(w, f.pid, "pid");
  } else if (f.ok === false) {
    w.u8(SPAWN_ERROR);
    payload(w, c, f.reason, "reason");
  } else {
    throw new UnencodableValueError("expected a boolean", { path: "ok" });
  }
}

function globalName(
  w: ByteWriter,
  f: FrameOf<typeof Tag.GLOBAL_REGISTER | typeof Tag.GLOBAL_UNREGISTER>,
): void {
  w.name8(f.name, "name");
  pid(w, f.pid, "pid");
}

function globalSync(w: ByteWriter, f: FrameOf<typeof Tag.GLOBAL_SYNC>): void {
  const entries = f.entries;
  if (!Array.isArray(entries) || entries.length > U32_MAX) {
    throw new UnencodableValueError(
      "expected an array of entries",
      { path: "entries" },
    );
  }
  w.u32(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (typeof e !== "object" || e === null) {
      throw new UnencodableValueError(
        "expected an object { name, pid }",
        { path: `entries[${i}]` },
      );
    }
    w.name8(e.name, `entries[${i}].name`);
    pid(w, e.pid, `entries[${i}].pid`);
  }
}

function ping(
  w: ByteWriter,
  f: FrameOf<typeof Tag.GLOBAL_PING | typeof Tag.GLOBAL_PONG>,
): void {
  checkUint(f.id, Number.MAX_SAFE_INTEGER, "id");
  w.u53(f.id);
}

function body(w: ByteWriter, f: Frame, c: Codec): void {
  switch (f.tag) {
    case Tag.HANDSHAKE_NAME:
      return name(w, f);
    case Tag.HANDSHAKE_CHALLENGE:
      return challenge(w, f);
    case Tag.HANDSHAKE_REPLY:
      return reply(w, f);
    case Tag.HANDSHAKE_ACK:
      return ack(w, f);
    case Tag.HANDSHAKE_REFUSE:
      return refuse(w, f);
    case Tag.TICK:
    case Tag.PING:
    case Tag.PONG:
      return;
    case Tag.SEND:
      return send(w, f, c);
    case Tag.REG_SEND:
      return regSend(w, f, c);
    case Tag.PEER_LIST:
      return peerList(w, f);
    case Tag.LINK:
      return link(w, f);
    case Tag.UNLINK:
    case Tag.UNLINK_ACK:
      return unlink(w, f);
    case Tag.EXIT:
      return exit(w, f, c);
    case Tag.EXIT2:
      return exit2(w, f, c);
    case Tag.LINK_NAME:
      return linkName(w, f);
    case Tag.LINK_NAME_REPLY:
      return linkNameReply(w, f);
    case Tag.MONITOR:
    case Tag.DEMONITOR:
      return monitor(w, f);
    case Tag.MONITOR_EXIT:
      return monitorExit(w, f, c);
    case Tag.SPAWN_REQUEST:
      return spawnRequest(w, f, c);
    case Tag.SPAWN_REPLY:
      return spawnReply(w, f, c);
    case Tag.GLOBAL_REGISTER:
    case Tag.GLOBAL_UNREGISTER:
      return globalName(w, f);
    case Tag.GLOBAL_SYNC:
      return globalSync(w, f);
    case Tag.GLOBAL_PING:
    case Tag.GLOBAL_PONG:
      return ping(w, f);
    default: {
      const unknown: never = f;
      throw new UnencodableValueError(
        `unknown tag ${shown((unknown as { tag: unknown }).tag)}`,
        { path: "tag" },
      );
    }
  }
}

// Appends one whole frame to `w`; on failure `w` is left as it was.
/** A frame length limit, checked: an integer from 1 to 2^32-1, or `RangeError`. */
export function checkMaxFrameBytes(max: number): number {
  if (!Number.isInteger(max) || max < 1 || max > U32_MAX) {
    throw new RangeError(
      `maxFrameBytes must be an integer from 1 to 2^32-1, got ${shown(max)}`,
    );
  }
  return max;
}

function writeFrame(
  w: ByteWriter,
  f: Frame,
  c: Codec,
  max: number = U32_MAX,
): void {
  const given: unknown = f;
  if (
    typeof given !== "object" || given === null ||
    typeof (given as { tag?: unknown }).tag !== "number"
  ) {
    throw new UnencodableValueError(
      `expected a frame { tag, … } with a numeric tag, got ${
        typeof given === "object" && given !== null
          ? `tag ${shown((given as { tag?: unknown }).tag)}`
          : shown(given)
      }`,
      { path: "" },
    );
  }
  const at = w.pos;
  try {
    w.ensure(5);
    w.pos += 4;
    w.buf[w.pos++] = f.tag;
    body(w, f, c);
    const length = w.pos - at - 4;
    if (length > max) {
      throw new UnencodableValueError(
        max === U32_MAX
          ? `the frame is ${length} bytes, more than a u32 length allows`
          : `the frame is ${length} bytes, more than the limit of ${max} (maxFrameBytes)`,
        { path: "" },
      );
    }
    w.view.setUint32(at, length);
  } catch (e) {
    w.pos = at;
    throw e;
  }
}

/**
 * Encodes one whole frame, length prefix included. Throws
 * {@linkcode UnencodableValueError} (with the field's path, e.g. `to.node`
 * or `message.handler`) if a field or payload cannot be encoded.
 *
 * @example
 * ```ts
 * import { encodeFrame, MsgpackCodec, Tag } from "./mod.ts";
 * const bytes = encodeFrame({ tag: Tag.TICK }, new MsgpackCodec());
 * if (bytes.join() !== "0,0,0,1,8") throw new Error();
 * ```
 */
export function encodeFrame(frame: Frame, codec: Codec): Uint8Array {
  checkCodec(codec, "encodeFrame codec");
  const w = new ByteWriter(64);
  writeFrame(w, frame, codec);
  return w.buf.subarray(0, w.pos);
}

/** Options of a {@linkcode FrameWriter}. */
export interface FrameWriterOptions {
  /**
   * Largest length field (tag + body) a frame may have; a frame that would
   * be longer is refused with {@linkcode UnencodableValueError}, as the
   * peer's decoder would refuse it (and close the connection). Default
   * 2^32-1, what the length field holds.
   */
  maxFrameBytes?: number;
}

/** Buffers at or below this size are kept between {@linkcode FrameWriter.take}s. */
const KEEP_BYTES = 1 << 20;
/** Returned buffers a {@linkcode FrameWriter} keeps for reuse. */
const SPARE_BUFFERS = 16;

/**
 * Gathers frames into one buffer so that a session can write everything of
 * one turn with one write call. A frame that fails to encode leaves nothing
 * behind.
 *
 * @example
 * ```ts
 * import { FrameWriter, MsgpackCodec, Tag } from "./mod.ts";
 * const writer = new FrameWriter(new MsgpackCodec());
 * writer.write({ tag: Tag.TICK });
 * writer.write({ tag: Tag.TICK });
 * const bytes = writer.take();
 * if (bytes.length !== 10 || writer.byteLength !== 0) throw new Error();
 * ```
 */
export class FrameWriter {
  readonly #codec: Codec;
  readonly #max: number;
  #w = new ByteWriter(4096);

  /** A writer encoding payloads with `codec`; see {@linkcode FrameWriterOptions}. */
  constructor(codec: Codec, options?: FrameWriterOptions) {
    checkCodec(codec, "FrameWriter codec");
    checkOptions(options, "FrameWriter options");
    this.#codec = codec;
    this.#max = checkMaxFrameBytes(options?.maxFrameBytes ?? U32_MAX);
  }

  /**
   * Appends one frame; throws {@linkcode UnencodableValueError} and appends
   * nothing if it cannot be encoded, or if its length field would exceed
   * {@linkcode FrameWriterOptions.maxFrameBytes}.
   */
  write(frame: Frame): void {
    writeFrame(this.#w, frame, this.#codec, this.#max);
  }

  /** Bytes written since the last {@linkcode FrameWriter.take}. */
  get byteLength(): number {
    return this.#w.pos;
  }

  /**
   * All frames written since the last take, in one new buffer owned by the
   * caller; the writer is empty afterwards.
   */
  take(): Uint8Array {
    const w = this.#w;
    const out = w.buf.slice(0, w.pos);
    w.pos = 0;
    if (w.buf.length > KEEP_BYTES) this.#w = new ByteWriter(4096);
    return out;
  }

  /**
   * Like {@linkcode FrameWriter.take} but without a copy: the frames as a
   * view of the writer's own buffer, which the writer leaves alone until the
   * view is handed back with {@linkcode FrameWriter.recycle}. A session that
   * writes a whole turn at a time saves a copy of every byte this way.
   *
   * @example
   * ```ts
   * import { FrameWriter, MsgpackCodec, Tag } from "./mod.ts";
   * const writer = new FrameWriter(new MsgpackCodec());
   * writer.write({ tag: Tag.TICK });
   * const view = writer.takeView();
   * writer.write({ tag: Tag.TICK }); // goes to another buffer
   * if (view.length !== 5 || view[4] !== Tag.TICK) throw new Error();
   * writer.recycle(view);
   * ```
   */
  takeView(): Uint8Array {
    const w = this.#w;
    const out = w.buf.subarray(0, w.pos);
    this.#lent.set(w.buf.buffer, w);
    // Sized like the last: a turn that filled one buffer will fill the next.
    this.#w = this.#spare.pop() ??
      new ByteWriter(Math.min(w.buf.length, KEEP_BYTES));
    return out;
  }

  /**
   * Hands back a view from {@linkcode FrameWriter.takeView} once it has been
   * written, so its buffer can be reused; anything else is ignored.
   */
  recycle(view: Uint8Array): void {
    const w = this.#lent.get(view.buffer);
    if (w === undefined) return;
    this.#lent.delete(view.buffer);
    if (w.buf.length <= KEEP_BYTES && this.#spare.length < SPARE_BUFFERS) {
      w.pos = 0;
      this.#spare.push(w);
    }
  }
  /** Lets go of the buffers kept for reuse (a session calls it when idle). */
  trim(): void {
    this.#spare.length = 0;
    if (this.#w.pos === 0 && this.#w.buf.length > 4096) {
      this.#w = new ByteWriter(4096);
    }
  }
  // Writers whose buffers are out on loan through takeView (by buffer), and
  // returned ones kept for reuse, with their buffers and views.
  readonly #lent = new Map<ArrayBufferLike, ByteWriter>();
  readonly #spare: ByteWriter[] = [];
}
