/**
 * Errors the runtime throws at callers. Each is a named class with structured
 * fields, so code can catch exactly what it expects.
 *
 * @module
 */
import { Pid, Ref } from "../wire/terms.ts";
import { MAX_NAME_BYTES } from "../wire/frame.ts";

// Anything may be thrown at the runtime, a Proxy whose `getPrototypeOf`
// throws included: `instanceof` on a thrown value goes through this.
export { isInstance } from "../wire/_shown.ts";

/** Base class of every error Mote throws; `name` is the class name. */
export class MoteError extends Error {
  /** Builds the error; `cause` is passed through. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A caller passed a value of the wrong type or out of range. */
export class InvalidArgumentError extends MoteError {
  /** The parameter that was wrong. */
  readonly argument: string;
  /** Builds the error for parameter `argument`. */
  constructor(argument: string, message: string) {
    super(`Invalid ${argument}: ${message}`);
    this.argument = argument;
  }
}

/** Sending to a name that no process has registered (P3). */
export class NotRegisteredError extends MoteError {
  /** The name that was not found. */
  readonly registeredName: string;
  /** Builds the error for `name`. */
  constructor(name: string) {
    super(`Cannot send to "${name}": no process is registered under it`);
    this.registeredName = name;
  }
}

/** Registering a name that is taken, or a pid that already has one (N1). */
export class NameTakenError extends MoteError {
  /** The name that could not be registered. */
  readonly registeredName: string;
  /** The pid that holds the name (or the pid that already has another name). */
  readonly pid: Pid;
  /** Builds the error. */
  constructor(name: string, pid: Pid, message: string) {
    super(message);
    this.registeredName = name;
    this.pid = pid;
  }
}

/** An operation needed a live local process and the pid named none. */
export class NoProcessError extends MoteError {
  /** The pid that is not alive. */
  readonly pid: Pid;
  /** Builds the error for `pid`; `what` says what could not be done. */
  constructor(what: string, pid: Pid) {
    super(`${what}: ${pid} is not a live process of this runtime`);
    this.pid = pid;
  }
}

/**
 * A process called `receive`, `sleep` or `call` while one of its own was
 * pending (each waits on the mailbox, and a process has one wait at a time).
 */
export class ConcurrentReceiveError extends MoteError {
  /** The process that tried. */
  readonly pid: Pid;
  /** What it tried: `"receive"`, `"sleep"` or `"call"`. */
  readonly operation: string;
  /** Builds the error for `pid`; `operation` is what it tried (default `"receive"`). */
  constructor(pid: Pid, operation: string = "receive") {
    super(
      `Cannot ${operation} in ${pid}: a receive, sleep or call of its own is already pending (await one at a time)`,
    );
    this.pid = pid;
    this.operation = operation;
  }
}

/** The runtime was shut down, so it cannot spawn. */
export class RuntimeStoppedError extends MoteError {
  /** Builds the error; `what` says what could not be done. */
  constructor(what: string) {
    super(`${what}: the runtime has been shut down`);
  }
}

/**
 * A message a receive could not hand over: `undefined`, which receive uses
 * to mean "timed out", or a thenable, which its promise would await.
 */
export class InvalidMessageError extends MoteError {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
  }
}

/**
 * A short description of a value for error messages: a string quoted (and
 * cut short if long), a number as `number 42`, an object by its class. For
 * the runtime's own messages; not part of the public API.
 */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "string") {
    return value.length <= 64
      ? JSON.stringify(value)
      : `${JSON.stringify(value.slice(0, 64))}… (${value.length} characters)`;
  }
  if (typeof value === "function") {
    return value.name === "" ? "a function" : `a function (${value.name})`;
  }
  if (typeof value !== "object") return `${typeof value} ${String(value)}`;
  // A Proxy may throw from any of these: the message must still be made.
  try {
    if (Array.isArray(value)) return `an array of length ${value.length}`;
    if (value instanceof Pid) return `the pid ${value}`;
    if (value instanceof Ref) return `the ref ${value}`;
    return `an object (${value.constructor?.name ?? "Object"})`;
  } catch {
    return "an object";
  }
}

const encoder = new TextEncoder();

/**
 * Why `name` cannot travel as a name on the wire (well-formed UTF-8 of at
 * most 255 bytes), or `undefined` if it can.
 */
export function wireNameFault(name: string): string | undefined {
  if (!name.isWellFormed()) {
    // A lone surrogate would arrive as U+FFFD: another name.
    return "expected well-formed Unicode (no lone surrogates)";
  }
  if (name.length * 3 <= MAX_NAME_BYTES) return undefined;
  const n = encoder.encode(name).length;
  return n > MAX_NAME_BYTES
    ? `expected at most ${MAX_NAME_BYTES} bytes of UTF-8, got ${n}`
    : undefined;
}

/** The error for something given where a `Dest` belongs. */
export function badDestination(dest: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    "destination",
    `expected a Pid, a registered name or [name, node], got ${describe(dest)}`,
  );
}

/** Throws unless `value` is undefined or an object with these methods. */
export function checkMethods(
  what: string,
  value: unknown,
  methods: readonly string[],
): void {
  if (value === undefined) return;
  if (value === null || typeof value !== "object") {
    throw new InvalidArgumentError(
      `${what} option`,
      `expected an object with ${methods.join(", ")}, got ${describe(value)}`,
    );
  }
  for (const method of methods) {
    const fn = (value as Record<string, unknown>)[method];
    if (typeof fn !== "function") {
      throw new InvalidArgumentError(
        `${what} option`,
        `expected ${method} to be a function, got ${describe(fn)}`,
      );
    }
  }
}

/**
 * Throws {@linkcode InvalidMessageError} for what a receive could not hand
 * over: `undefined` (its timeout answer) and a thenable (its promise would
 * call the `then` instead, and the message would be lost).
 */
export function checkMessage(message: unknown): void {
  if (message === undefined) {
    throw new InvalidMessageError(
      "Cannot send undefined: receive uses undefined to report a timeout; send null instead",
    );
  }
  if (
    (typeof message === "object" && message !== null) ||
    typeof message === "function"
  ) {
    let then: unknown;
    try {
      then = (message as { then?: unknown }).then;
    } catch {
      throw new InvalidMessageError(
        "Cannot send a value whose then cannot be read (it throws): receive would try to await it",
      );
    }
    if (typeof then === "function") {
      throw new InvalidMessageError(
        "Cannot send a thenable (a value with a then method, such as a promise): receive would await it instead of handing it over; send what it resolves to",
      );
    }
  }
}
