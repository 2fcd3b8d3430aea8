import { type LoginFailureCode, type LoginFailureMessage, loginFailureChannel } from './diagnostics.js';
import { ItsMeError } from './errors.js';
import type { ItsMeFailureCode } from './messages.js';
import type { ItsMeRequest } from './passport-base.js';
import { MISSING_LANGUAGE, type PendingLogin, type RelayStateStore, SessionRelayStateStore } from './store.js';
import type { ItsMeStrategy } from './strategy.js';
import type { ItsMeAuthenticateOptions } from './strategy-options.js';
import type { ItsMeLanguage } from './types.js';
import { LANGUAGES } from './types.js';
import { within } from './within.js';

/** One run of `authenticate`: Passport's action object, the request and what is known so far. @internal */
export interface Login {
  actions: ItsMeStrategy;
  req: ItsMeRequest;
  options: ItsMeAuthenticateOptions;
  /** `Date.now()` when this request reached the strategy. */
  began: number;
  sessionId?: string;
  pending?: PendingLogin;
  /** The language the login was started in, as the store recalls it for a login it no longer holds. */
  startLanguage?: ItsMeLanguage | undefined;
  /** Set once a Passport action (redirect, success, fail, error) was called: one per login. */
  acted?: boolean;
}

const MISSING: Record<string, ItsMeFailureCode> = {
  'no-session': 'no-session',
  unknown: 'unknown-login',
  expired: 'expired-login',
  used: 'used-login',
};

/** Runs a store call within the strategy's time limit, or as it is for a store that does no I/O. @internal */
export type StoreLimit = <T>(value: T | Promise<T>, method: string) => T | Promise<T>;

/**
 * A {@link StoreLimit} of `ms` for `store`; none for the built-in session store, whose calls do no I/O
 * (a subclass may, so it gets one).
 * @internal
 */
export function storeLimit(store: RelayStateStore, ms: number): StoreLimit {
  if (Object.getPrototypeOf(store) === SessionRelayStateStore.prototype) return (value) => value;
  return (value, method) =>
    within(
      value,
      ms,
      () =>
        new ItsMeError(
          'ERR_ITSME_STORE_TIMEOUT',
          `store.${method} did not settle within ${ms} ms (the strategy's timeout): check the store's backend (Redis down?)`,
        ),
    );
}

/**
 * Why `take` found nothing, as the store's optional `explain` tells it; `unknown-login` without it
 * (or when it throws or answers something else). An `explain` that does not settle within the limit
 * rejects with `ERR_ITSME_STORE_TIMEOUT`.
 * @internal
 */
export async function explainMissing(
  store: RelayStateStore,
  req: ItsMeRequest,
  relayState: string,
  limit: StoreLimit,
): Promise<ItsMeFailureCode> {
  let reason: unknown;
  if (typeof store.explain === 'function') {
    try {
      reason = await limit(store.explain(req, relayState), 'explain');
    } catch (err) {
      // A backend that does not answer is an error of its own, as for the other store calls.
      if (err instanceof ItsMeError && err.code === 'ERR_ITSME_STORE_TIMEOUT') throw err;
      reason = undefined;
    }
  }
  const key = String(reason);
  return Object.hasOwn(MISSING, key) ? (MISSING[key] as ItsMeFailureCode) : 'unknown-login';
}

/** The language a built-in store still knows of a used or expired login (see `MISSING_LANGUAGE`). @internal */
export function recallLanguage(
  store: RelayStateStore,
  req: ItsMeRequest,
  relayState: string,
): ItsMeLanguage | undefined {
  const recall = (store as { [MISSING_LANGUAGE]?: unknown })[MISSING_LANGUAGE];
  if (typeof recall !== 'function') return undefined;
  try {
    return recall.call(store, req, relayState) as ItsMeLanguage | undefined;
  } catch {
    return undefined;
  }
}

/**
 * The language of this login's messages: the callback's option, the pending login's, the strategy's
 * (`fallback`), English.
 * @internal
 */
export function loginLanguage(login: Login, fallback: ItsMeLanguage | undefined): ItsMeLanguage {
  const saved = (login.pending as { language?: unknown } | undefined)?.language ?? login.startLanguage;
  const pendingLanguage = LANGUAGES.includes(saved as ItsMeLanguage) ? (saved as ItsMeLanguage) : undefined;
  return login.options.language ?? pendingLanguage ?? fallback ?? 'en';
}

/** Publishes a `fail()` or `error()` on `passport-itsme:login:failure`, when someone listens. @internal */
export function publishFailure(login: Login, code: LoginFailureCode, status: number): void {
  if (!loginFailureChannel.hasSubscribers) return;
  const message: LoginFailureMessage = {
    strategy: login.actions.name,
    code,
    status,
    duration: Date.now() - startedAt(login),
  };
  if (login.sessionId !== undefined) message.sessionId = login.sessionId;
  loginFailureChannel.publish(message);
}

/** When the login began: its pending login's `createdAt` when plausible, else this request's arrival. @internal */
export function startedAt(login: Login): number {
  const created = login.pending?.createdAt;
  return typeof created === 'number' && Number.isFinite(created) && created <= login.began ? created : login.began;
}

/** Whether the callback reached the app over plain http, as Express, Fastify or Node itself tells it. @internal */
export function overPlainHttp(req: ItsMeRequest): boolean {
  const r = req as { secure?: unknown; protocol?: unknown; socket?: { encrypted?: unknown } };
  return !(r.secure === true || r.protocol === 'https' || r.socket?.encrypted === true);
}
