import assert from "node:assert/strict";
import { MsgpackCodec } from "./codec.ts";
import { ExtData } from "@msgpack/msgpack";
import { FrameDecodeError, UnencodableValueError } from "./errors.ts";
import { Crash, Pid, Ref } from "./terms.ts";
import { prng, randomValue } from "./_samples_test.ts";

const codec = new MsgpackCodec();
const roundTrip = (v: unknown) => codec.decode(codec.encode(v));

Deno.test("codec: scalars round-trip, including every UTF-8 width and -0", () => {
  const values = [
    null,
    undefined,
    true,
    false,
    0,
    -0,
    1,
    -1,
    2 ** 53 - 1,
    -(2 ** 53 - 1),
    2 ** 64,
    1.5,
    -1e-300,
    NaN,
    Infinity,
    -Infinity,
    "",
    "ascii",
    "é ß",
    "€ 日本",
    "𝄞 😀",
    "\uFEFFbom first",
    "\u0000nul",
    "x".repeat(70_000),
    "\uFEFF" + "long string after a BOM ".repeat(20),
  ];
  for (const v of values) assert.deepStrictEqual(roundTrip(v), v);
});

Deno.test("codec: undefined and null stay distinct in objects and arrays", () => {
  const v = { a: undefined, b: null, c: [undefined, null] };
  const back = roundTrip(v) as typeof v;
  assert.deepStrictEqual(back, v);
  assert.ok("a" in back);
});

Deno.test("codec: bigints of any size and sign", () => {
  for (
    const v of [
      0n,
      1n,
      -1n,
      255n,
      256n,
      -(2n ** 64n),
      2n ** 64n,
      7n ** 300n,
      -(3n ** 1000n),
    ]
  ) assert.equal(roundTrip(v), v);
});

Deno.test("codec: Pid, Ref and Crash decode to their classes and compare equal", () => {
  const pid = new Pid("node@host", 2 ** 53 - 1, 0xffffffff);
  const ref = new Ref("日本@host", 0, 0);
  const crash = new Crash("TypeError", "bad", "TypeError: bad\n  at x");
  const back = roundTrip({
    pid,
    ref,
    crash,
    noStack: new Crash("E", "m"),
  }) as Record<string, unknown>;
  assert.ok(back.pid instanceof Pid && pid.equals(back.pid));
  assert.ok(back.ref instanceof Ref && ref.equals(back.ref));
  assert.ok(back.crash instanceof Crash && crash.equals(back.crash));
  assert.deepStrictEqual(back.noStack, new Crash("E", "m"));
});

Deno.test("codec: pids inside maps and sets, maps with object keys", () => {
  const p = new Pid("a@h", 1, 2);
  const v = new Map<unknown, unknown>([
    [p, new Set([p, new Pid("b@h", 3, 4)])],
    [{ k: 1 }, [1, 2]],
    [1n, "big"],
  ]);
  assert.deepStrictEqual(roundTrip(v), v);
});

Deno.test("codec: errors keep name, message, stack and cause", () => {
  const e = new TypeError("bad thing", {
    cause: { code: 7, pid: new Pid("a", 1, 1) },
  });
  const back = roundTrip(e) as TypeError;
  assert.ok(back instanceof TypeError);
  assert.equal(back.name, "TypeError");
  assert.equal(back.message, "bad thing");
  assert.equal(back.stack, e.stack);
  assert.deepStrictEqual(back.cause, e.cause);

  class CustomError extends Error {
    override name = "CustomError";
  }
  const c = roundTrip(new CustomError("custom")) as Error;
  assert.ok(c instanceof Error);
  assert.equal(c.name, "CustomError");
  assert.equal(c.message, "custom");
  assert.ok(!Object.hasOwn(roundTrip(new Error("x")) as Error, "cause"));
});

Deno.test("codec: dates, invalid dates and binary", () => {
  const d = new Date(Date.UTC(1969, 11, 31, 23, 59, 59, 999));
  assert.deepStrictEqual(roundTrip(d), d);
  const invalid = roundTrip(new Date(NaN));
  assert.ok(invalid instanceof Date && Number.isNaN(invalid.getTime()));
  const bin = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
  assert.deepStrictEqual(roundTrip(bin), bin);
});

Deno.test("codec: generated nested values round-trip", () => {
  const seed = 12345;
  const rand = prng(seed);
  for (let i = 0; i < 2000; i++) {
    const v = randomValue(rand);
    assert.deepStrictEqual(roundTrip(v), v, `seed ${seed}, value ${i}`);
  }
});

function refused(value: unknown, path: string, match: RegExp): void {
  assert.throws(() => codec.encode(value), (e: unknown) => {
    assert.ok(e instanceof UnencodableValueError);
    assert.equal(e.name, "UnencodableValueError");
    assert.equal(e.path, path);
    assert.match(e.message, match);
    return true;
  });
}

Deno.test("codec: unencodable values are refused with a path", () => {
  refused({ handler() {} }, ".handler", /function \(handler\) cannot be sent/);
  refused(() => 1, "", /function/);
  refused([1, Symbol("s")], "[1]", /symbol/);
  refused({ a: { b: [0, { c: Promise.resolve() }] } }, ".a.b[1].c", /Promise/);
  refused(new Map([["k", () => 1]]), '.get("k")', /function/);
  refused(new Set([1, new WeakMap()]), ".values()[1]", /WeakMap/);
  refused({ x: new Int16Array(2) }, ".x", /Int16Array cannot be sent/);
  refused({ x: new ArrayBuffer(2) }, ".x", /ArrayBuffer/);
  refused({ "my key": /re/ }, '["my key"]', /RegExp/);
  refused(JSON.parse('{"__proto__": 1}'), ".__proto__", /__proto__/);
  refused(new Pid("x".repeat(256), 1, 1), ".node", /256 bytes/);
  refused([new Pid("n", -1, 1)], "[0].id", /integer/);
  refused(new Ref("n", 1, 2 ** 32), ".creation", /integer/);
  refused(new Error("x", { cause: () => 1 }), ".cause", /function/);
});

Deno.test("codec: cycles and too deep values are refused", () => {
  const cyclic: Record<string, unknown> = { list: [] };
  (cyclic.list as unknown[]).push({ back: cyclic });
  refused(cyclic, ".list[0].back", /cyclic/);
  const m = new Map<string, unknown>();
  m.set("self", m);
  refused(m, '.get("self")', /cyclic/);

  let deep: unknown = 1;
  for (let i = 0; i < 101; i++) deep = [deep];
  refused(deep, "[0]".repeat(100), /more than 100 levels/);
  const shallow = new MsgpackCodec({ maxDepth: 3 });
  assert.throws(() => shallow.encode([[[[1]]]]), UnencodableValueError);
  assert.deepStrictEqual(shallow.decode(shallow.encode([[[1]]])), [[[1]]]);

  // A shared (non-cyclic) object is fine.
  const shared = { x: 1 };
  assert.deepStrictEqual(roundTrip([shared, shared]), [{ x: 1 }, { x: 1 }]);
});

Deno.test("codec: class instances travel as plain objects", () => {
  class Point {
    constructor(readonly x: number, readonly y: number) {}
    norm(): number {
      return Math.hypot(this.x, this.y);
    }
  }
  assert.deepStrictEqual(roundTrip(new Point(1, 2)), { x: 1, y: 2 });
});

Deno.test("codec: malformed input throws", () => {
  for (
    const bad of [
      [],
      [0xc1],
      [0x92, 1],
      [1, 2],
      [0xd4, 1, 0], // truncated pid extension
      [0xd5, 7, 2, 0], // bigint with a bad sign byte
      [0xc7, 1, 8, 0], // undefined with data
    ]
  ) assert.throws(() => codec.decode(new Uint8Array(bad)));
});

Deno.test("codec: nested extensions deeper than maxDepth are refused on decode", () => {
  const shallow = new MsgpackCodec({ maxDepth: 4 });
  const deep = new MsgpackCodec({ maxDepth: 50 });
  let v: unknown = 1;
  for (let i = 0; i < 10; i++) v = new Set([v]);
  assert.throws(() => shallow.decode(deep.encode(v)), /nested deeper/);
});

Deno.test("codec: an extension type it does not know does not decode, and a msgpack ExtData is not sent", () => {
  const c = new MsgpackCodec();
  // fixext 1 of type 42 inside a map { a: … }, then the same with type 12
  // (the first number after Mote's own).
  for (const type of [42, 12, -2]) {
    const bytes = new Uint8Array([0x81, 0xa1, 0x61, 0xd4, type & 0xff, 1]);
    assert.throws(
      () => c.decode(bytes),
      (e: unknown) =>
        e instanceof FrameDecodeError &&
        e.message.includes(`Unknown extension type ${type}`),
    );
  }
  // The timestamp extension (-1) still decodes.
  const date = new Uint8Array([0xd6, 0xff, 0, 0, 0, 7]);
  assert.deepEqual(c.decode(date), new Date(7000));
  assert.throws(
    () => c.encode({ a: new ExtData(42, new Uint8Array([1])) }),
    (e: unknown) =>
      e instanceof UnencodableValueError && e.message.includes(".a"),
  );
});
