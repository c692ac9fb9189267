// Fuzzing the frame decoder: random, truncated, bit-flipped and
// length-lying inputs must each end in frames or a WireError, never another
// exception, a hang or unbounded buffering. The seed is printed; rerun a
// failure with MOTE_FUZZ_SEED=<seed> deno test --allow-env=MOTE_FUZZ_SEED tests/wire_fuzz_test.ts

import assert from "node:assert/strict";
import {
  decodeFrame,
  type Frame,
  FrameDecoder,
  FrameWriter,
  MsgpackCodec,
  WireError,
} from "../wire/mod.ts";
import { prng, randomValue, samples } from "../wire/_samples_test.ts";
import { concat } from "./_util.ts";

function seedFromEnv(): number {
  const granted = Deno.permissions.querySync({
    name: "env",
    variable: "MOTE_FUZZ_SEED",
  }).state === "granted";
  const text = granted ? Deno.env.get("MOTE_FUZZ_SEED") : undefined;
  if (text !== undefined && text !== "") return Number(text) >>> 0;
  return (Date.now() ^ (Math.random() * 2 ** 32)) >>> 0;
}

const seed = seedFromEnv();
console.log(`wire fuzz seed: ${seed} (set MOTE_FUZZ_SEED to replay)`);
const rand = prng(seed);
const int = (n: number) => Math.floor(rand() * n);
const MAX = 64 * 1024;
const codec = new MsgpackCodec({ maxDepth: 32 });

// Valid material to mutate: the sample frames plus random-payload SENDs.
const writer = new FrameWriter(codec);
const valid: Uint8Array[] = [];
for (const [, f] of samples) {
  writer.write(f);
  valid.push(writer.take());
}
const to = samples.find(([, f]) => "to" in f)![1] as Frame & { to: never };
for (let i = 0; i < 200; i++) {
  writer.write({ tag: 0x10, to: to.to, message: randomValue(rand) });
  valid.push(writer.take());
}

function validStream(): Uint8Array {
  return concat(
    Array.from({ length: 1 + int(5) }, () => valid[int(valid.length)]!),
  );
}

const mutations: [string, () => Uint8Array][] = [
  ["random bytes", () => Uint8Array.from({ length: int(200) }, () => int(256))],
  ["random body behind a true length", () => {
    const body = Uint8Array.from({ length: 1 + int(100) }, () => int(256));
    if (rand() < 0.7) {
      body[0] = [
        0x01,
        0x02,
        0x03,
        0x04,
        0x05,
        0x08,
        0x10,
        0x11,
        0x12,
        0x13,
        0x14,
        0x15,
        0x16,
        0x17,
        0x18,
        0x19,
        0x1a,
      ][int(17)]!;
    }
    const out = new Uint8Array(4 + body.length);
    new DataView(out.buffer).setUint32(0, body.length);
    out.set(body, 4);
    return out;
  }],
  ["bit flips", () => {
    const s = validStream();
    for (let i = 1 + int(4); i > 0; i--) s[int(s.length)]! ^= 1 << int(8);
    return s;
  }],
  ["byte flips after the header", () => {
    const s = validStream();
    for (let i = 1 + int(3); i > 0; i--) {
      const at = 4 + int(Math.max(1, s.length - 4));
      if (at < s.length) s[at] = int(256);
    }
    return s;
  }],
  ["truncated", () => {
    const s = validStream();
    return s.subarray(0, int(s.length));
  }],
  ["lying length", () => {
    const s = validStream();
    const v = new DataView(s.buffer, s.byteOffset);
    const real = v.getUint32(0);
    const lies = [
      0,
      1,
      real - 1,
      real + 1,
      real + int(50),
      int(MAX * 2),
      0xffffffff,
      MAX,
      MAX + 1,
    ];
    v.setUint32(0, Math.max(0, lies[int(lies.length)]!) >>> 0);
    return s;
  }],
  ["spliced", () => {
    const a = validStream();
    const b = validStream();
    return concat([a.subarray(0, int(a.length)), b.subarray(int(b.length))]);
  }],
  ["msgpack noise in a payload", () => {
    const s = valid[samples.length + int(200)]!.slice();
    // Overwrite part of the payload with msgpack-ish headers: ext, array, map, str.
    const heads = [
      0xc7,
      0xc8,
      0xd4,
      0xd5,
      0xd6,
      0xd7,
      0xd8,
      0xdc,
      0xdd,
      0xde,
      0xdf,
      0xd9,
      0xc4,
      0x91,
      0x81,
    ];
    for (let i = 1 + int(4); i > 0; i--) {
      const at = 19 + int(Math.max(1, s.length - 19));
      if (at < s.length) {
        s[at] = rand() < 0.5 ? heads[int(heads.length)]! : int(12);
      }
    }
    return s;
  }],
];

function feed(input: Uint8Array): { frames: number; error?: WireError } {
  const d = new FrameDecoder(codec, { maxFrameBytes: MAX });
  let frames = 0;
  let pushed = 0;
  try {
    for (let at = 0; at < input.length;) {
      const n = 1 + int(rand() < 0.3 ? 4 : 300);
      d.push(input.subarray(at, at + n));
      at += n;
      pushed = Math.min(at, input.length);
      for (let f = d.next(); f !== undefined; f = d.next()) frames++;
      assert.ok(d.buffered <= pushed, "buffered more than was pushed");
      assert.ok(
        d.buffered <= MAX + 4 + 300,
        "buffered a frame above the limit",
      );
    }
  } catch (e) {
    if (e instanceof WireError) return { frames, error: e };
    throw e;
  }
  return { frames };
}

Deno.test(`wire fuzz: mutated streams end in frames or a WireError (seed ${seed})`, () => {
  const started = performance.now();
  const counts: Record<string, number> = {};
  const N = 20_000;
  for (let i = 0; i < N; i++) {
    const [name, make] = mutations[i % mutations.length]!;
    const input = make();
    let result;
    try {
      result = feed(input);
    } catch (e) {
      throw new Error(`${name} #${i} (seed ${seed}): ${e}`, { cause: e });
    }
    const key = `${name}: ${result.error?.name ?? "ok"}`;
    counts[key] = (counts[key] ?? 0) + 1;
    // decodeFrame on the same bytes: a frame or a WireError.
    try {
      decodeFrame(input, codec);
    } catch (e) {
      if (e instanceof WireError) {
        const k = `${name}: decodeFrame ${e.name}`;
        counts[k] = (counts[k] ?? 0) + 1;
      } else {
        throw new Error(`decodeFrame, ${name} #${i} (seed ${seed}): ${e}`, {
          cause: e,
        });
      }
    }
  }
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 8000, `fuzzing took ${elapsed} ms`);
  // Each mutation must have produced at least some errors (or it tests nothing).
  const errorKinds = new Set(
    Object.keys(counts).filter((k) => !k.endsWith(": ok")).map((k) =>
      k.split(":")[0]
    ),
  );
  for (const [name] of mutations) {
    assert.ok(errorKinds.has(name), `${name} never failed`);
  }
});

Deno.test(`wire fuzz: unmutated streams decode whole, in any chunking (seed ${seed})`, () => {
  for (let i = 0; i < 300; i++) {
    const parts = Array.from(
      { length: 1 + int(6) },
      () => valid[int(valid.length)]!,
    );
    const result = feed(concat(parts));
    assert.equal(result.error, undefined, String(result.error));
    assert.equal(result.frames, parts.length);
  }
});
