// Helpers shared by the process-core tests. Nothing here waits on a timer to
// synchronise: `settle` only lets already-queued work run, so a test can
// assert that something did NOT happen afterwards.
import assert from "node:assert/strict";
import type { Process } from "../mod.ts";

/** Lets every queued microtask run, then one macrotask turn, twice over. */
export async function settle(): Promise<void> {
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 20; i++) await Promise.resolve();
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
  }
}

/**
 * `promise`, or a rejection naming `what` after `ms` of real time: a safety
 * net for a wait on an event, never a way to synchronise. The timer is
 * always cleared, so Deno's sanitizers see none left.
 */
export async function within<T>(
  promise: Promise<T>,
  what: string,
  ms: number,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Timed out waiting for ${what}`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A process body that waits forever in `receive`. */
export async function idle(proc: Process): Promise<void> {
  for (;;) await proc.receive();
}

/** Asserts that `value` is an instance of `type`, narrowing its type. */
export function assertInstanceOf<T>(
  value: unknown,
  // deno-lint-ignore no-explicit-any
  type: abstract new (...args: any[]) => T,
  message?: string,
): asserts value is T {
  if (!(value instanceof type)) {
    throw new assert.AssertionError({
      message: `${
        message ?? "value"
      }: expected an instance of ${type.name}, got ${Deno.inspect(value)}`,
    });
  }
}

/** Asserts that `fn` throws an instance of `type` and returns the error. */
export function assertThrows<T>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  type: abstract new (...args: any[]) => T,
): T {
  try {
    fn();
  } catch (error) {
    assertInstanceOf(error, type, "thrown error");
    return error;
  }
  throw new assert.AssertionError({
    message: `expected ${type.name} to be thrown`,
  });
}

/** The bytes of `parts`, one after another. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Runs `tests/fixtures/<name>` in a child with the GC exposed (so that
 * retention can be observed with WeakRefs) and returns what it printed, as
 * JSON. Fails with the child's stderr if it failed.
 */
export async function runGcFixture(name: string): Promise<unknown> {
  const script = new URL(`./fixtures/${name}`, import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--allow-net=127.0.0.1",
      "--v8-flags=--expose-gc",
      script,
    ],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (out.code !== 0) throw new Error(`${name} failed:\n${stderr}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}
