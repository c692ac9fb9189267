// Private: a fast path for decoding the small payloads most messages are
// (numbers, short ASCII strings, small arrays and objects, pids and refs).
// The msgpack library costs a fixed ~0.5 µs per decode (a DataView, state
// resets) before reading a byte; this reads the same bytes directly. It
// gives up (SMALL_DECODE_BAIL) on anything it does not handle exactly as
// the library would (other types, non-ASCII text, odd keys, malformed or
// trailing bytes), and the caller then asks the library, so results and
// errors are the library's in every case. wire/_small_decode_test.ts checks
// that against the library on generated and mutated inputs.

import { type NameCache, TWO_32 } from "./_bytes.ts";
import { Pid, Ref } from "./terms.ts";

/** Returned when the fast path does not handle the input. */
export const SMALL_DECODE_BAIL: unique symbol = Symbol("mote.small_decode");
const BAIL: typeof SMALL_DECODE_BAIL = SMALL_DECODE_BAIL;

// Longest nesting handled here; deeper values go to the library.
const MAX_DEPTH = 8;
// Strings up to this many bytes are cached, up to MAX_CACHED of them.
const SHORT_STRING = 24;
const MAX_CACHED = 1024;

// Extension type numbers of pids and refs (codec.ts ExtType).
const EXT_PID = 1;
const EXT_REF = 2;

const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Decodes small msgpack values without the library; see the file comment. */
export class SmallDecoder {
  #buf: Uint8Array = new Uint8Array(0);
  #pos = 0;
  #end = 0;
  readonly #names: NameCache;

  /** A decoder that interns node names in `names`. */
  constructor(names: NameCache) {
    this.#names = names;
  }

  /** The value `bytes[start..end)` hold, or {@linkcode SMALL_DECODE_BAIL}. */
  decode(bytes: Uint8Array, start = 0, end = bytes.length): unknown {
    this.#buf = bytes;
    this.#pos = start;
    this.#end = end;
    const value = this.#value(0);
    return this.#pos === this.#end ? value : BAIL;
  }

  #value(depth: number): unknown {
    const buf = this.#buf;
    if (this.#pos >= this.#end) return BAIL;
    const h = buf[this.#pos++]!;
    if (h < 0x80) return h;
    if (h >= 0xe0) return h - 0x100;
    if (h >= 0xa0 && h < 0xc0) return this.#ascii(h - 0xa0);
    if (h < 0x90) return this.#map(h - 0x80, depth);
    if (h < 0xa0) return this.#array(h - 0x90, depth);
    switch (h) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xcb:
        return this.#float64();
      case 0xcc:
        return this.#uint(1);
      case 0xcd:
        return this.#uint(2);
      case 0xce:
        return this.#uint(4);
      case 0xd0: {
        const v = this.#uint(1);
        return v === BAIL ? BAIL : ((v as number) << 24) >> 24;
      }
      case 0xd1: {
        const v = this.#uint(2);
        return v === BAIL ? BAIL : ((v as number) << 16) >> 16;
      }
      case 0xd2: {
        const v = this.#uint(4);
        return v === BAIL ? BAIL : (v as number) | 0;
      }
      case 0xd9: {
        const n = this.#uint(1);
        return n === BAIL ? BAIL : this.#ascii(n as number);
      }
      case 0xd8: // fixext 16
        return this.#term(16);
      case 0xc7: { // ext 8
        const n = this.#uint(1);
        return n === BAIL ? BAIL : this.#term(n as number);
      }
    }
    return BAIL;
  }

  #uint(bytes: number): number | typeof BAIL {
    const at = this.#pos;
    if (at + bytes > this.#end) return BAIL;
    const buf = this.#buf;
    let v = 0;
    for (let i = 0; i < bytes; i++) v = v * 256 + buf[at + i]!;
    this.#pos = at + bytes;
    return v;
  }

  #float64(): number | typeof BAIL {
    const at = this.#pos;
    if (!littleEndian || at + 8 > this.#end) return BAIL;
    for (let i = 0; i < 8; i++) f64Bytes[7 - i] = this.#buf[at + i]!;
    this.#pos = at + 8;
    return f64[0]!;
  }

  // Short strings (map keys above all) repeat from message to message, and
  // a string made anew must be flattened and hashed again each time it is
  // used as a key: short ones come from a cache keyed by a hash of their
  // bytes, checked character by character.
  #ascii(n: number): string | typeof BAIL {
    const at = this.#pos;
    const end = at + n;
    if (end > this.#end) return BAIL;
    const buf = this.#buf;
    let hash = n;
    for (let i = at; i < end; i++) {
      const c = buf[i]!;
      if (c >= 0x80) return BAIL;
      hash = Math.imul(hash ^ c, 0x01000193);
    }
    this.#pos = end;
    if (n > SHORT_STRING) {
      return String.fromCharCode.apply(
        null,
        buf.subarray(at, end) as unknown as number[],
      );
    }
    const cached = this.#strings.get(hash);
    if (cached !== undefined && cached.length === n) {
      let i = 0;
      while (i < n && cached.charCodeAt(i) === buf[at + i]) i++;
      if (i === n) return cached;
    }
    let s = "";
    for (let i = at; i < end; i++) s += String.fromCharCode(buf[i]!);
    if (this.#strings.size >= MAX_CACHED) this.#strings.clear();
    this.#strings.set(hash, s);
    return s;
  }
  readonly #strings = new Map<number, string>();

  #array(n: number, depth: number): unknown[] | typeof BAIL {
    if (depth >= MAX_DEPTH) return BAIL;
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) {
      const v = this.#value(depth + 1);
      if (v === BAIL) return BAIL;
      out[i] = v;
    }
    return out;
  }

  #map(n: number, depth: number): Record<string, unknown> | typeof BAIL {
    if (depth >= MAX_DEPTH) return BAIL;
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      if (this.#pos >= this.#end) return BAIL;
      const h = this.#buf[this.#pos++]!;
      // fixstr keys only; the library refuses __proto__.
      if (h < 0xa0 || h >= 0xc0) return BAIL;
      const key = this.#ascii(h - 0xa0);
      if (key === BAIL || key === "__proto__") return BAIL;
      const v = this.#value(depth + 1);
      if (v === BAIL) return BAIL;
      out[key] = v;
    }
    return out;
  }

  // A pid or ref: type byte, then node name (u8 length, ASCII here), id
  // (u64 below 2^53), creation (u32), exactly `n` bytes in all.
  #term(n: number): Pid | Ref | typeof BAIL {
    const buf = this.#buf;
    const at = this.#pos;
    if (at + 1 + n > this.#end) return BAIL;
    const type = buf[at]!;
    if (type !== EXT_PID && type !== EXT_REF) return BAIL;
    const len = buf[at + 1]!;
    if (n !== 1 + len + 12) return BAIL;
    const nameStart = at + 2;
    const nameEnd = nameStart + len;
    let node = this.#names.find(buf, nameStart, nameEnd);
    if (node === undefined) {
      this.#pos = nameStart;
      const s = this.#ascii(len);
      if (s === BAIL) return BAIL;
      node = s;
      this.#names.add(buf, nameStart, nameEnd, node);
    }
    this.#pos = nameEnd;
    const hi = this.#uint(4) as number;
    if (hi >= 0x20_0000) return BAIL;
    const id = hi * TWO_32 + (this.#uint(4) as number);
    const creation = this.#uint(4) as number;
    return type === EXT_PID
      ? new Pid(node, id, creation)
      : new Ref(node, id, creation);
  }
}
