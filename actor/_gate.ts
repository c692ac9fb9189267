// The LocalGate a router gets: how signals from other nodes reach local
// processes. Everything arriving here has already crossed the wire, so each
// method checks that its target is a live local process and drops otherwise.
import { SmallMap } from "./_small_map.ts";
import { Pid, type Ref } from "../wire/terms.ts";
import type { Kernel } from "./_kernel.ts";
import type { ProcessImpl } from "./_process.ts";
import { Down } from "./messages.ts";
import { addLink, removeLink, trackNode } from "./link.ts";
import { deliverDown } from "./monitor.ts";
import type { ExitReason } from "./reason.ts";
import type { ExitCause, LocalGate } from "./router.ts";

export function makeGate(kernel: Kernel, detach: () => void): LocalGate {
  const target = (dest: Pid | string): ProcessImpl | undefined =>
    dest instanceof Pid ? kernel.lookup(dest) : kernel.names.get(dest);
  // The pseudo-pid (id 0) of `node`, the sender of signals about a name
  // that no process there held (or could be asked about).
  const nodePid = (node: string) => new Pid(node, 0, 0);
  return {
    node: kernel.node,
    creation: kernel.creation,
    deliver(to: Pid, message: unknown): void {
      const proc = kernel.lookup(to);
      if (proc !== undefined) kernel.deliver(proc, message);
    },
    heldBack: () => kernel.heldBack(),
    hostTurned: () => kernel.hostTurned(),
    deliverNamed(name: string, message: unknown): boolean {
      const proc = kernel.names.get(name);
      if (proc === undefined) return false;
      kernel.deliver(proc, message);
      return true;
    },
    link(from: Pid, to: Pid): boolean {
      const proc = kernel.lookup(to);
      if (proc === undefined) return false;
      addLink(kernel, proc, from);
      return true;
    },
    linkName(from: Pid, name: string): Pid | undefined {
      const proc = kernel.names.get(name);
      if (proc === undefined) return undefined;
      addLink(kernel, proc, from);
      return proc.self;
    },
    linkNameReply(
      ref: Ref,
      pid: Pid | undefined,
      node: string,
    ): Pid | undefined {
      const key = kernel.refKey(ref);
      const request = kernel.nameLinks.get(key);
      if (request === undefined || request.node !== node) return undefined;
      kernel.nameLinks.delete(key);
      const { proc } = request;
      if (pid === undefined) {
        kernel.signal(proc, nodePid(node), "noproc", "explicit");
      } else if (request.unlinked?.has(pid.key)) {
        // Unlinked while it waited: take the other half away too (and not
        // with an exit signal, should it have died since), and any half a
        // LINK from that pid made here meanwhile: the unlink came later.
        removeLink(kernel, proc, pid);
        kernel.router?.unlink(proc.self, pid);
      } else if (proc.alive) {
        addLink(kernel, proc, pid);
        return proc.self;
      } else {
        // Died waiting: the other half learns why, as through the link.
        kernel.router?.exit(
          proc.self,
          pid,
          node,
          proc.exitReason as ExitReason, // set for every dead process
          "link",
        );
      }
      return undefined;
    },
    unlink(from: Pid, to: Pid): void {
      const proc = kernel.lookup(to);
      if (proc !== undefined) removeLink(kernel, proc, from);
    },
    exit(
      from: Pid,
      to: Pid | string,
      reason: ExitReason,
      cause: ExitCause,
    ): void {
      const proc = target(to);
      if (proc === undefined) return;
      if (cause === "link" && !removeLink(kernel, proc, from)) return;
      kernel.signal(proc, from, reason, cause);
    },
    monitor(from: Pid, dest: Pid | string, ref: Ref): Pid | undefined {
      const proc = target(dest);
      if (proc === undefined) return undefined;
      (proc.monitoredBy ??= new SmallMap()).set(kernel.refKey(ref), {
        ref,
        watcher: from,
        name: typeof dest === "string" ? dest : undefined,
      });
      trackNode(kernel, proc, from.node);
      return proc.self;
    },
    demonitor(_from: Pid, dest: Pid | string, ref: Ref): void {
      target(dest)?.monitoredBy?.delete(kernel.refKey(ref));
    },
    down(
      to: Pid,
      ref: Ref,
      from: Pid | string,
      node: string,
      reason: ExitReason,
    ): void {
      const proc = kernel.lookup(to);
      // Only a monitor on that node's own processes: refs are easy to
      // guess, and a peer must not fire (and so cancel) one on a local or
      // third-node process.
      if (
        proc !== undefined &&
        proc.monitors?.get(kernel.refKey(ref))?.node === node
      ) {
        deliverDown(
          kernel,
          proc,
          ref,
          reason,
          from instanceof Pid ? from : undefined,
        );
      }
    },
    nodeDown(node: string): void {
      // Links by name still waiting for this node's answer end as a link
      // to a pid there would (D7).
      const unanswered: ProcessImpl[] = [];
      for (const [key, request] of kernel.nameLinks) {
        if (request.node !== node) continue;
        kernel.nameLinks.delete(key);
        if (request.proc.alive) unanswered.push(request.proc);
      }
      const procs = kernel.byNode.get(node);
      if (procs === undefined) {
        for (const proc of unanswered) {
          kernel.signal(proc, nodePid(node), "noconnection", "explicit");
        }
        return;
      }
      kernel.byNode.delete(node);
      // First forget everything the connection carried, then deliver, so a
      // process reacting to a Down sees a consistent state (D7).
      const downs: [ProcessImpl, Down][] = [];
      const exits: [ProcessImpl, Pid][] = [];
      for (const proc of procs) {
        proc.nodes?.delete(node);
        if (!proc.alive) continue;
        if (proc.links !== undefined) {
          for (const [key, pid] of proc.links) {
            if (typeof key === "string" && pid.node === node) {
              proc.links.delete(key);
              exits.push([proc, pid]);
            }
          }
        }
        if (proc.monitors !== undefined) {
          for (const [key, out] of proc.monitors) {
            if (out.node === node) {
              proc.monitors.delete(key);
              downs.push([proc, new Down(out.ref, out, "noconnection")]);
            }
          }
        }
        if (proc.monitoredBy !== undefined) {
          for (const [key, entry] of proc.monitoredBy) {
            if (entry.watcher.node === node) proc.monitoredBy.delete(key);
          }
        }
      }
      for (const [proc, down] of downs) kernel.deliver(proc, down);
      for (const [proc, pid] of exits) {
        kernel.signal(proc, pid, "noconnection", "link");
      }
      for (const proc of unanswered) {
        kernel.signal(proc, nodePid(node), "noconnection", "explicit");
      }
    },
    spawned(
      requester: Pid,
      child: Pid,
      link: boolean,
      ref: Ref | undefined,
    ): boolean {
      const proc = kernel.lookup(requester);
      if (proc === undefined) return false;
      if (link) addLink(kernel, proc, child);
      if (ref !== undefined) {
        (proc.monitors ??= new SmallMap()).set(kernel.refKey(ref), {
          ref,
          pid: child,
          name: undefined,
          node: child.node,
        });
        trackNode(kernel, proc, child.node);
      }
      return true;
    },
    makeRef: () => kernel.makeRef(),
    processCount: () => kernel.table.size,
    detach,
  };
}
