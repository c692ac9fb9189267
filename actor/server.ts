/**
 * Servers: the request/response behaviour of Erlang's `gen_server`. A
 * {@linkcode ServerBehaviour} is a plain object of callbacks over a state;
 * {@linkcode startServer} runs it in a process, {@linkcode call} asks it and
 * waits for the answer, {@linkcode cast} tells it without waiting.
 *
 * Calls and replies are plain data (`{ $call: ref, from: pid, request }` and
 * `{ $reply: ref, value }`), so a server on another node is called exactly
 * like a local one.
 *
 * @module
 */
import { Crash, Pid, Ref } from "../wire/terms.ts";
import {
  checkMessage,
  ConcurrentReceiveError,
  describe,
  InvalidArgumentError,
  isInstance,
  MoteError,
  NameTakenError,
  NotRegisteredError,
  RuntimeStoppedError,
} from "./errors.ts";
import { addMonitor, unwatchCall, watchCall } from "./monitor.ts";
import { Down, Exit } from "./messages.ts";
import type { Dest, Process } from "./process.ts";
import { type ExitReason, isCrash } from "./reason.ts";
import { Runtime } from "./runtime.ts";
import {
  type CallWatch,
  checkExitReason,
  never,
  ProcessImpl,
} from "./_process.ts";
import type { Kernel } from "./_kernel.ts";

/** Who performs an operation: a process, or a runtime from outside any process. */
export type Caller = Runtime | Process;

/** A value or a promise of it: every callback may be sync or async. */
export type Awaitable<T> = T | Promise<T>;

/**
 * What {@linkcode ServerBehaviour.handleCall} returns: a reply now, no reply
 * yet (answer later with {@linkcode reply}), or a stop (with an optional
 * reply, sent after `terminate` ran). Anything else (no `state`, or none
 * of a stop, a reply and `noreply: true`) stops the server with
 * `["bad_return_value", result]`, as gen_server's `{bad_return_value, Ret}`:
 * `terminate` hears it, with the state from before, and the caller's call
 * fails with it.
 */
export type CallResult<State, Reply> =
  | { readonly reply: Reply; readonly state: State }
  | { readonly noreply: true; readonly state: State }
  | {
    readonly stop: ExitReason;
    readonly reply?: Reply;
    readonly state: State;
  };

/**
 * What `handleCast` and `handleInfo` return: the next state, or a stop.
 * Anything without a `state` stops the server with
 * `["bad_return_value", result]`, as gen_server's.
 */
export type CastResult<State> =
  | { readonly state: State }
  | { readonly stop: ExitReason; readonly state: State };

/**
 * The callbacks of a server. `State` is private to the server; `Call`,
 * `Reply` and `Cast` are the messages it accepts, and flow into the
 * {@linkcode ServerPid} that {@linkcode startServer} returns, so calling it
 * with the wrong request is a compile error. Every callback gets the server's
 * own {@linkcode Process} last, to send, monitor or spawn with.
 *
 * @example
 * ```ts
 * import { call, cast, Runtime, type ServerBehaviour, startServer } from "../mod.ts";
 * const counter: ServerBehaviour<number, number, "get", number, "inc"> = {
 *   init: (start) => start,
 *   handleCall: (_req, _from, n) => ({ reply: n, state: n }),
 *   handleCast: (_msg, n) => ({ state: n + 1 }),
 * };
 * const rt = new Runtime();
 * const pid = await startServer(rt, counter, 41);
 * cast(rt, pid, "inc");
 * if (await call(rt, pid, "get") !== 42) throw new Error();
 * await rt.shutdown();
 * ```
 */
export interface ServerBehaviour<
  Args,
  State,
  Call = never,
  Reply = unknown,
  Cast = never,
> {
  /**
   * Builds the first state. A throw makes {@linkcode startServer} reject
   * with {@linkcode ServerStartError} and the process exit: with the
   * {@linkcode Crash} of what was thrown, or, for a thrown
   * {@linkcode InitStop}, with exactly its reason (OTP's `{stop, Reason}`
   * from `init`).
   */
  init(args: Args, self: Process): Awaitable<State>;
  /** Answers a {@linkcode call}. Missing: a call crashes the server. */
  handleCall?(
    request: Call,
    from: From,
    state: State,
    self: Process,
  ): Awaitable<CallResult<State, Reply>>;
  /** Handles a {@linkcode cast}. Missing: a cast crashes the server. */
  handleCast?(
    message: Cast,
    state: State,
    self: Process,
  ): Awaitable<CastResult<State>>;
  /**
   * Handles every other message: `Down`, `Exit` (when trapping exits),
   * `NodeDown` and plain messages. Missing: they are dropped, except an
   * `Exit` with a reason other than `normal`, which stops the server with
   * that reason.
   */
  handleInfo?(
    message: unknown,
    state: State,
    self: Process,
  ): Awaitable<CastResult<State>>;
  /**
   * Runs before the server exits: on a stop returned by a callback, on
   * {@linkcode stopServer}, after a callback threw, and, when the server
   * traps exits, on an exit signal from its parent (the process that started
   * it with `link: true`, such as its supervisor; an unlinked server has no
   * parent, as in OTP, and its starter's exit signals go to `handleInfo`). A
   * server that does not trap exits is killed by exit signals without
   * running it, as in Erlang. A `terminate` that throws ends the server
   * with the {@linkcode Crash} of what it threw, whatever the reason it was
   * given (a crash included), as OTP's.
   */
  terminate?(reason: ExitReason, state: State, self: Process): Awaitable<void>;
}

/**
 * The types a server accepts, carried by {@linkcode ServerPid} at compile
 * time only (no such field exists at run time).
 */
export interface ServerProtocol<Call, Reply, Cast> {
  /** Requests for {@linkcode call}. */
  readonly call: Call;
  /** Replies {@linkcode call} resolves to. */
  readonly reply: Reply;
  /** Messages for {@linkcode cast}. */
  readonly cast: Cast;
}

/**
 * A pid that remembers, in its type, what its server accepts. It is a plain
 * {@linkcode Pid} at run time; any `Pid` is also a `ServerPid` of unknown
 * types.
 */
export type ServerPid<Call = unknown, Reply = unknown, Cast = unknown> =
  & Pid
  & { readonly "~server"?: ServerProtocol<Call, Reply, Cast> };

/** Where a server can be reached: a typed pid, or any {@linkcode Dest}. */
export type ServerDest<Call = unknown, Reply = unknown, Cast = unknown> =
  | ServerPid<Call, Reply, Cast>
  | string
  | readonly [name: string, node: string];

/** Options for {@linkcode startServer}. */
export interface StartServerOptions {
  /**
   * Register the server under this name before `init` runs. A taken name
   * fails the start with reason `["already_started", pid]`.
   */
  readonly name?: string;
  /** Link the server to the calling process, atomically (needs a process caller). */
  readonly link?: boolean;
  /** Run the server with exits trapped, so `terminate` runs on its parent's exit signal. */
  readonly trapExit?: boolean;
  /**
   * Milliseconds `init` may take; after that the server is killed and
   * {@linkcode startServer} rejects with reason `"timeout"`. Default: no limit.
   */
  readonly initTimeout?: number;
}

/** Options for {@linkcode call}. */
export interface CallOptions {
  /** Milliseconds to wait for the reply (default 5000; `Infinity` waits forever). */
  readonly timeout?: number;
}

/** Options for {@linkcode stopServer}. */
export interface StopServerOptions {
  /** Milliseconds to wait for the server to be gone (default: forever). */
  readonly timeout?: number;
}

/**
 * A {@linkcode call} that got no reply: `reason` is `"noproc"` (no such
 * server), `"noconnection"` (its node was lost), `"timeout"`,
 * `"calling_self"` (a server called itself), or the reason
 * the server exited with while the call was pending (a {@linkcode Crash} if
 * it threw).
 *
 * @example
 * ```ts
 * import { call, CallError, Runtime } from "../mod.ts";
 * const rt = new Runtime();
 * const dead = rt.spawn(() => {});
 * await rt.whenExited(dead);
 * const error = await call(rt, dead, "hi").catch((e) => e);
 * if (!(error instanceof CallError) || error.reason !== "noproc") throw new Error();
 * await rt.shutdown();
 * ```
 */
export class CallError extends MoteError {
  /** Why no reply came. */
  readonly reason: ExitReason;
  /** The server that was called. */
  readonly server: Dest;
  /** Builds the error for a call to `server` that failed with `reason`. */
  constructor(server: Dest, reason: ExitReason) {
    super(
      `Call to ${renderDest(server)} failed: ${renderReason(reason)}`,
    );
    this.server = server;
    this.reason = reason;
  }
}

/**
 * {@linkcode startServer} failed: `init` threw (`reason` is its
 * {@linkcode Crash}, `cause` the thrown value), threw an
 * {@linkcode InitStop} (`reason` is its reason, `cause` the `InitStop`),
 * took longer than `initTimeout` (`"timeout"`), the process was killed
 * while starting, or its name is taken (`["already_started", pid]` with the
 * pid that holds it, `cause` the `NameTakenError`).
 */
export class ServerStartError extends MoteError {
  /** Why the server did not start. */
  readonly reason: ExitReason;
  /** Builds the error; `cause` is what `init` threw, if anything. */
  constructor(reason: ExitReason, options?: ErrorOptions) {
    super(`Cannot start server: ${renderReason(reason)}`, options);
    this.reason = reason;
  }
}

/**
 * Thrown by a server's `init` to refuse to start with a chosen exit reason,
 * as OTP's `init` returning `{stop, Reason}`: {@linkcode startServer}
 * rejects with a {@linkcode ServerStartError} whose `reason` is this
 * `reason` (not a {@linkcode Crash}), and the process exits with it. Any
 * other throw from `init` is a crash.
 *
 * @example
 * ```ts
 * import { InitStop, Runtime, ServerStartError, startServer } from "../mod.ts";
 * const rt = new Runtime();
 * const error = await startServer(rt, {
 *   init: (port: number) => {
 *     if (port < 1024) throw new InitStop(["shutdown", "privileged_port"]);
 *     return port;
 *   },
 * }, 80).catch((e) => e);
 * if (!(error instanceof ServerStartError)) throw new Error();
 * if (JSON.stringify(error.reason) !== '["shutdown","privileged_port"]') throw new Error();
 * await rt.shutdown();
 * ```
 */
export class InitStop extends MoteError {
  /** The reason the server exits with, and its start fails with. */
  readonly reason: ExitReason;
  /** Builds the stop; `cause` is passed on to the {@linkcode ServerStartError}. */
  constructor(reason: ExitReason, options?: ErrorOptions) {
    checkExitReason(reason);
    super(`Server init stopped: ${renderReason(reason)}`, options);
    this.reason = reason;
  }
}

/**
 * The caller of a pending {@linkcode call}, as `handleCall` sees it: keep it
 * to answer later with {@linkcode reply}.
 */
export class From {
  /** The calling process. */
  readonly pid: Pid;
  /** The call's reference, which the reply carries back. */
  readonly ref: Ref;
  #runtime: Runtime;

  /** Built by the server for each call. */
  constructor(pid: Pid, ref: Ref, runtime: Runtime) {
    this.pid = pid;
    this.ref = ref;
    this.#runtime = runtime;
  }

  /** Sends `value` as the reply (what {@linkcode reply} does). */
  reply(value: unknown): void {
    // undefined is a fine answer; a thenable, which call's promise would
    // await (past its timeout, for one that never settles), is not.
    if (value !== undefined) checkMessage(value);
    this.#runtime.send(this.pid, { $reply: this.ref, value });
  }
}

/**
 * Answers a call that `handleCall` deferred with `{ noreply: true }`. Any
 * process may answer; a caller that gave up already drops the reply.
 *
 * @example
 * ```ts
 * import { call, type From, reply, Runtime, startServer } from "../mod.ts";
 * const rt = new Runtime();
 * const pid = await startServer(rt, {
 *   init: () => [] as From[],
 *   handleCall: (req: "wait" | "go", from, waiting) => {
 *     if (req === "wait") return { noreply: true, state: [...waiting, from] };
 *     for (const w of waiting) reply(w, "went");
 *     return { reply: `${waiting.length} went`, state: [] };
 *   },
 * }, undefined);
 * const waited = call(rt, pid, "wait");
 * if (await call(rt, pid, "go") !== "1 went" || await waited !== "went") throw new Error();
 * await rt.shutdown();
 * ```
 */
export function reply<Reply>(from: From, value: Reply): void {
  if (!(from instanceof From)) {
    throw new InvalidArgumentError(
      "reply target",
      "expected the From that handleCall received",
    );
  }
  from.reply(value);
}

/**
 * Starts a server: spawns a process that runs `behaviour.init(args)` and then
 * serves calls, casts and other messages. Resolves with its pid once `init`
 * returned; rejects with {@linkcode ServerStartError} if `init` threw or
 * timed out, and then nothing is left running, or if `name` is taken (its
 * reason is then `["already_started", pid]` with the pid holding the name,
 * OTP's `{already_started, Pid}`, and nothing was spawned). Called from a process with
 * `link: true`, the server is linked to it atomically (so a supervisor's
 * child `start` is `(sup) => startServer(sup, b, args, { link: true })`).
 *
 * Rejects with `InvalidArgumentError`, before spawning anything, for a
 * caller that is not a runtime or one of its processes, a behaviour whose
 * `init` (or another callback, when given) is not a function, or bad
 * options; with `RuntimeStoppedError` on a runtime that has been shut down.
 *
 * @example
 * ```ts
 * import { call, Runtime, startServer, stopServer } from "../mod.ts";
 * const rt = new Runtime();
 * const kv = await startServer(rt, {
 *   init: () => new Map<string, number>(),
 *   handleCall: (req: { get: string }, _from, state) => ({
 *     reply: state.get(req.get) ?? 0,
 *     state,
 *   }),
 * }, undefined, { name: "kv" });
 * if (await call(rt, kv, { get: "x" }) !== 0) throw new Error();
 * await stopServer(rt, "kv");
 * await rt.shutdown();
 * ```
 */
export async function startServer<Args, State, Call, Reply, Cast>(
  caller: Caller,
  behaviour: ServerBehaviour<Args, State, Call, Reply, Cast>,
  args: Args,
  options: StartServerOptions = {},
): Promise<ServerPid<Call, Reply, Cast>> {
  const runtime = checkCaller(caller);
  checkBehaviour(behaviour, "server behaviour");
  checkOptions("startServer options", options, {
    link: "boolean",
    trapExit: "boolean",
  });
  const parent = caller instanceof Runtime ? undefined : caller;
  if (options.link === true && parent === undefined) {
    throw new InvalidArgumentError(
      "link option",
      "only a process can link to the server it starts; call startServer with a Process",
    );
  }
  const initTimeout = options.initTimeout ?? Infinity;
  const bad = timeoutError("initTimeout", initTimeout);
  if (bad !== undefined) throw bad;
  const started = Promise.withResolvers<void>();
  // As in OTP, only a linked starter is the server's parent: the exit
  // signal that stops it. An unlinked server is its own parent (gen_server
  // started with start/3), so its starter's exit signals go to handleInfo.
  const body = serverBody(
    behaviour,
    args,
    options.link === true ? parent!.self : undefined,
    started,
  );
  const spawnOptions = {
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.trapExit === true ? { trapExit: true } : {}),
  };
  let pid: Pid;
  try {
    pid = options.link === true
      ? parent!.spawnLink(body, spawnOptions)
      : (parent ?? runtime).spawn(body, spawnOptions);
  } catch (error) {
    if (error instanceof RuntimeStoppedError) {
      throw new RuntimeStoppedError("Cannot start a server");
    }
    // As gen_server's {error, {already_started, Pid}}: nothing was spawned.
    if (!(error instanceof NameTakenError)) throw error;
    throw new ServerStartError(["already_started", error.pid], {
      cause: error,
    });
  }
  failOnExit(runtime.whenExited(pid), started);
  let timer: unknown;
  if (initTimeout !== Infinity) {
    timer = runtime.clock.setTimeout(() => {
      if (options.link === true) parent!.unlink(pid);
      started.reject(new ServerStartError("timeout"));
      runtime.exit(pid, "kill");
    }, initTimeout);
  }
  try {
    await started.promise;
  } finally {
    if (timer !== undefined) runtime.clock.clearTimeout(timer);
  }
  return pid;
}

/**
 * Whatever ends the server before init returned fails the start. Made out
 * here, not in `startServer`: the reaction waits for the server's exit, and
 * a closure made there would keep that call's whole context for the
 * server's life, the starting process (dead long since, perhaps) first.
 */
function failOnExit(
  exited: Promise<ExitReason>,
  started: PromiseWithResolvers<void>,
): void {
  exited.then((reason) => started.reject(new ServerStartError(reason)));
}

function serverBody<Args, State, Call, Reply, Cast>(
  behaviour: ServerBehaviour<Args, State, Call, Reply, Cast>,
  args: Args,
  parent: Pid | undefined,
  started: PromiseWithResolvers<void>,
): (proc: Process) => Promise<void> {
  // The body runs as long as the server, and keeps what it closes over: the
  // arguments are let go of as init gets them, as gen_server's are.
  const input: { args: Args | undefined } = { args };
  return async (proc) => {
    let state: State;
    try {
      const init = initWith(behaviour, input, proc);
      state = init instanceof Promise ? await init : init;
    } catch (error) {
      const reason = isInstance(error, InitStop)
        ? error.reason
        : Crash.from(error);
      started.reject(new ServerStartError(reason, { cause: error }));
      // The starter hears of the failure through the rejection only.
      if (parent !== undefined) proc.unlink(parent);
      return proc.stop(reason);
    }
    started.resolve();
    await serve(behaviour, proc, state, parent);
  };
}

/** Calls `init` with the arguments `input` holds, which it gives up first. */
function initWith<Args, State>(
  behaviour: Pick<ServerBehaviour<Args, State>, "init">,
  input: { args: Args | undefined },
  proc: Process,
): Awaitable<State> {
  const args = input.args as Args;
  input.args = undefined;
  return behaviour.init(args, proc);
}

// The receive loop. A callback that throws ends the server with the crash,
// after `terminate` had its say.
async function serve<State, Call, Reply, Cast>(
  behaviour: ServerBehaviour<unknown, State, Call, Reply, Cast>,
  proc: Process,
  state: State,
  parent: Pid | undefined,
): Promise<never> {
  const runtime = proc.runtime;
  const kernel = (proc as ProcessImpl).kernel; // a runtime's process
  for (;;) {
    const message = await proc.receive();
    let stop: ExitReason | undefined;
    let stopReply: { from: From; value: unknown } | undefined;
    try {
      const m = message as Partial<CallMessage & CastMessage & StopMessage>;
      if (m !== null && typeof m === "object" && m.$call instanceof Ref) {
        if (behaviour.handleCall === undefined) {
          throw new MoteError(`Server ${proc.self} has no handleCall`);
        }
        const from = new From(m.from as Pid, m.$call, runtime);
        const pending = behaviour.handleCall(
          m.request as Call,
          from,
          state,
          proc,
        );
        const result = pending instanceof Promise ? await pending : pending;
        if (!isCallResult(result)) throw new BadReturn(result);
        state = result.state;
        if ("stop" in result) {
          if ("reply" in result) {
            // Checked now, so that terminate hears of a bad one.
            if (result.reply !== undefined) checkMessage(result.reply);
            stopReply = { from, value: result.reply };
          }
          stop = result.stop;
        } else if ("reply" in result) {
          replyTo(kernel, from, result.reply);
        }
      } else if (m !== null && typeof m === "object" && "$cast" in m) {
        if (behaviour.handleCast === undefined) {
          throw new MoteError(`Server ${proc.self} has no handleCast`);
        }
        const pending = behaviour.handleCast(m.$cast as Cast, state, proc);
        const result = pending instanceof Promise ? await pending : pending;
        if (!isCastResult(result)) throw new BadReturn(result);
        state = result.state;
        if ("stop" in result) stop = result.stop;
      } else if (
        m !== null && typeof m === "object" && m.$stop instanceof Ref
      ) {
        stop = m.reason === undefined ? "normal" : m.reason; // null is a reason
      } else if (
        message instanceof Exit && parent !== undefined &&
        message.from.equals(parent)
      ) {
        stop = message.reason;
      } else if (behaviour.handleInfo !== undefined) {
        const pending = behaviour.handleInfo(message, state, proc);
        const result = pending instanceof Promise ? await pending : pending;
        if (!isCastResult(result)) throw new BadReturn(result);
        state = result.state;
        if ("stop" in result) stop = result.stop;
      } else if (message instanceof Exit && message.reason !== "normal") {
        stop = message.reason;
      }
    } catch (error) {
      // As gen_server: {bad_return_value, Ret}, with the state before it.
      stop = error instanceof BadReturn
        ? ["bad_return_value", error.result]
        : Crash.from(error);
    }
    if (stop === undefined) continue;
    try {
      const done = behaviour.terminate?.(stop, state, proc);
      if (done instanceof Promise) await done;
    } catch (error) {
      // As gen_server: the server exits with terminate's own crash, even
      // after a crash (which terminate was given and has seen).
      stop = Crash.from(error);
    }
    if (stopReply !== undefined) stopReply.from.reply(stopReply.value);
    return proc.stop(stop);
  }
}

/** A callback returned what is not one of its results (thrown, never seen). */
class BadReturn {
  constructor(readonly result: unknown) {}
}

/**
 * Whether `r` can be read as a {@linkcode CallResult}: a state, and a stop,
 * a reply or `noreply: true`, taken in that order (what the types accept,
 * an object with more than one of them included).
 */
function isCallResult(r: unknown): r is CallResult<unknown, unknown> {
  if (r === null || typeof r !== "object" || !("state" in r)) return false;
  return "stop" in r || "reply" in r ||
    (r as { noreply?: unknown }).noreply === true;
}

/** Whether `r` can be read as a {@linkcode CastResult}: it has a state. */
function isCastResult(r: unknown): r is CastResult<unknown> {
  return r !== null && typeof r === "object" && "state" in r;
}

interface CallMessage {
  readonly $call: Ref;
  readonly from: Pid;
  readonly request: unknown;
}
interface CastMessage {
  readonly $cast: unknown;
}
interface StopMessage {
  readonly $stop: Ref;
  readonly reason: ExitReason;
}

/**
 * Calls a server and waits for its reply. The caller monitors the server for
 * the duration, so the call rejects at once with {@linkcode CallError} when
 * the server does not exist (`noproc`), exits before replying (its reason),
 * or its node is lost (`noconnection`); otherwise after `timeout` ms
 * (`timeout`): a timeout of 0 sends the request and fails at once, as
 * gen_server's, since no reply can be there yet. A server calling itself
 * (by pid or by its name) would wait for its own answer: that call rejects
 * at once with `calling_self`, as gen_server's, and sends nothing. A reply that comes after the timeout,
 * or after the server's exit failed the call, is dropped, never left in the
 * caller's mailbox: once a call of a process has failed so, any message
 * `{ $reply: ref }` reaching it with a ref of its node that is not its
 * pending call's is taken for such a reply, so do not use `$reply` in
 * messages of your own. From a {@linkcode Runtime}, the call runs in a
 * short-lived helper process. Rejects with `InvalidArgumentError` for a
 * caller that is not a runtime or one of its processes, or a bad timeout,
 * and with `RuntimeStoppedError` from a runtime that has been shut down;
 * throws `ConcurrentReceiveError` if the calling process is already waiting
 * in a receive, sleep or call.
 *
 * A call to a remote server by pid keeps its monitor after the reply, until
 * the caller calls another remote server or exits, so a run of calls to one
 * server sends one `MONITOR` frame, not a `MONITOR` and a `DEMONITOR` each.
 * That monitor shows in {@linkcode Runtime.processInfo}; its `Down`, should
 * the server go between calls, is dropped rather than delivered.
 *
 * @example
 * ```ts
 * import { call, Runtime, startServer } from "../mod.ts";
 * const rt = new Runtime();
 * const doubler = await startServer(rt, {
 *   init: () => null,
 *   handleCall: (n: number, _from, state) => ({ reply: n * 2, state }),
 * }, undefined);
 * if (await call(rt, doubler, 21) !== 42) throw new Error();
 * await rt.shutdown();
 * ```
 */
export function call<Call, Reply>(
  caller: Caller,
  server: ServerDest<Call, Reply, unknown>,
  request: NoInfer<Call>,
  options: CallOptions = {},
): Promise<Reply> {
  const timeout = options?.timeout ?? 5000;
  const bad = optionsError("call options", options) ??
    timeoutError("call timeout", timeout);
  if (bad !== undefined) return Promise.reject(bad);
  if (!(caller instanceof Runtime)) {
    return callIn(caller, server, request, timeout) as Promise<Reply>;
  }
  return viaHelper(
    caller,
    server,
    (proc) => callIn(proc, server, request, timeout),
    "call",
  ) as Promise<Reply>;
}

/**
 * Sends `message` to a server's `handleCast` and returns at once. Like any
 * send it never throws for a dead server, nor for an unregistered name; it
 * throws `InvalidArgumentError` for a caller that is not a runtime or one of
 * its processes, or a destination that is not a pid, name or `[name, node]`.
 *
 * @example
 * ```ts
 * import { cast, Runtime } from "../mod.ts";
 * const rt = new Runtime();
 * cast(rt, "nobody", "hello"); // dropped, no error
 * await rt.shutdown();
 * ```
 */
export function cast<Cast>(
  caller: Caller,
  server: ServerDest<unknown, unknown, Cast>,
  message: NoInfer<Cast>,
): void {
  checkCaller(caller);
  try {
    caller.send(server as Dest, { $cast: message });
  } catch (error) {
    if (!(error instanceof NotRegisteredError)) throw error;
  }
}

/**
 * Stops a server with `reason` (default `normal`): it runs `terminate` and
 * exits. Resolves once it is gone with that reason; rejects with
 * {@linkcode CallError} if it was not running (`noproc`), its node was lost,
 * it exited with another reason (as gen_server's `stop`: a stop it took
 * before this one, or the crash of its `terminate`; reasons are compared as
 * terms, as the wire carries them, so a class instance or a null-prototype
 * object equals the plain object it arrives as), it took longer than
 * `timeout` ms, or the caller is the server
 * itself (`calling_self`, at once, and nothing is sent, as gen_server's);
 * with `InvalidArgumentError`
 * for a caller that is not a runtime or one of its processes, or a bad
 * timeout; with `RuntimeStoppedError` from a runtime that has been shut
 * down.
 *
 * @example
 * ```ts
 * import { Runtime, startServer, stopServer } from "../mod.ts";
 * const rt = new Runtime();
 * const pid = await startServer(rt, { init: () => 0 }, undefined);
 * await stopServer(rt, pid);
 * if (rt.isAlive(pid)) throw new Error();
 * await rt.shutdown();
 * ```
 */
export function stopServer(
  caller: Caller,
  server: ServerDest,
  reason: ExitReason = "normal",
  options: StopServerOptions = {},
): Promise<void> {
  const timeout = options?.timeout ?? Infinity;
  const bad = callerError(caller) ??
    optionsError("stopServer options", options) ??
    timeoutError("stop timeout", timeout);
  if (bad !== undefined) return Promise.reject(bad);
  try {
    checkExitReason(reason);
  } catch (error) {
    return Promise.reject(error);
  }
  if (!(caller instanceof Runtime)) {
    return stopIn(caller, server, reason, timeout);
  }
  return viaHelper(
    caller,
    server,
    (p) => stopIn(p, server, reason, timeout),
    "stop",
  );
}

function callIn(
  proc: Process,
  server: Dest,
  request: unknown,
  timeout: number,
): Promise<unknown> {
  if (!(proc instanceof ProcessImpl)) return Promise.reject(callerError(proc));
  // Checked first: the call state below is the process's one and only.
  if (proc.waitResolve !== undefined) {
    throw new ConcurrentReceiveError(proc.self, "call");
  }
  if (!proc.alive) return never(); // like a dead process's receive
  if (isSelf(proc, server)) {
    return Promise.reject(new CallError(server, "calling_self"));
  }
  const kernel = proc.kernel;
  const state = (proc.callWatch ??= newCallState(proc)) as CallState;
  const ref = kernel.makeRef();
  state.ref = ref;
  state.server = server;
  const message = { $call: ref, from: proc.self, request };
  state.light = watchCall(kernel, state, server);
  if (state.light) {
    state.downRef = ref;
    kernel.deliver(state.callee!, message); // found live just now: a send
  } else {
    // The monitor kept from the last call serves again if it watches this
    // server (see `settle`); any other is released.
    let monitor = proc.keptMonitor;
    proc.keptMonitor = undefined;
    if (
      monitor !== undefined &&
      !(server instanceof Pid && server.equals(state.keptPid))
    ) {
      proc.demonitor(monitor, FLUSH);
      monitor = undefined;
    }
    if (monitor === undefined) {
      monitor = kernel.makeRef();
      addMonitor(kernel, proc, monitor, server);
    }
    state.downRef = monitor;
    try {
      proc.send(server, message);
    } catch (error) {
      release(state);
      return Promise.reject(
        error instanceof NotRegisteredError
          ? new CallError(server, "noproc")
          : error,
      );
    }
  }
  const promise = new Promise(captureSettlers);
  state.resolve = capturedResolve!;
  state.reject = capturedReject!;
  capturedResolve = capturedReject = undefined;
  if (timeout === 0) {
    // As gen_server's: the request is sent, and no reply can be there yet.
    state.settle(state.expired);
    return promise;
  }
  if (timeout !== Infinity) armDeadline(state, timeout);
  // The reply, the Down or the timeout is handed to `settle` as it is
  // delivered, so the caller resumes straight from the call's own promise:
  // one turn, as a receive.
  proc.awaitMessage(state.match, state.settle);
  return promise;
}

/**
 * A process's call state, reused call after call (a process has one call
 * pending at most): its watch on a local server, the pending call's
 * settlers, its deadline ticker, and the matcher and settler, made once per
 * process instead of once per call.
 */
interface CallState extends CallWatch {
  server: Dest;
  /** Watched by `watchCall`; otherwise monitored. */
  light: boolean;
  /**
   * The ref of the `Down` that ends the call: the call's own with a watch,
   * the monitor's otherwise.
   */
  downRef: Ref | undefined;
  /** The remote server `proc.keptMonitor` watches. */
  keptPid: Pid | undefined;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  deadline: Deadline | undefined;
  /**
   * What the deadline delivers when the call is overdue: one object per
   * process that nothing else can send, so no message can pass for it.
   */
  readonly expired: object;
  readonly match: (m: unknown) => boolean;
  readonly settle: (m: unknown) => void;
  /** `replied` for this state, as a function of the reply. */
  readonly answer: (value: unknown) => void;
}

function newCallState(proc: ProcessImpl): CallState {
  const state: CallState = {
    proc,
    ref: undefined,
    callee: undefined,
    name: undefined,
    slot: -1,
    server: "",
    light: false,
    downRef: undefined,
    keptPid: undefined,
    resolve: ignore,
    reject: ignore,
    // Every way a call ends sets its settlers back to `ignore`.
    get pending() {
      return state.resolve !== ignore;
    },
    deadline: undefined,
    expired: { $callTimeout: true },
    match: (m) => {
      if (m === null || typeof m !== "object") return false;
      if (m instanceof Down) {
        return m.ref === state.downRef || m.ref.equals(state.downRef);
      }
      return isReplyTo(m, state.ref!) || m === state.expired;
    },
    answer: (value) => replied(state, value),
    // Runs inside the deliverer's `send`: whatever happens, it must not throw.
    settle: (got) => {
      if (!(got instanceof Down) && isReplyTo(got, state.ref!)) {
        return replied(state, (got as { value: unknown }).value);
      }
      const { reject, server } = state;
      state.resolve = state.reject = ignore;
      try {
        if (state.deadline !== undefined) state.deadline.pending = false;
        if (got instanceof Down) {
          if (state.light) unwatchCall(state);
          // The call is given up: a reply from whoever holds its `From`
          // is late (gen_server's alias goes with the `DOWN`).
          proc.dropsLateReplies = true;
          return reject(new CallError(server, got.reason));
        }
        const ref = state.ref!;
        release(state);
        // A reply that came while this timeout waited for the host's turn
        // (Kernel.overdue) is dropped now; one still to come, on arrival.
        if (proc.mailbox.length > 0) {
          proc.mailbox.removeAll((m) => isReplyTo(m, ref));
        }
        proc.dropsLateReplies = true;
        reject(new CallError(server, "timeout"));
      } catch (error) {
        reject(error);
      }
    },
  };
  return state;
}

/**
 * The pending call got its reply: ends its watch or monitor, or keeps a
 * remote server's monitor for the next call to it (which then sends no
 * MONITOR frame, and this one no DEMONITOR; a name may move to another
 * process between calls, so only a pid's), and resolves.
 */
function replied(state: CallState, value: unknown): void {
  const { resolve, reject, server, proc } = state;
  state.resolve = state.reject = ignore;
  try {
    if (state.deadline !== undefined) state.deadline.pending = false;
    if (state.light) {
      unwatchCall(state);
    } else if (server instanceof Pid && server.node !== proc.self.node) {
      proc.keptMonitor = state.downRef;
      state.keptPid = server;
    } else {
      release(state);
    }
  } catch (error) {
    return reject(error);
  }
  resolve(value);
}

/**
 * The server's immediate reply to `from`. A local caller that is waiting
 * for exactly this reply gets it handed over, with no message to build,
 * deliver and match; any other gets the reply message.
 */
function replyTo(kernel: Kernel, from: From, value: unknown): void {
  if (value !== undefined) checkMessage(value);
  const caller = kernel.lookup(from.pid);
  const state = caller?.callWatch as CallState | undefined;
  if (
    state !== undefined && caller!.waitResolve === state.settle &&
    state.ref === from.ref
  ) {
    caller!.waitResolve = caller!.waitMatch = undefined;
    return kernel.resume(caller!, state.answer, value);
  }
  from.reply(value);
}

/** Ends the call's watch or monitor (and drops a `Down` it left queued). */
function release(state: CallState): void {
  if (state.light) unwatchCall(state);
  else state.proc.demonitor(state.downRef!, FLUSH);
}

function isReplyTo(m: unknown, ref: Ref): boolean {
  if (m === null || typeof m !== "object") return false;
  const r = (m as { $reply?: unknown }).$reply;
  return r === ref || ref.equals(r);
}

function ignore(): void {}

let capturedResolve: ((value: unknown) => void) | undefined;
let capturedReject: ((error: unknown) => void) | undefined;

function captureSettlers(
  resolve: (value: unknown) => void,
  reject: (error: unknown) => void,
): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

const FLUSH = { flush: true } as const;

/**
 * A process's call deadline. Reading the host clock costs about a fifth of a
 * local call here, and arming a host timer per call costs more than the rest
 * of the call, so a process keeps one ticker per timeout length, and a call
 * started while it runs reads no clock and sets no timer: the next tick,
 * which comes within a period (a sixteenth of the timeout), reads the clock
 * and fixes the call's due time from then, and a later tick is set for that
 * time. A call so times out at most a period late (plus the host timer's
 * own lateness, about a millisecond here), never early. Ticks that merely
 * counted periods from one firing to the next added up that lateness: a
 * 10 ms timeout took 22 ms. The ticker stops on the first tick with no
 * call pending and is cleared when the process exits.
 */
interface Deadline {
  timer: unknown;
  /** The timeout the ticker serves, and its tick length. */
  timeout: number;
  period: number;
  /** Whether a call is pending; whether its due time is fixed, and that time. */
  pending: boolean;
  anchored: boolean;
  dueAt: number;
  readonly state: CallState;
}

const TICKS_PER_TIMEOUT = 16;

function armDeadline(state: CallState, timeout: number): void {
  const proc = state.proc;
  let d = state.deadline;
  if (d === undefined) {
    const fresh: Deadline = d = state.deadline = {
      timer: undefined,
      timeout: -1,
      period: 0,
      pending: false,
      anchored: false,
      dueAt: 0,
      state,
    };
    proc.signal.addEventListener("abort", () => {
      if (fresh.timer !== undefined) {
        proc.kernel.clock.clearTimeout(fresh.timer);
      }
      fresh.timer = undefined;
      fresh.pending = false;
    }, { once: true });
  }
  d.pending = true;
  if (d.timer !== undefined && d.timeout === timeout) {
    d.anchored = false; // the next tick, within a period, fixes the due time
    return;
  }
  const clock = proc.kernel.clock;
  if (d.timer !== undefined) clock.clearTimeout(d.timer);
  d.timeout = timeout;
  d.period = Math.max(timeout / TICKS_PER_TIMEOUT, 1);
  // Setting a timer anyway: fix the due time now.
  d.anchored = true;
  d.dueAt = clock.now() + timeout;
  const ticker = d;
  d.timer = clock.setTimeout(() => tick(ticker), Math.min(d.period, timeout));
}

function tick(d: Deadline): void {
  d.timer = undefined;
  const proc = d.state.proc;
  if (!d.pending || !proc.alive) return;
  const clock = proc.kernel.clock;
  const now = clock.now();
  // A call whose answer waits for the host's turn (Kernel.overdue) is not
  // waiting any more; the answer clears `pending` as it lands.
  if (proc.waitResolve === d.state.settle) {
    if (!d.anchored) {
      d.anchored = true;
      d.dueAt = now + d.timeout;
    } else if (now >= d.dueAt) {
      d.pending = false;
      proc.kernel.deliver(proc, d.state.expired);
      return;
    }
  }
  // Never further than a period: a call started meanwhile is due from the
  // next tick.
  const wait = d.anchored ? Math.max(0, d.dueAt - now) : d.period;
  d.timer = clock.setTimeout(() => tick(d), Math.min(d.period, wait));
}

async function stopIn(
  proc: Process,
  server: Dest,
  reason: ExitReason,
  timeout: number,
): Promise<void> {
  if (isSelf(proc, server)) throw new CallError(server, "calling_self");
  const ref = proc.monitor(server);
  try {
    proc.send(server, { $stop: ref, reason });
  } catch (error) {
    proc.demonitor(ref, FLUSH);
    if (error instanceof NotRegisteredError) {
      throw new CallError(server, "noproc");
    }
    throw error;
  }
  const down = await proc.receive(
    (m): m is Down => m instanceof Down && m.ref.equals(ref),
    { timeout },
  );
  if (down === undefined) {
    proc.demonitor(ref, FLUSH);
    throw new CallError(server, "timeout");
  }
  // As gen_server:stop: it went with the reason asked for, or the caller
  // hears the one it went with (a stop queued before, terminate's crash).
  if (!sameReason(down.reason, reason)) {
    throw new CallError(server, down.reason);
  }
}

/**
 * Whether two exit reasons are the same term. A reason may have crossed the
 * wire, so they are compared as the codec carries them: any other object
 * crosses as its own enumerable fields, without its prototype (a null one,
 * or a class), and NaN is NaN.
 */
function sameReason(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === "number") return Number.isNaN(a) && Number.isNaN(b);
  if (
    typeof a !== "object" || typeof b !== "object" || a === null || b === null
  ) return false;
  if (a instanceof Crash) return a.equals(b);
  if (a instanceof Pid || a instanceof Ref) return a.equals(b);
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length &&
      a.every((x, i) => sameReason(x, b[i]));
  }
  if (a instanceof Uint8Array) {
    return b instanceof Uint8Array && a.length === b.length &&
      a.every((x, i) => x === b[i]);
  }
  if (a instanceof Date) {
    return b instanceof Date && sameReason(a.getTime(), b.getTime());
  }
  // Reasons are small: pairing entries by search is fine.
  if (a instanceof Map) {
    if (!(b instanceof Map) || a.size !== b.size) return false;
    const rest = [...b];
    return [...a].every(([k, v]) => {
      const i = rest.findIndex(([l, w]) =>
        sameReason(k, l) && sameReason(v, w)
      );
      return i >= 0 && rest.splice(i, 1).length === 1;
    });
  }
  if (a instanceof Set) {
    if (!(b instanceof Set) || a.size !== b.size) return false;
    const rest = [...b];
    return [...a].every((x) => {
      const i = rest.findIndex((y) => sameReason(x, y));
      return i >= 0 && rest.splice(i, 1).length === 1;
    });
  }
  if (a instanceof Error) {
    return b instanceof Error && a.name === b.name && a.message === b.message;
  }
  if (
    Array.isArray(b) || b instanceof Crash || b instanceof Pid ||
    b instanceof Ref || b instanceof Uint8Array || b instanceof Date ||
    b instanceof Map || b instanceof Set || b instanceof Error
  ) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length &&
    keys.every((k) =>
      Object.hasOwn(b, k) &&
      sameReason(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
      )
    );
}

/**
 * Whether `server` is the calling process itself, by pid or by a name it
 * holds on this node: a call or stop it could never answer while it waits,
 * refused with `calling_self` as gen_server's, before anything is sent.
 */
function isSelf(proc: ProcessImpl | Process, server: Dest): boolean {
  if (server instanceof Pid) return server.equals(proc.self);
  const name = typeof server === "string"
    ? server
    : Array.isArray(server) && server[1] === proc.runtime.node
    ? server[0]
    : undefined;
  return name !== undefined &&
    proc.runtime.whereis(name)?.equals(proc.self) === true;
}

/**
 * Runs `work` in a helper process of `runtime`. Settles once the helper is
 * gone, so nothing of the call is left running; its death rejects.
 */
function viaHelper<T>(
  runtime: Runtime,
  server: Dest,
  work: (proc: Process) => Promise<T>,
  what: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let outcome: { value: T } | { error: unknown } | undefined;
    let pid: Pid;
    try {
      pid = runtime.spawn(async (proc) => {
        try {
          outcome = { value: await work(proc) };
        } catch (error) {
          outcome = { error };
        }
      });
    } catch (error) {
      // The helper is ours, not the caller's: say what the caller asked.
      throw error instanceof RuntimeStoppedError
        ? new RuntimeStoppedError(`Cannot ${what} ${describe(server)}`)
        : error;
    }
    runtime.whenExited(pid).then((reason) => {
      if (outcome === undefined) reject(new CallError(server, reason));
      else if ("value" in outcome) resolve(outcome.value);
      else reject(outcome.error);
    });
  });
}

/** The error for a caller that is not a runtime or one of its processes. */
function callerError(caller: unknown): InvalidArgumentError | undefined {
  if (caller instanceof Runtime || caller instanceof ProcessImpl) {
    return undefined;
  }
  return new InvalidArgumentError(
    "caller",
    `expected a Runtime or one of its processes, got ${describe(caller)}`,
  );
}

/**
 * Checks that `caller` can act: a runtime, or a process of one. Returns
 * the runtime. Internal (not re-exported by `mod.ts`).
 */
export function checkCaller(caller: unknown): Runtime {
  const error = callerError(caller);
  if (error !== undefined) throw error;
  return caller instanceof Runtime ? caller : (caller as ProcessImpl).runtime;
}

const CALLBACKS = ["handleCall", "handleCast", "handleInfo", "terminate"];

/**
 * Checks a {@linkcode ServerBehaviour} before anything runs it: an object
 * whose `init` is a function, as is each other callback it has. `argument`
 * names it in the error. Internal (not re-exported by `mod.ts`).
 */
export function checkBehaviour(behaviour: unknown, argument: string): void {
  if (behaviour === null || typeof behaviour !== "object") {
    throw new InvalidArgumentError(
      argument,
      `expected an object with an init function, got ${describe(behaviour)}`,
    );
  }
  const b = behaviour as Record<string, unknown>;
  if (typeof b.init !== "function") {
    throw new InvalidArgumentError(
      argument,
      `expected init to be a function, got ${describe(b.init)}`,
    );
  }
  for (const name of CALLBACKS) {
    const callback = b[name];
    if (callback !== undefined && typeof callback !== "function") {
      throw new InvalidArgumentError(
        argument,
        `expected ${name} to be a function when given, got ${
          describe(callback)
        }`,
      );
    }
  }
}

/**
 * Checks an options object: undefined or an object whose listed fields, when
 * present, have the given type. Internal (not re-exported by `mod.ts`).
 */
export function checkOptions(
  argument: string,
  options: unknown,
  fields?: Readonly<Record<string, "boolean" | "string">>,
): void {
  const error = optionsError(argument, options, fields);
  if (error !== undefined) throw error;
}

function optionsError(
  argument: string,
  options: unknown,
  fields?: Readonly<Record<string, "boolean" | "string">>,
): InvalidArgumentError | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== "object") {
    return new InvalidArgumentError(
      argument,
      `expected an object, got ${describe(options)}`,
    );
  }
  if (fields === undefined) return undefined; // `call`'s path: no allocation
  for (const [field, type] of Object.entries(fields)) {
    const value = (options as Record<string, unknown>)[field];
    if (value !== undefined && typeof value !== type) {
      return new InvalidArgumentError(
        `${field} option`,
        `expected a ${type}, got ${describe(value)}`,
      );
    }
  }
  return undefined;
}

function timeoutError(
  what: string,
  ms: unknown,
): InvalidArgumentError | undefined {
  if (typeof ms === "number" && ms >= 0) return undefined; // NaN fails
  return new InvalidArgumentError(
    what,
    `expected milliseconds >= 0 or Infinity, got ${describe(ms)}`,
  );
}

function renderDest(dest: Dest): string {
  if (typeof dest === "string") return `"${dest}"`;
  if (Array.isArray(dest)) return `"${dest[0]}" on ${dest[1]}`;
  return String(dest);
}

function renderReason(reason: ExitReason): string {
  if (isCrash(reason)) return `${reason.name}: ${reason.message}`;
  if (typeof reason === "string") return reason;
  try {
    return JSON.stringify(reason) ?? String(reason);
  } catch {
    return String(reason);
  }
}
