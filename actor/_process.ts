// The internal record of a process, which doubles as the `Process` handle its
// body receives. Fields are plain (not #private) because the kernel, link and
// monitor modules all work on them; none of this file is exported publicly.
import type { SmallMap } from "./_small_map.ts";
import type { Pid } from "../wire/terms.ts";
import { Mailbox, NO_MATCH } from "./mailbox.ts";
import {
  ConcurrentReceiveError,
  describe,
  InvalidArgumentError,
} from "./errors.ts";
import type { Kernel } from "./_kernel.ts";
import type {
  DemonitorOptions,
  Dest,
  Process,
  ProcessBody,
  ReceiveOptions,
  SpawnOptions,
} from "./process.ts";
import type { ExitReason } from "./reason.ts";
import type { Runtime } from "./runtime.ts";
import { Crash, Ref } from "../wire/terms.ts";
import { Down } from "./messages.ts";

/** Key of a link or monitor entry: local ids are numbers, remote ones strings. */
export type EntryKey = number | string;

/** A monitor this process holds on another. */
export interface MonitorOut {
  readonly ref: Ref;
  /** Monitored pid, when known. */
  readonly pid: Pid | undefined;
  /** Name the monitor was set by, if any. */
  readonly name: string | undefined;
  readonly node: string;
}

/**
 * A process's watch on the local server of its pending `call`: one object per
 * caller, reused call after call (a process has one call pending at most).
 */
export interface CallWatch {
  readonly proc: ProcessImpl;
  /** The call's ref (left set after it ends); the server, while watched, and its name. */
  ref: Ref | undefined;
  /** Whether the call is still waiting for its reply. */
  readonly pending: boolean;
  callee: ProcessImpl | undefined;
  name: string | undefined;
  /** Index in `callee.callers`. */
  slot: number;
}

/** A monitor another process holds on this one. */
export interface MonitorIn {
  readonly ref: Ref;
  readonly watcher: Pid;
  readonly name: string | undefined;
}

export class ProcessImpl implements Process {
  readonly self: Pid;
  readonly kernel: Kernel;
  readonly mailbox: Mailbox = new Mailbox();
  body: ProcessBody | undefined;
  alive = true;
  trapping = false;
  name: string | undefined = undefined;
  links: Map<EntryKey, Pid> | undefined = undefined;
  monitors: SmallMap<EntryKey, MonitorOut> | undefined = undefined;
  monitoredBy: SmallMap<EntryKey, MonitorIn> | undefined = undefined;
  // The remote nodes this process is indexed under in `kernel.byNode`.
  nodes: Set<string> | undefined = undefined;
  // A `call` to a local server is watched without a monitor (monitor.ts,
  // watchCall): the caller's one reusable watch, and on the server side the
  // watches of its callers: the first `callerCount` slots of `callers`, an
  // array that never shrinks (popping the last entry would trim it, and the
  // next call would grow it again).
  callWatch: CallWatch | undefined = undefined;
  callers: (CallWatch | undefined)[] | undefined = undefined;
  callerCount = 0;
  // A pending receive: its matcher (undefined = any), resolver, and the
  // millisecond its timeout is filed under in the kernel's ReceiveTimers
  // (0: no timeout).
  waitMatch: ((m: unknown) => boolean) | undefined = undefined;
  waitResolve: ((m: unknown) => void) | undefined = undefined;
  waitDue = 0;
  controller: AbortController | undefined = undefined;
  exitWaiters: ((reason: ExitReason) => void)[] | undefined = undefined;
  exitReason: ExitReason | undefined = undefined;
  // Set by this process's first call that timed out or saw its server exit
  // (server.ts). From then on a `{ $reply: ref }` with a ref of this node
  // that is not its pending call's is a late reply, dropped on delivery
  // instead of left in the mailbox, as with a deactivated alias in Erlang,
  // however many calls were given up. False until then, so delivery pays
  // one field check.
  dropsLateReplies = false;
  // The monitor a caller keeps on the remote server it called last, between
  // calls (server.ts): its `Down` is dropped on delivery, as no call waits
  // for it. Undefined while a call uses it, and when there is none.
  keptMonitor: Ref | undefined = undefined;

  constructor(kernel: Kernel, self: Pid, body: ProcessBody) {
    this.kernel = kernel;
    this.self = self;
    this.body = body;
  }

  /**
   * Whether `message` is a leftover of calls: a late reply to an abandoned
   * call, or the `Down` of the kept monitor (either is then forgotten).
   */
  dropCallLeftover(message: unknown): boolean {
    if (typeof message !== "object" || message === null) return false;
    const kept = this.keptMonitor;
    if (kept !== undefined && message instanceof Down) {
      if (!message.ref.equals(kept)) return false;
      this.keptMonitor = undefined;
      return true;
    }
    if (!this.dropsLateReplies) return false;
    const ref = (message as { $reply?: unknown }).$reply;
    if (
      !(ref instanceof Ref) || ref.node !== this.self.node ||
      ref.creation !== this.self.creation
    ) {
      return false;
    }
    const call = this.callWatch;
    return !(call !== undefined && call.pending && call.ref?.id === ref.id);
  }

  get runtime(): Runtime {
    return this.kernel.runtime;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (!this.alive) this.controller.abort(this.exitReason);
    }
    return this.controller.signal;
  }

  get mailboxLength(): number {
    return this.mailbox.length;
  }

  receive(
    matchOrOptions?: ((m: unknown) => boolean) | ReceiveOptions,
    maybeOptions?: ReceiveOptions,
    // deno-lint-ignore no-explicit-any
  ): Promise<any> {
    // Hot path: a plain receive with a message already queued.
    if (
      matchOrOptions === undefined && maybeOptions === undefined &&
      this.alive && this.waitResolve === undefined && this.mailbox.length > 0
    ) {
      return this.#taken(this.mailbox.shift());
    }
    let match: ((m: unknown) => boolean) | undefined;
    let options: ReceiveOptions | undefined;
    if (typeof matchOrOptions === "function") {
      match = matchOrOptions;
      options = maybeOptions;
      if (options !== undefined && typeof options !== "object") {
        return Promise.reject(badReceiveOptions("receive options", options));
      }
    } else if (
      matchOrOptions == null ||
      (typeof matchOrOptions === "object" && maybeOptions === undefined)
    ) {
      options = matchOrOptions ?? maybeOptions;
    } else if (typeof matchOrOptions === "object") {
      return Promise.reject(
        new InvalidArgumentError(
          "receive matcher",
          `expected a function before the options, got ${
            describe(matchOrOptions)
          } (for options alone, pass them first)`,
        ),
      );
    } else {
      return Promise.reject(
        badReceiveOptions("receive matcher", matchOrOptions),
      );
    }
    const timeout = options?.timeout;
    if (
      timeout !== undefined &&
      (typeof timeout !== "number" || Number.isNaN(timeout) || timeout < 0)
    ) {
      return Promise.reject(
        new InvalidArgumentError(
          "receive timeout",
          `expected a number of milliseconds >= 0, got ${describe(timeout)}`,
        ),
      );
    }
    if (!this.alive) return never();
    if (this.waitResolve !== undefined) {
      throw new ConcurrentReceiveError(this.self);
    }
    if (this.mailbox.length > 0) {
      if (match === undefined) return this.#taken(this.mailbox.shift());
      let found: unknown;
      try {
        found = this.mailbox.takeFirst(match);
      } catch (error) {
        this.kernel.exit(this, Crash.from(error));
        return never();
      }
      if (found !== NO_MATCH) return this.#taken(found);
    }
    if (timeout === 0) return Promise.resolve(undefined);
    // No closure over this call's locals: the resolver is captured by a
    // module-level executor, and the timer callback is one per process.
    const promise = new Promise(captureResolve);
    this.waitResolve = captured;
    captured = undefined;
    this.waitMatch = match;
    if (timeout !== undefined && timeout !== Infinity) {
      this.kernel.receiveTimers.add(this, timeout);
    }
    return promise;
  }

  /**
   * Internal, for `call`: waits like `receive(match)` but hands the message
   * to `onMessage` as it is delivered, with no promise of its own, so the
   * caller can settle its own promise one turn earlier. False if the process
   * is dead (nothing will be delivered).
   */
  awaitMessage(
    match: (m: unknown) => boolean,
    onMessage: (m: unknown) => void,
  ): boolean {
    if (!this.alive) return false;
    if (this.waitResolve !== undefined) {
      throw new ConcurrentReceiveError(this.self);
    }
    if (this.mailbox.length > 0) {
      const found = this.mailbox.takeFirst(match);
      if (found !== NO_MATCH) {
        this.kernel.resume(this, onMessage, found);
        return true;
      }
    }
    this.waitResolve = onMessage;
    this.waitMatch = match;
    return true;
  }

  /** A receive that found `message` queued: resolves now, or after the host's turn (Kernel.overdue). */
  #taken(message: unknown): Promise<unknown> {
    if (!this.kernel.overdue()) return Promise.resolve(message);
    const promise = new Promise(captureResolve);
    this.kernel.defer(this, captured!, message);
    captured = undefined;
    return promise;
  }

  /**
   * The pending receive's timeout has passed (ReceiveTimers). Every path
   * that ends a wait takes it out of the timers first, so this is about the
   * wait that is pending now.
   */
  timedOut(): void {
    const resolve = this.waitResolve;
    if (resolve === undefined) return;
    this.waitResolve = undefined;
    this.waitMatch = undefined;
    resolve(undefined);
  }

  send(dest: Dest, message: unknown): void {
    if (!this.alive) return;
    this.kernel.send(dest, message, this.self);
  }

  sendAfter(dest: Dest, message: unknown, ms: number): Ref {
    // A process that is no longer alive sends nothing (P5), later either.
    if (!this.alive) return this.kernel.makeRef();
    return this.kernel.sendTimers.start(dest, message, ms);
  }

  cancelTimer(ref: Ref): number | false {
    return this.kernel.sendTimers.cancel(ref);
  }

  readTimer(ref: Ref): number | false {
    return this.kernel.sendTimers.read(ref);
  }

  spawn(body: ProcessBody, options?: SpawnOptions): Pid {
    return this.kernel.spawn(body, options, this, false);
  }

  spawnLink(body: ProcessBody, options?: SpawnOptions): Pid {
    return this.kernel.spawn(body, options, this, true);
  }

  spawnMonitor(body: ProcessBody, options?: SpawnOptions): [Pid, Ref] {
    const pid = this.kernel.spawn(body, options, this, false);
    // The child has not started yet (P1), so it cannot die unmonitored.
    return [pid, this.monitor(pid)];
  }

  link(dest: Dest): void {
    if (!this.alive) return;
    this.kernel.link(this, dest);
  }

  unlink(dest: Pid): void {
    if (!this.alive) return;
    this.kernel.unlink(this, dest);
  }

  monitor(dest: Dest): Ref {
    return this.kernel.monitor(this, dest);
  }

  demonitor(ref: Ref, options?: DemonitorOptions): boolean {
    if (options !== undefined) {
      const bad = typeof options !== "object" || options === null ||
        (options.flush !== undefined && typeof options.flush !== "boolean");
      if (bad) {
        throw new InvalidArgumentError(
          "demonitor options",
          `expected { flush?: boolean }, got ${describe(options)}`,
        );
      }
    }
    return this.kernel.demonitor(this, ref, options?.flush === true);
  }

  trapExit(on: boolean): boolean {
    if (typeof on !== "boolean") {
      throw new InvalidArgumentError(
        "trapExit flag",
        `expected a boolean, got ${describe(on)}`,
      );
    }
    const previous = this.trapping;
    this.trapping = on;
    return previous;
  }

  exit(dest: Dest, reason: ExitReason): void {
    checkExitReason(reason);
    if (!this.alive) return;
    this.kernel.exitSignal(dest, reason, this.self);
  }

  stop(reason: ExitReason = "normal"): Promise<never> {
    checkExitReason(reason);
    this.kernel.exit(this, reason);
    return never();
  }

  register(name: string): void {
    this.kernel.register(name, this.self);
  }

  async sleep(ms: number): Promise<void> {
    if (typeof ms !== "number" || Number.isNaN(ms) || ms < 0) {
      throw new InvalidArgumentError(
        "sleep time",
        `expected milliseconds >= 0, got ${describe(ms)}`,
      );
    }
    // A sleep is a receive that matches nothing: say which one clashed.
    if (this.alive && this.waitResolve !== undefined) {
      throw new ConcurrentReceiveError(this.self, "sleep");
    }
    await this.receive(neverMatches, { timeout: ms });
  }
}

/**
 * The error for a receive given something other than a matcher and an
 * options object; a bare number gets the spelling it most likely meant.
 */
function badReceiveOptions(
  argument: string,
  value: unknown,
): InvalidArgumentError {
  const hint = typeof value === "number"
    ? ` (for a timeout, pass { timeout: ${value} })`
    : "";
  return new InvalidArgumentError(
    argument,
    `expected ${
      argument === "receive matcher"
        ? "a function or an options object"
        : "an options object"
    }, got ${describe(value)}${hint}`,
  );
}

/**
 * An exit signal needs a reason: a missing one (`undefined`) is a mistake,
 * and `exit(pid)` is not Erlang's `exit/1` (which ends the caller).
 */
export function checkExitReason(reason: unknown): void {
  if (reason === undefined) {
    throw new InvalidArgumentError(
      "exit reason",
      'expected a reason (such as "shutdown" or "kill"), got undefined',
    );
  }
  // A promise resolved with a thenable adopts it, so whenExited (and what
  // is built on it) could never hand such a reason over.
  let then: unknown;
  try {
    then = (reason as { then?: unknown } | null)?.then;
  } catch {
    throw new InvalidArgumentError(
      "exit reason",
      "expected a value whose then can be read, got one whose then throws",
    );
  }
  if (typeof then === "function") {
    throw new InvalidArgumentError(
      "exit reason",
      "expected a value that is not a thenable (it has a then method, which promises would call)",
    );
  }
}

function neverMatches(): boolean {
  return false;
}

let captured: ((value: unknown) => void) | undefined;

function captureResolve(resolve: (value: unknown) => void): void {
  captured = resolve;
}

function unsettled(): void {}

/**
 * A promise that never settles: what a dead process's `receive` and `stop`
 * return, so its body stops at the `await`. A fresh one each time, so that
 * nothing keeps the abandoned body's frame alive.
 */
export function never(): Promise<never> {
  return new Promise<never>(unsettled);
}
