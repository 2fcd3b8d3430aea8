import { randomBytes } from 'node:crypto';
import type { SeenClaim, SeenStore } from './seen-store.js';

/** Options {@link RedisSeenStore} passes to `set`: both spellings, as node-redis v5 and v4 read them. */
export interface SeenSetOptions {
  /** Expiry in milliseconds (node-redis v4). */
  PX: number;
  /** Expiry in milliseconds (node-redis v5). */
  expiration: {
    /** Always `'PX'`: milliseconds. */
    type: 'PX';
    /** The expiry in milliseconds. */
    value: number;
  };
  /** Present for a claim: set only when the key does not exist (node-redis v4). */
  NX?: true;
  /** Present for a claim: set only when the key does not exist (node-redis v5). */
  condition?: 'NX';
}

/**
 * The Redis commands {@link RedisSeenStore} uses. A node-redis (v4, v5) client fits as is.
 * For ioredis, pass
 * `{ set: (k, v, o) => (o.NX ? redis.set(k, v, 'PX', o.PX, 'NX') : redis.set(k, v, 'PX', o.PX)), get: (k) => redis.get(k), del: (k) => redis.del(k), eval: (s, o) => redis.eval(s, o.keys.length, ...o.keys, ...o.arguments) }`.
 */
export interface SeenKeyClient {
  /** `SET key value PX ttl`, with `NX` when `options.NX` is set: `'OK'`, or `null` when `NX` found the key. */
  set(key: string, value: string, options: SeenSetOptions): Promise<unknown>;
  /** `GET key`: the value, or `null`. */
  get(key: string): Promise<unknown>;
  /** `DEL key`. */
  del(key: string): Promise<unknown>;
  /**
   * `EVAL script numkeys key... arg...`, as node-redis takes it. Optional: with it, a release deletes
   * the claim only if it is still this instance's, in one step; without it (or when Redis answers
   * `NOPERM` or "unknown command" to it), a `GET` then a `DEL`, which can delete a claim another
   * instance made in between (when this one's lapsed at that moment).
   */
  eval?(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/** Options of {@link RedisSeenStore}. */
export interface RedisSeenStoreOptions {
  /** A connected Redis client shared by every app instance. */
  client: SeenKeyClient;
  /** Prefix of the Redis keys, each followed by a ZignSec session id. Default `'passport-itsme:webhook:'`. */
  prefix?: string;
}

const DONE = 'done';

/** Deletes `KEYS[1]` only while it holds `ARGV[1]`. */
const RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/**
 * A {@link SeenStore} in Redis, for webhook receivers run as several instances: `onResult` runs once
 * per ZignSec session however many instances a delivery (or its retries) reaches at the same moment.
 *
 * A claim is an atomic `SET key busy:<token> NX PX ttl`; a handled session becomes `SET key done PX
 * seenTtl`; a failed one is released (deleted only while the key still holds this instance's claim,
 * in one `EVAL` when the client has `eval`), so that ZignSec's next delivery, on whichever instance,
 * handles it. A claim whose instance died
 * lapses after its ttl (2 minutes).
 *
 * ```ts
 * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
 * app.post('/webhooks/zignsec', createWebhookHandler({ apiKey, onResult, seenStore: new RedisSeenStore({ client: redis }) }));
 * ```
 */
export class RedisSeenStore implements SeenStore {
  /** Prefix of the Redis keys. */
  readonly prefix: string;
  /** @internal */
  #client: SeenKeyClient;
  /** @internal `false` once Redis refused `EVAL` to this client (ACL, a proxy without scripts). */
  #eval = true;
  /** @internal This instance's claims not yet completed or released: id -> the value it set. */
  #claims = new Map<string, string>();

  constructor(options: RedisSeenStoreOptions) {
    const { client, prefix = 'passport-itsme:webhook:' } = options ?? ({} as RedisSeenStoreOptions);
    if (
      !client ||
      typeof client.set !== 'function' ||
      typeof client.get !== 'function' ||
      typeof client.del !== 'function'
    ) {
      throw new TypeError('RedisSeenStore requires a client option with set, get and del methods');
    }
    if (typeof prefix !== 'string') throw new TypeError('RedisSeenStore prefix option must be a string');
    this.prefix = prefix;
    this.#client = client;
  }

  async claim(id: string, ttl: number): Promise<SeenClaim> {
    const key = this.prefix + id;
    const mine = `busy:${randomBytes(12).toString('base64url')}`;
    // Twice at most: once more when the key lapsed between the refused SET and the GET.
    for (let attempt = 0; attempt < 2; attempt++) {
      const reply = await this.#client.set(key, mine, { ...expiry(ttl), NX: true, condition: 'NX' });
      if (text(reply) === 'OK') {
        this.#claims.set(id, mine);
        return 'claimed';
      }
      const current = text(await this.#client.get(key));
      if (current === DONE) return 'done';
      if (current !== null) return 'busy';
    }
    return 'busy';
  }

  async complete(id: string, ttl: number): Promise<void> {
    this.#claims.delete(id);
    await this.#client.set(this.prefix + id, DONE, expiry(ttl));
  }

  async release(id: string): Promise<void> {
    const mine = this.#claims.get(id);
    this.#claims.delete(id);
    if (mine === undefined) return;
    const key = this.prefix + id;
    if (typeof this.#client.eval === 'function' && this.#eval) {
      try {
        await this.#client.eval(RELEASE, { keys: [key], arguments: [mine] });
        return;
      } catch (err) {
        // A Redis user allowed only SET, GET and DEL (what this store needed before): those, then.
        if (!/\bNOPERM\b|unknown command/i.test(String((err as Error)?.message))) throw err;
        this.#eval = false;
      }
    }
    if (text(await this.#client.get(key)) === mine) await this.#client.del(key);
  }
}

function expiry(ttl: number): Pick<SeenSetOptions, 'PX' | 'expiration'> {
  const ms = Math.max(1, Math.ceil(ttl));
  return { PX: ms, expiration: { type: 'PX', value: ms } };
}

function text(reply: unknown): string | null {
  if (reply === null || reply === undefined) return null;
  return Buffer.isBuffer(reply) ? reply.toString() : String(reply);
}
