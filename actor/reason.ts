/**
 * Exit reasons: values that say why a process ended and travel through links,
 * monitors and the wire. They are never thrown at users.
 *
 * @module
 */
import { Crash } from "../wire/terms.ts";

/**
 * Why a process ended. Any value may be a reason (as in Erlang), but for
 * `undefined` and a thenable (a value with a `then` method, which a promise
 * such as `whenExited`'s would call instead of handing it over): those are
 * refused with `InvalidArgumentError`. These are the ones the runtime itself
 * produces:
 * - `"normal"`: the body returned;
 * - `"shutdown"`: the runtime or a supervisor stopped it;
 * - `"killed"`: it got an untrappable `"kill"` exit signal;
 * - `"noproc"`: the process linked to or monitored did not exist;
 * - `"noconnection"`: the node it lived on could not be reached;
 * - a {@linkcode Crash}: the body threw.
 */
export type ExitReason =
  | "normal"
  | "shutdown"
  | "killed"
  | "kill"
  | "noproc"
  | "noconnection"
  | Crash
  // deno-lint-ignore ban-types
  | (string & {})
  | number
  | boolean
  | null
  | object;

/** Whether a reason is a crash (the process body threw). */
export function isCrash(reason: unknown): reason is Crash {
  return reason instanceof Crash;
}

/** Whether a reason counts as a normal exit (`"normal"`). */
export function isNormal(reason: unknown): boolean {
  return reason === "normal";
}
