/**
 * What bench/erlang/compare.ts and compare_dist.ts share: running a
 * benchmark that prints JSON figure lines, keeping the better figure of each
 * side over several runs, and printing each figure of both with their ratio.
 *
 * @module
 */

/** One JSON line of a benchmark: `{"name": …, "value": …, "unit": …}`. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
}

/** Runs `cmd args` in `cwd` and returns the figures it printed. */
export async function runFigures(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<Figure[]> {
  const out = await new Deno.Command(cmd, { args, cwd, stderr: "inherit" })
    .output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed`);
  return new TextDecoder().decode(out.stdout).split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Figure);
}

/**
 * The better figure of each side, by name without its `local.`, `dist.` or
 * `erlang.` prefix; `lowerIsBetter` names the figures where less is better.
 */
export class Comparison {
  readonly #best = new Map<string, { mote?: number; erlang?: number }>();
  readonly #lowerIsBetter: ReadonlySet<string>;

  constructor(lowerIsBetter: Iterable<string>) {
    this.#lowerIsBetter = new Set(lowerIsBetter);
  }

  /** Records one run's figures for `side`. */
  keep(side: "mote" | "erlang", figures: Figure[]): void {
    for (const f of figures) {
      const name = f.name.replace(/^(?:erlang\.|local\.|dist\.)+/, "");
      const entry = this.#best.get(name) ?? {};
      const old = entry[side];
      const better = old === undefined ||
        (this.#lowerIsBetter.has(name) ? f.value < old : f.value > old);
      if (better) entry[side] = f.value;
      this.#best.set(name, entry);
    }
  }

  /**
   * Prints `{"name": "compare.<figure>", "mote", "erlang", "ratio",
   * "better"}` for each figure both sides gave; the ratio is above 1 where
   * Mote is better.
   */
  print(): void {
    for (const [name, { mote, erlang }] of this.#best) {
      if (mote === undefined || erlang === undefined) continue;
      const ratio = this.#lowerIsBetter.has(name)
        ? erlang / mote
        : mote / erlang;
      console.log(JSON.stringify({
        name: `compare.${name}`,
        mote,
        erlang,
        ratio: Number(ratio.toFixed(2)),
        better: ratio >= 1 ? "mote" : "erlang",
      }));
    }
  }
}
