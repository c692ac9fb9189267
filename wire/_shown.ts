/**
 * Values in error messages. The wire layer imports nothing of the runtime,
 * so it has its own: whatever a caller passes (a Symbol, a Proxy whose
 * traps throw), making the message must not throw.
 *
 * @module
 */

/** `value` in a few words. */
export function shown(value: unknown): string {
  try {
    if (typeof value === "string") {
      return JSON.stringify(
        value.length > 40 ? value.slice(0, 40) + "…" : value,
      );
    }
    if (typeof value === "object" && value !== null) {
      return Array.isArray(value) ? "an array" : "an object";
    }
    if (typeof value === "function") return "a function";
    return String(value);
  } catch {
    return "a value that cannot be shown";
  }
}

/** Throws a TypeError naming `what` unless `value` is a Uint8Array. */
export function checkBytes(
  value: unknown,
  what: string,
): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${what}: expected a Uint8Array, got ${shown(value)}`);
  }
}

/** Throws a TypeError naming `what` unless `value` is undefined or an object. */
export function checkOptions(value: unknown, what: string): void {
  if (value !== undefined && (typeof value !== "object" || value === null)) {
    throw new TypeError(`${what}: expected an object, got ${shown(value)}`);
  }
}

/** What a codec (or anyone) threw, as text: anything may be thrown. */
export function messageOf(error: unknown): string {
  try {
    if (error instanceof Error) return String(error.message);
  } catch { /* as any other value */ }
  return shown(error);
}

/** `value instanceof type`, and false where asking throws (a Proxy may). */
export function isInstance<T>(
  value: unknown,
  type: abstract new (...args: never[]) => T,
): value is T {
  try {
    return value instanceof type;
  } catch {
    return false;
  }
}

/** Throws a TypeError naming `what` unless `codec` has encode and decode. */
export function checkCodec(codec: unknown, what: string): void {
  const c = codec as { encode?: unknown; decode?: unknown } | null;
  if (
    typeof c !== "object" || c === null || typeof c.encode !== "function" ||
    typeof c.decode !== "function"
  ) {
    throw new TypeError(
      `${what}: expected a codec with encode and decode, got ${shown(codec)}`,
    );
  }
}
