/**
 * Runs bench/local.ts and its Erlang twin (local_bench.erl) one after the
 * other, twice, and prints each figure of both with their ratio, so the
 * comparison is made on the same machine in the same minute. Needs Erlang
 * (`apt-get install -y erlang-base`):
 *
 * ```sh
 * deno run -A bench/erlang/compare.ts
 * ```
 *
 * Prints one JSON line per figure: `{"name": "compare.<figure>", "mote": …,
 * "erlang": …, "ratio": …, "better": "mote" | "erlang"}`, using the better of
 * the two runs of each side.
 *
 * @module
 */

import { Comparison, runFigures } from "./compare_lib.ts";

const here = new URL("./", import.meta.url).pathname;
const root = new URL("../../", import.meta.url).pathname;

// Lower is better for these; higher for the rest.
const comparison = new Comparison([
  "spawn_100k_s",
  "spawn_1m_s",
  "bytes_per_process",
  "down_us",
  "timer_set_cancel_ns",
  "timers_fire_ms",
]);

const tmp = await Deno.makeTempDir();
try {
  await runFigures("erlc", ["-o", tmp, `${here}local_bench.erl`], root);
  for (let round = 0; round < 2; round++) {
    comparison.keep(
      "erlang",
      await runFigures("erl", [
        "+S",
        "1",
        "+P",
        "2000000",
        "-noshell",
        "-pa",
        tmp,
        "-s",
        "local_bench",
        "main",
      ], root),
    );
    comparison.keep(
      "mote",
      await runFigures(Deno.execPath(), ["run", "-A", "bench/local.ts"], root),
    );
  }
  comparison.print();
} finally {
  await Deno.remove(tmp, { recursive: true });
}
