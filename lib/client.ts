import { setTimeout as sleep } from 'node:timers/promises';
import { ItsMeError, normalizeErrors, redact, sanitizeCause, type ZignSecErrorEntry } from './errors.js';
import { parseClaims, toProfile } from './profile.js';
import { type Exchange, Transport } from './transport.js';
import type {
  ItsMeLanguage,
  ItsMeProfile,
  ItsMeResult,
  StartRequest,
  StartResponse,
  ZignSecEnvironment,
  ZignSecIdentity,
} from './types.js';
import { LANGUAGES } from './types.js';

/** Options of {@link ItsMeClient}. */
export interface ItsMeClientOptions {
  /** ZignSec access token, sent raw in `Authorization`. */
  apiKey: string;
  /** `'test'` (default) or `'production'`. */
  environment?: ZignSecEnvironment;
  /** Overrides the host, e.g. the simulator's URL. `/v3/eid/itsme` is appended. */
  baseURL?: string;
  /** Milliseconds for each HTTP call. Default 10000. */
  timeout?: number;
  /** Largest response body read, in bytes. Default 1 MiB. */
  maxResponseSize?: number;
}

/** Options of {@link ItsMeClient.waitForResult}. */
export interface WaitForResultOptions {
  /** Total milliseconds to wait for a final result. */
  timeout: number;
  /** First pause between polls, in ms. Default 1000; it grows by half each poll. */
  interval?: number;
  /** Longest pause between polls, in ms. Default 5000. */
  maxInterval?: number;
  /** Stops the wait; the promise rejects with `ERR_ITSME_ABORTED`. */
  signal?: AbortSignal;
}

const HOSTS: Record<ZignSecEnvironment, string> = {
  test: 'https://test.zignsec.com',
  production: 'https://api.zignsec.com',
};

const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** Longest delay Node's timers honour (2^31 - 1 ms); beyond it they fire after 1 ms. @internal */
export const MAX_DELAY = 2_147_483_647;

/** What an `Authorization` header value can carry unchanged: visible ASCII, inner spaces allowed. */
const API_KEY = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/** @internal */
export function checkClientOptions(owner: string, options: Partial<ItsMeClientOptions>): void {
  if (typeof options.apiKey !== 'string' || options.apiKey.trim() === '') {
    throw new TypeError(`${owner} requires an apiKey option`);
  }
  if (!API_KEY.test(options.apiKey)) {
    throw new TypeError(
      `${owner} apiKey option must be printable ASCII with no surrounding whitespace (check for a trailing newline)`,
    );
  }
  if (options.environment !== undefined && !Object.hasOwn(HOSTS, options.environment)) {
    throw new TypeError(`${owner} environment option must be 'test' or 'production'`);
  }
  if (options.baseURL !== undefined && !isHttpUrl(options.baseURL)) {
    throw new TypeError(`${owner} baseURL option must be an absolute http(s) URL`);
  }
  for (const name of ['timeout', 'maxResponseSize'] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new TypeError(`${owner} ${name} option must be a positive integer`);
    }
  }
  if (options.timeout !== undefined && options.timeout > MAX_DELAY) {
    throw new TypeError(`${owner} timeout option must be at most ${MAX_DELAY} ms`);
  }
}

/** @internal */
export function isHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** `true` when the result is the end of the flow: finished, or failed with errors. */
export function isFinal(result: Pick<ItsMeResult, 'state' | 'errors'>): boolean {
  return result.errors.length > 0 || result.state.toLowerCase() === 'finished';
}

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
  #transport = new Transport();
  /** @internal */
  #inFlight = new Map<string, InFlight>();

  constructor(options: ItsMeClientOptions) {
    if (!options || typeof options !== 'object') throw new TypeError('ItsMeClient requires an options object');
    checkClientOptions('ItsMeClient', options);
    this.#apiKey = options.apiKey;
    this.baseURL = (options.baseURL ?? HOSTS[options.environment ?? 'test']).replace(/\/+$/, '');
    this.timeout = options.timeout ?? 10_000;
    this.maxResponseSize = options.maxResponseSize ?? 1024 * 1024;
  }

  /**
   * Starts an itsme session: `POST /v3/eid/itsme`. Never retried.
   * @throws {ItsMeError} on a non-2xx status, a body that is not JSON, a non-empty `errors`, or a
   *   missing `id`/`redirectUrl`.
   */
  async start(request: StartRequest = {}, options: { signal?: AbortSignal } = {}): Promise<StartResponse> {
    const body: Record<string, string> = {};
    for (const key of ['relaystate', 'target', 'targetError', 'language', 'webhook'] as const) {
      const value = request[key];
      if (value !== undefined) body[key] = value;
    }
    if (body.language !== undefined && !LANGUAGES.includes(body.language as ItsMeLanguage)) {
      throw new TypeError(`language must be one of ${LANGUAGES.join(', ')}`);
    }
    const { status, json } = await this.#call('POST', '', body, this.timeout, options.signal);
    const errors = this.#errors(json.errors);
    if (!isOk(status)) throw httpError('start', status, errors);
    if (errors.length > 0) {
      throw new ItsMeError('ERR_ZIGNSEC_ERRORS', `ZignSec refused to start the itsme session: ${codes(errors)}`, {
        status,
        errors,
      });
    }
    const { id, redirectUrl } = json;
    if (typeof id !== 'string' || !SESSION_ID.test(id)) {
      throw new ItsMeError('ERR_ZIGNSEC_BAD_RESPONSE', 'ZignSec start response has no valid id', { status });
    }
    if (!isHttpUrl(redirectUrl)) {
      throw new ItsMeError('ERR_ZIGNSEC_BAD_RESPONSE', 'ZignSec start response has no valid redirectUrl', {
        status,
      });
    }
    return { id, redirectUrl };
  }

  /**
   * Reads a session's result once: `GET /v3/eid/itsme/{id}`. A result that holds `errors` (cancel,
   * expiry) is returned, not thrown: check `errors` and {@link isFinal}. Concurrent calls for the same
   * id share one request; a caller whose `signal` fires leaves at once with `ERR_ITSME_ABORTED`, and
   * the shared request is cancelled only when every caller has left.
   * @throws {ItsMeError} on a non-2xx status, a body that is not JSON, or a result for another id.
   */
  getResult(id: string, options: { signal?: AbortSignal; timeout?: number } = {}): Promise<ItsMeResult> {
    if (typeof id !== 'string' || !SESSION_ID.test(id)) {
      return Promise.reject(new TypeError('getResult requires a ZignSec session id'));
    }
    if (options.signal?.aborted) return Promise.reject(abortedError());
    let entry = this.#inFlight.get(id);
    if (!entry || entry.controller.signal.aborted) entry = this.#launch(id, options.timeout ?? this.timeout, entry);
    return joinInFlight(entry, options.signal);
  }

  /**
   * Polls a session until its result is final (finished, or failed with `errors`), with a growing
   * pause between polls and at most one request in flight per id (concurrent waits on one id share
   * it). 5xx answers, network errors and call time-outs are retried within the budget. The `signal`
   * is honoured at once, during a pause or a request.
   * @throws {ItsMeError} `ERR_ITSME_PENDING_TIMEOUT` when ZignSec kept answering "not final" until
   *   `timeout`; `ERR_ITSME_ABORTED` when `signal` fires; the last transient error (or
   *   `ERR_ZIGNSEC_TIMEOUT`) when ZignSec never gave an answer in time.
   */
  async waitForResult(id: string, options: WaitForResultOptions): Promise<ItsMeResult> {
    const { timeout, signal } = options ?? ({} as WaitForResultOptions);
    if (!(Number.isFinite(timeout) && timeout > 0)) throw new TypeError('waitForResult requires a timeout option');
    if (timeout > MAX_DELAY) throw new TypeError(`waitForResult timeout option must be at most ${MAX_DELAY} ms`);
    for (const name of ['interval', 'maxInterval'] as const) {
      const value = options[name];
      if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
        throw new TypeError(`waitForResult ${name} option must be a positive number`);
      }
    }
    let pause = options.interval ?? 1000;
    const maxPause = options.maxInterval ?? 5000;
    const deadline = Date.now() + timeout;
    let lastError: ItsMeError | undefined;
    let answered = false;
    const expired = () =>
      lastError ??
      (answered
        ? new ItsMeError('ERR_ITSME_PENDING_TIMEOUT', `itsme session was not finished within ${timeout} ms`)
        : new ItsMeError('ERR_ZIGNSEC_TIMEOUT', `ZignSec did not answer within ${timeout} ms`));
    for (;;) {
      throwIfAborted(signal);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw expired();
      const poll = pollSignal(remaining, signal);
      try {
        const result = await this.getResult(id, { signal: poll.signal });
        lastError = undefined;
        answered = true;
        if (isFinal(result)) return result;
      } catch (err) {
        throwIfAborted(signal);
        if (poll.timedOut()) throw expired();
        if (!isTransient(err)) throw err;
        lastError = err;
      } finally {
        poll.dispose();
      }
      const left = deadline - Date.now();
      if (left <= 0) throw expired();
      try {
        await sleep(Math.min(pause, left), undefined, { signal });
      } catch {
        throwIfAborted(signal);
      }
      pause = Math.min(maxPause, Math.round(pause * 1.5));
    }
  }

  #launch(id: string, timeout: number, previous: InFlight | undefined): InFlight {
    const controller = new AbortController();
    const ready = previous ? previous.promise.then(noop, noop) : Promise.resolve();
    const entry: InFlight = {
      controller,
      waiters: 0,
      promise: ready.then(() => this.#fetchResult(id, timeout, controller.signal)),
    };
    entry.promise.then(noop, noop).finally(() => {
      if (this.#inFlight.get(id) === entry) this.#inFlight.delete(id);
    });
    this.#inFlight.set(id, entry);
    return entry;
  }

  /** Maps a finished result to a Passport profile (the mapping the strategy uses). */
  toProfile(result: ItsMeResult): ItsMeProfile {
    return toProfile(result);
  }

  async #fetchResult(id: string, timeout: number, signal?: AbortSignal): Promise<ItsMeResult> {
    const { status, json, text } = await this.#call('GET', `/${id}`, undefined, timeout, signal);
    const errors = this.#errors(json.errors);
    if (!isOk(status)) throw httpError('result', status, errors);
    const failedWithoutId = (json.id === undefined || json.id === null) && errors.length > 0;
    if (json.id !== id && !failedWithoutId) {
      throw new ItsMeError('ERR_ITSME_ID_MISMATCH', 'ZignSec returned the result of another session', { status });
    }
    const identity = json.identity;
    const result: ItsMeResult = {
      id,
      state: typeof json.state === 'string' ? json.state : '',
      errors,
      providerData: parseClaims(json.providerData),
      raw: text,
    };
    if (identity && typeof identity === 'object' && !Array.isArray(identity)) {
      result.identity = identity as ZignSecIdentity;
    }
    return result;
  }

  async #call(
    method: 'GET' | 'POST',
    path: string,
    body: object | undefined,
    timeout: number,
    signal: AbortSignal | undefined,
  ): Promise<{ status: number; json: Record<string, unknown>; text: string }> {
    throwIfAborted(signal);
    const what = method === 'POST' ? 'start' : 'result';
    let response: Exchange;
    try {
      response = await this.#exchange(method, path, body, timeout, signal);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_RESPONSE_TOO_LARGE') {
        throw new ItsMeError(
          'ERR_ZIGNSEC_BAD_RESPONSE',
          `ZignSec ${what} response is larger than ${this.maxResponseSize} bytes`,
        );
      }
      throw this.#wrap(err, what);
    }
    const text = response.body;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      if (!isOk(response.statusCode)) throw httpError(what, response.statusCode, []);
      // Not JSON.parse's message: it quotes the start of the body, which may echo the key.
      const type = redact(String(response.headers['content-type'] ?? 'no content-type'), this.#apiKey).slice(0, 100);
      throw new ItsMeError(
        'ERR_ZIGNSEC_BAD_RESPONSE',
        `ZignSec ${what} response (HTTP ${response.statusCode}, ${type}, ${text.length} characters) is not JSON`,
        { status: response.statusCode },
      );
    }
    if (!json || typeof json !== 'object' || Array.isArray(json)) {
      if (!isOk(response.statusCode)) throw httpError(what, response.statusCode, []);
      throw new ItsMeError(
        'ERR_ZIGNSEC_BAD_RESPONSE',
        `ZignSec ${what} response (HTTP ${response.statusCode}) is not a JSON object`,
        { status: response.statusCode },
      );
    }
    return { status: response.statusCode, json: json as Record<string, unknown>, text };
  }

  #exchange(
    method: 'GET' | 'POST',
    path: string,
    body: object | undefined,
    timeout: number,
    signal: AbortSignal | undefined,
  ): Promise<Exchange> {
    const headers: Record<string, string | number> = {
      authorization: this.#apiKey,
      accept: 'application/json',
      'user-agent': 'passport-itsme',
    };
    let payload: Buffer | undefined;
    if (body !== undefined) {
      payload = Buffer.from(JSON.stringify(body));
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    return this.#transport.send({
      method,
      url: `${this.baseURL}/v3/eid/itsme${path}`,
      headers,
      ...(payload ? { body: payload } : {}),
      timeout,
      ...(signal ? { signal } : {}),
      maxResponseSize: this.maxResponseSize,
    });
  }

  /** ZignSec's error list, normalised, with the API key cut out should ZignSec echo it. */
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
      return new ItsMeError('ERR_ZIGNSEC_TIMEOUT', `ZignSec ${what} call timed out`, { cause });
    }
    return new ItsMeError(
      'ERR_ZIGNSEC_NETWORK',
      `ZignSec ${what} call failed: ${redact(cause.message, this.#apiKey)}`,
      { cause },
    );
  }
}

function httpError(what: string, status: number, errors: ZignSecErrorEntry[]): ItsMeError {
  const detail = errors.length ? `: ${codes(errors)}` : '';
  const hint = status === 401 || status === 403 ? ' (check the API key and the IP allow-list)' : '';
  return new ItsMeError('ERR_ZIGNSEC_HTTP_STATUS', `ZignSec ${what} call answered HTTP ${status}${detail}${hint}`, {
    status,
    errors,
  });
}

function isOk(status: number): boolean {
  return status >= 200 && status <= 299;
}

function codes(errors: { code: string; description?: string }[]): string {
  return errors.map((e) => (e.description ? `${e.code} (${e.description})` : e.code)).join(', ');
}

function isTransient(err: unknown): err is ItsMeError {
  if (!(err instanceof ItsMeError)) return false;
  if (err.code === 'ERR_ZIGNSEC_NETWORK' || err.code === 'ERR_ZIGNSEC_TIMEOUT') return true;
  return err.code === 'ERR_ZIGNSEC_HTTP_STATUS' && (err.status ?? 0) >= 500;
}

function abortedError(): ItsMeError {
  return new ItsMeError('ERR_ITSME_ABORTED', 'Waiting for the itsme result was aborted');
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError();
}

function noop(): void {}

/** One shared `GET` for an id. @internal */
interface InFlight {
  promise: Promise<ItsMeResult>;
  controller: AbortController;
  waiters: number;
}

/** Waits for a shared request; leaving on `signal` cancels the request once nobody waits. */
function joinInFlight(entry: InFlight, signal: AbortSignal | undefined): Promise<ItsMeResult> {
  entry.waiters += 1;
  return new Promise<ItsMeResult>((resolve, reject) => {
    let left = false;
    const leave = (): boolean => {
      if (left) return false;
      left = true;
      signal?.removeEventListener('abort', onAbort);
      entry.waiters -= 1;
      return true;
    };
    const onAbort = (): void => {
      if (!leave()) return;
      if (entry.waiters === 0) entry.controller.abort();
      reject(abortedError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    entry.promise.then(
      (result) => leave() && resolve(result),
      (err: unknown) => leave() && reject(err),
    );
  });
}

/** A signal for one poll: fires on the caller's `signal` or when the wait's time is up. */
function pollSignal(
  remaining: number,
  signal: AbortSignal | undefined,
): { signal: AbortSignal; timedOut(): boolean; dispose(): void } {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, remaining);
  const onAbort = () => controller.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    dispose: () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}
