// Timed sends: sendAfter, cancelTimer and readTimer (Erlang's
// erlang:send_after/3, cancel_timer/1 and read_timer/1). ManualClock makes
// every deadline exact; the real-clock cases only check what cannot depend
// on timing.
import assert from "node:assert/strict";
import {
  InvalidArgumentError,
  InvalidMessageError,
  ManualClock,
  Pid,
  Ref,
  Runtime,
} from "../mod.ts";
import { startNode } from "../dist/mod.ts";
import { probe } from "./_probe.ts";
import { assertThrows, idle, settle } from "./_util.ts";

Deno.test("sendAfter sends no earlier than asked; readTimer counts down", async () => {
  const clock = new ManualClock();
  await using rt = new Runtime({ clock });
  const target = await probe(rt);
  const ref = rt.sendAfter(target.pid, "tick", 50);
  assert.ok(ref instanceof Ref);
  assert.equal(rt.readTimer(ref), 50);
  clock.advance(20);
  assert.equal(rt.readTimer(ref), 30);
  clock.advance(29);
  await settle();
  assert.deepEqual(target.seen, []);
  clock.advance(1);
  assert.equal(await target.next(), "tick");
  assert.equal(rt.readTimer(ref), false);
  assert.equal(rt.cancelTimer(ref), false);
  assert.equal(clock.pending, 0, "no host timer is left once none is pending");
});

Deno.test("sendAfter with 0 sends on a later turn, never inside the call", async () => {
  const clock = new ManualClock();
  await using rt = new Runtime({ clock });
  const target = await probe(rt);
  rt.sendAfter(target.pid, "now", 0);
  await settle();
  assert.deepEqual(target.seen, []);
  clock.advance(0);
  assert.equal(await target.next(), "now");
});

Deno.test("timers fire in deadline order, and those due together in the order set", async () => {
  const clock = new ManualClock();
  await using rt = new Runtime({ clock });
  const target = await probe(rt);
  rt.sendAfter(target.pid, "c", 30);
  rt.sendAfter(target.pid, "a1", 10);
  rt.sendAfter(target.pid, "b", 20);
  rt.sendAfter(target.pid, "a2", 10);
  clock.advance(30);
  const got = [];
  for (let i = 0; i < 4; i++) got.push(await target.next());
  assert.deepEqual(got, ["a1", "a2", "b", "c"]);
});

Deno.test("cancelTimer returns the time left and nothing is sent; then false", async () => {
  const clock = new ManualClock();
  await using rt = new Runtime({ clock });
  const target = await probe(rt);
  const ref = rt.sendAfter(target.pid, "never", 100);
  const kept = rt.sendAfter(target.pid, "kept", 100);
  clock.advance(40);
  assert.equal(rt.cancelTimer(ref), 60);
  assert.equal(rt.cancelTimer(ref), false);
  assert.equal(rt.readTimer(ref), false);
  clock.advance(60);
  assert.equal(await target.next(), "kept");
  await settle();
  assert.deepEqual(target.seen, []);
  assert.equal(rt.cancelTimer(kept), false);
});

Deno.test("a timer aimed at a local pid goes when that process exits; one at a dead pid sets nothing", async () => {
  const clock = new ManualClock();
  await using rt = new Runtime({ clock });
  const doomed = rt.spawn(idle);
  const ref = rt.sendAfter(doomed, "late", 1000);
  assert.equal(rt.readTimer(ref), 1000);
  rt.exit(doomed, "kill");
  await rt.whenExited(doomed);
  assert.equal(rt.readTimer(ref), false);
  assert.equal(rt.cancelTimer(ref), false);
  assert.equal(clock.pending, 0);
  const toDead = rt.sendAfter(doomed, "late", 1000);
  assert.equal(rt.readTimer(toDead), false);
  assert.equal(clock.pending, 0);
  // A pid of this node's earlier incarnation is dead too (D1).
  const stale = new Pid(rt.node, 1, (rt.creation + 1) >>> 0);
  assert.equal(rt.readTimer(rt.sendAfter(stale, "late", 1000)), false);
});

Deno.test("a timer is not tied to the process that set it", async () => {
  const clock = new ManualClock();
  await using rt = new Runtime({ clock });
  const target = await probe(rt);
  const setter = rt.spawn((proc) => {
    proc.sendAfter(target.pid, "from the past", 10);
  });
  await rt.whenExited(setter);
  clock.advance(10);
  assert.equal(await target.next(), "from the past");
});

Deno.test("a name is looked up when the timer fires; nobody holding it then is no error", async () => {
  const clock = new ManualClock();
  const errors: string[] = [];
  const logger = { error: (m: string) => errors.push(m), warn: () => {} };
  await using rt = new Runtime({ clock, logger });
  rt.sendAfter("later", "hello", 10);
  rt.sendAfter("nobody", "lost", 10);
  const target = await probe(rt);
  rt.register("later", target.pid);
  clock.advance(10);
  assert.equal(await target.next(), "hello");
  await settle();
  assert.deepEqual(target.seen, []);
  assert.deepEqual(errors, []);
});

Deno.test("sendAfter refuses bad input with named errors; cancelTimer and readTimer need a Ref", async () => {
  await using rt = new Runtime({ clock: new ManualClock() });
  const pid = rt.spawn(idle);
  assertThrows(() => rt.sendAfter(pid, undefined, 10), InvalidMessageError);
  for (const ms of [-1, NaN, Infinity, "10", undefined]) {
    assertThrows(
      () => rt.sendAfter(pid, "x", ms as number),
      InvalidArgumentError,
    );
  }
  for (const dest of [42, "", null, ["only-name"], { pid }]) {
    assertThrows(
      () => rt.sendAfter(dest as unknown as Pid, "x", 10),
      InvalidArgumentError,
    );
  }
  for (const ref of [undefined, 1, "ref", { id: 1 }]) {
    assertThrows(
      () => rt.cancelTimer(ref as unknown as Ref),
      InvalidArgumentError,
    );
    assertThrows(
      () => rt.readTimer(ref as unknown as Ref),
      InvalidArgumentError,
    );
  }
  // A ref made elsewhere names no timer of this runtime.
  const mine = rt.sendAfter(pid, "x", 10);
  const foreign = new Ref("elsewhere@host", mine.id, 1);
  assert.equal(rt.cancelTimer(foreign), false);
  assert.equal(rt.readTimer(mine), 10);
});

Deno.test("shutdown drops pending timers: no host timer outlives the runtime", async () => {
  // The real clock: Deno's sanitizers fail the test if a timer is left.
  const rt = new Runtime();
  const pid = rt.spawn(idle);
  rt.sendAfter(pid, "x", 60_000);
  rt.sendAfter("some-name", "y", 60_000);
  await rt.shutdown();
  assert.equal(rt.sendAfter("some-name", "z", 10) instanceof Ref, true);
});

Deno.test("sendAfter reaches a pid and a name on another node", async () => {
  const a = await startNode({ name: "timers-a@127.0.0.1", cookie: "c" });
  const b = await startNode({ name: "timers-b@127.0.0.1", cookie: "c" });
  try {
    await a.connect(b.name, b.address!);
    const target = await probe(b.runtime);
    b.runtime.register("inbox", target.pid);
    a.runtime.sendAfter(target.pid, "by pid", 1);
    assert.equal(await target.next(), "by pid");
    a.runtime.sendAfter(["inbox", b.name], "by name", 1);
    assert.equal(await target.next(), "by name");
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

Deno.test("a timer cancelled while timers due with it are being sent is not sent", async () => {
  const clock = new ManualClock();
  await using rt = new Runtime({ clock });
  const result = Promise.withResolvers<[unknown, unknown]>();
  const pid = rt.spawn(async (proc) => {
    proc.sendAfter(proc.self, "a", 10);
    const b = proc.sendAfter(proc.self, "b", 10);
    let cancelled: number | false | undefined;
    // The matcher runs as "a" is delivered, before "b" is sent.
    await proc.receive((m) => {
      if (m === "a") cancelled = proc.cancelTimer(b);
      return m === "a";
    });
    await proc.receive((m) => m === "check");
    result.resolve([cancelled, proc.mailboxLength]);
  });
  await settle();
  clock.advance(10);
  rt.send(pid, "check");
  // A cancel that returned a number promises the message never comes.
  assert.deepEqual(await result.promise, [0, 0]);
});
