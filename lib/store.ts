import { SESSION_ID } from './client-options.js';
import type { ItsMeRequest } from './passport-base.js';
import { digestRelayState, sameDigest } from './relaystate.js';
import { type SessionAccess, sessionAccess } from './session.js';
import { type ItsMeLanguage, LANGUAGES } from './types.js';

/** What the strategy remembers about a login between the redirect to itsme and the way back. */
export interface PendingLogin {
  /** ZignSec's session id, returned by the start call. */
  sessionId: string;
  /** `Date.now()` when the login started. */
  createdAt: number;
  /** The language the login was started in, when one was chosen, to word its failure messages. */
  language?: ItsMeLanguage;
}

/**
 * Why a store has no pending login for a relaystate, as {@link RelayStateStore.explain} tells it:
 * - `'no-session'`: this request's session holds nothing of passport-itsme (and no passport login):
 *   most often the session cookie did not come back (a `secure` cookie over plain http,
 *   `SameSite=Strict`, another host for the callback than for the start);
 * - `'used'`: this relaystate already completed a callback, within the pending-login TTL;
 * - `'expired'`: its pending login outlived the TTL;
 * - `'unknown'`: anything else: another browser's login, one dropped beyond the `max` cap, or one
 *   lost when two logins were started at the same moment in one browser (the session saved last wins).
 */
export type MissingLoginReason = 'no-session' | 'unknown' | 'expired' | 'used';

/**
 * Where pending logins are kept, keyed by relaystate. `take` must read and delete in one step, so that
 * a relaystate works once, and must answer only for the browser that started the login. A store
 * should keep a digest of the relaystate, never the relaystate itself: whoever can read a stored
 * relaystate can complete that login with their own browser once the person approved it.
 */
export interface RelayStateStore {
  /** Keeps `record` for this relaystate, bound to this request's browser (by its session). */
  save(req: ItsMeRequest, relayState: string, record: PendingLogin): Promise<void>;
  /** Returns the record and forgets it; `undefined` when unknown, already taken, or expired. */
  take(req: ItsMeRequest, relayState: string): Promise<PendingLogin | undefined>;
  /**
   * Optional: throws when this request could not hold a pending login (no session, say). The strategy
   * calls it before asking ZignSec to open a session, so that a misconfigured app wastes none.
   */
  check?(req: ItsMeRequest): void | Promise<void>;
  /**
   * Optional: why `take` just found nothing for this relaystate. The strategy calls it only after
   * `take` returned `undefined`, to tell the person what to do. Without it every such login is
   * `'unknown'`.
   */
  explain?(req: ItsMeRequest, relayState: string): MissingLoginReason | Promise<MissingLoginReason>;
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

/**
 * One pending login as the session holds it: the relaystate's digest, ZignSec's session id, when it
 * expires, and the login's language when it has one. A tuple, not an object keyed by digest, so that
 * every session has the same shape (about 75 bytes of JSON per pending login).
 */
type Entry = [digest: string, id: string, exp: number, language?: ItsMeLanguage];

/**
 * The built-in stores' way of telling the strategy the language of a login they no longer hold (used,
 * expired). Not part of {@link RelayStateStore}. @internal
 */
export const MISSING_LANGUAGE: unique symbol = Symbol('passport-itsme missing login language');

/** Most used and expired digests remembered by one store (in two generations of half as many). */
const RECENT_MAX = 10_000;

type Note = { reason: 'used' | 'expired'; until: number; language: ItsMeLanguage | undefined };

/**
 * Used and expired digests with the time until which they count, in two generations: writes go to
 * the newer one, which becomes the older one when it is full or older than the TTL, so every call
 * costs the same (no sweep) and nothing stays beyond twice the TTL once the store is in use.
 */
class RecentDigests {
  #newer = new Map<string, Note>();
  #older = new Map<string, Note>();
  #since = 0;

  constructor(readonly ttl: number) {}

  get(digest: string, now: number): Note | undefined {
    const note = this.#newer.get(digest) ?? this.#older.get(digest);
    return note && note.until > now ? note : undefined;
  }

  set(digest: string, reason: Note['reason'], until: number, now: number, language?: ItsMeLanguage): void {
    if (this.#newer.size >= RECENT_MAX / 2 || now - this.#since > this.ttl) {
      this.#older = this.#newer;
      this.#newer = new Map();
      this.#since = now;
    }
    this.#newer.set(digest, { reason, until, language });
  }
}

/**
 * The default store: pending logins live in the browser's own session (`req.session`, from
 * express-session or any compatible middleware), so a relaystate is bound to the browser that
 * started the login. Several tabs each get their own entry. The session holds only a digest of each
 * relaystate, so a session the browser can read (cookie-session) gives away nothing that completes a
 * login.
 *
 * Two logins started at the same moment in one browser may be saved over each other by the session
 * middleware (the last save wins): the tab whose login was lost gets a clean 403 failure that
 * {@link SessionRelayStateStore.explain | explain} calls `'unknown'`, never another tab's login.
 */
export class SessionRelayStateStore implements RelayStateStore {
  /** Property of the session that holds pending logins. */
  readonly key: string;
  /** Milliseconds a pending login stays valid. */
  readonly ttl: number;
  /** Most pending logins one session holds. */
  readonly max: number;
  /** @internal */
  #recent: RecentDigests;

  constructor(options: SessionRelayStateStoreOptions = {}) {
    const { key, ttl, max } = checkStoreOptions('SessionRelayStateStore', options);
    this.key = key;
    this.ttl = ttl;
    this.max = max;
    this.#recent = new RecentDigests(ttl);
  }

  /** Keeps the pending login in the session, under the relaystate's digest. */
  async save(req: ItsMeRequest, relayState: string, record: PendingLogin): Promise<void> {
    const session = sessionAccess(req);
    const entries = this.#live(session.get(this.key), Date.now()).entries;
    const entry: Entry = [digestRelayState(relayState), record.sessionId, record.createdAt + this.ttl];
    if (record.language !== undefined) entry.push(record.language);
    entries.push(entry);
    if (entries.length > this.max) entries.splice(0, entries.length - this.max);
    session.set(this.key, entries);
  }

  /** Throws `ERR_ITSME_SESSION_REQUIRED` when the request has no `req.session`. */
  check(req: ItsMeRequest): void {
    sessionAccess(req);
  }

  async take(req: ItsMeRequest, relayState: string): Promise<PendingLogin | undefined> {
    const session = sessionAccess(req);
    const stored = session.get(this.key);
    if (stored === undefined) return undefined;
    const now = Date.now();
    const digest = digestRelayState(relayState);
    // Used here within the TTL: an older copy of a cookie session still holds the pending login.
    if (this.#recent.get(digest, now)?.reason === 'used') return undefined;
    const { entries, changed } = this.#live(stored, now);
    let found: Entry | undefined;
    const kept: Entry[] = [];
    for (const entry of entries) {
      if (found === undefined && sameDigest(entry[0], digest)) found = entry;
      else kept.push(entry);
    }
    // Written through the session's own API, and the key removed with the last entry.
    if (found || changed) session.set(this.key, kept.length === 0 ? undefined : kept);
    if (!found) return undefined;
    this.#recent.set(digest, 'used', now + this.ttl, now, found[3]);
    const login: PendingLogin = { sessionId: found[1], createdAt: found[2] - this.ttl };
    if (found[3] !== undefined) login.language = found[3];
    return login;
  }

  /**
   * Why `take` found nothing: `'used'` or `'expired'` when this store saw that happen to this
   * relaystate within the TTL, `'expired'` for an expired entry still in the session, `'unknown'`
   * when the session holds other pending logins or a passport login, `'no-session'` otherwise.
   * Used and expired digests are remembered in this process only, for the TTL (at most 10000 of
   * them; with more logins than that within the TTL the oldest are forgotten sooner).
   */
  explain(req: ItsMeRequest, relayState: string): MissingLoginReason {
    const now = Date.now();
    const digest = digestRelayState(relayState);
    const recent = this.#recent.get(digest, now);
    if (recent) return recent.reason;
    let session: SessionAccess;
    try {
      session = sessionAccess(req);
    } catch {
      return 'no-session';
    }
    const entries = parse(session.get(this.key))?.entries ?? [];
    for (const entry of entries) if (sameDigest(entry[0], digest)) return entry[2] > now ? 'unknown' : 'expired';
    if (entries.length > 0) return 'unknown';
    // The cookie came back if it carries a passport login (the session is renewed at each login).
    // (@fastify/passport sets `request.user` to null on every request: only a user counts.)
    const user = (req as { user?: unknown }).user;
    if ((user !== undefined && user !== null) || session.get('passport') !== undefined) return 'unknown';
    return 'no-session';
  }

  /**
   * The language a login that `take` just found used or expired was started in, so that its failure
   * is worded in it. @internal
   */
  [MISSING_LANGUAGE](req: ItsMeRequest, relayState: string): ItsMeLanguage | undefined {
    const digest = digestRelayState(relayState);
    const recent = this.#recent.get(digest, Date.now());
    if (recent) return recent.language;
    try {
      const entries = parse(sessionAccess(req).get(this.key))?.entries ?? [];
      return entries.find((entry) => sameDigest(entry[0], digest))?.[3];
    } catch {
      return undefined;
    }
  }

  /**
   * The entries of `stored` that have not expired, in a fresh array sorted oldest first; `changed`
   * when that is not what the session holds (expired entries, the old layout, junk). Only the newest
   * `max` are read: a session holding more was not written by this store.
   */
  #live(stored: unknown, now: number): { entries: Entry[]; changed: boolean } {
    const parsed = parse(stored);
    if (!parsed) return { entries: [], changed: stored !== undefined };
    const entries: Entry[] = [];
    const excess = Math.max(0, parsed.entries.length - this.max);
    for (const entry of excess > 0 ? parsed.entries.slice(excess) : parsed.entries) {
      if (entry[2] > now) entries.push(entry);
      // Remembered for a TTL from now, so that explain() right after says 'expired' however old it is.
      else this.#recent.set(entry[0], 'expired', Math.max(entry[2], now) + this.ttl, now, entry[3]);
    }
    return { entries, changed: parsed.changed || excess > 0 || entries.length !== parsed.entries.length };
  }
}

/** `options` with their defaults, or a `TypeError` naming `owner` and the option. @internal */
export function checkStoreOptions(
  owner: string,
  options: SessionRelayStateStoreOptions,
): Required<SessionRelayStateStoreOptions> {
  const { key = 'passport-itsme', ttl = 600_000, max = 10 } = options;
  if (typeof key !== 'string' || key === '' || key === '__proto__')
    throw new TypeError(`${owner} key option must be a string other than __proto__`);
  if (!Number.isInteger(ttl) || ttl <= 0) throw new TypeError(`${owner} ttl option must be a positive integer`);
  if (!Number.isInteger(max) || max <= 0) throw new TypeError(`${owner} max option must be a positive integer`);
  return { key, ttl, max };
}

/**
 * The well-formed entries found in the session, in its order; `changed` when anything was dropped or
 * converted. Reads the layout of earlier versions too (`{ [relaystate]: { id, exp } }`), so that
 * logins started before an upgrade complete after it.
 */
function parse(stored: unknown): { entries: Entry[]; changed: boolean } | undefined {
  if (!stored || typeof stored !== 'object') return undefined;
  const entries: Entry[] = [];
  if (Array.isArray(stored)) {
    for (const item of stored) {
      const entry = checked(item);
      if (entry) entries.push(entry);
    }
    return { entries, changed: entries.length !== stored.length };
  }
  for (const [relayState, value] of Object.entries(stored as Record<string, unknown>)) {
    const old = value as { id?: unknown; exp?: unknown } | null;
    if (old && typeof old.id === 'string' && SESSION_ID.test(old.id) && Number.isFinite(old.exp)) {
      entries.push([digestRelayState(relayState), old.id, old.exp as number]);
    }
  }
  return { entries, changed: true };
}

/** A digest as {@link digestRelayState} writes it, and a ZignSec session id as the client accepts it. */
const DIGEST = /^[A-Za-z0-9_-]{22}$/;

function checked(item: unknown): Entry | undefined {
  if (!Array.isArray(item) || item.length < 3 || item.length > 4) return undefined;
  const [digest, id, exp, language] = item as unknown[];
  // What the strategy hands on (the id goes to ZignSec and into events) must look like what save wrote.
  if (typeof digest !== 'string' || !DIGEST.test(digest)) return undefined;
  if (typeof id !== 'string' || !SESSION_ID.test(id) || !Number.isFinite(exp)) return undefined;
  if (language !== undefined && !LANGUAGES.includes(language as ItsMeLanguage)) return undefined;
  return item as Entry;
}
