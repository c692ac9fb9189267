import assert from "node:assert/strict";
import { fixtures } from "../tests/fixtures/frames.ts";
import { MsgpackCodec } from "./codec.ts";
import { UnencodableValueError } from "./errors.ts";
import type { Frame } from "./frame.ts";
import { decodeFrame } from "./frame_decoder.ts";
import { encodeFrame, FrameWriter } from "./frame_encoder.ts";
import { Tag } from "./tags.ts";
import { Pid, Ref } from "./terms.ts";
import { samples } from "./_samples_test.ts";

const codec = new MsgpackCodec();
const hex = (b: Uint8Array) =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const fromHex = (s: string) =>
  Uint8Array.from(s.trim().match(/../g) ?? [], (h) => parseInt(h, 16));

Deno.test("frames: every tag has a sample frame", () => {
  const covered = new Set(samples.map(([, f]) => f.tag));
  for (const tag of Object.values(Tag)) {
    assert.ok(covered.has(tag), `tag ${tag}`);
  }
});

Deno.test("frames: every frame kind round-trips", () => {
  for (const [name, frame] of samples) {
    assert.deepStrictEqual(
      decodeFrame(encodeFrame(frame, codec), codec),
      frame,
      name,
    );
  }
});

Deno.test("frames: golden vectors, encoded and decoded", () => {
  assert.equal(Object.keys(fixtures).length, samples.length);
  for (const [name, frame] of samples) {
    const golden = fixtures[name];
    assert.ok(golden !== undefined, `fixture ${name}.hex`);
    assert.equal(
      hex(encodeFrame(frame, codec)),
      golden.trim(),
      `encode ${name}`,
    );
    assert.deepStrictEqual(
      decodeFrame(fromHex(golden), codec),
      frame,
      `decode ${name}`,
    );
  }
});

Deno.test("frames: the length prefix counts tag and body", () => {
  const bytes = encodeFrame({
    tag: Tag.LINK,
    from: new Pid("a", 1, 2),
    to: new Pid("bb", 3, 4),
  }, codec);
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  assert.equal(view.getUint32(0), bytes.length - 4);
  assert.equal(bytes[4], Tag.LINK);
  // from: 1+1+8+4, to: 1+2+8+4
  assert.equal(bytes.length, 4 + 1 + 14 + 15);
});

function refused(frame: unknown, path: string): void {
  assert.throws(() => encodeFrame(frame as Frame, codec), (e: unknown) => {
    assert.ok(e instanceof UnencodableValueError, String(e));
    assert.equal(e.path, path);
    return true;
  });
}

Deno.test("frames: invalid control fields are refused with their path", () => {
  const p = new Pid("a@h", 1, 1);
  refused(
    { tag: Tag.SEND, to: new Pid("é".repeat(128), 1, 1), message: 1 },
    "to.node",
  );
  refused({ tag: Tag.LINK, from: p, to: new Pid("b", 2 ** 53, 1) }, "to.id");
  refused({ tag: Tag.LINK, from: new Pid("b", 1, -1), to: p }, "from.creation");
  refused({ tag: Tag.UNLINK, id: 1.5, from: p, to: p }, "id");
  refused({
    tag: Tag.MONITOR,
    from: p,
    to: "x".repeat(256),
    ref: new Ref("a", 1, 1),
  }, "to");
  refused(
    { tag: Tag.HANDSHAKE_NAME, name: "a", creation: 1, version: 70000 },
    "version",
  );
  refused({ tag: Tag.HANDSHAKE_ACK, digest: new Uint8Array(31) }, "digest");
  refused({
    tag: Tag.HANDSHAKE_REPLY,
    challenge: new Uint8Array(32),
    digest: "x",
  }, "digest");
  refused({
    tag: Tag.PEER_LIST,
    peers: [{ name: "a", host: "h", port: 65536 }],
  }, "peers[0].port");
  refused({ tag: 0x7f }, "tag");
  refused({ tag: Tag.GLOBAL_REGISTER, name: 7, pid: p }, "name");
  refused({ tag: Tag.GLOBAL_REGISTER, name: "", pid: "p" }, "pid");
  refused(
    { tag: Tag.GLOBAL_UNREGISTER, name: "x".repeat(256), pid: p },
    "name",
  );
  refused({ tag: Tag.GLOBAL_SYNC, entries: {} }, "entries");
  refused({ tag: Tag.GLOBAL_SYNC, entries: [null] }, "entries[0]");
  refused(
    { tag: Tag.GLOBAL_SYNC, entries: [{ name: "a", pid: p }, { name: "b" }] },
    "entries[1].pid",
  );
  refused({ tag: Tag.GLOBAL_PING, id: -1 }, "id");
  refused({ tag: Tag.GLOBAL_PONG, id: 2 ** 53 }, "id");
  refused(
    { tag: Tag.SEND, to: p, message: { handler: () => {} } },
    "message.handler",
  );
  refused({ tag: Tag.EXIT, from: p, to: p, reason: [Symbol()] }, "reason[0]");
  refused(
    { tag: Tag.REG_SEND, from: null, name: "n", message: () => {} },
    "message",
  );
  const ref = new Ref("a", 1, 1);
  refused({
    tag: Tag.SPAWN_REQUEST,
    from: p,
    ref,
    name: "x".repeat(256),
    link: false,
    monitor: false,
    args: null,
  }, "name");
  refused({
    tag: Tag.SPAWN_REQUEST,
    from: p,
    ref,
    name: "w",
    link: 1,
    monitor: false,
    args: null,
  }, "link");
  refused({
    tag: Tag.SPAWN_REQUEST,
    from: p,
    ref,
    name: "w",
    link: false,
    monitor: false,
    args: [() => {}],
  }, "args[0]");
  refused({ tag: Tag.SPAWN_REPLY, to: p, ref, ok: "yes", pid: p }, "ok");
  refused({ tag: Tag.SPAWN_REPLY, to: p, ref, ok: true, pid: null }, "pid");
  // A 255-byte name is fine.
  encodeFrame({
    tag: Tag.SEND,
    to: new Pid("é".repeat(127) + "x", 1, 1),
    message: 1,
  }, codec);
});

Deno.test("frames: the message of an unencodable payload says what and where", () => {
  assert.throws(
    () =>
      encodeFrame({
        tag: Tag.SEND,
        to: new Pid("a", 1, 1),
        message: { handler() {} },
      }, codec),
    {
      name: "UnencodableValueError",
      message:
        "Cannot encode message.handler: a function (handler) cannot be sent",
    },
  );
});

Deno.test("FrameWriter: frames of one turn come out in one buffer, in order", () => {
  const w = new FrameWriter(codec);
  assert.equal(w.byteLength, 0);
  for (const [, f] of samples) w.write(f);
  const expected = samples.map(([, f]) => encodeFrame(f, codec));
  const total = expected.reduce((n, b) => n + b.length, 0);
  assert.equal(w.byteLength, total);
  const out = w.take();
  assert.equal(hex(out), expected.map(hex).join(""));
  assert.equal(w.byteLength, 0);
  assert.equal(w.take().length, 0);
});

Deno.test("FrameWriter: a frame that fails to encode leaves nothing behind", () => {
  const w = new FrameWriter(codec);
  const p = new Pid("a", 1, 1);
  w.write({ tag: Tag.TICK });
  const before = w.byteLength;
  assert.throws(() =>
    w.write({
      tag: Tag.SEND,
      to: p,
      message: { big: "x".repeat(100_000), f: () => 1 },
    })
  );
  assert.throws(() =>
    w.write({ tag: Tag.LINK, from: p, to: new Pid("x".repeat(300), 1, 1) })
  );
  assert.equal(w.byteLength, before);
  w.write({ tag: Tag.TICK });
  assert.equal(hex(w.take()), "00000001080000000108");
});

Deno.test("FrameWriter: a frame longer than maxFrameBytes is refused and leaves nothing behind", () => {
  const pid = new Pid("n@h", 1, 1);
  const writer = new FrameWriter(codec, { maxFrameBytes: 100 });
  writer.write({ tag: Tag.SEND, to: pid, message: "x".repeat(50) });
  const before = writer.byteLength;
  assert.throws(
    () => writer.write({ tag: Tag.SEND, to: pid, message: "x".repeat(100) }),
    UnencodableValueError,
  );
  assert.equal(writer.byteLength, before);
  // Exactly at the limit is fine: the length field counts tag and body.
  const exact = encodeFrame({ tag: Tag.SEND, to: pid, message: "" }, codec);
  const fits = new FrameWriter(codec, { maxFrameBytes: exact.length - 4 });
  fits.write({ tag: Tag.SEND, to: pid, message: "" });
  assert.throws(
    () => fits.write({ tag: Tag.SEND, to: pid, message: "a" }),
    /more than the limit of \d+ \(maxFrameBytes\)/,
  );
  for (const bad of [0, -1, 1.5, 2 ** 32, NaN, "16"]) {
    assert.throws(
      () => new FrameWriter(codec, { maxFrameBytes: bad as number }),
      RangeError,
      String(bad),
    );
  }
  assert.throws(() => new FrameWriter(codec, 5 as never), TypeError);
});

Deno.test("FrameWriter: take returns a buffer the writer no longer touches", () => {
  const w = new FrameWriter(codec);
  w.write({ tag: Tag.HANDSHAKE_REFUSE, reason: "one" });
  const first = w.take();
  const copy = first.slice();
  w.write({ tag: Tag.HANDSHAKE_REFUSE, reason: "two" });
  w.take();
  assert.deepStrictEqual(first, copy);
});

Deno.test("frames: a custom Codec without encodeShared is used through encode", () => {
  const json = {
    encode: (v: unknown) => new TextEncoder().encode(JSON.stringify(v)),
    decode: (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)),
  };
  const frame: Frame = {
    tag: Tag.SEND,
    to: new Pid("a", 1, 1),
    message: { x: [1, "y"] },
  };
  assert.deepStrictEqual(decodeFrame(encodeFrame(frame, json), json), frame);
});

Deno.test("FrameWriter: takeView lends its buffer until recycled, then reuses it", () => {
  const w = new FrameWriter(codec);
  w.write({ tag: Tag.TICK });
  const a = w.takeView();
  w.write({ tag: Tag.SEND, to: new Pid("a@h", 1, 1), message: "x" });
  const b = w.takeView();
  assert.notEqual(a.buffer, b.buffer);
  assert.deepEqual([...a], [0, 0, 0, 1, Tag.TICK]);
  w.recycle(new Uint8Array(8)); // not the writer's: ignored
  w.recycle(a);
  w.recycle(a); // twice: ignored
  w.write({ tag: Tag.TICK });
  w.write({ tag: Tag.TICK });
  const c = w.takeView(); // written before the recycle: another buffer
  assert.equal(c.length, 10);
  w.write({ tag: Tag.TICK });
  const d = w.takeView(); // the recycled one
  assert.equal(d.buffer, a.buffer);
  assert.deepEqual([...d], [0, 0, 0, 1, Tag.TICK]);
  assert.equal(b[4], Tag.SEND); // still intact: never recycled
});
