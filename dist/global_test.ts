import assert from "node:assert/strict";
import { InvalidArgumentError } from "../actor/errors.ts";
import { Pid } from "../wire/terms.ts";
import { checkGlobalName, globalWinner } from "./global.ts";

Deno.test("global: the conflict rule orders by node name, then creation, then id", () => {
  const cases: [Pid, Pid][] = [
    [new Pid("a@h", 9, 9), new Pid("b@h", 1, 1)],
    [new Pid("B@h", 9, 9), new Pid("a@h", 1, 1)], // code-unit order: "B" < "a"
    [new Pid("a@h", 9, 1), new Pid("a@h", 1, 2)],
    [new Pid("a@h", 1, 1), new Pid("a@h", 2, 1)],
  ];
  for (const [first, second] of cases) {
    // The same winner whichever side asks: every replica agrees.
    assert.equal(globalWinner(first, second), first);
    assert.equal(globalWinner(second, first), first);
  }
});

Deno.test("global: names are non-empty, well-formed and at most 255 bytes of UTF-8", () => {
  checkGlobalName("db");
  checkGlobalName("é".repeat(127) + "x");
  checkGlobalName("𝄞".repeat(63));
  for (const bad of ["", "é".repeat(128), "\ud800", 7, null, undefined]) {
    assert.throws(() => checkGlobalName(bad), InvalidArgumentError);
  }
});
