import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkClientOptions, ItsMeClient, type ItsMeClientOptions, MAX_DELAY } from '../client.js';
import type { ItsMeProfile, ItsMeResult, ZignSecEnvironment } from '../types.js';
import { MemorySeenStore, type SeenStore } from './seen-store.js';
import type { SignatureFormat } from './signature.js';

/**
 * Called once per finished ZignSec session with the result read back from ZignSec (never the posted
 * body). `profile` is `null` when the result carries `errors` (cancelled, expired, ...) or holds no
 * subject; log someone in only with a non-null profile. A throw or rejection answers 500, so ZignSec
 * delivers again, and the session is not marked as handled.
 */
export type WebhookResultCallback = (
  result: ItsMeResult,
  profile: ItsMeProfile | null,
  req: IncomingMessage,
) => unknown | Promise<unknown>;

/** Options of {@link createWebhookHandler}. */
export interface WebhookHandlerOptions {
  /** ZignSec access token: reads the result back, and keys the hex signature unless `secret` is set. */
  apiKey?: string;
  /** `'test'` (default) or `'production'`. */
  environment?: ZignSecEnvironment;
  /** Overrides the ZignSec host (the simulator, a proxy). */
  baseURL?: string;
  /** Milliseconds for the call to ZignSec. Default 10000. */
  timeout?: number;
  /** The agent ZignSec calls go through (private CA, client certificate, egress proxy): see {@link ItsMeClientOptions.agent}. */
  agent?: ItsMeClientOptions['agent'];
  /** A client to read results with, instead of one built from `apiKey`/`environment`/`baseURL`. */
  client?: ItsMeClient;
  /** Receives each final result once. Required. */
  onResult: WebhookResultCallback;
  /** Key of the signature check; default `apiKey`. Setting it turns the check on. */
  secret?: string;
  /**
   * Checks `X-ZignSec-Hmac-SHA256` before anything else: `true`/`'any'` accepts the hex and the
   * timestamped form, `'hex'` or `'timestamped'` only that one, `false` none. Default: on when
   * `secret` is set. Needs the raw body (see {@link keepRawBody}).
   */
  signature?: boolean | SignatureFormat;
  /** Seconds a timestamped signature stays valid. Default 300. */
  tolerance?: number;
  /** Remembers handled sessions. Default: a {@link MemorySeenStore} (one process, bounded). */
  seenStore?: SeenStore;
  /** Milliseconds a handled session is remembered. Default 72 hours (ZignSec retries for 48). */
  seenTtl?: number;
  /** Largest body accepted, in bytes; larger gets 413. Default 1 MiB. */
  maxBodySize?: number;
  /**
   * Milliseconds to keep polling ZignSec when the posted session is not final yet, before answering
   * 202. Default 0: answer 202 at once. (202 is a 2xx: ZignSec will not deliver that session again.)
   */
  pendingTimeout?: number;
  /**
   * Reads of one session id from ZignSec allowed per minute; further posts of that id get 429 (with
   * `Retry-After`) without a read. Default 6. Posts of an id ZignSec does not know are also answered
   * 404 from memory for 60 s. Both are kept for at most 10000 ids.
   */
  maxReadsPerMinute?: number;
  /** Told of every 5xx cause (onResult threw, ZignSec failed, store failed). Default: `console.error`. */
  onError?: (error: unknown, req: IncomingMessage) => void | Promise<void>;
}

/** An Express/Connect-compatible request handler (also a plain `node:http` listener). */
export type WebhookHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

/** Checks `options` (each message names the option) and applies the defaults. @internal */
export function checkOptions(options: WebhookHandlerOptions) {
  const owner = 'createWebhookHandler';
  if (typeof options.onResult !== 'function') throw new TypeError(`${owner} requires an onResult function`);
  if (options.client !== undefined && !(options.client instanceof ItsMeClient)) {
    throw new TypeError(`${owner} client option must be an ItsMeClient`);
  }
  if (options.client === undefined || options.apiKey !== undefined) checkClientOptions(owner, options);
  if (options.secret !== undefined && (typeof options.secret !== 'string' || options.secret === '')) {
    throw new TypeError(`${owner} secret option must be a non-empty string`);
  }
  const signature = options.signature ?? options.secret !== undefined;
  if (![true, false, 'any', 'hex', 'timestamped'].includes(signature)) {
    throw new TypeError(`${owner} signature option must be true, false, 'any', 'hex' or 'timestamped'`);
  }
  const format: SignatureFormat | undefined = signature === true ? 'any' : signature || undefined;
  const key = options.secret ?? options.apiKey ?? '';
  if (format && key === '') throw new TypeError(`${owner} signature check needs a secret or an apiKey option`);
  const atMostMaxDelay = (value: number): number => {
    if (value > MAX_DELAY) throw new TypeError(`${owner} pendingTimeout option must be at most ${MAX_DELAY} ms`);
    return value;
  };
  const positive = (
    name: 'tolerance' | 'seenTtl' | 'maxBodySize' | 'pendingTimeout' | 'maxReadsPerMinute',
    fallback: number,
  ): number => {
    const value = options[name] ?? fallback;
    if (!(Number.isInteger(value) && value > 0))
      throw new TypeError(`${owner} ${name} option must be a positive integer`);
    return value;
  };
  const seenStore = options.seenStore ?? new MemorySeenStore();
  if (
    !['claim', 'complete', 'release'].every(
      (m) => typeof (seenStore as unknown as Record<string, unknown>)[m] === 'function',
    )
  ) {
    throw new TypeError(`${owner} seenStore option must have claim, complete and release methods`);
  }
  if (options.onError !== undefined && typeof options.onError !== 'function') {
    throw new TypeError(`${owner} onError option must be a function`);
  }
  return {
    client: options.client ?? new ItsMeClient(options as { apiKey: string }),
    onResult: options.onResult,
    apiKey: options.apiKey ?? '',
    format,
    key,
    tolerance: positive('tolerance', 300),
    seenTtl: positive('seenTtl', 72 * 3_600_000),
    maxBodySize: positive('maxBodySize', 1024 * 1024),
    // 0, the default, answers 202 at once.
    pendingTimeout:
      options.pendingTimeout === undefined || options.pendingTimeout === 0
        ? 0
        : atMostMaxDelay(positive('pendingTimeout', 1)),
    maxReadsPerMinute: positive('maxReadsPerMinute', 6),
    seenStore,
  };
}
