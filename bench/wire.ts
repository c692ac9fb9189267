/**
 * Wire codec throughput. Run with `deno run -A bench/wire.ts`; prints one
 * JSON line per figure: `{"name", "value", "unit"}`.
 *
 * @module
 */

import {
  decodeFrame,
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameWriter,
  MsgpackCodec,
  Pid,
  Tag,
} from "../wire/mod.ts";

const SECONDS = Number(Deno.env.get("MOTE_BENCH_SECONDS") ?? "1.5");

function report(name: string, value: number, unit: string): void {
  console.log(JSON.stringify({ name, value: Math.round(value), unit }));
}

/** Runs `batch` (which does `n` operations) repeatedly; returns ops/s. */
function measure(n: number, batch: () => void): number {
  const warmUntil = performance.now() + 300;
  while (performance.now() < warmUntil) batch();
  let ops = 0;
  const start = performance.now();
  const until = start + SECONDS * 1000;
  let now = start;
  while (now < until) {
    batch();
    ops += n;
    now = performance.now();
  }
  return ops / ((now - start) / 1000);
}

const codec = new MsgpackCodec();
const to = new Pid("alice@host", 1234, 1);
const small = { op: "incr", n: 42, who: "alice" };
const send: Frame = { tag: Tag.SEND, to, message: small };
const N = 1000;

// Keeps results alive so the work is not optimized away.
let sink = 0;

// Encoding: a session gathers a turn's frames in a FrameWriter.
const writer = new FrameWriter(codec);
report(
  "wire.send_encode",
  measure(N, () => {
    for (let i = 0; i < N; i++) {
      writer.write(send);
      if (writer.byteLength > 60_000) sink += writer.take().length;
    }
  }),
  "frames/s",
);
report(
  "wire.send_encode_single",
  measure(N, () => {
    for (let i = 0; i < N; i++) sink += encodeFrame(send, codec).length;
  }),
  "frames/s",
);

const one = encodeFrame(send, codec);
report(
  "wire.send_decode",
  measure(N, () => {
    for (let i = 0; i < N; i++) sink += decodeFrame(one, codec).tag;
  }),
  "frames/s",
);

// A stream of small frames cut into 64 KiB chunks, decoded frame by frame.
writer.take();
for (let i = 0; i < 20_000; i++) writer.write(send);
const stream = writer.take();
const CHUNK = 64 * 1024;
const chunks: Uint8Array[] = [];
for (let at = 0; at < stream.length; at += CHUNK) {
  chunks.push(stream.subarray(at, at + CHUNK));
}
report(
  "wire.stream_decode",
  measure(20_000, () => {
    const decoder = new FrameDecoder(codec);
    let count = 0;
    for (const chunk of chunks) {
      decoder.push(chunk);
      while (decoder.next() !== undefined) count++;
    }
    if (count !== 20_000) throw new Error(`decoded ${count} frames`);
  }),
  "frames/s",
);

// Bulk: 64 KiB binary payloads, encode then decode.
const blob = new Uint8Array(64 * 1024).map((_, i) => i * 31);
const bulk: Frame = { tag: Tag.SEND, to, message: blob };
const bulkFrameBytes = encodeFrame(bulk, codec).length;
const bulkRate = measure(16, () => {
  for (let i = 0; i < 16; i++) {
    const f = decodeFrame(encodeFrame(bulk, codec), codec);
    sink += (f as { message: Uint8Array }).message.length;
  }
});
report("wire.bulk_mb_s", (bulkRate * bulkFrameBytes) / 1e6, "MB/s");

// Baselines: JSON of the same small value, in the same run.
const json = JSON.stringify(small);
report(
  "wire.json_encode",
  measure(N, () => {
    for (let i = 0; i < N; i++) sink += JSON.stringify(small).length;
  }),
  "values/s",
);
report(
  "wire.json_decode",
  measure(N, () => {
    for (let i = 0; i < N; i++) sink += (JSON.parse(json) as { n: number }).n;
  }),
  "values/s",
);

if (sink === -1) console.log(sink);
