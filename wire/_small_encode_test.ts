import assert from "node:assert/strict";
import { Encoder, ExtensionCodec } from "@msgpack/msgpack";
import { ByteWriter } from "./_bytes.ts";
import { MsgpackCodec } from "./codec.ts";
import {
  ENCODE_INTO,
  SMALL_ENCODE_BAIL,
  SmallEncoder,
} from "./_small_encode.ts";
import { decodeFrame } from "./frame_decoder.ts";
import { encodeFrame, FrameWriter } from "./frame_encoder.ts";
import { Tag } from "./tags.ts";
import { Pid, Ref } from "./terms.ts";
import { smallValues } from "./_samples_test.ts";

// The oracle: the msgpack library itself, with pids and refs laid out as the
// codec lays them out. Whatever the fast path takes, it must write the very
// bytes the library writes.
const ext = new ExtensionCodec();
const term = (t: Pid | Ref) => {
  const w = new ByteWriter(64);
  w.name8(t.node, "node");
  w.u53(t.id);
  w.u32(t.creation);
  return w.buf.slice(0, w.pos);
};
ext.register({
  type: 1,
  encode: (v) => v instanceof Pid ? term(v) : null,
  decode: () => null,
});
ext.register({
  type: 2,
  encode: (v) => v instanceof Ref ? term(v) : null,
  decode: () => null,
});
const library = new Encoder({ extensionCodec: ext });

const { seed, value } = smallValues();

Deno.test("small encode: writes exactly the library's bytes for every value it takes", () => {
  const small = new SmallEncoder(100);
  let handled = 0;
  const n = 4000;
  for (let i = 0; i < n; i++) {
    const v = value(0);
    const got = small.encode(v);
    if (got === SMALL_ENCODE_BAIL) continue;
    handled++;
    assert.deepStrictEqual(
      [...got],
      [...library.encode(v)],
      `seed ${seed}, case ${i}: ${Deno.inspect(v)}`,
    );
  }
  assert.ok(handled > n / 4, `the fast path handled only ${handled} of ${n}`);
});

Deno.test("small encode: what it leaves to the full path is still refused or carried there", () => {
  const codec = new MsgpackCodec();
  const small = new SmallEncoder(100);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  const getter = {
    get boom(): number {
      throw new Error("no");
    },
  };
  for (
    const v of [
      undefined,
      -0,
      1n,
      () => 1,
      Symbol("s"),
      cyclic,
      getter,
      new Date(0),
      "é",
      { "é": 1 },
      new Pid("nö@h", 1, 1),
      new Array(65).fill(0),
      "x".repeat(1025),
      new (class Bytes extends Uint8Array {})(2),
      new Int8Array(2),
      new Uint8Array(16 * 1024 + 1),
    ]
  ) {
    assert.equal(small.encode(v), SMALL_ENCODE_BAIL, Deno.inspect(v));
  }
  // ...where the codec's own rules apply.
  assert.throws(() => codec.encode(cyclic), /cyclic/);
  assert.throws(() => codec.encode(getter), /threw/);
  assert.deepStrictEqual(codec.decode(codec.encode({ "é": -0 })), { "é": -0 });
});

Deno.test("small encode: a codec's maxDepth still applies", () => {
  const shallow = new MsgpackCodec({ maxDepth: 2 });
  assert.deepStrictEqual(shallow.decode(shallow.encode([[1]])), [[1]]);
  assert.throws(() => shallow.encode([[[1]]]), /levels deep/);
});

Deno.test("small encode: into a writer, binaries of any size are the library's bytes, after what was there", () => {
  const small = new SmallEncoder(100);
  const pid = new Pid("a@h", 7, 1);
  for (const size of [0, 5, 255, 256, 65_535, 65_536, 300_000]) {
    const bin = new Uint8Array(size).map((_, i) => i * 31);
    for (const v of [bin, { data: bin, from: pid }, [bin, bin.subarray(1)]]) {
      const w = new ByteWriter(16);
      w.u32(0xdeadbeef);
      assert.equal(small.encodeInto(w, v), true, `${size}`);
      assert.deepStrictEqual(
        w.buf.subarray(0, 4),
        Uint8Array.of(0xde, 0xad, 0xbe, 0xef),
      );
      assert.deepStrictEqual(w.buf.slice(4, w.pos), library.encode(v));
    }
  }
});

Deno.test("small encode: into a writer, what it leaves to the full path leaves the writer as it was", () => {
  const small = new SmallEncoder(100);
  const w = new ByteWriter(16);
  w.u32(42);
  const big = new Array(60).fill("x".repeat(1000)); // 60 KB that is not binary
  for (const v of [[1, 2, undefined], { a: new Uint8Array(9), b: 1n }, big]) {
    assert.equal(small.encodeInto(w, v), false, Deno.inspect(v).slice(0, 40));
    assert.equal(w.pos, 4);
  }
  // and the writer still takes the next value
  assert.equal(small.encodeInto(w, "ok"), true);
  assert.deepStrictEqual(w.buf.slice(4, w.pos), library.encode("ok"));
});

Deno.test("small encode: a frame carries a binary the same through the fast path or the full one", () => {
  const codec = new MsgpackCodec();
  assert.equal(typeof codec[ENCODE_INTO], "function");
  const to = new Pid("a@h", 1, 1);
  const message = { bytes: new Uint8Array(100_000).fill(9), n: 1n }; // bigint: full path
  const fast = { bytes: message.bytes, n: 1 };
  for (const m of [message, fast, message.bytes]) {
    const one = encodeFrame({ tag: Tag.SEND, to, message: m }, codec);
    const writer = new FrameWriter(codec);
    writer.write({ tag: Tag.SEND, to, message: m });
    assert.deepStrictEqual(writer.take(), one);
    const back = decodeFrame(one, codec) as { message: unknown };
    assert.deepStrictEqual(back.message, m);
  }
});

Deno.test("small encode: a codec subclass that encodes its own way is still asked for frames", () => {
  class Tagged extends MsgpackCodec {
    override encodeShared(value: unknown): Uint8Array {
      return super.encodeShared({ tagged: value });
    }
  }
  const codec = new Tagged();
  const frame = encodeFrame(
    { tag: Tag.SEND, to: new Pid("a@h", 1, 1), message: 5 },
    codec,
  );
  const back = decodeFrame(frame, codec) as { message: unknown };
  assert.deepStrictEqual(back.message, { tagged: 5 });
});
