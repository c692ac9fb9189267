/**
 * Runs bench/dist.ts and its Erlang twin (dist_bench.erl: two Erlang nodes
 * in two OS processes on loopback) one after the other, twice, and prints
 * each figure of both with their ratio, so the comparison is made on the
 * same machine in the same minutes. Needs Erlang (`apt-get install -y
 * erlang-base`):
 *
 * ```sh
 * deno run -A bench/erlang/compare_dist.ts            # oneway bulk rtt
 * deno run -A bench/erlang/compare_dist.ts bulk       # some of them
 * ```
 *
 * Prints one JSON line per figure: `{"name": "compare.<figure>", "mote": …,
 * "erlang": …, "ratio": …, "better": "mote" | "erlang"}`, using the better of
 * the two runs of each side; the ratio is above 1 where Mote is better. The
 * Erlang nodes are `a@127.0.0.1` and `b@127.0.0.1` with cookie `bench`, so
 * epmd (which `erl -name` starts, and which stays) must be free to use.
 *
 * @module
 */

import { Comparison, type Figure, runFigures } from "./compare_lib.ts";

const here = new URL("./", import.meta.url).pathname;
const root = new URL("../../", import.meta.url).pathname;
const figures = Deno.args.length > 0 ? Deno.args : ["oneway", "bulk", "rtt"];

const comparison = new Comparison(["rtt_median_us", "rtt_p99_us"]);

/** The arguments that start Erlang node `name` running `dist_bench:fn()`. */
function erlArgs(dir: string, name: string, fn: string): string[] {
  return [
    ...["-name", `${name}@127.0.0.1`, "-setcookie", "bench", "-noshell"],
    ...["-pa", dir, "-s", "dist_bench", fn],
  ];
}

async function erlang(dir: string): Promise<Figure[]> {
  const server = new Deno.Command("erl", {
    args: erlArgs(dir, "b", "serve"),
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  try {
    return await runFigures("erl", erlArgs(dir, "a", "main"), root);
  } finally {
    // main halts the server; this only covers a failed run.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = await Promise.race([
      server.status.then(() => true),
      new Promise<false>((r) => timer = setTimeout(() => r(false), 2_000)),
    ]);
    clearTimeout(timer);
    if (!done) {
      server.kill("SIGKILL");
      await server.status;
    }
  }
}

const wanted = (f: Figure) =>
  figures.some((w) => f.name.replace(/^(erlang\.)?dist\./, "").startsWith(w));

const tmp = await Deno.makeTempDir();
try {
  await runFigures("erlc", ["-o", tmp, `${here}dist_bench.erl`], root);
  for (let round = 0; round < 2; round++) {
    comparison.keep("erlang", (await erlang(tmp)).filter(wanted));
    comparison.keep(
      "mote",
      await runFigures(
        Deno.execPath(),
        ["run", "-A", "bench/dist.ts", ...figures],
        root,
      ),
    );
  }
  comparison.print();
} finally {
  await Deno.remove(tmp, { recursive: true });
}
