/**
 * Errors the runtime throws at callers. Each is a named class with structured
 * fields, so code can catch exactly what it expects.
 *
 * @module
 */
import type { Pid } from "../wire/terms.ts";

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

/** A process called `receive` while a `receive` of its own was pending. */
export class ConcurrentReceiveError extends MoteError {
  /** The process that tried. */
  readonly pid: Pid;
  /** Builds the error for `pid`. */
  constructor(pid: Pid) {
    super(
      `Cannot receive in ${pid}: a receive is already pending (await one receive at a time)`,
    );
    this.pid = pid;
  }
}

/** The runtime was shut down, so it cannot spawn. */
export class RuntimeStoppedError extends MoteError {
  /** Builds the error; `what` says what could not be done. */
  constructor(what: string) {
    super(`${what}: the runtime has been shut down`);
  }
}

/** A message was `undefined`, which receive uses to mean "timed out". */
export class InvalidMessageError extends MoteError {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
  }
}
