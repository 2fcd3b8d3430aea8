import type { IncomingMessage } from 'node:http';
import { isFinal } from '../client.js';
import { ItsMeError, redact } from '../errors.js';
import { toProfile } from '../profile.js';
import type { ItsMeProfile, ItsMeResult } from '../types.js';
import { within } from '../within.js';
import { parseJson, readBody, sessionId } from './body.js';
import { ReadGuard } from './guard.js';
import { checkOptions, type WebhookHandler, type WebhookHandlerOptions } from './options.js';
import { duplicate, type Outcome, pending, respond, unknown } from './outcome.js';
import { SIGNATURE_HEADER, verifyWebhookSignature } from './signature.js';

const CLAIM_TTL = 2 * 60_000;
const NEEDS_RAW_BODY =
  'The webhook signature check needs the raw request body: mount the webhook route before express.json(), ' +
  'or use express.json({ verify: keepRawBody })';

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
  // A seen-store call that never settles must not hold its id (and every later delivery of it).
  const storeTimeout = client.timeout;
  /** One seen-store call, cut off after `storeTimeout`. */
  const seen = <T>(method: string, value: T | PromiseLike<T>, late?: (settled: T) => unknown): Promise<T> =>
    within(value, storeTimeout, () => new Error(`seenStore.${method} did not settle within ${storeTimeout} ms`), late);
  // The claim outlives the longest read of the result, and leaves onResult its 2 minutes after it.
  const claimTtl = CLAIM_TTL + Math.max(settings.pendingTimeout, client.timeout);
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
      // A claim that comes back 'claimed' after its time ran out is released: nobody handles it.
      claim = await seen('claim', seenStore.claim(id, claimTtl), (late) => {
        if (late === 'claimed') return seenStore.release(id);
      });
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
      if (outcome.outcome === 'handled') await seen('complete', seenStore.complete(id, seenTtl));
      else await seen('release', seenStore.release(id));
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
    // A delivery that arrives while its id is being handled waits for that. The answer stands, but
    // for "not final yet": that read may have begun before the session finished (someone posted the
    // id first), and a 202 would stop ZignSec delivering, so this delivery reads again.
    let earlier = running.get(id);
    while (earlier) {
      const first = await earlier;
      if (first.outcome === 'handled') return { answer: duplicate(id), id };
      if (first.outcome !== 'pending') return { answer: first, id };
      const next = running.get(id);
      earlier = next === earlier ? undefined : next;
    }
    const current = handleOnce(id, req);
    running.set(id, current);
    try {
      return { answer: await current, id };
    } finally {
      if (running.get(id) === current) running.delete(id);
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

function isUnknownSession(value: unknown): boolean {
  const { status, errors } = (value ?? {}) as { status?: number; errors?: { code: string }[] };
  if (value instanceof ItsMeError && status === 404) return true;
  return Array.isArray(errors) && errors.some((e) => e.code.toUpperCase() === 'SESSION_NOT_FOUND');
}
