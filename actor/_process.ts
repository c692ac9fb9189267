// The internal record of a process, which doubles as the `Process` handle its
// body receives. Fields are plain (not #private) because the kernel, link and
// monitor modules all work on them; none of this file is exported publicly.
import { Pid, Ref } from "../wire/terms.ts";
import { Mailbox, NO_MATCH } from "./mailbox.ts";
import { ConcurrentReceiveError, InvalidArgumentError } from "./errors.ts";
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
import { Crash } from "../wire/terms.ts";

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
  monitors: Map<EntryKey, MonitorOut> | undefined = undefined;
  monitoredBy: Map<EntryKey, MonitorIn> | undefined = undefined;
  // A pending receive: its matcher (undefined = any), resolver and timer.
  waitMatch: ((m: unknown) => boolean) | undefined = undefined;
  waitResolve: ((m: unknown) => void) | undefined = undefined;
  waitTimer: unknown = undefined;
  controller: AbortController | undefined = undefined;
  exitWaiters: ((reason: ExitReason) => void)[] | undefined = undefined;
  exitReason: ExitReason | undefined = undefined;

  constructor(kernel: Kernel, self: Pid, body: ProcessBody) {
    this.kernel = kernel;
    this.self = self;
    this.body = body;
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
    let match: ((m: unknown) => boolean) | undefined;
    let options: ReceiveOptions | undefined;
    if (typeof matchOrOptions === "function") {
      match = matchOrOptions;
      options = maybeOptions;
    } else if (
      matchOrOptions === undefined || typeof matchOrOptions === "object"
    ) {
      options = matchOrOptions ?? maybeOptions;
    } else {
      throw new InvalidArgumentError(
        "receive matcher",
        `expected a function or an options object, got ${typeof matchOrOptions}`,
      );
    }
    const timeout = options?.timeout;
    if (
      timeout !== undefined &&
      (typeof timeout !== "number" || Number.isNaN(timeout) || timeout < 0)
    ) {
      throw new InvalidArgumentError(
        "receive timeout",
        `expected a number of milliseconds >= 0, got ${String(timeout)}`,
      );
    }
    const kernel = this.kernel;
    if (!this.alive) return kernel.never;
    if (this.waitResolve !== undefined) {
      throw new ConcurrentReceiveError(this.self);
    }
    if (match === undefined) {
      if (this.mailbox.length > 0) return Promise.resolve(this.mailbox.shift());
    } else if (this.mailbox.length > 0) {
      let found: unknown;
      try {
        found = this.mailbox.takeFirst(match);
      } catch (error) {
        kernel.exit(this, Crash.from(error));
        return kernel.never;
      }
      if (found !== NO_MATCH) return Promise.resolve(found);
    }
    if (timeout === 0) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.waitMatch = match;
      this.waitResolve = resolve;
      if (timeout !== undefined && timeout !== Infinity) {
        this.waitTimer = kernel.clock.setTimeout(() => {
          if (this.waitResolve !== resolve) return;
          this.waitTimer = undefined;
          this.waitResolve = undefined;
          this.waitMatch = undefined;
          resolve(undefined);
        }, timeout);
      }
    });
  }

  send(dest: Dest, message: unknown): void {
    if (!this.alive) return;
    this.kernel.send(dest, message, this.self);
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
    return this.kernel.demonitor(this, ref, options?.flush === true);
  }

  trapExit(on: boolean): boolean {
    if (typeof on !== "boolean") {
      throw new InvalidArgumentError(
        "trapExit flag",
        `expected a boolean, got ${typeof on}`,
      );
    }
    const previous = this.trapping;
    this.trapping = on;
    return previous;
  }

  exit(dest: Dest, reason: ExitReason): void {
    if (!this.alive) return;
    this.kernel.exitSignal(dest, reason, this.self);
  }

  stop(reason: ExitReason = "normal"): Promise<never> {
    this.kernel.exit(this, reason);
    return this.kernel.never;
  }

  register(name: string): void {
    this.kernel.register(name, this.self);
  }

  async sleep(ms: number): Promise<void> {
    if (typeof ms !== "number" || Number.isNaN(ms) || ms < 0) {
      throw new InvalidArgumentError(
        "sleep time",
        `expected milliseconds >= 0, got ${String(ms)}`,
      );
    }
    await this.receive(neverMatches, { timeout: ms });
  }
}

function neverMatches(): boolean {
  return false;
}
