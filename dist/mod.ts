/**
 * Distribution for Mote: nodes that connect over TCP, TLS
 * ({@linkcode tlsTransport}) or any {@linkcode Transport}, so processes on different nodes send to, link to
 * and monitor each other, and a crash or a lost connection on one node
 * reaches the watchers on the other (`noconnection`, `NodeDown`). Global
 * names (`node.registerGlobal`, `whereisGlobal`, `sendGlobal`) name a process
 * for the whole cluster. A node may also let others start allow-listed
 * processes and servers on it (remote spawn: {@linkcode Node.allowSpawn},
 * {@linkcode Node.spawnLink}, {@linkcode remoteChild} for supervisors).
 *
 * @example
 * ```ts
 * import { startNode } from "./mod.ts";
 * import { Down } from "../mod.ts";
 * await using a = await startNode({ name: "a@127.0.0.1", cookie: "c" });
 * await using b = await startNode({ name: "b@127.0.0.1", cookie: "c" });
 * await a.connect(b.name, b.address!);
 * const remote = b.runtime.spawn(async (proc) => {
 *   await proc.receive(); // "go" comes after the monitor (D5: in order)
 *   return proc.stop("bye");
 * });
 * const got = Promise.withResolvers<Down>();
 * a.runtime.spawn(async (proc) => {
 *   proc.monitor(remote);
 *   proc.send(remote, "go");
 *   got.resolve(await proc.receive((m): m is Down => m instanceof Down));
 * });
 * if ((await got.promise).reason !== "bye") throw new Error();
 * ```
 *
 * @module
 */
export { Node, startNode } from "./node.ts";
export type { NodeOptions, PeerStats, RemoteServerRequest } from "./node.ts";
export type { RemoteBody, RemoteSpawnRequest, Spawnable } from "./spawn.ts";
export { remoteChild } from "./remote_child.ts";
export type { RemoteChildOptions } from "./remote_child.ts";
export { GlobalNameConflict, NodeDown, NodeUp } from "./messages.ts";
export type { NodeDownReason, NodeEvent } from "./messages.ts";
export { tcpTransport } from "./transport.ts";
export { tlsTransport } from "./tls_transport.ts";
export type { TlsTransportOptions } from "./tls_transport.ts";
export type {
  Address,
  Connection,
  Listener,
  Transport,
  TransportConnectOptions,
} from "./transport.ts";
export { MemoryTransport } from "./memory_transport.ts";
export type { MemoryConnection } from "./memory_transport.ts";
export {
  GroupEvent,
  GroupJoin,
  GroupLeave,
  Groups,
  startGroups,
} from "./groups.ts";
export type { GroupsOptions } from "./groups.ts";
export {
  GlobalNameTakenError,
  GlobalNotRegisteredError,
  GroupsStoppedError,
  HandshakeError,
  HandshakeRefusedError,
  NodeStoppedError,
  NodeUnreachableError,
  ProtocolError,
  RemoteSpawnError,
} from "./errors.ts";
export type { SessionStats } from "./session.ts";
