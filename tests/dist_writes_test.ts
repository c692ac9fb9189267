// How a session groups frames into writes (docs/protocol.md, "Writes"): a
// message leaves at once with what was queued before it, and what is queued
// while a write is in flight leaves together in the next one. Observed by
// recording the writes of the dialing node's connection. And how its reads
// wait for the processes they woke ("Reads").
import assert from "node:assert/strict";
import { type Pid, Runtime } from "../actor/mod.ts";
import { startNode, tcpTransport, type Transport } from "../dist/mod.ts";
import { FrameDecoder, MsgpackCodec, Tag } from "../wire/mod.ts";
import { idle } from "./_util.ts";

/** TCP, with every write of dialled connections recorded as its frames' tags. */
function recordingTransport(): { transport: Transport; writes: number[][] } {
  const tcp = tcpTransport();
  const writes: number[][] = [];
  const decoder = new FrameDecoder(new MsgpackCodec());
  return {
    writes,
    transport: {
      listen: (addr) => tcp.listen(addr),
      async connect(addr) {
        const conn = await tcp.connect(addr);
        return {
          remoteAddr: conn.remoteAddr,
          read: (buffer) => conn.read(buffer),
          close: () => conn.close(),
          write(bytes) {
            decoder.writable(bytes.length).set(bytes);
            decoder.commit(bytes.length);
            const tags: number[] = [];
            for (let f = decoder.next(); f !== undefined; f = decoder.next()) {
              tags.push(f.tag);
            }
            writes.push(tags);
            return conn.write(bytes);
          },
        };
      },
    },
  };
}

Deno.test("writes: a MONITOR and a message queued in one turn leave in one write; a burst of messages in at most two", async () => {
  const { transport, writes } = recordingTransport();
  await using a = await startNode({
    runtime: new Runtime({ node: "wa@127.0.0.1" }),
    cookie: "c",
    transport,
  });
  await using b = await startNode({ name: "wb@127.0.0.1", cookie: "c" });
  const target = b.runtime.spawn(idle);
  const first = Promise.withResolvers<void>();
  const rest = Promise.withResolvers<void>();
  let got = 0;
  const counter: Pid = b.runtime.spawn(async (proc) => {
    for (;;) {
      await proc.receive();
      if (++got === 1) first.resolve();
      if (got === 101) rest.resolve();
    }
  });
  const echo = b.runtime.spawn(async (proc) => {
    for (;;) {
      const from = await proc.receive() as Pid;
      proc.send(from, "back");
    }
  });
  await a.connect(b.name, b.address!);
  // A round trip first: the handshake's writes are done by its end.
  const back = Promise.withResolvers<void>();
  a.runtime.spawn(async (proc) => {
    proc.send(echo, proc.self);
    await proc.receive();
    back.resolve();
  });
  await back.promise;
  const handshake = writes.length;
  // One turn: a monitor and a message (and the process stays, so no
  // DEMONITOR follows).
  a.runtime.spawn((proc) => {
    proc.monitor(target);
    proc.send(counter, "first");
    return idle(proc);
  });
  await first.promise;
  // Another, once that has arrived: a burst of 100 messages.
  a.runtime.spawn((proc) => {
    for (let i = 0; i < 100; i++) proc.send(counter, i);
    return Promise.resolve();
  });
  await rest.promise;
  const after = writes.slice(handshake).filter((tags) =>
    !(tags.length === 1 && tags[0] === Tag.TICK)
  );
  assert.deepEqual(after[0], [Tag.MONITOR, Tag.SEND]);
  // The first message leaves at once (alone, unless the last write was still
  // in flight), the rest together once that write is done.
  const burst = after.slice(1);
  assert.ok(burst.length <= 2, `${burst.length} writes`);
  assert.equal(burst.flat().length, 100);
  assert.ok(burst.flat().every((tag) => tag === Tag.SEND));
  await a.runtime.shutdown();
  await b.runtime.shutdown();
});

Deno.test("reads: a flood from another node waits in the socket, not in the mailbox", async () => {
  await using a = await startNode({ name: "fa@127.0.0.1", cookie: "c" });
  await using b = await startNode({ name: "fb@127.0.0.1", cookie: "c" });
  const n = 40_000;
  const done = Promise.withResolvers<number>();
  const sink = b.runtime.spawn(async (proc) => {
    let deepest = 0;
    for (let i = 0; i < n; i++) {
      await proc.receive();
      deepest = Math.max(deepest, proc.mailboxLength);
    }
    done.resolve(deepest);
  });
  await a.connect(b.name, b.address!);
  for (let i = 0; i < n; i++) a.runtime.send(sink, { i });
  const deepest = await done.promise;
  // Reads stop while the frames of the last one are still queued: the
  // mailbox holds a few reads' worth (64 KiB of ~20-byte frames each), not
  // the whole flood.
  assert.ok(deepest < n / 4, `the mailbox was ${deepest} deep`);
});

Deno.test("transport: over TCP, bytes round-trip, a large write arrives whole, and a read pending at close settles", async () => {
  const tcp = tcpTransport();
  const listener = await tcp.listen({ host: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const client = await tcp.connect(listener.addr);
  const server = (await accepted)!;
  try {
    // 4 MiB: more than one socket write takes, so the rest is written too.
    const big = new Uint8Array(4 << 20).map((_, i) => i * 7);
    const writing = client.write(big);
    const got = new Uint8Array(big.length);
    const buf = new Uint8Array(256 * 1024);
    for (let off = 0; off < got.length;) {
      const n = await server.read(buf);
      assert.ok(n !== null && n > 0);
      got.set(buf.subarray(0, n), off);
      off += n;
    }
    await writing;
    assert.deepEqual(got, big);
    // Close with a read pending: it resolves null or rejects, and never hangs.
    const pending = server.read(buf).then((n) => n, () => "rejected");
    server.close();
    const settled = await pending;
    assert.ok(settled === null || settled === "rejected", String(settled));
    assert.equal(await server.read(buf), null, "a read after close is null");
  } finally {
    client.close();
    server.close();
    listener.close();
  }
});
