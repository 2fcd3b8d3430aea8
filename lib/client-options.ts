import http from 'node:http';
import { MAX_DELAY } from './polling.js';
import { isRelayStateKey } from './relaystate.js';
import type { ZignSecEnvironment } from './types.js';

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
  /**
   * The `http.Agent` (for an `http:` base URL) or `https.Agent` (for `https:`) every ZignSec call goes
   * through: a private CA (`ca`), a client certificate (`cert`/`key`/`pfx`), or an egress proxy
   * ({@link createProxyAgent}). Default: a kept-alive agent of the client's own. The agent's own
   * keep-alive settings then apply.
   */
  agent?: http.Agent;
}

/** @internal */
export const HOSTS: Record<ZignSecEnvironment, string> = {
  test: 'https://test.zignsec.com',
  production: 'https://api.zignsec.com',
};

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
  const agent = options.agent;
  if (agent !== undefined) {
    if (!(agent instanceof http.Agent))
      throw new TypeError(`${owner} agent option must be an http.Agent or https.Agent`);
    if ((agent as { options?: { rejectUnauthorized?: unknown } }).options?.rejectUnauthorized === false) {
      throw new TypeError(
        `${owner} agent option turns certificate checks off (rejectUnauthorized: false), which would send the API key to whoever answers: trust a private CA with the agent's ca option instead`,
      );
    }
    const protocol = new URL(options.baseURL ?? HOSTS[options.environment ?? 'test']).protocol;
    const agentProtocol = (agent as { protocol?: unknown }).protocol;
    if (typeof agentProtocol === 'string' && agentProtocol !== protocol) {
      throw new TypeError(
        `${owner} agent option is an agent for ${agentProtocol} but ZignSec is reached over ${protocol}`,
      );
    }
  }
}

/** What a ZignSec session id looks like (ZignSec sends UUIDs). @internal */
export const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** Longest `target`/`targetError` sent: the way back must fit in a request line. @internal */
export const MAX_RETURN_URL = 8192;

/**
 * What is wrong with `value` as a URL ZignSec sends the browser back to (`target`, `targetError`), as
 * the end of a sentence naming it, or `undefined` when nothing is. ZignSec appends `relaystate` to
 * its query, so the URL must not hold one already, nor a fragment (which would swallow it).
 * @internal
 */
export function returnUrlProblem(value: unknown): string | undefined {
  if (!isHttpUrl(value)) return 'must be an absolute http(s) URL';
  if (value.length > MAX_RETURN_URL) return `must be at most ${MAX_RETURN_URL} characters`;
  const url = new URL(value);
  if (url.username !== '' || url.password !== '') return 'must not hold a user name or password';
  // `hash` is '' for an empty fragment too (`.../cb#`), which is still one.
  if (value.includes('#')) return 'must not have a #fragment';
  // As the way back reads it: `relaystate`, percent-escaped or nested (`relaystate[a]`), would make it invalid.
  for (const key of url.searchParams.keys()) {
    if (isRelayStateKey(key)) return 'must not have a relaystate parameter (ZignSec adds its own)';
  }
  return undefined;
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
