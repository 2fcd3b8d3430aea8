import { checkClientOptions, type ItsMeClientOptions, isHttpUrl, MAX_DELAY } from './client.js';
import { HOSTS, returnUrlProblem } from './client-options.js';
import { holdsSecret } from './errors.js';
import { checkMessages, type ItsMeMessages } from './messages.js';
import type { ItsMeRequest, ItsMeUser } from './passport-base.js';
import type { RelayStateStore } from './store.js';
import type { ItsMeLanguage, ItsMeProfile, ZignSecEnvironment } from './types.js';
import { LANGUAGES } from './types.js';

/** Options shared by both constructor forms of {@link ItsMeStrategy}. */
export interface ItsMeStrategyOptionsBase {
  /** ZignSec access token, sent raw in `Authorization`. Required. */
  apiKey: string;
  /**
   * Absolute http(s) URL of the app's return route, sent to ZignSec as `target`. Required. At most
   * 8192 characters, with no user name or password, no `#fragment`, no `relaystate` parameter (ZignSec
   * adds its own; nested forms such as `relaystate[a]` included) and not holding the API key (checked
   * for keys of 16 characters or more). With ZignSec's production API, https (http only for a
   * loopback host such as `localhost`).
   */
  callbackURL: string;
  /** `'test'` (https://test.zignsec.com, the default) or `'production'` (https://api.zignsec.com). */
  environment?: ZignSecEnvironment;
  /** Overrides the host (the simulator, a proxy); `/v3/eid/itsme...` is appended. */
  baseURL?: string;
  /** Sent as `targetError`, where ZignSec sends the browser on cancel or error; checked as `callbackURL`. Default `callbackURL`. */
  errorCallbackURL?: string;
  /**
   * Language of the itsme screens and of failure messages. Default: none (itsme chooses; messages in
   * English unless the login says otherwise).
   */
  language?: ItsMeLanguage;
  /**
   * Overrides of the failure messages (`info.message`), by {@link ItsMeFailureCode}: a text, a text per
   * language, or a function of an {@link ItsMeMessageContext}. Default: the built-in sentences in en,
   * fr, nl and de.
   */
  messages?: ItsMeMessages;
  /**
   * Milliseconds `verify` has to call `done` or settle its promise; past it the login is an `error()`
   * with `ERR_ITSME_VERIFY_TIMEOUT`. Default 30000.
   */
  verifyTimeout?: number;
  /** Sent as `webhook`: where ZignSec posts the result. Default: none. */
  webhookURL?: string;
  /**
   * Where relaystate -> ZignSec session id is kept. Default: a {@link SessionRelayStateStore} under the
   * session key `'passport-itsme'` (`'passport-itsme:<name>'` for a strategy of another `name`, so that
   * two strategies never take each other's pending logins). Each call
   * to any other store (a Redis or custom one) gets `timeout` ms; past it the login ends in `error()`
   * with `ERR_ITSME_STORE_TIMEOUT`, so a backend that is down does not hold callbacks.
   */
  store?: RelayStateStore;
  /** Milliseconds for each HTTP call to ZignSec, and for each call to a `store` other than the default. Default 10000. */
  timeout?: number;
  /** Milliseconds to keep polling, at the callback, a result that is not final yet. Default 5000. */
  pendingTimeout?: number;
  /** Largest ZignSec response body read, in bytes. Default 1 MiB. */
  maxResponseSize?: number;
  /** The agent ZignSec calls go through (private CA, client certificate, egress proxy): see {@link ItsMeClientOptions.agent}. */
  agent?: ItsMeClientOptions['agent'];
  /** Strategy name for `passport.authenticate(name)`. Default `'itsme'`. */
  name?: string;
}

/** Options when `verify` does not receive the request. */
export interface ItsMeStrategyOptions extends ItsMeStrategyOptionsBase {
  /** `verify` gets `(profile, done)`. Default. */
  passReqToCallback?: false;
}

/** Options when `verify` receives the request first. */
export interface ItsMeStrategyOptionsWithRequest extends ItsMeStrategyOptionsBase {
  /** `verify` gets `(req, profile, done)`. */
  passReqToCallback: true;
}

/** The `done` callback handed to `verify`. */
export type VerifyCallback = (err?: Error | null, user?: ItsMeUser | false | null, info?: object) => void;

/** What a promise-returning `verify` may resolve to: a user logs in, `false`/`null` fails. */
export type VerifyResult = ItsMeUser | false | null | undefined;

/** `verify(profile, done)`; may instead return a promise of the user. */
export type VerifyFunction = (profile: ItsMeProfile, done: VerifyCallback) => void | Promise<VerifyResult>;

/**
 * `verify(req, profile, done)`, with `passReqToCallback: true`; may return a promise of the user.
 * `req` may be annotated as the framework's own request type (such as Express's `Request`), directly
 * or as `VerifyFunctionWithRequest<Request>`: the signature is declared as a method, so that narrower
 * parameter type is accepted.
 */
export type VerifyFunctionWithRequest<Req extends ItsMeRequest = ItsMeRequest> = {
  /** Receives the request, the profile and `done`; answers through `done` or a promise. */
  verify(req: Req, profile: ItsMeProfile, done: VerifyCallback): void | Promise<VerifyResult>;
}['verify'];

/** Options accepted by `passport.authenticate('itsme', options)` besides Passport's own. */
export interface ItsMeAuthenticateOptions {
  /**
   * At the start: language of the itsme screens for this login (kept with the pending login). At the
   * callback: language of the failure message. Overrides the strategy's `language`.
   */
  language?: ItsMeLanguage;
  /**
   * At the start: the URL sent as `target` for this login, instead of the strategy's `callbackURL`
   * (the option passport-oauth2 has), checked as that one is (the API key by `ItsMeClient.start`,
   * whose `TypeError` names `target`); also sent as `targetError`, unless an `errorCallbackURL` is
   * given here or the strategy's `errorCallbackURL` differs from its `callbackURL`. Ignored on the
   * way back, which is not bound to it: any route that runs the strategy completes the login of the
   * browser that started it.
   */
  callbackURL?: string;
  /** At the start: the URL sent as `targetError` for this login, checked as the strategy's is. */
  errorCallbackURL?: string;
  [key: string]: unknown;
}

/**
 * Throws a TypeError naming the option that is wrong.
 * @internal
 */
export function checkOptions(options: ItsMeStrategyOptions | ItsMeStrategyOptionsWithRequest): void {
  checkClientOptions('ItsMeStrategy', options);
  if (options.callbackURL === undefined) throw new TypeError('ItsMeStrategy requires a callbackURL option');
  const production = isProduction(options);
  for (const name of ['callbackURL', 'errorCallbackURL'] as const) {
    checkReturnUrl(`ItsMeStrategy ${name} option`, options[name], production);
    if (options[name] !== undefined && holdsSecret(options[name], options.apiKey)) {
      throw new TypeError(`ItsMeStrategy ${name} option must not hold the API key: ZignSec sends the browser there`);
    }
  }
  const webhook = options.webhookURL;
  if (webhook !== undefined) {
    if (!isHttpUrl(webhook)) throw new TypeError('ItsMeStrategy webhookURL option must be an absolute http(s) URL');
    if (production && plainHttp(webhook)) throw new TypeError(`ItsMeStrategy webhookURL option ${PRODUCTION_HTTPS}`);
    // ItsMeClient.start refuses any start body that holds the key: say so now, not at every login.
    if (holdsSecret(webhook, options.apiKey))
      throw new TypeError('ItsMeStrategy webhookURL option must not hold the API key');
  }
  if (options.language !== undefined && !LANGUAGES.includes(options.language)) {
    throw new TypeError(`ItsMeStrategy language option must be one of ${LANGUAGES.join(', ')}`);
  }
  if (options.passReqToCallback !== undefined && typeof options.passReqToCallback !== 'boolean') {
    throw new TypeError('ItsMeStrategy passReqToCallback option must be a boolean');
  }
  const store = options.store as Partial<RelayStateStore> | undefined;
  if (store !== undefined && (typeof store?.save !== 'function' || typeof store?.take !== 'function')) {
    throw new TypeError('ItsMeStrategy store option must have save and take methods');
  }
  if (store?.check !== undefined && typeof store.check !== 'function') {
    throw new TypeError('ItsMeStrategy store option check must be a method when given');
  }
  for (const name of ['pendingTimeout', 'verifyTimeout'] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new TypeError(`ItsMeStrategy ${name} option must be a positive integer`);
    }
    if (value !== undefined && value > MAX_DELAY) {
      throw new TypeError(`ItsMeStrategy ${name} option must be at most ${MAX_DELAY} ms`);
    }
  }
  checkMessages('ItsMeStrategy', options.messages);
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) {
    throw new TypeError('ItsMeStrategy name option must be a non-empty string');
  }
}

/**
 * Throws a TypeError naming the option of `passport.authenticate('itsme', options)` that is wrong:
 * the language always, the return URLs only at the start, the one place they are used.
 * @internal
 */
export function checkAuthenticateOptions(
  options: ItsMeAuthenticateOptions,
  starting: boolean,
  production: boolean,
): void {
  if (options.language !== undefined && !LANGUAGES.includes(options.language)) {
    throw new TypeError(`ItsMeStrategy authenticate option language must be one of ${LANGUAGES.join(', ')}`);
  }
  if (!starting) return;
  for (const name of ['callbackURL', 'errorCallbackURL'] as const) {
    checkReturnUrl(`ItsMeStrategy authenticate option ${name}`, options[name], production);
  }
}

const PRODUCTION_HTTPS =
  "must be an https URL with ZignSec's production API: a real person's login travels there (http only for localhost)";

/**
 * Whether the options call ZignSec's production API (its host, by `environment` or `baseURL`).
 * @internal
 */
export function isProduction(options: Pick<ItsMeClientOptions, 'environment' | 'baseURL'>): boolean {
  const base = options.baseURL ?? HOSTS[options.environment ?? 'test'];
  return new URL(base).hostname === new URL(HOSTS.production).hostname;
}

/** Whether `value` (an http(s) URL) is plain http to a host other than this machine. */
function plainHttp(value: string): boolean {
  const { protocol, hostname } = new URL(value);
  if (protocol !== 'http:') return false;
  const host = hostname.toLowerCase();
  const loopback =
    host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
  return !loopback;
}

/**
 * Throws a TypeError starting with `label` when `value` is given but is no URL to send a browser back
 * to, or (with ZignSec's `production` API) is plain http to another host than this one.
 */
function checkReturnUrl(label: string, value: unknown, production: boolean): void {
  const problem = value === undefined ? undefined : returnUrlProblem(value);
  if (problem) throw new TypeError(`${label} ${problem}`);
  if (production && typeof value === 'string' && plainHttp(value)) throw new TypeError(`${label} ${PRODUCTION_HTTPS}`);
}
