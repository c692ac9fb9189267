// Private: the map behind a process's monitors. Most processes hold a few
// monitors at a time, and a `call` adds one and removes it again at once; a
// `Map` that sees a fresh key every time keeps filling its table with deleted
// entries and rehashing (about 85 ns per set and delete here), while a scan
// of a few array slots costs a few ns. Past SMALL entries it becomes a Map.

const SMALL = 8;

/** The subset of `Map` that monitor bookkeeping uses, for few entries. */
export class SmallMap<K, V> {
  #keys: K[] = [];
  #values: V[] = [];
  #map: Map<K, V> | undefined;

  /** Number of entries. */
  get size(): number {
    return this.#map?.size ?? this.#keys.length;
  }

  get(key: K): V | undefined {
    if (this.#map !== undefined) return this.#map.get(key);
    const i = this.#keys.indexOf(key);
    return i < 0 ? undefined : this.#values[i];
  }

  set(key: K, value: V): this {
    if (this.#map !== undefined) {
      this.#map.set(key, value);
      return this;
    }
    const i = this.#keys.indexOf(key);
    if (i >= 0) {
      this.#values[i] = value;
    } else if (this.#keys.length < SMALL) {
      this.#keys.push(key);
      this.#values.push(value);
    } else {
      const map = new Map<K, V>();
      for (let j = 0; j < this.#keys.length; j++) {
        map.set(this.#keys[j]!, this.#values[j]!);
      }
      map.set(key, value);
      this.#map = map;
      this.#keys = [];
      this.#values = [];
    }
    return this;
  }

  delete(key: K): boolean {
    if (this.#map !== undefined) return this.#map.delete(key);
    const i = this.#keys.indexOf(key);
    if (i < 0) return false;
    // Order is not kept: move the last entry into the hole.
    const last = this.#keys.length - 1;
    this.#keys[i] = this.#keys[last]!;
    this.#values[i] = this.#values[last]!;
    this.#keys.pop();
    this.#values.pop();
    return true;
  }

  /** A snapshot of the values: safe to delete from the map while iterating. */
  values(): V[] {
    return this.#map !== undefined
      ? [...this.#map.values()]
      : [...this.#values];
  }

  /** A snapshot of the entries: safe to delete from the map while iterating. */
  [Symbol.iterator](): IterableIterator<[K, V]> {
    const entries: [K, V][] = this.#map !== undefined
      ? [...this.#map]
      : this.#keys.map((k, i) => [k, this.#values[i]!]);
    return entries[Symbol.iterator]();
  }
}
