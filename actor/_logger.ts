/**
 * A user's logger, made safe to call from inside the runtime: a logger that
 * throws must not cut an exit, a delivery or a connection's end short.
 *
 * @module
 */
import type { Logger } from "./_kernel.ts";

/** `logger` with every call's failure swallowed; `undefined` stays so. */
export function containLogger(logger: Logger | undefined): Logger | undefined {
  if (logger === undefined) return undefined;
  return {
    error(message, details) {
      try {
        logger.error(message, details);
      } catch { /* the logger's own failure: nowhere left to report it */ }
    },
    warn(message, details) {
      try {
        logger.warn(message, details);
      } catch { /* as above */ }
    },
  };
}
