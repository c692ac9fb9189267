/**
 * The process core of Mote: a {@linkcode Runtime} of lightweight processes
 * with mailboxes and selective receive, links, monitors, exit signals and
 * names, following Erlang/OTP semantics.
 *
 * @example
 * ```ts
 * import { Runtime } from "./mod.ts";
 * const rt = new Runtime();
 * const got = Promise.withResolvers<unknown>();
 * const echo = rt.spawn(async (proc) => got.resolve(await proc.receive()));
 * rt.send(echo, "hi");
 * if (await got.promise !== "hi") throw new Error();
 * await rt.shutdown();
 * ```
 *
 * @module
 */
export { Runtime } from "./runtime.ts";
export type { Logger, ProcessInfo, RuntimeOptions } from "./runtime.ts";
export type {
  DemonitorOptions,
  Dest,
  Process,
  ProcessBody,
  ReceiveOptions,
  SpawnOptions,
} from "./process.ts";
export { Down, Exit } from "./messages.ts";
export { isCrash, isNormal } from "./reason.ts";
export type { ExitReason } from "./reason.ts";
export { ManualClock, realClock } from "./clock.ts";
export type { Clock, TimerHandle } from "./clock.ts";
export { Mailbox, NO_MATCH } from "./mailbox.ts";
export type { ExitCause, LocalGate, Router } from "./router.ts";
export {
  ConcurrentReceiveError,
  InvalidArgumentError,
  InvalidMessageError,
  MoteError,
  NameTakenError,
  NoProcessError,
  NotRegisteredError,
  RuntimeStoppedError,
} from "./errors.ts";
export { Crash, Pid, Ref } from "../wire/terms.ts";
export {
  call,
  CallError,
  cast,
  From,
  InitStop,
  reply,
  ServerStartError,
  startServer,
  stopServer,
} from "./server.ts";
export type {
  Awaitable,
  Caller,
  CallOptions,
  CallResult,
  CastResult,
  ServerBehaviour,
  ServerDest,
  ServerPid,
  ServerProtocol,
  StartServerOptions,
  StopServerOptions,
} from "./server.ts";
export {
  countChildren,
  deleteChild,
  restartChild,
  serverChild,
  startChild,
  startSupervisor,
  supervisorChild,
  SupervisorError,
  SupervisorStartError,
  terminateChild,
  whichChildren,
} from "./supervisor.ts";
export type {
  ChildCounts,
  ChildInfo,
  ChildSpec,
  ChildType,
  RestartType,
  Strategy,
  SupervisorOptions,
} from "./supervisor.ts";
