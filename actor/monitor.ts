/**
 * Monitor bookkeeping (M1–M4): the watcher keeps `monitors` (refs it holds),
 * the target keeps `monitoredBy`. A `Down` is delivered only while the ref is
 * still held, which is what makes `demonitor` final (M3).
 *
 * @module
 */
import { SmallMap } from "./_small_map.ts";
import type { Ref } from "../wire/terms.ts";
import type { Kernel } from "./_kernel.ts";
import type { MonitorOut, ProcessImpl } from "./_process.ts";
import { Down } from "./messages.ts";
import type { Dest } from "./process.ts";
import type { ExitReason } from "./reason.ts";
import { trackNode, untrackNode } from "./link.ts";

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
  const watchers = proc.monitoredBy;
  proc.monitoredBy = undefined;
  if (watchers !== undefined) {
    for (const { ref, watcher, name } of watchers.values()) {
      const local = kernel.lookup(watcher);
      if (local !== undefined) {
        deliverDown(kernel, local, ref, reason, proc.self);
      } else if (watcher.node !== kernel.node) {
        untrackNode(kernel, proc, watcher.node);
        kernel.router?.monitorExit(proc.self, watcher, ref, reason, name);
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
        untrackNode(kernel, proc, out.node);
        kernel.router?.demonitor(
          proc.self,
          out.pid ?? out.name!,
          out.node,
          out.ref,
        );
      }
    }
  }
}
