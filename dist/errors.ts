/**
 * Errors of the distribution layer: named classes with the node they concern.
 *
 * @module
 */
import {
  MoteError,
  NameTakenError,
  NotRegisteredError,
} from "../actor/errors.ts";
import type { Pid } from "../wire/terms.ts";

/** A node could not be reached: no address is known, the connection or the handshake failed. */
export class NodeUnreachableError extends MoteError {
  /** The node that could not be reached. */
  readonly node: string;
  /** Builds the error; `why` says what failed. */
  constructor(node: string, why: string, options?: ErrorOptions) {
    super(`Cannot reach node ${node}: ${why}`, options);
    this.node = node;
  }
}

/** The handshake with a peer failed: wrong cookie, refusal, timeout or a malformed frame (D3). */
export class HandshakeError extends MoteError {
  /** The peer's node name, when it was learnt. */
  readonly node: string | undefined;
  /** Builds the error. */
  constructor(message: string, node?: string, options?: ErrorOptions) {
    super(message, options);
    this.node = node;
  }
}

/** The peer refused the handshake, with its reason (e.g. `"simultaneous connect"`). */
export class HandshakeRefusedError extends HandshakeError {
  /** The reason the peer gave. */
  readonly reason: string;
  /** Builds the error. */
  constructor(node: string | undefined, reason: string) {
    super(`Handshake refused by ${node ?? "peer"}: ${reason}`, node);
    this.reason = reason;
  }
}

/** A peer broke the protocol after the handshake (D10): the connection is closed. */
export class ProtocolError extends MoteError {
  /** The peer's node name. */
  readonly node: string;
  /** Builds the error. */
  constructor(node: string, message: string, options?: ErrorOptions) {
    super(`Protocol error from ${node}: ${message}`, options);
    this.node = node;
  }
}

/** The node has been stopped, so it cannot do what was asked. */
export class NodeStoppedError extends MoteError {
  /** Builds the error; `what` says what could not be done. */
  constructor(what: string) {
    super(`${what}: the node has been stopped`);
  }
}

/**
 * A call on process groups whose scope process has stopped (by
 * `Groups.stop`, a crash, or its runtime's shutdown).
 */
export class GroupsStoppedError extends MoteError {
  /** The scope's name. */
  readonly scope: string;
  /** Builds the error for scope `scope`. */
  constructor(scope: string) {
    super(`The process groups scope ${scope} has stopped`);
    this.scope = scope;
  }
}

/**
 * Registering a global name that this node's replica already maps to another
 * live process. It is a {@linkcode NameTakenError}, so code that handles
 * local and global names alike can catch that.
 *
 * @example
 * ```ts
 * import { GlobalNameTakenError } from "./errors.ts";
 * import { NameTakenError, Pid } from "../mod.ts";
 * const e = new GlobalNameTakenError("db", new Pid("b@host", 7, 1));
 * if (!(e instanceof NameTakenError) || e.name !== "GlobalNameTakenError") throw new Error();
 * ```
 */
export class GlobalNameTakenError extends NameTakenError {
  /** Builds the error: `name` is held by `holder`. */
  constructor(name: string, holder: Pid) {
    super(
      name,
      holder,
      `Cannot register "${name}" globally: the name is taken by ${holder}`,
    );
  }
}

/**
 * Sending to a global name that this node's replica does not know. It is a
 * {@linkcode NotRegisteredError}, as for a local name (P3).
 *
 * @example
 * ```ts
 * import { GlobalNotRegisteredError } from "./errors.ts";
 * import { NotRegisteredError } from "../mod.ts";
 * const e = new GlobalNotRegisteredError("db");
 * if (!(e instanceof NotRegisteredError) || e.registeredName !== "db") throw new Error();
 * ```
 */
export class GlobalNotRegisteredError extends NotRegisteredError {
  /** Builds the error for `name`. */
  constructor(name: string) {
    super(name);
    this.message =
      `Cannot send to global name "${name}": no process holds it in the cluster this node knows`;
  }
}

/**
 * A remote spawn did not produce a process. `reason` says why:
 * - `"unknown_spawnable"`: the name is not on that node's allow-list;
 * - `"noconnection"`: the node could not be reached, the connection was lost
 *   before the reply came, or this node was stopped (`cause` tells which);
 * - `"timeout"`: no reply within the `timeout` option;
 * - `"noproc"`: the requesting process exited before the reply came (a
 *   linked child then gets its exit signal);
 * - `"shutdown"`: the node asked is shutting down;
 * - any other value: the spawned server's `init` failed with that reason (a
 *   `Crash` when it threw).
 *
 * @example
 * ```ts
 * import { RemoteSpawnError } from "./errors.ts";
 * const e = new RemoteSpawnError("b@host", "worker", "unknown_spawnable");
 * if (e.name !== "RemoteSpawnError" || e.reason !== "unknown_spawnable") throw new Error();
 * ```
 */
export class RemoteSpawnError extends MoteError {
  /** The node asked to spawn. */
  readonly node: string;
  /** The allow-listed name that was asked for. */
  readonly spawnName: string;
  /** Why nothing was spawned. */
  readonly reason: unknown;
  /** Builds the error. */
  constructor(
    node: string,
    spawnName: string,
    reason: unknown,
    options?: ErrorOptions,
  ) {
    super(
      `Cannot spawn "${spawnName}" on ${node}: ${renderReason(reason)}`,
      options,
    );
    this.node = node;
    this.spawnName = spawnName;
    this.reason = reason;
  }
}

// A reason that came over the wire may defeat String() (a map with a
// `toString` key that is not a function): the error must still be built.
function renderReason(reason: unknown): string {
  try {
    return tryRenderReason(reason);
  } catch {
    return Object.prototype.toString.call(reason);
  }
}

function tryRenderReason(reason: unknown): string {
  if (typeof reason === "string") return reason;
  if (
    reason instanceof Error ||
    (typeof reason === "object" && reason !== null && "message" in reason &&
      "name" in reason)
  ) {
    const r = reason as { name: unknown; message: unknown };
    return `${String(r.name)}: ${String(r.message)}`;
  }
  try {
    return JSON.stringify(reason) ?? String(reason);
  } catch {
    return String(reason);
  }
}
