import assert from "node:assert/strict";
import { Mailbox, NO_MATCH } from "./mailbox.ts";

Deno.test("Mailbox: shift is FIFO and returns undefined when empty", () => {
  const box = new Mailbox();
  assert.equal(box.shift(), undefined);
  for (let i = 0; i < 5; i++) box.push(i);
  assert.equal(box.length, 5);
  assert.deepEqual([0, 1, 2, 3, 4].map(() => box.shift()), [0, 1, 2, 3, 4]);
  assert.equal(box.length, 0);
  box.push("again");
  assert.deepEqual(box.toArray(), ["again"]);
});

Deno.test("Mailbox: takeFirst removes the oldest match from head, middle and tail", () => {
  const box = new Mailbox();
  for (const v of ["a", 1, "b", 2, "c"]) box.push(v);
  assert.equal(box.takeFirst((m) => m === "a"), "a");
  assert.equal(box.takeFirst((m) => m === "c"), "c");
  box.push("d"); // the tail must still be right after removing it
  assert.equal(box.takeFirst((m) => typeof m === "string"), "b");
  assert.equal(box.takeFirst((m) => m === "zzz"), NO_MATCH);
  assert.deepEqual(box.toArray(), [1, 2, "d"]);
  assert.equal(box.length, 3);
});

Deno.test("Mailbox: a throwing predicate leaves the mailbox unchanged", () => {
  const box = new Mailbox();
  for (const v of [1, 2, 3]) box.push(v);
  assert.throws(() =>
    box.takeFirst((m) => {
      if (m === 2) throw new Error("no");
      return false;
    }), /no/);
  assert.deepEqual(box.toArray(), [1, 2, 3]);
  assert.equal(box.length, 3);
});

Deno.test("Mailbox: removeAll removes every match and keeps order and tail", () => {
  const box = new Mailbox();
  for (const v of [1, 2, 3, 4, 5, 6]) box.push(v);
  assert.equal(box.removeAll((m) => (m as number) % 2 === 0), 3);
  box.push(7);
  assert.deepEqual(box.toArray(), [1, 3, 5, 7]);
  assert.equal(box.length, 4);
  box.clear();
  assert.equal(box.length, 0);
  assert.equal(box.shift(), undefined);
});

Deno.test("Mailbox: a million messages drain in linear time", () => {
  const box = new Mailbox();
  for (let i = 0; i < 1_000_000; i++) box.push(i);
  let sum = 0;
  for (let i = 0; i < 1_000_000; i++) sum += box.shift() as number;
  assert.equal(sum, 499_999_500_000);
});

Deno.test("Mailbox: random pushes, shifts and selective takes agree with a plain array", () => {
  const seed = Number(Deno.env.get("MOTE_MAILBOX_SEED") ?? Date.now() % 1e9);
  let state = seed >>> 0 || 1;
  const rand = (n: number) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
  const box = new Mailbox();
  const model: unknown[] = [];
  let next = 0;
  for (let step = 0; step < 10_000; step++) {
    const op = rand(10);
    if (op < 3) {
      // Bursts, so the ring grows and wraps.
      for (let k = rand(40); k >= 0; k--) {
        box.push(next);
        model.push(next++);
      }
    } else if (op < 6) {
      for (let k = rand(12); k >= 0; k--) {
        assert.equal(box.shift(), model.shift(), `seed ${seed}`);
      }
    } else if (op < 9) {
      const mod = 2 + rand(7);
      const want = rand(mod);
      const match = (m: unknown) => (m as number) % mod === want;
      const i = model.findIndex(match);
      const got = box.takeFirst(match);
      if (i < 0) assert.equal(got, NO_MATCH, `seed ${seed}`);
      else assert.equal(got, model.splice(i, 1)[0], `seed ${seed}`);
    } else {
      const mod = 3 + rand(20);
      const match = (m: unknown) => (m as number) % mod === 0;
      const kept = model.filter((m) => !match(m));
      assert.equal(box.removeAll(match), model.length - kept.length);
      model.splice(0, model.length, ...kept);
    }
    assert.equal(box.length, model.length, `seed ${seed}`);
  }
  assert.deepEqual(box.toArray(), model, `seed ${seed}`);
  while (model.length > 0) assert.equal(box.shift(), model.shift());
  assert.equal(box.shift(), undefined);
});

Deno.test("Mailbox: holes left by selective receive are squeezed out", () => {
  const box = new Mailbox();
  for (let i = 0; i < 2_000; i++) box.push(i);
  // Take every odd message from the middle: the evens stay, in order.
  for (let i = 1; i < 2_000; i += 2) {
    assert.equal(box.takeFirst((m) => m === i), i);
  }
  assert.equal(box.length, 1_000);
  const rest = box.toArray();
  assert.equal(rest.length, 1_000);
  assert.ok(rest.every((m, i) => m === 2 * i));
  assert.equal(box.shift(), 0);
});
