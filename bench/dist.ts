/**
 * Distribution benchmark: two nodes as two OS processes on loopback (this
 * process and a child running examples/node_child.ts).
 *
 * ```sh
 * deno run -A bench/dist.ts            # every figure
 * deno run -A bench/dist.ts bulk rtt   # some: oneway rtt bulk kill freeze
 * ```
 *
 * Prints one JSON line per figure, `{"name","value","unit"}`, on stdout
 * (details go to stderr):
 * - `dist.oneway`: small messages/s to a remote *named* process, counted on arrival;
 * - `dist.rtt_median_us`, `dist.rtt_p99_us`: ping-pong round trips, process to process;
 * - `dist.tcp_echo_median_us`, `dist.tcp_echo_p99_us`: a bare Deno TCP echo of 32 bytes between the same two processes
 *   (timed in rounds that alternate with the round trips', so both see the same machine);
 * - `dist.bulk_mb_s`: 64 KiB `Uint8Array` messages, MB/s (10^6 bytes) counted on arrival;
 * - `dist.tcp_bulk_mb_s`: the same bytes over bare Deno TCP between the same two processes,
 *   written in 64 KiB chunks and read into fresh memory, as a receiver that hands out what it
 *   reads must (timed in rounds that alternate with the bulk's);
 * - `dist.kill_detect_ms`: SIGKILL of the child until both `Down(noconnection)` and
 *   `NodeDown` arrive here (the later of the two; median of several kills);
 * - `dist.freeze_detect_ratio`: SIGSTOP of an idle child with a 2 000 ms tick until
 *   `NodeDown`, divided by the tick (worst of several children frozen at once).
 *
 * @module
 */
import { type Node, NodeDown, startNode } from "../dist/mod.ts";
import { Down, type Process } from "../mod.ts";
import { type ChildNode, spawnChildNode } from "../examples/node_child.ts";

const COOKIE = "mote-bench";
const HOST = "127.0.0.1";
const TICK = 2_000;

function report(name: string, value: number, unit: string): void {
  console.log(JSON.stringify({ name, value: Number(value.toFixed(3)), unit }));
}

function note(text: string): void {
  console.error(`# ${text}`);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** Runs `body` in a new process on `node` and resolves with its result. */
function inProcess<T>(
  node: Node,
  body: (proc: Process) => Promise<T>,
): Promise<T> {
  const result = Promise.withResolvers<T>();
  node.runtime.spawn(async (proc) => {
    try {
      result.resolve(await body(proc));
    } catch (error) {
      result.reject(error);
    }
  });
  return result.promise;
}

let childCount = 0;
// MOTE_PROFILE_CHILD=dir writes a CPU profile of the first child there.
const profileDir = Deno.env.get("MOTE_PROFILE_CHILD");

function launch(node: Node, tcpBaselines = false): Promise<ChildNode> {
  return spawnChildNode({
    ...(profileDir !== undefined && childCount === 0
      ? { denoFlags: ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] }
      : {}),
    name: `benchchild${++childCount}@${HOST}`,
    cookie: COOKIE,
    tickTime: TICK,
    parent: { name: node.name, ...node.address! },
    tcpBaselines,
  }).then(async (child) => {
    await node.connect(child.name, child.address);
    return child;
  });
}

const isDone = (m: unknown): m is { count: number; bytes: number } =>
  typeof m === "object" && m !== null && "count" in m;

/** Sends `n` messages made by `make` to the child's "sink" by name; resolves with seconds taken until all arrived. */
function pump(
  node: Node,
  child: ChildNode,
  n: number,
  make: (i: number) => unknown,
  maxQueued: number,
  checkMask = 255,
): Promise<{ seconds: number; bytes: number }> {
  return inProcess(node, async (proc) => {
    const sink = ["sink", child.name] as const;
    proc.send(sink, { expect: n, notify: proc.self });
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      proc.send(sink, make(i));
      if ((i & checkMask) === checkMask) {
        await node.drain(child.name, { below: maxQueued });
      }
    }
    const done = await proc.receive(isDone);
    return { seconds: (performance.now() - t0) / 1000, bytes: done.bytes };
  });
}

async function oneway(node: Node, child: ChildNode): Promise<void> {
  await pump(node, child, 100_000, (i) => ({ n: i }), 1 << 20); // warm-up
  const n = 1_000_000;
  const { seconds } = await pump(node, child, n, (i) => ({ n: i }), 1 << 20);
  note(`oneway: ${n} messages in ${seconds.toFixed(3)} s`);
  report("dist.oneway", n / seconds, "msgs/s");
}

// Round trips and TCP echoes are timed in short slices that alternate, so a
// machine whose speed drifts (this one does, by 2-3x, within a second) treats
// both alike; each figure is the median of its pooled samples. ROUNDS only
// groups the slices for the progress notes.
const ROUNDS = 5;
const SLICES_PER_ROUND = 8;
const PER_SLICE = 500;
// V8 moves the round trip's hot path (frame decoding, the session's send,
// delivery) from its baseline compilers to its optimizing one only after
// 16-22 thousand round trips: the median falls from about 63 µs in the first
// thousand to 32.5 µs, then to 30.5 µs after the 20 000th. The figure is the
// steady state, as a node that has run for a second sees it.
const WARM_UP = 25_000;

/** `count` Mote round trips to the child's `pong`, in µs. */
function rttSlice(
  node: Node,
  child: ChildNode,
  count: number,
): Promise<number[]> {
  const pong = child.pid("pong");
  return inProcess(node, async (proc) => {
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      proc.send(pong, [proc.self, i]);
      await proc.receive();
      times.push((performance.now() - t0) * 1000);
    }
    return times;
  });
}

/** `count` bare TCP echoes of 32 bytes, in µs. */
async function tcpEchoSlice(conn: Deno.Conn, count: number): Promise<number[]> {
  const out = new Uint8Array(32).fill(7);
  const buf = new Uint8Array(64);
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await conn.write(out);
    let got = 0;
    while (got < 32) {
      const n = await conn.read(buf.subarray(got));
      if (n === null) throw new Error("the TCP echo closed");
      got += n;
    }
    times.push((performance.now() - t0) * 1000);
  }
  return times;
}

async function rttAndEcho(node: Node, child: ChildNode): Promise<void> {
  const conn = await Deno.connect({
    hostname: HOST,
    port: child.ready.tcpEchoPort!,
  });
  conn.setNoDelay(true);
  const rtts: number[] = [];
  const echoes: number[] = [];
  const median = (xs: number[]) =>
    percentile([...xs].sort((x, y) => x - y), 0.5);
  try {
    await rttSlice(node, child, WARM_UP);
    await tcpEchoSlice(conn, WARM_UP);
    for (let round = 0; round < ROUNDS; round++) {
      const r: number[] = [];
      const e: number[] = [];
      for (let slice = 0; slice < SLICES_PER_ROUND; slice++) {
        r.push(...await rttSlice(node, child, PER_SLICE));
        e.push(...await tcpEchoSlice(conn, PER_SLICE));
      }
      note(
        `round ${round}: rtt ${median(r).toFixed(1)} us, ` +
          `tcp echo ${median(e).toFixed(1)} us`,
      );
      rtts.push(...r);
      echoes.push(...e);
    }
  } finally {
    conn.close();
  }
  rtts.sort((x, y) => x - y);
  echoes.sort((x, y) => x - y);
  const rttMedian = percentile(rtts, 0.5);
  const echoMedian = percentile(echoes, 0.5);
  report("dist.rtt_median_us", rttMedian, "us");
  report("dist.rtt_p99_us", percentile(rtts, 0.99), "us");
  report("dist.tcp_echo_median_us", echoMedian, "us");
  report("dist.tcp_echo_p99_us", percentile(echoes, 0.99), "us");
  note(`rtt / tcp echo = ${(rttMedian / echoMedian).toFixed(2)}`);
}

// Bulk transfers alternate with a bare TCP transfer of the same bytes, in
// rounds, for the same reason as the round trips.
const BULK_ROUNDS = 8;
const BULK_PER_ROUND = 1_000; // 64 MiB
const BULK_WARM_UP = 8_000; // 512 MiB: with 2 000, the first round was still among the slowest

/** A bare TCP transfer of `count` chunks to the child's sink; resolves with seconds taken until it acknowledged them all. */
async function tcpBulkRound(
  conn: Deno.Conn,
  chunk: Uint8Array,
  count: number,
): Promise<number> {
  const header = new Uint8Array(8);
  new DataView(header.buffer).setFloat64(0, count * chunk.byteLength, true);
  const ack = new Uint8Array(1);
  const t0 = performance.now();
  await conn.write(header);
  for (let i = 0; i < count; i++) {
    let off = 0;
    while (off < chunk.byteLength) off += await conn.write(chunk.subarray(off));
  }
  if (await conn.read(ack) !== 1) throw new Error("the TCP sink closed");
  return (performance.now() - t0) / 1000;
}

async function bulk(node: Node, child: ChildNode): Promise<void> {
  const payload = new Uint8Array(64 * 1024).fill(1);
  const conn = await Deno.connect({
    hostname: HOST,
    port: child.ready.tcpSinkPort!,
  });
  conn.setNoDelay(true);
  let moteSeconds = 0;
  let tcpSeconds = 0;
  try {
    // Checking the queue after every message keeps a few MiB in flight.
    // The receiver takes some 2 000 messages to reach its steady speed
    // (fewer left the first rounds at two thirds of the later ones).
    await pump(node, child, BULK_WARM_UP, () => payload, 4 << 20, 0);
    await tcpBulkRound(conn, payload, BULK_WARM_UP);
    for (let round = 0; round < BULK_ROUNDS; round++) {
      const n = BULK_PER_ROUND;
      const { seconds, bytes } = await pump(
        node,
        child,
        n,
        () => payload,
        4 << 20,
        0,
      );
      if (bytes !== n * payload.byteLength) {
        throw new Error(
          `bulk: ${bytes} bytes arrived, expected ${n * payload.byteLength}`,
        );
      }
      const tcp = await tcpBulkRound(conn, payload, n);
      const mb = n * payload.byteLength / 1e6;
      note(
        `bulk round ${round}: ${(mb / seconds).toFixed(0)} MB/s, ` +
          `tcp ${(mb / tcp).toFixed(0)} MB/s`,
      );
      moteSeconds += seconds;
      tcpSeconds += tcp;
    }
  } finally {
    conn.close();
  }
  const total = BULK_ROUNDS * BULK_PER_ROUND * payload.byteLength / 1e6;
  report("dist.bulk_mb_s", total / moteSeconds, "MB/s");
  report("dist.tcp_bulk_mb_s", total / tcpSeconds, "MB/s");
  note(`bulk / tcp bulk = ${(tcpSeconds / moteSeconds).toFixed(2)}`);
}

/** Arms a Down (on the child's echo) and a NodeDown watcher; resolves with both arrival times. */
async function watch(
  node: Node,
  child: ChildNode,
): Promise<
  { seen: Promise<{ down: number; nodeDown: number; reason: string }> }
> {
  const armed = Promise.withResolvers<void>();
  const seen = inProcess(node, async (proc) => {
    const echo = child.pid("echo");
    proc.monitor(echo);
    node.monitorNode(proc.self, child.name);
    proc.send(echo, { from: proc.self }); // a round trip: the monitor is in place
    await proc.receive((m) =>
      typeof m === "object" && m !== null && "from" in m
    );
    armed.resolve();
    let down = 0;
    let nodeDown = 0;
    let reason = "";
    while (down === 0 || nodeDown === 0) {
      const m = await proc.receive();
      if (m instanceof Down && m.reason === "noconnection") {
        down = performance.now();
      }
      if (m instanceof NodeDown && m.node === child.name) {
        nodeDown = performance.now();
        reason = m.reason;
      }
    }
    return { down, nodeDown, reason };
  });
  await armed.promise;
  // Wrapped: an async function returning a promise would wait for it.
  return { seen };
}

async function killDetect(node: Node, first: ChildNode): Promise<void> {
  const times: number[] = [];
  for (let trial = 0; trial < 5; trial++) {
    const child = trial === 0 ? first : await launch(node);
    const { seen } = await watch(node, child);
    const t0 = performance.now();
    child.kill("SIGKILL");
    const { down, nodeDown } = await seen;
    times.push(Math.max(down, nodeDown) - t0);
    await child.close();
  }
  note(`kill detection (ms): ${times.map((t) => t.toFixed(2)).join(", ")}`);
  times.sort((x, y) => x - y);
  report("dist.kill_detect_ms", percentile(times, 0.5), "ms");
}

async function freezeDetect(node: Node): Promise<void> {
  const children = await Promise.all([0, 1, 2].map(() => launch(node)));
  try {
    const ratios = await Promise.all(children.map(async (child) => {
      const { seen } = await watch(node, child);
      const t0 = performance.now();
      child.kill("SIGSTOP");
      const { nodeDown, reason } = await seen;
      if (reason !== "heartbeat_timeout") {
        throw new Error(
          `freeze: NodeDown ${reason}, expected heartbeat_timeout`,
        );
      }
      child.kill("SIGCONT");
      return (nodeDown - t0) / TICK;
    }));
    note(
      `freeze detection / tick: ${ratios.map((r) => r.toFixed(3)).join(", ")}`,
    );
    report("dist.freeze_detect_ratio", Math.max(...ratios), "ratio");
  } finally {
    for (const child of children) await child.close();
  }
}

async function main(): Promise<void> {
  const node = await startNode({
    name: `bench@${HOST}`,
    cookie: COOKIE,
    tickTime: TICK,
  });
  let child: ChildNode | undefined;
  try {
    child = await launch(node, true);
    note(`child ${child.name} up (OS pid ${child.process.pid})`);
    const only = new Set(Deno.args);
    const wanted = (name: string) => only.size === 0 || only.has(name);
    if (wanted("oneway")) await oneway(node, child);
    if (wanted("rtt")) await rttAndEcho(node, child);
    if (wanted("bulk")) await bulk(node, child);
    if (wanted("kill")) await killDetect(node, child);
    if (wanted("freeze")) await freezeDetect(node);
  } finally {
    if (child !== undefined && profileDir !== undefined) {
      await stopGently(node, child);
    }
    await child?.close();
    await node.stop();
  }
}

/** Asks the child to stop and waits for it to exit (so its profile is written). */
async function stopGently(node: Node, child: ChildNode): Promise<void> {
  await inProcess(node, async (proc) => {
    proc.send(["control", child.name], { from: proc.self, op: "stop" });
    await proc.receive({ timeout: 5000 });
  });
  await child.process.status;
}

await main();
