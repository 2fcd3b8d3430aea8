import type { ServerResponse } from 'node:http';
import { type WebhookMessage, type WebhookOutcome, webhookChannel } from '../diagnostics.js';

/** One answer of the webhook handler. @internal */
export interface Outcome {
  status: number;
  body: Record<string, unknown>;
  /** What the `passport-itsme:webhook` event calls it. */
  outcome: WebhookOutcome;
  /** Seconds for `Retry-After`. */
  retryAfter?: number;
}

/** @internal */
export function unknown(): Outcome {
  return { status: 404, body: { error: 'Unknown ZignSec session' }, outcome: 'unknown-session' };
}

/** @internal */
export function pending(id: string): Outcome {
  return { status: 202, body: { status: 'pending', id }, outcome: 'pending' };
}

/** @internal */
export function duplicate(id: string): Outcome {
  return { status: 200, body: { status: 'duplicate', id }, outcome: 'duplicate' };
}

/** Sends the answer and tells `passport-itsme:webhook` subscribers about it. @internal */
export function respond(res: ServerResponse, answer: Outcome, id?: string): void {
  send(res, answer);
  if (!webhookChannel.hasSubscribers) return;
  const message: WebhookMessage = { outcome: answer.outcome, status: answer.status };
  if (id !== undefined) message.sessionId = id;
  webhookChannel.publish(message);
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
