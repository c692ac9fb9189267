/**
 * Local process benchmarks. Prints one JSON line per figure:
 * `{"name": …, "value": …, "unit": …}`.
 *
 * Run: `deno run -A bench/local.ts`. Measuring bytes per process needs a
 * forced GC, so when `gc()` is missing the script re-runs itself with
 * `--v8-flags=--expose-gc` (you can pass that flag yourself to skip the
 * re-spawn). Set `MOTE_BENCH_ONLY=name,name` to run a subset.
 *
 * Figures:
 * - `local.pingpong`: round trips/s between two processes;
 *   `local.pingpong_timed`: the same with a 5 s timeout on every receive;
 * - `local.oneway`: msgs/s into one process, with all 1,000,000 messages
 *   queued before the receiver starts taking them, timed from the first
 *   send; `local.oneway_drain`: the receiver's part alone;
 * - `local.spawn_100k_s`, `local.spawn_1m_s`: seconds to spawn that many
 *   processes and have every one waiting in `receive`;
 * - `local.bytes_per_process`: heap bytes per waiting process (after GC);
 * - `local.ring_hops`: a ring of 10,000 processes passing a token 1,000,000
 *   hops; hops/s;
 * - `local.down_us`: µs per `Down` delivered, for 100,000 monitors whose
 *   targets are killed (the kill is included);
 * - `local.timer_set_cancel_ns`: ns to set a `sendAfter` timer and cancel
 *   it, against `local.host_timer_set_cancel_ns`, `setTimeout` and
 *   `clearTimeout`, in the same run (1,000,000 each, deadlines spread over
 *   a second);
 * - `local.timers_fire_ms`: ms from setting 100,000 `sendAfter` timers of
 *   10 ms until one process has all their messages, against
 *   `local.host_timers_fire_ms`, as many `setTimeout` callbacks.
 *
 * @module
 */
import { Down, type Pid, type Process, Runtime } from "../mod.ts";

const gc = (globalThis as { gc?: () => void }).gc;

// Each group of figures runs in a fresh process (with gc exposed): what one
// leaves in the heap (a million-slot mailbox, a million dead processes)
// would otherwise slow the next and inflate its bytes per process.
const GROUPS = [
  "local.pingpong",
  "local.pingpong_timed",
  "local.oneway,local.oneway_drain",
  "local.spawn_100k_s",
  "local.spawn_1m_s,local.bytes_per_process",
  "local.ring_hops",
  "local.down_us",
  "local.timer_set_cancel_ns,local.host_timer_set_cancel_ns",
  "local.timers_fire_ms,local.host_timers_fire_ms",
];

if (gc === undefined) {
  const asked = Deno.env.get("MOTE_BENCH_ONLY");
  for (const group of asked !== undefined ? [asked] : GROUPS) {
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        new URL(import.meta.url).pathname,
      ],
      env: { MOTE_BENCH_ONLY: group },
      stdout: "inherit",
      stderr: "inherit",
    }).output();
    if (code !== 0) Deno.exit(code);
  }
  Deno.exit(0);
}

const only = Deno.env.get("MOTE_BENCH_ONLY")?.split(",");

function report(name: string, value: number, unit: string): void {
  if (only !== undefined && !only.includes(name)) return;
  const rounded = Number(value.toPrecision(4));
  console.log(JSON.stringify({ name, value: rounded, unit }));
}

function wanted(...names: string[]): boolean {
  return only === undefined || names.some((n) => only.includes(n));
}

function collect(): void {
  for (let i = 0; i < 3; i++) gc!();
}

async function waitIn(proc: Process): Promise<void> {
  await proc.receive();
}

/** Round trips/s; with `timeout`, every receive has that timeout. */
async function pingpong(n: number, timeout?: number): Promise<number> {
  await using rt = new Runtime();
  const done = Promise.withResolvers<void>();
  const timed = timeout === undefined ? undefined : { timeout };
  const pong = rt.spawn(async (proc) => {
    for (;;) {
      const from = await (timed ? proc.receive(timed) : proc.receive()) as Pid;
      proc.send(from, 0);
    }
  });
  const t0 = performance.now();
  rt.spawn(async (proc) => {
    const self = proc.self;
    for (let i = 0; i < n; i++) {
      proc.send(pong, self);
      await (timed ? proc.receive(timed) : proc.receive());
    }
    done.resolve();
  });
  await done.promise;
  return n / ((performance.now() - t0) / 1000);
}

/** Msgs/s from the first send, and for the receiver's part alone. */
async function oneway(n: number): Promise<[number, number]> {
  await using rt = new Runtime();
  const done = Promise.withResolvers<number>();
  const t0 = performance.now();
  // The body starts on a later turn (P1), so every send below is queued first.
  const sink = rt.spawn(async (proc) => {
    const t1 = performance.now();
    for (let i = 0; i < n; i++) await proc.receive();
    done.resolve(performance.now() - t1);
  });
  for (let i = 0; i < n; i++) rt.send(sink, i);
  const drain = await done.promise;
  return [n / ((performance.now() - t0) / 1000), n / (drain / 1000)];
}

async function spawnWaiting(
  n: number,
): Promise<{ seconds: number; bytes: number }> {
  const rt = new Runtime();
  collect();
  const before = Deno.memoryUsage().heapUsed;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) rt.spawn(waitIn);
  // Bodies start in one microtask after the spawns; a macrotask turn later
  // every one of them is parked in receive.
  await new Promise((r) => setTimeout(r, 0));
  const seconds = (performance.now() - t0) / 1000;
  collect();
  const bytes = (Deno.memoryUsage().heapUsed - before) / n;
  if (rt.processCount !== n) throw new Error("not all processes are alive");
  await rt.shutdown();
  return { seconds, bytes };
}

async function ring(size: number, hops: number): Promise<number> {
  await using rt = new Runtime();
  const done = Promise.withResolvers<void>();
  const pids: Pid[] = new Array(size);
  const next = (i: number) => pids[(i + 1) % size]!;
  for (let i = 0; i < size; i++) {
    pids[i] = rt.spawn(async (proc) => {
      const to = next(i);
      for (;;) {
        const left = await proc.receive() as number;
        if (left === 0) {
          done.resolve();
          return;
        }
        proc.send(to, left - 1);
      }
    });
  }
  await new Promise((r) => setTimeout(r, 0));
  const t0 = performance.now();
  rt.send(pids[0]!, hops);
  await done.promise;
  return hops / ((performance.now() - t0) / 1000);
}

async function downs(n: number): Promise<number> {
  await using rt = new Runtime();
  const targets: Pid[] = new Array(n);
  for (let i = 0; i < n; i++) targets[i] = rt.spawn(waitIn);
  const ready = Promise.withResolvers<void>();
  const done = Promise.withResolvers<void>();
  rt.spawn(async (proc) => {
    for (let i = 0; i < n; i++) proc.monitor(targets[i]!);
    ready.resolve();
    for (let i = 0; i < n; i++) {
      await proc.receive((m) => m instanceof Down);
    }
    done.resolve();
  });
  await ready.promise;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) rt.exit(targets[i]!, "kill");
  await done.promise;
  return ((performance.now() - t0) * 1000) / n;
}

/** ns per timer set and cancelled: sendAfter/cancelTimer, then the host's. */
async function timerSetCancel(n: number): Promise<[number, number]> {
  await using rt = new Runtime();
  const pid = rt.spawn(waitIn);
  let t0 = performance.now();
  for (let i = 0; i < n; i++) {
    rt.cancelTimer(rt.sendAfter(pid, i, 60_000 + (i % 1000)));
  }
  const mote = (performance.now() - t0) * 1e6 / n;
  const noop = () => {};
  t0 = performance.now();
  for (let i = 0; i < n; i++) {
    clearTimeout(setTimeout(noop, 60_000 + (i % 1000)));
  }
  return [mote, (performance.now() - t0) * 1e6 / n];
}

/** ms until `n` timers of 10 ms have fired: sendAfter into one process, then setTimeout. */
async function timersFire(n: number): Promise<[number, number]> {
  await using rt = new Runtime();
  const done = Promise.withResolvers<void>();
  const pid = rt.spawn(async (proc) => {
    for (let i = 0; i < n; i++) await proc.receive();
    done.resolve();
  });
  let t0 = performance.now();
  for (let i = 0; i < n; i++) rt.sendAfter(pid, i, 10);
  await done.promise;
  const mote = performance.now() - t0;
  const fired = Promise.withResolvers<void>();
  let left = n;
  const fire = () => {
    if (--left === 0) fired.resolve();
  };
  t0 = performance.now();
  for (let i = 0; i < n; i++) setTimeout(fire, 10);
  await fired.promise;
  return [mote, performance.now() - t0];
}

if (wanted("local.pingpong")) {
  await pingpong(100_000);
  report("local.pingpong", await pingpong(1_000_000), "round_trips/s");
}
if (wanted("local.pingpong_timed")) {
  await pingpong(100_000, 5_000);
  report(
    "local.pingpong_timed",
    await pingpong(1_000_000, 5_000),
    "round_trips/s",
  );
}
if (wanted("local.oneway", "local.oneway_drain")) {
  await oneway(100_000);
  const [all, drain] = await oneway(1_000_000);
  report("local.oneway", all, "msgs/s");
  report("local.oneway_drain", drain, "msgs/s");
}
if (wanted("local.spawn_100k_s")) {
  await spawnWaiting(10_000);
  report("local.spawn_100k_s", (await spawnWaiting(100_000)).seconds, "s");
}
if (wanted("local.spawn_1m_s", "local.bytes_per_process")) {
  const { seconds, bytes } = await spawnWaiting(1_000_000);
  report("local.spawn_1m_s", seconds, "s");
  report("local.bytes_per_process", bytes, "bytes");
}
if (wanted("local.ring_hops")) {
  await ring(1_000, 100_000);
  report("local.ring_hops", await ring(10_000, 1_000_000), "hops/s");
}
if (wanted("local.down_us")) {
  await downs(10_000);
  report("local.down_us", await downs(100_000), "us");
}
if (wanted("local.timer_set_cancel_ns", "local.host_timer_set_cancel_ns")) {
  await timerSetCancel(100_000);
  const [mote, host] = await timerSetCancel(1_000_000);
  report("local.timer_set_cancel_ns", mote, "ns");
  report("local.host_timer_set_cancel_ns", host, "ns");
}
if (wanted("local.timers_fire_ms", "local.host_timers_fire_ms")) {
  await timersFire(10_000);
  const [mote, host] = await timersFire(100_000);
  report("local.timers_fire_ms", mote, "ms");
  report("local.host_timers_fire_ms", host, "ms");
}
