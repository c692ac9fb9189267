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

const here = new URL("./", import.meta.url).pathname;
const root = new URL("../../", import.meta.url).pathname;

interface Figure {
  name: string;
  value: number;
  unit: string;
}

async function run(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<Figure[]> {
  const out = await new Deno.Command(cmd, { args, cwd, stderr: "inherit" })
    .output();
  if (!out.success) throw new Error(`${cmd} failed`);
  return new TextDecoder().decode(out.stdout).split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Figure);
}

// Lower is better for these; higher for the rest.
const lowerIsBetter = new Set([
  "spawn_100k_s",
  "spawn_1m_s",
  "bytes_per_process",
  "down_us",
]);

const tmp = await Deno.makeTempDir();
try {
  await run("erlc", ["-o", tmp, `${here}local_bench.erl`], root);
  const best = new Map<string, { mote?: number; erlang?: number }>();
  const keep = (side: "mote" | "erlang", figures: Figure[]) => {
    for (const f of figures) {
      const name = f.name.replace(/^(local|erlang)\./, "");
      const entry = best.get(name) ?? {};
      const old = entry[side];
      const better = old === undefined ||
        (lowerIsBetter.has(name) ? f.value < old : f.value > old);
      if (better) entry[side] = f.value;
      best.set(name, entry);
    }
  };
  for (let round = 0; round < 2; round++) {
    keep(
      "erlang",
      await run("erl", [
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
    keep(
      "mote",
      await run(Deno.execPath(), ["run", "-A", "bench/local.ts"], root),
    );
  }
  for (const [name, { mote, erlang }] of best) {
    if (mote === undefined || erlang === undefined) continue;
    const ratio = lowerIsBetter.has(name) ? erlang / mote : mote / erlang;
    console.log(JSON.stringify({
      name: `compare.${name}`,
      mote,
      erlang,
      ratio: Number(ratio.toFixed(2)),
      better: ratio >= 1 ? "mote" : "erlang",
    }));
  }
} finally {
  await Deno.remove(tmp, { recursive: true });
}
