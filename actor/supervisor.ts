/**
 * Supervisors, as in Erlang's `supervisor`: a process that starts children
 * in order, restarts them when they exit (per their restart type and the
 * supervisor's strategy), gives up when they restart too often, and stops
 * them in reverse order. A supervisor is a server trapping exits, so it is
 * itself a valid child of another supervisor.
 *
 * @module
 */
import { Crash, Pid } from "../wire/terms.ts";
import {
  describe,
  InvalidArgumentError,
  isInstance,
  MoteError,
} from "./errors.ts";
import { Down, Exit } from "./messages.ts";
import { ProcessImpl } from "./_process.ts";
import type { Dest, Process } from "./process.ts";
import type { ExitReason } from "./reason.ts";
import {
  call,
  type Caller,
  type CallResult,
  type CastResult,
  checkBehaviour,
  checkCaller,
  checkOptions,
  InitStop,
  type ServerBehaviour,
  ServerStartError,
  startServer,
  type StartServerOptions,
} from "./server.ts";

/**
 * When a child is restarted: `permanent` always, `transient` only after an
 * abnormal exit (not `normal`, `shutdown` or `["shutdown", detail]`, the
 * shape of Erlang's `{shutdown, Term}`), `temporary` never (its spec is
 * dropped once it exits).
 */
export type RestartType = "permanent" | "transient" | "temporary";

/**
 * Which children restart with a failed one: `one_for_one` only it,
 * `one_for_all` all of them, `rest_for_one` it and those started after it.
 */
export type Strategy = "one_for_one" | "one_for_all" | "rest_for_one";

/**
 * What a child is, as OTP's `child_type`: a `supervisor` (a supervisor
 * itself, or anything that supervises in turn) or a `worker` (anything
 * else). It decides the default shutdown (`Infinity` for a supervisor, 5000
 * ms for a worker) and how {@linkcode countChildren} counts the child.
 */
export type ChildType = "worker" | "supervisor";

/** How a supervisor starts, restarts and stops one child. */
export interface ChildSpec {
  /** A non-empty string, unique among the supervisor's children. */
  readonly id: string;
  /**
   * Starts the child and returns its pid. It must link the child to `sup`,
   * atomically: `startServer(sup, behaviour, args, { link: true })`,
   * `sup.spawnLink(body)` or `startSupervisor(sup, { ...opts, link: true })`.
   * (The supervisor links again afterwards, which is harmless, as a safety net.)
   * Anything but a pid is a failed start: OTP's `ignore` has no counterpart.
   */
  readonly start: (sup: Process) => Promise<Pid> | Pid;
  /** Default `permanent`. */
  readonly restart?: RestartType;
  /**
   * How to stop it: milliseconds between the exit signal `shutdown` and a
   * `kill` (`Infinity` waits forever, the right choice for a supervisor
   * child; 0 kills at once, giving a child that traps exits no turn to act
   * on the `shutdown`), or `brutal_kill`. Default 5000 for a worker,
   * `Infinity` for a supervisor (as in OTP).
   */
  readonly shutdown?: number | "brutal_kill";
  /**
   * Whether the child is a `worker` or a `supervisor`. Default `worker`, as
   * in OTP; {@linkcode supervisorChild} sets `supervisor`.
   */
  readonly type?: ChildType;
}

/** Options for {@linkcode startSupervisor}. */
export interface SupervisorOptions {
  /** Restart strategy. */
  readonly strategy: Strategy;
  /**
   * Restarts allowed within `period` before the supervisor gives up: an
   * integer >= 0. Default 3.
   */
  readonly intensity?: number;
  /**
   * Milliseconds over which restarts are counted (one exactly `period` ago
   * still counts, as in OTP): a number > 0. Default 5000. Mote counts
   * milliseconds; OTP counts whole seconds (`period` 1000 there counts a
   * restart up to almost 2 s old), so Mote gives up a little less often.
   */
  readonly period?: number;
  /**
   * Children, started in this order and stopped in the reverse order. As in
   * OTP the list is required; `[]` makes a supervisor whose children all
   * come later, through {@linkcode startChild}.
   */
  readonly children: readonly ChildSpec[];
  /** Register the supervisor under this name. */
  readonly name?: string;
  /** Link the supervisor to the calling process (a process caller only). */
  readonly link?: boolean;
}

/** One child, as {@linkcode whichChildren} reports it. */
export interface ChildInfo {
  /** Its id. */
  readonly id: string;
  /** Its pid while it runs, `undefined` when it is stopped. */
  readonly pid: Pid | undefined;
  /** Its restart type. */
  readonly restart: RestartType;
  /** Whether it is a worker or a supervisor (its spec's `type`). */
  readonly type: ChildType;
}

/**
 * A supervisor's children, counted as {@linkcode countChildren} reports
 * them (OTP's `count_children`).
 */
export interface ChildCounts {
  /** Children whose spec the supervisor keeps, running or stopped. */
  readonly specs: number;
  /** Children that are running. */
  readonly active: number;
  /** Children of type `supervisor`, running or stopped. */
  readonly supervisors: number;
  /** Children of type `worker`, running or stopped. */
  readonly workers: number;
}

/**
 * A supervisor refused a request: `reason` is `"already_started"` (a child
 * with that id runs: `pid` is its pid), `"already_present"` (a child with
 * that id is stopped), `"not_found"`, `"running"`, or the reason a child
 * failed to start (for a server child, the reason its start failed with:
 * the {@linkcode Crash} of its `init`, say; for a `start` that threw
 * anything else, the `Crash` of what it threw).
 */
export class SupervisorError extends MoteError {
  /** Why the request failed. */
  readonly reason: unknown;
  /** With `"already_started"`: the running child's pid. */
  readonly pid: Pid | undefined;
  /** Builds the error; `what` says what could not be done. */
  constructor(
    what: string,
    reason: unknown,
    options?: ErrorOptions & { readonly pid?: Pid },
  ) {
    super(
      `${what}: ${describeReason(reason)}${
        options?.pid !== undefined ? ` (${options.pid})` : ""
      }`,
      options,
    );
    this.reason = reason;
    this.pid = options?.pid;
  }
}

/**
 * {@linkcode startSupervisor} failed because the child `childId` failed to
 * start, with `childReason`. As in OTP, the children started before it were
 * stopped in reverse order, and the supervisor exited with
 * `["shutdown", ["failed_to_start_child", childId, childReason]]` (Erlang's
 * `{shutdown, {failed_to_start_child, Id, Reason}}`), which is also this
 * error's `reason`. A {@linkcode ServerStartError}, so a nested supervisor
 * that fails this way fails its parent's start with that reason as the
 * child's reason.
 *
 * @example
 * ```ts
 * import { isCrash, Runtime, startSupervisor, SupervisorStartError } from "../mod.ts";
 * const rt = new Runtime();
 * const error = await startSupervisor(rt, {
 *   strategy: "one_for_one",
 *   children: [{ id: "db", start: () => { throw new Error("no database"); } }],
 * }).catch((e) => e);
 * if (!(error instanceof SupervisorStartError) || error.childId !== "db") throw new Error();
 * if (!isCrash(error.childReason) || error.childReason.message !== "no database") {
 *   throw new Error();
 * }
 * await rt.shutdown();
 * ```
 */
export class SupervisorStartError extends ServerStartError {
  /** The id of the child that failed to start. */
  readonly childId: string;
  /** Why it failed (see {@linkcode SupervisorError} for its shape). */
  readonly childReason: ExitReason;
  /** Builds the error; `cause` is what the child's start threw. */
  constructor(
    childId: string,
    childReason: ExitReason,
    options?: ErrorOptions,
  ) {
    super(
      ["shutdown", ["failed_to_start_child", childId, childReason]],
      options,
    );
    this.message = `Cannot start supervisor: child ${
      describe(childId)
    } failed to start: ${describeReason(childReason)}`;
    this.childId = childId;
    this.childReason = childReason;
  }
}

/**
 * Builds a child spec for a server: it is started linked to the supervisor
 * and traps exits, so its `terminate` runs when the supervisor stops it.
 * Throws `InvalidArgumentError` for an id that is not a non-empty string, a
 * behaviour without an `init` function, or a bad restart type or shutdown.
 *
 * @example
 * ```ts
 * import { Runtime, serverChild, startSupervisor, whichChildren } from "../mod.ts";
 * const rt = new Runtime();
 * const sup = await startSupervisor(rt, {
 *   strategy: "one_for_one",
 *   children: [serverChild("cache", { init: () => new Map() }, undefined)],
 * });
 * const [child] = await whichChildren(rt, sup);
 * if (child?.id !== "cache" || child.pid === undefined) throw new Error();
 * await rt.shutdown();
 * ```
 */
export function serverChild<Args, State, Call, Reply, Cast>(
  id: string,
  behaviour: ServerBehaviour<Args, State, Call, Reply, Cast>,
  args: Args,
  options: Omit<StartServerOptions, "link"> & Omit<ChildSpec, "id" | "start"> =
    {},
): ChildSpec {
  checkId(id);
  checkBehaviour(behaviour, `server behaviour of child ${describe(id)}`);
  checkOptions(`options of child ${describe(id)}`, options);
  const { restart, shutdown, type, ...start } = options;
  checkRestart(id, restart);
  checkShutdown(id, shutdown);
  checkType(id, type);
  return {
    id,
    start: (sup) =>
      startServer(sup, behaviour, args, {
        trapExit: true,
        ...start,
        link: true,
      }),
    ...(restart !== undefined ? { restart } : {}),
    ...(shutdown !== undefined ? { shutdown } : {}),
    ...(type !== undefined ? { type } : {}),
  };
}

/**
 * Builds a child spec for a nested supervisor: type `supervisor`, shutdown
 * `Infinity` (wait for it to stop its own children).
 * Throws `InvalidArgumentError` for a bad id, options or restart type, as
 * {@linkcode startSupervisor} would reject them.
 *
 * @example
 * ```ts
 * import { Runtime, startSupervisor, supervisorChild } from "../mod.ts";
 * const rt = new Runtime();
 * const top = await startSupervisor(rt, {
 *   strategy: "one_for_all",
 *   children: [
 *     supervisorChild("inner", { strategy: "one_for_one", children: [] }),
 *   ],
 * });
 * if (!rt.isAlive(top)) throw new Error();
 * await rt.shutdown();
 * ```
 */
export function supervisorChild(
  id: string,
  options: Omit<SupervisorOptions, "link">,
  restart: RestartType = "permanent",
): ChildSpec {
  checkId(id);
  checkSupervisorOptions(options);
  checkRestart(id, restart);
  return {
    id,
    start: (sup) => startSupervisor(sup, { ...options, link: true }),
    restart,
    shutdown: Infinity,
    type: "supervisor",
  };
}

/**
 * Starts a supervisor: a process trapping exits that starts `children` in
 * order. Resolves once all of them started. If one fails to start, those
 * already started are stopped in reverse order, the supervisor exits with
 * `["shutdown", ["failed_to_start_child", id, reason]]` (OTP's
 * `{shutdown, {failed_to_start_child, Id, Reason}}`) and this rejects with
 * {@linkcode SupervisorStartError}, carrying the child's id and reason. (A
 * linked caller hears of it through that rejection only, as from any
 * server whose `init` fails: it gets no exit signal.) Rejects with
 * `InvalidArgumentError`, before starting anything, for a caller that is
 * not a runtime or one of its processes, a missing or unknown strategy, an
 * intensity that is not an integer >= 0, a period that is not a number > 0,
 * a missing `children` list or a bad child spec (see
 * {@linkcode ChildSpec}); with {@linkcode SupervisorError} for two children
 * with one id.
 *
 * @example
 * ```ts
 * import { Runtime, startSupervisor, whichChildren } from "../mod.ts";
 * const rt = new Runtime();
 * const sup = await startSupervisor(rt, {
 *   strategy: "one_for_one",
 *   children: [{
 *     id: "worker",
 *     start: (sup) => sup.spawnLink(async (p) => { await p.receive(); }),
 *   }],
 * });
 * const [worker] = await whichChildren(rt, sup);
 * rt.exit(worker!.pid!, "crash");
 * await rt.whenExited(worker!.pid!);
 * const [again] = await whichChildren(rt, sup);
 * if (again!.pid === undefined || again!.pid.equals(worker!.pid)) throw new Error();
 * await rt.shutdown();
 * ```
 */
export async function startSupervisor(
  caller: Caller,
  options: SupervisorOptions,
): Promise<Pid> {
  checkCaller(caller);
  checkSupervisorOptions(options);
  const ids = new Set<string>();
  for (const spec of options.children) {
    if (ids.has(spec.id)) {
      throw new SupervisorError(
        "Cannot start supervisor",
        `duplicate child id ${describe(spec.id)}`,
      );
    }
    ids.add(spec.id);
  }
  try {
    return await startServer(caller, supervisorBehaviour, {
      strategy: options.strategy,
      intensity: options.intensity ?? 3,
      period: options.period ?? 5000,
      children: options.children.map((spec) => ({
        spec,
        pid: undefined,
      })),
      restarts: [],
    }, {
      trapExit: true,
      ...(options.name !== undefined ? { name: options.name } : {}),
      ...(options.link !== undefined ? { link: options.link } : {}),
    });
  } catch (error) {
    const stop = isInstance(error, ServerStartError) ? error.cause : undefined;
    if (stop instanceof FailedToStartChild) {
      throw new SupervisorStartError(stop.id, stop.childReason, {
        cause: stop.cause,
      });
    }
    throw error;
  }
}

/**
 * Adds a child to a running supervisor and starts it; resolves with its pid.
 * Rejects with `InvalidArgumentError` for a bad spec, with
 * {@linkcode SupervisorError} if its id is taken (`"already_started"` with
 * the pid of the child that runs under it, `"already_present"` if that child
 * is stopped; as in OTP) or it failed to start.
 *
 * @example
 * ```ts
 * import { Runtime, startChild, startSupervisor, terminateChild, deleteChild } from "../mod.ts";
 * const rt = new Runtime();
 * const sup = await startSupervisor(rt, { strategy: "one_for_one", children: [] });
 * const pid = await startChild(rt, sup, {
 *   id: "w",
 *   start: (s) => s.spawnLink(async (p) => { await p.receive(); }),
 * });
 * await terminateChild(rt, sup, "w");
 * await deleteChild(rt, sup, "w");
 * if (rt.isAlive(pid)) throw new Error();
 * await rt.shutdown();
 * ```
 */
export async function startChild(
  caller: Caller,
  sup: Dest,
  spec: ChildSpec,
): Promise<Pid> {
  checkChildSpec(spec, "child spec");
  return unwrap(
    "Cannot start child " + describe(spec.id),
    await ask(caller, sup, { startChild: spec }),
  ) as Pid;
}

/** Stops a child (it keeps its spec, so it can be deleted). */
export async function terminateChild(
  caller: Caller,
  sup: Dest,
  id: string,
): Promise<void> {
  checkId(id);
  unwrap(
    "Cannot terminate child " + describe(id),
    await ask(caller, sup, { terminateChild: id }),
  );
}

/** Removes the spec of a stopped child. */
export async function deleteChild(
  caller: Caller,
  sup: Dest,
  id: string,
): Promise<void> {
  checkId(id);
  unwrap(
    "Cannot delete child " + describe(id),
    await ask(caller, sup, { deleteChild: id }),
  );
}

/**
 * Starts again a stopped child whose spec the supervisor kept (stopped by
 * {@linkcode terminateChild}, or a `transient` child that exited normally),
 * as OTP's `restart_child`; resolves with its new pid. The restart does not
 * count toward the supervisor's intensity. Rejects with
 * {@linkcode SupervisorError}: `"running"` if the child runs,
 * `"not_found"` if no child has that id, or the reason its start failed
 * (the child stays stopped, its spec kept). A `temporary` child's spec is
 * dropped once it stops, as in OTP, so restarting one that stopped is
 * `"not_found"`. (OTP's `restarting` never happens here: a supervisor
 * retries a failed restart before it answers any request.) Rejects with
 * `InvalidArgumentError` for an id that is not a non-empty string.
 *
 * @example
 * ```ts
 * import { restartChild, Runtime, startSupervisor, terminateChild } from "../mod.ts";
 * const rt = new Runtime();
 * const sup = await startSupervisor(rt, {
 *   strategy: "one_for_one",
 *   children: [{
 *     id: "w",
 *     start: (s) => s.spawnLink(async (p) => { await p.receive(); }),
 *   }],
 * });
 * await terminateChild(rt, sup, "w");
 * const pid = await restartChild(rt, sup, "w");
 * if (!rt.isAlive(pid)) throw new Error();
 * await rt.shutdown();
 * ```
 */
export async function restartChild(
  caller: Caller,
  sup: Dest,
  id: string,
): Promise<Pid> {
  checkId(id);
  return unwrap(
    "Cannot restart child " + describe(id),
    await ask(caller, sup, { restartChild: id }),
  ) as Pid;
}

/**
 * Counts a supervisor's children, as OTP's `count_children`: the specs it
 * keeps, how many of them run, and how many are supervisors and workers
 * (running or not; see {@linkcode ChildType}). A local child counts as
 * active while it is alive (one that exited is not, even before the
 * supervisor handled its exit); a child on another node counts as active
 * until the supervisor handled its exit.
 *
 * @example
 * ```ts
 * import { countChildren, Runtime, startSupervisor, supervisorChild } from "../mod.ts";
 * const rt = new Runtime();
 * const sup = await startSupervisor(rt, {
 *   strategy: "one_for_one",
 *   children: [
 *     { id: "w", start: (s) => s.spawnLink(async (p) => { await p.receive(); }) },
 *     supervisorChild("inner", { strategy: "one_for_one", children: [] }),
 *   ],
 * });
 * const counts = await countChildren(rt, sup);
 * if (JSON.stringify(counts) !== '{"specs":2,"active":2,"supervisors":1,"workers":1}') {
 *   throw new Error();
 * }
 * await rt.shutdown();
 * ```
 */
export async function countChildren(
  caller: Caller,
  sup: Dest,
): Promise<ChildCounts> {
  return unwrap(
    "Cannot count children",
    await ask(caller, sup, "countChildren"),
  ) as ChildCounts;
}

/**
 * The children of a supervisor, in start order (OTP's `which_children`
 * lists them in reverse), each with its id, its pid (`undefined` when it is
 * stopped), its restart type and its type.
 */
export async function whichChildren(
  caller: Caller,
  sup: Dest,
): Promise<ChildInfo[]> {
  return unwrap(
    "Cannot list children",
    await ask(caller, sup, "whichChildren"),
  ) as ChildInfo[];
}

type Request =
  | { readonly startChild: ChildSpec }
  | { readonly terminateChild: string }
  | { readonly deleteChild: string }
  | { readonly restartChild: string }
  | "whichChildren"
  | "countChildren";

type Answer =
  | { readonly ok: unknown }
  | { readonly error: unknown; readonly pid?: Pid };

interface Child {
  readonly spec: ChildSpec;
  pid: Pid | undefined;
}

interface State {
  readonly strategy: Strategy;
  readonly intensity: number;
  readonly period: number;
  children: Child[];
  restarts: number[];
}

function ask(
  caller: Caller,
  sup: Dest,
  request: Request,
): Promise<Answer> {
  // Restarts and shutdowns may take as long as the children's shutdown
  // times, so supervisor requests wait as long as it takes (as in Erlang).
  return call<Request, Answer>(caller, sup, request, { timeout: Infinity });
}

function unwrap(what: string, answer: Answer): unknown {
  if ("error" in answer) {
    throw new SupervisorError(
      what,
      answer.error,
      answer.pid !== undefined ? { pid: answer.pid } : undefined,
    );
  }
  return answer.ok;
}

const supervisorBehaviour: ServerBehaviour<
  State,
  State,
  Request,
  Answer,
  never
> = {
  async init(state, sup) {
    for (const child of state.children) {
      try {
        await startOne(sup, child);
      } catch (error) {
        await stopAll(sup, state.children);
        throw new FailedToStartChild(child.spec.id, startReason(error), error);
      }
    }
    return state;
  },

  async handleCall(
    request,
    _from,
    state,
    sup,
  ): Promise<CallResult<State, Answer>> {
    if (request === "whichChildren") {
      const list: ChildInfo[] = state.children.map((c) => ({
        id: c.spec.id,
        pid: c.pid,
        restart: c.spec.restart ?? "permanent",
        type: c.spec.type ?? "worker",
      }));
      return { reply: { ok: list }, state };
    }
    if (request === "countChildren") {
      return { reply: { ok: count(state, sup) }, state };
    }
    if (request === null || typeof request !== "object") {
      throw unknownRequest(request);
    }
    if ("restartChild" in request) {
      const child = state.children.find((c) =>
        c.spec.id === request.restartChild
      );
      if (child === undefined) return { reply: { error: "not_found" }, state };
      if (child.pid !== undefined) {
        return { reply: { error: "running" }, state };
      }
      try {
        await startOne(sup, child);
      } catch (error) {
        return { reply: { error: startReason(error) }, state };
      }
      return { reply: { ok: child.pid }, state };
    }
    if ("startChild" in request) {
      const spec = request.startChild;
      const taken = state.children.find((c) => c.spec.id === spec.id);
      if (taken?.pid !== undefined) {
        return { reply: { error: "already_started", pid: taken.pid }, state };
      }
      if (taken !== undefined) {
        return { reply: { error: "already_present" }, state };
      }
      const child: Child = { spec, pid: undefined };
      try {
        await startOne(sup, child);
      } catch (error) {
        return { reply: { error: startReason(error) }, state };
      }
      state.children.push(child);
      return { reply: { ok: child.pid }, state };
    }
    if ("terminateChild" in request) {
      const child = state.children.find((c) =>
        c.spec.id === request.terminateChild
      );
      if (child === undefined) return { reply: { error: "not_found" }, state };
      await stopOne(sup, child);
      if (child.spec.restart === "temporary") {
        state.children = state.children.filter((c) => c !== child);
      }
      return { reply: { ok: undefined }, state };
    }
    if ("deleteChild" in request) {
      const child = state.children.find((c) =>
        c.spec.id === request.deleteChild
      );
      if (child === undefined) return { reply: { error: "not_found" }, state };
      if (child.pid !== undefined) {
        return { reply: { error: "running" }, state };
      }
      state.children = state.children.filter((c) => c !== child);
      return { reply: { ok: undefined }, state };
    }
    throw unknownRequest(request);
  },

  async handleInfo(message, state, sup): Promise<CastResult<State>> {
    if (!(message instanceof Exit)) return { state };
    const index = state.children.findIndex((c) => c.pid?.equals(message.from));
    if (index < 0) return { state };
    const child = state.children[index]!;
    child.pid = undefined;
    const restart = child.spec.restart ?? "permanent";
    if (
      restart === "temporary" ||
      (restart === "transient" && !isAbnormal(message.reason))
    ) {
      if (restart === "temporary") state.children.splice(index, 1);
      return { state };
    }
    // After a failed start, OTP tries again from the child that failed to
    // start, which under rest_for_one may come after the one that exited:
    // the children between them, started again already, are left running.
    let from = child;
    for (;;) {
      if (!countRestart(state, sup)) {
        // It exits with "shutdown", which no one logs: say why, as OTP's
        // supervisor reports reached_max_restart_intensity.
        if (sup instanceof ProcessImpl) {
          sup.kernel.logger?.error(
            `Supervisor ${sup.self} reached its maximum restart intensity: more than ${state.intensity} restarts in ${state.period} ms; shutting down`,
            { pid: sup.self, child: from.spec.id, reason: message.reason },
          );
        }
        return { stop: "shutdown", state };
      }
      // A failed start counts as one more restart, until the limit.
      const failed = await restartFrom(sup, state, from);
      if (failed === undefined) return { state };
      from = failed;
    }
  },

  async terminate(_reason, state, sup) {
    await stopAll(sup, state.children);
  },
};

/**
 * The supervisor's `init` stop when a child fails to start: it carries the
 * child's id and reason to {@linkcode startSupervisor}, which rethrows them
 * as a {@linkcode SupervisorStartError}.
 */
class FailedToStartChild extends InitStop {
  readonly id: string;
  readonly childReason: ExitReason;
  constructor(id: string, childReason: ExitReason, cause: unknown) {
    super(["shutdown", ["failed_to_start_child", id, childReason]], { cause });
    this.id = id;
    this.childReason = childReason;
  }
}

/**
 * Why a child's start failed, as an exit reason (OTP's `{error, Reason}`
 * from the start function): a server's is the reason its start failed
 * with, anything else thrown is a crash.
 */
function startReason(error: unknown): ExitReason {
  return isInstance(error, ServerStartError) ? error.reason : Crash.from(error);
}

/** OTP's `count_children`. */
function count(state: State, sup: Process): ChildCounts {
  let active = 0;
  let supervisors = 0;
  for (const { spec, pid } of state.children) {
    if (spec.type === "supervisor") supervisors++;
    if (
      pid !== undefined &&
      (pid.node !== sup.self.node || sup.runtime.isAlive(pid))
    ) active++;
  }
  const specs = state.children.length;
  return { specs, active, supervisors, workers: specs - supervisors };
}

/**
 * Whether a child's exit reason is a failure, as OTP's supervisor sees it:
 * anything but `normal`, `shutdown` and `{shutdown, Term}` (here a pair
 * whose first element is `"shutdown"`).
 */
function isAbnormal(reason: ExitReason): boolean {
  if (reason === "normal" || reason === "shutdown") return false;
  return !(Array.isArray(reason) && reason.length === 2 &&
    reason[0] === "shutdown");
}

/** Records a restart; false once more than `intensity` fall within `period`. */
function countRestart(state: State, sup: Process): boolean {
  const now = sup.runtime.clock.now();
  // A restart exactly `period` ago still counts, as in OTP (`Now =< Then +
  // Period`, in whole seconds there).
  state.restarts = state.restarts.filter((t) => now - t <= state.period);
  state.restarts.push(now);
  return state.restarts.length <= state.intensity;
}

/**
 * Restarts `failed` and, per the strategy, its siblings. Returns the child
 * that failed to start, if one did (those after it are left stopped).
 */
async function restartFrom(
  sup: Process,
  state: State,
  failed: Child,
): Promise<Child | undefined> {
  let group: Child[];
  if (state.strategy === "one_for_one") {
    group = [failed];
  } else {
    const from = state.strategy === "one_for_all"
      ? 0
      : state.children.indexOf(failed);
    group = state.children.slice(from);
    await stopAll(sup, group);
    // Temporary siblings stopped this way are not restarted: they go.
    const gone = group.filter((c) =>
      c !== failed && c.spec.restart === "temporary"
    );
    if (gone.length > 0) {
      state.children = state.children.filter((c) => !gone.includes(c));
      group = group.filter((c) => !gone.includes(c));
    }
  }
  for (const child of group) {
    try {
      await startOne(sup, child);
    } catch {
      return child;
    }
  }
  return undefined;
}

async function startOne(sup: Process, child: Child): Promise<void> {
  const pid: unknown = await child.spec.start(sup);
  // Anything but a pid is a failed start (a name would be linked by name,
  // and then taken for the child). OTP's `ignore` has no counterpart here.
  if (!(pid instanceof Pid)) {
    throw new InvalidArgumentError(
      `start result of child ${describe(child.spec.id)}`,
      `expected a Pid, got ${describe(pid)}`,
    );
  }
  sup.link(pid);
  child.pid = pid;
}

async function stopAll(
  sup: Process,
  children: readonly Child[],
): Promise<void> {
  for (let i = children.length - 1; i >= 0; i--) {
    await stopOne(sup, children[i]!);
  }
}

/**
 * Stops one child: exit signal `shutdown`, then `kill` after its shutdown
 * time. Waits on a monitor, then takes the `Exit` its link left behind (a
 * local link delivers it before the `Down`), so it is not seen as a crash.
 */
async function stopOne(sup: Process, child: Child): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  child.pid = undefined;
  const ref = sup.monitor(pid);
  const isDown = (m: unknown): m is Down =>
    m instanceof Down && m.ref.equals(ref);
  const shutdown = child.spec.shutdown ??
    (child.spec.type === "supervisor" ? Infinity : 5000);
  if (shutdown === "brutal_kill") {
    sup.exit(pid, "kill");
    await sup.receive(isDown);
  } else if (shutdown === 0) {
    // As OTP: the kill follows at once, and the child gets no turn between.
    // One of this runtime that traps exits gets the kill alone: the Exit of
    // the shutdown, handed to its receive, would resume it once more (its
    // terminate, say) after its death. One that does not ends `shutdown`.
    if (sup.runtime.processInfo(pid)?.trapExit !== true) {
      sup.exit(pid, "shutdown");
    }
    sup.exit(pid, "kill");
    await sup.receive(isDown);
  } else {
    sup.exit(pid, "shutdown");
    const down = await sup.receive(isDown, { timeout: shutdown });
    if (down === undefined) {
      sup.exit(pid, "kill");
      await sup.receive(isDown);
    }
  }
  sup.unlink(pid);
  await sup.receive(
    (m) => m instanceof Exit && m.from.equals(pid),
    { timeout: 0 },
  );
}

/**
 * A call no function of this module makes: a bug in its sender, which
 * crashes the supervisor, as OTP's (a function_clause there).
 */
function unknownRequest(request: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    "supervisor request",
    `expected one of this module's requests, got ${describe(request)}`,
  );
}

const STRATEGIES: readonly string[] = [
  "one_for_one",
  "one_for_all",
  "rest_for_one",
];
const RESTART_TYPES: readonly string[] = [
  "permanent",
  "transient",
  "temporary",
];
const CHILD_TYPES: readonly string[] = ["worker", "supervisor"];

/** What `startSupervisor` (and `supervisorChild`, early) refuses. */
function checkSupervisorOptions(options: SupervisorOptions): void {
  if (options === null || typeof options !== "object") {
    throw new InvalidArgumentError(
      "supervisor options",
      `expected an object, got ${describe(options)}`,
    );
  }
  const { strategy, intensity, period, children, name, link } = options;
  if (!STRATEGIES.includes(strategy)) {
    throw new InvalidArgumentError(
      "strategy",
      `expected "one_for_one", "one_for_all" or "rest_for_one", got ${
        describe(strategy)
      }`,
    );
  }
  if (
    intensity !== undefined && (!Number.isInteger(intensity) || intensity < 0)
  ) {
    throw new InvalidArgumentError(
      "intensity",
      `expected an integer >= 0, got ${describe(intensity)}`,
    );
  }
  if (period !== undefined && !(typeof period === "number" && period > 0)) {
    throw new InvalidArgumentError(
      "period",
      `expected a number of milliseconds > 0, got ${describe(period)}`,
    );
  }
  if (!Array.isArray(children)) {
    throw new InvalidArgumentError(
      "children",
      `expected an array of child specs ([] for none yet), got ${
        describe(children)
      }`,
    );
  }
  children.forEach((spec, i) => checkChildSpec(spec, `child spec ${i}`));
  if (name !== undefined && (typeof name !== "string" || name === "")) {
    throw new InvalidArgumentError(
      "name option",
      `expected a non-empty string, got ${describe(name)}`,
    );
  }
  if (link !== undefined && typeof link !== "boolean") {
    throw new InvalidArgumentError(
      "link option",
      `expected a boolean, got ${describe(link)}`,
    );
  }
}

function checkChildSpec(spec: ChildSpec, argument: string): void {
  if (spec === null || typeof spec !== "object") {
    throw new InvalidArgumentError(
      argument,
      `expected { id, start, restart?, shutdown?, type? }, got ${
        describe(spec)
      }`,
    );
  }
  checkId(spec.id);
  if (typeof spec.start !== "function") {
    throw new InvalidArgumentError(
      `start of child ${describe(spec.id)}`,
      `expected a function (sup) => pid, got ${describe(spec.start)}`,
    );
  }
  checkRestart(spec.id, spec.restart);
  checkShutdown(spec.id, spec.shutdown);
  checkType(spec.id, spec.type);
}

function checkId(id: unknown): void {
  if (typeof id !== "string" || id === "") {
    throw new InvalidArgumentError(
      "child id",
      `expected a non-empty string, got ${describe(id)}`,
    );
  }
}

function checkRestart(id: string, restart: unknown): void {
  if (restart !== undefined && !RESTART_TYPES.includes(restart as string)) {
    throw new InvalidArgumentError(
      `restart of child ${describe(id)}`,
      `expected "permanent", "transient" or "temporary", got ${
        describe(restart)
      }`,
    );
  }
}

function checkShutdown(id: string, shutdown: unknown): void {
  if (
    shutdown !== undefined && shutdown !== "brutal_kill" &&
    !(typeof shutdown === "number" && shutdown >= 0)
  ) {
    throw new InvalidArgumentError(
      `shutdown of child ${describe(id)}`,
      `expected milliseconds >= 0, Infinity or "brutal_kill", got ${
        describe(shutdown)
      }`,
    );
  }
}

function checkType(id: string, type: unknown): void {
  if (type !== undefined && !CHILD_TYPES.includes(type as string)) {
    throw new InvalidArgumentError(
      `type of child ${describe(id)}`,
      `expected "worker" or "supervisor", got ${describe(type)}`,
    );
  }
}

function describeReason(reason: unknown, nested = false): string {
  if (reason instanceof Error) return `${reason.name}: ${reason.message}`;
  if (typeof reason === "string") {
    return nested ? JSON.stringify(reason) : reason;
  }
  if (Array.isArray(reason)) {
    return `[${reason.map((r) => describeReason(r, true)).join(", ")}]`;
  }
  return String(reason);
}
