import { BoundedMap } from './bounded-map.js';
import { ItsMeClient } from './client.js';
import { SESSION_ID } from './client-options.js';
import { type CHANNELS, loginStartChannel, loginSuccessChannel } from './diagnostics.js';
import { ItsMeError } from './errors.js';
import {
  explainMissing,
  type Login,
  loginLanguage,
  overPlainHttp,
  publishFailure,
  recallLanguage,
  type StoreLimit,
  startedAt,
  storeLimit,
} from './login.js';
import {
  classifyErrors,
  FAILURE_STATUS,
  failureInfo,
  type ItsMeFailureCode,
  type ItsMeFailureInfo,
  type ItsMeMessages,
} from './messages.js';
import { type ItsMeRequest, PassportStrategy } from './passport-base.js';
import { toProfile } from './profile.js';
import { createRelayState, readRelayState } from './relaystate.js';
import { type RelayStateStore, SessionRelayStateStore } from './store.js';
import {
  checkAuthenticateOptions,
  checkOptions,
  type ItsMeAuthenticateOptions,
  type ItsMeStrategyOptions,
  type ItsMeStrategyOptionsWithRequest,
  isProduction,
  type VerifyFunction,
  type VerifyFunctionWithRequest,
} from './strategy-options.js';
import type { ItsMeLanguage, ItsMeProfile, StartRequest } from './types.js';
import { callVerify } from './verify.js';

const CONSUMED_MAX = 10_000;
const CONSUMED_TTL = 15 * 60_000;

/**
 * Passport strategy for itsme through ZignSec.
 *
 * Without `relaystate` in the request it starts a login and redirects to itsme; with one (the way
 * back from ZignSec) it takes the pending login from the store, reads the result with the API key,
 * builds the profile and calls `verify`.
 *
 * Every `fail(info, status)` carries an {@link ItsMeFailureInfo}: a stable `info.code`
 * ({@link ItsMeFailureCode}) and `info.message` in the login's language; every start, success,
 * failure and error is published on the channels of {@link CHANNELS} when someone subscribes.
 */
export class ItsMeStrategy extends PassportStrategy {
  /** Name for `passport.authenticate(name)`: the `name` option, default `'itsme'`. */
  name: string;
  /** The client used for ZignSec calls. */
  readonly client: ItsMeClient;
  /** Where pending logins are kept. */
  readonly store: RelayStateStore;
  /** Where ZignSec sends the browser back (`target`). */
  readonly callbackURL: string;
  /** Where ZignSec sends the browser on cancel or error (`targetError`). */
  readonly errorCallbackURL: string;
  /** Default language of the itsme screens. */
  readonly language: ItsMeLanguage | undefined;
  /** Sent as `webhook`. */
  readonly webhookURL: string | undefined;
  /** Milliseconds the callback polls a result that is not final yet. */
  readonly pendingTimeout: number;
  /** Milliseconds `verify` has to answer. */
  readonly verifyTimeout: number;
  /** @internal */
  #messages: ItsMeMessages | undefined;
  /** @internal */
  #passReqToCallback: boolean;
  /** ZignSec's production API: return URLs must be https. @internal */
  #production: boolean;
  /** @internal */
  #verify: VerifyFunction | VerifyFunctionWithRequest;
  /** Each call to `store` within the `timeout` (none for the built-in session store). @internal */
  #limit: StoreLimit;
  /** How long an id stays in `#consumed`: 15 minutes, or the store's `ttl` when longer. @internal */
  #consumedTtl: number;
  /** ZignSec session ids whose callback ran in this process, to stop two parallel uses. @internal */
  #consumed = new BoundedMap<string, number>();

  constructor(options: ItsMeStrategyOptions, verify: VerifyFunction);
  constructor(options: ItsMeStrategyOptionsWithRequest, verify: VerifyFunctionWithRequest);
  constructor(
    options: ItsMeStrategyOptions | ItsMeStrategyOptionsWithRequest,
    verify: VerifyFunction | VerifyFunctionWithRequest,
  ) {
    super();
    if (!options || typeof options !== 'object') throw new TypeError('ItsMeStrategy requires an options object');
    checkOptions(options);
    if (typeof verify !== 'function') throw new TypeError('ItsMeStrategy requires a verify function');
    this.name = options.name ?? 'itsme';
    this.callbackURL = options.callbackURL;
    this.errorCallbackURL = options.errorCallbackURL ?? options.callbackURL;
    this.language = options.language;
    this.webhookURL = options.webhookURL;
    this.pendingTimeout = options.pendingTimeout ?? 5000;
    this.verifyTimeout = options.verifyTimeout ?? 30_000;
    this.#messages = options.messages === undefined ? undefined : { ...options.messages };
    this.#passReqToCallback = options.passReqToCallback === true;
    this.#production = isProduction(options);
    this.#verify = verify;
    // One session key per strategy name, so that two strategies never take each other's logins.
    this.store =
      options.store ?? new SessionRelayStateStore(this.name === 'itsme' ? {} : { key: `passport-itsme:${this.name}` });
    const storeTtl = (this.store as { ttl?: unknown }).ttl;
    // Kept at least as long as a pending login lives: a cookie session's older copy still holds it.
    this.#consumedTtl = Math.max(
      CONSUMED_TTL,
      typeof storeTtl === 'number' && Number.isFinite(storeTtl) ? storeTtl : 0,
    );
    this.#limit = storeLimit(this.store, options.timeout ?? 10_000);
    this.client = new ItsMeClient({
      apiKey: options.apiKey,
      ...(options.environment ? { environment: options.environment } : {}),
      ...(options.baseURL ? { baseURL: options.baseURL } : {}),
      ...(options.timeout ? { timeout: options.timeout } : {}),
      ...(options.maxResponseSize ? { maxResponseSize: options.maxResponseSize } : {}),
      ...(options.agent ? { agent: options.agent } : {}),
    });
  }

  /** Called by Passport. Starts a login, or completes one when the request carries `relaystate`. */
  override authenticate(req: ItsMeRequest, options: ItsMeAuthenticateOptions = {}): void {
    // Passport calls this on an object created from the strategy, which holds success/fail/...
    let owner: object | null = this;
    while (owner !== null && !(#verify in owner)) owner = Object.getPrototypeOf(owner) as object | null;
    if (owner === null) {
      this.error(new Error('ItsMeStrategy.authenticate called on an object that is not an ItsMeStrategy'));
      return;
    }
    const self = owner as ItsMeStrategy;
    const began = Date.now();
    const input = readRelayState(req);
    const starting = input.kind === 'absent';
    // At the start one copy of the options, so that the values checked are the values sent.
    const login: Login = {
      actions: this,
      req,
      options: starting ? { ...options } : (options ?? {}),
      began,
      acted: false,
    };
    try {
      checkAuthenticateOptions(login.options, starting, self.#production);
    } catch (err) {
      self.#error(login, err);
      return;
    }
    let work: Promise<void>;
    if (starting) work = self.#start(login);
    else if (input.kind === 'invalid') {
      self.#fail(login, 'invalid-callback', { hint: `Invalid itsme callback: ${input.reason}.` });
      return;
    } else work = self.#complete(login, input.value);
    work.catch((err: unknown) => self.#error(login, err));
  }

  /**
   * Overridable hook: the body of the start call for this request. The default sends the relaystate,
   * `callbackURL` as `target`, `errorCallbackURL` as `targetError` (the authenticate options' own
   * first), the language and the webhook.
   */
  startParams(_req: ItsMeRequest, options: ItsMeAuthenticateOptions, relayState: string): StartRequest {
    const target = options.callbackURL ?? this.callbackURL;
    const params: StartRequest = {
      relaystate: relayState,
      target,
      targetError:
        options.errorCallbackURL ?? (this.errorCallbackURL === this.callbackURL ? target : this.errorCallbackURL),
    };
    const language = options.language ?? this.language;
    if (language) params.language = language;
    if (this.webhookURL) params.webhook = this.webhookURL;
    return params;
  }

  async #start(login: Login): Promise<void> {
    const { req, options, actions } = login;
    // Without a session the login could never complete: say so before opening a ZignSec session.
    if (this.store.check) await this.#limit(this.store.check(req), 'check');
    const relayState = createRelayState();
    const params = actions.startParams(req, options, relayState);
    const { id, redirectUrl } = await this.client.start(params);
    login.sessionId = id;
    // The language the itsme screens were asked for, a startParams override's included.
    const language = params?.language ?? options.language ?? this.language;
    await this.#limit(
      this.store.save(req, relayState, { sessionId: id, createdAt: Date.now(), ...(language && { language }) }),
      'save',
    );
    if (loginStartChannel.hasSubscribers) loginStartChannel.publish({ strategy: actions.name, sessionId: id });
    login.acted = true;
    actions.redirect(redirectUrl);
  }

  async #complete(login: Login, relayState: string): Promise<void> {
    let pending = await this.#limit(this.store.take(login.req, relayState), 'take');
    // A custom store's record is checked like a ZignSec answer: its id goes into calls and events.
    if (pending && (typeof pending.sessionId !== 'string' || !SESSION_ID.test(pending.sessionId))) pending = undefined;
    if (!pending) {
      const code = await explainMissing(this.store, login.req, relayState, this.#limit);
      login.startLanguage = recallLanguage(this.store, login.req, relayState);
      this.#fail(login, code);
      return;
    }
    login.sessionId = pending.sessionId;
    login.pending = pending;
    if (!this.#claim(pending.sessionId)) {
      this.#fail(login, 'used-login');
      return;
    }
    let result: Awaited<ReturnType<ItsMeClient['waitForResult']>>;
    try {
      result = await this.client.waitForResult(pending.sessionId, {
        timeout: this.pendingTimeout,
        interval: 250,
        maxInterval: 1000,
      });
    } catch (err) {
      if (err instanceof ItsMeError && err.code === 'ERR_ITSME_PENDING_TIMEOUT') {
        this.#fail(login, 'not-confirmed');
        return;
      }
      throw err;
    }
    if (result.errors.length > 0) {
      const { code, zignsecCode } = classifyErrors(result.errors);
      this.#fail(login, code, { zignsecCode });
      return;
    }
    let profile: ItsMeProfile;
    try {
      profile = toProfile(result);
    } catch (err) {
      if (err instanceof ItsMeError && err.code === 'ERR_ITSME_NO_SUBJECT') {
        this.#fail(login, 'no-subject');
        return;
      }
      throw err;
    }
    const verifying = callVerify(this.#verify, this.#passReqToCallback, this.verifyTimeout, login.req, profile);
    const { user, info } = verifying instanceof Promise ? await verifying : verifying;
    if (!user) {
      const given: Record<string, unknown> =
        typeof info === 'string' ? { message: info } : info && typeof info === 'object' ? { ...info } : {};
      this.#fail(login, 'verify-refused', {}, given);
      return;
    }
    if (loginSuccessChannel.hasSubscribers) {
      loginSuccessChannel.publish({
        strategy: login.actions.name,
        sessionId: pending.sessionId,
        duration: Date.now() - startedAt(login),
      });
    }
    login.acted = true;
    login.actions.success(user, info);
  }

  /**
   * Fails the login with `info.code`, the message in the login's language, what verify's info added,
   * and the code's status (ZignSec's `ALREADY_COLLECTED` is a `used-login`: 403 like the store's).
   */
  #fail(
    login: Login,
    code: ItsMeFailureCode,
    extra: { zignsecCode?: string; hint?: string } = {},
    given: Record<string, unknown> = {},
  ): void {
    const built = failureInfo(code, {
      language: loginLanguage(login, this.language),
      insecure: overPlainHttp(login.req),
      overrides: this.#messages,
      ...extra,
    });
    const info = { ...built, ...given, code };
    if (typeof info.message !== 'string') info.message = built.message;
    const status = FAILURE_STATUS[code];
    publishFailure(login, code, status);
    login.acted = true;
    login.actions.fail(info, status);
  }

  /**
   * Ends the login in `error()`, published on the failure channel, unless a Passport action already
   * ended it and then threw (say `failureFlash` without connect-flash): that login has its event, and
   * `error()` only hands the exception to the app, which has not answered yet.
   */
  #error(login: Login, err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (!login.acted) publishFailure(login, error instanceof ItsMeError ? error.code : 'ERR_UNEXPECTED', 500);
    login.acted = true;
    login.actions.error(error);
  }

  #claim(sessionId: string): boolean {
    const now = Date.now();
    this.#consumed.makeRoom(CONSUMED_MAX, (expires) => expires > now);
    if (this.#consumed.has(sessionId)) return false;
    this.#consumed.set(sessionId, now + this.#consumedTtl);
    return true;
  }
}
