import { BoundedMap } from '../bounded-map.js';
/**
 * Where the webhook receiver remembers which ZignSec sessions it has handled, so that `onResult` runs
 * once per session even though ZignSec delivers a webhook again until it sees a 2xx.
 *
 * A session id goes through two states: `busy` while one delivery is being handled, then `done`
 * once `onResult` succeeded. A failed delivery releases its claim so that the next retry handles it.
 * Every method may return a promise. A store shared by several processes (Redis `SET NX PX`, a SQL
 * unique key) makes the guarantee hold across them; the default {@link MemorySeenStore} only within
 * one process.
 */
export interface SeenStore {
  /**
   * Atomically claims `id` for handling, for at most `ttl` ms (after which a crashed handler's claim
   * lapses). Answers `'claimed'` when this caller may handle it, `'busy'` when another delivery is
   * being handled, `'done'` when it was handled already. An `async` implementation with one literal
   * `return` needs its return type written (`Promise<SeenClaim>`) or `as const`: TypeScript widens
   * the literal otherwise.
   */
  claim(id: string, ttl: number): SeenClaim | Promise<SeenClaim>;
  /** Marks `id` as handled, to be remembered for `ttl` ms. */
  complete(id: string, ttl: number): void | Promise<void>;
  /** Forgets a claim whose handling failed, so that a retry can handle it again. */
  release(id: string): void | Promise<void>;
}

/** Answer of {@link SeenStore.claim}. */
export type SeenClaim = 'claimed' | 'busy' | 'done';

/** Options of {@link MemorySeenStore}. */
export interface MemorySeenStoreOptions {
  /** Most ids kept; the oldest are forgotten first. Default 10000. */
  max?: number;
}

/**
 * The default {@link SeenStore}: a bounded in-memory map with expiry. Good for one process; when
 * more than `max` sessions end within the retention time the oldest are forgotten, and a late
 * duplicate of one of them would be handled again.
 */
export class MemorySeenStore implements SeenStore {
  /** Most ids kept. */
  readonly max: number;
  /** @internal */
  #entries = new BoundedMap<string, { state: 'busy' | 'done'; expires: number }>();

  constructor(options: MemorySeenStoreOptions = {}) {
    const max = options.max ?? 10_000;
    if (!(Number.isInteger(max) && max > 0))
      throw new TypeError('MemorySeenStore max option must be a positive integer');
    this.max = max;
  }

  /** How many ids are remembered now (expired ones included until swept). */
  get size(): number {
    return this.#entries.size;
  }

  claim(id: string, ttl: number): SeenClaim {
    const now = Date.now();
    const entry = this.#entries.get(id);
    if (entry && entry.expires > now) return entry.state === 'done' ? 'done' : 'busy';
    this.#set(id, 'busy', now + ttl);
    return 'claimed';
  }

  complete(id: string, ttl: number): void {
    this.#set(id, 'done', Date.now() + ttl);
  }

  release(id: string): void {
    if (this.#entries.get(id)?.state === 'busy') this.#entries.delete(id);
  }

  #set(id: string, state: 'busy' | 'done', expires: number): void {
    this.#entries.delete(id);
    const now = Date.now();
    this.#entries.makeRoom(this.max, (entry) => entry.expires > now);
    this.#entries.set(id, { state, expires });
  }
}
