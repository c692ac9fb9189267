// Runtime lifecycle (S1, S2).
import assert from "node:assert/strict";
import { ManualClock, type Pid, Runtime, RuntimeStoppedError } from "../mod.ts";
import { assertThrows, idle } from "./_util.ts";

Deno.test("S1: shutdown ends every process with shutdown, seen by whenExited and the abort signal", async () => {
  const rt = new Runtime();
  const signals: AbortSignal[] = [];
  const started: Promise<void>[] = [];
  const pids: Pid[] = [];
  for (let i = 0; i < 100; i++) {
    const ready = Promise.withResolvers<void>();
    started.push(ready.promise);
    pids.push(rt.spawn(async (proc) => {
      signals.push(proc.signal);
      if (i % 2 === 0) proc.trapExit(true);
      ready.resolve();
      await proc.receive(() => false);
    }));
  }
  await Promise.all(started);
  const notStarted = rt.spawn(idle); // spawned but not yet running
  const exits = [...pids, notStarted].map((pid) => rt.whenExited(pid));
  await rt.shutdown();
  assert.deepEqual(new Set(await Promise.all(exits)), new Set(["shutdown"]));
  for (const s of signals) {
    assert.ok(s.aborted);
    assert.equal(s.reason, "shutdown");
  }
  assert.equal(rt.processCount, 0);
  assert.equal(rt.stopped, true);
});

Deno.test("S1: after shutdown, spawn throws RuntimeStoppedError; shutdown is idempotent", async () => {
  const rt = new Runtime();
  const first = rt.shutdown();
  assert.equal(rt.shutdown(), first);
  await first;
  const err = assertThrows(() => rt.spawn(idle), RuntimeStoppedError);
  assert.equal(err.name, "RuntimeStoppedError");
});

Deno.test("S1: no timer is left behind by a process waiting with a long receive timeout (real clock)", async () => {
  // The op sanitizer fails this test if the receive timer outlives shutdown.
  const rt = new Runtime();
  const ready = Promise.withResolvers<void>();
  rt.spawn(async (proc) => {
    const p = proc.receive({ timeout: 3_600_000 });
    ready.resolve();
    await p;
  });
  rt.spawn(async (proc) => {
    await proc.sleep(2 ** 32); // longer than a host timer can hold
  });
  await ready.promise;
  await rt.shutdown();
});

Deno.test("S1: shutdown clears every pending receive timer (ManualClock)", async () => {
  const clock = new ManualClock();
  const rt = new Runtime({ clock });
  const started: Promise<void>[] = [];
  for (let i = 0; i < 10; i++) {
    const ready = Promise.withResolvers<void>();
    started.push(ready.promise);
    rt.spawn(async (proc) => {
      const p = proc.receive({ timeout: 1000 * (i + 1) });
      ready.resolve();
      await p;
    });
  }
  await Promise.all(started);
  assert.equal(clock.pending, 1, "one timer serves every pending receive");
  await rt.shutdown();
  assert.equal(clock.pending, 0);
});

Deno.test("S1: await using shuts the runtime down at the end of the scope", async () => {
  let signal: AbortSignal | undefined;
  {
    await using rt = new Runtime();
    const ready = Promise.withResolvers<void>();
    rt.spawn(async (proc) => {
      signal = proc.signal;
      ready.resolve();
      await proc.receive();
    });
    await ready.promise;
  }
  assert.equal(signal?.aborted, true);
  assert.equal(signal?.reason, "shutdown");
});

Deno.test("S1: two runtimes share nothing", async () => {
  await using a = new Runtime();
  await using b = new Runtime();
  const pa = a.spawn(idle, { name: "same" });
  const pb = b.spawn(idle, { name: "same" });
  assert.ok(a.whereis("same")?.equals(pa));
  assert.ok(b.whereis("same")?.equals(pb));
  await a.shutdown();
  assert.ok(b.isAlive(pb));
});

Deno.test("S2: local processes need no permissions at all", async () => {
  const script = new URL("./fixtures/no_permissions.ts", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", script.pathname],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(
    out.code,
    0,
    `exit ${out.code}\nstdout: ${stdout}\nstderr: ${stderr}`,
  );
  assert.equal(stdout.trim(), "ok 3 normal");
});
