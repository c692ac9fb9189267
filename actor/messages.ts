/**
 * System messages: what the runtime puts in a mailbox on a process's behalf.
 * They are classes, so `instanceof` tells them apart from user messages.
 *
 * @module
 */
import type { Pid, Ref } from "../wire/terms.ts";
import type { ExitReason } from "./reason.ts";

/**
 * Delivered to a monitoring process when the monitored process exits (M1),
 * or at once when it was never alive (`noproc`, M2) or its node cannot be
 * reached (`noconnection`, D6/D7).
 *
 * @example
 * ```ts
 * import { Down, Runtime } from "../mod.ts";
 * const rt = new Runtime();
 * const got = Promise.withResolvers<unknown>();
 * rt.spawn(async (proc) => {
 *   const ref = proc.monitor(proc.spawn(() => {}));
 *   const down = await proc.receive((m) => m instanceof Down && m.ref.equals(ref));
 *   got.resolve((down as Down).reason);
 * });
 * if (await got.promise !== "normal") throw new Error();
 * await rt.shutdown();
 * ```
 */
export class Down {
  /** The reference `monitor` returned. */
  readonly ref: Ref;
  /** The monitored process, when it is known (a monitor by name on an unregistered name has none). */
  readonly pid: Pid | undefined;
  /** The registered name, when the monitor was set by name. */
  readonly name: string | undefined;
  /** Node of the monitored process or name. */
  readonly node: string;
  /** Why the process exited. */
  readonly reason: ExitReason;

  /** Builds a `Down`; the runtime does this, user code rarely needs to. */
  constructor(
    ref: Ref,
    target: { pid?: Pid | undefined; name?: string | undefined; node: string },
    reason: ExitReason,
  ) {
    this.ref = ref;
    this.pid = target.pid;
    this.name = target.name;
    this.node = target.node;
    this.reason = reason;
  }
}

/**
 * Delivered to a process that traps exits instead of the exit signal that
 * would have killed it (L2): who sent it and why.
 *
 * @example
 * ```ts
 * import { Exit, Runtime } from "../mod.ts";
 * const rt = new Runtime();
 * const got = Promise.withResolvers<unknown>();
 * rt.spawn(async (proc) => {
 *   proc.trapExit(true);
 *   proc.spawnLink(() => { throw new Error("boom"); });
 *   const exit = await proc.receive((m) => m instanceof Exit);
 *   got.resolve(exit);
 * });
 * if (!(await got.promise instanceof Exit)) throw new Error();
 * await rt.shutdown();
 * ```
 */
export class Exit {
  /** The process the signal came from. */
  readonly from: Pid;
  /** The reason it carried. */
  readonly reason: ExitReason;

  /** Builds an `Exit`; the runtime does this, user code rarely needs to. */
  constructor(from: Pid, reason: ExitReason) {
    this.from = from;
    this.reason = reason;
  }
}
