import assert from "node:assert/strict";
import { MsgpackCodec } from "./codec.ts";
import {
  EmptyFrameError,
  FrameDecodeError,
  FrameTooLargeError,
  InvalidFieldError,
  TrailingBytesError,
  TruncatedFrameError,
  UnknownTagError,
  WireError,
} from "./errors.ts";
import type { Frame } from "./frame.ts";
import { decodeFrame, FrameDecoder } from "./frame_decoder.ts";
import { encodeFrame, FrameWriter } from "./frame_encoder.ts";
import { Tag } from "./tags.ts";
import { Pid } from "./terms.ts";
import { prng, samples } from "./_samples_test.ts";

const codec = new MsgpackCodec();
const frames = samples.map(([, f]) => f);
const writer = new FrameWriter(codec);
for (const f of frames) writer.write(f);
const stream = writer.take();

function drain(d: FrameDecoder): Frame[] {
  const out: Frame[] = [];
  for (let f = d.next(); f !== undefined; f = d.next()) out.push(f);
  return out;
}

Deno.test("FrameDecoder: a stream fed one byte at a time", () => {
  const d = new FrameDecoder(codec);
  const out: Frame[] = [];
  const one = new Uint8Array(1);
  for (const b of stream) {
    one[0] = b; // the same chunk is reused: the decoder must copy
    d.push(one);
    out.push(...drain(d));
  }
  assert.deepStrictEqual(out, frames);
  assert.equal(d.buffered, 0);
});

Deno.test("FrameDecoder: a stream fed in random chunk sizes", () => {
  const rand = prng(7);
  for (let round = 0; round < 200; round++) {
    const d = new FrameDecoder(codec);
    const out: Frame[] = [];
    for (let at = 0; at < stream.length;) {
      const n = 1 + Math.floor(rand() * (rand() < 0.2 ? 400 : 40));
      const chunk = stream.slice(at, at + n);
      d.push(chunk);
      chunk.fill(0xee); // reused by the caller
      at += n;
      if (rand() < 0.7) out.push(...drain(d));
    }
    out.push(...drain(d));
    assert.deepStrictEqual(out, frames, `round ${round}`);
    assert.equal(d.buffered, 0);
  }
});

Deno.test("FrameDecoder: the whole stream in one chunk, and buffered counts", () => {
  const d = new FrameDecoder(codec);
  d.push(stream);
  assert.equal(d.buffered, stream.length);
  const first = d.next();
  assert.deepStrictEqual(first, frames[0]);
  assert.equal(
    d.buffered,
    stream.length - encodeFrame(frames[0]!, codec).length,
  );
  assert.deepStrictEqual([first, ...drain(d)], frames);
  d.push(stream.subarray(0, 3));
  assert.equal(d.next(), undefined);
  assert.equal(d.buffered, 3);
});

Deno.test("FrameDecoder: binary payloads stay intact after more input", () => {
  const to = new Pid("a", 1, 1);
  const d = new FrameDecoder(codec);
  const kept: Uint8Array[] = [];
  for (let i = 0; i < 3000; i++) {
    d.push(
      encodeFrame({
        tag: Tag.SEND,
        to,
        message: new Uint8Array(50).fill(i & 0xff),
      }, codec),
    );
    const f = d.next() as { message: Uint8Array };
    kept.push(f.message);
  }
  kept.forEach((b, i) =>
    assert.ok(b.every((x) => x === (i & 0xff)), `payload ${i}`)
  );
});

Deno.test("FrameDecoder: a big frame in 64 KiB pieces is not re-copied", () => {
  const big = new Uint8Array(12 * 1024 * 1024).fill(7);
  const bytes = encodeFrame({
    tag: Tag.SEND,
    to: new Pid("a", 1, 1),
    message: big,
  }, codec);
  const d = new FrameDecoder(codec);
  const started = performance.now();
  for (let at = 0; at < bytes.length; at += 65536) {
    d.push(bytes.subarray(at, at + 65536));
    if (at + 65536 < bytes.length) assert.equal(d.next(), undefined);
  }
  const f = d.next() as { message: Uint8Array };
  assert.equal(f.message.length, big.length);
  // Quadratic re-concatenation would take seconds here.
  assert.ok(performance.now() - started < 1500);
});

Deno.test("FrameDecoder: many tiny chunks stay linear", () => {
  const d = new FrameDecoder(codec);
  const many = new FrameWriter(codec);
  for (let i = 0; i < 20_000; i++) many.write({ tag: Tag.TICK });
  const bytes = many.take();
  const started = performance.now();
  for (let at = 0; at < bytes.length; at += 3) {
    d.push(bytes.subarray(at, at + 3));
  }
  assert.equal(drain(d).length, 20_000);
  assert.ok(performance.now() - started < 1500);
});

function throwsWire<E extends WireError>(
  input: number[] | Uint8Array,
  type: new (...args: never[]) => E,
  check?: (e: E) => void,
): void {
  const d = new FrameDecoder(codec, { maxFrameBytes: 1024 });
  d.push(input instanceof Uint8Array ? input : new Uint8Array(input));
  let err: unknown;
  try {
    drain(d);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof type, `expected ${type.name}, got ${err}`);
  assert.ok(err instanceof WireError && err instanceof Error);
  assert.equal(err.name, type.name);
  check?.(err);
  // Errors are final.
  assert.throws(() => d.next(), (e) => e === err);
}

Deno.test("FrameDecoder: a declared length above the limit is refused before its body arrives", () => {
  throwsWire([0xff, 0xff, 0xff, 0xff], FrameTooLargeError, (e) => {
    assert.equal(e.length, 0xffffffff);
    assert.equal(e.maxFrameBytes, 1024);
    assert.equal(e.offset, 0);
    assert.equal(e.tag, undefined);
  });
  // Same after a valid frame: the offset counts the stream.
  throwsWire(
    [0, 0, 0, 1, 8, 0, 0, 4, 1],
    FrameTooLargeError,
    (e) => assert.equal(e.offset, 5),
  );
  // The default limit is 16 MiB.
  const d = new FrameDecoder(codec);
  d.push(new Uint8Array([1, 0, 0, 1]));
  assert.throws(() => d.next(), FrameTooLargeError);
  const ok = new FrameDecoder(codec);
  ok.push(new Uint8Array([1, 0, 0, 0]));
  assert.equal(ok.next(), undefined);
});

Deno.test("FrameDecoder: zero-length frame, unknown tag", () => {
  throwsWire([0, 0, 0, 0], EmptyFrameError);
  throwsWire([0, 0, 0, 1, 0x7f], UnknownTagError, (e) => {
    assert.equal(e.tag, 0x7f);
    assert.equal(e.offset, 4);
    assert.match(e.message, /0x7f/);
  });
  throwsWire([0, 0, 0, 1, 0x22], UnknownTagError); // reserved, not yet known
});

Deno.test("FrameDecoder: truncated and trailing bodies", () => {
  throwsWire(
    [0, 0, 0, 2, Tag.LINK, 3],
    TruncatedFrameError,
    (e) => assert.equal(e.tag, Tag.LINK),
  );
  throwsWire(
    [0, 0, 0, 2, Tag.TICK, 0],
    TrailingBytesError,
    (e) => assert.equal(e.offset, 5),
  );
  const link = encodeFrame(frames.find((f) => f.tag === Tag.LINK)!, codec);
  const longer = new Uint8Array(link.length + 1);
  longer.set(link);
  new DataView(longer.buffer).setUint32(0, link.length - 3);
  throwsWire(longer, TrailingBytesError);
  const shorter = link.slice(0, -1);
  new DataView(shorter.buffer).setUint32(0, shorter.length - 4);
  throwsWire(shorter, TruncatedFrameError);
  throwsWire([0, 0, 0, 2, Tag.SEND, 0], TruncatedFrameError);
  // A SEND whose pid is whole but has no message.
  throwsWire([
    0,
    0,
    0,
    15,
    Tag.SEND,
    1,
    0x61,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    1,
  ], TruncatedFrameError);
});

Deno.test("FrameDecoder: invalid field values", () => {
  // MONITOR with a destination kind of 3
  const pid = [1, 0x61, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1];
  const body = [Tag.MONITOR, ...pid, 3, ...pid];
  throwsWire([0, 0, 0, body.length, ...body], InvalidFieldError, (e) => {
    assert.equal(e.tag, Tag.MONITOR);
    assert.equal(e.offset, 4 + 1 + pid.length);
  });
  // REG_SEND with a from kind of 2 (names are not allowed there)
  throwsWire([0, 0, 0, 3, Tag.REG_SEND, 2, 0], InvalidFieldError);
  // An id of 2^53
  const unlink = [Tag.UNLINK, 0, 0x20, 0, 0, 0, 0, 0, 0, ...pid, ...pid];
  throwsWire([0, 0, 0, unlink.length, ...unlink], InvalidFieldError);
  // A node name that is not UTF-8
  const bad = [Tag.LINK, 1, 0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, ...pid];
  throwsWire(
    [0, 0, 0, bad.length, ...bad],
    InvalidFieldError,
    (e) => assert.match(e.message, /UTF-8/),
  );
});

Deno.test("FrameDecoder: invalid SPAWN_REQUEST and SPAWN_REPLY fields", () => {
  const pid = [1, 0x61, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1];
  // SPAWN_REQUEST with an undefined flag bit (0x04)
  const req = [Tag.SPAWN_REQUEST, ...pid, ...pid, 0x04, 1, 0x77, 0xc0];
  throwsWire([0, 0, 0, req.length, ...req], InvalidFieldError, (e) => {
    assert.equal(e.tag, Tag.SPAWN_REQUEST);
    assert.equal(e.offset, 4 + 1 + 2 * pid.length);
    assert.match(e.message, /flags 0x4/);
  });
  // SPAWN_REQUEST without its args payload
  const bare = [Tag.SPAWN_REQUEST, ...pid, ...pid, 0x01, 1, 0x77];
  throwsWire(
    [0, 0, 0, bare.length, ...bare],
    TruncatedFrameError,
    (e) => assert.equal(e.tag, Tag.SPAWN_REQUEST),
  );
  // SPAWN_REPLY with a result byte of 2
  const reply = [Tag.SPAWN_REPLY, ...pid, ...pid, 0x02, ...pid];
  throwsWire([0, 0, 0, reply.length, ...reply], InvalidFieldError, (e) => {
    assert.equal(e.tag, Tag.SPAWN_REPLY);
    assert.equal(e.offset, 4 + 1 + 2 * pid.length);
    assert.match(e.message, /result is 0x2/);
  });
  // SPAWN_REPLY ok with a byte after the pid
  const extra = [Tag.SPAWN_REPLY, ...pid, ...pid, 0x00, ...pid, 0];
  throwsWire([0, 0, 0, extra.length, ...extra], TrailingBytesError);
  // SPAWN_REPLY error whose reason does not decode
  const badReason = [Tag.SPAWN_REPLY, ...pid, ...pid, 0x01, 0xc1];
  throwsWire(
    [0, 0, 0, badReason.length, ...badReason],
    FrameDecodeError,
    (e) => assert.match(e.message, /reason does not decode/),
  );
});

Deno.test("FrameDecoder: a payload that does not decode is a FrameDecodeError with a cause", () => {
  const body = [
    Tag.EXIT,
    1,
    0x61,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    1,
    1,
    0x62,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    1,
    0xc1,
  ];
  throwsWire([0, 0, 0, body.length, ...body], FrameDecodeError, (e) => {
    assert.equal(e.tag, Tag.EXIT);
    assert.ok(e.cause instanceof Error);
    assert.match(e.message, /reason does not decode/);
  });
  // msgpack trailing bytes inside the payload
  const send = [
    Tag.SEND,
    1,
    0x61,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    1,
    0x01,
    0x02,
  ];
  throwsWire([0, 0, 0, send.length, ...send], FrameDecodeError);
});

Deno.test("FrameDecoder: a throwing custom codec still yields a WireError", () => {
  const broken = {
    encode: () => new Uint8Array([1]),
    decode: (): unknown => {
      throw "not even an Error";
    },
  };
  const d = new FrameDecoder(broken);
  d.push(
    encodeFrame({ tag: Tag.SEND, to: new Pid("a", 1, 1), message: 0 }, broken),
  );
  assert.throws(() => d.next(), FrameDecodeError);
});

Deno.test("decodeFrame: exactly one frame", () => {
  const tick = new Uint8Array([0, 0, 0, 1, 8]);
  assert.deepStrictEqual(decodeFrame(tick, codec), { tag: Tag.TICK });
  assert.throws(
    () => decodeFrame(tick.subarray(0, 3), codec),
    TruncatedFrameError,
  );
  assert.throws(
    () => decodeFrame(tick.subarray(0, 4), codec),
    TruncatedFrameError,
  );
  assert.throws(
    () => decodeFrame(new Uint8Array([0, 0, 0, 1, 8, 0]), codec),
    TrailingBytesError,
  );
  assert.throws(
    () => decodeFrame(new Uint8Array([0, 0, 0, 0]), codec),
    EmptyFrameError,
  );
  assert.throws(
    () => decodeFrame(new Uint8Array([0, 0, 0, 1, 0]), codec),
    UnknownTagError,
  );
});

Deno.test("FrameDecoder: options are checked", () => {
  assert.throws(
    () => new FrameDecoder(codec, { maxFrameBytes: 0 }),
    RangeError,
  );
  assert.throws(
    () => new FrameDecoder(codec, { maxFrameBytes: 2 ** 32 }),
    RangeError,
  );
});

Deno.test("FrameDecoder: maxFrameBytes may be raised between frames, and is checked", () => {
  const to = new Pid("a@h", 1, 1);
  const big = encodeFrame(
    { tag: Tag.SEND, to, message: new Uint8Array(10_000) },
    codec,
  );
  const refused = new FrameDecoder(codec, { maxFrameBytes: 4096 });
  refused.push(big);
  assert.throws(() => refused.next(), FrameTooLargeError);

  const d = new FrameDecoder(codec, { maxFrameBytes: 4096 });
  assert.equal(d.maxFrameBytes, 4096);
  d.push(encodeFrame({ tag: Tag.TICK }, codec));
  d.push(big);
  assert.equal(d.next()?.tag, Tag.TICK);
  d.maxFrameBytes = 1 << 20;
  assert.equal(d.maxFrameBytes, 1 << 20);
  const frame = d.next();
  assert.equal(frame?.tag, Tag.SEND);
  assert.equal((frame as { message: Uint8Array }).message.length, 10_000);

  for (const bad of [0, -1, 1.5, 2 ** 32, NaN, "4096" as unknown as number]) {
    assert.throws(() => d.maxFrameBytes = bad, RangeError);
  }
  assert.equal(d.maxFrameBytes, 1 << 20, "a refused value changes nothing");
});

Deno.test("stream: under a small limit, a declared length reserves no more than the limit allows", () => {
  const d = new FrameDecoder(codec, { maxFrameBytes: 4096 });
  // What a peer that has proved nothing may send: a header declaring 1 MiB,
  // and one byte of it.
  const room = d.writable(5);
  room.set([0, 0x10, 0, 0, Tag.SEND]);
  d.commit(5);
  assert.throws(() => d.next(), FrameTooLargeError);
  assert.ok(room.buffer.byteLength <= 4100, `${room.buffer.byteLength}`);

  const h = new FrameDecoder(codec, { maxFrameBytes: 4096 });
  h.push(new Uint8Array([0, 0, 0x0f, 0xff, Tag.HANDSHAKE_REFUSE]));
  assert.equal(h.next(), undefined);
  assert.ok(h.writable(1).buffer.byteLength <= 2 * 4100);
  h.maxFrameBytes = 16 << 20;
  h.push(new Uint8Array(0x0ffe).fill(0x61));
  assert.equal(h.next()?.tag, Tag.HANDSHAKE_REFUSE);
  // Raised, the limit brings the usual buffers back at the next read, even
  // one that would fit (a frame begun in the handshake's last read).
  h.push(new Uint8Array([0, 0, 0, 40]));
  assert.equal(h.needed, 40);
  assert.ok(h.writable(h.needed).buffer.byteLength >= 256 * 1024);
});

Deno.test("stream: reading straight into writable() gives the same frames, split anywhere", () => {
  const rand = prng(7);
  const d = new FrameDecoder(codec);
  const out: Frame[] = [];
  for (let off = 0; off < stream.length;) {
    const want = 1 + Math.floor(rand() * 700);
    const room = d.writable(want);
    assert.ok(room.length >= want);
    const n = Math.min(room.length, want, stream.length - off);
    room.set(stream.subarray(off, off + n));
    d.commit(n);
    off += n;
    out.push(...drain(d));
  }
  assert.deepEqual(out, frames);
});

Deno.test("stream: a binary payload handed out is never overwritten by later reads", () => {
  const d = new FrameDecoder(codec);
  const to = new Pid("a@h", 1, 1);
  const first = encodeFrame(
    { tag: Tag.SEND, to, message: new Uint8Array(1000).fill(1) },
    codec,
  );
  const second = encodeFrame(
    { tag: Tag.SEND, to, message: new Uint8Array(300_000).fill(2) },
    codec,
  );
  d.writable(first.length).set(first);
  d.commit(first.length);
  const got = d.next() as { message: Uint8Array };
  for (let off = 0; off < second.length;) {
    const room = d.writable(4096);
    const n = Math.min(room.length, second.length - off);
    room.set(second.subarray(off, off + n));
    d.commit(n);
    off += n;
  }
  assert.ok(got.message.every((b) => b === 1));
  const next = d.next() as { message: Uint8Array };
  assert.equal(next.message.length, 300_000);
  assert.ok(next.message.every((b) => b === 2));
});

Deno.test("stream: equal large frames read in pieces of any size leave no piece to copy into a next buffer", () => {
  // 64 KiB binaries: their frames are a little over 64 KiB, so four do not
  // fit 256 KiB, and buffers of that size left most frames in two pieces.
  const to = new Pid("a@h", 1, 1);
  const one = encodeFrame(
    { tag: Tag.SEND, to, message: new Uint8Array(65_536) },
    codec,
  );
  const count = 120;
  const all = new Uint8Array(one.length * count);
  for (let i = 0; i < count; i++) {
    const f = one.slice();
    f.fill(i, f.length - 65_536); // each payload its own bytes
    all.set(f, i * one.length);
  }
  const rand = prng(11);
  const d = new FrameDecoder(codec);
  const buffers = new Set<ArrayBufferLike>();
  const got: Uint8Array[] = [];
  for (let off = 0; off < all.length;) {
    // As a session asks: the rest of a frame that has begun, at most 64 KiB.
    const needed = d.needed;
    const room = d.writable(
      needed > 0 && needed < 65_536 ? needed : 65_536,
    );
    assert.ok(room.length >= Math.min(needed || 65_536, 65_536));
    buffers.add(room.buffer);
    // Reads return what the socket has: from a few bytes to all there is.
    const cap = rand() < 0.2 ? 1 + Math.floor(rand() * 64) : 200_000;
    const n = Math.min(room.length, cap, all.length - off);
    room.set(all.subarray(off, off + n));
    d.commit(n);
    off += n;
    for (const f of drain(d)) got.push((f as { message: Uint8Array }).message);
  }
  assert.equal(got.length, count);
  got.forEach((m, i) => {
    assert.equal(m.length, 65_536);
    assert.ok(m.every((b) => b === i));
  });
  // Past the first buffer (sized before any frame was seen), every byte
  // allocated holds a byte of the stream once.
  let allocated = 0;
  for (const b of buffers) allocated += b.byteLength;
  assert.ok(
    allocated <= all.length + 256 * 1024,
    `${allocated} bytes allocated for ${all.length}`,
  );
});

Deno.test("stream: after one big frame, small frames get buffers of the usual size", () => {
  const to = new Pid("a@h", 1, 1);
  const big = encodeFrame(
    { tag: Tag.SEND, to, message: new Uint8Array(4 << 20) },
    codec,
  );
  const small = encodeFrame(
    { tag: Tag.SEND, to, message: new Uint8Array(10_000) },
    codec,
  );
  const d = new FrameDecoder(codec);
  const feed = (bytes: Uint8Array) => {
    for (let off = 0; off < bytes.length;) {
      const room = d.writable(65_536);
      const n = Math.min(room.length, 100_000, bytes.length - off);
      room.set(bytes.subarray(off, off + n));
      d.commit(n);
      off += n;
      drain(d);
    }
  };
  feed(big);
  for (let i = 0; i < 100; i++) {
    const room = d.writable(65_536);
    assert.ok(
      room.buffer.byteLength <= 512 * 1024,
      `${room.buffer.byteLength}`,
    );
    feed(small);
  }
});

Deno.test("stream: needed counts what the begun frame still lacks", () => {
  const bytes = encodeFrame(
    { tag: Tag.SEND, to: new Pid("a@h", 1, 1), message: new Uint8Array(500) },
    codec,
  );
  const d = new FrameDecoder(codec);
  assert.equal(d.needed, 0);
  d.push(bytes.subarray(0, 3)); // the length prefix is not all here
  assert.equal(d.needed, 0);
  d.push(bytes.subarray(3, 100));
  assert.equal(d.needed, bytes.length - 100);
  d.push(bytes.subarray(100));
  assert.equal(d.needed, 0);
  assert.ok(d.next() !== undefined);
  assert.equal(d.needed, 0);
  d.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff)); // a length above the limit
  assert.equal(d.needed, 0);
});

Deno.test("stream: commit beyond the writable room is a RangeError", () => {
  const d = new FrameDecoder(codec);
  const room = d.writable(16);
  assert.throws(() => d.commit(room.length + 1), RangeError);
  assert.throws(() => d.commit(-1), RangeError);
  assert.throws(() => d.writable(0), RangeError);
});

Deno.test("FrameDecoder: bad global-name frames are named WireErrors with tag and offset", () => {
  const pid = [1, 0x61, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1];
  // GLOBAL_REGISTER whose pid is cut short
  const reg = [Tag.GLOBAL_REGISTER, 2, 0x64, 0x62, ...pid.slice(0, 5)];
  throwsWire([0, 0, 0, reg.length, ...reg], TruncatedFrameError, (e) => {
    assert.equal(e.tag, Tag.GLOBAL_REGISTER);
    assert.equal(e.offset, 4 + 1 + 3 + 2);
  });
  // GLOBAL_UNREGISTER whose name is not UTF-8
  const unreg = [Tag.GLOBAL_UNREGISTER, 1, 0xff, ...pid];
  throwsWire([0, 0, 0, unreg.length, ...unreg], InvalidFieldError, (e) => {
    assert.equal(e.tag, Tag.GLOBAL_UNREGISTER);
    assert.equal(e.offset, 6);
    assert.match(e.message, /UTF-8/);
  });
  // GLOBAL_SYNC claiming more entries than its body holds: refused before looping
  const sync = [Tag.GLOBAL_SYNC, 0xff, 0xff, 0xff, 0xff, 0, ...pid];
  throwsWire([0, 0, 0, sync.length, ...sync], TruncatedFrameError, (e) => {
    assert.equal(e.tag, Tag.GLOBAL_SYNC);
    assert.equal(e.offset, 9);
    assert.match(e.message, /4294967295 entries/);
  });
  // GLOBAL_SYNC with a byte left after its one entry
  const extra = [Tag.GLOBAL_SYNC, 0, 0, 0, 1, 0, ...pid, 9];
  throwsWire([0, 0, 0, extra.length, ...extra], TrailingBytesError, (e) => {
    assert.equal(e.tag, Tag.GLOBAL_SYNC);
    assert.equal(e.offset, 4 + extra.length - 1);
  });
  // GLOBAL_PING with an id of 2^53, and one cut short
  const ping = [Tag.GLOBAL_PING, 0, 0x20, 0, 0, 0, 0, 0, 0];
  throwsWire([0, 0, 0, ping.length, ...ping], InvalidFieldError, (e) => {
    assert.equal(e.tag, Tag.GLOBAL_PING);
    assert.equal(e.offset, 5);
  });
  throwsWire(
    [0, 0, 0, 3, Tag.GLOBAL_PONG, 0, 0],
    TruncatedFrameError,
    (e) => assert.equal(e.tag, Tag.GLOBAL_PONG),
  );
  // 0x3f is in the global range but not a tag
  throwsWire([0, 0, 0, 1, 0x3f], UnknownTagError);
});

Deno.test("FrameDecoder: pids whose node name is already cached decode alike, and their faults are the same errors", () => {
  // Every sample frame twice through one decoder: the second time every node
  // name comes from its name cache.
  const d = new FrameDecoder(codec);
  d.push(stream);
  d.push(stream);
  const out = drain(d);
  assert.deepEqual(out.slice(frames.length), out.slice(0, frames.length));
  assert.deepEqual(out.slice(frames.length), frames);
  // Once "a" is known, a LINK whose first pid has an id of 2^53, or is cut
  // short, fails exactly as it does in a decoder that never saw "a".
  const pid = [1, 0x61, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1];
  const link = [Tag.LINK, ...pid, ...pid];
  const bigId = [Tag.LINK, 1, 0x61, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  const cut = [Tag.LINK, ...pid.slice(0, 9)];
  for (const body of [bigId, cut]) {
    const fresh = new FrameDecoder(codec);
    fresh.push(new Uint8Array([0, 0, 0, body.length, ...body]));
    const expected = (() => {
      try {
        fresh.next();
      } catch (e) {
        return e as WireError;
      }
      assert.fail("expected an error");
    })();
    const warm = new FrameDecoder(codec);
    warm.push(new Uint8Array([0, 0, 0, link.length, ...link]));
    assert.equal(warm.next()?.tag, Tag.LINK);
    warm.push(new Uint8Array([0, 0, 0, body.length, ...body]));
    assert.throws(() => warm.next(), (e: unknown) => {
      assert.ok(e instanceof WireError);
      assert.equal(e.constructor, expected.constructor);
      const plain = (m: string) => m.replace(/ at byte \d+/, "");
      assert.equal(plain(e.message), plain(expected.message));
      assert.equal(e.offset, expected.offset! + 4 + link.length);
      return true;
    });
  }
});
