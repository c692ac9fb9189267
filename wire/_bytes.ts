// Private: fixed-layout binary writing and reading shared by the frame
// encoder, the frame decoder and the payload codec's extension types.
// All multi-byte integers are big-endian.

import {
  InvalidFieldError,
  TruncatedFrameError,
  UnencodableValueError,
} from "./errors.ts";
import { MAX_NAME_BYTES } from "./frame.ts";

export const TWO_32 = 0x1_0000_0000;

const utf8Encoder = new TextEncoder();
// fatal: malformed UTF-8 is an error, not U+FFFD; ignoreBOM: a leading
// U+FEFF is content and must round-trip.
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A growable byte buffer written front to back. */
export class ByteWriter {
  buf: Uint8Array;
  view: DataView;
  pos = 0;

  /** A writer over a new buffer of `size` bytes, or over `buffer` itself. */
  constructor(size: number | Uint8Array = 256) {
    this.buf = typeof size === "number" ? new Uint8Array(size) : size;
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset);
  }

  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    const next = new Uint8Array(Math.max(need, this.buf.length * 2));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, v);
    this.pos += 2;
  }

  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v);
    this.pos += 4;
  }

  /** An unsigned integer below 2^53 as 8 bytes (u64). */
  u53(v: number): void {
    this.ensure(8);
    this.view.setUint32(this.pos, Math.floor(v / TWO_32));
    this.view.setUint32(this.pos + 4, v >>> 0);
    this.pos += 8;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** UTF-8 of `s` without a length; returns its byte length. */
  utf8(s: string): number {
    const n = s.length;
    this.ensure(n * 3);
    const buf = this.buf;
    const start = this.pos;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[start + i] = c;
    }
    let written = i;
    if (i < n) {
      written += utf8Encoder.encodeInto(
        s.slice(i),
        buf.subarray(start + i),
      ).written;
    }
    this.pos = start + written;
    return written;
  }

  /** u8 length + UTF-8, at most 255 bytes; `path` names the field in errors. */
  name8(s: string, path: string): void {
    if (typeof s !== "string") {
      throw new UnencodableValueError(`expected a string, got ${typeof s}`, {
        path,
      });
    }
    const at = this.pos;
    this.u8(0);
    const n = this.utf8(s);
    if (n > MAX_NAME_BYTES) {
      this.pos = at;
      throw new UnencodableValueError(
        `${n} bytes of UTF-8 is more than the ${MAX_NAME_BYTES} allowed`,
        { path },
      );
    }
    this.buf[at] = n;
  }

  /** u32 length + UTF-8. */
  str32(s: string): void {
    const at = this.pos;
    this.u32(0);
    const n = this.utf8(s);
    this.view.setUint32(at, n);
  }
}

/** Throws unless `v` is an integer in [0, max]. */
export function checkUint(v: unknown, max: number, path: string): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) {
    throw new UnencodableValueError(
      `expected an integer from 0 to ${max}, got ${describe(v)}`,
      { path },
    );
  }
}

export function describe(v: unknown): string {
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (typeof v === "string") return JSON.stringify(v.slice(0, 40));
  if (v === null) return "null";
  return typeof v;
}

export const U32_MAX = 0xffff_ffff;
export const U16_MAX = 0xffff;

/**
 * Reads fields from `buf[pos, end)`; errors carry `tag` and the offset
 * `base + position`.
 */
export class ByteReader {
  buf: Uint8Array;
  pos: number;
  end: number;
  base: number;
  tag: number | undefined;
  readonly names: NameCache | undefined;

  constructor(
    buf: Uint8Array,
    pos: number,
    end: number,
    base: number,
    tag: number | undefined,
    names?: NameCache,
  ) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.base = base;
    this.tag = tag;
    this.names = names;
  }

  /** Points the reader at another range (a decoder reuses one per frame). */
  reset(
    buf: Uint8Array,
    pos: number,
    end: number,
    base: number,
    tag: number | undefined,
  ): this {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.base = base;
    this.tag = tag;
    return this;
  }

  need(n: number, what: string): void {
    if (this.end - this.pos < n) {
      throw new TruncatedFrameError(
        `Body ends inside ${what}: ${n} bytes needed, ${
          this.end - this.pos
        } left`,
        { tag: this.tag, offset: this.base + this.pos },
      );
    }
  }

  invalid(message: string, at: number = this.pos): InvalidFieldError {
    return new InvalidFieldError(message, {
      tag: this.tag,
      offset: this.base + at,
    });
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u16(what: string): number {
    this.need(2, what);
    const b = this.buf;
    const at = this.pos;
    this.pos = at + 2;
    return (b[at]! << 8) | b[at + 1]!;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = readU32(this.buf, this.pos);
    this.pos += 4;
    return v;
  }

  u53(what: string): number {
    this.need(8, what);
    const hi = readU32(this.buf, this.pos);
    if (hi >= 0x20_0000) {
      throw this.invalid(`${what} is not below 2^53`);
    }
    const v = hi * TWO_32 + readU32(this.buf, this.pos + 4);
    this.pos += 8;
    return v;
  }

  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const b = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  utf8(n: number, what: string): string {
    this.need(n, what);
    const buf = this.buf;
    const start = this.pos;
    const end = start + n;
    let s: string | undefined;
    const names = n <= NameCache.MAX_BYTES ? this.names : undefined;
    if (names !== undefined) {
      s = names.find(buf, start, end);
      if (s !== undefined) {
        this.pos = end;
        return s;
      }
    }
    if (n <= 64) {
      // Short ASCII (node names, registered names) is the common case and
      // much cheaper than TextDecoder.
      let ascii = true;
      for (let i = start; i < end; i++) {
        if (buf[i]! >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        s = String.fromCharCode.apply(
          null,
          buf.subarray(start, end) as unknown as number[],
        );
        names?.add(buf, start, end, s);
      }
    }
    if (s === undefined) {
      try {
        s = utf8Decoder.decode(buf.subarray(start, end));
      } catch (e) {
        throw new InvalidFieldError(`${what} is not valid UTF-8`, {
          tag: this.tag,
          offset: this.base + start,
          cause: e,
        });
      }
    }
    this.pos = end;
    return s;
  }

  name8(what: string): string {
    const n = this.u8(`length of ${what}`);
    return this.utf8(n, what);
  }

  str32(what: string): string {
    const n = this.u32(`length of ${what}`);
    return this.utf8(n, what);
  }

  get left(): number {
    return this.end - this.pos;
  }
}

/**
 * The short ASCII strings decoded last (node names, registered names), so
 * that names repeated in every frame are decoded once per connection: a
 * byte comparison is much cheaper than making a string.
 */
export class NameCache {
  /** Longest string kept. */
  static readonly MAX_BYTES = 64;
  // Direct-mapped: a name has one slot, chosen by its length and its first
  // and last bytes, so a lookup is one comparison; a collision replaces.
  static readonly #SLOTS = 32;
  readonly #bytes: (Uint8Array | undefined)[] = new Array(NameCache.#SLOTS)
    .fill(undefined);
  readonly #strings: string[] = new Array(NameCache.#SLOTS).fill("");

  static #slot(buf: Uint8Array, start: number, end: number): number {
    const n = end - start;
    if (n === 0) return 0;
    const mix = (n << 24) ^ (buf[start]! << 16) ^
      (buf[start + (n >> 1)]! << 8) ^ buf[end - 1]!;
    return Math.imul(mix, 0x9e3779b1) >>> 27; // the top 5 bits: 32 slots
  }

  /** The string whose UTF-8 is `buf[start..end)`, if kept. */
  find(buf: Uint8Array, start: number, end: number): string | undefined {
    const slot = NameCache.#slot(buf, start, end);
    const b = this.#bytes[slot];
    const n = end - start;
    if (b === undefined || b.length !== n) return undefined;
    let i = 0;
    while (i < n && b[i] === buf[start + i]) i++;
    return i === n ? this.#strings[slot] : undefined;
  }

  /** Keeps `s`, the string of `buf[start..end)`, in its slot. */
  add(buf: Uint8Array, start: number, end: number, s: string): void {
    const slot = NameCache.#slot(buf, start, end);
    this.#bytes[slot] = buf.slice(start, end);
    this.#strings[slot] = s;
  }
}

/** The u32 at `buf[at]`, big-endian; the caller checks the bounds. */
export function readU32(buf: Uint8Array, at: number): number {
  return ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) |
    buf[at + 3]!) >>> 0;
}
