/**
 * The seam between the process core and a distribution layer. The runtime
 * calls a {@linkcode Router} for everything aimed at a pid or name of another
 * node, and hands the router a {@linkcode LocalGate} through which signals
 * arriving from other nodes reach local processes. `actor/` never imports
 * `dist/`: this interface is all either side knows of the other.
 *
 * @module
 */
import type { Pid, Ref } from "../wire/terms.ts";
import type { ExitReason } from "./reason.ts";

/** Whether an exit signal comes from a link (DIST_EXIT) or from `exit(pid, reason)`. */
export type ExitCause = "link" | "explicit";

/**
 * Outbound: what the runtime asks of the distribution layer. Each method must
 * return without waiting; signals to one node must leave in call order (D5).
 * A destination that cannot be reached is the router's to report back through
 * the gate (`noconnection`), never by throwing — with one exception: `send`
 * and `sendNamed` throw when the message can never cross the wire (P3).
 */
export interface Router {
  /** Sends `message` to the remote pid `to`. */
  send(to: Pid, message: unknown): void;
  /** Sends `message` to the process registered as `name` on `node`. */
  sendNamed(
    name: string,
    node: string,
    message: unknown,
    from: Pid | undefined,
  ): void;
  /** Local `from` linked to remote `to` (the local side is already recorded). */
  link(from: Pid, to: Pid): void;
  /**
   * Local `from` links to the process registered as `name` on `node`. The
   * runtime recorded the request under `ref`; the answer comes back through
   * {@linkcode LocalGate.linkNameReply}, or the loss of the connection.
   */
  linkName(from: Pid, name: string, node: string, ref: Ref): void;
  /** Local `from` unlinked from remote `to` (the local side is already removed). */
  unlink(from: Pid, to: Pid): void;
  /**
   * An exit signal from local `from` to remote `to`: a pid, or (only when
   * `cause` is `"explicit"`) a name registered on `node`.
   */
  exit(
    from: Pid,
    to: Pid | string,
    node: string,
    reason: ExitReason,
    cause: ExitCause,
  ): void;
  /** Local `from` monitors `target` (a pid, or a name on `node`) under `ref`. */
  monitor(from: Pid, target: Pid | string, node: string, ref: Ref): void;
  /** Local `from` removed its monitor `ref` on `target`. */
  demonitor(from: Pid, target: Pid | string, node: string, ref: Ref): void;
  /** Local process `from` (monitored as `name`, if by name) exited: tell remote watcher `to`. */
  monitorExit(
    from: Pid,
    to: Pid,
    ref: Ref,
    reason: ExitReason,
    name: string | undefined,
  ): void;
  /** The runtime is shutting down: close every connection and listener. */
  close(): Promise<void>;
}

/**
 * Inbound: how the distribution layer reaches local processes. Pids of an
 * older creation of this node are treated as dead (D1).
 */
export interface LocalGate {
  /** This node's name. */
  readonly node: string;
  /** This node's creation number. */
  readonly creation: number;
  /** Delivers a message to a local pid; dropped if it is not alive. */
  deliver(to: Pid, message: unknown): void;
  /** Delivers a message to a locally registered name; false if unregistered. */
  deliverNamed(name: string, message: unknown): boolean;
  /** Remote `from` links to local `to`; false if `to` is not alive. */
  link(from: Pid, to: Pid): boolean;
  /**
   * Remote `from` links to the local process registered as `name`, which
   * takes its half of the link now; that process's pid, or `undefined` if
   * none has the name.
   */
  linkName(from: Pid, name: string): Pid | undefined;
  /**
   * The answer of `node` to a link by name made under `ref` (see
   * {@linkcode Router.linkName}): the pid linked to, or `undefined` if no
   * process there had the name. Answers for requests not pending (or made
   * to another node) are ignored. Returns the requester's pid if it took
   * its half of the link now, `undefined` otherwise (the router then sends
   * LINK as well if an unlink of that pair is still on its way, since that
   * unlink will take the other half away).
   */
  linkNameReply(ref: Ref, pid: Pid | undefined, node: string): Pid | undefined;
  /** Remote `from` unlinked from local `to`. */
  unlink(from: Pid, to: Pid): void;
  /**
   * An exit signal from remote `from` to local `to` (a pid, or a registered
   * name for an explicit one). Link signals for a link that no longer exists
   * are ignored.
   */
  exit(
    from: Pid,
    to: Pid | string,
    reason: ExitReason,
    cause: ExitCause,
  ): void;
  /**
   * Remote `from` monitors local `target` (pid or registered name) under
   * `ref`. Returns the monitored pid, or undefined when there is no such
   * live process (the caller answers `noproc`).
   */
  monitor(from: Pid, target: Pid | string, ref: Ref): Pid | undefined;
  /** Remote `from` removed its monitor `ref` on local `target`. */
  demonitor(from: Pid, target: Pid | string, ref: Ref): void;
  /** A monitored remote process (or name) exited: deliver `Down` to local watcher `to`. */
  down(
    to: Pid,
    ref: Ref,
    from: Pid | string,
    node: string,
    reason: ExitReason,
  ): void;
  /**
   * The connection to `node` is gone (D7): every link across it gives
   * `noconnection`, every monitor across it a `Down` `noconnection`, and every
   * record of that node is dropped.
   */
  nodeDown(node: string): void;
  /**
   * Remote spawn: a process `child` was spawned on its node at the request of
   * local `requester`, and that node already set its half of the link (when
   * `link`) and of the monitor (when `ref` is given, under that ref) before
   * the child ran. Records the local halves without sending anything, so an
   * `EXIT` or `MONITOR_EXIT` that follows finds them. Returns false, and
   * records nothing, when `requester` is no longer alive.
   */
  spawned(
    requester: Pid,
    child: Pid,
    link: boolean,
    ref: Ref | undefined,
  ): boolean;
  /**
   * While this runtime holds its processes back to give the host a turn
   * (fairness, see `RuntimeOptions.clock`), a promise that resolves once
   * they run again; otherwise `undefined`. A connection's reader waits on it
   * before reading more, so it does not fill mailboxes that cannot drain.
   */
  heldBack(): Promise<void> | undefined;
  /**
   * The host has just had a turn: a connection's reader calls it when a
   * read came through the host's event loop (see
   * `Connection.readsInHostTurns`). While such turns keep coming, the
   * runtime sets no host timer of its own to make sure of them (fairness).
   */
  hostTurned(): void;
  /** Makes a fresh reference of this node. */
  makeRef(): Ref;
  /** The local pids currently alive (for diagnostics). */
  processCount(): number;
  /** Detaches the router; remote destinations become unreachable. */
  detach(): void;
}
