// The process table and the rules that act on it: spawning, delivery, exit
// signals and termination. The public face is `Runtime`; link and monitor
// bookkeeping live in link.ts and monitor.ts.
import { Crash, Pid, Ref } from "../wire/terms.ts";
import type { Clock, TimerHandle } from "./clock.ts";

/** How long processes may keep the host busy before it gets a turn (see Kernel.overdue). */
const TURN_BUDGET_MS = 50;
/** How long after a host turn a runtime trusts it without asking for another. */
const TURN_QUIET_MS = 10;
import {
  badDestination,
  checkMessage,
  describe,
  InvalidArgumentError,
  NameTakenError,
  NoProcessError,
  NotRegisteredError,
  RuntimeStoppedError,
  wireNameFault,
} from "./errors.ts";
import { Exit } from "./messages.ts";
import { type EntryKey, ProcessImpl } from "./_process.ts";
import type { Dest, ProcessBody, SpawnOptions } from "./process.ts";
import type { ExitReason } from "./reason.ts";
import type { ExitCause, Router } from "./router.ts";
import type { Runtime } from "./runtime.ts";
import { addLink, dropLinks, removeLink, untrackAll } from "./link.ts";
import { addMonitor, dropMonitors, removeMonitor } from "./monitor.ts";
import { ReceiveTimers } from "./_receive_timers.ts";
import { SendTimers } from "./_send_timers.ts";
import { containLogger } from "./_logger.ts";

/** Logger the runtime reports process crashes and protocol trouble to. */
export interface Logger {
  /** Something went wrong that nobody else will hear about. */
  error(message: string, details?: Record<string, unknown>): void;
  /** Worth knowing, not an error. */
  warn(message: string, details?: Record<string, unknown>): void;
}

/** A link by a name on another node, waiting for that node's answer. */
export interface NameLinkRequest {
  readonly proc: ProcessImpl;
  readonly name: string;
  readonly node: string;
  /** Keys of pids the process unlinked from while it waited. */
  unlinked: Set<string> | undefined;
}

export class Kernel {
  readonly runtime: Runtime;
  readonly node: string;
  readonly creation: number;
  readonly clock: Clock;
  readonly logger: Logger | undefined;
  readonly table: Map<number, ProcessImpl> = new Map();
  readonly names: Map<string, ProcessImpl> = new Map();
  /**
   * Local processes that have held links or monitors across the connection
   * to each remote node: one leaves when it exits or that connection is
   * lost, not when its last link or monitor there ends (which would take a
   * scan of its tables).
   */
  readonly byNode: Map<string, Set<ProcessImpl>> = new Map();
  router: Router | undefined = undefined;
  /**
   * Links by a name on another node waiting for that node's answer, by the
   * request's ref key. A requester that dies meanwhile stays here, so the
   * answer can still tell the other side why (its half is already set).
   */
  readonly nameLinks: Map<EntryKey, NameLinkRequest> = new Map();
  /** Timeouts of the processes' pending receives, on one host timer. */
  readonly receiveTimers: ReceiveTimers<ProcessImpl>;
  /** Timed sends (sendAfter), on a host timer of their own. */
  readonly sendTimers: SendTimers;
  stopped = false;
  #nextId = 0;
  #nextRef = 0;
  #startQueue: ProcessImpl[] = [];
  #startScheduled = false;
  #exitQueue: ProcessImpl[] = [];
  #draining = false;

  constructor(
    runtime: Runtime,
    node: string,
    creation: number,
    clock: Clock,
    logger: Logger | undefined,
  ) {
    this.runtime = runtime;
    this.node = node;
    this.creation = creation;
    this.clock = clock;
    this.receiveTimers = new ReceiveTimers(clock);
    this.logger = containLogger(logger);
    this.sendTimers = new SendTimers({
      clock,
      node,
      makeRef: () => this.makeRef(),
      isOwnRef: (ref) => ref.node === node && ref.creation === creation,
      isAlive: (pid) => this.lookup(pid) !== undefined,
      send: (dest, message) => this.send(dest, message, undefined),
      failed: (dest, error) => {
        // As in Erlang, a name nobody holds when the timer fires is no error.
        if (error instanceof NotRegisteredError) return;
        this.logger?.error(`A timed send to ${describe(dest)} failed`, {
          error,
        });
      },
    });
  }

  isLocal(pid: Pid): boolean {
    return pid.node === this.node && pid.creation === this.creation;
  }

  /** The live local process `pid` names, if any. */
  lookup(pid: Pid): ProcessImpl | undefined {
    if (pid.node !== this.node || pid.creation !== this.creation) {
      return undefined;
    }
    return this.table.get(pid.id);
  }

  /** Key under which `pid` is stored in link maps. */
  keyOf(pid: Pid): EntryKey {
    return this.isLocal(pid) ? pid.id : pid.key;
  }

  refKey(ref: Ref): EntryKey {
    return ref.node === this.node && ref.creation === this.creation
      ? ref.id
      : ref.key;
  }

  makeRef(): Ref {
    return new Ref(this.node, ++this.#nextRef, this.creation);
  }

  spawn(
    body: ProcessBody,
    options: SpawnOptions | undefined,
    parent: ProcessImpl | undefined,
    link: boolean,
  ): Pid {
    if (this.stopped) throw new RuntimeStoppedError("Cannot spawn");
    if (typeof body !== "function") {
      throw new InvalidArgumentError(
        "process body",
        `expected a function, got ${describe(body)}`,
      );
    }
    if (
      options !== undefined && (options === null || typeof options !== "object")
    ) {
      throw new InvalidArgumentError(
        "spawn options",
        `expected an object, got ${describe(options)}`,
      );
    }
    const trapExit = options?.trapExit;
    if (trapExit !== undefined && typeof trapExit !== "boolean") {
      throw new InvalidArgumentError(
        "trapExit option",
        `expected a boolean, got ${describe(trapExit)}`,
      );
    }
    const name = options?.name;
    if (name !== undefined) this.#checkName(name);
    const pid = new Pid(this.node, ++this.#nextId, this.creation);
    // A parent that already died (its body resumed from a receive that was
    // answered in the turn it was killed) acts inertly, as in its sends:
    // the pid it gets names no process, so its child never runs (P5).
    if (parent !== undefined && !parent.alive) return pid;
    const proc = new ProcessImpl(this, pid, body);
    this.table.set(pid.id, proc);
    if (options?.trapExit === true) proc.trapping = true;
    if (name !== undefined) this.#bindName(name, proc);
    if (link && parent !== undefined) {
      addLink(this, parent, pid);
      addLink(this, proc, parent.self);
    }
    this.#startQueue.push(proc);
    if (!this.#startScheduled) {
      this.#startScheduled = true;
      queueMicrotask(this.#flushStarts);
    }
    return pid;
  }

  // Bodies start together on a later turn than their spawn (P1).
  #flushStarts = (): void => {
    this.#startScheduled = false;
    const queue = this.#startQueue;
    this.#startQueue = [];
    for (let i = 0; i < queue.length; i++) this.#start(queue[i]!);
  };

  #start(proc: ProcessImpl): void {
    const body = proc.body;
    proc.body = undefined;
    if (!proc.alive || body === undefined) return;
    let result: unknown;
    let then: unknown;
    try {
      result = body(proc);
      // Whatever a body returns: null too, and a value whose `then` throws
      // is a crash, as awaiting it would be.
      then = result == null ? undefined : (result as { then?: unknown }).then;
    } catch (error) {
      this.exit(proc, Crash.from(error));
      return;
    }
    if (typeof then !== "function") {
      this.exit(proc, "normal");
      return;
    }
    try {
      then.call(
        result,
        () => this.exit(proc, "normal"),
        (error: unknown) => this.exit(proc, Crash.from(error)),
      );
    } catch (error) {
      this.exit(proc, Crash.from(error));
    }
  }

  /** Puts a message in a live process's mailbox, or hands it to its pending receive. */
  deliver(proc: ProcessImpl, message: unknown): void {
    if (!proc.alive) return;
    if (
      (proc.dropsLateReplies || proc.keptMonitor !== undefined) &&
      proc.dropCallLeftover(message)
    ) {
      return;
    }
    const resolve = proc.waitResolve;
    if (resolve !== undefined) {
      const match = proc.waitMatch;
      let accepted = true;
      if (match !== undefined) {
        try {
          // Truthy, as for a queued message (Mailbox.takeFirst).
          accepted = !!match(message);
        } catch (error) {
          proc.mailbox.push(message);
          this.exit(proc, Crash.from(error));
          return;
        }
      }
      if (accepted) {
        proc.waitResolve = undefined;
        proc.waitMatch = undefined;
        if (proc.waitDue !== 0) this.receiveTimers.remove(proc);
        this.resume(proc, resolve, message);
        return;
      }
    }
    proc.mailbox.push(message);
  }

  // Fairness, as Erlang's reductions give it. A process resumes in a
  // microtask, so processes resuming one another (a busy mailbox, a local
  // ping-pong) would keep the host from its timers and I/O for as long as
  // they have work: a node would miss its heartbeats. Every 32nd resume
  // reads the clock and, if none is pending and the last one came over
  // TURN_QUIET_MS ago, asks the host for a turn; once that turn is
  // TURN_BUDGET_MS overdue, resumes wait, in order, for another turn asked
  // for then, which comes after the timers that fell due before. (The quiet
  // spell matters: a node answering one message per I/O turn would
  // otherwise pay a host timer every 32 messages, 2 µs a message.) A turn
  // the host had anyway, such as a socket read through its event loop
  // (hostTurned), counts too: a node whose processes wake on the network
  // then sets no timer at all, where one every 10 ms cost tens of µs each
  // (timers are cold by then) and pushed 0.5-1% of round trips between
  // nodes past 100 µs.
  #resumes = 0;
  #hostTurned = false;
  // A quiet-spell turn has been asked for and has not come yet.
  #probing = false;
  // When the last turn came, or, while one is pending, when it was asked.
  #turnAt = -Infinity;
  #deferring = false;
  // Flat triples: process, resume function, value.
  #deferred: unknown[] = [];
  // Host turns asked for and not come yet; shutdown waits for them, so that
  // no timer of the runtime outlives it.
  #turnsPending = 0;
  #turnsSettled: PromiseWithResolvers<void> | undefined = undefined;

  /**
   * Whether a process about to resume must wait for the host's turn (then
   * it is handed to {@linkcode Kernel.defer}).
   */
  overdue(): boolean {
    if (this.#deferring) return true;
    if ((++this.#resumes & 31) !== 0) return false;
    if (this.clock.yieldToHost === undefined || this.stopped) return false;
    const now = this.clock.now();
    if (this.#hostTurned) {
      // A turn within the last 32 resumes: count it as now.
      this.#hostTurned = false;
      this.#turnAt = now;
    }
    if (!this.#probing) {
      if (now - this.#turnAt >= TURN_QUIET_MS) {
        this.#turnAt = now; // the budget counts from here
        this.#probing = true;
        this.#turnsPending++;
        // Setting a host timer costs tens of µs when timers are cold (and
        // they are, in a node answering one message per I/O turn): leave it
        // until the process about to resume has run to its next await, with
        // what it sends written. Its continuation is one microtask away,
        // queued after this one; the probe, two.
        queueMicrotask(this.#probeLater);
      }
      return false;
    }
    if (now - this.#turnAt < TURN_BUDGET_MS) return false;
    this.#deferring = true;
    this.#askTurn(this.#resumeDeferred);
    return true;
  }

  /** The host has just had a turn (see `LocalGate.hostTurned`). */
  hostTurned(): void {
    this.#hostTurned = true;
  }

  /**
   * While resumes are held back for the host's turn, a promise that
   * resolves once they have run; otherwise `undefined`. A source of
   * messages outside the processes (a connection's reader) waits on it, so
   * it does not fill the mailboxes of processes that cannot run.
   */
  heldBack(): Promise<void> | undefined {
    if (!this.#deferring) return undefined;
    return (this.#caughtUp ??= Promise.withResolvers<void>()).promise;
  }
  #caughtUp: PromiseWithResolvers<void> | undefined = undefined;

  /** Resumes `proc` with `fn(value)` once the host has had its turn. */
  defer<T>(proc: ProcessImpl, fn: (value: T) => void, value: T): void {
    this.#deferred.push(proc, fn, value);
  }

  /** Resumes `proc` with `fn(value)`: now, or after the host's turn if overdue. */
  resume<T>(proc: ProcessImpl, fn: (value: T) => void, value: T): void {
    if (this.overdue()) this.defer(proc, fn, value);
    else fn(value);
  }

  /** Resolves once every host turn asked for has come. */
  async hostTurnsSettled(): Promise<void> {
    if (this.#turnsPending === 0) return;
    await (this.#turnsSettled ??= Promise.withResolvers<void>()).promise;
  }

  #probeLater = (): void => queueMicrotask(this.#probe);

  #probe = (): void => {
    // Counted in #turnsPending since it was queued.
    if (this.stopped) this.#turnCame();
    else this.clock.yieldToHost!(this.#turnCame);
  };

  #askTurn(fn: () => void): TimerHandle {
    this.#turnsPending++;
    return this.clock.yieldToHost!(fn);
  }

  #turnDone(): void {
    if (--this.#turnsPending > 0 || this.#turnsSettled === undefined) return;
    this.#turnsSettled.resolve();
    this.#turnsSettled = undefined;
  }

  #turnCame = (): void => {
    this.#probing = false;
    this.#turnAt = this.clock.now();
    this.#turnDone();
  };

  #resumeDeferred = (): void => {
    this.#turnDone();
    this.#deferring = false;
    const deferred = this.#deferred;
    this.#deferred = [];
    for (let i = 0; i < deferred.length; i += 3) {
      // One killed meanwhile stays stopped where it was (P5).
      if ((deferred[i] as ProcessImpl).alive) {
        (deferred[i + 1] as (value: unknown) => void)(deferred[i + 2]);
      }
    }
    const caughtUp = this.#caughtUp;
    this.#caughtUp = undefined;
    caughtUp?.resolve();
  };

  send(dest: Dest, message: unknown, from: Pid | undefined): void {
    checkMessage(message);
    if (dest instanceof Pid) {
      if (dest.node === this.node) {
        // Same node name: a live local pid, or a pid of an earlier creation (dropped, D1).
        if (dest.creation === this.creation) {
          const proc = this.table.get(dest.id);
          if (proc !== undefined) this.deliver(proc, message);
        }
        return;
      }
      checkForeignPid(dest);
      this.router?.send(dest, message);
      return;
    }
    if (typeof dest === "string") {
      const proc = this.names.get(dest);
      if (proc === undefined) throw new NotRegisteredError(dest);
      this.deliver(proc, message);
      return;
    }
    const [name, node] = this.#remoteName(dest);
    if (node === this.node) {
      const proc = this.names.get(name);
      if (proc === undefined) throw new NotRegisteredError(name);
      this.deliver(proc, message);
      return;
    }
    this.router?.sendNamed(name, node, message, from);
  }

  /** Validates `[name, node]`; one on another node must fit the wire. */
  #remoteName(dest: unknown): [string, string] {
    if (
      Array.isArray(dest) && dest.length === 2 && typeof dest[0] === "string" &&
      typeof dest[1] === "string"
    ) {
      const [name, node] = dest;
      if (node !== this.node) {
        const fault = wireNameFault(name) ?? wireNameFault(node);
        if (fault !== undefined) {
          throw new InvalidArgumentError(
            "destination",
            `a [name, node] on another node travels by name: ${fault}`,
          );
        }
      }
      return [name, node];
    }
    throw badDestination(dest);
  }

  /** Resolves a destination to a pid; `undefined` for an unregistered name. */
  resolve(
    dest: Dest,
  ): { pid: Pid | undefined; name: string | undefined; node: string } {
    if (dest instanceof Pid) {
      if (dest.node !== this.node) checkForeignPid(dest);
      return { pid: dest, name: undefined, node: dest.node };
    }
    if (typeof dest === "string") {
      return { pid: this.names.get(dest)?.self, name: dest, node: this.node };
    }
    const [name, node] = this.#remoteName(dest);
    if (node === this.node) {
      return { pid: this.names.get(name)?.self, name, node };
    }
    return { pid: undefined, name, node };
  }

  link(proc: ProcessImpl, dest: Dest): void {
    const { pid, name, node } = this.resolve(dest);
    if (pid === undefined) {
      if (node !== this.node && name !== undefined) {
        return this.#linkName(proc, name, node);
      }
      // An unregistered local name: links need a pid. The signal comes from
      // the node's pseudo-pid (id 0), as no process had the name.
      this.signal(proc, new Pid(node, 0, 0), "noproc", "explicit");
      return;
    }
    if (pid.equals(proc.self)) return;
    if (this.isLocal(pid) || pid.node === this.node) {
      const other = this.lookup(pid);
      if (other === undefined) {
        this.signal(proc, pid, "noproc", "explicit"); // L4
        return;
      }
      addLink(this, proc, pid);
      addLink(this, other, proc.self);
      return;
    }
    if (this.nameLinks.size > 0) this.#unlinkedMeanwhile(proc, pid, false);
    const added = addLink(this, proc, pid);
    if (!added) return;
    if (this.router === undefined) {
      removeLink(this, proc, pid);
      this.signal(proc, pid, "noconnection", "explicit");
      return;
    }
    this.router.link(proc.self, pid);
  }

  // N3: the other node resolves the name and sets its half of the link; its
  // answer (LINK_NAME_REPLY) sets ours, or the loss of the connection ends
  // the wait with noconnection, as for a link to a pid there.
  #linkName(proc: ProcessImpl, name: string, node: string): void {
    if (this.router === undefined) {
      this.signal(proc, new Pid(node, 0, 0), "noconnection", "explicit");
      return;
    }
    const ref = this.makeRef();
    this.nameLinks.set(this.refKey(ref), {
      proc,
      name,
      node,
      unlinked: undefined,
    });
    this.router.linkName(proc.self, name, node, ref);
  }

  unlink(proc: ProcessImpl, pid: Pid): void {
    if (!(pid instanceof Pid)) {
      throw new InvalidArgumentError(
        "unlink target",
        `expected a Pid, got ${describe(pid)}`,
      );
    }
    if (this.nameLinks.size > 0) this.#unlinkedMeanwhile(proc, pid, true);
    if (!removeLink(this, proc, pid)) return;
    const other = this.lookup(pid);
    if (other !== undefined) {
      removeLink(this, other, proc.self);
      return;
    }
    if (!this.isLocal(pid) && pid.node !== this.node) {
      this.router?.unlink(proc.self, pid);
    }
  }

  // An unlink of a pid while links by name to its node are unanswered may
  // be of the process one of them names: the answer must then not link (and
  // the other side drops its half). A link to the pid made after the unlink
  // wins again: the last word is the process's.
  #unlinkedMeanwhile(proc: ProcessImpl, pid: Pid, unlinked: boolean): void {
    for (const request of this.nameLinks.values()) {
      if (request.proc !== proc || request.node !== pid.node) continue;
      if (unlinked) (request.unlinked ??= new Set()).add(pid.key);
      else request.unlinked?.delete(pid.key);
    }
  }

  monitor(proc: ProcessImpl, dest: Dest): Ref {
    const ref = this.makeRef();
    if (!proc.alive) return ref;
    // As Erlang: a process monitoring itself (by pid or by its name) gets a
    // ref and nothing else; it could never receive that Down.
    if (this.#namesSelf(proc, dest)) return ref;
    addMonitor(this, proc, ref, dest);
    return ref;
  }

  #namesSelf(proc: ProcessImpl, dest: Dest): boolean {
    if (dest instanceof Pid) return dest.equals(proc.self);
    if (proc.name === undefined) return false;
    if (typeof dest === "string") return dest === proc.name;
    return Array.isArray(dest) && dest[0] === proc.name &&
      dest[1] === this.node;
  }

  demonitor(proc: ProcessImpl, ref: Ref, flush: boolean): boolean {
    if (!(ref instanceof Ref)) {
      throw new InvalidArgumentError(
        "monitor reference",
        `expected a Ref, got ${describe(ref)}`,
      );
    }
    return removeMonitor(this, proc, ref, flush);
  }

  /** `exit(dest, reason)` sent by `from` (a process, or the runtime itself). */
  exitSignal(dest: Dest, reason: ExitReason, from: Pid): void {
    const { pid, name, node } = this.resolve(dest);
    if (pid === undefined) {
      // A name on another node is resolved there (EXIT2 carries it).
      if (node !== this.node && name !== undefined) {
        this.router?.exit(from, name, node, reason, "explicit");
      }
      return;
    }
    const target = this.lookup(pid);
    if (target !== undefined) {
      this.signal(target, from, reason, "explicit");
      return;
    }
    if (pid.node !== this.node) {
      this.router?.exit(from, pid, pid.node, reason, "explicit");
    }
  }

  /**
   * Applies an exit signal to a live local process (L2, L3). For a link
   * signal, the caller has already checked and removed the link.
   */
  signal(
    target: ProcessImpl,
    from: Pid,
    reason: ExitReason,
    cause: ExitCause,
  ): void {
    if (!target.alive) return;
    if (cause === "explicit" && reason === "kill") {
      this.exit(target, "killed");
    } else if (target.trapping) {
      this.deliver(target, new Exit(from, reason));
    } else if (reason !== "normal") {
      this.exit(target, reason);
    } else if (cause === "explicit" && from.equals(target.self)) {
      // As in Erlang, exit(self(), normal) ends the caller.
      this.exit(target, "normal");
    }
  }

  /**
   * Ends a process with `reason` (P2: once). The process is dead when this
   * returns: it leaves the table, its name and pending receive are dropped,
   * so nothing that happens later in the same turn (a `Down` or message from
   * the same cascade) can hand it a message and let its body resume (P5).
   * Telling its links, monitors and waiters is queued instead, so a chain of
   * thousands of links unwinds iteratively instead of recursing.
   */
  exit(proc: ProcessImpl, reason: ExitReason): void {
    if (!proc.alive) return;
    this.#kill(proc, reason);
    this.#exitQueue.push(proc);
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (let i = 0; i < this.#exitQueue.length; i++) {
        const dying = this.#exitQueue[i]!;
        try {
          this.#propagate(dying);
        } catch (error) {
          // A bug, but the other exits in the queue must still be told.
          this.logger?.error(`Propagating the exit of ${dying.self} failed`, {
            error,
          });
        }
      }
    } finally {
      this.#exitQueue = [];
      this.#draining = false;
    }
  }

  #kill(proc: ProcessImpl, reason: ExitReason): void {
    proc.alive = false;
    proc.exitReason = reason;
    proc.body = undefined;
    this.table.delete(proc.self.id);
    if (proc.name !== undefined) {
      this.names.delete(proc.name);
      proc.name = undefined;
    }
    // A pending receive is abandoned: the body never continues after it (P5).
    if (proc.waitDue !== 0) this.receiveTimers.remove(proc);
    proc.waitResolve = proc.waitMatch = undefined;
    proc.mailbox.clear();
    this.sendTimers.exited(proc.self.id);
  }

  #propagate(proc: ProcessImpl): void {
    const reason = proc.exitReason as ExitReason;
    if (
      reason !== "normal" && reason !== "shutdown" && this.logger !== undefined
    ) {
      this.logger.error(`Process ${proc.self} exited`, {
        pid: proc.self,
        reason,
      });
    }
    try {
      dropLinks(this, proc, reason);
      dropMonitors(this, proc, reason);
      untrackAll(this, proc);
    } finally {
      // Whatever failed above, those who await the exit hear of it.
      const waiters = proc.exitWaiters;
      proc.exitWaiters = undefined;
      if (waiters !== undefined) { for (const w of waiters) w(reason); }
      proc.controller?.abort(reason);
    }
  }

  /**
   * A router call made while telling an exit threw: a bug in the router,
   * logged, so that the exit's other links and monitors are still told.
   */
  routerFailed(from: Pid, error: unknown): void {
    this.logger?.error(
      `Telling another node of the exit of ${from} failed`,
      { error },
    );
  }

  register(name: string, pid: Pid): void {
    this.#checkName(name);
    if (!(pid instanceof Pid)) {
      throw new InvalidArgumentError(
        "pid",
        `expected a Pid, got ${describe(pid)}`,
      );
    }
    const proc = this.lookup(pid);
    if (proc === undefined) {
      throw new NoProcessError(`Cannot register "${name}"`, pid);
    }
    if (proc.name !== undefined) {
      throw new NameTakenError(
        name,
        pid,
        `Cannot register "${name}": ${pid} is already registered as "${proc.name}"`,
      );
    }
    this.#bindName(name, proc);
  }

  #checkName(name: unknown): asserts name is string {
    if (typeof name !== "string" || name.length === 0) {
      throw new InvalidArgumentError(
        "name",
        `expected a non-empty string, got ${describe(name)}`,
      );
    }
    const holder = this.names.get(name);
    if (holder !== undefined) {
      throw new NameTakenError(
        name,
        holder.self,
        `Cannot register "${name}": the name is taken by ${holder.self}`,
      );
    }
  }

  #bindName(name: string, proc: ProcessImpl): void {
    this.names.set(name, proc);
    proc.name = name;
  }

  unregister(name: string): boolean {
    const proc = this.names.get(name);
    if (proc === undefined) return false;
    this.names.delete(name);
    proc.name = undefined;
    return true;
  }

  /** Resolves with the exit reason of `pid` (`noproc` if it is not alive). */
  whenExited(pid: Pid): Promise<ExitReason> {
    const proc = this.lookup(pid);
    if (proc === undefined) return Promise.resolve("noproc");
    return new Promise((resolve) => (proc.exitWaiters ??= []).push(resolve));
  }

  shutdown(): void {
    this.stopped = true;
    this.#startQueue = [];
    for (const proc of [...this.table.values()]) this.exit(proc, "shutdown");
    this.receiveTimers.stop();
    this.sendTimers.stop();
    // Host turns asked for still come (and find nothing to do); the
    // runtime's shutdown waits for them.
    this.#deferred = [];
  }
}

/**
 * A pid of another node goes to the router as it is, and the Pid
 * constructor checks nothing: one the wire cannot carry is refused here.
 */
function checkForeignPid(pid: Pid): void {
  if (
    typeof pid.node !== "string" || typeof pid.id !== "number" ||
    typeof pid.creation !== "number"
  ) {
    throw new InvalidArgumentError(
      "pid",
      `expected a node name, an id and a creation, got node ${
        describe(pid.node)
      }, id ${describe(pid.id)}, creation ${describe(pid.creation)}`,
    );
  }
}
