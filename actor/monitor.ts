/**
 * Monitor bookkeeping (M1–M4): the watcher keeps `monitors` (refs it holds),
 * the target keeps `monitoredBy`. A `Down` is delivered only while the ref is
 * still held, which is what makes `demonitor` final (M3).
 *
 * @module
 */
import { SmallMap } from "./_small_map.ts";
import { Pid, type Ref } from "../wire/terms.ts";
import type { Kernel } from "./_kernel.ts";
import type { CallWatch, MonitorOut, ProcessImpl } from "./_process.ts";
import { Down } from "./messages.ts";
import type { Dest } from "./process.ts";
import type { ExitReason } from "./reason.ts";
import { trackNode } from "./link.ts";

/** `proc` starts monitoring `dest` under `ref` (a fresh local ref). */
export function addMonitor(
  kernel: Kernel,
  proc: ProcessImpl,
  ref: Ref,
  dest: Dest,
): void {
  const { pid, name, node } = kernel.resolve(dest);
  const out: MonitorOut = { ref, pid, name, node };
  if (node === kernel.node) {
    const target = pid === undefined ? undefined : kernel.lookup(pid);
    if (target === undefined) {
      kernel.deliver(proc, new Down(ref, out, "noproc")); // M2
      return;
    }
    (proc.monitors ??= new SmallMap()).set(ref.id, out);
    (target.monitoredBy ??= new SmallMap()).set(ref.id, {
      ref,
      watcher: proc.self,
      name,
    });
    return;
  }
  (proc.monitors ??= new SmallMap()).set(ref.id, out);
  trackNode(kernel, proc, node);
  if (kernel.router === undefined) {
    deliverDown(kernel, proc, ref, "noconnection", undefined);
    return;
  }
  kernel.router.monitor(proc.self, pid ?? name!, node, ref);
}

/** Removes `proc`'s monitor `ref` (M3); with `flush`, also its queued `Down`. */
export function removeMonitor(
  kernel: Kernel,
  proc: ProcessImpl,
  ref: Ref,
  flush: boolean,
): boolean {
  const key = kernel.refKey(ref);
  const out = proc.monitors?.get(key);
  if (out !== undefined) {
    proc.monitors!.delete(key);
    if (out.node === kernel.node) {
      if (out.pid !== undefined) {
        kernel.lookup(out.pid)?.monitoredBy?.delete(key);
      }
    } else {
      kernel.router?.demonitor(proc.self, out.pid ?? out.name!, out.node, ref);
    }
  }
  if (flush && proc.mailbox.length > 0) {
    proc.mailbox.removeAll((m) => m instanceof Down && m.ref.equals(ref));
  }
  return out !== undefined;
}

/**
 * A caller watches the local server `dest` for its call `watch.ref` (set by
 * the caller, and left set after the watch ends), as a monitor would, but
 * with no maps or entries to build and tear down: a call sets one up and
 * removes it at once, and a monitor's bookkeeping cost more than a third of
 * a local call. The server keeps its callers' watches in an array; its exit
 * delivers each one's `Down`, exactly as a monitor would. False, with
 * nothing set, if `dest` is not a live local process (the call then
 * monitors it, which reports `noproc` or goes through the router).
 */
export function watchCall(
  kernel: Kernel,
  watch: CallWatch,
  dest: Dest,
): boolean {
  let target: ProcessImpl | undefined;
  let name: string | undefined;
  if (dest instanceof Pid) {
    target = kernel.lookup(dest);
  } else if (typeof dest === "string") {
    target = kernel.names.get(dest);
    name = dest;
  } else if (
    Array.isArray(dest) && dest.length === 2 && dest[1] === kernel.node &&
    typeof dest[0] === "string"
  ) {
    target = kernel.names.get(dest[0]);
    name = dest[0];
  }
  if (target === undefined || !watch.proc.alive) return false;
  if (watch.callee !== undefined) return false; // one call at a time
  watch.callee = target;
  watch.name = name;
  const callers = target.callers ??= [];
  watch.slot = target.callerCount++;
  callers[watch.slot] = watch;
  return true;
}

/** Ends `watch` (no-op if the server already exited). */
export function unwatchCall(watch: CallWatch): void {
  const callee = watch.callee;
  if (callee === undefined) return;
  watch.callee = undefined;
  const callers = callee.callers!;
  const end = --callee.callerCount;
  const last = callers[end]!;
  callers[end] = undefined;
  if (last !== watch) {
    callers[watch.slot] = last;
    last.slot = watch.slot;
  }
  // After a crowd of callers, give the slots back once most are free.
  if (callers.length > MIN_CALLER_SLOTS && end < callers.length >> 2) {
    callers.length = callers.length >> 1;
  }
}

/** A server keeps at least this many caller slots once it has had callers. */
const MIN_CALLER_SLOTS = 16;

/**
 * Delivers `Down` for `ref` to `watcher` if it still holds that monitor.
 * `from` fills in the pid when the monitor was set by name.
 */
export function deliverDown(
  kernel: Kernel,
  watcher: ProcessImpl,
  ref: Ref,
  reason: ExitReason,
  from: import("../wire/terms.ts").Pid | undefined,
): void {
  const key = kernel.refKey(ref);
  const out = watcher.monitors?.get(key);
  if (out === undefined) return;
  watcher.monitors!.delete(key);
  kernel.deliver(
    watcher,
    new Down(
      ref,
      { pid: from ?? out.pid, name: out.name, node: out.node },
      reason,
    ),
  );
}

/** On exit: watchers get their `Down`s (M1); monitors this process held are released. */
export function dropMonitors(
  kernel: Kernel,
  proc: ProcessImpl,
  reason: ExitReason,
): void {
  if (proc.callWatch?.callee !== undefined) unwatchCall(proc.callWatch);
  const callers = proc.callers?.slice(0, proc.callerCount);
  proc.callers = undefined;
  proc.callerCount = 0;
  if (callers !== undefined) {
    for (const watch of callers as CallWatch[]) {
      watch.callee = undefined;
      kernel.deliver(
        watch.proc,
        new Down(
          watch.ref!,
          { pid: proc.self, name: watch.name, node: kernel.node },
          reason,
        ),
      );
    }
  }
  const watchers = proc.monitoredBy;
  proc.monitoredBy = undefined;
  if (watchers !== undefined) {
    for (const { ref, watcher, name } of watchers.values()) {
      const local = kernel.lookup(watcher);
      if (local !== undefined) {
        deliverDown(kernel, local, ref, reason, proc.self);
      } else if (watcher.node !== kernel.node) {
        try {
          kernel.router?.monitorExit(proc.self, watcher, ref, reason, name);
        } catch (error) {
          kernel.routerFailed(proc.self, error);
        }
      }
    }
  }
  const held = proc.monitors;
  proc.monitors = undefined;
  if (held !== undefined) {
    for (const [key, out] of held) {
      if (out.node === kernel.node) {
        if (out.pid !== undefined) {
          kernel.lookup(out.pid)?.monitoredBy?.delete(key);
        }
      } else {
        try {
          kernel.router?.demonitor(
            proc.self,
            out.pid ?? out.name!,
            out.node,
            out.ref,
          );
        } catch (error) {
          kernel.routerFailed(proc.self, error);
        }
      }
    }
  }
}
