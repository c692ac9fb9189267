// Distribution over TLS (tlsTransport): nodes with certificates from one CA
// connect and keep every rule they keep over TCP; a peer whose certificate
// does not verify, or that speaks no TLS, loses only its own connection
// (D10). The certificates are test fixtures (tests/fixtures/tls/make.sh).
import assert from "node:assert/strict";
import { Crash, Down, Exit, InvalidArgumentError, Pid } from "../mod.ts";
import tls from "node:tls";
import {
  type Connection,
  type Node,
  NodeDown,
  NodeUnreachableError,
  ProtocolError,
  startNode,
  tlsTransport,
  type TlsTransportOptions,
} from "../dist/mod.ts";
import { is, probe } from "./_probe.ts";
import { answersFriend, nodeName, stopBothLoaded } from "./_nodes.ts";
import { within } from "./_util.ts";

const COOKIE = "tls-cookie";
const fixture = (file: string) =>
  Deno.readTextFileSync(new URL(`./fixtures/tls/${file}`, import.meta.url));
const ca = fixture("ca.pem");
const signed = { cert: fixture("node.pem"), key: fixture("node-key.pem"), ca };
const rogue = { cert: fixture("rogue.pem"), key: fixture("rogue-key.pem"), ca };
const elsewhere = {
  cert: fixture("elsewhere.pem"),
  key: fixture("elsewhere-key.pem"),
  ca,
};

function tlsNode(
  base: string,
  options: TlsTransportOptions = signed,
): Promise<Node> {
  return startNode({
    name: nodeName(base),
    cookie: COOKIE,
    transport: tlsTransport(options),
  });
}

/** A node on the signed certificate still reaches `a` and is heard. */
function stillServes(a: Node): Promise<void> {
  return answersFriend(a, () => tlsNode("friend"));
}

Deno.test("TLS: two nodes connect over mutual TLS; messages, a link and a monitor cross, a crash reaches the other node, and a stop its NodeDown", async () => {
  const a = await tlsNode("a");
  const b = await tlsNode("b");
  try {
    await b.connect(a.name, a.address!);
    assert.deepEqual(a.nodes(), [b.name]);
    const target = await probe(a.runtime);
    const watcher = await probe(b.runtime, { trapExit: true });
    watcher.proc.link(target.pid);
    const ref = watcher.proc.monitor(target.pid);
    b.monitorNode(watcher.pid, a.name);
    watcher.proc.send(target.pid, { from: watcher.pid, text: "over TLS" });
    const got = await target.next<{ text: string }>();
    assert.equal(got.text, "over TLS");
    a.runtime.send(watcher.pid, "and back");
    assert.equal(await watcher.next(), "and back");

    a.runtime.exit(target.pid, new Crash("Error", "boom"));
    const exit = await watcher.next<Exit>(is(Exit));
    assert.ok(exit.from.equals(target.pid));
    assert.ok(exit.reason instanceof Crash);
    assert.equal(exit.reason.message, "boom");
    const down = await watcher.next<Down>(is(Down));
    assert.ok(down.ref.equals(ref));

    await a.stop();
    const nodeDown = await watcher.next<NodeDown>(is(NodeDown));
    assert.equal(nodeDown.node, a.name);
    assert.deepEqual(b.nodes(), []);
    assert.deepEqual(watcher.seen, []);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

Deno.test("TLS: D10: a node whose certificate does not chain to the CA is refused, either way round, and the node goes on serving", async () => {
  const a = await tlsNode("a");
  const intruder = await tlsNode("intruder", rogue);
  try {
    // It dials a: a asks for its certificate and refuses it.
    await assert.rejects(
      intruder.connect(a.name, a.address!),
      NodeUnreachableError,
    );
    // a dials it: a refuses the certificate it shows.
    const error = await a.connect(intruder.name, intruder.address!).then(
      () => assert.fail("a accepted an untrusted certificate"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof NodeUnreachableError, String(error));
    assert.match(String((error.cause as Error)?.message), /certificate/i);
    assert.deepEqual(a.nodes(), []);
    assert.deepEqual(intruder.nodes(), []);
    await stillServes(a);
  } finally {
    await Promise.all([a.stop(), intruder.stop()]);
  }
});

Deno.test("TLS: a certificate for another name than the address dialled is refused", async () => {
  const a = await tlsNode("a");
  const misnamed = await tlsNode("misnamed", elsewhere);
  try {
    const error = await a.connect(misnamed.name, misnamed.address!).then(
      () => assert.fail("a accepted a certificate for another name"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof NodeUnreachableError, String(error));
    assert.match(String((error.cause as Error)?.message), /127\.0\.0\.1/);
    assert.deepEqual(a.nodes(), []);
  } finally {
    await Promise.all([a.stop(), misnamed.stop()]);
  }
});

Deno.test("TLS: with verifyClient off, a node accepts one whose certificate it cannot verify; that node still checks the acceptor's", async () => {
  const a = await tlsNode("a", { ...signed, verifyClient: false });
  const other = await tlsNode("other", rogue);
  try {
    await other.connect(a.name, a.address!);
    assert.deepEqual(a.nodes(), [other.name]);
    const inbox = await probe(a.runtime);
    other.runtime.send(inbox.pid, "unverified, but with the cookie");
    assert.equal(await inbox.next(), "unverified, but with the cookie");
  } finally {
    await Promise.all([a.stop(), other.stop()]);
  }
});

Deno.test("TLS: D10: plain bytes, and a TLS handshake that never finishes, cost only their own connections, and are told to onRefused; a node stopped meanwhile leaves nothing behind", async () => {
  const refused: string[] = [];
  const a = await tlsNode("a", {
    ...signed,
    onRefused: (error) => {
      refused.push(error.message);
      throw new Error("a callback that throws changes nothing");
    },
  });
  try {
    const port = a.address!.port;
    // Not TLS at all: a drops it.
    const plain = await Deno.connect({ hostname: "127.0.0.1", port });
    await plain.write(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
    const buf = new Uint8Array(1024);
    while ((await plain.read(buf).catch(() => null)) !== null) { /* drain */ }
    plain.close();
    await stillServes(a);
    assert.equal(refused.length, 1, "the plain connection was refused");
    // Silent after connecting: stopping a ends it.
    const silent = await Deno.connect({ hostname: "127.0.0.1", port });
    await stillServes(a);
    await a.stop();
    assert.equal(await silent.read(buf).catch(() => null), null);
    silent.close();
  } finally {
    await a.stop();
  }
});

Deno.test("TLS: a connection that never starts its TLS handshake is dropped after handshakeTimeout", async () => {
  const refused: string[] = [];
  const a = await tlsNode("a", {
    ...signed,
    handshakeTimeout: 200,
    onRefused: (error) => void refused.push(error.message),
  });
  try {
    const silent = await Deno.connect({
      hostname: "127.0.0.1",
      port: a.address!.port,
    });
    const t0 = performance.now();
    const n = await within(
      silent.read(new Uint8Array(64)).catch(() => null),
      "the silent connection dropped",
      3_000,
    );
    silent.close();
    assert.equal(n, null);
    assert.ok(performance.now() - t0 >= 150, "not before the timeout");
    assert.deepEqual(refused, ["TLS handshake timed out after 200 ms"]);
  } finally {
    await a.stop();
  }
});

Deno.test("TLS: a 4 MiB message and 20 000 small ones cross intact and in order", async () => {
  const a = await tlsNode("a");
  const b = await tlsNode("b");
  try {
    await b.connect(a.name, a.address!);
    const big = new Uint8Array(4 << 20);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i >> 12) & 0xff;
    const done = Promise.withResolvers<{ big: Uint8Array; order: boolean }>();
    const sink = a.runtime.spawn(async (proc) => {
      const got = await proc.receive() as Uint8Array;
      let order = true;
      for (let i = 0; i < 20_000; i++) {
        if (await proc.receive() !== i) order = false;
      }
      done.resolve({ big: got, order });
    });
    b.runtime.spawn((proc) => {
      proc.send(sink, big);
      for (let i = 0; i < 20_000; i++) proc.send(sink, i);
    });
    const { big: got, order } = await done.promise;
    assert.equal(got.length, big.length);
    assert.ok(got.every((x, i) => x === big[i]), "the bytes arrived intact");
    assert.ok(order, "the small ones arrived in order");
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

Deno.test("TLS: bad options are InvalidArgumentErrors naming the option", () => {
  const bad: [unknown, string][] = [
    [undefined, "options"],
    [{ key: signed.key }, "cert"],
    [{ cert: signed.cert, key: "not a key" }, "key"],
    [{ ...signed, ca: 42 }, "ca"],
    [{ ...signed, ca: [ca, 42] }, "ca[1]"],
    [{ ...signed, verifyClient: "yes" }, "verifyClient"],
    [{ ...signed, handshakeTimeout: -1 }, "handshakeTimeout"],
    [{ ...signed, onRefused: "log" }, "onRefused"],
  ];
  for (const [options, argument] of bad) {
    assert.throws(
      () => tlsTransport(options as TlsTransportOptions),
      (e: unknown) =>
        e instanceof InvalidArgumentError && e.argument === argument,
      argument,
    );
  }
});

/** A connected pair of tlsTransport connections, and their listener. */
async function connectionPair() {
  const transport = tlsTransport(signed);
  const listener = await transport.listen({ host: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    transport.connect(listener.addr),
    listener.accept(),
  ]);
  return { listener, client, server: server! };
}

/** Reads `conn` to its end; resolves with the bytes and whether each byte was `byte(i)`. */
async function readAll(
  conn: Connection,
  byte: (i: number) => number,
): Promise<{ total: number; intact: boolean }> {
  const buf = new Uint8Array(100_000);
  let total = 0;
  let intact = true;
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) return { total, intact };
    for (let i = 0; i < n; i++) if (buf[i] !== byte(total + i)) intact = false;
    total += n;
  }
}

const pattern = (i: number) => (i * 7) & 0xff;
const patterned = (n: number) =>
  Uint8Array.from({ length: n }, (_, i) => pattern(i));

Deno.test("TLS: what is written before close arrives whole, then the end, however far the reader is behind (4 MiB is one window)", async () => {
  for (const size of [300_000, 3_000_000, 10_000_000]) {
    const { listener, client, server } = await connectionPair();
    try {
      const reading = readAll(server, pattern);
      await client.write(patterned(size));
      client.close();
      assert.deepEqual(await reading, { total: size, intact: true }, `${size}`);
    } finally {
      client.close();
      server.close();
      listener.close();
    }
  }
});

Deno.test("TLS: a writer waits while its peer does not read, a window ahead at most, and goes on once it does", async () => {
  const { listener, client, server } = await connectionPair();
  try {
    let settled = false;
    const writing = client.write(patterned(16 << 20)).finally(() =>
      settled = true
    );
    // Nothing settles a write the peer has no room for: only time shows it.
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(settled, false, "the write waits for the reader");
    const reading = readAll(server, pattern);
    await writing;
    client.close();
    assert.deepEqual(await reading, { total: 16 << 20, intact: true });
  } finally {
    client.close();
    server.close();
    listener.close();
  }
});

Deno.test("TLS: D7: a node that sends a message larger than a window and stops is seen to go at once", async () => {
  const a = await tlsNode("a");
  const b = await tlsNode("b");
  try {
    await b.connect(a.name, a.address!);
    const watcher = await probe(a.runtime);
    a.monitorNode(watcher.pid, b.name);
    b.runtime.send(watcher.pid, new Uint8Array(6 << 20));
    await b.stop();
    assert.equal((await watcher.next<Uint8Array>()).length, 6 << 20);
    const down = await watcher.next<NodeDown>(is(NodeDown));
    assert.equal(down.node, b.name);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

Deno.test("TLS: D10: a peer that breaks the record framing inside TLS loses its connection with a protocol error; the node goes on serving", async () => {
  const refused: unknown[] = [];
  const a = await startNode({
    name: nodeName("a"),
    cookie: COOKIE,
    transport: tlsTransport(signed),
    logger: {
      error: () => {},
      warn: (_: string, data?: Record<string, unknown>) =>
        void refused.push(data?.error),
    },
  });
  try {
    const records = [
      new Uint8Array([0x07, 0, 0, 0, 1, 0]), // an unknown record type
      new Uint8Array([0x00, 0, 0, 0, 0]), // an empty data record
      new Uint8Array([0x00, 0, 0x10, 0, 1]), // a data record over 1 MiB
      new Uint8Array([0x01, 0, 0x40, 0, 1]), // credit beyond a window
    ];
    for (const bad of records) {
      const socket = tls.connect({
        host: "127.0.0.1",
        port: a.address!.port,
        ca,
        cert: signed.cert,
        key: signed.key,
      });
      const closed = new Promise((resolve) => socket.once("close", resolve));
      socket.on("error", () => {});
      socket.on("data", () => {}); // flowing, or it would not see the end
      await new Promise((resolve) => socket.once("secureConnect", resolve));
      socket.write(bad);
      await closed;
    }
    await stillServes(a);
    assert.equal(refused.length, records.length);
    for (const error of refused) {
      assert.ok(error instanceof ProtocolError, String(error));
      assert.match(error.message, /TLS stream: bad record/);
    }
  } finally {
    await a.stop();
  }
});

Deno.test("TLS: S1: a node stopped while a peer that completed TLS says nothing stops at once, and leaves no socket or timer behind", async () => {
  const a = await startNode({
    name: nodeName("a"),
    cookie: COOKIE,
    transport: tlsTransport(signed),
    handshakeTimeout: 200,
  });
  // Completes TLS, then neither speaks nor reads.
  const mute = tls.connect({
    host: "127.0.0.1",
    port: a.address!.port,
    ca,
    cert: signed.cert,
    key: signed.key,
  });
  mute.on("error", () => {});
  try {
    await new Promise((resolve) => mute.once("secureConnect", resolve));
    const t0 = performance.now();
    await within(a.stop(), "a.stop()", 5_000);
    assert.ok(performance.now() - t0 < 4_000);
  } finally {
    mute.destroy();
    await a.stop();
  }
});

/**
 * A tlsTransport listener with a raw `node:tls` peer connected to it, and
 * the connection the listener accepted. The peer reads what comes (and
 * ignores it) unless `reads` is false; `dispose` ends both.
 */
async function rawPeer(reads = true) {
  const listener = await tlsTransport(signed).listen({
    host: "127.0.0.1",
    port: 0,
  });
  const raw = tls.connect({
    host: "127.0.0.1",
    port: listener.addr.port,
    ...signed,
  });
  raw.on("error", () => {});
  if (reads) raw.on("data", () => {});
  const rawClosed = new Promise((resolve) => raw.once("close", resolve));
  const dispose = () => {
    raw.destroy();
    listener.close();
  };
  try {
    await new Promise((resolve) => raw.once("secureConnect", resolve));
    const conn = (await listener.accept())!;
    return { raw, rawClosed, conn, dispose };
  } catch (error) {
    dispose();
    throw error;
  }
}

Deno.test("TLS: a close whose last bytes cannot leave (the peer reads nothing) gives up after a grace period; closed then resolves, and nothing is left behind", async () => {
  // The peer reads nothing, so what is sent to it stays queued.
  const { conn, dispose } = await rawPeer(false);
  try {
    await conn.write(new Uint8Array(3 << 20));
    conn.close();
    await within(conn.closed!, "closed", 5_000);
  } finally {
    dispose();
  }
});

Deno.test("TLS: records of every size, tiny ones by the hundred thousand, arrive in order and whole", async () => {
  const { raw, conn, dispose } = await rawPeer();
  try {
    // 100 000 one-byte records, then records of 1 to 5 000 bytes (some
    // packed, some kept as views): 3.7 MB in all, within one window.
    const sizes = [
      ...Array.from({ length: 100_000 }, () => 1),
      ...Array.from({ length: 1_500 }, (_, i) => 1 + (i * 337) % 5_000),
    ];
    const total = sizes.reduce((x, y) => x + y, 0);
    const wire = new Uint8Array(sizes.length * 5 + total);
    let at = 0;
    let offset = 0;
    for (const n of sizes) {
      wire.set(
        [0x00, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff],
        at,
      );
      at += 5;
      for (let i = 0; i < n; i++) wire[at++] = pattern(offset++);
    }
    raw.write(wire);
    const buf = new Uint8Array(50_000);
    let got = 0;
    let intact = true;
    while (got < total) {
      const n = await conn.read(buf);
      if (n === null) break;
      for (let i = 0; i < n; i++) {
        if (buf[i] !== pattern(got + i)) intact = false;
      }
      got += n;
    }
    assert.deepEqual({ got, intact }, { got: total, intact: true });
    conn.close();
    await conn.closed;
  } finally {
    dispose();
  }
});

Deno.test("TLS: D10: a peer that sends beyond the credit it was given loses its connection, and nothing of the excess is read", async () => {
  const { raw, rawClosed, conn, dispose } = await rawPeer();
  try {
    // A window of 4 MiB, unread, then 10 bytes more.
    for (let i = 0; i < 4; i++) {
      const record = new Uint8Array(5 + (1 << 20));
      record.set([0x00, 0x00, 0x10, 0x00, 0x00]);
      raw.write(record);
    }
    raw.write(new Uint8Array([0x00, 0, 0, 0, 10, ...new Uint8Array(10)]));
    await rawClosed; // the excess ended the connection
    await assert.rejects(conn.read(new Uint8Array(1 << 20)), ProtocolError);
    conn.close();
    await conn.closed;
  } finally {
    dispose();
  }
});

Deno.test("TLS: S1: two nodes stopped at once, each with more queued for the other than its credit allows, both stop", async () => {
  const a = await tlsNode("a");
  const b = await tlsNode("b");
  await b.connect(a.name, a.address!);
  await stopBothLoaded(a, b, 12);
});

Deno.test("TLS: S1: a stopping node writes all it has queued to a peer that keeps reading, however long that takes, and the exit signals after it", async () => {
  // A tick time of 1.6 s: a drain that moved nothing for 400 ms would give
  // up; 160 MiB over TLS takes longer than that (0.5-0.7 s here), but keeps
  // moving. (With 100 ms, a starved host failed it now and then.)
  const options = { cookie: COOKIE, tickTime: 1_600 };
  const a = await startNode({
    name: nodeName("a"),
    ...options,
    transport: tlsTransport(signed),
  });
  const b = await startNode({
    name: nodeName("b"),
    ...options,
    transport: tlsTransport(signed),
  });
  try {
    await b.connect(a.name, a.address!);
    let received = 0;
    const sink = b.runtime.spawn(async (proc) => {
      for (;;) {
        await proc.receive();
        received++;
      }
    });
    const watcher = await probe(b.runtime, { trapExit: true });
    const linked = a.runtime.spawn(async (proc) => {
      for (;;) {
        const from = await proc.receive();
        if (from instanceof Pid) proc.send(from, "linked");
      }
    });
    watcher.proc.link(linked);
    // The answer comes after the link has reached a (D5).
    watcher.proc.send(linked, watcher.pid);
    assert.equal(await watcher.next(), "linked");
    for (let i = 0; i < 160; i++) {
      a.runtime.send(sink, new Uint8Array(1 << 20));
    }
    await within(a.stop(), "a.stop()", 30_000);
    const exit = await watcher.next<Exit>(is(Exit));
    assert.ok(exit.from.equals(linked));
    assert.equal(exit.reason, "shutdown");
    assert.equal(received, 160);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});
