import { ItsMeError } from './errors.js';

/**
 * One way to read and write the request's session, whatever middleware made it: express-session,
 * cookie-session and @fastify/session (properties of `req.session`) or @fastify/secure-session
 * (`req.session.get(key)` / `req.session.set(key, value)`, where direct property writes are not kept).
 * @internal
 */
export interface SessionAccess {
  get(key: string): unknown;
  /** Writes `value`, or removes the key when `value` is `undefined`, through the session's own API. */
  set(key: string, value: unknown): void;
}

type Accessors = { get(key: string): unknown; set(key: string, value: unknown): void };
type Bag = Record<string, unknown>;

/**
 * The request's session as a {@link SessionAccess}, or an `ERR_ITSME_SESSION_REQUIRED` error saying
 * how to provide one, or an `ERR_ITSME_SESSION_UNSAFE` error for a session the browser can write.
 * @internal
 */
export function sessionAccess(req: object): SessionAccess {
  const session = (req as { session?: unknown }).session;
  if (!session || typeof session !== 'object') {
    throw new ItsMeError(
      'ERR_ITSME_SESSION_REQUIRED',
      'passport-itsme needs session support to remember pending logins: add a session middleware (express-session, cookie-session, @fastify/session or @fastify/secure-session) before passport, or give the strategy a store option',
    );
  }
  // cookie-session with `signed: false` (or any falsy value but null and undefined, which it turns into
  // true): the browser could write a pending login (and a Passport login).
  const options = (req as { sessionOptions?: { signed?: unknown } }).sessionOptions;
  if (options && typeof options === 'object' && 'signed' in options && !options.signed) {
    throw new ItsMeError(
      'ERR_ITSME_SESSION_UNSAFE',
      'passport-itsme refuses an unsigned cookie session (cookie-session with signed: false): the browser could write its own pending login. Give cookie-session keys and leave signed on, or use a server-side session such as express-session',
    );
  }
  const api = session as Partial<Accessors>;
  if (typeof api.get === 'function' && typeof api.set === 'function') {
    const { get, set } = api as Accessors;
    return {
      get: (key) => get.call(session, key),
      set: (key, value) => set.call(session, key, value),
    };
  }
  const bag = session as Bag;
  return {
    get: (key) => (Object.hasOwn(bag, key) ? bag[key] : undefined),
    set: (key, value) => {
      if (value === undefined) delete bag[key];
      else bag[key] = value;
    },
  };
}
