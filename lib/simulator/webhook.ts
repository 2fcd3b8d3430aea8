import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * How deliveries are signed, in the `X-ZignSec-Hmac-SHA256` header:
 * - `'hex'`: lowercase hex HMAC-SHA256 of the raw body, keyed with the API key (the default);
 * - `'timestamped'`: `t=<unix seconds>,v1=<hex>`, the HMAC over `"<t>.<raw body>"`, keyed with
 *   `webhookSecret`.
 */
export type WebhookSignatureFormat = 'hex' | 'timestamped';

/** One attempt to deliver a result to a webhook. */
export interface WebhookAttempt {
  /** The webhook URL posted to. */
  url: string;
  /** The ZignSec session whose result was posted. */
  sessionId: string;
  /** 1 for the first try. */
  attempt: number;
  /** The receiver's HTTP status, or `undefined` when the call failed. */
  status?: number;
  /** Why the call failed (connection refused, timeout). */
  error?: string;
  /** When the try started (ms since the epoch, by the `clock`). */
  at: number;
}

/** @internal */
export interface WebhookSenderOptions {
  key: string;
  format: WebhookSignatureFormat;
  /** Extra attempts after the first. */
  retries: number;
  /** Pause before the first retry, in ms; doubled each time. */
  backoff: number;
  /** Milliseconds for each attempt. */
  timeout: number;
  clock: () => number;
  log: (line: string) => void;
}

const MAX_LOG = 200;

/** The `X-ZignSec-Hmac-SHA256` value for a body. @internal */
export function signature(body: string, key: string, format: WebhookSignatureFormat, now: number): string {
  if (format === 'timestamped') {
    const t = Math.floor(now / 1000);
    return `t=${t},v1=${createHmac('sha256', key).update(`${t}.${body}`).digest('hex')}`;
  }
  return createHmac('sha256', key).update(body).digest('hex');
}

/**
 * Posts results to webhooks, in the background, retrying on non-2xx answers and network errors with
 * a doubling pause. Never throws; every attempt is recorded.
 * @internal
 */
export class WebhookSender {
  readonly attempts: WebhookAttempt[] = [];
  readonly #options: WebhookSenderOptions;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #abort = new AbortController();

  constructor(options: WebhookSenderOptions) {
    this.#options = options;
  }

  send(url: string, sessionId: string, body: string): void {
    if (this.#abort.signal.aborted) return;
    const delivery = this.#deliver(url, sessionId, body).catch(() => {});
    this.#inFlight.add(delivery);
    void delivery.finally(() => this.#inFlight.delete(delivery));
  }

  /** Resolves when every delivery started so far has succeeded or given up. */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }

  /** Stops retries and pending calls. */
  close(): void {
    this.#abort.abort();
  }

  async #deliver(url: string, sessionId: string, body: string): Promise<void> {
    const { retries, backoff, timeout, key, format, clock, log } = this.#options;
    const signal = this.#abort.signal;
    for (let attempt = 1; attempt <= retries + 1 && !signal.aborted; attempt++) {
      const record: WebhookAttempt = { url, sessionId, attempt, at: clock() };
      try {
        const response = await fetch(url, {
          method: 'POST',
          redirect: 'manual',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'passport-itsme-simulator',
            // The real time, not `clock`: a receiver checks `t` against its own clock.
            'x-zignsec-hmac-sha256': signature(body, key, format, Date.now()),
          },
          body,
          signal: AbortSignal.any([signal, AbortSignal.timeout(timeout)]),
        });
        record.status = response.status;
        await response.body?.cancel().catch(() => {});
      } catch (err) {
        record.error = err instanceof Error ? err.message : String(err);
      }
      this.#record(record);
      if (record.status !== undefined && record.status >= 200 && record.status < 300) return;
      log(`webhook ${url} attempt ${attempt} failed: ${record.status ?? record.error}`);
      if (attempt <= retries) {
        try {
          await sleep(backoff * 2 ** (attempt - 1), undefined, { signal });
        } catch {
          return;
        }
      }
    }
  }

  #record(attempt: WebhookAttempt): void {
    this.attempts.push(attempt);
    if (this.attempts.length > MAX_LOG) this.attempts.splice(0, this.attempts.length - MAX_LOG);
  }
}
