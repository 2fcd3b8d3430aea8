/**
 * Makes room for one more entry in a bounded map with expiry: deletes entries in insertion order
 * (oldest first) while they are not `live` or the map holds `max` or more, and stops at the first
 * live one once below `max`. Each entry is deleted at most once, so a write costs O(1) amortized.
 * Shared by the webhook receiver's seen-store and read guard and the strategy's used-session memory.
 * @internal
 */
export function makeRoom<K, V>(map: Map<K, V>, max: number, live: (value: V) => boolean): void {
  for (const [key, value] of map) {
    if (live(value) && map.size < max) break;
    map.delete(key);
  }
}
