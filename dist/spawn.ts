/**
 * Remote spawn: the allow-list of what other nodes may start on this one,
 * the handling of `SPAWN_REQUEST` (serving side) and the table of requests
 * waiting for their `SPAWN_REPLY` (requesting side). {@linkcode Node} owns
 * one {@linkcode Spawner} and exposes it as `allowSpawn`, `spawn`,
 * `spawnLink`, `spawnMonitor` and `startServer`.
 *
 * Atomicity: the serving node spawns the process and sets its half of the
 * link or monitor in the same turn, before the body runs (P1), and sends the
 * reply on the same connection, so the reply leaves before anything the
 * child does. The requesting node records its half when the reply arrives;
 * if the requester has exited by then, it sends the child the requester's
 * exit signal (and removes the monitor), as Erlang's `spawn_request` does.
 *
 * @module
 */
import { Crash, type FrameOf, Pid, type Ref, Tag } from "../wire/mod.ts";
import type { Clock } from "../actor/clock.ts";
import type { LocalGate } from "../actor/router.ts";
import type { Process } from "../actor/process.ts";
import type { ExitReason } from "../actor/reason.ts";
import type { Runtime } from "../actor/runtime.ts";
import {
  describe,
  InvalidArgumentError,
  wireNameFault,
} from "../actor/errors.ts";
import {
  checkBehaviour,
  type ServerBehaviour,
  ServerStartError,
  startServer,
} from "../actor/server.ts";
import type { Session } from "./session.ts";
import { ProtocolError, RemoteSpawnError } from "./errors.ts";

/**
 * A process body that another node may start here: it gets the new process
 * and the arguments the requester sent. The arguments came over the wire:
 * check them as you would any input.
 */
export type RemoteBody<Args = unknown> = (
  proc: Process,
  args: Args,
) => void | Promise<void>;

/**
 * An entry of the spawn allow-list: a process body, or a server behaviour
 * (started with the request's arguments as `init`'s; the reply is sent once
 * `init` returned, and a failing `init` is the refusal reason).
 */
export type Spawnable =
  | { readonly body: RemoteBody<never> }
  | {
    // deno-lint-ignore no-explicit-any
    readonly server: ServerBehaviour<any, any, any, any, any>;
    /** Run the server with exits trapped (so `terminate` runs on its requester's exit). */
    readonly trapExit?: boolean;
  };

/** What to spawn where: the argument of `node.spawn` and friends. */
export interface RemoteSpawnRequest {
  /** The node to spawn on (this node's own name spawns locally). */
  readonly node: string;
  /** A name on that node's allow-list. */
  readonly name: string;
  /** Arguments for the body or the server's `init`. Default `null`. */
  readonly args?: unknown;
  /**
   * Milliseconds to wait for the reply; then the promise rejects with reason
   * `"timeout"`, and a process that is spawned after all gets exit signal
   * `"abandoned"` if it was linked (on this node's own name, a server whose
   * `init` has not returned by then is killed). Default: wait as long as the
   * connection lasts.
   */
  readonly timeout?: number;
}

/** What a {@linkcode Spawner} needs from its node. */
export interface SpawnerHost {
  readonly runtime: Runtime;
  readonly gate: LocalGate;
  readonly clock: Clock;
  /** Whether the node was stopped. */
  readonly stopped: boolean;
  /**
   * Queues `frame` for `node`, connecting if needed; returns the session it
   * went on, or `undefined` while it waits for the connection. Throws
   * `UnencodableValueError` if it cannot be encoded.
   */
  send(
    node: string,
    frame: FrameOf<typeof Tag.SPAWN_REQUEST>,
  ): Session | undefined;
}

interface Pending {
  readonly node: string;
  readonly name: string;
  readonly ref: Ref;
  readonly from: Pid;
  readonly caller: Process | undefined;
  readonly link: boolean;
  readonly monitor: boolean;
  readonly settle: PromiseWithResolvers<Pid>;
  /** The session the request left on; undefined while it waits for one. */
  session: Session | undefined;
  timer: unknown;
  /** Timed out: the caller has been told; a late child is undone. */
  abandoned: boolean;
}

/** The refusal reason for a name that is not on the allow-list. */
export const UNKNOWN_SPAWNABLE = "unknown_spawnable";

/** Remote spawn for one node: see the module doc. */
export class Spawner {
  #host: SpawnerHost;
  #allowed = new Map<string, Spawnable>();
  #pending = new Map<string, Pending>();

  constructor(host: SpawnerHost) {
    this.#host = host;
  }

  /** Adds `name` to the allow-list (replacing what it named before). */
  allow(name: string, spawnable: Spawnable): void {
    checkSpawnable(name, spawnable);
    this.#allowed.set(name, spawnable);
  }

  /** Removes `name` from the allow-list; false if it was not there. */
  disallow(name: string): boolean {
    return this.#allowed.delete(name);
  }

  // ---- requesting side ----

  /**
   * Asks `request.node` to spawn; resolves once the process runs (after
   * `init`, for a server), with `caller`'s link or monitor in place, to the
   * pid and the ref a `Down` for it carries (meaningful with `monitor`).
   */
  request(
    caller: Process | undefined,
    request: RemoteSpawnRequest,
    link: boolean,
    monitor: boolean,
  ): Promise<[Pid, Ref]> {
    const host = this.#host;
    const { node, name } = checkRequest(request);
    const timeout = request.timeout;
    if (
      timeout !== undefined &&
      (typeof timeout !== "number" || !(timeout >= 0))
    ) {
      throw new InvalidArgumentError(
        "spawn timeout",
        `expected milliseconds >= 0, got ${describe(timeout)}`,
      );
    }
    if (caller !== undefined) checkCaller(host.runtime, caller);
    const args = request.args === undefined ? null : request.args;
    if (host.stopped) {
      return Promise.reject(
        new RemoteSpawnError(node, name, "noconnection", {
          cause: new Error("this node has been stopped"),
        }),
      );
    }
    if (node === host.runtime.node) {
      return this.#local(caller, name, args, link, monitor, timeout);
    }
    const ref = host.gate.makeRef();
    const from = caller?.self ??
      new Pid(host.runtime.node, 0, host.runtime.creation);
    const entry: Pending = {
      node,
      name,
      ref,
      from,
      caller,
      link,
      monitor,
      settle: Promise.withResolvers<Pid>(),
      session: undefined,
      timer: undefined,
      abandoned: false,
    };
    // Throws, registering nothing, if `args` cannot cross the wire (P3).
    entry.session = host.send(node, {
      tag: Tag.SPAWN_REQUEST,
      from,
      ref,
      name,
      link,
      monitor,
      args,
    });
    this.#pending.set(ref.key, entry);
    if (timeout !== undefined && timeout !== Infinity) {
      entry.timer = host.clock.setTimeout(() => {
        entry.timer = undefined;
        entry.abandoned = true;
        entry.settle.reject(new RemoteSpawnError(node, name, "timeout"));
      }, timeout);
    }
    return entry.settle.promise.then((pid) => [pid, ref]);
  }

  /** Spawning on this very node: the same allow-list, no frames. */
  async #local(
    caller: Process | undefined,
    name: string,
    args: unknown,
    link: boolean,
    monitor: boolean,
    timeout: number | undefined,
  ): Promise<[Pid, Ref]> {
    const runtime = this.#host.runtime;
    const spawnable = this.#allowed.get(name);
    if (spawnable === undefined) {
      throw new RemoteSpawnError(runtime.node, name, UNKNOWN_SPAWNABLE);
    }
    const unmonitored = (pid: Pid): [Pid, Ref] => [pid, runtime.makeRef()];
    if ("body" in spawnable) {
      const body = bodyOf(spawnable.body, args);
      if (caller === undefined) return unmonitored(runtime.spawn(body));
      if (monitor) return caller.spawnMonitor(body);
      return unmonitored(link ? caller.spawnLink(body) : caller.spawn(body));
    }
    let pid: Pid;
    try {
      pid = await startServer(caller ?? runtime, spawnable.server, args, {
        ...(link ? { link: true } : {}),
        ...(spawnable.trapExit === true ? { trapExit: true } : {}),
        // The request's timeout bounds `init` here as the reply's wait does
        // remotely (a late server is killed; startServer rejects "timeout").
        ...(timeout !== undefined ? { initTimeout: timeout } : {}),
      });
    } catch (error) {
      throw new RemoteSpawnError(runtime.node, name, startReason(error), {
        cause: error,
      });
    }
    // Locally the monitor cannot be set before a server's init runs; set
    // now, it still yields a Down (noproc if the server is gone already).
    return monitor && caller !== undefined
      ? [pid, caller.monitor(pid)]
      : unmonitored(pid);
  }

  /** A SPAWN_REPLY arrived on `session`. */
  reply(session: Session, frame: FrameOf<typeof Tag.SPAWN_REPLY>): void {
    const entry = this.#pending.get(frame.ref.key);
    // A reply for a request we no longer hold (or never sent) is stale.
    if (entry === undefined || entry.session !== session) return;
    if (
      frame.ok &&
      (frame.pid.node !== session.peer ||
        frame.pid.creation !== session.creation)
    ) {
      throw new ProtocolError(
        session.peer,
        `SPAWN_REPLY with ${frame.pid}, a pid of another node or creation`,
      );
    }
    this.#pending.delete(frame.ref.key);
    this.#host.clock.clearTimeout(entry.timer);
    if (!frame.ok) {
      if (!entry.abandoned) {
        entry.settle.reject(
          new RemoteSpawnError(entry.node, entry.name, frame.reason),
        );
      }
      return;
    }
    const child = frame.pid;
    const owned = !entry.abandoned &&
      (entry.caller === undefined ||
        this.#host.gate.spawned(
          entry.caller.self,
          child,
          entry.link,
          entry.monitor ? entry.ref : undefined,
        ));
    if (owned) {
      entry.settle.resolve(child);
      return;
    }
    // Nobody holds the local half: undo the remote one.
    if (entry.link) {
      const reason: ExitReason = entry.abandoned
        ? "abandoned"
        : exitReasonOf(entry.caller);
      const exit = { tag: Tag.EXIT, from: entry.from, to: child } as const;
      try {
        session.send({ ...exit, reason });
      } catch (unsendable) {
        // The requester died with a reason that cannot cross the wire: the
        // child still hears of it (and the connection stays up).
        session.send({ ...exit, reason: Crash.from(unsendable) });
      }
    }
    if (entry.monitor) {
      session.send({
        tag: Tag.DEMONITOR,
        from: entry.from,
        to: child,
        ref: entry.ref,
      });
    }
    if (!entry.abandoned) {
      entry.settle.reject(
        new RemoteSpawnError(entry.node, entry.name, "noproc"),
      );
    }
  }

  /** Requests that waited for the connection to `node` left on `session`. */
  sessionUp(node: string, session: Session): void {
    for (const entry of this.#pending.values()) {
      if (entry.node === node && entry.session === undefined) {
        entry.session = session;
      }
    }
  }

  /** The connection `session` is gone: its requests get no reply. */
  sessionEnded(session: Session): void {
    this.#failWhere(
      (e) => e.session === session,
      () => undefined,
    );
  }

  /** `node` could not be reached: requests waiting for it fail. */
  unreachable(node: string, error: unknown): void {
    this.#failWhere(
      (e) => e.node === node && e.session === undefined,
      () => error,
    );
  }

  /** The node stops: every request fails, every timer goes (S1). */
  stop(): void {
    this.#failWhere(
      () => true,
      () => new Error("this node has been stopped"),
    );
  }

  #failWhere(
    match: (entry: Pending) => boolean,
    cause: () => unknown,
  ): void {
    for (const [key, entry] of [...this.#pending]) {
      if (!match(entry)) continue;
      this.#pending.delete(key);
      this.#host.clock.clearTimeout(entry.timer);
      if (entry.abandoned) continue;
      const why = cause();
      entry.settle.reject(
        new RemoteSpawnError(
          entry.node,
          entry.name,
          "noconnection",
          why === undefined ? undefined : { cause: why },
        ),
      );
    }
  }

  // ---- serving side ----

  /** A SPAWN_REQUEST arrived on `session`: spawn, set link/monitor, reply. */
  serve(session: Session, frame: FrameOf<typeof Tag.SPAWN_REQUEST>): void {
    const { runtime, gate } = this.#host;
    const { from, ref } = frame;
    const refuse = (reason: unknown) =>
      session.send({ tag: Tag.SPAWN_REPLY, to: from, ref, ok: false, reason });
    const spawnable = this.#allowed.get(frame.name);
    if (spawnable === undefined) return refuse(UNKNOWN_SPAWNABLE);
    if (runtime.stopped || this.#host.stopped) return refuse("shutdown");
    // Both run before the child's first line: the body starts on a later
    // turn (P1), a server's user `init` only after this.
    const attach = (pid: Pid) => {
      if (frame.link) gate.link(from, pid);
      if (frame.monitor) gate.monitor(from, pid, ref);
    };
    if ("body" in spawnable) {
      const pid = runtime.spawn(bodyOf(spawnable.body, frame.args));
      attach(pid);
      session.send({ tag: Tag.SPAWN_REPLY, to: from, ref, ok: true, pid });
      return;
    }
    const user = spawnable.server;
    const request: RemoteStart = { session, attach, replied: false };
    const init = remoteInit(user, request, runtime, from, ref);
    // The wrapper inherits every callback (also from a frozen or class-based
    // behaviour); only `init` is put around.
    const behaviour: ServerBehaviour<unknown, unknown> = Object.create(user, {
      init: { value: init, enumerable: true },
    });
    startServer(runtime, behaviour, frame.args, {
      ...(spawnable.trapExit === true ? { trapExit: true } : {}),
    }).catch((error) => {
      if (request.replied) return;
      try {
        refuse(startReason(error));
      } catch (unsendable) {
        // Any value may be an exit reason; one that cannot cross the wire
        // must not escape as an unhandled rejection (D10), and the requester
        // still hears that the start failed.
        refuse(Crash.from(unsendable));
      }
    });
  }
}

/** A remote request to start a server, as its wrapped `init` sees it. */
interface RemoteStart {
  /** Dropped once init has run (the server outlives the connection). */
  session: Session | undefined;
  attach: ((pid: Pid) => void) | undefined;
  replied: boolean;
}

/**
 * The `init` put around a server's own for a remote start. Made out here,
 * not in `serve`, so that it closes over nothing but what it is given: the
 * server keeps it for life, and a closure made in `serve` would keep all of
 * that call's variables alive with it, the session and its buffers first.
 */
function remoteInit(
  user: ServerBehaviour<unknown, unknown>,
  request: RemoteStart,
  runtime: Runtime,
  from: Pid,
  ref: Ref,
): (args: unknown, self: Process) => Promise<unknown> {
  return async (args, self) => {
    const session = request.session!;
    const attach = request.attach!;
    request.session = request.attach = undefined;
    // Once the requester's connection is gone it has been told
    // `noconnection`: nobody will ever learn this pid, so it ends.
    if (session.closed) return self.stop("noconnection");
    attach(self.self);
    const state = await user.init(args, self);
    if (session.closed) return self.stop("noconnection");
    if (runtime.isAlive(self.self)) {
      request.replied = true;
      session.send({
        tag: Tag.SPAWN_REPLY,
        to: from,
        ref,
        ok: true,
        pid: self.self,
      });
    }
    return state;
  };
}

function bodyOf(
  body: RemoteBody<never>,
  args: unknown,
): (proc: Process) => void | Promise<void> {
  return (proc) => (body as RemoteBody)(proc, args);
}

function startReason(error: unknown): unknown {
  return error instanceof ServerStartError ? error.reason : Crash.from(error);
}

function exitReasonOf(caller: Process | undefined): ExitReason {
  const signal = caller?.signal;
  return signal?.aborted === true ? signal.reason as ExitReason : "noproc";
}

function checkRequest(request: RemoteSpawnRequest): {
  node: string;
  name: string;
} {
  if (typeof request !== "object" || request === null) {
    throw new InvalidArgumentError(
      "spawn request",
      `expected { node, name, args? }, got ${describe(request)}`,
    );
  }
  const { node, name } = request;
  if (typeof node !== "string" || node.length === 0) {
    throw new InvalidArgumentError(
      "spawn request node",
      `expected a node name, got ${describe(node)}`,
    );
  }
  if (typeof name !== "string" || name.length === 0) {
    throw new InvalidArgumentError(
      "spawn request name",
      `expected a non-empty string, got ${describe(name)}`,
    );
  }
  const fault = wireNameFault(node) ?? wireNameFault(name);
  if (fault !== undefined) {
    throw new InvalidArgumentError("spawn request", fault);
  }
  return { node, name };
}

/**
 * Checks an allow-list entry: its name (see {@linkcode checkSpawnableName})
 * and a `{ body }` whose body is a function or a `{ server }` whose
 * behaviour passes `checkBehaviour`.
 */
export function checkSpawnable(name: unknown, spawnable: unknown): void {
  checkSpawnableName(name);
  if (typeof spawnable !== "object" || spawnable === null) {
    throw new InvalidArgumentError(
      `spawnable ${describe(name)}`,
      `expected { body: (proc, args) => … } or { server: behaviour }, got ${
        describe(spawnable)
      }`,
    );
  }
  if ("body" in spawnable) {
    if (typeof (spawnable as { body: unknown }).body !== "function") {
      throw new InvalidArgumentError(
        `spawn body for ${describe(name)}`,
        `expected a function (proc, args) => …, got ${
          describe((spawnable as { body: unknown }).body)
        }`,
      );
    }
  } else if ("server" in spawnable) {
    checkBehaviour(
      (spawnable as { server: unknown }).server,
      `server behaviour for ${describe(name)}`,
    );
  } else {
    throw new InvalidArgumentError(
      `spawnable ${describe(name)}`,
      "expected { body: (proc, args) => … } or { server: behaviour }",
    );
  }
}

/**
 * Checks a name for the spawn allow-list: a non-empty, well-formed string
 * of at most 255 UTF-8 bytes (what the SPAWN_REQUEST frame carries).
 */
export function checkSpawnableName(name: unknown): asserts name is string {
  if (typeof name !== "string" || name.length === 0) {
    throw new InvalidArgumentError(
      "spawnable name",
      `expected a non-empty string, got ${describe(name)}`,
    );
  }
  const fault = wireNameFault(name);
  if (fault !== undefined) {
    throw new InvalidArgumentError("spawnable name", fault);
  }
}

function checkCaller(runtime: Runtime, caller: Process): void {
  if (
    typeof caller !== "object" || caller === null ||
    caller.runtime !== runtime
  ) {
    throw new InvalidArgumentError(
      "caller",
      "expected a Process of this node's runtime",
    );
  }
}
