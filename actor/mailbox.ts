/**
 * A process mailbox: a FIFO queue that also supports taking the oldest
 * element a predicate accepts (selective receive). Every operation at the
 * ends is O(1), so a million queued messages drain in linear time.
 *
 * @module
 */

interface Cell {
  value: unknown;
  next: Cell | undefined;
}

/**
 * A singly linked FIFO queue with removal of the first match.
 *
 * @example
 * ```ts
 * import { Mailbox } from "./mailbox.ts";
 * const box = new Mailbox();
 * box.push(1); box.push("two"); box.push(3);
 * const found = box.takeFirst((m) => typeof m === "string");
 * if (found !== "two" || box.shift() !== 1 || box.length !== 1) throw new Error();
 * ```
 */
export class Mailbox {
  #head: Cell | undefined = undefined;
  #tail: Cell | undefined = undefined;
  #length = 0;

  /** Number of queued messages. */
  get length(): number {
    return this.#length;
  }

  /** Appends a message at the end. */
  push(value: unknown): void {
    const cell: Cell = { value, next: undefined };
    if (this.#tail === undefined) this.#head = cell;
    else this.#tail.next = cell;
    this.#tail = cell;
    this.#length++;
  }

  /** Removes and returns the oldest message; `undefined` when empty. */
  shift(): unknown {
    const cell = this.#head;
    if (cell === undefined) return undefined;
    this.#head = cell.next;
    if (this.#head === undefined) this.#tail = undefined;
    this.#length--;
    return cell.value;
  }

  /**
   * Removes and returns the oldest message `match` accepts, leaving the
   * others in order. Returns {@linkcode NO_MATCH} when none does. If `match`
   * throws, the error propagates and the mailbox is unchanged.
   */
  takeFirst(match: (value: unknown) => boolean): unknown {
    let prev: Cell | undefined = undefined;
    for (let cell = this.#head; cell !== undefined; cell = cell.next) {
      if (match(cell.value)) {
        this.#unlink(prev, cell);
        return cell.value;
      }
      prev = cell;
    }
    return NO_MATCH;
  }

  /** Removes every message `match` accepts; returns how many. */
  removeAll(match: (value: unknown) => boolean): number {
    let removed = 0;
    let prev: Cell | undefined = undefined;
    for (let cell = this.#head; cell !== undefined; cell = cell.next) {
      if (match(cell.value)) {
        this.#unlink(prev, cell);
        removed++;
      } else {
        prev = cell;
      }
    }
    return removed;
  }

  /** The queued messages, oldest first (a copy). */
  toArray(): unknown[] {
    const out: unknown[] = [];
    for (let c = this.#head; c !== undefined; c = c.next) out.push(c.value);
    return out;
  }

  /** Drops every message. */
  clear(): void {
    this.#head = this.#tail = undefined;
    this.#length = 0;
  }

  #unlink(prev: Cell | undefined, cell: Cell): void {
    if (prev === undefined) this.#head = cell.next;
    else prev.next = cell.next;
    if (this.#tail === cell) this.#tail = prev;
    this.#length--;
  }
}

/** Returned by {@linkcode Mailbox.takeFirst} when no message matched. */
export const NO_MATCH: unique symbol = Symbol("mote.no_match");
