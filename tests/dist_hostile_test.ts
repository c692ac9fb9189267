// D10: hostile peers. Each test feeds a node bad bytes over a raw socket and
// checks that only that connection is dropped, the error is logged, and the
// node keeps serving everyone else.
import assert from "node:assert/strict";
import { Down, Exit, ManualClock, Pid, Ref } from "../mod.ts";
import {
  type Node,
  NodeDown,
  NodeUp,
  startNode,
  tcpTransport,
  type Transport,
} from "../dist/mod.ts";
import {
  encodeFrame,
  FrameDecoder,
  FrameTooLargeError,
  MsgpackCodec,
  Tag,
} from "../wire/mod.ts";
import { is, probe } from "./_probe.ts";
import { rawPeer } from "./_raw_peer.ts";
import { within } from "./_util.ts";
import { answersFriend } from "./_nodes.ts";

const COOKIE = "hostile-test";
let seq = 0;

function recordingLogger() {
  const lines: string[] = [];
  return {
    lines,
    logger: {
      error: (m: string) => void lines.push(`error: ${m}`),
      warn: (m: string) => void lines.push(`warn: ${m}`),
    },
  };
}

/** Sends `bytes` on a raw socket and waits for the node to close it. */
async function sendRaw(port: number, bytes: Uint8Array): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(bytes).catch(() => {});
    const buf = new Uint8Array(1024);
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return;
    }
  } finally {
    conn.close();
  }
}

/** After the bad input, a well-behaved node still connects and talks. */
function stillServes(node: Node): Promise<void> {
  return answersFriend(
    node,
    () => startNode({ name: `friend${++seq}@127.0.0.1`, cookie: COOKIE }),
  );
}

const cases: [string, Uint8Array][] = [
  ["garbage", new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
  ["an oversized length", new Uint8Array([0xff, 0xff, 0xff, 0xf0, 0x10])],
  ["an unknown tag", new Uint8Array([0, 0, 0, 1, 0x7f])],
  ["a zero-length frame", new Uint8Array([0, 0, 0, 0])],
  [
    "a frame before the handshake",
    encodeFrame({ tag: Tag.TICK }, new MsgpackCodec()),
  ],
];

for (const [what, bytes] of cases) {
  Deno.test(`D10: ${what} from a raw socket drops that connection only`, async () => {
    const { lines, logger } = recordingLogger();
    await using node = await startNode({
      name: `n${++seq}@127.0.0.1`,
      cookie: COOKIE,
      logger,
    });
    await sendRaw(node.address!.port, bytes);
    assert.ok(lines.some((l) => l.includes("Refused")), Deno.inspect(lines));
    await stillServes(node);
  });
}

Deno.test("D10: random bytes never take the node down", async () => {
  const { logger } = recordingLogger();
  await using node = await startNode({
    name: `r${++seq}@127.0.0.1`,
    cookie: COOKIE,
    logger,
  });
  let state = 0x9e3779b9;
  const rand = () => (state = (state * 1664525 + 1013904223) >>> 0);
  for (let i = 0; i < 20; i++) {
    const bytes = new Uint8Array(1 + (rand() % 200)).map(() => rand() & 0xff);
    await sendRaw(node.address!.port, bytes);
  }
  await stillServes(node);
});

Deno.test("D10: a malformed frame after the handshake closes that connection with a protocol error and runs D7", async () => {
  const { lines, logger } = recordingLogger();
  await using node = await startNode({
    name: `v${++seq}@127.0.0.1`,
    cookie: COOKIE,
    logger,
  });
  const watcher = await probe(node.runtime, { trapExit: true });
  const events: NodeDown[] = [];
  node.onNodeEvent((e) => e instanceof NodeDown && events.push(e));
  // A peer that passes the handshake, then misbehaves.
  const evil = await rawPeer(node, `evil${seq}@127.0.0.1`, COOKIE);
  try {
    // A link from one of its processes, so D7 has something to fire.
    const evilPid = evil.pid(1);
    await evil.write({ tag: Tag.LINK, from: evilPid, to: watcher.pid });
    // A SEND whose body is cut short.
    await evil.writeBytes(new Uint8Array([0, 0, 0, 3, Tag.SEND, 0x01, 0x05]));
    const exit = await watcher.next<Exit>(is(Exit));
    assert.equal(exit.reason, "noconnection");
    assert.ok(exit.from.equals(evilPid));
    assert.equal(events.length, 1);
    assert.equal(events[0]!.reason, "protocol_error");
    assert.ok(
      lines.some((l) => l.startsWith("error: Protocol error")),
      Deno.inspect(lines),
    );
    // The node closed the socket.
    while ((await evil.next()) !== null) { /* drain what it sent */ }
  } finally {
    evil.close();
  }
  await stillServes(node);
});

/**
 * A node and a raw peer that has passed the handshake as `<base><n>@127.0.0.1`:
 * the socket can then send frames no real node would. `ended` settles with
 * the node's NodeDown for it (rejecting after 5 s, a safety net only).
 */
async function forgingPeer(base: string) {
  const { logger } = recordingLogger();
  const node = await startNode({
    name: `w${++seq}@127.0.0.1`,
    cookie: COOKIE,
    logger,
  });
  const ended = Promise.withResolvers<NodeDown>();
  node.onNodeEvent((e) => e instanceof NodeDown && ended.resolve(e));
  const timer = setTimeout(
    () => ended.reject(new Error("no NodeDown within 5 s")),
    5_000,
  );
  const raw = await rawPeer(node, `${base}${seq}@127.0.0.1`, COOKIE);
  return {
    node,
    pid: raw.pid,
    ended: ended.promise,
    write: raw.write,
    [Symbol.asyncDispose]: async () => {
      clearTimeout(timer);
      raw.close();
      await node.stop();
    },
  };
}

Deno.test("D10: a peer speaking for another node's pids is a protocol error", async () => {
  await using peer = await forgingPeer("liar");
  const target = await probe(peer.node.runtime);
  await peer.write({
    tag: Tag.EXIT2,
    from: new Pid("third@host", 1, 1),
    to: target.pid,
    reason: "kill",
  });
  assert.equal((await peer.ended).reason, "protocol_error");
  assert.ok(
    peer.node.runtime.isAlive(target.pid),
    "the forged exit signal was not applied",
  );
});

Deno.test("D10: a MONITOR with a ref of the receiving node is a protocol error; local monitors keep their Down", async () => {
  await using peer = await forgingPeer("forger");
  const { runtime } = peer.node;
  const target = await probe(runtime);
  const watcher = await probe(runtime);
  const ref = watcher.proc.monitor(target.pid);
  // The same ref, forged: it would replace the local watcher's entry.
  await peer.write({
    tag: Tag.MONITOR,
    from: peer.pid(1),
    to: target.pid,
    ref,
  });
  assert.equal((await peer.ended).reason, "protocol_error");
  runtime.exit(target.pid, "gone");
  const down = await watcher.next<Down>(is(Down));
  assert.ok(down.ref.equals(ref));
  assert.equal(down.reason, "gone");
});

Deno.test("D10: a LINK_NAME_REPLY with a pid of another node is a protocol error; a process waiting on it gets noconnection", async () => {
  await using peer = await forgingPeer("namer");
  const { runtime } = peer.node;
  const linker = await probe(runtime, { trapExit: true });
  const peerName = peer.pid(1).node;
  linker.proc.link(["svc", peerName]); // LINK_NAME to the raw peer
  // The ref is unknown to the raw peer, but the pid is checked first.
  await peer.write({
    tag: Tag.LINK_NAME_REPLY,
    ref: new Ref(runtime.node, 1, runtime.creation),
    pid: new Pid("third@host", 1, 1),
  });
  assert.equal((await peer.ended).reason, "protocol_error");
  const exit = await linker.next<Exit>(is(Exit));
  assert.equal(exit.reason, "noconnection");
  assert.deepEqual(runtime.processInfo(linker.pid)!.links, []);
});

Deno.test("D10: before the handshake, a frame declaring more than 4 KiB is refused at once, and a handshake still works", async () => {
  const refused = Promise.withResolvers<unknown>();
  await using node = await startNode({
    name: `n${++seq}@127.0.0.1`,
    cookie: COOKIE,
    // Far beyond the test's wait: only the frame limit can end it in time.
    handshakeTimeout: 60_000,
    logger: {
      error: () => {},
      warn: (_m: string, details?: Record<string, unknown>) =>
        refused.resolve(details?.error),
    },
  });
  // A header declaring 1 MiB (under the node's 16 MiB) and one byte of it:
  // before, the node reserved the whole MiB and waited for the rest.
  await within(
    sendRaw(node.address!.port, new Uint8Array([0, 0x10, 0, 0, Tag.SEND])),
    "the node to close the connection",
    5_000,
  );
  const error = await refused.promise;
  assert.ok(error instanceof FrameTooLargeError, Deno.inspect(error));
  assert.equal(error.maxFrameBytes, 4096);
  await stillServes(node);
});

/** TCP, except that the listener's first `failures` accepts throw. */
function failingAccepts(failures: number, error: Error): Transport {
  const tcp = tcpTransport();
  return {
    connect: (addr) => tcp.connect(addr),
    async listen(addr) {
      const listener = await tcp.listen(addr);
      let left = failures;
      return {
        addr: listener.addr,
        accept: () => left-- > 0 ? Promise.reject(error) : listener.accept(),
        close: () => listener.close(),
      };
    },
  };
}

Deno.test("D10: a listener whose accepts fail (out of file descriptors) is tried again, and the node keeps accepting", async () => {
  const { lines, logger } = recordingLogger();
  await using node = await startNode({
    name: `n${++seq}@127.0.0.1`,
    cookie: COOKIE,
    logger,
    transport: failingAccepts(
      4,
      new Error("Too many open files (os error 24)"),
    ),
  });
  await stillServes(node);
  assert.deepEqual(lines, [
    "error: Accepting a connection failed; trying again",
    "warn: Accepting connections again",
  ]);
});

Deno.test("D10: a node whose listener keeps failing still stops at once, its retry pause cut short", async () => {
  const { lines, logger } = recordingLogger();
  const logged = Promise.withResolvers<void>();
  const node = await startNode({
    name: `n${++seq}@127.0.0.1`,
    cookie: COOKIE,
    // Its timers never fire: only stop can end the accept loop's pause.
    clock: new ManualClock(),
    logger: {
      ...logger,
      error: (m: string) => {
        logger.error(m);
        logged.resolve();
      },
    },
    transport: failingAccepts(Infinity, new Error("broken listener")),
  });
  await within(logged.promise, "the failed accept to be logged", 5_000);
  // The accept loop is pausing before it tries again.
  await within(node.stop(), "the node to stop", 1_000);
  assert.deepEqual(lines, [
    "error: Accepting a connection failed; trying again",
  ]);
});

/** The JSON lines a child process prints, one at a time. */
function jsonLines(stream: ReadableStream<Uint8Array>) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  const queued: string[] = [];
  let rest = "";
  return {
    async next(): Promise<Record<string, unknown>> {
      for (;;) {
        const line = queued.shift();
        if (line !== undefined) return JSON.parse(line);
        const { value, done } = await reader.read();
        if (done) throw new Error("the child closed its stdout");
        const parts = (rest + value).split("\n");
        rest = parts.pop()!;
        queued.push(...parts.filter((p) => p.length > 0));
      }
    },
    cancel: () => reader.cancel(),
  };
}

Deno.test("D10: a flood of connections that runs a node out of file descriptors leaves it accepting once the flood has gone", async () => {
  // A child node may open 64 files; 120 connections that never handshake
  // take every descriptor it has left, and its accepts fail (EMFILE).
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'ulimit -n 64 && exec "$0" run --allow-net=127.0.0.1 "$1" "$2"',
      Deno.execPath(),
      new URL("./fixtures/few_fds_node.ts", import.meta.url).pathname,
      COOKIE,
    ],
    stdout: "piped",
    stderr: "null",
    env: { DENO_NO_UPDATE_CHECK: "1" },
  }).spawn();
  const lines = jsonLines(child.stdout);
  const flood: Deno.Conn[] = [];
  try {
    const { port } = await within(lines.next(), "the child to listen", 10_000);
    assert.equal(typeof port, "number");
    for (let i = 0; i < 120; i++) {
      flood.push(
        await Deno.connect({ hostname: "127.0.0.1", port: port as number }),
      );
    }
    for (;;) {
      const line = await within(lines.next(), "the failed accept", 10_000);
      if (line.level === "error") {
        assert.equal(
          line.message,
          "Accepting a connection failed; trying again",
        );
        break;
      }
    }
    for (const conn of flood.splice(0)) conn.close();
    await using friend = await startNode({
      name: `friend${++seq}@127.0.0.1`,
      cookie: COOKIE,
    });
    const inbox = await probe(friend.runtime);
    await within(
      friend.connect("few_fds@127.0.0.1", {
        host: "127.0.0.1",
        port: port as number,
      }),
      "the connection after the flood",
      10_000,
    );
    friend.runtime.send(["pong", "few_fds@127.0.0.1"], { from: inbox.pid });
    assert.equal(await inbox.next(), "pong");
  } finally {
    for (const conn of flood) conn.close();
    try {
      child.kill("SIGKILL");
    } catch { /* it has exited already: its status says how */ }
    const status = await child.status;
    await lines.cancel();
    assert.equal(status.signal, "SIGKILL", "the child ran until killed");
  }
});

Deno.test("D10: a peer list entry with an address no node could listen on is ignored with a warning; the rest of the list is used", async () => {
  const { lines, logger } = recordingLogger();
  const dialled: string[] = [];
  const tcp = tcpTransport();
  const recording: Transport = {
    listen: (address) => tcp.listen(address),
    connect: (address, options) => {
      dialled.push(`${address.host}:${address.port}`);
      return tcp.connect(address, options);
    },
  };
  await using node = await startNode({
    name: `pl${++seq}@127.0.0.1`,
    cookie: COOKIE,
    logger,
    transport: recording,
  });
  await using good = await startNode({
    name: `good${seq}@127.0.0.1`,
    cookie: COOKIE,
  });
  const up = new Promise<void>((resolve) =>
    node.onNodeEvent((e) => {
      if (e instanceof NodeUp && e.node === good.name) resolve();
    })
  );
  const evil = await rawPeer(node, `plevil${seq}@127.0.0.1`, COOKIE);
  try {
    await evil.write({
      tag: Tag.PEER_LIST,
      peers: [
        { name: `sp${seq}@127.0.0.1`, host: "evil host", port: 4000 },
        { name: `nl${seq}@127.0.0.1`, host: "a\nb", port: 4000 },
        { name: `em${seq}@127.0.0.1`, host: "", port: 4000 },
        { name: `p0${seq}@127.0.0.1`, host: "127.0.0.1", port: 0 },
        { name: good.name, host: "127.0.0.1", port: good.address!.port },
      ],
    });
    await within(up, "the good entry is dialled", 5_000);
  } finally {
    evil.close();
  }
  const warned = lines.filter((l) => l.includes("cannot be dialled"));
  assert.equal(warned.length, 4, Deno.inspect(lines));
  assert.deepEqual(dialled, [`127.0.0.1:${good.address!.port}`]);
  assert.ok(node.nodes().includes(good.name));
});

Deno.test("D10: a handshake under an empty node name is refused, saying so", async () => {
  const { logger } = recordingLogger();
  await using node = await startNode({
    name: `en${++seq}@127.0.0.1`,
    cookie: COOKIE,
    logger,
  });
  const codec = new MsgpackCodec();
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: node.address!.port,
  });
  try {
    await conn.write(encodeFrame({
      tag: Tag.HANDSHAKE_NAME,
      name: "",
      creation: 1,
      version: 1,
    }, codec));
    const decoder = new FrameDecoder(codec);
    const buf = new Uint8Array(512);
    let frame;
    while ((frame = decoder.next()) === undefined) {
      const n = await conn.read(buf);
      if (n === null) break;
      decoder.push(buf.subarray(0, n));
    }
    assert.equal(frame?.tag, Tag.HANDSHAKE_REFUSE);
    assert.match((frame as { reason: string }).reason, /bad node name: empty/);
  } finally {
    conn.close();
  }
  assert.deepEqual(node.nodes(), []);
  await stillServes(node);
});
