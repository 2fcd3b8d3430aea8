import { BoundedMap } from '../bounded-map.js';

/** Options of {@link ReadGuard}. @internal */
export interface ReadGuardOptions {
  /** Most session ids remembered (answers and read counts together); the oldest go first. */
  max?: number;
  /** Reads of one session id from ZignSec allowed per minute. */
  maxReadsPerMinute?: number;
}

const MINUTE = 60_000;

/** Milliseconds an "unknown session" answer is reused. */
const UNKNOWN_TTL = MINUTE;

interface Note<A> {
  /** The answer to repeat, while `until` is ahead. */
  answer?: A;
  until: number;
  /** Reads this id may make now (a bucket of `maxReadsPerMinute` that refills evenly over a minute), as of `refilled`. */
  tokens: number;
  refilled: number;
}

/**
 * What the webhook receiver remembers so that posts of the same id do not each cost a read from
 * ZignSec: an "unknown session" answer for a while, and how many reads each id (a not-final one, say)
 * had in the current minute. Bounded: at most `max` ids, oldest forgotten first.
 *
 * A "not final yet" answer is not repeated from memory: it is a 2xx, after which ZignSec would not
 * deliver the session again, so a post of the id just before the real delivery would lose the result.
 * Not-final ids are held back by the read count instead, whose refusal (429) ZignSec retries.
 * @internal
 */
export class ReadGuard<A> {
  readonly max: number;
  readonly maxReadsPerMinute: number;
  #notes = new BoundedMap<string, Note<A>>();

  constructor(options: ReadGuardOptions = {}) {
    this.max = options.max ?? 10_000;
    this.maxReadsPerMinute = options.maxReadsPerMinute ?? 6;
  }

  /** How many ids are remembered now. */
  get size(): number {
    return this.#notes.size;
  }

  /** The answer remembered for `id`, if it is still fresh. */
  recall(id: string, now = Date.now()): A | undefined {
    const note = this.#notes.get(id);
    return note?.answer !== undefined && note.until > now ? note.answer : undefined;
  }

  /**
   * Counts one read of `id` and answers `0` when it may go ahead, or the milliseconds until the
   * next read is allowed. Reads refill evenly (one every `60 s / maxReadsPerMinute`), so a burst of
   * posts by someone who knows an id holds a later delivery back by one interval at most, not a minute.
   */
  read(id: string, now = Date.now()): number {
    const note = this.#notes.get(id) ?? this.#add(id, now);
    const rate = this.maxReadsPerMinute / MINUTE;
    note.tokens = Math.min(this.maxReadsPerMinute, note.tokens + Math.max(0, now - note.refilled) * rate);
    note.refilled = now;
    if (note.tokens < 1) return Math.ceil((1 - note.tokens) / rate);
    note.tokens -= 1;
    return 0;
  }

  /** Remembers the "unknown session" `answer` for `id`, for a minute. */
  rememberUnknown(id: string, answer: A, now = Date.now()): void {
    const note = this.#notes.get(id) ?? this.#add(id, now);
    note.answer = answer;
    note.until = now + UNKNOWN_TTL;
  }

  /** Forgets the remembered answer of `id` (its read count stays). */
  forget(id: string): void {
    const note = this.#notes.get(id);
    if (note) delete note.answer;
  }

  #add(id: string, now: number): Note<A> {
    this.#notes.makeRoom(this.max, (note) => !(note.until <= now && now - note.refilled >= MINUTE));
    const note: Note<A> = { until: 0, tokens: this.maxReadsPerMinute, refilled: now };
    this.#notes.set(id, note);
    return note;
  }
}
