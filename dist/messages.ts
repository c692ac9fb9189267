/**
 * Node-monitoring messages (D8): classes, so `instanceof` tells them apart.
 *
 * @module
 */

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
