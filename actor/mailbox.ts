/**
 * A process mailbox: a FIFO queue that also supports taking the oldest
 * element a predicate accepts (selective receive). Every operation at the
 * ends is O(1) (amortised), so a million queued messages drain in linear
 * time.
 *
 * @module
 */

// A slot emptied by a selective receive in the middle of the queue; skipped,
// and squeezed out once there are many.
const HOLE: unique symbol = Symbol("mote.mailbox.hole");
const EMPTY: unknown[] = [];

/**
 * A FIFO queue with removal of the first match, kept in a growable ring
 * buffer: no allocation per message, so a deep mailbox costs the garbage
 * collector nothing per message (a linked list of a million cells is copied
 * by every scavenge).
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
  // Slots head .. head+size-1 (mod capacity, a power of two) are in use;
  // `length` of them hold messages, the rest are holes.
  #buf: unknown[] = EMPTY;
  #head = 0;
  #size = 0;
  #length = 0;

  /** Number of queued messages. */
  get length(): number {
    return this.#length;
  }

  /** Appends a message at the end. */
  push(value: unknown): void {
    if (this.#size === this.#buf.length) this.#grow();
    this.#buf[(this.#head + this.#size) & (this.#buf.length - 1)] = value;
    this.#size++;
    this.#length++;
  }

  /** Removes and returns the oldest message; `undefined` when empty. */
  shift(): unknown {
    if (this.#length === 0) return undefined;
    const buf = this.#buf;
    const mask = buf.length - 1;
    let value = buf[this.#head];
    while (value === HOLE) {
      buf[this.#head] = undefined;
      this.#head = (this.#head + 1) & mask;
      this.#size--;
      value = buf[this.#head];
    }
    buf[this.#head] = undefined;
    this.#head = (this.#head + 1) & mask;
    this.#size--;
    // Drained after a burst: let the big buffer go.
    if (--this.#length === 0 && buf.length > 65536) this.clear();
    return value;
  }

  /**
   * Removes and returns the oldest message `match` accepts, leaving the
   * others in order. Returns {@linkcode NO_MATCH} when none does. If `match`
   * throws, the error propagates and the mailbox is unchanged.
   */
  takeFirst(match: (value: unknown) => boolean): unknown {
    const buf = this.#buf;
    const mask = buf.length - 1;
    for (let i = 0; i < this.#size; i++) {
      const at = (this.#head + i) & mask;
      const value = buf[at];
      if (value === HOLE || !match(value)) continue;
      this.#remove(i, at);
      return value;
    }
    return NO_MATCH;
  }

  /** Removes every message `match` accepts; returns how many. */
  removeAll(match: (value: unknown) => boolean): number {
    const buf = this.#buf;
    const mask = buf.length - 1;
    let removed = 0;
    for (let i = 0; i < this.#size; i++) {
      const at = (this.#head + i) & mask;
      const value = buf[at];
      if (value === HOLE || !match(value)) continue;
      buf[at] = HOLE;
      this.#length--;
      removed++;
    }
    if (removed > 0) this.#compact();
    return removed;
  }

  /** The queued messages, oldest first (a copy). */
  toArray(): unknown[] {
    const out: unknown[] = [];
    const mask = this.#buf.length - 1;
    for (let i = 0; i < this.#size; i++) {
      const value = this.#buf[(this.#head + i) & mask];
      if (value !== HOLE) out.push(value);
    }
    return out;
  }

  /** Drops every message. */
  clear(): void {
    this.#buf = EMPTY;
    this.#head = this.#size = this.#length = 0;
  }

  // Removes the message in slot `at`, the i-th in use.
  #remove(i: number, at: number): void {
    const buf = this.#buf;
    this.#length--;
    if (i === 0) {
      buf[at] = undefined;
      this.#head = (at + 1) & (buf.length - 1);
      this.#size--;
    } else if (i === this.#size - 1) {
      buf[at] = undefined;
      this.#size--;
    } else {
      buf[at] = HOLE;
    }
    this.#compact();
  }

  // Squeezes holes out once they outnumber the messages (amortised O(1)),
  // and trims holes at either end at once.
  #compact(): void {
    const buf = this.#buf;
    const mask = buf.length - 1;
    while (this.#size > 0 && buf[this.#head] === HOLE) {
      buf[this.#head] = undefined;
      this.#head = (this.#head + 1) & mask;
      this.#size--;
    }
    while (
      this.#size > 0 && buf[(this.#head + this.#size - 1) & mask] === HOLE
    ) {
      buf[(this.#head + this.#size - 1) & mask] = undefined;
      this.#size--;
    }
    if (this.#size - this.#length <= Math.max(16, this.#length)) return;
    this.#relayout(buf.length);
  }

  #grow(): void {
    this.#relayout(Math.max(4, this.#buf.length * 2));
  }

  // Copies the messages, in order and without holes, to a new buffer.
  #relayout(capacity: number): void {
    const old = this.#buf;
    const mask = old.length - 1;
    const next = new Array<unknown>(capacity).fill(undefined);
    let n = 0;
    for (let i = 0; i < this.#size; i++) {
      const value = old[(this.#head + i) & mask];
      if (value !== HOLE) next[n++] = value;
    }
    this.#buf = next;
    this.#head = 0;
    this.#size = n;
  }
}

/** Returned by {@linkcode Mailbox.takeFirst} when no message matched. */
export const NO_MATCH: unique symbol = Symbol("mote.no_match");
