import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkClientOptions, ItsMeClient, type ItsMeClientOptions, isFinal, MAX_DELAY } from './client.js';
import { SESSION_ID } from './client-options.js';
import { type WebhookMessage, type WebhookOutcome, webhookChannel } from './diagnostics.js';
import { ItsMeError, redact } from './errors.js';
import { toProfile } from './profile.js';
import { MemorySeenStore, type SeenStore } from './seen-store.js';
import { SIGNATURE_HEADER, type SignatureFormat, verifyWebhookSignature } from './signature.js';
import type { ItsMeProfile, ItsMeResult, ZignSecEnvironment } from './types.js';
import { ReadGuard } from './webhook-guard.js';

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

const CLAIM_TTL = 2 * 60_000;
const NEEDS_RAW_BODY =
  'The webhook signature check needs the raw request body: mount the webhook route before express.json(), ' +
  'or use express.json({ verify: keepRawBody })';

interface Outcome {
  status: number;
  body: Record<string, unknown>;
  /** What the `passport-itsme:webhook` event calls it. */
  outcome: WebhookOutcome;
  /** Seconds for `Retry-After`. */
  retryAfter?: number;
}

type Body = { raw: Buffer } | { parsed: unknown } | { fail: Outcome } | null;

/**
 * Use as `express.json({ verify: keepRawBody })` when a JSON body parser runs before the webhook
 * route: it keeps the raw bytes on `req.rawBody`, which the signature check needs.
 */
export function keepRawBody(req: IncomingMessage, _res: ServerResponse, buf: Buffer): void {
  (req as IncomingMessage & { rawBody?: Buffer }).rawBody = buf;
}

/**
 * Creates the receiver for ZignSec's webhook: `app.post('/webhooks/zignsec', createWebhookHandler(...))`.
 *
 * The posted body is only a hint: the handler takes its `id`, reads the result back from ZignSec
 * with the API key and hands `onResult` what ZignSec returned. It answers 200 once `onResult` has
 * run (and for any later duplicate, without calling it again), 202 when the session is not final
 * yet, 400 for a body that is not JSON or has no id, 401 for a bad signature, 404 for a session
 * ZignSec does not know, 413 for a body over `maxBodySize`, 409 while another process handles the
 * same session, 500 when `onResult` failed and 502 when ZignSec could not be read (ZignSec retries
 * every non-2xx). It never throws.
 */
export function createWebhookHandler(options: WebhookHandlerOptions): WebhookHandler {
  if (!options || typeof options !== 'object') throw new TypeError('createWebhookHandler requires an options object');
  const settings = checkOptions(options);
  const { onResult, seenStore, seenTtl, maxBodySize, apiKey } = settings;
  const client = settings.client;
  const running = new Map<string, Promise<Outcome>>();
  const guard = new ReadGuard<Outcome>({ maxReadsPerMinute: settings.maxReadsPerMinute });
  const report = (error: unknown, req: IncomingMessage): void => {
    try {
      if (options.onError) {
        const out: unknown = options.onError(error, req);
        if (out && typeof (out as PromiseLike<unknown>).then === 'function') {
          (out as PromiseLike<unknown>).then(undefined, () => {});
        }
      } else console.error(`passport-itsme webhook: ${redact(String((error as Error)?.stack ?? error), apiKey)}`);
    } catch {
      // a failing logger must not take the response down
    }
  };

  async function settle(id: string, req: IncomingMessage): Promise<Outcome> {
    let result: ItsMeResult;
    try {
      result =
        settings.pendingTimeout > 0
          ? await client.waitForResult(id, { timeout: settings.pendingTimeout, interval: 250, maxInterval: 1000 })
          : await client.getResult(id);
    } catch (err) {
      if (isUnknownSession(err)) return unknown();
      if (err instanceof ItsMeError && err.code === 'ERR_ITSME_PENDING_TIMEOUT') return pending(id);
      report(err, req);
      return { status: 502, body: { error: 'Could not read the result from ZignSec' }, outcome: 'zignsec-error' };
    }
    if (isUnknownSession(result)) return unknown();
    if (!isFinal(result)) return pending(id);
    let profile: ItsMeProfile | null = null;
    if (result.errors.length === 0) {
      try {
        profile = toProfile(result);
      } catch (err) {
        if (!(err instanceof ItsMeError && err.code === 'ERR_ITSME_NO_SUBJECT')) report(err, req);
      }
    }
    await onResult(result, profile, req);
    return { status: 200, body: { status: 'ok', id }, outcome: 'handled' };
  }

  async function handleOnce(id: string, req: IncomingMessage): Promise<Outcome> {
    let claim: string;
    try {
      claim = await seenStore.claim(id, CLAIM_TTL);
    } catch (err) {
      report(err, req);
      return { status: 503, body: { error: 'Webhook store unavailable' }, outcome: 'store-unavailable' };
    }
    if (claim === 'done') return duplicate(id);
    if (claim !== 'claimed') {
      return { status: 409, body: { error: 'This session is being handled; retry later' }, outcome: 'busy' };
    }
    let outcome: Outcome;
    const wait = guard.read(id);
    if (wait > 0) {
      outcome = {
        status: 429,
        body: { error: 'Too many deliveries of this session; retry later' },
        outcome: 'rate-limited',
        retryAfter: Math.ceil(wait / 1000),
      };
    } else {
      try {
        outcome = await settle(id, req);
      } catch (err) {
        report(err, req);
        outcome = {
          status: 500,
          body: { error: 'The result could not be processed; it will be delivered again' },
          outcome: 'result-failed',
        };
      }
      if (outcome.outcome === 'unknown-session') guard.rememberUnknown(id, outcome);
      else guard.forget(id);
    }
    try {
      if (outcome.outcome === 'handled') await seenStore.complete(id, seenTtl);
      else await seenStore.release(id);
    } catch (err) {
      report(err, req);
    }
    return outcome;
  }

  /** The answer to one POST, and the session id when the body named a valid one. */
  async function handle(req: IncomingMessage): Promise<{ answer: Outcome; id?: string } | null> {
    if (req.method !== 'POST') {
      return { answer: { status: 405, body: { error: 'Method not allowed' }, outcome: 'method-not-allowed' } };
    }
    const body = await readBody(req, maxBodySize);
    if (body === null) return null;
    if ('fail' in body) return { answer: body.fail };
    if (settings.format) {
      if (!('raw' in body)) {
        report(new Error(NEEDS_RAW_BODY), req);
        return { answer: { status: 500, body: { error: NEEDS_RAW_BODY }, outcome: 'internal-error' } };
      }
      const check = verifyWebhookSignature(req.headers[SIGNATURE_HEADER], body.raw, settings.key, {
        format: settings.format,
        tolerance: settings.tolerance,
      });
      if (!check.ok) {
        const error = `Invalid webhook signature (${check.reason})`;
        return { answer: { status: 401, body: { error }, outcome: 'bad-signature' } };
      }
    }
    const id = sessionId('raw' in body ? parseJson(body.raw) : body.parsed);
    if (id === undefined) {
      const error = 'The body must be a JSON object with a ZignSec session id';
      return { answer: { status: 400, body: { error }, outcome: 'bad-body' } };
    }
    const remembered = guard.recall(id);
    if (remembered) return { answer: remembered, id };
    const earlier = running.get(id);
    if (earlier) {
      const first = await earlier;
      return { answer: first.outcome === 'handled' ? duplicate(id) : first, id };
    }
    const current = handleOnce(id, req);
    running.set(id, current);
    try {
      return { answer: await current, id };
    } finally {
      running.delete(id);
    }
  }

  return function zignsecWebhook(req, res) {
    handle(req).then(
      (handled) => {
        if (handled) respond(res, handled.answer, handled.id);
      },
      (err: unknown) => {
        report(err, req);
        respond(res, { status: 500, body: { error: 'Internal error' }, outcome: 'internal-error' });
      },
    );
  };
}

function unknown(): Outcome {
  return { status: 404, body: { error: 'Unknown ZignSec session' }, outcome: 'unknown-session' };
}

function pending(id: string): Outcome {
  return { status: 202, body: { status: 'pending', id }, outcome: 'pending' };
}

function duplicate(id: string): Outcome {
  return { status: 200, body: { status: 'duplicate', id }, outcome: 'duplicate' };
}

/** Sends the answer and tells `passport-itsme:webhook` subscribers about it. */
function respond(res: ServerResponse, answer: Outcome, id?: string): void {
  send(res, answer);
  if (!webhookChannel.hasSubscribers) return;
  const message: WebhookMessage = { outcome: answer.outcome, status: answer.status };
  if (id !== undefined) message.sessionId = id;
  webhookChannel.publish(message);
}

function checkOptions(options: WebhookHandlerOptions) {
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
    pendingTimeout: options.pendingTimeout === undefined ? 0 : atMostMaxDelay(positive('pendingTimeout', 1)),
    maxReadsPerMinute: positive('maxReadsPerMinute', 6),
    seenStore,
  };
}

/** The raw body, or what a body parser left when it already read the stream; `null` if the client left. */
function readBody(req: IncomingMessage, limit: number): Promise<Body> {
  const r = req as IncomingMessage & { rawBody?: unknown; body?: unknown; _body?: unknown };
  const tooLarge: Body = {
    fail: { status: 413, body: { error: `The body is larger than ${limit} bytes` }, outcome: 'too-large' },
  };
  const given = Buffer.isBuffer(r.rawBody) ? r.rawBody : Buffer.isBuffer(r.body) ? r.body : undefined;
  if (given) return Promise.resolve(given.length > limit ? tooLarge : { raw: given });
  if (r._body === true || r.readableEnded) {
    if (typeof r.body === 'string') return Promise.resolve({ raw: Buffer.from(r.body) });
    if (r.body !== undefined) return Promise.resolve({ parsed: r.body });
    return Promise.resolve({
      fail: {
        status: 500,
        body: { error: 'The request body was already read by another middleware' },
        outcome: 'internal-error',
      },
    });
  }
  const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity') {
    return Promise.resolve({
      fail: {
        status: 415,
        body: { error: `Unsupported content-encoding ${encoding}` },
        outcome: 'unsupported-encoding',
      },
    });
  }
  if (Number(req.headers['content-length']) > limit) return Promise.resolve(tooLarge);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (value: Body) => {
      req.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onGone);
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        done(tooLarge);
      } else chunks.push(chunk);
    };
    const onEnd = () => done({ raw: Buffer.concat(chunks, size) });
    const onGone = () => done(null);
    req.on('data', onData).on('end', onEnd).on('error', onGone).on('close', onGone);
  });
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8').replace(/^\uFEFF/, ''));
  } catch {
    return undefined;
  }
}

function sessionId(body: unknown): string | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const id = (body as { id?: unknown }).id;
  return typeof id === 'string' && SESSION_ID.test(id) ? id : undefined;
}

function isUnknownSession(value: unknown): boolean {
  const { status, errors } = (value ?? {}) as { status?: number; errors?: { code: string }[] };
  if (value instanceof ItsMeError && status === 404) return true;
  return Array.isArray(errors) && errors.some((e) => e.code.toUpperCase() === 'SESSION_NOT_FOUND');
}

function send(res: ServerResponse, { status, body, retryAfter }: Outcome): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.statusCode = status;
  if (status === 405) res.setHeader('allow', 'POST');
  if (retryAfter !== undefined) res.setHeader('retry-after', String(retryAfter));
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.setHeader('content-length', Buffer.byteLength(text));
  if (status === 413) res.setHeader('connection', 'close');
  res.end(text);
}
