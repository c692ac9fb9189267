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
