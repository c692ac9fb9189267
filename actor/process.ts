/**
 * The handle a process body gets: its own pid, its mailbox, and every
 * operation a process performs on its own behalf.
 *
 * @module
 */
import type { Pid, Ref } from "../wire/terms.ts";
import type { ExitReason } from "./reason.ts";
import type { Runtime } from "./runtime.ts";

/**
 * Where a message or signal can be aimed: a pid, a name registered on this
 * node, or `[name, node]` for a name on another node (N3).
 */
export type Dest = Pid | string | readonly [name: string, node: string];

/** The function a process runs. Its return ends the process with `normal`; a throw ends it with a crash. */
export type ProcessBody = (proc: Process) => void | Promise<void>;

/** Options for `spawn` and friends. */
export interface SpawnOptions {
  /** Register the new process under this name before it starts (N1). */
  readonly name?: string;
  /** Start the process with exits trapped (L2). */
  readonly trapExit?: boolean;
}

/** Options for {@linkcode Process.receive}. */
export interface ReceiveOptions {
  /**
   * Milliseconds to wait for a matching message. On timeout nothing is taken
   * and `receive` resolves to `undefined`. `0` polls. Default: wait forever.
   * The timeout fires no earlier than asked, and at most about a millisecond
   * later (with the host's timer); a runtime's timed receives share one
   * host timer, so a timeout costs little.
   */
  readonly timeout?: number;
}

/** Options for {@linkcode Process.demonitor}. */
export interface DemonitorOptions {
  /** Also remove a `Down` for this ref already in the mailbox (M3). */
  readonly flush?: boolean;
}

/**
 * A running process, as seen from inside its body.
 *
 * Bad arguments are `InvalidArgumentError`s: thrown by the methods that
 * return at once, rejected by `receive` and `sleep` (so `.catch()` sees
 * them). A `receive` or `sleep` while one of the process's own is pending
 * is a `ConcurrentReceiveError` (thrown by `receive`, rejected by `sleep`).
 *
 * @example
 * ```ts
 * import { Runtime } from "../mod.ts";
 * const rt = new Runtime();
 * const done = Promise.withResolvers<number>();
 * const adder = rt.spawn(async (proc) => {
 *   let sum = 0;
 *   for (;;) {
 *     const msg = await proc.receive();
 *     if (msg === "done") break;
 *     sum += msg as number;
 *   }
 *   done.resolve(sum);
 * });
 * rt.send(adder, 1);
 * rt.send(adder, 2);
 * rt.send(adder, "done");
 * if (await done.promise !== 3) throw new Error();
 * await rt.shutdown();
 * ```
 */
export interface Process {
  /** This process's pid. */
  readonly self: Pid;
  /** The runtime the process runs in. */
  readonly runtime: Runtime;
  /** Aborts, with the exit reason, when the process exits (P6). */
  readonly signal: AbortSignal;

  /** Takes the oldest message (P5); with a timeout, `undefined` when none came in time. */
  receive(options?: ReceiveOptions & { timeout?: undefined }): Promise<unknown>;
  /** Takes the oldest message, or `undefined` after `timeout` ms. */
  receive(options: ReceiveOptions): Promise<unknown>;
  /** Takes the oldest message `match` accepts, leaving the rest in order (P5). */
  receive<T>(
    match: (message: unknown) => message is T,
    options?: ReceiveOptions & { timeout?: undefined },
  ): Promise<T>;
  /**
   * Takes the oldest message `match` accepts, or `undefined` after `timeout`
   * ms. The options are an object: `receive(match, { timeout: 100 })`.
   */
  receive<T>(
    match: (message: unknown) => message is T,
    options: ReceiveOptions,
  ): Promise<T | undefined>;
  /** Takes the oldest message `match` accepts, leaving the rest in order (P5). */
  receive(
    match: (message: unknown) => boolean,
    options?: ReceiveOptions,
  ): Promise<unknown>;

  /**
   * Sends a message (P3, P4). Throws only for an unregistered local name
   * (`NotRegisteredError`), a message receive could not hand over
   * (`undefined` or a thenable: `InvalidMessageError`), or a value that
   * cannot cross the wire.
   */
  send(dest: Dest, message: unknown): void;
  /**
   * Sends `message` to `dest` after `ms` milliseconds, as Erlang's
   * `erlang:send_after/3`; see {@linkcode Runtime.sendAfter}. The timer is
   * not tied to this process: it outlives it unless aimed at it.
   */
  sendAfter(dest: Dest, message: unknown, ms: number): Ref;
  /** Cancels a timer: the milliseconds it had left, or `false` if none was pending. */
  cancelTimer(ref: Ref): number | false;
  /** The milliseconds left before a timer fires, or `false` if none is pending. */
  readTimer(ref: Ref): number | false;
  /** Spawns a process (P1). */
  spawn(body: ProcessBody, options?: SpawnOptions): Pid;
  /** Spawns a process linked to this one, atomically (L5). */
  spawnLink(body: ProcessBody, options?: SpawnOptions): Pid;
  /** Spawns a process monitored by this one, atomically. */
  spawnMonitor(body: ProcessBody, options?: SpawnOptions): [Pid, Ref];
  /**
   * Links to a process (L1); a dead one sends this process `noproc` (L4).
   * A name on another node (`[name, node]`) is looked up there: `noproc` if
   * no process holds it, `noconnection` if the connection is lost first.
   */
  link(dest: Dest): void;
  /** Removes a link in both directions (L1). */
  unlink(dest: Pid): void;
  /**
   * Monitors a process (M1, M2); returns the reference its `Down` will
   * carry. A process monitoring itself (by pid or by its name) gets a ref
   * and no monitor, as in Erlang.
   */
  monitor(dest: Dest): Ref;
  /** Removes a monitor (M3); true if it was still active. */
  demonitor(ref: Ref, options?: DemonitorOptions): boolean;
  /** Sets whether exit signals become `Exit` messages (L2); returns the previous setting. */
  trapExit(on: boolean): boolean;
  /**
   * Sends an exit signal to `dest` (L3): `"kill"` cannot be trapped. The
   * reason is required: a missing one, or a thenable, throws
   * `InvalidArgumentError` (see {@linkcode ExitReason}).
   */
  exit(dest: Dest, reason: ExitReason): void;
  /**
   * Ends this process with `reason` (default `normal`); the returned promise
   * never settles. A thenable reason throws `InvalidArgumentError`.
   */
  stop(reason?: ExitReason): Promise<never>;
  /** Registers this process under `name` (N1). */
  register(name: string): void;
  /**
   * Waits `ms` milliseconds; ends with the process if it is killed meanwhile.
   * A sleep is a receive that takes nothing, so it cannot overlap one.
   */
  sleep(ms: number): Promise<void>;
  /** Number of messages in the mailbox. */
  readonly mailboxLength: number;
}
