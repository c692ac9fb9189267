/**
 * Supervisor children on other nodes: {@linkcode remoteChild} builds a
 * `ChildSpec` whose `start` spawns, through remote spawn, on the first of a
 * list of nodes that accepts. The child is linked to the supervisor
 * atomically, so when its node goes away the supervisor sees it exit with
 * `noconnection` and restarts it by its usual rules, on the next node that
 * answers. A node that is stopped (not lost) stops its processes first, so
 * the child exits with `shutdown`: a `permanent` child is restarted
 * elsewhere, but a `transient` one, for which `shutdown` is a normal end, is
 * not, as in OTP.
 *
 * @module
 */
import type { ChildSpec } from "../actor/supervisor.ts";
import type { Pid } from "../wire/mod.ts";
import { describe, InvalidArgumentError } from "../actor/errors.ts";
import type { Node } from "./node.ts";
import { RemoteSpawnError } from "./errors.ts";

/** Options for {@linkcode remoteChild}. */
export interface RemoteChildOptions extends Omit<ChildSpec, "id" | "start"> {
  /** The node the supervisor runs on: it sends the spawn requests. */
  readonly via: Node;
  /** Where the child may run, in order of preference (this node's name is allowed too). */
  readonly nodes: readonly string[];
  /** The allow-listed body or server to spawn on them. */
  readonly name: string;
  /** Arguments for it. Default `null`. */
  readonly args?: unknown;
  /** Milliseconds to wait for each node's reply before trying the next. Default: no limit. */
  readonly timeout?: number;
}

/**
 * A child spec that starts `options.name` on the first of `options.nodes`
 * that spawns it (linked to the supervisor, atomically). A node that cannot
 * be reached or refuses is skipped; when every node failed, the start fails
 * with the last node's {@linkcode RemoteSpawnError}. Throws
 * `InvalidArgumentError` for an id that is not a non-empty string, no
 * nodes, or a `via` that is not a Node; a bad `restart` or `shutdown` is
 * refused when the spec reaches `startSupervisor` or `startChild`.
 *
 * @example
 * ```ts
 * import { remoteChild, startNode } from "./mod.ts";
 * import { startSupervisor, whichChildren } from "../mod.ts";
 * await using a = await startNode({ name: "a@127.0.0.1", cookie: "c" });
 * await using b = await startNode({ name: "b@127.0.0.1", cookie: "c" });
 * b.allowSpawn("worker", async (proc) => { for (;;) await proc.receive(); });
 * await a.connect(b.name, b.address!);
 * const sup = await startSupervisor(a.runtime, {
 *   strategy: "one_for_one",
 *   children: [remoteChild("w", { via: a, nodes: [b.name], name: "worker" })],
 * });
 * const [child] = await whichChildren(a.runtime, sup);
 * if (child?.pid?.node !== b.name) throw new Error();
 * ```
 */
export function remoteChild(
  id: string,
  options: RemoteChildOptions,
): ChildSpec {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError(
      "remoteChild options",
      `expected { via, nodes, name, args?, timeout? }, got ${
        describe(options)
      }`,
    );
  }
  const { via, nodes, name, args, timeout, ...rest } = options;
  if (typeof id !== "string" || id.length === 0) {
    throw new InvalidArgumentError(
      "child id",
      `expected a non-empty string, got ${describe(id)}`,
    );
  }
  if (
    !Array.isArray(nodes) || nodes.length === 0 ||
    !nodes.every((n) => typeof n === "string" && n.length > 0)
  ) {
    throw new InvalidArgumentError(
      "nodes",
      `expected a non-empty array of node names, got ${describe(nodes)}`,
    );
  }
  if (typeof via?.spawnLink !== "function") {
    throw new InvalidArgumentError(
      "via",
      `expected the supervisor's Node, got ${describe(via)}`,
    );
  }
  return {
    id,
    ...rest,
    start: async (sup): Promise<Pid> => {
      let last: RemoteSpawnError | undefined;
      for (const node of nodes) {
        try {
          return await via.spawnLink(sup, {
            node,
            name,
            ...(args !== undefined ? { args } : {}),
            ...(timeout !== undefined ? { timeout } : {}),
          });
        } catch (error) {
          if (!(error instanceof RemoteSpawnError)) throw error;
          last = error;
        }
      }
      throw last!;
    },
  };
}
