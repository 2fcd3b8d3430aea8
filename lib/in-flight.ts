import { ItsMeError } from './errors.js';
import type { ItsMeResult } from './types.js';

/** Reads one result: the GET itself, with its own time limit and, when it can be cancelled, a signal. */
export type FetchResult = (id: string, timeout: number, signal: AbortSignal | undefined) => Promise<ItsMeResult>;

/** One shared `GET` for an id. */
interface Entry {
  promise: Promise<ItsMeResult>;
  /** Cancels the GET; only an entry launched by a caller with a signal has one. */
  controller: AbortController | undefined;
  /** Callers with a signal still waiting. */
  waiters: number;
  /** A caller without a signal waits: the GET is never cancelled. */
  pinned: boolean;
  cancelled: boolean;
}

/**
 * At most one result `GET` in flight per ZignSec session id: concurrent reads of an id share it. A
 * caller whose signal fires leaves at once with `ERR_ITSME_ABORTED`; the GET is cancelled only once
 * every caller has left. A read without a signal costs no `AbortController` and no listener.
 * @internal
 */
export class InFlightResults {
  readonly #entries = new Map<string, Entry>();
  readonly #fetch: FetchResult;

  constructor(fetch: FetchResult) {
    this.#fetch = fetch;
  }

  /** `true` when a GET for `id` is running that a new read would join. */
  busy(id: string): boolean {
    const entry = this.#entries.get(id);
    return entry !== undefined && !entry.cancelled;
  }

  /** Reads `id`, joining the GET in flight or starting one that runs for at most `timeout` ms. */
  read(id: string, timeout: number, signal: AbortSignal | undefined): Promise<ItsMeResult> {
    let entry = this.#entries.get(id);
    if (entry === undefined || entry.cancelled) entry = this.#launch(id, timeout, signal !== undefined, entry);
    if (signal === undefined) {
      entry.pinned = true;
      return entry.promise;
    }
    return join(entry, signal);
  }

  #launch(id: string, timeout: number, cancellable: boolean, previous: Entry | undefined): Entry {
    const controller = cancellable ? new AbortController() : undefined;
    const signal = controller?.signal;
    // A cancelled GET still in the map finishes before the next one starts: one request per id.
    const promise = previous
      ? previous.promise
          .then(noop, noop)
          // Not sent (nor traced) when every caller left while it waited for the cancelled GET.
          .then(() => (signal?.aborted ? Promise.reject(abortedError()) : this.#fetch(id, timeout, signal)))
      : this.#fetch(id, timeout, signal);
    const entry: Entry = { promise, controller, waiters: 0, pinned: false, cancelled: false };
    const forget = (): void => {
      if (this.#entries.get(id) === entry) this.#entries.delete(id);
    };
    promise.then(forget, forget);
    this.#entries.set(id, entry);
    return entry;
  }
}

/** The error of a caller that left on its signal. @internal */
export function abortedError(): ItsMeError {
  return new ItsMeError('ERR_ITSME_ABORTED', 'Waiting for the itsme result was aborted');
}

/** Waits for a shared GET; leaving on `signal` cancels the GET once nobody waits. */
function join(entry: Entry, signal: AbortSignal): Promise<ItsMeResult> {
  entry.waiters += 1;
  return new Promise<ItsMeResult>((resolve, reject) => {
    let left = false;
    const leave = (): boolean => {
      if (left) return false;
      left = true;
      signal.removeEventListener('abort', onAbort);
      entry.waiters -= 1;
      return true;
    };
    const onAbort = (): void => {
      if (!leave()) return;
      if (entry.waiters === 0 && !entry.pinned && entry.controller) {
        entry.cancelled = true;
        entry.controller.abort();
      }
      reject(abortedError());
    };
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    entry.promise.then(
      (result) => leave() && resolve(result),
      (err: unknown) => leave() && reject(err),
    );
  });
}

function noop(): void {}
