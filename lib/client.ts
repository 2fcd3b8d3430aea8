import { checkClientOptions, HOSTS, type ItsMeClientOptions, SESSION_ID } from './client-options.js';
import type { ZignSecCallContext } from './diagnostics.js';
import { holdsSecret, ItsMeError, normalizeErrors, redact, sanitizeCause, type ZignSecErrorEntry } from './errors.js';
import { abortedError, InFlightResults } from './in-flight.js';
import { JSON_LIMITS, withinLimits } from './json-limits.js';
import { checkSignal, checkTimeout, type WaitForResultOptions, waitForResult } from './polling.js';
import { readClaims, toProfile } from './profile.js';
import { type Exchange, rawHeader, Transport } from './transport.js';
import type {
  ItsMeLanguage,
  ItsMeProfile,
  ItsMeResult,
  StartRequest,
  StartResponse,
  ZignSecIdentity,
} from './types.js';
import { LANGUAGES } from './types.js';
import { browserUrl, codes, httpError, isOk } from './zignsec-answers.js';
import { traced, tracing } from './zignsec-trace.js';

export type { ItsMeClientOptions } from './client-options.js';
/** @internal */
export { checkClientOptions, isHttpUrl } from './client-options.js';
export { isFinal, MAX_DELAY, type WaitForResultOptions } from './polling.js';

/**
 * A small client for ZignSec's itsme API (v3): start a session, read its result, wait for a final
 * result. The strategy uses it; app-to-app and server-side flows use it directly. Connections are
 * kept alive and reused.
 */
export class ItsMeClient {
  /** The base URL calls go to (no trailing slash). */
  readonly baseURL: string;
  /** Milliseconds for each HTTP call. */
  readonly timeout: number;
  /** Largest response body read, in bytes. */
  readonly maxResponseSize: number;
  /** @internal */
  #apiKey: string;
  /** @internal */
  #transport: Transport;
  /** @internal */
  #results: InFlightResults;

  constructor(options: ItsMeClientOptions) {
    if (!options || typeof options !== 'object') throw new TypeError('ItsMeClient requires an options object');
    checkClientOptions('ItsMeClient', options);
    this.#apiKey = options.apiKey;
    this.baseURL = (options.baseURL ?? HOSTS[options.environment ?? 'test']).replace(/\/+$/, '');
    this.timeout = options.timeout ?? 10_000;
    this.maxResponseSize = options.maxResponseSize ?? 1024 * 1024;
    this.#transport = new Transport(`${this.baseURL}/v3/eid/itsme`, this.maxResponseSize, options.agent);
    this.#results = new InFlightResults((id, timeout, signal) => this.#fetchResult(id, timeout, signal));
  }

  /**
   * Starts an itsme session: `POST /v3/eid/itsme`. Never retried. The `redirectUrl` returned is
   * ZignSec's, normalised (`new URL(...).href`).
   * @throws {ItsMeError} on a non-2xx status, a body that is not JSON, a non-empty `errors`, a
   *   missing `id`, or a `redirectUrl` that is missing, not http(s), holds control characters or is
   *   longer than 8 KiB (`ERR_ZIGNSEC_BAD_RESPONSE`).
   * @throws {TypeError} (as a rejection, before any call) on an unknown `language`, or a `request`
   *   field that is not a string or holds the API key (a key of 16 characters or more).
   */
  start(request: StartRequest = {}, options: { signal?: AbortSignal } = {}): Promise<StartResponse> {
    const body: Record<string, string> = {};
    for (const key of ['relaystate', 'target', 'targetError', 'language', 'webhook'] as const) {
      const value = request[key];
      if (value !== undefined) body[key] = value;
    }
    if (body.language !== undefined && !LANGUAGES.includes(body.language as ItsMeLanguage)) {
      return Promise.reject(new TypeError(`language must be one of ${LANGUAGES.join(', ')}`));
    }
    for (const key in body) {
      // Checked before holdsSecret, which reads a string: anything else would throw here, not reject.
      if (typeof body[key] !== 'string') return Promise.reject(new TypeError(`start request ${key} must be a string`));
      // ZignSec sends the browser to target or targetError, with the rest in the URL or the page.
      if (holdsSecret(body[key] as string, this.#apiKey)) {
        return Promise.reject(new TypeError(`start request ${key} must not hold the API key`));
      }
    }
    const signal = options?.signal;
    try {
      checkSignal('start', signal);
    } catch (err) {
      return Promise.reject(err);
    }
    if (!tracing()) return this.#start(JSON.stringify(body), signal, undefined);
    const context: ZignSecCallContext = { method: 'POST', path: '/v3/eid/itsme' };
    return traced(context, () => this.#start(JSON.stringify(body), signal, context));
  }

  #start(
    body: string,
    signal: AbortSignal | undefined,
    context: ZignSecCallContext | undefined,
  ): Promise<StartResponse> {
    return this.#call('POST', '', body, this.timeout, signal, context).then(({ status, json }) => {
      const errors = this.#errors(json.errors);
      if (!isOk(status)) throw httpError('start', status, errors);
      if (errors.length > 0) {
        throw new ItsMeError('ERR_ZIGNSEC_ERRORS', `ZignSec refused to start the itsme session: ${codes(errors)}`, {
          status,
          errors,
        });
      }
      const id = json.id;
      // An id that echoes the key would carry it into the session, the events and the result's path.
      if (typeof id !== 'string' || !SESSION_ID.test(id) || holdsSecret(id, this.#apiKey)) {
        throw new ItsMeError('ERR_ZIGNSEC_BAD_RESPONSE', 'ZignSec start response has no valid id', { status });
      }
      const redirectUrl = browserUrl(json.redirectUrl);
      if (redirectUrl === undefined) {
        throw new ItsMeError('ERR_ZIGNSEC_BAD_RESPONSE', 'ZignSec start response has no valid redirectUrl', {
          status,
        });
      }
      if (holdsSecret(redirectUrl, this.#apiKey) || holdsSecret(String(json.redirectUrl), this.#apiKey)) {
        throw new ItsMeError(
          'ERR_ZIGNSEC_BAD_RESPONSE',
          'ZignSec start response has a redirectUrl that holds the API key: it is not sent to the browser',
          { status },
        );
      }
      return { id, redirectUrl };
    });
  }

  /**
   * Reads a session's result once: `GET /v3/eid/itsme/{id}`. A result that holds `errors` (cancel,
   * expiry) is returned, not thrown: check `errors` and {@link isFinal}. Concurrent calls for the same
   * id share one request; a caller whose `signal` fires leaves at once with `ERR_ITSME_ABORTED`, and
   * the shared request is cancelled only when every caller has left. `timeout` (an integer of ms,
   * default the client's) limits a request this call starts.
   * @throws {ItsMeError} on a non-2xx status, a body that is not JSON or exceeds the nesting and size
   *   limits, or a result for another id.
   * @throws {TypeError} (as a rejection) on a malformed id or options.
   */
  getResult(id: string, options: { signal?: AbortSignal; timeout?: number } = {}): Promise<ItsMeResult> {
    if (typeof id !== 'string' || !SESSION_ID.test(id)) {
      return Promise.reject(new TypeError('getResult requires a ZignSec session id'));
    }
    const { signal, timeout } = options ?? {};
    try {
      if (timeout !== undefined) checkTimeout('getResult', timeout);
      checkSignal('getResult', signal);
    } catch (err) {
      return Promise.reject(err);
    }
    if (signal?.aborted) return Promise.reject(abortedError());
    return this.#results.read(id, timeout ?? this.timeout, signal);
  }

  /**
   * Polls a session until its result is final (finished, or failed with `errors`), with a growing
   * pause between polls and at most one request in flight per id (concurrent waits on one id share
   * it). 5xx answers, network errors and call time-outs are retried within the budget. The `signal`
   * is honoured at once, during a pause or a request.
   * @throws {TypeError} (as a rejection) when `timeout` is not an integer from 1 to 2^31 - 1, or
   *   `interval`/`maxInterval` is not a number of ms from 100 to 2^31 - 1.
   * @throws {ItsMeError} `ERR_ITSME_PENDING_TIMEOUT` when ZignSec kept answering "not final" until
   *   `timeout`; `ERR_ITSME_ABORTED` when `signal` fires; the last transient error (or
   *   `ERR_ZIGNSEC_TIMEOUT`) when ZignSec never gave an answer in time.
   */
  waitForResult(id: string, options: WaitForResultOptions): Promise<ItsMeResult> {
    if (typeof id !== 'string' || !SESSION_ID.test(id)) {
      return Promise.reject(new TypeError('waitForResult requires a ZignSec session id'));
    }
    return waitForResult(this.#results, this.timeout, id, options);
  }

  /** Maps a finished result to a Passport profile (the mapping the strategy uses). */
  toProfile(result: ItsMeResult): ItsMeProfile {
    return toProfile(result);
  }

  #fetchResult(id: string, timeout: number, signal: AbortSignal | undefined): Promise<ItsMeResult> {
    if (!tracing()) return this.#result(id, timeout, signal, undefined);
    const context: ZignSecCallContext = { method: 'GET', path: '/v3/eid/itsme/{id}', sessionId: id };
    return traced(context, () => this.#result(id, timeout, signal, context));
  }

  #result(
    id: string,
    timeout: number,
    signal: AbortSignal | undefined,
    context: ZignSecCallContext | undefined,
  ): Promise<ItsMeResult> {
    return this.#call('GET', `/${id}`, undefined, timeout, signal, context).then(({ status, json, text }) => {
      const errors = this.#errors(json.errors);
      if (!isOk(status)) throw httpError('result', status, errors);
      const failedWithoutId = (json.id === undefined || json.id === null) && errors.length > 0;
      if (json.id !== id && !failedWithoutId) {
        throw new ItsMeError('ERR_ITSME_ID_MISMATCH', 'ZignSec returned the result of another session', { status });
      }
      const claims = readClaims(json.providerData);
      if (claims === 'too-complex') {
        throw new ItsMeError(
          'ERR_ZIGNSEC_BAD_RESPONSE',
          `ZignSec result providerData is nested deeper than ${JSON_LIMITS.claimsDepth} levels or holds more than ${JSON_LIMITS.claimsValues} values`,
          { status },
        );
      }
      const identity = json.identity;
      const result: ItsMeResult = {
        id,
        state: typeof json.state === 'string' ? json.state : '',
        errors,
        providerData: claims === 'invalid' ? null : claims,
        raw: text,
      };
      if (claims === 'invalid') result.providerDataInvalid = true;
      if (identity && typeof identity === 'object' && !Array.isArray(identity)) {
        result.identity = identity as ZignSecIdentity;
      }
      return result;
    });
  }

  /** One exchange and its JSON object. */
  #call(
    method: 'GET' | 'POST',
    path: string,
    body: string | undefined,
    timeout: number,
    signal: AbortSignal | undefined,
    context: ZignSecCallContext | undefined,
  ): Promise<{ status: number; json: Record<string, unknown>; text: string }> {
    const what = method === 'POST' ? 'start' : 'result';
    if (signal?.aborted) return Promise.reject(abortedError());
    return this.#transport.send(method, path, this.#apiKey, body, timeout, signal).then(
      (response) => this.#answer(response, what, context),
      (err: unknown) => {
        if ((err as { code?: unknown }).code === 'ERR_RESPONSE_TOO_LARGE') {
          throw new ItsMeError(
            'ERR_ZIGNSEC_BAD_RESPONSE',
            `ZignSec ${what} response is larger than ${this.maxResponseSize} bytes`,
          );
        }
        throw this.#wrap(err, what);
      },
    );
  }

  #answer(
    response: Exchange,
    what: string,
    context: ZignSecCallContext | undefined,
  ): { status: number; json: Record<string, unknown>; text: string } {
    const status = response.statusCode;
    if (context) context.status = status;
    const text = response.body;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      if (!isOk(status)) throw httpError(what, status, []);
      // Not JSON.parse's message: it quotes the start of the body, which may echo the key.
      const type = redact(rawHeader(response.rawHeaders, 'content-type') ?? 'no content-type', this.#apiKey).slice(
        0,
        100,
      );
      throw new ItsMeError(
        'ERR_ZIGNSEC_BAD_RESPONSE',
        `ZignSec ${what} response (HTTP ${status}, ${type}, ${text.length} characters) is not JSON`,
        { status },
      );
    }
    if (!json || typeof json !== 'object' || Array.isArray(json)) {
      if (!isOk(status)) throw httpError(what, status, []);
      throw new ItsMeError(
        'ERR_ZIGNSEC_BAD_RESPONSE',
        `ZignSec ${what} response (HTTP ${status}) is not a JSON object`,
        {
          status,
        },
      );
    }
    if (!withinLimits(json, JSON_LIMITS.responseDepth, JSON_LIMITS.responseValues)) {
      throw new ItsMeError(
        'ERR_ZIGNSEC_BAD_RESPONSE',
        `ZignSec ${what} response (HTTP ${status}) is nested deeper than ${JSON_LIMITS.responseDepth} levels or holds more than ${JSON_LIMITS.responseValues} values`,
        { status },
      );
    }
    return { status, json: json as Record<string, unknown>, text };
  }

  /** ZignSec's error list, normalised and bounded, with the API key cut out should ZignSec echo it. */
  #errors(value: unknown): ZignSecErrorEntry[] {
    return normalizeErrors(value, this.#apiKey);
  }

  #wrap(err: unknown, what: string): ItsMeError {
    const code = (err as { code?: unknown }).code;
    const cause = sanitizeCause(err, this.#apiKey);
    if (code === 'ERR_ABORTED' || code === 'ABORT_ERR' || (err as Error)?.name === 'AbortError') {
      return new ItsMeError('ERR_ITSME_ABORTED', `ZignSec ${what} call was aborted`, { cause });
    }
    if (code === 'ETIMEDOUT') {
      // The cause says which limit: the whole exchange's (`timeout`) or the proxy's tunnel (`proxyTimeout`).
      return new ItsMeError('ERR_ZIGNSEC_TIMEOUT', `ZignSec ${what} call timed out: ${cause.message}`, { cause });
    }
    return new ItsMeError(
      'ERR_ZIGNSEC_NETWORK',
      `ZignSec ${what} call failed: ${redact(cause.message, this.#apiKey)}`,
      { cause },
    );
  }
}
