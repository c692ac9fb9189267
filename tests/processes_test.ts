// Local processes: spawning, ending, sending and receiving (P1–P6), and the
// errors callers get for bad input.
import assert from "node:assert/strict";
import {
  ConcurrentReceiveError,
  Crash,
  Down,
  Exit,
  InvalidArgumentError,
  InvalidMessageError,
  ManualClock,
  NotRegisteredError,
  Pid,
  type Router,
  Runtime,
} from "../mod.ts";
import { assertInstanceOf, assertThrows, idle, settle } from "./_util.ts";

// --- P1 -------------------------------------------------------------------

Deno.test("P1: spawn returns a pid at once and the body starts on a later turn", async () => {
  await using rt = new Runtime();
  let ran = false;
  const pid = rt.spawn(() => {
    ran = true;
  });
  assertInstanceOf(pid, Pid);
  assert.deepEqual(ran, false);
  assert.ok(rt.isAlive(pid));
  assert.deepEqual(await rt.whenExited(pid), "normal");
  assert.deepEqual(ran, true);
});

Deno.test("P1: a process spawned by a process starts after the spawner's current turn", async () => {
  await using rt = new Runtime();
  const order: string[] = [];
  const parent = rt.spawn((proc) => {
    proc.spawn(() => {
      order.push("child");
    });
    order.push("parent after spawn");
  });
  await rt.whenExited(parent);
  await settle();
  assert.deepEqual(order, ["parent after spawn", "child"]);
});

// --- P2 -------------------------------------------------------------------

Deno.test("P2: a body that returns ends with normal, sync or async", async () => {
  await using rt = new Runtime();
  const a = rt.spawn(() => {});
  const b = rt.spawn(async () => {
    await Promise.resolve();
  });
  assert.deepEqual(await rt.whenExited(a), "normal");
  assert.deepEqual(await rt.whenExited(b), "normal");
});

Deno.test("P2: a body that throws ends with a Crash carrying name, message and stack", async () => {
  await using rt = new Runtime();
  const sync = rt.spawn(() => {
    throw new TypeError("bad sync");
  });
  const async = rt.spawn(async () => {
    await Promise.resolve();
    throw new RangeError("bad async");
  });
  const thrownString = rt.spawn(() => {
    throw "plain";
  });
  const [r1, r2, r3] = await Promise.all(
    [sync, async, thrownString].map((pid) => rt.whenExited(pid)),
  );
  assertInstanceOf(r1, Crash);
  assert.deepEqual([r1.name, r1.message], ["TypeError", "bad sync"]);
  assert.ok(r1.stack?.includes("bad sync"));
  assertInstanceOf(r2, Crash);
  assert.deepEqual([r2.name, r2.message], ["RangeError", "bad async"]);
  assertInstanceOf(r3, Crash);
  assert.deepEqual([r3.name, r3.message], ["Error", "plain"]);
});

Deno.test("P2: a process ends exactly once: the first reason wins, one Down, one Exit", async () => {
  await using rt = new Runtime();
  const ready = Promise.withResolvers<void>();
  const target = rt.spawn(idle);
  const seen: unknown[] = [];
  const watcher = rt.spawn(async (proc) => {
    proc.trapExit(true);
    proc.link(target);
    proc.monitor(target);
    ready.resolve();
    for (;;) seen.push(await proc.receive());
  });
  await ready.promise;
  const waits = [rt.whenExited(target), rt.whenExited(target)];
  rt.exit(target, "first");
  rt.exit(target, "kill");
  rt.exit(target, "third");
  assert.deepEqual(await Promise.all(waits), ["first", "first"]);
  await settle();
  assert.deepEqual(seen.length, 2);
  assertInstanceOf(seen[0], Exit);
  assert.deepEqual((seen[0] as Exit).reason, "first");
  assertInstanceOf(seen[1], Down);
  assert.deepEqual((seen[1] as Down).reason, "first");
  assert.ok(rt.isAlive(watcher));
});

Deno.test("P2: the abort signal fires once and exitWaiters resolve once even when killed twice in one turn", async () => {
  await using rt = new Runtime();
  let aborts = 0;
  const ready = Promise.withResolvers<void>();
  const pid = rt.spawn(async (proc) => {
    proc.signal.addEventListener("abort", () => aborts++);
    ready.resolve();
    await proc.receive();
  });
  await ready.promise;
  rt.exit(pid, "kill");
  rt.exit(pid, "kill");
  assert.deepEqual(await rt.whenExited(pid), "noproc"); // already gone
  assert.deepEqual(aborts, 1);
});

Deno.test("P2: a dead pid is never reused in the same runtime", async () => {
  await using rt = new Runtime();
  const seen = new Set<number>();
  let last: Pid | undefined;
  for (let i = 0; i < 1000; i++) {
    const pid = rt.spawn(() => {});
    assert.ok(!seen.has(pid.id), `pid id ${pid.id} reused`);
    seen.add(pid.id);
    if (last !== undefined) assert.ok(!pid.equals(last));
    last = pid;
    if (i % 100 === 0) await rt.whenExited(pid);
  }
  const dead = rt.spawn(() => {});
  await rt.whenExited(dead);
  const fresh = rt.spawn(idle);
  assert.ok(!fresh.equals(dead));
  assert.deepEqual(rt.isAlive(dead), false);
  rt.send(dead, "dropped");
  assert.deepEqual(rt.processInfo(fresh)?.mailboxLength, 0);
});

// --- P3 -------------------------------------------------------------------

Deno.test("P3: sending to a dead, unknown or older-creation pid is dropped without throwing", async () => {
  await using rt = new Runtime({ node: "a@host", creation: 5 });
  const dead = rt.spawn(() => {});
  await rt.whenExited(dead);
  assert.deepEqual(rt.send(dead, "x"), undefined);
  rt.send(new Pid("a@host", 999_999, 5), "unknown id");
  rt.send(new Pid("a@host", dead.id, 4), "older creation");
  rt.send(new Pid("b@elsewhere", 1, 1), "no router: unreachable");
  const alive = rt.spawn((proc) => {
    proc.send(dead, "from a process");
  });
  assert.deepEqual(await rt.whenExited(alive), "normal");
});

Deno.test("P3: sending to an unregistered name throws NotRegisteredError at once", async () => {
  await using rt = new Runtime({ node: "a@host" });
  const err = assertThrows(() => rt.send("nobody", 1), NotRegisteredError);
  assert.deepEqual(err.registeredName, "nobody");
  assert.deepEqual(err.name, "NotRegisteredError");
  assertThrows(() => rt.send(["nobody", "a@host"], 1), NotRegisteredError);
  const seen = Promise.withResolvers<unknown>();
  rt.spawn((proc) => {
    try {
      proc.send("nobody", 1);
      seen.resolve("no error");
    } catch (e) {
      seen.resolve(e);
    }
  });
  assertInstanceOf(await seen.promise, NotRegisteredError);
});

Deno.test("P3: sending undefined throws InvalidMessageError; null is fine", async () => {
  await using rt = new Runtime();
  const got = Promise.withResolvers<unknown>();
  const pid = rt.spawn(async (proc) => got.resolve(await proc.receive()));
  const err = assertThrows(() => rt.send(pid, undefined), InvalidMessageError);
  assert.deepEqual(err.name, "InvalidMessageError");
  rt.send(pid, null);
  assert.deepEqual(await got.promise, null);
});

// --- P4 -------------------------------------------------------------------

Deno.test("P3: a local message is passed by reference, not copied (as the README says)", async () => {
  await using rt = new Runtime();
  const sent = { n: 1 };
  const got = Promise.withResolvers<unknown>();
  const receiver = rt.spawn(async (proc) => got.resolve(await proc.receive()));
  rt.send(receiver, sent);
  assert.equal(await got.promise, sent);
  await rt.whenExited(receiver);
});

Deno.test("P4: messages from one sender arrive in the order sent, none lost or duplicated", async () => {
  await using rt = new Runtime();
  const N = 2000;
  const got = Promise.withResolvers<unknown[]>();
  const receiver = rt.spawn(async (proc) => {
    const seen: unknown[] = [];
    while (seen.length < 2 * N) seen.push(await proc.receive());
    got.resolve(seen);
  });
  const senderA = rt.spawn(async (proc) => {
    for (let i = 0; i < N; i++) {
      proc.send(receiver, ["a", i]);
      if (i % 7 === 0) await Promise.resolve();
    }
  });
  const senderB = rt.spawn(async (proc) => {
    for (let i = 0; i < N; i++) {
      proc.send(receiver, ["b", i]);
      if (i % 5 === 0) await Promise.resolve();
    }
  });
  const seen = await got.promise as [string, number][];
  await rt.whenExited(senderA);
  await rt.whenExited(senderB);
  assert.deepEqual(seen.length, 2 * N);
  for (const who of ["a", "b"]) {
    const mine = seen.filter(([w]) => w === who).map(([, i]) => i);
    assert.deepEqual(mine, Array.from({ length: N }, (_, i) => i));
  }
});

// --- P5 -------------------------------------------------------------------

Deno.test("P5: receive() takes the oldest message", async () => {
  await using rt = new Runtime();
  const got = Promise.withResolvers<unknown[]>();
  const pid = rt.spawn(async (proc) => {
    got.resolve([
      await proc.receive(),
      await proc.receive(),
      await proc.receive(),
    ]);
  });
  rt.send(pid, 1);
  rt.send(pid, 2);
  rt.send(pid, 3);
  assert.deepEqual(await got.promise, [1, 2, 3]);
});

Deno.test("P5: receive(match) takes the oldest matching message and leaves the rest in order", async () => {
  await using rt = new Runtime();
  const got = Promise.withResolvers<unknown[]>();
  const pid = rt.spawn(async (proc) => {
    const first = await proc.receive((m) => typeof m === "string");
    const second = await proc.receive((m) => typeof m === "string");
    const rest = [];
    while (proc.mailboxLength > 0) rest.push(await proc.receive());
    got.resolve([first, second, rest]);
  });
  for (const m of [1, "a", 2, 3, "b", 4]) rt.send(pid, m);
  assert.deepEqual(await got.promise, ["a", "b", [1, 2, 3, 4]]);
});

Deno.test("P5: receive(match) waiting skips non-matching arrivals, which stay queued in order", async () => {
  await using rt = new Runtime();
  const ready = Promise.withResolvers<void>();
  const got = Promise.withResolvers<unknown[]>();
  const pid = rt.spawn(async (proc) => {
    const p = proc.receive((m) => m === "go");
    ready.resolve();
    const go = await p;
    const rest = [];
    while (proc.mailboxLength > 0) rest.push(await proc.receive());
    got.resolve([go, rest]);
  });
  await ready.promise;
  rt.send(pid, 1);
  rt.send(pid, 2);
  assert.deepEqual(rt.processInfo(pid)?.status, "waiting");
  rt.send(pid, "go");
  rt.send(pid, 3);
  assert.deepEqual(await got.promise, ["go", [1, 2, 3]]);
});

Deno.test("P5: on timeout receive resolves undefined and takes nothing (ManualClock)", async () => {
  const clock = new ManualClock();
  await using rt = new Runtime({ clock });
  const ready = Promise.withResolvers<void>();
  const got = Promise.withResolvers<unknown[]>();
  const pid = rt.spawn(async (proc) => {
    const p = proc.receive((m) => m === "wanted", { timeout: 100 });
    ready.resolve();
    const r = await p;
    const left = proc.mailboxLength;
    const any = await proc.receive({ timeout: 0 });
    const none = await proc.receive({ timeout: 0 });
    got.resolve([r, left, any, none]);
  });
  await ready.promise;
  rt.send(pid, "unwanted");
  assert.deepEqual(clock.pending, 1);
  clock.advance(99);
  await settle();
  assert.deepEqual(rt.processInfo(pid)?.status, "waiting");
  clock.advance(1);
  assert.deepEqual(await got.promise, [undefined, 1, "unwanted", undefined]);
  assert.deepEqual(clock.pending, 0);
});

Deno.test("P5: a message arriving before the timeout cancels the timer", async () => {
  const clock = new ManualClock();
  await using rt = new Runtime({ clock });
  const got = Promise.withResolvers<unknown>();
  const ready = Promise.withResolvers<void>();
  const pid = rt.spawn(async (proc) => {
    const p = proc.receive({ timeout: 1000 });
    ready.resolve();
    got.resolve(await p);
  });
  await ready.promise;
  assert.deepEqual(clock.pending, 1);
  rt.send(pid, "in time");
  assert.deepEqual(clock.pending, 0);
  assert.deepEqual(await got.promise, "in time");
});

Deno.test("P5: receive timeouts fire in due order, none early, all on one clock timer", async () => {
  const clock = new ManualClock();
  await using rt = new Runtime({ clock });
  const fired: string[] = [];
  const started: Promise<void>[] = [];
  // Begun out of order, two in the same millisecond, one with a fraction.
  for (
    const [name, timeout] of [["c", 30], ["a", 10], ["b", 20], ["b2", 20], [
      "d",
      30.5,
    ]] as const
  ) {
    const ready = Promise.withResolvers<void>();
    started.push(ready.promise);
    rt.spawn(async (proc) => {
      const p = proc.receive({ timeout });
      ready.resolve();
      if (await p === undefined) fired.push(`${name}@${clock.now()}`);
    });
  }
  await Promise.all(started);
  assert.equal(clock.pending, 1);
  clock.advance(9);
  await settle();
  assert.deepEqual(fired, []);
  clock.advance(1);
  await settle();
  assert.deepEqual(fired, ["a@10"]);
  clock.advance(10);
  await settle();
  assert.deepEqual(fired, ["a@10", "b@20", "b2@20"]);
  clock.advance(10);
  await settle();
  assert.deepEqual(fired, ["a@10", "b@20", "b2@20", "c@30"]);
  // 30.5 ms is not over at 30: it waits for the next whole millisecond.
  clock.advance(1);
  await settle();
  assert.deepEqual(fired, ["a@10", "b@20", "b2@20", "c@30", "d@31"]);
  assert.equal(clock.pending, 0);
});

Deno.test("P5: timed receives answered in time set no new timer each, and do not keep the host alive", async () => {
  // A clock that can let a timer go without clearing it, as the host's can.
  class RefClock extends ManualClock {
    set = 0;
    refs: boolean[] = [];
    override setTimeout(fn: () => void, ms: number) {
      this.set++;
      return super.setTimeout(fn, ms);
    }
    refTimer(_handle: unknown, ref: boolean) {
      this.refs.push(ref);
    }
  }
  const clock = new RefClock();
  await using rt = new Runtime({ clock });
  const done = Promise.withResolvers<void>();
  const pid = rt.spawn(async (proc) => {
    for (let i = 0; i < 100; i++) {
      if (await proc.receive({ timeout: 5000 }) === undefined) break;
    }
    done.resolve();
  });
  for (let i = 0; i < 100; i++) {
    await settle();
    rt.send(pid, i);
  }
  await done.promise;
  assert.equal(clock.set, 1, "one timer for 100 timed receives");
  // Let go after each answered wait, taken back by the next one.
  assert.equal(clock.refs.length, 199);
  assert.equal(clock.refs.at(-1), false);
  // The timer still fires, for nothing, and is not set again.
  clock.advance(5000);
  await settle();
  assert.equal(clock.pending, 0);
  assert.equal(clock.set, 1);
});

Deno.test("P5: a timed receive answered in time does not keep the host alive (real clock)", async () => {
  const script = `
    import { Runtime } from ${
    JSON.stringify(new URL("../mod.ts", import.meta.url).href)
  };
    const rt = new Runtime();
    const waiting = Promise.withResolvers();
    const pid = rt.spawn(async (proc) => {
      const p = proc.receive({ timeout: 60_000 });
      waiting.resolve();
      console.log(await p);
    });
    await waiting.promise;
    rt.send(pid, "answered");
  `;
  const t0 = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--quiet",
      `--config=${new URL("../deno.json", import.meta.url).pathname}`,
      script,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const took = performance.now() - t0;
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "answered", stderr);
  assert.equal(out.code, 0, stderr);
  assert.ok(took < 20_000, `the host stayed up ${took.toFixed(0)} ms`);
});

Deno.test("P5: sleep waits on the clock and leaves the mailbox alone", async () => {
  const clock = new ManualClock();
  await using rt = new Runtime({ clock });
  const got = Promise.withResolvers<number>();
  const ready = Promise.withResolvers<void>();
  const pid = rt.spawn(async (proc) => {
    const p = proc.sleep(50);
    ready.resolve();
    await p;
    got.resolve(proc.mailboxLength);
  });
  await ready.promise;
  rt.send(pid, "kept");
  clock.advance(50);
  assert.deepEqual(await got.promise, 1);
});

Deno.test("P5: a receive timeout longer than 2^31-1 ms does not fire early (real clock)", async () => {
  await using rt = new Runtime();
  const ready = Promise.withResolvers<void>();
  const got = Promise.withResolvers<unknown>();
  const pid = rt.spawn(async (proc) => {
    const p = proc.receive({ timeout: 2 ** 31 + 10 });
    ready.resolve();
    got.resolve(await p);
  });
  await ready.promise;
  // A host timer clamps such a delay to 1 ms; give it a few turns to misfire.
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(rt.processInfo(pid)?.status, "waiting");
  rt.send(pid, "late but fine");
  assert.deepEqual(await got.promise, "late but fine");
});

Deno.test("P5: a process killed while it awaits receive stops there: code after the await never runs", async () => {
  await using rt = new Runtime();
  const ready = Promise.withResolvers<void>();
  let after = false;
  const pid = rt.spawn(async (proc) => {
    const p = proc.receive();
    ready.resolve();
    await p;
    after = true;
  });
  await ready.promise;
  rt.exit(pid, "kill");
  rt.send(pid, "too late");
  assert.deepEqual(await rt.whenExited(pid), "noproc");
  await settle();
  assert.deepEqual(after, false);
});

Deno.test("P5: a process killed by a link while a Down is delivered in the same exit does not resume", async () => {
  await using rt = new Runtime();
  const ready = Promise.withResolvers<void>();
  let after = false;
  const target = rt.spawn(idle);
  const waiter = rt.spawn(async (proc) => {
    proc.link(target);
    proc.monitor(target);
    const p = proc.receive();
    ready.resolve();
    await p;
    after = true;
  });
  await ready.promise;
  const exited = rt.whenExited(waiter);
  rt.exit(target, "boom");
  assert.deepEqual(await exited, "boom");
  await settle();
  assert.deepEqual(after, false);
});

Deno.test("P5: a process killed after being handed a message, before it resumes, cannot act: sends dropped, no child runs, next receive never returns", async () => {
  // JavaScript cannot cancel a continuation that is already queued, so the
  // body does resume; the runtime makes that resumption inert.
  await using rt = new Runtime();
  const ready = Promise.withResolvers<void>();
  const observer = rt.spawn(idle);
  let afterSecondReceive = false;
  let resumed = false;
  let childRan = false;
  const children: Pid[] = [];
  const pid = rt.spawn(async (proc) => {
    const p = proc.receive();
    ready.resolve();
    await p;
    resumed = true;
    proc.send(observer, "from a dead process");
    children.push(
      proc.spawn(() => {
        childRan = true;
      }),
      proc.spawnLink(() => {
        childRan = true;
      }),
    );
    await proc.receive();
    afterSecondReceive = true;
  });
  await ready.promise;
  const exited = rt.whenExited(pid);
  rt.send(pid, "handed over");
  rt.exit(pid, "kill");
  assert.deepEqual(await exited, "killed");
  await settle();
  assert.ok(resumed);
  assert.deepEqual(rt.processInfo(observer)?.mailboxLength, 0);
  assert.deepEqual(afterSecondReceive, false);
  assert.equal(children.length, 2);
  assert.equal(childRan, false);
  for (const child of children) {
    assert.equal(await rt.whenExited(child), "noproc");
  }
});

Deno.test("P5: a matcher's truthy result accepts a message whether it was queued or arrives while waiting", async () => {
  await using rt = new Runtime();
  const got = Promise.withResolvers<unknown[]>();
  const pid = rt.spawn(async (proc) => {
    // deno-lint-ignore no-explicit-any
    const hasReply = (m: any) => m.reply; // a number, not a boolean
    const queued = await proc.receive(hasReply, { timeout: 1000 });
    proc.send(proc.self, { other: true });
    const waitedFor = proc.receive(hasReply, { timeout: 1000 });
    rt.send(pid, { reply: 2 });
    got.resolve([queued, await waitedFor, proc.mailboxLength]);
  });
  rt.send(pid, { reply: 1 });
  assert.deepEqual(await got.promise, [{ reply: 1 }, { reply: 2 }, 1]);
});

Deno.test("P5: a matcher that throws crashes the process with that error (at receive time)", async () => {
  await using rt = new Runtime();
  let after = false;
  const pid = rt.spawn(async (proc) => {
    await proc.receive(() => {
      throw new SyntaxError("matcher broke");
    });
    after = true;
  });
  rt.send(pid, "queued before the body starts");
  const reason = await rt.whenExited(pid);
  assertInstanceOf(reason, Crash);
  assert.deepEqual([reason.name, reason.message], [
    "SyntaxError",
    "matcher broke",
  ]);
  await settle();
  assert.deepEqual(after, false);
});

Deno.test("P5: a matcher that throws crashes the process with that error (at delivery); the sender is unaffected", async () => {
  await using rt = new Runtime();
  const ready = Promise.withResolvers<void>();
  let seenByMatcher: unknown[] = [];
  const pid = rt.spawn(async (proc) => {
    const p = proc.receive((m) => {
      seenByMatcher.push(m);
      if (m === "bad") throw new TypeError("cannot match bad");
      return false;
    });
    ready.resolve();
    await p;
  });
  await ready.promise;
  const exited = rt.whenExited(pid);
  rt.send(pid, "fine");
  assert.deepEqual(rt.processInfo(pid)?.mailboxLength, 1);
  rt.send(pid, "bad"); // does not throw at the sender
  const reason = await exited;
  assertInstanceOf(reason, Crash);
  assert.deepEqual([reason.name, reason.message], [
    "TypeError",
    "cannot match bad",
  ]);
  assert.deepEqual(seenByMatcher, ["fine", "bad"]);
  seenByMatcher = [];
});

Deno.test("P5: a second receive while one is pending is a ConcurrentReceiveError", async () => {
  await using rt = new Runtime();
  const got = Promise.withResolvers<unknown>();
  rt.spawn(async (proc) => {
    const first = proc.receive();
    try {
      await proc.receive();
    } catch (e) {
      got.resolve(e);
    }
    await first;
  });
  const err = await got.promise;
  assertInstanceOf(err, ConcurrentReceiveError);
  assert.deepEqual(err.name, "ConcurrentReceiveError");
});

// --- P6 -------------------------------------------------------------------

Deno.test("P6: proc.signal aborts with the exit reason when the process exits", async () => {
  await using rt = new Runtime();
  const signals: AbortSignal[] = [];
  const ready = Promise.withResolvers<void>();
  const killed = rt.spawn(async (proc) => {
    signals.push(proc.signal);
    ready.resolve();
    await proc.receive();
  });
  const crashed = rt.spawn(async (proc) => {
    signals.push(proc.signal);
    await Promise.resolve();
    throw new Error("crash");
  });
  await ready.promise;
  const [killedSignal, crashSignal] = signals as [AbortSignal, AbortSignal];
  assert.deepEqual(killedSignal.aborted, false);
  const reason = Promise.withResolvers<unknown>();
  killedSignal.addEventListener(
    "abort",
    () => reason.resolve(killedSignal.reason),
  );
  rt.exit(killed, "kill");
  assert.deepEqual(await reason.promise, "killed");
  const crash = await rt.whenExited(crashed);
  assert.ok(crashSignal.aborted);
  assertInstanceOf(crashSignal.reason, Crash);
  assert.deepEqual(crashSignal.reason, crash);
});

Deno.test("P6: the signal of a normal exit aborts with normal; a timer cancelled by it does not leak", async () => {
  await using rt = new Runtime();
  const got = Promise.withResolvers<AbortSignal>();
  const pid = rt.spawn((proc) => {
    const timer = setTimeout(() => {}, 60_000);
    proc.signal.addEventListener("abort", () => clearTimeout(timer));
    got.resolve(proc.signal);
  });
  await rt.whenExited(pid);
  const signal = await got.promise;
  assert.ok(signal.aborted);
  assert.deepEqual(signal.reason, "normal");
});

// --- Bad input ------------------------------------------------------------

Deno.test("bad input: wrong argument types give InvalidArgumentError", async () => {
  await using rt = new Runtime();
  // deno-lint-ignore no-explicit-any
  const anyRt = rt as any;
  assertThrows(() => anyRt.spawn("not a function"), InvalidArgumentError);
  assertThrows(() => anyRt.spawn(() => {}, { name: 42 }), InvalidArgumentError);
  assertThrows(
    () => anyRt.spawn(() => {}, { trapExit: "yes" }),
    InvalidArgumentError,
  );
  assertThrows(() => anyRt.spawn(() => {}, "opts"), InvalidArgumentError);
  assertThrows(() => anyRt.send(42, "x"), InvalidArgumentError);
  assertThrows(() => anyRt.send({ id: 1 }, "x"), InvalidArgumentError);
  assertThrows(() => anyRt.send(["a"], "x"), InvalidArgumentError);
  assertThrows(() => anyRt.exit(42, "x"), InvalidArgumentError);
  assertThrows(() => new Runtime({ node: "" }), InvalidArgumentError);
  assertThrows(() => new Runtime({ creation: -1 }), InvalidArgumentError);
  assertThrows(() => new Runtime({ creation: 1.5 }), InvalidArgumentError);
  const errors = Promise.withResolvers<unknown[]>();
  rt.spawn(async (proc) => {
    // deno-lint-ignore no-explicit-any
    const p = proc as any;
    const out: unknown[] = [];
    const attempts: (() => unknown)[] = [
      () => p.trapExit("yes"),
      () => p.monitor(42),
      () => p.link(42),
      () => p.unlink("someone"),
      () => p.demonitor("ref"),
      () => p.spawn(null),
      () => p.register(""),
    ];
    for (const attempt of attempts) {
      try {
        attempt();
        out.push("no error");
      } catch (e) {
        out.push(e);
      }
    }
    // Promise-returning: they reject (never throw), so .catch() sees it.
    const rejecting: (() => Promise<unknown>)[] = [
      () => p.receive("nope"),
      () => p.receive({ timeout: -1 }),
      () => p.receive({ timeout: NaN }),
      () => p.receive({ timeout: "5" }),
      () => p.sleep(-5),
    ];
    for (const attempt of rejecting) {
      let promise: Promise<unknown>;
      try {
        promise = attempt();
      } catch (e) {
        out.push(`threw synchronously: ${e}`);
        continue;
      }
      out.push(await promise.then(() => "no error", (e) => e));
    }
    errors.resolve(out);
  });
  const out = await errors.promise;
  for (const [i, e] of out.entries()) {
    assertInstanceOf(e, InvalidArgumentError, `attempt ${i}`);
    assert.deepEqual((e as Error).name, "InvalidArgumentError");
  }
});

Deno.test("bad input: an error message says what could not be done and why", async () => {
  await using rt = new Runtime();
  // deno-lint-ignore no-explicit-any
  const e = assertThrows(() => (rt as any).send(42, "x"), InvalidArgumentError);
  assert.deepEqual(e.argument, "destination");
  assert.ok(e.message.includes("number 42"));
});

Deno.test('bad input: a bad value shows quoted when it is a string, so "100" is not mistaken for 100', async () => {
  await using rt = new Runtime();
  const got = Promise.withResolvers<unknown[]>();
  rt.spawn(async (proc) => {
    // deno-lint-ignore no-explicit-any
    const p = proc as any;
    got.resolve([
      await p.receive({ timeout: "100" }).catch((e: unknown) => e),
      await p.sleep("10").catch((e: unknown) => e),
      await p.receive({ timeout: 100n }).catch((e: unknown) => e),
    ]);
  });
  const [receive, sleep, bigint] = await got.promise as Error[];
  assertInstanceOf(receive, InvalidArgumentError);
  assert.equal(
    receive.message,
    'Invalid receive timeout: expected a number of milliseconds >= 0, got "100"',
  );
  assertInstanceOf(sleep, InvalidArgumentError);
  assert.equal(
    sleep.message,
    'Invalid sleep time: expected milliseconds >= 0, got "10"',
  );
  assertInstanceOf(bigint, InvalidArgumentError);
  assert.match(bigint.message, /got bigint 100$/);
  const e = assertThrows(
    () => rt.spawn(undefined as never),
    InvalidArgumentError,
  );
  assert.match(e.message, /got undefined$/);
});

Deno.test("bad input: Runtime options, whenExited and exit without a reason are InvalidArgumentErrors", async () => {
  await using rt = new Runtime();
  // deno-lint-ignore no-explicit-any
  const anyRt = rt as any;
  // deno-lint-ignore no-explicit-any
  const NewRuntime = Runtime as any;
  assertThrows(() => new NewRuntime(null), InvalidArgumentError);
  assertThrows(() => new NewRuntime("a@host"), InvalidArgumentError);
  assertThrows(() => new NewRuntime({ clock: 5 }), InvalidArgumentError);
  assertThrows(
    () => new NewRuntime({ clock: { now: () => 0 } }),
    InvalidArgumentError,
  );
  assertThrows(() => new NewRuntime({ logger: {} }), InvalidArgumentError);
  assertThrows(() => anyRt.attachRouter(null), InvalidArgumentError);
  // whenExited rejects (it returns a promise), for anything but a pid.
  // A pid of another node: "noproc" would pass for an exit it cannot see.
  const remote = new Pid("elsewhere@127.0.0.1", 1, 1);
  for (const bad of [undefined, "x", 42, { id: 1 }, remote]) {
    const e = await anyRt.whenExited(bad).then(
      () => "resolved",
      (e: unknown) => e,
    );
    assertInstanceOf(e, InvalidArgumentError, `whenExited(${String(bad)})`);
  }
  // exit needs a reason: a forgotten one is not an exit with reason undefined.
  const target = rt.spawn(idle);
  const e = assertThrows(() => anyRt.exit(target), InvalidArgumentError);
  assert.equal(e.argument, "exit reason");
  const fromProcess = Promise.withResolvers<unknown>();
  rt.spawn((proc) => {
    try {
      // deno-lint-ignore no-explicit-any
      (proc as any).exit(target);
      fromProcess.resolve("no error");
    } catch (error) {
      fromProcess.resolve(error);
    }
  });
  assertInstanceOf(await fromProcess.promise, InvalidArgumentError);
  await settle();
  assert.ok(rt.isAlive(target), "the target lives on");
  const exited = rt.whenExited(target);
  rt.exit(target, null); // null is a reason like any other value
  assert.equal(await exited, null);
});

Deno.test("bad input: receive(match, 100) is an InvalidArgumentError saying to pass { timeout: 100 }, not a wait forever", async () => {
  await using rt = new Runtime();
  const got = Promise.withResolvers<unknown[]>();
  rt.spawn(async (proc) => {
    // deno-lint-ignore no-explicit-any
    const p = proc as any;
    const out: unknown[] = [];
    for (const args of [[() => true, 100], [100], [() => true, "soon"]]) {
      try {
        out.push(await p.receive(...args));
      } catch (error) {
        out.push(error);
      }
    }
    got.resolve(out);
  });
  const [withMatch, alone, text] = await got.promise as Error[];
  assertInstanceOf(withMatch, InvalidArgumentError);
  assert.equal(
    withMatch.message,
    "Invalid receive options: expected an options object, got number 100 (for a timeout, pass { timeout: 100 })",
  );
  assertInstanceOf(alone, InvalidArgumentError);
  assert.match(alone.message, /pass \{ timeout: 100 \}/);
  assertInstanceOf(text, InvalidArgumentError);
  assert.match(text.message, /got "soon"$/);
});

Deno.test("bad input: sleep while a receive is pending is a ConcurrentReceiveError that says sleep", async () => {
  await using rt = new Runtime();
  const got = Promise.withResolvers<unknown>();
  const pid = rt.spawn(async (proc) => {
    const first = proc.receive();
    got.resolve(await proc.sleep(1).then(() => "slept", (e) => e));
    assert.equal(await first, "go");
  });
  const e = await got.promise;
  assertInstanceOf(e, ConcurrentReceiveError);
  assert.equal(e.operation, "sleep");
  assert.match(e.message, /^Cannot sleep in <.*>: a receive, sleep or call/);
  rt.send(pid, "go");
  assert.equal(await rt.whenExited(pid), "normal");
});

Deno.test("P2: a body that returns null ends normal, one that returns a value whose then throws ends with that crash (as await would), and the processes spawned with them start", async () => {
  await using rt = new Runtime();
  const badThen = new Proxy({}, {
    get() {
      throw new Error("then getter");
    },
  });
  const a = rt.whenExited(rt.spawn(() => null as never));
  const b = rt.whenExited(rt.spawn(() => badThen as never));
  const started = Promise.withResolvers<void>();
  rt.spawn(() => started.resolve());
  assert.equal(await a, "normal");
  const crash = await b;
  assertInstanceOf(crash, Crash);
  assert.equal(crash.message, "then getter");
  await started.promise;
});

Deno.test("P2: a thrown value whose every trap throws ends the process with a Crash", async () => {
  await using rt = new Runtime();
  const hostile = new Proxy({}, {
    getPrototypeOf() {
      throw new Error("trap");
    },
    get() {
      throw new Error("trap");
    },
  });
  const sync = rt.whenExited(rt.spawn(() => {
    throw hostile;
  }));
  const async = rt.whenExited(rt.spawn(() => Promise.reject(hostile)));
  for (const exited of [sync, async]) {
    const reason = await exited;
    assertInstanceOf(reason, Crash);
    assert.equal(reason.name, "Error");
  }
});

Deno.test("P2: a logger that throws does not keep an exit from links, monitors and whenExited", async () => {
  await using rt = new Runtime({
    logger: {
      error() {
        throw new Error("log down");
      },
      warn() {
        throw new Error("log down");
      },
    },
  });
  const watcher = Promise.withResolvers<unknown>();
  const crasher = rt.spawn(async (p) => {
    await p.receive();
    throw new Error("crash");
  });
  rt.spawn(async (p) => {
    p.monitor(crasher);
    rt.send(crasher, "go");
    watcher.resolve(await p.receive());
  });
  const reason = await rt.whenExited(crasher);
  assertInstanceOf(reason, Crash);
  assertInstanceOf(await watcher.promise, Down);
});

Deno.test("P2: a router that throws while an exit is told does not keep it from the exit's other links, monitors and whenExited", async () => {
  const logged: string[] = [];
  await using rt = new Runtime({
    logger: {
      error(message: string) {
        logged.push(message);
      },
      warn() {},
    },
  });
  const fail = () => {
    throw new Error("router bug");
  };
  rt.attachRouter(() =>
    ({
      link() {},
      monitor() {},
      exit: fail,
      monitorExit: fail,
      demonitor: fail,
      close: () => Promise.resolve(),
    }) as unknown as Router
  );
  const remote = new Pid("elsewhere@127.0.0.1", 1, 1);
  const heard = Promise.withResolvers<unknown[]>();
  const linked = Promise.withResolvers<Pid>();
  const trapper = rt.spawn(async (p) => {
    p.trapExit(true);
    const got = [await p.receive(), await p.receive()];
    heard.resolve(got);
  });
  const dying = rt.spawn(async (p) => {
    // The remote link and monitor come first, so the throws come first.
    p.link(remote);
    p.monitor(remote);
    p.link(trapper);
    linked.resolve(p.self);
    await p.receive();
    throw new Error("crash");
  });
  rt.spawn(async (p) => {
    p.monitor(await linked.promise);
    rt.send(dying, "go");
    rt.send(trapper, await p.receive());
  });
  await linked.promise;
  const reason = await rt.whenExited(dying);
  assertInstanceOf(reason, Crash);
  const [first, second] = await heard.promise;
  const exit = [first, second].find((m) => m instanceof Exit) as Exit;
  const down = [first, second].find((m) => m instanceof Down) as Down;
  assert.ok(exit?.from.equals(dying), "the local link was told");
  assertInstanceOf(exit.reason, Crash);
  assertInstanceOf(down.reason, Crash, "the local monitor was told");
  assert.ok(
    logged.filter((m) => m.startsWith("Telling another node")).length >= 2,
    `the router's throws were logged: ${logged.join("; ")}`,
  );
});

Deno.test("P5: a thenable message (which receive's promise would await, losing it) is refused with InvalidMessageError, by send and sendAfter", async () => {
  await using rt = new Runtime();
  const got = Promise.withResolvers<unknown[]>();
  const pid = rt.spawn(async (p) => {
    got.resolve([await p.receive(), await p.receive()]);
  });
  const callableThenable = Object.assign(() => {}, { then() {} });
  const unreadableThen = new Proxy({}, {
    get() {
      throw new Error("then getter");
    },
  });
  for (
    const thenable of [
      { then() {} },
      Promise.resolve(1),
      callableThenable,
      unreadableThen,
    ]
  ) {
    assert.throws(() => rt.send(pid, thenable), InvalidMessageError);
    assert.throws(() => rt.sendAfter(pid, thenable, 0), InvalidMessageError);
  }
  // A then that is no method is just a field.
  rt.send(pid, { then: 1 });
  rt.send(pid, "second");
  assert.deepEqual(await got.promise, [{ then: 1 }, "second"]);
});
