import type { ItsMeRequest } from './passport-base.js';
import { digestRelayState } from './relaystate.js';
import {
  checkStoreOptions,
  MISSING_LANGUAGE,
  type MissingLoginReason,
  type PendingLogin,
  type RelayStateStore,
  SessionRelayStateStore,
  type SessionRelayStateStoreOptions,
} from './store.js';
import type { ItsMeLanguage } from './types.js';

/**
 * The two Redis commands {@link RedisRelayStateStore} uses. A node-redis (v4, v5) client fits as is.
 * For ioredis, pass `{ set: (k, v, o) => redis.set(k, v, 'PX', o.PX), getDel: (k) => redis.getdel(k) }`.
 */
export interface OneTimeKeyClient {
  /** `SET key value PX ttl`. Both spellings of the expiry are given: node-redis v5 reads `expiration`, v4 `PX`. */
  set(key: string, value: string, options: { PX: number; expiration: { type: 'PX'; value: number } }): Promise<unknown>;
  /** `GETDEL key` (Redis 6.2 or later): the value, or `null` when the key is gone. */
  getDel(key: string): Promise<unknown>;
}

/** Options of {@link RedisRelayStateStore}. */
export interface RedisRelayStateStoreOptions extends SessionRelayStateStoreOptions {
  /** A connected Redis client shared by every app instance. */
  client: OneTimeKeyClient;
  /** Prefix of the Redis keys, each followed by the relaystate's digest. Default `'passport-itsme:login:'`. */
  prefix?: string;
}

/**
 * An opt-in store for apps run as several instances: a pending login is kept in the browser's
 * session, as with {@link SessionRelayStateStore} (which binds it to that browser), and also as a
 * one-time key in Redis that `take` removes with an atomic `GETDEL`. However many callbacks with the
 * same relaystate arrive at the same moment, on however many instances, at most one of them gets the
 * login. The default store guarantees that only within one process. Like the session, Redis holds
 * only a digest of the relaystate (the key is the prefix followed by it).
 *
 * ```ts
 * const redis = await createClient({ url: process.env.REDIS_URL }).connect();
 * passport.use(new ItsMeStrategy({ ...options, store: new RedisRelayStateStore({ client: redis }) }, verify));
 * ```
 */
export class RedisRelayStateStore implements RelayStateStore {
  /** Prefix of the Redis keys. */
  readonly prefix: string;
  /** The session half, which binds a pending login to its browser. */
  readonly session: SessionRelayStateStore;
  /** @internal */
  #client: OneTimeKeyClient;

  constructor(options: RedisRelayStateStoreOptions) {
    const {
      client,
      prefix = 'passport-itsme:login:',
      ...sessionOptions
    } = options ?? ({} as RedisRelayStateStoreOptions);
    if (!client || typeof client.set !== 'function' || typeof client.getDel !== 'function') {
      throw new TypeError('RedisRelayStateStore requires a client option with set and getDel methods');
    }
    if (typeof prefix !== 'string') throw new TypeError('RedisRelayStateStore prefix option must be a string');
    checkStoreOptions('RedisRelayStateStore', sessionOptions);
    this.session = new SessionRelayStateStore(sessionOptions);
    this.prefix = prefix;
    this.#client = client;
  }

  /** Keeps the pending login in the session and a one-time key (the relaystate's digest) in Redis. */
  async save(req: ItsMeRequest, relayState: string, record: PendingLogin): Promise<void> {
    await this.session.save(req, relayState, record);
    const ttl = Math.max(1, record.createdAt + this.session.ttl - Date.now());
    await this.#client.set(this.prefix + digestRelayState(relayState), record.sessionId, {
      PX: ttl,
      expiration: { type: 'PX', value: ttl },
    });
  }

  /** Throws `ERR_ITSME_SESSION_REQUIRED` when the request has no `req.session`. */
  check(req: ItsMeRequest): void {
    this.session.check(req);
  }

  async take(req: ItsMeRequest, relayState: string): Promise<PendingLogin | undefined> {
    // The session first: a foreign browser must not be able to burn someone else's one-time key.
    const bound = await this.session.take(req, relayState);
    if (!bound) return undefined;
    let shared = await this.#client.getDel(this.prefix + digestRelayState(relayState));
    // A login started before the upgrade to digests has its relaystate in the key.
    if (shared === null) shared = await this.#client.getDel(this.prefix + relayState);
    const value = Buffer.isBuffer(shared) ? shared.toString() : shared;
    return value === bound.sessionId ? bound : undefined;
  }

  /** As {@link SessionRelayStateStore.explain}; a login another instance took first is `'used'`. */
  explain(req: ItsMeRequest, relayState: string): MissingLoginReason {
    return this.session.explain(req, relayState);
  }

  /** @internal */
  [MISSING_LANGUAGE](req: ItsMeRequest, relayState: string): ItsMeLanguage | undefined {
    return this.session[MISSING_LANGUAGE](req, relayState);
  }
}
