import assert from "node:assert/strict";
import { SmallMap } from "./_small_map.ts";

Deno.test("SmallMap: agrees with Map through growth past the small size and back", () => {
  const small = new SmallMap<number, string>();
  const map = new Map<number, string>();
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  for (let step = 0; step < 5_000; step++) {
    const key = rand(24);
    if (rand(3) === 0) {
      assert.equal(small.delete(key), map.delete(key));
    } else {
      small.set(key, `v${step}`);
      map.set(key, `v${step}`);
    }
    assert.equal(small.size, map.size);
    assert.equal(small.get(key), map.get(key));
  }
  assert.deepEqual(
    new Map([...small].sort((a, b) => a[0] - b[0])),
    new Map([...map].sort((a, b) => a[0] - b[0])),
  );
});

Deno.test("SmallMap: deleting while iterating visits every entry once", () => {
  const m = new SmallMap<number, number>();
  for (let i = 0; i < 5; i++) m.set(i, i);
  const seen: number[] = [];
  for (const [k] of m) {
    seen.push(k);
    m.delete(k);
  }
  assert.deepEqual(seen.sort(), [0, 1, 2, 3, 4]);
  assert.equal(m.size, 0);
});
