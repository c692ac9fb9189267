// Receive timeouts of one runtime's processes, on one host timer.
//
// Setting and clearing a host timer for every `receive({ timeout })` costs
// more than the rest of the receive (10-70 µs on Deno, against under 1 µs),
// and most timed receives end with a message long before their timeout. So
// a timed wait is only filed under its deadline, rounded up to the next whole
// millisecond; a message that ends the wait takes it out again; and one host
// timer, set for the earliest millisecond that has a wait, fires the waits
// that are due. A timeout thus fires no earlier than asked, and at most about
// a millisecond later. While no wait is filed the timer is let go (unref'd,
// if the clock can, so it neither costs a new timer on the next wait nor
// keeps the host alive; otherwise cleared).

import type { Clock, TimerHandle } from "./clock.ts";

/** A process as these timers see it. */
export interface TimedWait {
  /** The millisecond it is filed under, or 0 when it is not filed. */
  waitDue: number;
  /** Called when its deadline has passed (it is no longer filed then). */
  timedOut(): void;
}

// Emptied milliseconds are dropped when they come due, or all at once when
// they outnumber the waits filed by this much.
const STALE_SLACK = 256;

export class ReceiveTimers<W extends TimedWait> {
  readonly #clock: Clock;
  // Deadline (ms) → the waits filed under it, in the order they began. A
  // set that empties stays (the next wait is likely to fall in the same
  // millisecond) until it is due, or until empty ones are pruned.
  readonly #due = new Map<number, Set<W>>();
  // Min-heap of the deadlines in #due.
  #keys: number[] = [];
  // Waits filed.
  #filed = 0;
  #timer: TimerHandle | undefined = undefined;
  // The deadline the host timer is set for (Infinity: none).
  #armedFor = Infinity;
  // Whether the host timer keeps the host alive (waits are filed).
  #refed = true;
  #stopped = false;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /**
   * Files `w` to time out `timeout` ms (>= 0, finite) from `now` (the
   * clock's, unless the caller has just read it: a read costs a quarter of
   * a microsecond on Deno).
   */
  add(w: W, timeout: number, now: number = this.#clock.now()): void {
    if (this.#stopped) return; // its process is being stopped with the rest
    const key = Math.ceil(now + timeout);
    let waits = this.#due.get(key);
    if (waits === undefined) {
      this.#due.set(key, waits = new Set());
      push(this.#keys, key);
    }
    waits.add(w);
    w.waitDue = key;
    this.#filed++;
    if (key < this.#armedFor) this.#arm(key);
    else if (!this.#refed) this.#ref(true);
  }

  /** Takes `w` out (its wait ended otherwise); nothing if it is not filed. */
  remove(w: W): void {
    const key = w.waitDue;
    if (key === 0) return;
    w.waitDue = 0;
    if (this.#due.get(key)?.delete(w) !== true) return;
    if (--this.#filed === 0) this.#letGo();
    if (this.#due.size > 2 * this.#filed + STALE_SLACK) this.#prune();
  }

  // Drops the emptied milliseconds, which long timeouts pile up.
  #prune(): void {
    for (const [key, waits] of this.#due) {
      if (waits.size === 0) this.#due.delete(key);
    }
    this.#keys = heapify([...this.#due.keys()]);
  }

  /** Milliseconds held, emptied ones included (for tests). */
  get heldMillis(): number {
    return this.#due.size;
  }

  /** Drops every wait and the host timer, for good (the runtime stops). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
    for (const waits of this.#due.values()) {
      for (const w of waits) w.waitDue = 0;
    }
    this.#due.clear();
    this.#keys = [];
    this.#filed = 0;
  }

  #fire = (): void => {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = this.#clock.now();
    const keys = this.#keys;
    const expired: W[] = [];
    while (keys.length > 0 && keys[0]! <= now) {
      const key = pop(keys);
      const waits = this.#due.get(key);
      if (waits === undefined) continue;
      this.#due.delete(key);
      for (const w of waits) {
        w.waitDue = 0;
        expired.push(w);
      }
      this.#filed -= waits.size;
    }
    while (keys.length > 0 && (this.#due.get(keys[0]!)?.size ?? 0) === 0) {
      this.#due.delete(pop(keys));
    }
    if (keys.length > 0) this.#arm(keys[0]!);
    // Last, so that a wait begun by one of them files against a settled state.
    for (const w of expired) w.timedOut();
  };

  #arm(key: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#armedFor = key;
    this.#refed = true;
    this.#timer = this.#clock.setTimeout(
      this.#fire,
      Math.max(0, key - this.#clock.now()),
    );
  }

  // No wait is filed: the timer may stay set for when one is (it fires at
  // most once for nothing), but must not keep the host alive.
  #letGo(): void {
    if (this.#timer === undefined) return;
    if (this.#clock.refTimer !== undefined) {
      this.#ref(false);
      return;
    }
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
  }

  #ref(on: boolean): void {
    this.#refed = on;
    if (this.#timer !== undefined) this.#clock.refTimer?.(this.#timer, on);
  }
}

function push(heap: number[], key: number): void {
  let i = heap.length;
  heap.push(key);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]! <= key) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = key;
}

function pop(heap: number[]): number {
  const top = heap[0]!;
  const last = heap.pop()!;
  if (heap.length > 0) siftDown(heap, 0, last);
  return top;
}

function siftDown(heap: number[], i: number, key: number): void {
  const n = heap.length;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap[child + 1]! < heap[child]!) child++;
    if (heap[child]! >= key) break;
    heap[i] = heap[child]!;
    i = child;
  }
  heap[i] = key;
}

function heapify(keys: number[]): number[] {
  for (let i = (keys.length >> 1) - 1; i >= 0; i--) siftDown(keys, i, keys[i]!);
  return keys;
}
