import { setTimeout as sleep } from 'node:timers/promises';
import { ItsMeError } from './errors.js';
import { abortedError } from './in-flight.js';
import type { ItsMeResult } from './types.js';

/**
 * Longest delay Node's timers honour (2^31 - 1 ms); beyond it they fire after 1 ms. Not exported from
 * the package entry, and kept in the .d.ts (not stripped as internal): client.d.ts re-exports it.
 */
export const MAX_DELAY = 2_147_483_647;

/** Shortest pause between two polls, in ms: below it a poll loop would hammer ZignSec. */
export const MIN_POLL_INTERVAL = 100;

/** Options of `ItsMeClient.waitForResult`. */
export interface WaitForResultOptions {
  /** Total milliseconds to wait for a final result: an integer from 1 to 2^31 - 1. */
  timeout: number;
  /** First pause between polls, in ms (at least 100). Default 1000; it grows by half each poll. */
  interval?: number;
  /** Longest pause between polls, in ms (at least 100). Default 5000. */
  maxInterval?: number;
  /** Stops the wait; the promise rejects with `ERR_ITSME_ABORTED`. */
  signal?: AbortSignal;
}

/** What the poll loop reads through: the client's shared result GETs (`InFlightResults`). @internal */
export interface PollTarget {
  /** `true` when a GET for `id` is in flight, which a poll then joins rather than starts. */
  busy(id: string): boolean;
  /** One result read: joins the GET in flight, or starts one that runs at most `timeout` ms. */
  read(id: string, timeout: number, signal: AbortSignal | undefined): Promise<ItsMeResult>;
}

/** `true` when the result is the end of the flow: finished, or failed with errors. */
export function isFinal(result: Pick<ItsMeResult, 'state' | 'errors'>): boolean {
  return result.errors.length > 0 || result.state.toLowerCase() === 'finished';
}

/** Throws a `TypeError` naming the option unless `value` is an integer time limit Node's timers hold. @internal */
export function checkTimeout(owner: string, value: unknown): void {
  if (!(Number.isInteger(value) && (value as number) > 0)) {
    throw new TypeError(`${owner} timeout option must be a positive integer (milliseconds)`);
  }
  if ((value as number) > MAX_DELAY) throw new TypeError(`${owner} timeout option must be at most ${MAX_DELAY} ms`);
}

/** Throws a `TypeError` naming the option unless `signal` is absent or an `AbortSignal`. @internal */
export function checkSignal(owner: string, signal: unknown): void {
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`${owner} signal option must be an AbortSignal`);
  }
}

function checkWaitOptions(options: WaitForResultOptions | undefined): void {
  if (!options || typeof options !== 'object') throw new TypeError('waitForResult requires a timeout option');
  if (options.timeout === undefined) throw new TypeError('waitForResult requires a timeout option');
  checkTimeout('waitForResult', options.timeout);
  for (const name of ['interval', 'maxInterval'] as const) {
    const value = options[name];
    if (value === undefined) continue;
    if (!(typeof value === 'number' && Number.isFinite(value) && value >= MIN_POLL_INTERVAL && value <= MAX_DELAY)) {
      throw new TypeError(
        `waitForResult ${name} option must be a number of milliseconds from ${MIN_POLL_INTERVAL} to ${MAX_DELAY}`,
      );
    }
  }
  checkSignal('waitForResult', options.signal);
}

/**
 * Polls `id` until its result is final, with a pause that grows by half up to `maxInterval`. A poll
 * that starts its own GET gives it the time left as its limit; a poll that joins a GET in flight
 * gets a signal of its own for that. 5xx answers, network errors and call time-outs are retried.
 * `callTimeout` is the limit of one result call (the client's `timeout`).
 * @internal
 */
export async function waitForResult(
  target: PollTarget,
  callTimeout: number,
  id: string,
  options: WaitForResultOptions,
): Promise<ItsMeResult> {
  checkWaitOptions(options);
  const { timeout, signal } = options;
  const maxPause = options.maxInterval ?? 5000;
  let pause = Math.min(options.interval ?? 1000, maxPause);
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
    let poll: PollSignal | undefined;
    let capped = false;
    let reading: Promise<ItsMeResult>;
    if (target.busy(id)) {
      poll = pollSignal(remaining, signal);
      reading = target.read(id, callTimeout, poll.signal);
    } else {
      capped = remaining < callTimeout;
      reading = target.read(id, capped ? remaining : callTimeout, signal);
    }
    try {
      const result = await reading;
      lastError = undefined;
      answered = true;
      if (isFinal(result)) return result;
    } catch (err) {
      throwIfAborted(signal);
      if (poll?.timedOut() || (capped && err instanceof ItsMeError && err.code === 'ERR_ZIGNSEC_TIMEOUT')) {
        throw expired();
      }
      if (!isTransient(err)) throw err;
      lastError = err;
    } finally {
      poll?.dispose();
    }
    const left = deadline - Date.now();
    if (left <= 0) throw expired();
    try {
      await sleep(Math.min(pause, left), undefined, signal ? { signal } : undefined);
    } catch {
      throwIfAborted(signal);
    }
    pause = Math.min(maxPause, Math.round(pause * 1.5));
  }
}

function isTransient(err: unknown): err is ItsMeError {
  if (!(err instanceof ItsMeError)) return false;
  if (err.code === 'ERR_ZIGNSEC_NETWORK' || err.code === 'ERR_ZIGNSEC_TIMEOUT') return true;
  return err.code === 'ERR_ZIGNSEC_HTTP_STATUS' && (err.status ?? 0) >= 500;
}

/** @internal */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError();
}

interface PollSignal {
  signal: AbortSignal;
  timedOut(): boolean;
  dispose(): void;
}

/** A signal for one poll that joins a GET in flight: fires on the caller's `signal` or when time is up. */
function pollSignal(remaining: number, signal: AbortSignal | undefined): PollSignal {
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
