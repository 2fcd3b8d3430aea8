import { randomBytes, randomUUID } from 'node:crypto';
import type { ItsMeLanguage } from '../types.js';
import type { CallFault } from './faults.js';

/** The fields of a start request the simulator keeps. */
export interface SimulatorStartRequest {
  /** As sent in the start call. */
  relaystate?: string;
  /** As sent in the start call. */
  target?: string;
  /** As sent in the start call. */
  targetError?: string;
  /** As sent in the start call (unsupported values are dropped). */
  language?: ItsMeLanguage;
  /** As sent in the start call. */
  webhook?: string;
}

/** How one session behaves, for tests of the relying party. */
export interface SessionBehaviour {
  /** After the person acts, answer `Pending` this many more times before the final result. */
  pendingPolls?: number;
  /** Leave `sub` out of the finished result. */
  withoutSub?: boolean;
  /** Applied to every `GET` of this session's result (e.g. `{ status: 500 }` for an outage). */
  result?: CallFault;
}

/** Where a session stands (`failed`: a ZignSec error, chosen on the simulator's page). */
export type SessionStatus = 'pending' | 'approved' | 'cancelled' | 'expired' | 'failed';

/** A read-only view of a simulator session. */
export interface SimulatorSessionInfo {
  /** The ZignSec session id. */
  id: string;
  /** Where the session stands. */
  status: SessionStatus;
  /** The start call it was opened with. */
  request: Readonly<SimulatorStartRequest>;
  /** The page the browser is sent to (the start response's `redirectUrl`). */
  redirectUrl: string;
  /** The persona who approved, if any. */
  personaId?: string;
  /** `Date.now()` (or the `clock`) when it was opened. */
  createdAt: number;
  /** When an unanswered session turns `expired`. */
  expiresAt: number;
  /** How many times its result was read. */
  polls: number;
}

/** @internal */
export interface SimSession {
  id: string;
  /** Secret of the itsme page's form: a GET alone cannot approve. */
  token: string;
  /** Where the session stands. */
  status: SessionStatus;
  request: SimulatorStartRequest;
  behaviour: SessionBehaviour;
  /** `Date.now()` (or the `clock`) when it was opened. */
  createdAt: number;
  expiresAt: number;
  /** When the record is dropped altogether (then the id is unknown: 404). */
  dropAt: number;
  polls: number;
  pendingLeft: number;
  personaId?: string;
  /** The final body of the result, once there is one. */
  result?: Record<string, unknown>;
}

/** @internal */
export interface SessionTableOptions {
  ttl: number;
  retention: number;
  max: number;
  clock: () => number;
  /** Called once when a pending session is found past its expiry. */
  onExpire: (session: SimSession) => void;
}

/**
 * The simulator's sessions, in creation order. Pending sessions expire after `ttl`; every record is
 * dropped `retention` ms after that; beyond `max` records the oldest is dropped. Memory stays bounded.
 * @internal
 */
export class SessionTable {
  readonly #sessions = new Map<string, SimSession>();
  readonly #options: SessionTableOptions;

  constructor(options: SessionTableOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#sessions.size;
  }

  create(request: SimulatorStartRequest, behaviour: SessionBehaviour): SimSession {
    const now = this.#options.clock();
    for (const [id, old] of this.#sessions) {
      if (old.dropAt > now) break;
      this.#sessions.delete(id);
    }
    while (this.#sessions.size >= this.#options.max) {
      const oldest = this.#sessions.keys().next().value;
      if (oldest === undefined) break;
      this.#sessions.delete(oldest);
    }
    const session: SimSession = {
      id: randomUUID(),
      token: randomBytes(18).toString('base64url'),
      status: 'pending',
      request,
      behaviour,
      createdAt: now,
      expiresAt: now + this.#options.ttl,
      dropAt: now + this.#options.ttl + this.#options.retention,
      polls: 0,
      pendingLeft: Math.max(0, Math.floor(behaviour.pendingPolls ?? 0)),
    };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The session, with its expiry applied; `undefined` when unknown or dropped. */
  get(id: string): SimSession | undefined {
    const session = this.#sessions.get(id);
    if (!session) return undefined;
    const now = this.#options.clock();
    if (session.dropAt <= now) {
      this.#sessions.delete(id);
      return undefined;
    }
    if (session.status === 'pending' && session.expiresAt <= now) {
      session.status = 'expired';
      this.#options.onExpire(session);
    }
    return session;
  }

  /** Drops records past their retention and expires pending ones past their TTL. */
  sweep(): void {
    for (const id of [...this.#sessions.keys()]) this.get(id);
  }

  latest(): SimSession | undefined {
    let last: SimSession | undefined;
    for (const session of this.#sessions.values()) last = session;
    return last ? this.get(last.id) : undefined;
  }

  clear(): void {
    this.#sessions.clear();
  }
}

/** @internal */
export function sessionInfo(session: SimSession, redirectUrl: string): SimulatorSessionInfo {
  const info: SimulatorSessionInfo = {
    id: session.id,
    status: session.status,
    request: { ...session.request },
    redirectUrl,
    createdAt: session.createdAt,
    expiresAt: session.expiresAt,
    polls: session.polls,
  };
  if (session.personaId) info.personaId = session.personaId;
  return info;
}
