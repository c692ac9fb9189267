/**
 * Mote: Erlang/OTP's process model for Deno. Lightweight processes with
 * mailboxes and selective receive, links, monitors and exit signals, named
 * processes, and distribution between nodes over TCP.
 *
 * @example
 * ```ts
 * import { Runtime } from "./mod.ts";
 * const rt = new Runtime();
 * const got = Promise.withResolvers<unknown>();
 * const echo = rt.spawn(async (proc) => got.resolve(await proc.receive()));
 * rt.send(echo, { hello: "world" });
 * await got.promise;
 * await rt.shutdown();
 * ```
 *
 * @module
 */
export * from "./actor/mod.ts";
export * from "./dist/mod.ts";
