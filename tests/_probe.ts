// Test helpers: a probe process that records every message it gets, so test
// code can await "the next message that looks like X" without sleeping.
import type { Process, Runtime } from "../mod.ts";
import type { Pid } from "../mod.ts";

export interface Probe {
  readonly pid: Pid;
  /** The probe's process handle: call monitor/link/send on it from test code. */
  readonly proc: Process;
  /** Resolves with the next message `match` accepts (already received or future). */
  next<T = unknown>(
    match?: (m: unknown) => boolean,
    timeoutMs?: number,
  ): Promise<T>;
  /** Messages received and not yet taken by `next`. */
  readonly seen: unknown[];
}

export async function probe(
  rt: Runtime,
  options: { trapExit?: boolean } = {},
): Promise<Probe> {
  const seen: unknown[] = [];
  const waiters = new Set<() => void>();
  const ready = Promise.withResolvers<Process>();
  const pid = rt.spawn(async (p) => {
    ready.resolve(p);
    for (;;) {
      seen.push(await p.receive());
      for (const w of [...waiters]) w();
    }
  }, { trapExit: options.trapExit ?? false });
  const proc = await ready.promise;
  return {
    pid,
    proc,
    seen,
    next<T>(
      match: (m: unknown) => boolean = () => true,
      timeoutMs = 5000,
    ): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const check = () => {
          const i = seen.findIndex(match);
          if (i < 0) return false;
          const [m] = seen.splice(i, 1);
          waiters.delete(check);
          clearTimeout(timer);
          resolve(m as T);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `probe ${pid}: no matching message in ${timeoutMs} ms; seen: ${
                Deno.inspect(seen)
              }`,
            ),
          );
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
  };
}

/** A matcher for instances of a class, optionally with a field check. */
export function is<C extends abstract new (...args: never[]) => unknown>(
  cls: C,
  where: (m: InstanceType<C>) => boolean = () => true,
): (m: unknown) => boolean {
  return (m) => m instanceof cls && where(m as InstanceType<C>);
}
