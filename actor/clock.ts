/**
 * The clock a runtime reads time and schedules timers from. Injected so that
 * tests can drive receive timeouts and heartbeats deterministically.
 *
 * @module
 */

/** An opaque timer handle returned by {@linkcode Clock.setTimeout}. */
export type TimerHandle = unknown;

/**
 * Time and timers. Contract: `setTimeout` calls `fn` once, on a later turn,
 * no earlier than `ms` milliseconds from now, unless `clearTimeout` is called
 * first; `clearTimeout` on a fired or cleared handle does nothing; `now` is
 * monotonic, in milliseconds.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  /** Schedules `fn` to run once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer that has not fired yet. */
  clearTimeout(handle: TimerHandle): void;
  /**
   * Optional: schedules `fn` to run once the host has had a turn: has run
   * its due timers and looked for I/O. Cancelled with `clearTimeout`. A
   * runtime uses it to let the host in when its processes have kept it busy
   * for a while (see `RuntimeOptions.clock`); a clock without it (such as
   * {@linkcode ManualClock}) turns that off.
   */
  yieldToHost?(fn: () => void): TimerHandle;
  /**
   * Optional: whether a pending timer keeps the host alive (`ref`, as
   * timers do when set) or not. A runtime keeps its one receive-timeout
   * timer set between timed receives and lets go of it this way; a clock
   * without it has that timer cleared instead.
   */
  refTimer?(handle: TimerHandle, ref: boolean): void;
}

/**
 * The clock of the host: `performance.now()` and the global timers.
 *
 * @example
 * ```ts
 * import { realClock } from "./clock.ts";
 * const clock = realClock();
 * const t = clock.setTimeout(() => {}, 1000);
 * clock.clearTimeout(t);
 * ```
 */
export function realClock(): Clock {
  // Hosts without Deno's ref/unref (some deployments) clear instead.
  const host = (globalThis as { Deno?: Partial<typeof Deno> }).Deno;
  const canRef = typeof host?.refTimer === "function" &&
    typeof host?.unrefTimer === "function";
  return {
    now: () => performance.now(),
    setTimeout: (fn, ms) =>
      ms > MAX_HOST_DELAY ? new LongTimer(fn, ms) : setTimeout(fn, ms),
    clearTimeout: (handle) => {
      if (handle instanceof LongTimer) handle.cancel();
      else clearTimeout(handle as number);
    },
    // A zero timer: waiting for it makes the host's event loop poll for I/O
    // (1–4 ms on Deno, timers being clamped). setImmediate, a MessageChannel
    // or an async op that completes at once come back sooner, but without
    // the loop polling I/O (tests/dist_process_test.ts, the flood, shows it).
    yieldToHost: (fn) => setTimeout(fn, 0),
    ...(canRef
      ? {
        refTimer: (handle: TimerHandle, ref: boolean) => {
          if (handle instanceof LongTimer) handle.ref(ref);
          else if (ref) Deno.refTimer(handle as number);
          else Deno.unrefTimer(handle as number);
        },
      }
      : {}),
  };
}

// Host timers take a signed 32-bit delay and fire after 1 ms beyond it, so a
// longer delay is waited out in steps.
const MAX_HOST_DELAY = 2 ** 31 - 1;

class LongTimer {
  #due: number;
  #fn: () => void;
  #id: ReturnType<typeof setTimeout>;
  #refed = true;

  constructor(fn: () => void, ms: number) {
    this.#fn = fn;
    this.#due = performance.now() + ms;
    this.#id = setTimeout(this.#step, MAX_HOST_DELAY);
  }

  #step = (): void => {
    const left = this.#due - performance.now();
    if (left > MAX_HOST_DELAY) {
      this.#id = setTimeout(this.#step, MAX_HOST_DELAY);
    } else this.#id = setTimeout(this.#fn, Math.max(0, left));
    if (!this.#refed) Deno.unrefTimer(this.#id);
  };

  cancel(): void {
    clearTimeout(this.#id);
  }

  ref(ref: boolean): void {
    this.#refed = ref;
    if (ref) Deno.refTimer(this.#id);
    else Deno.unrefTimer(this.#id);
  }
}

/**
 * A clock that moves only when told to, for tests: timers fire during
 * {@linkcode ManualClock.advance}, in due order.
 *
 * @example
 * ```ts
 * import { ManualClock } from "./clock.ts";
 * const clock = new ManualClock();
 * let fired = false;
 * clock.setTimeout(() => fired = true, 50);
 * clock.advance(49);
 * if (fired) throw new Error("too early");
 * clock.advance(1);
 * if (!fired) throw new Error("did not fire");
 * ```
 */
export class ManualClock implements Clock {
  #now = 0;
  #seq = 0;
  #timers = new Map<number, { at: number; fn: () => void }>();

  /** The current time in milliseconds (starts at 0). */
  now(): number {
    return this.#now;
  }

  /** Schedules `fn` at `now() + ms`. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn });
    return id;
  }

  /** Cancels a pending timer. */
  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  /** How many timers are pending. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, t] of this.#timers) {
        if (t.at <= target && t.at < nextAt) {
          nextAt = t.at;
          nextId = id;
        }
      }
      if (nextId < 0) break;
      const timer = this.#timers.get(nextId)!;
      this.#timers.delete(nextId);
      this.#now = Math.max(this.#now, timer.at);
      timer.fn();
    }
    this.#now = target;
  }
}
