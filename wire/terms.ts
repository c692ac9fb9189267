/**
 * The plain values that identify things across nodes: {@linkcode Pid},
 * {@linkcode Ref} and {@linkcode Crash}. They are data, with no behaviour tied
 * to a runtime, so the wire codec can carry them and `actor/` can build on them
 * without either importing the other's machinery.
 *
 * @module
 */

/**
 * A process identifier: the name of the node the process lives on, its id on
 * that node, and the node's creation number (D1). Pids are immutable values;
 * two pids for the same process compare equal with {@linkcode Pid.equals},
 * including a pid decoded on another node.
 *
 * @example
 * ```ts
 * import { Pid } from "./terms.ts";
 * const a = new Pid("a@host", 7, 1);
 * const b = new Pid("a@host", 7, 1);
 * if (!a.equals(b) || a.toString() !== "<a@host.7.1>") throw new Error();
 * ```
 */
export class Pid {
  /** Name of the node the process lives on. */
  readonly node: string;
  /** Id of the process on its node; never reused within one creation. */
  readonly id: number;
  /** Creation number of the node incarnation that spawned the process. */
  readonly creation: number;

  /** Builds a pid from its three parts. */
  constructor(node: string, id: number, creation: number) {
    this.node = node;
    this.id = id;
    this.creation = creation;
  }

  /** Whether `other` is a pid naming the same process. */
  equals(other: unknown): boolean {
    return other instanceof Pid && other.id === this.id &&
      other.creation === this.creation && other.node === this.node;
  }

  /** A string that is equal for equal pids; usable as a map key. */
  get key(): string {
    return `${this.node}\u0000${this.id}\u0000${this.creation}`;
  }

  /** Erlang-like rendering, `<node.id.creation>`. */
  toString(): string {
    return `<${this.node}.${this.id}.${this.creation}>`;
  }

  /** Shown by `console.log` and `Deno.inspect`. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}

/**
 * A unique reference, as returned by `monitor`: node name, a per-node id and
 * the node's creation. Refs compare equal with {@linkcode Ref.equals}.
 *
 * @example
 * ```ts
 * import { Ref } from "./terms.ts";
 * const r = new Ref("a@host", 42, 1);
 * if (!r.equals(new Ref("a@host", 42, 1))) throw new Error();
 * ```
 */
export class Ref {
  /** Name of the node that made the reference. */
  readonly node: string;
  /** Id of the reference on its node. */
  readonly id: number;
  /** Creation number of the node incarnation that made the reference. */
  readonly creation: number;

  /** Builds a reference from its three parts. */
  constructor(node: string, id: number, creation: number) {
    this.node = node;
    this.id = id;
    this.creation = creation;
  }

  /** Whether `other` is the same reference. */
  equals(other: unknown): boolean {
    return other instanceof Ref && other.id === this.id &&
      other.creation === this.creation && other.node === this.node;
  }

  /** A string that is equal for equal refs; usable as a map key. */
  get key(): string {
    return `${this.node}\u0000${this.id}\u0000${this.creation}`;
  }

  /** Erlang-like rendering, `#Ref<node.id.creation>`. */
  toString(): string {
    return `#Ref<${this.node}.${this.id}.${this.creation}>`;
  }

  /** Shown by `console.log` and `Deno.inspect`. */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}

/** `value` as text, whatever it is (a value whose conversions throw too). */
function textOf(value: unknown): string {
  if (typeof value === "string") return value;
  try {
    return String(value);
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return "[a value that cannot be shown]";
    }
  }
}

/**
 * The exit reason of a process whose body threw: the error's name, message
 * and stack, as a value that travels through links, monitors and the wire.
 * It is deliberately not an `Error`: exit reasons are values, never thrown.
 *
 * @example
 * ```ts
 * import { Crash } from "./terms.ts";
 * const c = Crash.from(new TypeError("bad"));
 * if (c.name !== "TypeError" || c.message !== "bad") throw new Error();
 * ```
 */
export class Crash {
  /** The error's `name` (`"Error"` for a thrown non-error). */
  readonly name: string;
  /** The error's `message`, or the thrown value rendered as text. */
  readonly message: string;
  /** The error's stack, when it had one. */
  readonly stack: string | undefined;

  /** Builds a crash reason from its parts. */
  constructor(name: string, message: string, stack?: string) {
    this.name = name;
    this.message = message;
    this.stack = stack;
  }

  /** Turns anything a process body threw into a crash reason. */
  static from(thrown: unknown): Crash {
    // Anything may be thrown, a Proxy whose every trap throws included:
    // this must still give a reason.
    try {
      if (thrown instanceof Crash) return thrown;
      if (thrown instanceof Error) {
        const { name, message, stack } = thrown;
        return new Crash(
          String(name),
          String(message),
          typeof stack === "string" ? stack : undefined,
        );
      }
    } catch { /* described below, as any other value */ }
    return new Crash("Error", textOf(thrown));
  }

  /** Whether `other` is a crash with the same name, message and stack. */
  equals(other: unknown): boolean {
    return other instanceof Crash && other.name === this.name &&
      other.message === this.message && other.stack === this.stack;
  }

  /** `Name: message`, like an error's first line. */
  toString(): string {
    return `${this.name}: ${this.message}`;
  }
}
