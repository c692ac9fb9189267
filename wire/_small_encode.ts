// Private: a fast path for encoding the small payloads most messages are,
// the twin of _small_decode.ts. It writes the very bytes the msgpack library
// would (same integer widths, float64 for the rest, the same headers and the
// codec's pid and ref layout), without the library's fixed cost per call and
// without the codec's validation walk, which plain numbers, ASCII strings,
// arrays, plain objects, Uint8Arrays, pids and refs do not need. Anything else (and
// anything big) makes it give up, and the caller takes the full path, so
// refusals and their messages stay the codec's. wire/_small_encode_test.ts
// checks byte equality with the full path on generated values.

import { ByteWriter, TWO_32 } from "./_bytes.ts";
import { Pid, Ref } from "./terms.ts";

/** Returned when the fast path does not handle the value. */
export const SMALL_ENCODE_BAIL: unique symbol = Symbol("mote.small_encode");

/**
 * Key of a codec's method that appends a payload straight to a frame
 * writer, or returns false to take `encodeShared` (see frame_encoder.ts).
 * A symbol this package does not export: no part of the public API.
 */
export const ENCODE_INTO: unique symbol = Symbol("mote.encode_into");

const MAX_DEPTH = 8;
// Values bigger than this go the full path (which also bounds this buffer).
const MAX_BYTES = 16 * 1024;
const MAX_ENTRIES = 64;
const MAX_STRING = 1024;
// Extension type numbers of pids and refs (codec.ts ExtType).
const EXT_PID = 1;
const EXT_REF = 2;
const U32_MAX = 0xffff_ffff;

/** Encodes small values without the library; see the file comment. */
export class SmallEncoder {
  readonly #own = new ByteWriter(256);
  // Where this call writes: #own, or the caller's writer (encodeInto).
  #w = this.#own;
  // Position in #w where this call's value starts.
  #start = 0;
  // Binary payload bytes written by this call; encodeInto leaves them out
  // of MAX_BYTES, since they are copied once, straight into place.
  #binBytes = 0;
  #countBinaries = true;
  readonly #maxDepth: number;

  /** An encoder that leaves containers nested `maxDepth` deep to the full path. */
  constructor(maxDepth: number) {
    this.#maxDepth = Math.min(MAX_DEPTH, maxDepth);
  }

  /**
   * The msgpack bytes of `value`, as a view of a buffer the next call
   * overwrites, or {@linkcode SMALL_ENCODE_BAIL}.
   */
  encode(value: unknown): Uint8Array | typeof SMALL_ENCODE_BAIL {
    const w = this.#own;
    this.#w = w;
    w.pos = this.#start = this.#binBytes = 0;
    this.#countBinaries = true;
    if (!this.#value(value, 0) || this.#over()) return SMALL_ENCODE_BAIL;
    return w.buf.subarray(0, w.pos);
  }

  /**
   * Appends the msgpack bytes of `value` to `w` and returns true, or
   * returns false with `w` as it was. Binaries of any size are copied
   * straight into `w`: the one copy a frame needs.
   */
  encodeInto(w: ByteWriter, value: unknown): boolean {
    this.#w = w;
    this.#start = w.pos;
    this.#binBytes = 0;
    this.#countBinaries = false;
    try {
      if (this.#value(value, 0) && !this.#over()) return true;
      w.pos = this.#start;
      return false;
    } finally {
      this.#w = this.#own;
    }
  }

  #over(): boolean {
    const bytes = this.#w.pos - this.#start;
    return (this.#countBinaries ? bytes : bytes - this.#binBytes) > MAX_BYTES;
  }

  #value(v: unknown, depth: number): boolean {
    switch (typeof v) {
      case "number":
        return this.#number(v);
      case "string":
        return this.#string(v);
      case "boolean":
        this.#w.u8(v ? 0xc3 : 0xc2);
        return true;
      case "object": {
        if (v === null) {
          this.#w.u8(0xc0);
          return true;
        }
        if (depth >= this.#maxDepth || this.#over()) return false;
        if (Array.isArray(v)) return this.#array(v, depth);
        if (v instanceof Pid) return this.#term(EXT_PID, v);
        if (v instanceof Ref) return this.#term(EXT_REF, v);
        const proto = Object.getPrototypeOf(v);
        if (proto === Uint8Array.prototype) return this.#bin(v as Uint8Array);
        if (proto !== Object.prototype && proto !== null) return false;
        return this.#object(v as Record<string, unknown>, depth);
      }
      default: // undefined, bigint, function, symbol: the full path decides
        return false;
    }
  }

  #number(v: number): boolean {
    const w = this.#w;
    if (!Number.isSafeInteger(v)) {
      w.u8(0xcb);
      w.ensure(8);
      w.view.setFloat64(w.pos, v);
      w.pos += 8;
      return true;
    }
    if (v === 0 && 1 / v < 0) return false; // -0 has its own extension
    if (v >= 0) {
      if (v < 0x80) w.u8(v);
      else if (v < 0x100) {
        w.u8(0xcc);
        w.u8(v);
      } else if (v < 0x10000) {
        w.u8(0xcd);
        w.u16(v);
      } else if (v < TWO_32) {
        w.u8(0xce);
        w.u32(v);
      } else {
        w.u8(0xcf);
        w.u32(Math.floor(v / TWO_32));
        w.u32(v >>> 0);
      }
    } else if (v >= -0x20) w.u8(0xe0 | (v + 0x20));
    else if (v >= -0x80) {
      w.u8(0xd0);
      w.u8(v & 0xff);
    } else if (v >= -0x8000) {
      w.u8(0xd1);
      w.u16(v & 0xffff);
    } else if (v >= -0x8000_0000) {
      w.u8(0xd2);
      w.u32(v >>> 0);
    } else {
      w.u8(0xd3);
      w.u32(Math.floor(v / TWO_32) >>> 0);
      w.u32(v >>> 0);
    }
    return true;
  }

  // bin 8/16/32, as msgpack writes a Uint8Array.
  #bin(b: Uint8Array): boolean {
    const n = b.length;
    if (n > U32_MAX) return false;
    const w = this.#w;
    if (this.#countBinaries && w.pos - this.#start + n > MAX_BYTES) {
      return false;
    }
    if (n < 0x100) {
      w.u8(0xc4);
      w.u8(n);
    } else if (n < 0x10000) {
      w.u8(0xc5);
      w.u16(n);
    } else {
      w.u8(0xc6);
      w.u32(n);
    }
    w.bytes(b);
    this.#binBytes += n;
    return true;
  }

  // ASCII only: then UTF-8 length is the string's length.
  #string(s: string): boolean {
    const n = s.length;
    if (n > MAX_STRING) return false;
    const w = this.#w;
    w.ensure(n + 3);
    const start = w.pos;
    if (n < 32) w.buf[w.pos++] = 0xa0 + n;
    else if (n < 0x100) {
      w.buf[w.pos++] = 0xd9;
      w.buf[w.pos++] = n;
    } else {
      w.buf[w.pos++] = 0xda;
      w.buf[w.pos++] = n >>> 8;
      w.buf[w.pos++] = n & 0xff;
    }
    const buf = w.buf;
    const at = w.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        w.pos = start;
        return false;
      }
      buf[at + i] = c;
    }
    w.pos = at + n;
    return true;
  }

  #array(a: readonly unknown[], depth: number): boolean {
    const n = a.length;
    if (n > MAX_ENTRIES) return false;
    const w = this.#w;
    if (n < 16) w.u8(0x90 + n);
    else {
      w.u8(0xdc);
      w.u16(n);
    }
    for (let i = 0; i < n; i++) {
      if (!this.#value(a[i], depth + 1)) return false;
    }
    return true;
  }

  #object(o: Record<string, unknown>, depth: number): boolean {
    const keys = Object.keys(o);
    const n = keys.length;
    if (n > MAX_ENTRIES) return false;
    const w = this.#w;
    if (n < 16) w.u8(0x80 + n);
    else {
      w.u8(0xde);
      w.u16(n);
    }
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      if (k === "__proto__" || !this.#string(k)) return false;
      let v: unknown;
      try {
        v = o[k];
      } catch {
        return false; // a throwing getter: the full path reports it
      }
      if (!this.#value(v, depth + 1)) return false;
    }
    return true;
  }

  // type, then the codec's term layout: node (u8 length, ASCII here), id
  // (u64 below 2^53), creation (u32).
  #term(type: number, t: Pid | Ref): boolean {
    const { node, id, creation } = t;
    if (
      typeof node !== "string" || node.length > 255 ||
      !Number.isSafeInteger(id) || id < 0 ||
      !Number.isInteger(creation) || creation < 0 || creation > U32_MAX
    ) return false;
    const size = 1 + node.length + 12;
    if (size >= 0x100) return false;
    const w = this.#w;
    if (size === 16) w.u8(0xd8);
    else {
      w.u8(0xc7);
      w.u8(size);
    }
    w.u8(type);
    w.u8(node.length);
    if (!this.#chars(node)) return false;
    w.u32(Math.floor(id / TWO_32));
    w.u32(id >>> 0);
    w.u32(creation);
    return true;
  }

  // ASCII characters with no header.
  #chars(s: string): boolean {
    const w = this.#w;
    const n = s.length;
    w.ensure(n);
    const buf = w.buf;
    const at = w.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return false;
      buf[at + i] = c;
    }
    w.pos = at + n;
    return true;
  }
}
