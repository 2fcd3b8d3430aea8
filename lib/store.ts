import type { ItsMeRequest } from './passport-base.js';
import { type SessionAccess, sessionAccess } from './session.js';

/** What the strategy remembers about a login between the redirect to itsme and the way back. */
export interface PendingLogin {
  /** ZignSec's session id, returned by the start call. */
  sessionId: string;
  /** `Date.now()` when the login started. */
  createdAt: number;
}

/**
 * Where pending logins are kept, keyed by relaystate. `take` must read and delete in one step, so that
 * a relaystate works once, and must answer only for the browser that started the login.
 */
export interface RelayStateStore {
  save(req: ItsMeRequest, relayState: string, record: PendingLogin): Promise<void>;
  /** Returns the record and forgets it; `undefined` when unknown, already taken, or expired. */
  take(req: ItsMeRequest, relayState: string): Promise<PendingLogin | undefined>;
  /**
   * Optional: throws when this request could not hold a pending login (no session, say). The strategy
   * calls it before asking ZignSec to open a session, so that a misconfigured app wastes none.
   */
  check?(req: ItsMeRequest): void | Promise<void>;
}

/** Options of {@link SessionRelayStateStore}. */
export interface SessionRelayStateStoreOptions {
  /** Property of `req.session` that holds pending logins. Default `'passport-itsme'`. */
  key?: string;
  /** Milliseconds a pending login stays valid. Default 600000 (10 minutes). */
  ttl?: number;
  /** Most pending logins one session may hold; the oldest is dropped beyond it. Default 10. */
  max?: number;
}

type Entries = Record<string, { id: string; exp: number }>;

/**
 * The default store: pending logins live in the browser's own session (`req.session`, from
 * express-session or any compatible middleware), so a relaystate is bound to the browser that
 * started the login. Several tabs each get their own entry.
 */
export class SessionRelayStateStore implements RelayStateStore {
  readonly key: string;
  readonly ttl: number;
  readonly max: number;

  constructor(options: SessionRelayStateStoreOptions = {}) {
    const { key = 'passport-itsme', ttl = 600_000, max = 10 } = options;
    if (typeof key !== 'string' || key === '')
      throw new TypeError('SessionRelayStateStore key option must be a string');
    if (!Number.isInteger(ttl) || ttl <= 0)
      throw new TypeError('SessionRelayStateStore ttl option must be a positive integer');
    if (!Number.isInteger(max) || max <= 0)
      throw new TypeError('SessionRelayStateStore max option must be a positive integer');
    this.key = key;
    this.ttl = ttl;
    this.max = max;
  }

  async save(req: ItsMeRequest, relayState: string, record: PendingLogin): Promise<void> {
    const session = sessionAccess(req);
    const now = Date.now();
    const entries = this.#live(session, now);
    entries[relayState] = { id: record.sessionId, exp: record.createdAt + this.ttl };
    const keys = Object.keys(entries);
    for (const stale of keys.slice(0, Math.max(0, keys.length - this.max))) delete entries[stale];
    session.set(this.key, entries);
  }

  /** Throws `ERR_ITSME_SESSION_REQUIRED` when the request has no `req.session`. */
  check(req: ItsMeRequest): void {
    sessionAccess(req);
  }

  async take(req: ItsMeRequest, relayState: string): Promise<PendingLogin | undefined> {
    const session = sessionAccess(req);
    const now = Date.now();
    const entries = this.#live(session, now);
    const entry = Object.hasOwn(entries, relayState) ? entries[relayState] : undefined;
    if (entry) delete entries[relayState];
    session.set(this.key, Object.keys(entries).length === 0 ? undefined : entries);
    if (!entry) return undefined;
    return { sessionId: entry.id, createdAt: entry.exp - this.ttl };
  }

  /** The entries that have not expired, as a fresh object sorted oldest first. */
  #live(session: SessionAccess, now: number): Entries {
    const stored = session.get(this.key);
    const out: Entries = {};
    if (!stored || typeof stored !== 'object') return out;
    for (const [relayState, value] of Object.entries(stored as Record<string, unknown>)) {
      const entry = value as { id?: unknown; exp?: unknown } | null;
      if (entry && typeof entry.id === 'string' && typeof entry.exp === 'number' && entry.exp > now) {
        out[relayState] = { id: entry.id, exp: entry.exp };
      }
    }
    return out;
  }
}
