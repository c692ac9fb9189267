import assert from "node:assert/strict";
import { ManualClock, realClock } from "./clock.ts";

Deno.test("ManualClock: timers fire in due order during advance, never early", () => {
  const clock = new ManualClock();
  const fired: string[] = [];
  clock.setTimeout(() => fired.push("b"), 20);
  clock.setTimeout(() => fired.push("a"), 10);
  const c = clock.setTimeout(() => fired.push("c"), 15);
  clock.clearTimeout(c);
  clock.clearTimeout(c); // clearing twice does nothing
  assert.equal(clock.pending, 2);
  clock.advance(9);
  assert.deepEqual(fired, []);
  clock.advance(11);
  assert.deepEqual(fired, ["a", "b"]);
  assert.equal(clock.now(), 20);
  assert.equal(clock.pending, 0);
});

Deno.test("ManualClock: a timer set by a timer fires in the same advance when due", () => {
  const clock = new ManualClock();
  const fired: number[] = [];
  clock.setTimeout(() => {
    fired.push(clock.now());
    clock.setTimeout(() => fired.push(clock.now()), 5);
  }, 5);
  clock.advance(10);
  assert.deepEqual(fired, [5, 10]);
});

Deno.test("realClock: a delay beyond 2^31-1 ms can be cancelled and does not fire early", async () => {
  const clock = realClock();
  let fired = false;
  const handle = clock.setTimeout(() => fired = true, 2 ** 31 + 5);
  const t = clock.setTimeout(() => {}, 1);
  await new Promise((r) => setTimeout(r, 10)); // safety net: a clamped timer fires after 1 ms
  clock.clearTimeout(handle);
  clock.clearTimeout(t);
  assert.equal(fired, false);
  assert.ok(clock.now() > 0);
});
