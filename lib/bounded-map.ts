/** One value, wrapped so that the insertion-order list can tell a live entry from a replaced one. */
interface Slot<V> {
  value: V;
}

/**
 * A map emptied oldest first: {@link makeRoom} deletes entries in insertion order while they are not
 * `live` or the map holds `max` or more, and stops at the first live one once below `max`. Setting a
 * key that is already there makes it the newest.
 *
 * The insertion order is kept in an array beside the `Map`, so finding the oldest entry costs O(1):
 * iterating a `Map` from its start after many deletes walks over every deleted slot V8 has not
 * compacted yet (about 6 µs per call at 10,000 entries). Each entry is deleted at most once, so a
 * write costs O(1) amortized. Shared by the webhook receiver's seen-store and read guard and the
 * strategy's used-session memory.
 * @internal
 */
export class BoundedMap<K, V> {
  readonly #slots = new Map<K, Slot<V>>();
  /** Keys and their slots in insertion order, from `#head` on (older ones already handled). */
  #keys: K[] = [];
  #order: Slot<V>[] = [];
  #head = 0;

  get size(): number {
    return this.#slots.size;
  }

  /** Places in the insertion order, live or not, still held (for tests). @internal */
  get tracked(): number {
    return this.#keys.length - this.#head;
  }

  get(key: K): V | undefined {
    return this.#slots.get(key)?.value;
  }

  has(key: K): boolean {
    return this.#slots.has(key);
  }

  /** Sets `key` as the newest entry. */
  set(key: K, value: V): void {
    const slot: Slot<V> = { value };
    this.#slots.delete(key);
    this.#slots.set(key, slot);
    this.#keys.push(key);
    this.#order.push(slot);
    // Deleted and replaced entries keep their place until makeRoom passes it, which it does not while
    // the oldest entry is live: once they outnumber the live ones, keep only the live places.
    if (this.#keys.length - this.#head > 2 * this.#slots.size + 1024) this.#compact();
  }

  delete(key: K): boolean {
    return this.#slots.delete(key);
  }

  /** Keeps only the places, from `#head` on, that are still their entry's own. */
  #compact(): void {
    const keys: K[] = [];
    const order: Slot<V>[] = [];
    for (let i = this.#head; i < this.#keys.length; i++) {
      const key = this.#keys[i] as K;
      const slot = this.#order[i] as Slot<V>;
      if (this.#slots.get(key) === slot) {
        keys.push(key);
        order.push(slot);
      }
    }
    this.#keys = keys;
    this.#order = order;
    this.#head = 0;
  }

  /** Makes room for one more entry: see {@link BoundedMap}. */
  makeRoom(max: number, live: (value: V) => boolean): void {
    const keys = this.#keys;
    const order = this.#order;
    let head = this.#head;
    while (head < keys.length) {
      const key = keys[head] as K;
      const slot = order[head] as Slot<V>;
      // An entry deleted or set again since: its place in the order is no longer its own.
      if (this.#slots.get(key) === slot) {
        if (live(slot.value) && this.#slots.size < max) break;
        this.#slots.delete(key);
      }
      head++;
    }
    this.#head = head;
    if (head > 1024 && head * 2 > keys.length) this.#compact();
  }
}
