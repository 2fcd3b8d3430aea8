import { Strategy } from 'passport-strategy';

/**
 * What passport-itsme reads from a request, as a structural type: Express's, Fastify's and NestJS's
 * requests fit it, and so does a plain `node:http` `IncomingMessage` with a `session`. The published
 * types therefore need neither `@types/express` nor `@types/passport`.
 *
 * A `verify` function, a store or an overridden hook may still annotate its `req` as the framework's
 * own request type (for example Express's `Request`): those parameters are declared as methods, so
 * the narrower type is accepted.
 */
export interface ItsMeRequest {
  /** The parsed query string; `relaystate` is read from it. */
  query?: unknown;
  /** The parsed body, for a return that comes back as a POST. */
  body?: unknown;
  /** The request URL, read for `relaystate` when there is no parsed `query`. */
  url?: string | undefined;
  /**
   * The session (express-session, cookie-session, @fastify/session, @fastify/secure-session), where
   * the default store keeps pending logins.
   */
  session?: unknown;
}

/**
 * A logged-in user as `verify` hands it to Passport: any value except `null` and `undefined`
 * (`false` refuses the login). It plays the part of Passport's `Express.User` without needing its
 * types; your own user type is assignable to it.
 */
export type ItsMeUser = NonNullable<unknown>;

/**
 * The part of passport-strategy's `Strategy` class that passport-itsme builds on: `authenticate`,
 * which Passport calls for each request, and the actions Passport adds to the per-request copy of the
 * strategy (`success`, `fail`, `redirect`, `pass`, `error`).
 */
export interface PassportStrategyBase {
  /** Called by Passport for each request that uses the strategy. */
  authenticate(req: ItsMeRequest, options?: object): void;
  /** Passport action: log `user` in. */
  success(user: ItsMeUser, info?: object): void;
  /** Passport action: refuse the login, with a challenge (such as `{ message }`) and an HTTP status. */
  fail(challenge?: object | string | number, status?: number): void;
  /** Passport action: send the browser to `url`. */
  redirect(url: string, status?: number): void;
  /** Passport action: let the request through without logging anyone in. */
  pass(): void;
  /** Passport action: end with an error (the app's error handler). */
  error(err: Error): void;
}

/**
 * passport-strategy's `Strategy` class, typed as {@link PassportStrategyBase} so that the published
 * types do not need `@types/passport-strategy`. Not exported from the package entry.
 */
export const PassportStrategy: new () => PassportStrategyBase = Strategy;
