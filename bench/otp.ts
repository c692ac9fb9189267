/**
 * OTP behaviour benchmarks. Prints one JSON line per figure:
 * `{"name": …, "value": …, "unit": …}`.
 *
 * Run: `deno run -A bench/otp.ts`.
 *
 * Figures:
 * - `otp.call_local`: sequential `call`s/s from one process to a local
 *   server (each call monitors, sends, selectively receives, demonitors);
 * - `otp.raw_pingpong_local`: the baseline, in the same run: sequential
 *   round trips/s of a bare send and `receive` between two processes (five
 *   interleaved rounds of each; the best round of each is reported);
 * - `otp.call_remote`: sequential `call`s/s to a server on a child node, a
 *   separate Deno process (examples/node_child.ts) on loopback TCP;
 * - `otp.call_remote_median_us`: median latency of those remote calls;
 * - `otp.raw_remote_median_us`: the baseline, in the same run: median of a
 *   bare send and `receive` round trip to the same child node (what
 *   `dist.rtt_median_us` measures). Calls and raw round trips are taken in
 *   three interleaved rounds and the best round of each is reported.
 *
 * @module
 */
import { call, type Process, Runtime, startServer } from "../mod.ts";
import { type Node, startNode } from "../dist/mod.ts";
import { type ChildNode, spawnChildNode } from "../examples/node_child.ts";

function report(name: string, value: number, unit: string): void {
  const rounded = Number(value.toPrecision(4));
  console.log(JSON.stringify({ name, value: rounded, unit }));
}

const echo = {
  init: () => 0,
  handleCall: (n: number, _from: unknown, state: number) => ({
    reply: n + 1,
    state,
  }),
};

/** Runs `body` in a process of `rt` and resolves with what it returns. */
function inProcess<T>(
  rt: Runtime,
  body: (proc: Process) => Promise<T>,
): Promise<T> {
  const done = Promise.withResolvers<T>();
  rt.spawn(async (proc) => done.resolve(await body(proc)));
  return done.promise;
}

async function callLocal(n: number): Promise<number> {
  const rt = new Runtime();
  const server = await startServer(rt, echo, undefined);
  const seconds = await inProcess(rt, async (proc) => {
    const start = performance.now();
    for (let i = 0; i < n; i++) await call(proc, server, i);
    return (performance.now() - start) / 1000;
  });
  await rt.shutdown();
  return n / seconds;
}

async function rawPingPong(n: number): Promise<number> {
  const rt = new Runtime();
  const ponger = rt.spawn(async (proc) => {
    for (;;) {
      const m = await proc.receive() as { from: Process["self"]; n: number };
      proc.send(m.from, m.n + 1);
    }
  });
  const seconds = await inProcess(rt, async (proc) => {
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      proc.send(ponger, { from: proc.self, n: i });
      await proc.receive();
    }
    return (performance.now() - start) / 1000;
  });
  await rt.shutdown();
  return n / seconds;
}

/** Median of `n` sequential round trips made by `once`, in µs, and their rate. */
async function roundTrips(
  node: Node,
  n: number,
  once: (proc: Process, i: number) => Promise<unknown>,
): Promise<[number, number]> {
  const latencies = new Float64Array(n);
  const seconds = await inProcess(node.runtime, async (proc) => {
    // V8 optimizes a remote round trip's path only after some 20 000 of
    // them (see bench/dist.ts).
    for (let i = 0; i < 25_000; i++) await once(proc, i); // warm-up
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await once(proc, i);
      latencies[i] = performance.now() - t;
    }
    return (performance.now() - start) / 1000;
  });
  latencies.sort();
  return [n / seconds, latencies[n >> 1]! * 1000];
}

/** Remote calls to a server on a child node (another OS process), and raw round trips to it. */
async function remote(n: number): Promise<void> {
  const node = await startNode({ name: "bench@127.0.0.1", cookie: "bench" });
  let child: ChildNode | undefined;
  try {
    child = await spawnChildNode({
      name: "benchchild@127.0.0.1",
      cookie: "bench",
      parent: { name: node.name, ...node.address! },
    });
    await node.connect(child.name, child.address);
    const server = child.pid("echo_server");
    const pong = child.pid("pong");
    // Interleaved, so both see the same machine.
    const calls: number[][] = [];
    const raws: number[][] = [];
    for (let round = 0; round < 3; round++) {
      calls.push(await roundTrips(node, n, (p, i) => call(p, server, i)));
      raws.push(
        await roundTrips(node, n, (p, i) => {
          p.send(pong, [p.self, i]);
          return p.receive();
        }),
      );
    }
    const best = (xs: number[][]) =>
      xs.reduce((a, b) => (a[1]! < b[1]! ? a : b));
    const [rate, median] = best(calls);
    const [, rawMedian] = best(raws);
    report("otp.call_remote", rate!, "calls/s");
    report("otp.call_remote_median_us", median!, "us");
    report("otp.raw_remote_median_us", rawMedian!, "us");
  } finally {
    await child?.close();
    await node.stop();
  }
}

await callLocal(20_000); // warm-up
await rawPingPong(20_000);
{
  // Interleaved rounds, best of each, so both see the same machine.
  let calls = 0;
  let raws = 0;
  for (let round = 0; round < 5; round++) {
    calls = Math.max(calls, await callLocal(100_000));
    raws = Math.max(raws, await rawPingPong(100_000));
  }
  report("otp.call_local", calls, "calls/s");
  report("otp.raw_pingpong_local", raws, "round_trips/s");
}
// `deno run -A bench/otp.ts local` skips the remote figures.
if (!Deno.args.includes("local")) await remote(10_000);
