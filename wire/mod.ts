/**
 * The wire codec of Mote: how nodes talk. Every frame is a u32 big-endian
 * length, a one-byte {@linkcode Tag} and a body whose control fields (names,
 * pids, refs, ids) have a fixed binary layout; user values (`message`,
 * `reason`) go through a payload {@linkcode Codec}, by default
 * {@linkcode MsgpackCodec}. The full layout and the handshake are in
 * `docs/protocol.md`.
 *
 * This module depends on nothing else of Mote, and so has errors of its own:
 * bad bytes are a {@linkcode WireError} (the connection they came from
 * should be closed), a value or frame that cannot be sent an
 * {@linkcode UnencodableValueError}, a limit or range out of bounds a
 * `RangeError`, and an argument of the wrong type a `TypeError` that names
 * it and says what was expected.
 *
 * @example
 * ```ts
 * import { FrameDecoder, FrameWriter, MsgpackCodec, Pid, Tag } from "./mod.ts";
 * const codec = new MsgpackCodec();
 * const writer = new FrameWriter(codec);
 * const to = new Pid("b@host", 3, 1);
 * writer.write({ tag: Tag.SEND, to, message: { op: "incr", n: 42 } });
 * writer.write({ tag: Tag.TICK });
 *
 * const decoder = new FrameDecoder(codec);
 * decoder.push(writer.take());
 * const first = decoder.next();
 * if (first?.tag !== Tag.SEND || !first.to.equals(to)) throw new Error();
 * if (decoder.next()?.tag !== Tag.TICK || decoder.next() !== undefined) throw new Error();
 * ```
 *
 * @module
 */

export { isTag, Tag, tagName, type TagValue } from "./tags.ts";
export {
  CHALLENGE_BYTES,
  DIGEST_BYTES,
  type Frame,
  type FrameOf,
  type GlobalEntry,
  MAX_NAME_BYTES,
  type PeerInfo,
  SPAWN_ERROR,
  SPAWN_LINK,
  SPAWN_MONITOR,
  SPAWN_OK,
} from "./frame.ts";
export {
  type Codec,
  ExtType,
  MsgpackCodec,
  type MsgpackCodecOptions,
} from "./codec.ts";
export {
  encodeFrame,
  FrameWriter,
  type FrameWriterOptions,
} from "./frame_encoder.ts";
export {
  decodeFrame,
  DEFAULT_MAX_FRAME_BYTES,
  FrameDecoder,
  type FrameDecoderOptions,
} from "./frame_decoder.ts";
export {
  EmptyFrameError,
  FrameDecodeError,
  FrameTooLargeError,
  InvalidFieldError,
  TrailingBytesError,
  TruncatedFrameError,
  UnencodableValueError,
  type UnencodableValueErrorOptions,
  UnknownTagError,
  WireError,
  type WireErrorOptions,
} from "./errors.ts";
export { Crash, Pid, Ref } from "./terms.ts";
