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
 *   round trips/s of a bare send and `receive` between two processes;
 * - `otp.call_remote`: sequential `call`s/s to a server on another node.
 *   Both nodes run in this one Deno process over loopback TCP, so the
 *   figure shares one thread between caller, server and both codecs;
 * - `otp.call_remote_median_us`: median latency of those remote calls.
 *
 * @module
 */
import { call, type Process, Runtime, startServer } from "../mod.ts";
import { startNode } from "../dist/mod.ts";

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

async function callRemote(n: number): Promise<[number, number]> {
  const a = await startNode({ name: "bench_a@127.0.0.1", cookie: "bench" });
  const b = await startNode({ name: "bench_b@127.0.0.1", cookie: "bench" });
  await a.connect(b.name, b.address!);
  const server = await startServer(b.runtime, echo, undefined);
  const latencies = new Float64Array(n);
  const seconds = await inProcess(a.runtime, async (proc) => {
    for (let i = 0; i < 1000; i++) await call(proc, server, i); // warm-up
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await call(proc, server, i);
      latencies[i] = performance.now() - t;
    }
    return (performance.now() - start) / 1000;
  });
  await a.stop();
  await b.stop();
  latencies.sort();
  return [n / seconds, latencies[n >> 1]! * 1000];
}

await callLocal(20_000); // warm-up
await rawPingPong(20_000);
report("otp.call_local", await callLocal(200_000), "calls/s");
report("otp.raw_pingpong_local", await rawPingPong(200_000), "round_trips/s");
const [remote, median] = await callRemote(20_000);
report("otp.call_remote", remote, "calls/s");
report("otp.call_remote_median_us", median, "us");
