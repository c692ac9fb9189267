/**
 * The payload codec: how the user values of a frame (`message`, `reason`)
 * become bytes. {@linkcode MsgpackCodec} is the default; any
 * {@linkcode Codec} can be injected instead.
 *
 * @module
 */

import {
  Decoder,
  Encoder,
  ExtData,
  ExtensionCodec,
  type ExtensionCodecType,
} from "@msgpack/msgpack";
import { SMALL_DECODE_BAIL, SmallDecoder } from "./_small_decode.ts";
import {
  ENCODE_INTO,
  SMALL_ENCODE_BAIL,
  SmallEncoder,
} from "./_small_encode.ts";
import {
  ByteReader,
  ByteWriter,
  checkUint,
  NameCache,
  U32_MAX,
} from "./_bytes.ts";
import {
  FrameDecodeError,
  UnencodableValueError,
  WireError,
} from "./errors.ts";
import { MAX_NAME_BYTES } from "./frame.ts";
import { Crash, Pid, Ref } from "./terms.ts";
import {
  checkBytes,
  checkOptions,
  isInstance,
  messageOf,
  shown,
} from "./_shown.ts";

/**
 * Turns payload values into bytes and back.
 *
 * Contract: `encode` either returns the complete encoding, owned by the
 * caller, or throws (an {@linkcode UnencodableValueError} for a value it
 * cannot carry) without side effects. `decode` is given exactly the bytes of
 * one value; it throws on anything else (malformed, truncated or trailing
 * bytes). The value it returns may share memory with `bytes` (binary data is
 * not copied), so the caller must not modify `bytes` afterwards.
 */
export interface Codec {
  /** Encodes one value. */
  encode(value: unknown): Uint8Array;
  /** Decodes exactly one value from all of `bytes`. */
  decode(bytes: Uint8Array): unknown;
  /**
   * Optional: like `decode` on `buf.subarray(start, end)`, without making
   * that view when it is not needed. The frame decoder uses it when present.
   */
  decodeRange?(buf: Uint8Array, start: number, end: number): unknown;
  /**
   * Optional: like `encode`, but the result may be a view of a buffer the
   * codec reuses, valid only until its next call. The frame encoder copies
   * it at once, so when present it is used to save an allocation per frame.
   */
  encodeShared?(value: unknown): Uint8Array;
}

/** Options of {@linkcode MsgpackCodec}. */
export interface MsgpackCodecOptions {
  /**
   * Deepest nesting of containers (arrays, objects, maps, sets, errors)
   * accepted when encoding, and of maps, sets and errors when decoding.
   * Default 100.
   */
  maxDepth?: number;
}

/**
 * MessagePack extension type numbers used by {@linkcode MsgpackCodec}
 * (plus the standard timestamp, -1, for `Date`).
 */
export const ExtType = {
  PID: 1,
  REF: 2,
  CRASH: 3,
  ERROR: 4,
  MAP: 5,
  SET: 6,
  BIGINT: 7,
  UNDEFINED: 8,
  INVALID_DATE: 9,
  NEGATIVE_ZERO: 10,
  BOM_STRING: 11,
} as const;

// Values the pre-encoding walk substitutes for what msgpack cannot express
// itself; the extension codec writes them.
class Marker {
  readonly type: number;
  constructor(type: number) {
    this.type = type;
  }
}
const UNDEFINED = new Marker(ExtType.UNDEFINED);
const INVALID_DATE = new Marker(ExtType.INVALID_DATE);
const NEGATIVE_ZERO = new Marker(ExtType.NEGATIVE_ZERO);
const EMPTY = new Uint8Array(0);
const utf8Encoder = new TextEncoder();

// msgpack decodes strings over 200 bytes with a TextDecoder that drops a
// leading U+FEFF, so strings starting with one are written as an extension.
class BomString {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}
const BOM = 0xfeff;
const bomSafeDecoder = new TextDecoder("utf-8", { ignoreBOM: true });
// Longest string msgpack decodes without its TextDecoder.
const MSGPACK_JS_DECODE_MAX = 200;

class MapRecord {
  readonly flat: unknown[];
  constructor(flat: unknown[]) {
    this.flat = flat;
  }
}
class SetRecord {
  readonly items: unknown[];
  constructor(items: unknown[]) {
    this.items = items;
  }
}
class ErrorRecord {
  constructor(
    readonly name: string,
    readonly message: string,
    readonly stack: string | undefined,
    readonly hasCause: boolean,
    readonly cause: unknown,
  ) {}
}

// Path segments, formatted only when an error is reported.
class MapKeySeg {
  constructor(readonly index: number) {}
}
class MapValueSeg {
  constructor(readonly key: unknown) {}
}
class SetSeg {
  constructor(readonly index: number) {}
}
type Seg = string | number | MapKeySeg | MapValueSeg | SetSeg;

function formatPath(segs: readonly Seg[]): string {
  let out = "";
  for (const s of segs) {
    if (typeof s === "number") out += `[${s}]`;
    else if (typeof s === "string") {
      out += /^[A-Za-z_$][\w$]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`;
    } else if (s instanceof MapKeySeg) out += `.keys()[${s.index}]`;
    else if (s instanceof SetSeg) out += `.values()[${s.index}]`;
    else {
      const k = s.key;
      out += `.get(${
        typeof k === "string"
          ? JSON.stringify(k)
          : typeof k === "number" || typeof k === "boolean" || k === null
          ? String(k)
          : typeof k === "bigint"
          ? `${k}n`
          : "…"
      })`;
    }
  }
  return out;
}

const errorConstructors: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/**
 * The default payload codec: MessagePack (via `npm:@msgpack/msgpack`) with
 * extension types for {@linkcode Pid}, {@linkcode Ref}, {@linkcode Crash},
 * `Error` (name, message, stack and cause), `Map`, `Set`, `bigint` of any
 * size, `undefined` (distinct from `null`), `-0` and invalid dates; valid
 * `Date`s use the standard timestamp extension and `Uint8Array` is msgpack
 * `bin` (decoded as a view of the input).
 *
 * Before writing anything, a value is walked once: a function, a symbol, a
 * cycle, nesting deeper than `maxDepth`, an object key `__proto__`, a typed
 * array other than `Uint8Array`, an `ArrayBuffer`, or a built-in object with
 * no faithful encoding (`Promise`, `WeakMap`, `RegExp`, boxed primitives…)
 * is refused with an {@linkcode UnencodableValueError} naming its path.
 * Instances of user classes travel as plain objects of their own enumerable
 * string-keyed properties, like `structuredClone` does.
 *
 * One instance holds reusable encoder and decoder state: use it from one
 * place at a time (one per connection, or one per node, is fine).
 *
 * @example
 * ```ts
 * import { MsgpackCodec } from "./codec.ts";
 * import { Pid } from "./terms.ts";
 * const codec = new MsgpackCodec();
 * const pid = new Pid("a@host", 7, 1);
 * const back = codec.decode(codec.encode({ pids: new Set([pid]), n: 10n ** 30n })) as {
 *   pids: Set<Pid>;
 *   n: bigint;
 * };
 * if (![...back.pids][0]!.equals(pid) || back.n !== 10n ** 30n) throw new Error();
 * ```
 */
export class MsgpackCodec implements Codec {
  readonly #maxDepth: number;
  readonly #encoders: Encoder[] = [];
  readonly #decoders: Decoder[] = [];
  readonly #ext: ExtensionCodecType<undefined>;
  readonly #scratch = new ByteWriter(300);
  // Node names repeat in every pid and ref.
  readonly #names = new NameCache();
  readonly #small = new SmallDecoder(this.#names);
  readonly #smallEncoder: SmallEncoder;
  #encodeLevel = 0;
  #decodeLevel = 0;
  readonly #ancestors: object[] = [];
  readonly #segs: Seg[] = [];

  /** Builds a codec; `options.maxDepth` bounds nesting (default 100). */
  constructor(options?: MsgpackCodecOptions) {
    checkOptions(options, "MsgpackCodec options");
    const maxDepth = options?.maxDepth ?? 100;
    if (!Number.isInteger(maxDepth) || maxDepth < 1) {
      throw new RangeError(
        `maxDepth must be a positive integer, got ${shown(maxDepth)}`,
      );
    }
    this.#maxDepth = maxDepth;
    this.#smallEncoder = new SmallEncoder(maxDepth);
    this.#ext = this.#extensions();
    this.#encoders.push(this.#newEncoder());
    this.#decoders.push(this.#newDecoder());
  }

  /**
   * Encodes `value`; throws {@linkcode UnencodableValueError} (before
   * encoding anything) if some part of it cannot be carried.
   */
  encode(value: unknown): Uint8Array {
    return this.encodeShared(value).slice();
  }

  /**
   * Like {@linkcode MsgpackCodec.encode}, but the bytes are a view of an
   * internal buffer, overwritten by the next call: copy them to keep them.
   */
  encodeShared(value: unknown): Uint8Array {
    try {
      const small = this.#smallEncoder.encode(value);
      if (small !== SMALL_ENCODE_BAIL) return small;
      this.#ancestors.length = 0;
      this.#segs.length = 0;
      const prepared = this.#walk(value, 0);
      return this.#encoders[0]!.encodeSharedRef(prepared);
    } catch (e) {
      // What a getter or a Proxy's trap threw, too: always named.
      if (isInstance(e, UnencodableValueError)) throw e;
      throw new UnencodableValueError(
        `the encoder refused it: ${messageOf(e)}`,
        { path: "", cause: e },
      );
    } finally {
      this.#encodeLevel = 0;
    }
  }

  /**
   * Appends the bytes of a value the fast path takes straight to a frame
   * writer (binaries copied once); false, leaving `w` as it was, otherwise.
   * @ignore
   */
  [ENCODE_INTO](w: ByteWriter, value: unknown): boolean {
    // A subclass that encodes its own way is asked through encodeShared.
    if (this.encodeShared !== MsgpackCodec.prototype.encodeShared) {
      return false;
    }
    return this.#smallEncoder.encodeInto(w, value);
  }

  /** Decodes exactly one value from all of `bytes`; throws if malformed. */
  decode(bytes: Uint8Array): unknown {
    checkBytes(bytes, "MsgpackCodec.decode bytes");
    return this.decodeRange(bytes, 0, bytes.length);
  }

  /** Like {@linkcode MsgpackCodec.decode} on `buf.subarray(start, end)`. */
  decodeRange(buf: Uint8Array, start: number, end: number): unknown {
    // Cheap, as every payload comes this way: a Symbol fails the typeof.
    if (
      !(buf instanceof Uint8Array && typeof start === "number" &&
        typeof end === "number" && start >>> 0 === start &&
        end >>> 0 === end && start <= end && end <= buf.length)
    ) {
      checkBytes(buf, "MsgpackCodec.decode bytes");
      throw new RangeError(
        `decodeRange(${shown(start)}, ${
          shown(end)
        }) is outside the ${buf.length} bytes given`,
      );
    }
    const small = this.#small.decode(buf, start, end);
    if (small !== SMALL_DECODE_BAIL) return small;
    const bytes = start === 0 && end === buf.length
      ? buf
      : buf.subarray(start, end);
    try {
      return this.#decoders[0]!.decode(bytes);
    } catch (error) {
      if (error instanceof WireError) throw error;
      // msgpack's own RangeError or DecodeError: named as the wire's.
      throw new FrameDecodeError(
        `the payload does not decode: ${
          error instanceof Error ? error.message : shown(error)
        }`,
        { offset: start, cause: error },
      );
    } finally {
      this.#decodeLevel = 0;
    }
  }

  #newEncoder(): Encoder {
    // The walk already enforces maxDepth (and each extension's nested
    // encoding restarts msgpack's own count), so msgpack's guard only needs
    // to stay out of the way.
    return new Encoder({
      extensionCodec: this.#ext,
      maxDepth: this.#maxDepth + 2,
      initialBufferSize: 512,
    });
  }

  #newDecoder(): Decoder {
    return new Decoder({ extensionCodec: this.#ext });
  }

  #nestedEncode(value: unknown): Uint8Array {
    const level = ++this.#encodeLevel;
    try {
      const enc = this.#encoders[level] ??= this.#newEncoder();
      // The caller (msgpack's extension writer) copies the bytes at once.
      return enc.encodeSharedRef(value);
    } finally {
      this.#encodeLevel--;
    }
  }

  #nestedDecode(bytes: Uint8Array): unknown {
    const level = ++this.#decodeLevel;
    try {
      if (level > this.#maxDepth) {
        throw new RangeError(
          `Extension values nested deeper than ${this.#maxDepth}`,
        );
      }
      const dec = this.#decoders[level] ??= this.#newDecoder();
      return dec.decode(bytes);
    } finally {
      this.#decodeLevel--;
    }
  }

  #fail(reason: string, cause?: unknown): UnencodableValueError {
    const path = formatPath(this.#segs);
    return new UnencodableValueError(
      reason,
      cause === undefined ? { path } : { path, cause },
    );
  }

  #checkName(s: unknown, seg: string): void {
    this.#segs.push(seg);
    try {
      if (typeof s !== "string") throw this.#fail("expected a string");
      let n = s.length;
      if (n > MAX_NAME_BYTES / 3) n = utf8Encoder.encode(s).length;
      if (n > MAX_NAME_BYTES) {
        throw this.#fail(
          `${n} bytes of UTF-8 is more than the ${MAX_NAME_BYTES} allowed`,
        );
      }
    } finally {
      this.#segs.pop();
    }
  }

  #checkTerm(t: Pid | Ref): void {
    this.#checkName(t.node, "node");
    const { id, creation } = t;
    if (
      !Number.isSafeInteger(id) || id < 0 ||
      !Number.isInteger(creation) || creation < 0 || creation > U32_MAX
    ) {
      const path = formatPath(this.#segs);
      checkUint(id, Number.MAX_SAFE_INTEGER, path + ".id");
      checkUint(creation, U32_MAX, path + ".creation");
    }
  }

  // Validates `v` and returns what msgpack should encode in its place: `v`
  // itself unless something inside needs a marker or record.
  #walk(v: unknown, depth: number): unknown {
    switch (typeof v) {
      case "string":
        return v.charCodeAt(0) === BOM ? new BomString(v) : v;
      case "boolean":
      case "bigint":
        return v;
      case "number":
        return v === 0 && 1 / v < 0 ? NEGATIVE_ZERO : v;
      case "undefined":
        return UNDEFINED;
      case "function":
        throw this.#fail(
          `a function${v.name ? ` (${v.name})` : ""} cannot be sent`,
        );
      case "symbol":
        throw this.#fail(`a symbol (${v.description ?? ""}) cannot be sent`);
    }
    if (v === null) return null;
    const o = v as object;
    if (o instanceof Uint8Array) return o;
    if (o instanceof Pid || o instanceof Ref) {
      this.#checkTerm(o);
      return o;
    }
    if (o instanceof Crash) {
      if (
        typeof o.name !== "string" || typeof o.message !== "string" ||
        (o.stack !== undefined && typeof o.stack !== "string")
      ) throw this.#fail("a Crash must hold strings");
      return o;
    }
    if (o instanceof Date) {
      return Number.isNaN(o.getTime()) ? INVALID_DATE : o;
    }
    if (o instanceof ExtData) {
      throw this.#fail("a msgpack ExtData cannot be sent (no node decodes it)");
    }
    const ancestors = this.#ancestors;
    if (ancestors.includes(o)) {
      throw this.#fail(
        `it is cyclic: it contains itself (at depth ${ancestors.length})`,
      );
    }
    if (depth >= this.#maxDepth) {
      throw this.#fail(`it nests more than ${this.#maxDepth} levels deep`);
    }
    ancestors.push(o);
    let out: unknown;
    if (Array.isArray(o)) out = this.#walkArray(o, depth + 1);
    else if (o instanceof Map) out = this.#walkMap(o, depth + 1);
    else if (o instanceof Set) out = this.#walkSet(o, depth + 1);
    else if (o instanceof Error) out = this.#walkError(o, depth + 1);
    else out = this.#walkObject(o, depth + 1);
    ancestors.pop();
    return out;
  }

  #walkArray(a: unknown[], depth: number): unknown {
    const segs = this.#segs;
    let out: unknown[] | undefined;
    for (let i = 0; i < a.length; i++) {
      const x = a[i];
      segs.push(i);
      const y = this.#walk(x, depth);
      segs.pop();
      if (out !== undefined) out.push(y);
      else if (y !== x) {
        out = a.slice(0, i);
        out.push(y);
      }
    }
    return out ?? a;
  }

  #walkMap(m: Map<unknown, unknown>, depth: number): MapRecord {
    const segs = this.#segs;
    const flat: unknown[] = [];
    let i = 0;
    for (const [k, x] of m) {
      segs.push(new MapKeySeg(i++));
      flat.push(this.#walk(k, depth));
      segs.pop();
      segs.push(new MapValueSeg(k));
      flat.push(this.#walk(x, depth));
      segs.pop();
    }
    return new MapRecord(flat);
  }

  #walkSet(s: Set<unknown>, depth: number): SetRecord {
    const segs = this.#segs;
    const items: unknown[] = [];
    let i = 0;
    for (const x of s) {
      segs.push(new SetSeg(i++));
      items.push(this.#walk(x, depth));
      segs.pop();
    }
    return new SetRecord(items);
  }

  #walkError(e: Error, depth: number): ErrorRecord {
    let name: string, message: string, stack: unknown;
    try {
      name = String(e.name);
      message = String(e.message);
      stack = e.stack;
    } catch (cause) {
      throw this.#fail(
        "reading the error's name, message or stack threw",
        cause,
      );
    }
    const hasCause = Object.hasOwn(e, "cause");
    let cause: unknown;
    if (hasCause) {
      this.#segs.push("cause");
      cause = this.#walk(e.cause, depth);
      this.#segs.pop();
    }
    return new ErrorRecord(
      name,
      message,
      typeof stack === "string" ? stack : undefined,
      hasCause,
      cause,
    );
  }

  #walkObject(o: object, depth: number): unknown {
    const proto = Object.getPrototypeOf(o);
    if (proto !== Object.prototype && proto !== null) {
      const kind = Object.prototype.toString.call(o).slice(8, -1);
      if (kind !== "Object") {
        throw this.#fail(
          ArrayBuffer.isView(o)
            ? `a ${kind} cannot be sent (only Uint8Array is binary)`
            : `a ${kind} cannot be sent`,
        );
      }
    }
    const segs = this.#segs;
    const keys = Object.keys(o);
    let out: Record<string, unknown> | undefined;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      segs.push(k);
      if (k === "__proto__") throw this.#fail("the key __proto__ is refused");
      if (
        k.charCodeAt(0) === BOM &&
        utf8Encoder.encode(k).length > MSGPACK_JS_DECODE_MAX
      ) {
        throw this.#fail(
          `a key over ${MSGPACK_JS_DECODE_MAX} bytes starting with U+FEFF would lose it`,
        );
      }
      let x: unknown;
      try {
        x = (o as Record<string, unknown>)[k];
      } catch (cause) {
        throw this.#fail("reading it threw", cause);
      }
      const y = this.#walk(x, depth);
      segs.pop();
      if (out !== undefined) out[k] = y;
      else if (y !== x) {
        out = {};
        for (let j = 0; j < i; j++) {
          const kj = keys[j]!;
          out[kj] = (o as Record<string, unknown>)[kj];
        }
        out[k] = y;
      }
    }
    return out ?? o;
  }

  #extensions(): ExtensionCodecType<undefined> {
    const ext = new ExtensionCodec();
    const names = this.#names;
    const scratch = this.#scratch;
    const term = (t: Pid | Ref) => {
      scratch.pos = 0;
      scratch.name8(t.node, "node");
      scratch.u53(t.id);
      scratch.u32(t.creation);
      // msgpack copies extension data at once, so the scratch can be reused.
      return scratch.buf.subarray(0, scratch.pos);
    };
    const readTerm = (data: Uint8Array) => {
      const r = new ByteReader(data, 0, data.length, 0, undefined, names);
      const node = r.name8("node");
      const id = r.u53("id");
      const creation = r.u32("creation");
      if (r.left !== 0) throw new RangeError("Trailing bytes in a pid or ref");
      return [node, id, creation] as const;
    };
    // Most frequent first: tryToEncode asks each encoder in turn.
    ext.register({
      type: ExtType.PID,
      encode: (v) => v instanceof Pid ? term(v) : null,
      decode: (data) => new Pid(...readTerm(data)),
    });
    ext.register({
      type: ExtType.UNDEFINED,
      encode: (v) => v === UNDEFINED ? EMPTY : null,
      decode: (data) => {
        if (data.length !== 0) throw new RangeError("Malformed undefined");
        return undefined;
      },
    });
    ext.register({
      type: ExtType.REF,
      encode: (v) => v instanceof Ref ? term(v) : null,
      decode: (data) => new Ref(...readTerm(data)),
    });
    ext.register({
      type: ExtType.MAP,
      encode: (v) => v instanceof MapRecord ? this.#nestedEncode(v.flat) : null,
      decode: (data) => {
        const flat = this.#nestedDecode(data);
        if (!Array.isArray(flat) || flat.length % 2 !== 0) {
          throw new RangeError("Malformed Map");
        }
        const m = new Map<unknown, unknown>();
        for (let i = 0; i < flat.length; i += 2) m.set(flat[i], flat[i + 1]);
        return m;
      },
    });
    ext.register({
      type: ExtType.SET,
      encode: (v) =>
        v instanceof SetRecord ? this.#nestedEncode(v.items) : null,
      decode: (data) => {
        const items = this.#nestedDecode(data);
        if (!Array.isArray(items)) throw new RangeError("Malformed Set");
        return new Set(items);
      },
    });
    ext.register({
      type: ExtType.BIGINT,
      encode: (v) => typeof v === "bigint" ? encodeBigInt(v) : null,
      decode: decodeBigInt,
    });
    ext.register({
      type: ExtType.CRASH,
      encode: (v) => {
        if (!(v instanceof Crash)) return null;
        const w = new ByteWriter(64);
        w.u8(v.stack === undefined ? 0 : 1);
        w.str32(v.name);
        w.str32(v.message);
        if (v.stack !== undefined) w.str32(v.stack);
        return w.buf.subarray(0, w.pos);
      },
      decode: (data) => {
        const r = new ByteReader(data, 0, data.length, 0, undefined);
        const flags = r.u8("flags");
        if (flags > 1) throw new RangeError("Malformed Crash");
        const name = r.str32("name");
        const message = r.str32("message");
        const stack = flags === 1 ? r.str32("stack") : undefined;
        if (r.left !== 0) throw new RangeError("Trailing bytes in a Crash");
        return new Crash(name, message, stack);
      },
    });
    ext.register({
      type: ExtType.ERROR,
      encode: (v) => {
        if (!(v instanceof ErrorRecord)) return null;
        const w = new ByteWriter(128);
        w.u8((v.stack === undefined ? 0 : 1) | (v.hasCause ? 2 : 0));
        w.str32(v.name);
        w.str32(v.message);
        if (v.stack !== undefined) w.str32(v.stack);
        if (v.hasCause) w.bytes(this.#nestedEncode(v.cause));
        return w.buf.subarray(0, w.pos);
      },
      decode: (data) => {
        const r = new ByteReader(data, 0, data.length, 0, undefined);
        const flags = r.u8("flags");
        if (flags > 3) throw new RangeError("Malformed Error");
        const name = r.str32("name");
        const message = r.str32("message");
        const stack = flags & 1 ? r.str32("stack") : undefined;
        let cause: unknown;
        if (flags & 2) cause = this.#nestedDecode(data.subarray(r.pos));
        else if (r.left !== 0) {
          throw new RangeError("Trailing bytes in an Error");
        }
        return makeError(name, message, stack, flags & 2 ? { cause } : {});
      },
    });
    ext.register({
      type: ExtType.INVALID_DATE,
      encode: (v) => v === INVALID_DATE ? EMPTY : null,
      decode: (data) => {
        if (data.length !== 0) throw new RangeError("Malformed invalid Date");
        return new Date(NaN);
      },
    });
    ext.register({
      type: ExtType.BOM_STRING,
      encode: (v) => v instanceof BomString ? utf8Encoder.encode(v.text) : null,
      decode: (data) => bomSafeDecoder.decode(data),
    });
    ext.register({
      type: ExtType.NEGATIVE_ZERO,
      encode: (v) => v === NEGATIVE_ZERO ? EMPTY : null,
      decode: (data) => {
        if (data.length !== 0) throw new RangeError("Malformed -0");
        return -0;
      },
    });
    // msgpack hands an extension type nobody registered over as an ExtData
    // object, which would reach a process as a value no node sent: refused.
    return {
      tryToEncode: (object, context) => ext.tryToEncode(object, context),
      decode: (data, type, context) => {
        if (!KNOWN_EXT_TYPES.has(type)) {
          throw new RangeError(`Unknown extension type ${type}`);
        }
        return ext.decode(data, type, context);
      },
    };
  }
}

// The extension types MsgpackCodec decodes: its own, and msgpack's timestamp.
const KNOWN_EXT_TYPES: ReadonlySet<number> = new Set([
  -1,
  ...Object.values(ExtType),
]);

function makeError(
  name: string,
  message: string,
  stack: string | undefined,
  options: { cause?: unknown },
): Error {
  const Ctor = Object.hasOwn(errorConstructors, name)
    ? errorConstructors[name]!
    : Error;
  const e = new Ctor(message, options);
  if (e.name !== name) {
    Object.defineProperty(e, "name", {
      value: name,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
  Object.defineProperty(e, "stack", {
    value: stack,
    writable: true,
    configurable: true,
    enumerable: false,
  });
  return e;
}

function encodeBigInt(v: bigint): Uint8Array {
  const negative = v < 0n;
  let hex = (negative ? -v : v).toString(16);
  if (v === 0n) hex = "";
  else if (hex.length % 2 === 1) hex = "0" + hex;
  const out = new Uint8Array(1 + hex.length / 2);
  out[0] = negative ? 1 : 0;
  for (let i = 0; i < hex.length / 2; i++) {
    out[i + 1] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  }
  return out;
}

function decodeBigInt(data: Uint8Array): bigint {
  const sign = data[0];
  if (data.length === 0 || (sign !== 0 && sign !== 1)) {
    throw new RangeError("Malformed bigint");
  }
  if (data.length === 1) return 0n;
  let hex = "0x";
  for (let i = 1; i < data.length; i++) {
    hex += data[i]!.toString(16).padStart(2, "0");
  }
  const m = BigInt(hex);
  return sign === 1 ? -m : m;
}
