/**
 * What TLS costs distribution: two nodes over `tlsTransport` against two over
 * TCP, in one process, timed in slices that alternate between the two so a
 * machine whose speed drifts treats both alike.
 *
 * ```sh
 * deno run -A bench/tls.ts
 * ```
 *
 * Prints one JSON line per figure, `{"name": …, "value": …, "unit": …}`:
 * - `tls.rtt_median_us`, `tls.rtt_p99_us`: a round trip (a message to a
 *   process on the other node and its answer) over TLS;
 * - `tls.tcp_rtt_median_us`: the same over TCP;
 * - `tls.bulk_mb_s`, `tls.tcp_bulk_mb_s`: 64 KiB binaries one way, MB/s.
 *
 * Uses the test certificates in `tests/fixtures/tls/`.
 *
 * @module
 */

import { type Node, startNode, tlsTransport } from "../dist/mod.ts";
import type { Pid, Process } from "../mod.ts";

const fixture = (file: string) =>
  Deno.readTextFileSync(
    new URL(`../tests/fixtures/tls/${file}`, import.meta.url),
  );
const tlsOptions = {
  cert: fixture("node.pem"),
  key: fixture("node-key.pem"),
  ca: fixture("ca.pem"),
};

const report = (name: string, value: number, unit: string) =>
  console.log(JSON.stringify({ name, value: Number(value.toFixed(3)), unit }));

interface Pair {
  a: Node;
  b: Node;
  pong: Pid;
  sink: Pid;
}

async function pair(tag: string, tls: boolean): Promise<Pair> {
  const options = (name: string) => ({
    name: `${name}-${tag}@127.0.0.1`,
    cookie: "bench",
    tickTime: 60_000,
    ...(tls ? { transport: tlsTransport(tlsOptions) } : {}),
  });
  const a = await startNode(options("a"));
  const b = await startNode(options("b"));
  await a.connect(b.name, b.address!);
  const pong = b.runtime.spawn(async (proc) => {
    for (;;) {
      const [from, n] = await proc.receive() as [Pid, number];
      proc.send(from, n);
    }
  });
  const sink = b.runtime.spawn(async (proc) => {
    for (;;) {
      const { expect, notify } = await proc.receive() as {
        expect: number;
        notify: Pid;
      };
      for (let i = 0; i < expect; i++) await proc.receive();
      proc.send(notify, "done");
    }
  });
  return { a, b, pong, sink };
}

/** Runs `work` in a process on `node`; resolves with its result. */
function inProcess<T>(
  node: Node,
  work: (proc: Process) => Promise<T>,
): Promise<T> {
  const result = Promise.withResolvers<T>();
  node.runtime.spawn(async (proc) => {
    try {
      result.resolve(await work(proc));
    } catch (error) {
      result.reject(error);
    }
  });
  return result.promise;
}

function rtts(p: Pair, count: number): Promise<number[]> {
  return inProcess(p.a, async (proc) => {
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      proc.send(p.pong, [proc.self, i]);
      await proc.receive();
      times.push((performance.now() - t0) * 1000);
    }
    return times;
  });
}

const payload = new Uint8Array(64 * 1024).fill(1);

/** Seconds to send `count` 64 KiB binaries until the sink has them all. */
function bulk(p: Pair, count: number): Promise<number> {
  return inProcess(p.a, async (proc) => {
    proc.send(p.sink, { expect: count, notify: proc.self });
    const t0 = performance.now();
    for (let i = 0; i < count; i++) {
      proc.send(p.sink, payload);
      await p.a.drain(p.b.name, { below: 4 << 20 });
    }
    await proc.receive();
    return (performance.now() - t0) / 1000;
  });
}

const percentile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;

const tcp = await pair("tcp", false);
const tls = await pair("tls", true);
try {
  // Warm-up: the hot paths reach the optimizing compiler.
  await rtts(tcp, 20_000);
  await rtts(tls, 20_000);
  const tcpTimes: number[] = [];
  const tlsTimes: number[] = [];
  for (let slice = 0; slice < 40; slice++) {
    tcpTimes.push(...await rtts(tcp, 500));
    tlsTimes.push(...await rtts(tls, 500));
  }
  tcpTimes.sort((x, y) => x - y);
  tlsTimes.sort((x, y) => x - y);
  report("tls.rtt_median_us", percentile(tlsTimes, 0.5), "us");
  report("tls.rtt_p99_us", percentile(tlsTimes, 0.99), "us");
  report("tls.tcp_rtt_median_us", percentile(tcpTimes, 0.5), "us");

  await bulk(tcp, 2_000);
  await bulk(tls, 2_000);
  let tcpSeconds = 0;
  let tlsSeconds = 0;
  for (let round = 0; round < 8; round++) {
    tcpSeconds += await bulk(tcp, 500);
    tlsSeconds += await bulk(tls, 500);
  }
  const mb = 8 * 500 * payload.length / 1e6;
  report("tls.bulk_mb_s", mb / tlsSeconds, "MB/s");
  report("tls.tcp_bulk_mb_s", mb / tcpSeconds, "MB/s");
} finally {
  await Promise.all([tcp.a.stop(), tcp.b.stop(), tls.a.stop(), tls.b.stop()]);
}
