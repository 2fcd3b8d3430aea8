import { type CallFault, checkFault, FaultQueue, type SimulatorEndpoint } from './faults.js';
import { sameSecret, withRelayState } from './http.js';
import { DEFAULTS, type SimulatorOptions } from './options.js';
import {
  checkPersonas,
  DEFAULT_PERSONAS,
  failedResult,
  finishedResult,
  pendingResult,
  type SimulatorPersona,
} from './personas.js';
import { type SessionBehaviour, SessionTable, type SimSession, type SimulatorStartRequest } from './sessions.js';
import { WebhookSender } from './webhook.js';

/** What can end a pending session: the person's two answers, or an expiry or a ZignSec error. @internal */
export type SimulatorOutcome = 'approve' | 'cancel' | 'expire' | 'error';

/**
 * The simulator's state and rules, apart from HTTP: sessions, what the person does, results,
 * webhooks and faults.
 * @internal
 */
export class SimulatorEngine {
  readonly personas: readonly SimulatorPersona[];
  readonly sessions: SessionTable;
  readonly faults = new FaultQueue();
  readonly webhooks: WebhookSender;
  readonly clock: () => number;
  /** Base URL of the itsme pages, set once listening. */
  baseUrl = '';
  readonly #key: string;
  readonly #options: SimulatorOptions;
  #next: SessionBehaviour | undefined;

  constructor(options: SimulatorOptions) {
    this.#key = options.apiKey;
    this.#options = options;
    this.personas = options.personas === undefined ? DEFAULT_PERSONAS : checkPersonas(options.personas);
    this.clock = options.clock ?? Date.now;
    this.sessions = new SessionTable({
      ttl: options.sessionTtl ?? DEFAULTS.sessionTtl,
      retention: options.retention ?? DEFAULTS.retention,
      max: options.maxSessions ?? DEFAULTS.maxSessions,
      clock: this.clock,
      onExpire: (session) => {
        session.result = failedResult(session.id, 'EXPIRED_TRANSACTION', 'The itsme session expired');
        this.#notify(session);
      },
    });
    const timestamped = options.webhookSignature === 'timestamped';
    this.webhooks = new WebhookSender({
      key: timestamped ? (options.webhookSecret ?? options.apiKey) : options.apiKey,
      format: options.webhookSignature ?? 'hex',
      retries: options.webhookRetries ?? DEFAULTS.webhookRetries,
      backoff: options.webhookBackoff ?? DEFAULTS.webhookBackoff,
      timeout: options.webhookTimeout ?? DEFAULTS.webhookTimeout,
      clock: this.clock,
      log: (line) => this.log(line),
    });
  }

  /** `true` when the `Authorization` header holds the API key, compared in constant time. */
  authorized(header: string | undefined): boolean {
    return sameSecret(header, this.#key);
  }

  /** A new pending session, with the behaviour set for it. */
  createSession(request: SimulatorStartRequest): SimSession {
    const behaviour = { ...this.#options.session, ...this.#next };
    this.#next = undefined;
    return this.sessions.create(request, behaviour);
  }

  setNextBehaviour(behaviour: SessionBehaviour): void {
    if (behaviour.result) checkFault(behaviour.result, 'configureNextSession result');
    this.#next = { ...behaviour };
  }

  clearNextBehaviour(): void {
    this.#next = undefined;
  }

  /** The fault for this call: one queued by `failNext`, else the session's own. */
  faultFor(endpoint: SimulatorEndpoint, session?: SimSession, id?: string): CallFault | undefined {
    return this.faults.take(endpoint, id) ?? (endpoint === 'result' ? session?.behaviour.result : undefined);
  }

  /** The body of `GET /v3/eid/itsme/{id}` now; counts the poll. */
  poll(session: SimSession): Record<string, unknown> {
    session.polls += 1;
    if (session.status === 'pending' || !session.result) return pendingResult(session.id);
    if (session.pendingLeft > 0) {
      session.pendingLeft -= 1;
      return pendingResult(session.id);
    }
    return session.result;
  }

  /**
   * The person approves (as `personaId`) or cancels, or (simulator page only) the request expires or
   * fails on ZignSec's side: the result is fixed, the webhook is sent, and the answer is where the
   * browser goes next (target or targetError with relaystate), if anywhere.
   */
  act(session: SimSession, action: SimulatorOutcome, personaId?: string): { location?: string } {
    if (action === 'approve') {
      const persona = this.personas.find((p) => p.id === personaId);
      if (!persona) throw new Error(`No simulator persona ${personaId}`);
      session.status = 'approved';
      session.personaId = persona.id;
      session.result = finishedResult(session.id, persona, this.clock(), {
        withoutSub: session.behaviour.withoutSub === true,
      });
    } else if (action === 'cancel') {
      session.status = 'cancelled';
      const code = this.#options.cancelCode ?? 'USER_CANCEL';
      session.result = failedResult(session.id, code, 'The user cancelled the itsme session');
    } else if (action === 'expire') {
      session.status = 'expired';
      session.result = failedResult(session.id, 'EXPIRED_TRANSACTION', 'The itsme session expired');
    } else {
      session.status = 'failed';
      session.result = failedResult(session.id, 'Internal Exception', 'Simulated ZignSec error');
    }
    this.#notify(session);
    const location = this.returnUrl(session, action === 'approve' ? 'target' : 'targetError');
    return location ? { location } : {};
  }

  /** Where the browser returns, with relaystate (or, as ZignSec did in v2, the session id) appended. */
  returnUrl(session: SimSession, which: 'target' | 'targetError'): string | undefined {
    const { target, targetError, relaystate } = session.request;
    const url = which === 'target' ? target : (targetError ?? target);
    return url ? withRelayState(url, relaystate ?? session.id) : undefined;
  }

  pageUrl(id: string): string {
    return `${this.baseUrl}/itsme/authorize/${id}`;
  }

  log(line: string): void {
    this.#options.log?.(line);
  }

  #notify(session: SimSession): void {
    const webhook = session.request.webhook;
    if (webhook && session.result) this.webhooks.send(webhook, session.id, JSON.stringify(session.result));
  }
}
