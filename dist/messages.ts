/**
 * Node-monitoring messages (D8) and the global-name conflict notice: classes,
 * so `instanceof` tells them apart.
 *
 * @module
 */
import type { Pid } from "../wire/terms.ts";

/**
 * Why a connection to a node was lost, or could not be made:
 * - `"connection_closed"`: the socket closed or broke;
 * - `"heartbeat_timeout"`: nothing was heard for the tick time (D9);
 * - `"protocol_error"`: the peer sent something malformed (D10);
 * - `"node_stopped"`: this node was stopped;
 * - `"disconnected"`: `disconnect` was called;
 * - `"unreachable"`: no connection could be made (no address, refused, handshake failed).
 */
export type NodeDownReason =
  | "connection_closed"
  | "heartbeat_timeout"
  | "protocol_error"
  | "node_stopped"
  | "disconnected"
  | "unreachable";

/**
 * The connection to `node` was lost or could not be made.
 *
 * @example
 * ```ts
 * import { NodeDown } from "./messages.ts";
 * const m: unknown = new NodeDown("b@host", "heartbeat_timeout");
 * if (!(m instanceof NodeDown) || m.reason !== "heartbeat_timeout") throw new Error();
 * ```
 */
export class NodeDown {
  /** The node. */
  readonly node: string;
  /** Why. */
  readonly reason: NodeDownReason;
  /** Builds the message. */
  constructor(node: string, reason: NodeDownReason) {
    this.node = node;
    this.reason = reason;
  }
}

/** A connection to `node` was established. */
export class NodeUp {
  /** The node. */
  readonly node: string;
  /** Its creation number (a new one after a restart). */
  readonly creation: number;
  /** Builds the message. */
  constructor(node: string, creation: number) {
    this.node = node;
    this.creation = creation;
  }
}

/** What node-event subscribers receive: {@linkcode NodeUp} or {@linkcode NodeDown}. */
export type NodeEvent = NodeUp | NodeDown;

/**
 * Sent to a process that held a global name and lost it to a concurrent
 * registration of the same name on another node (the winner is the pid that
 * sorts first: by node name, then creation, then id). Only the node hosting
 * the loser sends it, so the loser is told exactly once; the process itself
 * keeps running.
 *
 * @example
 * ```ts
 * import { GlobalNameConflict } from "./messages.ts";
 * import { Pid } from "../mod.ts";
 * const m: unknown = new GlobalNameConflict("db", new Pid("a@host", 3, 1));
 * if (!(m instanceof GlobalNameConflict) || m.winner.node !== "a@host") throw new Error();
 * ```
 */
export class GlobalNameConflict {
  /** The global name that was lost. */
  readonly name: string;
  /**
   * The process that beat it. With three or more concurrent claims the name
   * may move on to a claim that sorts earlier still; `node.whereisGlobal`
   * says who holds it now.
   */
  readonly winner: Pid;
  /** Builds the message. */
  constructor(name: string, winner: Pid) {
    this.name = name;
    this.winner = winner;
  }
}
