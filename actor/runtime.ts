/**
 * The {@linkcode Runtime}: a value that owns a set of processes, their names,
 * links and monitors. Create as many as you like; they share nothing.
 *
 * @module
 */
import { Pid, type Ref } from "../wire/terms.ts";
import { type Clock, realClock } from "./clock.ts";
import {
  checkMethods,
  describe,
  InvalidArgumentError,
  MoteError,
  RuntimeStoppedError,
} from "./errors.ts";
import { Kernel, type Logger } from "./_kernel.ts";
import { makeGate } from "./_gate.ts";
import type { Dest, ProcessBody, SpawnOptions } from "./process.ts";
import type { ExitReason } from "./reason.ts";
import type { LocalGate, Router } from "./router.ts";
import { checkExitReason } from "./_process.ts";

export type { Logger };

/** Options for {@linkcode Runtime}. */
export interface RuntimeOptions {
  /**
   * This node's name, as it appears in every pid (D1). Default
   * `"nonode@nohost"`, which is fine for a runtime that is never distributed.
   */
  readonly node?: string;
  /** Creation number (D1). Default: a random non-zero 32-bit number. */
  readonly creation?: number;
  /**
   * Time and timers. Default: the host's clock.
   *
   * Processes run in the host's microtask queue, so a long run of them (a
   * busy mailbox, a local ping-pong) would keep the host from its timers and
   * I/O, and a node from its heartbeats. With a clock that has
   * `yieldToHost` (the default one does), once processes have kept the host
   * busy for about 50 ms a runtime lets the host have a turn before it resumes
   * any more of them, much as Erlang's reductions make a busy process
   * yield.
   */
  readonly clock?: Clock;
  /** Where abnormal process exits are reported. Default: nowhere. */
  readonly logger?: Logger;
}

/** A snapshot of what a process is doing, from {@linkcode Runtime.processInfo}. */
export interface ProcessInfo {
  /** The process. */
  readonly pid: Pid;
  /** Its registered name, if any. */
  readonly name: string | undefined;
  /** `"waiting"` while it awaits `receive`, otherwise `"running"`. */
  readonly status: "waiting" | "running";
  /** Number of queued messages. */
  readonly mailboxLength: number;
  /** Whether it traps exits. */
  readonly trapExit: boolean;
  /** Processes it is linked to. */
  readonly links: readonly Pid[];
  /** Monitors it holds: reference and target. */
  readonly monitors: readonly {
    readonly ref: Ref;
    readonly pid: Pid | undefined;
    readonly name: string | undefined;
    readonly node: string;
  }[];
  /** Processes monitoring it. */
  readonly monitoredBy: readonly Pid[];
}

/**
 * A set of processes with their mailboxes, links, monitors and names.
 *
 * @example
 * ```ts
 * import { Runtime } from "../mod.ts";
 * const rt = new Runtime();
 * const replies = Promise.withResolvers<unknown>();
 * const echo = rt.spawn(async (proc) => {
 *   const msg = await proc.receive();
 *   replies.resolve(msg);
 * });
 * rt.send(echo, { hello: "world" });
 * const got = await replies.promise as { hello: string };
 * if (got.hello !== "world") throw new Error();
 * await rt.shutdown();
 * ```
 */
export class Runtime implements AsyncDisposable {
  #kernel: Kernel;
  #shutdown: Promise<void> | undefined;
  #self: Pid;

  /**
   * Creates a runtime; nothing runs until something is spawned. Throws
   * `InvalidArgumentError` for options of the wrong shape.
   */
  constructor(options: RuntimeOptions = {}) {
    if (options === null || typeof options !== "object") {
      throw new InvalidArgumentError(
        "runtime options",
        `expected an object, got ${describe(options)}`,
      );
    }
    const node = options.node ?? "nonode@nohost";
    if (typeof node !== "string" || node.length === 0 || node.length > 255) {
      throw new InvalidArgumentError(
        "node name",
        `expected 1 to 255 characters, got ${describe(node)}`,
      );
    }
    let creation = options.creation;
    if (creation === undefined) {
      creation = crypto.getRandomValues(new Uint32Array(1))[0]! || 1;
    } else if (
      !Number.isInteger(creation) || creation < 0 || creation > 0xffffffff
    ) {
      throw new InvalidArgumentError(
        "creation",
        `expected a 32-bit unsigned integer, got ${describe(creation)}`,
      );
    }
    // Checked here: a clock or logger that fails later would fail inside
    // the kernel, in the middle of a delivery or an exit.
    checkMethods("clock", options.clock, [
      "now",
      "setTimeout",
      "clearTimeout",
    ]);
    checkMethods("logger", options.logger, ["error", "warn"]);
    this.#kernel = new Kernel(
      this,
      node,
      creation,
      options.clock ?? realClock(),
      options.logger,
    );
    // Signals sent by code outside any process come from this pid (id 0 is never a process).
    this.#self = new Pid(node, 0, creation);
  }

  /** This runtime's node name. */
  get node(): string {
    return this.#kernel.node;
  }

  /** This runtime's creation number. */
  get creation(): number {
    return this.#kernel.creation;
  }

  /** The clock the runtime uses for timers. */
  get clock(): Clock {
    return this.#kernel.clock;
  }

  /** Whether {@linkcode Runtime.shutdown} has been called. */
  get stopped(): boolean {
    return this.#kernel.stopped;
  }

  /**
   * Spawns a process running `body`; returns its pid at once (P1).
   *
   * @example
   * ```ts
   * import { Runtime } from "../mod.ts";
   * const rt = new Runtime();
   * const pid = rt.spawn(async (proc) => { await proc.receive(); }, { name: "worker" });
   * if (!rt.whereis("worker")?.equals(pid)) throw new Error();
   * await rt.shutdown();
   * ```
   */
  spawn(body: ProcessBody, options?: SpawnOptions): Pid {
    return this.#kernel.spawn(body, options, undefined, false);
  }

  /**
   * Sends `message` to a pid, a local name or `[name, node]` (P3): never
   * waits; dropped if the process is dead. Throws `NotRegisteredError` for
   * an unregistered local name, and `InvalidMessageError` for `undefined`
   * or a thenable (a value with a `then` method), which a receive could not
   * hand over.
   */
  send(dest: Dest, message: unknown): void {
    this.#kernel.send(dest, message, undefined);
  }

  /**
   * Sends `message` to `dest` after `ms` milliseconds, as Erlang's
   * `erlang:send_after/3`; returns a ref that {@linkcode Runtime.cancelTimer}
   * and {@linkcode Runtime.readTimer} take. The send happens no earlier than
   * asked, and at most about a millisecond later; `0` sends on a later turn.
   * A timer aimed at a local pid is cancelled when that process exits (and
   * sets nothing if it is not alive); a name is looked up when the timer
   * fires (dropped, as any send, if nobody holds it then). Timers do not
   * outlive the runtime's {@linkcode Runtime.shutdown}. Unlike Erlang's,
   * `dest` may also be a pid or `[name, node]` on another node (sent when
   * the timer fires; not cancelled when that process exits), and `ms` need
   * not be a whole number.
   *
   * @example
   * ```ts
   * import { Runtime } from "../mod.ts";
   * const rt = new Runtime();
   * const got = Promise.withResolvers<unknown>();
   * const pid = rt.spawn(async (proc) => got.resolve(await proc.receive()));
   * rt.sendAfter(pid, "tick", 10);
   * const late = rt.sendAfter(pid, "never", 60_000);
   * if (await got.promise !== "tick") throw new Error();
   * await rt.whenExited(pid);
   * if (rt.cancelTimer(late) !== false) throw new Error(); // its target exited
   * await rt.shutdown();
   * ```
   */
  sendAfter(dest: Dest, message: unknown, ms: number): Ref {
    return this.#kernel.sendTimers.start(dest, message, ms);
  }

  /**
   * Cancels a timer {@linkcode Runtime.sendAfter} set: returns the
   * milliseconds it had left, or `false` if it had fired, was
   * cancelled, or its target exited (as Erlang's `erlang:cancel_timer/1`).
   */
  cancelTimer(ref: Ref): number | false {
    return this.#kernel.sendTimers.cancel(ref);
  }

  /**
   * The milliseconds left before a timer {@linkcode Runtime.sendAfter} set
   * fires, or `false` if it is no longer pending (Erlang's
   * `erlang:read_timer/1`).
   */
  readTimer(ref: Ref): number | false {
    return this.#kernel.sendTimers.read(ref);
  }

  /**
   * Sends an exit signal to `dest` (L3); `"kill"` cannot be trapped. The
   * reason is required: a missing one, or a thenable, throws
   * `InvalidArgumentError` (see {@linkcode ExitReason}).
   */
  exit(dest: Dest, reason: ExitReason): void {
    checkExitReason(reason);
    this.#kernel.exitSignal(dest, reason, this.#self);
  }

  /** Registers `pid` under `name` (N1). */
  register(name: string, pid: Pid): void {
    this.#kernel.register(name, pid);
  }

  /** Removes a registration; false if the name was not registered. */
  unregister(name: string): boolean {
    return this.#kernel.unregister(name);
  }

  /** The pid registered under `name`, if any. */
  whereis(name: string): Pid | undefined {
    return this.#kernel.names.get(name)?.self;
  }

  /** All registered names. */
  registered(): string[] {
    return [...this.#kernel.names.keys()];
  }

  /** Whether `pid` is a live process of this runtime. */
  isAlive(pid: Pid): boolean {
    return pid instanceof Pid && this.#kernel.lookup(pid) !== undefined;
  }

  /** Pids of every live process. */
  processes(): Pid[] {
    return [...this.#kernel.table.values()].map((p) => p.self);
  }

  /** Number of live processes. */
  get processCount(): number {
    return this.#kernel.table.size;
  }

  /** What a live process is doing, or `undefined` if it is not alive. */
  processInfo(pid: Pid): ProcessInfo | undefined {
    const proc = pid instanceof Pid ? this.#kernel.lookup(pid) : undefined;
    if (proc === undefined) return undefined;
    const w = proc.callWatch;
    return {
      pid: proc.self,
      name: proc.name,
      status: proc.waitResolve !== undefined ? "waiting" : "running",
      mailboxLength: proc.mailbox.length,
      trapExit: proc.trapping,
      links: [...(proc.links?.values() ?? [])],
      monitors: [
        ...[...(proc.monitors?.values() ?? [])].map((m) => ({
          ref: m.ref,
          pid: m.pid,
          name: m.name,
          node: m.node,
        })),
        // A pending call's watch on a local server counts as a monitor.
        ...(w?.callee === undefined ? [] : [{
          ref: w.ref!,
          pid: w.callee.self,
          name: w.name,
          node: w.callee.self.node,
        }]),
      ],
      monitoredBy: [
        ...[...(proc.monitoredBy?.values() ?? [])].map((m) => m.watcher),
        ...(proc.callers ?? []).slice(0, proc.callerCount).map((c) =>
          c!.proc.self
        ),
      ],
    };
  }

  /**
   * Resolves with the exit reason of `pid` once it exits (`"noproc"` at once
   * if it is not alive). For code outside processes, such as tests. Rejects
   * with `InvalidArgumentError` if `pid` is not a {@linkcode Pid} (for a
   * registered name, pass `whereis(name)`), or is a pid of another node
   * (monitor it from a process instead).
   */
  whenExited(pid: Pid): Promise<ExitReason> {
    if (!(pid instanceof Pid)) {
      return Promise.reject(
        new InvalidArgumentError(
          "pid",
          `expected a Pid, got ${describe(pid)}`,
        ),
      );
    }
    if (pid.node !== this.node) {
      // "noproc" would pass for an exit the runtime cannot see.
      return Promise.reject(
        new InvalidArgumentError(
          "pid",
          `expected a pid of this runtime (${this.node}), got ${pid}: monitor a process of another node from a process instead`,
        ),
      );
    }
    return this.#kernel.whenExited(pid);
  }

  /** Makes a fresh, unique reference of this node. */
  makeRef(): Ref {
    return this.#kernel.makeRef();
  }

  /**
   * Connects a distribution layer. `make` receives the gate through which
   * remote signals reach local processes and returns the router the runtime
   * will use for pids of other nodes. At most one router at a time.
   */
  attachRouter<R extends Router>(make: (gate: LocalGate) => R): R {
    if (typeof make !== "function") {
      throw new InvalidArgumentError(
        "router factory",
        `expected a function, got ${describe(make)}`,
      );
    }
    const kernel = this.#kernel;
    if (kernel.stopped) throw new RuntimeStoppedError("Cannot attach a router");
    if (kernel.router !== undefined) {
      throw new MoteError(
        `Cannot attach a router: runtime ${kernel.node} already has one`,
      );
    }
    const attached: { router?: R } = {};
    const gate = makeGate(kernel, () => {
      if (kernel.router !== attached.router) return;
      kernel.router = undefined;
      // What still waited on another node (a connection being made when
      // the node stopped, a link by name unanswered) ends as on any loss
      // of a connection (D7): noconnection.
      const nodes = new Set(kernel.byNode.keys());
      for (const request of kernel.nameLinks.values()) nodes.add(request.node);
      for (const node of nodes) gate.nodeDown(node);
    });
    const router = attached.router = make(gate);
    kernel.router = router;
    return router;
  }

  /**
   * Ends every process with `shutdown`, closes the attached distribution
   * layer, and resolves when all of it is done (S1). Idempotent.
   */
  shutdown(): Promise<void> {
    return this.#shutdown ??= (async () => {
      this.#kernel.shutdown();
      await this.#kernel.router?.close();
      await this.#kernel.hostTurnsSettled();
    })();
  }

  /** Same as {@linkcode Runtime.shutdown}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}
