import assert from "node:assert/strict";
import { Decoder, ExtensionCodec } from "@msgpack/msgpack";
import { ByteReader, NameCache } from "./_bytes.ts";
import { MsgpackCodec } from "./codec.ts";
import { SMALL_DECODE_BAIL, SmallDecoder } from "./_small_decode.ts";
import { Pid, Ref } from "./terms.ts";
import { smallValues } from "./_samples_test.ts";

// The oracle: the msgpack library itself, with pids and refs laid out as the
// codec lays them out. The fast path must give exactly its result whenever
// it does not give up.
const ext = new ExtensionCodec();
const term = (data: Uint8Array) => {
  const r = new ByteReader(data, 0, data.length, 0, undefined);
  const parts = [r.name8("node"), r.u53("id"), r.u32("creation")] as const;
  if (r.left !== 0) throw new RangeError("trailing bytes");
  return parts;
};
ext.register({
  type: 1,
  encode: () => null,
  decode: (d) => new Pid(...term(d)),
});
ext.register({
  type: 2,
  encode: () => null,
  decode: (d) => new Ref(...term(d)),
});
const library = new Decoder({ extensionCodec: ext });

const { seed, value, int } = smallValues();

Deno.test("small decode: agrees with the msgpack library on generated values", () => {
  const codec = new MsgpackCodec();
  const small = new SmallDecoder(new NameCache());
  let handled = 0;
  const n = 4000;
  for (let i = 0; i < n; i++) {
    const bytes = codec.encode(value(0));
    const got = small.decode(bytes);
    if (got === SMALL_DECODE_BAIL) continue;
    handled++;
    assert.deepStrictEqual(
      got,
      library.decode(bytes),
      `seed ${seed}, case ${i}`,
    );
  }
  assert.ok(handled > n / 4, `the fast path handled only ${handled} of ${n}`);
});

Deno.test("small decode: on damaged input it gives up or agrees with the library", () => {
  const codec = new MsgpackCodec();
  const small = new SmallDecoder(new NameCache());
  for (let i = 0; i < 4000; i++) {
    const bytes = codec.encode(value(0)).slice();
    const cut = int(3);
    let damaged = bytes;
    if (cut === 0 && bytes.length > 0) {
      damaged = bytes.subarray(0, int(bytes.length));
    } else if (cut === 1) {
      damaged = new Uint8Array(bytes.length + 1);
      damaged.set(bytes);
      damaged[bytes.length] = int(256);
    } else if (bytes.length > 0) bytes[int(bytes.length)] = int(256);
    const got = small.decode(damaged);
    if (got === SMALL_DECODE_BAIL) continue;
    let expected: unknown;
    try {
      expected = library.decode(damaged);
    } catch (error) {
      assert.fail(
        `seed ${seed}, case ${i}: the library refused what the fast path took: ${error}`,
      );
    }
    assert.deepStrictEqual(got, expected, `seed ${seed}, case ${i}`);
  }
});

Deno.test("small decode: the codec's decode gives the same values with and without it", () => {
  const codec = new MsgpackCodec();
  const pid = new Pid("alice@host", 7, 3);
  for (
    const v of [
      0,
      -1,
      2 ** 53 - 1,
      "incr",
      { op: "incr", n: 42, who: "alice" },
      [pid, 5],
      { $call: new Ref("a@h", 9, 1), from: pid, request: [1, "x"] },
    ]
  ) {
    assert.deepStrictEqual(codec.decode(codec.encode(v)), v);
  }
});

Deno.test("small decode: decodeRange reads a value inside a larger buffer, and refuses a range outside it", () => {
  const codec = new MsgpackCodec();
  for (const v of [{ op: "incr", n: 42 }, new Pid("a@h", 1, 2), new Set([1])]) {
    const bytes = codec.encode(v);
    const padded = new Uint8Array(bytes.length + 6).fill(0xc1);
    padded.set(bytes, 3);
    assert.deepStrictEqual(codec.decodeRange(padded, 3, 3 + bytes.length), v);
    assert.throws(() => codec.decodeRange(padded, 2, 3 + bytes.length));
  }
  assert.throws(() => codec.decodeRange(new Uint8Array(4), 2, 9), RangeError);
  assert.throws(() => codec.decodeRange(new Uint8Array(4), 3, 1), RangeError);
});
