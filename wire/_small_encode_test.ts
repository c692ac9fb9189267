import assert from "node:assert/strict";
import { Encoder, ExtensionCodec } from "@msgpack/msgpack";
import { ByteWriter } from "./_bytes.ts";
import { MsgpackCodec } from "./codec.ts";
import { SMALL_ENCODE_BAIL, SmallEncoder } from "./_small_encode.ts";
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
