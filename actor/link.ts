/**
 * Link bookkeeping (L1–L5): links are stored on both processes, keyed by the
 * peer's local id or, for a pid of another node, its string key. The rules
 * that apply exit signals live in the kernel; this file keeps the tables and
 * the per-node index that lets a lost connection find its links (D7).
 *
 * @module
 */
import type { Pid } from "../wire/terms.ts";
import type { Kernel } from "./_kernel.ts";
import type { ProcessImpl } from "./_process.ts";
import type { ExitReason } from "./reason.ts";

/** Records that `proc` is linked to `pid`; false if it already was (L1: idempotent). */
export function addLink(kernel: Kernel, proc: ProcessImpl, pid: Pid): boolean {
  const key = kernel.keyOf(pid);
  const links = proc.links ??= new Map();
  if (links.has(key)) return false;
  links.set(key, pid);
  if (typeof key === "string") trackNode(kernel, proc, pid.node);
  return true;
}

/** Removes `proc`'s link to `pid`; false if there was none. */
export function removeLink(
  kernel: Kernel,
  proc: ProcessImpl,
  pid: Pid,
): boolean {
  return proc.links?.delete(kernel.keyOf(pid)) === true;
}

/** On exit: every linked process gets an exit signal with `reason` (L2). */
export function dropLinks(
  kernel: Kernel,
  proc: ProcessImpl,
  reason: ExitReason,
): void {
  const links = proc.links;
  if (links === undefined) return;
  proc.links = undefined;
  const self = proc.self;
  for (const [key, pid] of links) {
    if (typeof key === "number") {
      const other = kernel.table.get(key);
      if (other !== undefined && other.links?.delete(self.id) === true) {
        kernel.signal(other, self, reason, "link");
      }
    } else {
      try {
        kernel.router?.exit(self, pid, pid.node, reason, "link");
      } catch (error) {
        kernel.routerFailed(self, error);
      }
    }
  }
}

/** Notes that `proc` holds a link or monitor across the connection to `node`. */
export function trackNode(
  kernel: Kernel,
  proc: ProcessImpl,
  node: string,
): void {
  let set = kernel.byNode.get(node);
  if (set === undefined) kernel.byNode.set(node, set = new Set());
  set.add(proc);
  (proc.nodes ??= new Set()).add(node);
}

/**
 * On exit: forgets `proc` in the index of every node it was noted under.
 * Links and monitors that ended before (unlinked, demonitored, fired) leave
 * no trace in its tables, so the index, not those tables, says where it is:
 * otherwise a process that once spoke to a node would stay indexed there
 * (and in memory) for as long as that connection lasts.
 */
export function untrackAll(kernel: Kernel, proc: ProcessImpl): void {
  const nodes = proc.nodes;
  if (nodes === undefined) return;
  proc.nodes = undefined;
  for (const node of nodes) {
    const set = kernel.byNode.get(node);
    if (set === undefined) continue;
    set.delete(proc);
    if (set.size === 0) kernel.byNode.delete(node);
  }
}
