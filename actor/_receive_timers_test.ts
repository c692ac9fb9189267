import assert from "node:assert/strict";
import { ManualClock } from "./clock.ts";
import { ReceiveTimers, type TimedWait } from "./_receive_timers.ts";

function wait(log: string[], name: string): TimedWait {
  return { waitDue: 0, timedOut: () => log.push(name) };
}

Deno.test("receive timers: long timeouts answered in time do not pile up", () => {
  const clock = new ManualClock();
  const timers = new ReceiveTimers<TimedWait>(clock);
  const log: string[] = [];
  const kept = wait(log, "kept");
  timers.add(kept, 3_600_000);
  // An hour-long timeout begun and answered every millisecond.
  for (let i = 0; i < 10_000; i++) {
    const w = wait(log, `w${i}`);
    timers.add(w, 3_600_000);
    clock.advance(1);
    timers.remove(w);
    assert.equal(w.waitDue, 0);
  }
  assert.ok(timers.heldMillis <= 2 + 256 + 1, `${timers.heldMillis} held`);
  assert.equal(clock.pending, 1);
  clock.advance(3_600_000);
  assert.deepEqual(log, ["kept"]);
  assert.equal(clock.pending, 0);
  timers.stop();
});

Deno.test("receive timers: an earlier wait resets the one timer, a removed one fires nothing", () => {
  const clock = new ManualClock();
  const timers = new ReceiveTimers<TimedWait>(clock);
  const log: string[] = [];
  const late = wait(log, "late");
  const early = wait(log, "early");
  const gone = wait(log, "gone");
  timers.add(late, 100);
  timers.add(gone, 5);
  timers.add(early, 50);
  assert.equal(clock.pending, 1);
  timers.remove(gone);
  clock.advance(49);
  assert.deepEqual(log, []);
  clock.advance(1);
  assert.deepEqual(log, ["early"]);
  clock.advance(50);
  assert.deepEqual(log, ["early", "late"]);
  assert.equal(clock.pending, 0);
  // After stop, nothing is filed and no timer is set.
  timers.stop();
  timers.add(wait(log, "after stop"), 10);
  assert.equal(clock.pending, 0);
});
