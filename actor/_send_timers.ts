// Timed sends (Erlang's erlang:send_after/3 and cancel_timer/1) of one
// runtime, filed on their own ReceiveTimers: one host timer for them all.
//
// As in Erlang, a timer aimed at a local pid is cancelled when that process
// exits (or at once if it is not alive), so a long timer to a process that
// died holds nothing; a name is looked up when the timer fires, and a timer
// is not tied to the process that set it.
import { Pid, Ref } from "../wire/terms.ts";
import type { Clock } from "./clock.ts";
import {
  badDestination,
  checkMessage,
  describe,
  InvalidArgumentError,
} from "./errors.ts";
import type { Dest } from "./process.ts";
import { ReceiveTimers, type TimedWait } from "./_receive_timers.ts";

/** What the timers need of their runtime's kernel. */
export interface SendTimersHost {
  readonly clock: Clock;
  /** This runtime's node name. */
  readonly node: string;
  makeRef(): Ref;
  /** Whether `ref` was made by this runtime. */
  isOwnRef(ref: Ref): boolean;
  /** Whether `pid` names a live process of this runtime. */
  isAlive(pid: Pid): boolean;
  /** Sends as the runtime does; may throw (an unregistered name). */
  send(dest: Dest, message: unknown): void;
  /** Reports a timed send that failed when it fired. */
  failed(dest: Dest, error: unknown): void;
}

class SendTimer implements TimedWait {
  waitDue = 0;
  constructor(
    readonly timers: SendTimers,
    readonly id: number,
    readonly dest: Dest,
    readonly message: unknown,
    /** Clock time it is due at. */
    readonly at: number,
    /** The local process it is aimed at, by id, if any. */
    readonly target: number | undefined,
  ) {}

  timedOut(): void {
    this.timers.fired(this);
  }
}

export class SendTimers {
  readonly #host: SendTimersHost;
  readonly #timers: ReceiveTimers<SendTimer>;
  // Pending timers by their ref's id (refs from this runtime only).
  readonly #byRef = new Map<number, SendTimer>();
  // Pending timers aimed at each live local process, by its id (a set may
  // be empty; it goes when the process exits).
  readonly #byTarget = new Map<number, Set<SendTimer>>();
  #stopped = false;

  constructor(host: SendTimersHost) {
    this.#host = host;
    this.#timers = new ReceiveTimers(host.clock);
  }

  /** Timers pending (for tests and stats). */
  get size(): number {
    return this.#byRef.size;
  }

  /** Files a send of `message` to `dest` in `ms` ms; returns its ref. */
  start(dest: Dest, message: unknown, ms: number): Ref {
    checkDest(dest);
    checkMessage(message);
    if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
      throw new InvalidArgumentError(
        "timer time",
        `expected finite milliseconds >= 0, got ${describe(ms)}`,
      );
    }
    const ref = this.#host.makeRef();
    let target: number | undefined;
    if (dest instanceof Pid && dest.node === this.#host.node) {
      // A local pid that is not alive: nothing to send, ever (as Erlang).
      if (!this.#host.isAlive(dest)) return ref;
      target = dest.id;
    }
    if (this.#stopped) return ref;
    const now = this.#host.clock.now();
    const timer = new SendTimer(this, ref.id, dest, message, now + ms, target);
    this.#byRef.set(ref.id, timer);
    if (target !== undefined) {
      let set = this.#byTarget.get(target);
      if (set === undefined) this.#byTarget.set(target, set = new Set());
      set.add(timer);
    }
    // Even a delay of 0 goes through the host timer: a later turn.
    this.#timers.add(timer, ms, now);
    return ref;
  }

  /** Milliseconds left before the timer `ref` fires, or false if none is pending. */
  read(ref: Ref): number | false {
    const timer = this.#pending(ref);
    if (timer === undefined) return false;
    return Math.max(0, Math.ceil(timer.at - this.#host.clock.now()));
  }

  /** Cancels the timer `ref`: the milliseconds it had left, or false if none was pending. */
  cancel(ref: Ref): number | false {
    const left = this.read(ref);
    if (left === false) return false;
    this.#drop(this.#byRef.get(ref.id)!);
    return left;
  }

  /** The local process `id` exited: its timers go (Erlang cancels them). */
  exited(id: number): void {
    if (this.#byTarget.size === 0) return;
    const set = this.#byTarget.get(id);
    if (set === undefined) return;
    this.#byTarget.delete(id);
    for (const timer of set) this.#drop(timer);
  }

  /** Drops every timer and the host timer, for good (the runtime stops). */
  stop(): void {
    this.#stopped = true;
    this.#timers.stop();
    this.#byRef.clear();
    this.#byTarget.clear();
  }

  /** Called by a timer when it is due (it is no longer filed). */
  fired(timer: SendTimer): void {
    // Timers due together are sent one after another, and sending runs code
    // (a receive's matcher, the logger) that may cancel one still to go, or
    // end its target: a timer dropped meanwhile sends nothing, as cancel
    // promised.
    if (this.#byRef.get(timer.id) !== timer) return;
    this.#forget(timer);
    try {
      this.#host.send(timer.dest, timer.message);
    } catch (error) {
      this.#host.failed(timer.dest, error);
    }
  }

  #pending(ref: Ref): SendTimer | undefined {
    if (!(ref instanceof Ref)) {
      throw new InvalidArgumentError(
        "timer",
        `expected the Ref sendAfter returned, got ${describe(ref)}`,
      );
    }
    // Only this runtime's refs name its timers.
    return this.#host.isOwnRef(ref) ? this.#byRef.get(ref.id) : undefined;
  }

  #drop(timer: SendTimer): void {
    this.#timers.remove(timer);
    this.#forget(timer);
  }

  #forget(timer: SendTimer): void {
    this.#byRef.delete(timer.id);
    if (timer.target === undefined) return;
    // An emptied set stays until its process exits (`exited`): a process
    // that sets and cancels timers again and again reuses it.
    this.#byTarget.get(timer.target)?.delete(timer);
  }
}

function checkDest(dest: unknown): asserts dest is Dest {
  if (dest instanceof Pid) return;
  if (typeof dest === "string" && dest.length > 0) return;
  if (
    Array.isArray(dest) && dest.length === 2 && typeof dest[0] === "string" &&
    typeof dest[1] === "string"
  ) return;
  throw badDestination(dest);
}
