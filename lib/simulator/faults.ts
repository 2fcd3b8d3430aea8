/** The simulator's two API calls: `POST /v3/eid/itsme` and `GET /v3/eid/itsme/{id}`. */
export type SimulatorEndpoint = 'start' | 'result';

/**
 * How to misbehave on one API call. Fields combine: `{ delay: 2000, status: 503 }` waits, then answers
 * 503. With only `delay`, the normal answer comes late.
 */
export interface CallFault {
  /** Answer with this HTTP status. Without `body`, the body is a ZignSec-style `errors` list. */
  status?: number;
  /** Milliseconds to wait before answering. */
  delay?: number;
  /** The exact body: a string is sent as is, anything else as JSON. */
  body?: unknown;
  /** Send the normal JSON cut in half (not parseable). */
  malformed?: boolean;
  /** Close the connection without answering (a network error for the caller). */
  drop?: boolean;
}

/** A fault queued with `failNext`. */
export interface QueuedFaultOptions {
  /** How many calls it applies to. Default 1. */
  times?: number;
  /** For `result`: only calls for this session id. */
  sessionId?: string;
}

interface Entry {
  endpoint: SimulatorEndpoint;
  fault: CallFault;
  left: number;
  sessionId?: string;
}

const MAX_QUEUED = 1000;

/** Faults waiting for the next matching calls, first queued first used. @internal */
export class FaultQueue {
  readonly #entries: Entry[] = [];

  add(endpoint: SimulatorEndpoint, fault: CallFault, options: QueuedFaultOptions = {}): void {
    if (endpoint !== 'start' && endpoint !== 'result') {
      throw new TypeError("failNext endpoint must be 'start' or 'result'");
    }
    checkFault(fault, 'failNext fault');
    const times = options.times ?? 1;
    if (!(times === Number.POSITIVE_INFINITY || (Number.isInteger(times) && times > 0))) {
      throw new TypeError('failNext times option must be a positive integer or Infinity');
    }
    if (this.#entries.length >= MAX_QUEUED) throw new RangeError(`failNext holds at most ${MAX_QUEUED} faults`);
    const entry: Entry = { endpoint, fault: { ...fault }, left: times };
    if (options.sessionId !== undefined) entry.sessionId = options.sessionId;
    this.#entries.push(entry);
  }

  /** The fault for this call, if one is queued; uses it up. */
  take(endpoint: SimulatorEndpoint, sessionId?: string): CallFault | undefined {
    const index = this.#entries.findIndex(
      (e) => e.endpoint === endpoint && (e.sessionId === undefined || e.sessionId === sessionId),
    );
    const entry = this.#entries[index];
    if (!entry) return undefined;
    entry.left -= 1;
    if (entry.left <= 0) this.#entries.splice(index, 1);
    return entry.fault;
  }

  clear(): void {
    this.#entries.length = 0;
  }
}

/** Throws a `TypeError` when a fault is not well formed. @internal */
export function checkFault(fault: unknown, what: string): asserts fault is CallFault {
  if (!fault || typeof fault !== 'object') throw new TypeError(`${what} must be an object`);
  const { status, delay } = fault as CallFault;
  if (status !== undefined && !(Number.isInteger(status) && status >= 200 && status <= 599)) {
    throw new TypeError(`${what} status must be an HTTP status between 200 and 599`);
  }
  if (delay !== undefined && !(Number.isFinite(delay) && delay >= 0)) {
    throw new TypeError(`${what} delay must be a number of milliseconds`);
  }
}

const CODES: Record<number, string> = {
  400: 'INVALID_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'INVALID_IP',
  404: 'SESSION_NOT_FOUND',
  429: 'TOO_MANY_REQUESTS',
};

/** The body to send for a fault, given the normal status and body. @internal */
export function faultReply(fault: CallFault, status: number, body: unknown): { status: number; text: string } {
  const finalStatus = fault.status ?? status;
  if (fault.body !== undefined) {
    return { status: finalStatus, text: typeof fault.body === 'string' ? fault.body : JSON.stringify(fault.body) };
  }
  let out: unknown = body;
  if (fault.status !== undefined && fault.status !== status) {
    const code = CODES[fault.status] ?? (fault.status >= 500 ? 'Internal Exception' : 'INVALID_REQUEST');
    out = { errors: [{ code, description: `Simulated HTTP ${fault.status}` }] };
  }
  const text = JSON.stringify(out);
  return { status: finalStatus, text: fault.malformed ? text.slice(0, Math.ceil(text.length / 2)) : text };
}
