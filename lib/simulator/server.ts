import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SimulatorEngine } from './engine.js';
import type { CallFault, QueuedFaultOptions, SimulatorEndpoint } from './faults.js';
import { checkFault } from './faults.js';
import { sendJson } from './http.js';
import { checkOptions, DEFAULTS, type SimulatorOptions } from './options.js';
import type { SimulatorPersona } from './personas.js';
import { route } from './routes.js';
import { type SessionBehaviour, type SimSession, type SimulatorSessionInfo, sessionInfo } from './sessions.js';
import type { WebhookAttempt } from './webhook.js';

/** What the person did on the itsme screen; `location` is where the browser goes next, if anywhere. */
export interface SimulatorAction {
  /** Where the browser goes next: `target` or `targetError` with `relaystate` appended, when the session has one. */
  location?: string;
}

/**
 * An offline stand-in for ZignSec's itsme API (v3) and for the itsme screen, as a real HTTP server.
 * Create it with {@link startSimulator}.
 */
export class ItsMeSimulator {
  /** @internal */
  readonly #engine: SimulatorEngine;
  /** @internal */
  readonly #options: SimulatorOptions;
  /** @internal */
  readonly #server: http.Server;
  /** @internal */
  readonly #closing = new AbortController();
  /** @internal */
  #sweeper: NodeJS.Timeout | undefined;

  /** Use {@link startSimulator}, which also starts listening. */
  constructor(options: SimulatorOptions) {
    checkOptions(options);
    this.#options = options;
    this.#engine = new SimulatorEngine(options);
    this.#server = http.createServer((req, res) => {
      route(this.#engine, this.#closing.signal, req, res).catch((err: unknown) => {
        this.#engine.log(`internal error: ${err instanceof Error ? err.message : String(err)}`);
        if (!res.headersSent) sendJson(res, 500, { errors: [{ code: 'Internal Exception' }] });
        else res.destroy();
      });
    });
    this.#server.on('clientError', (_err, socket) => socket.destroy());
  }

  /** Base URL, e.g. `http://127.0.0.1:41234`: use it as the strategy's `baseURL`. */
  get url(): string {
    return this.#engine.baseUrl;
  }

  /** The port listened on. */
  get port(): number {
    return (this.#server.address() as AddressInfo | null)?.port ?? 0;
  }

  /** The test persons offered on the itsme screen. */
  get personas(): readonly SimulatorPersona[] {
    return this.#engine.personas;
  }

  /** How many sessions are held now. */
  get sessionCount(): number {
    return this.#engine.sessions.size;
  }

  /** Every webhook attempt so far (the last 200). */
  get webhookAttempts(): readonly WebhookAttempt[] {
    return this.#engine.webhooks.attempts;
  }

  /** Starts listening; {@link startSimulator} calls it. */
  async listen(): Promise<this> {
    const { port = 0, host = '127.0.0.1' } = this.#options;
    this.#server.listen(port, host);
    await once(this.#server, 'listening');
    const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
    this.#engine.baseUrl = (this.#options.publicUrl ?? `http://${shown}:${this.port}`).replace(/\/+$/, '');
    const ttl = this.#options.sessionTtl ?? DEFAULTS.sessionTtl;
    this.#sweeper = setInterval(() => this.#engine.sessions.sweep(), Math.min(ttl, 30_000));
    this.#sweeper.unref();
    return this;
  }

  /** Stops the server, pending webhook retries and delayed answers. */
  async close(): Promise<void> {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#closing.abort();
    this.#engine.webhooks.close();
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  /**
   * Makes the next call(s) to `endpoint` misbehave: a forced status, a delay, a malformed or exact
   * body, a dropped connection (see {@link CallFault}). `times` and `sessionId` narrow it.
   */
  failNext(endpoint: SimulatorEndpoint, fault: CallFault, options?: QueuedFaultOptions): void {
    this.#engine.faults.add(endpoint, fault, options);
  }

  /** Forgets faults queued with `failNext` and the behaviour set by `configureNextSession`. */
  clearFaults(): void {
    this.#engine.faults.clear();
    this.#engine.clearNextBehaviour();
  }

  /** Changes how an existing session behaves from now on (pending polls, no `sub`, a result fault). */
  configureSession(id: string, behaviour: SessionBehaviour): void {
    const session = this.#find(id);
    if (behaviour.result) checkFault(behaviour.result, 'configureSession result');
    session.behaviour = { ...session.behaviour, ...behaviour };
    if (behaviour.pendingPolls !== undefined) session.pendingLeft = Math.max(0, Math.floor(behaviour.pendingPolls));
  }

  /** Sets how the next session started behaves (on top of the `session` option). */
  configureNextSession(behaviour: SessionBehaviour): void {
    this.#engine.setNextBehaviour(behaviour);
  }

  /** A session's state, or `undefined` when unknown. */
  session(id: string): SimulatorSessionInfo | undefined {
    const session = this.#engine.sessions.get(id);
    return session && sessionInfo(session, this.#engine.pageUrl(session.id));
  }

  /** The session started last, if it is still held. */
  lastSession(): SimulatorSessionInfo | undefined {
    const session = this.#engine.sessions.latest();
    return session && sessionInfo(session, this.#engine.pageUrl(session.id));
  }

  /**
   * Acts as the person approving on the itsme screen, as `personaId` (default: the first persona).
   * @returns where the browser would be sent (target with relaystate).
   * @throws {Error} when the session is unknown or no longer pending.
   */
  approve(id: string, personaId?: string): SimulatorAction {
    return this.#engine.act(this.#pending(id), 'approve', personaId ?? this.personas[0]?.id);
  }

  /**
   * Acts as the person cancelling on the itsme screen.
   * @returns where the browser would be sent (targetError with relaystate).
   */
  cancel(id: string): SimulatorAction {
    return this.#engine.act(this.#pending(id), 'cancel');
  }

  /** Resolves when every webhook delivery started so far has succeeded or given up. */
  webhooksIdle(): Promise<void> {
    return this.#engine.webhooks.idle();
  }

  #find(id: string): SimSession {
    const session = this.#engine.sessions.get(id);
    if (!session) throw new Error(`No simulator session ${id}`);
    return session;
  }

  #pending(id: string): SimSession {
    const session = this.#find(id);
    if (session.status !== 'pending') throw new Error(`Simulator session ${id} is ${session.status}`);
    return session;
  }
}

/**
 * Starts a ZignSec itsme simulator on 127.0.0.1 (a free port unless `port` is given).
 *
 * ```ts
 * const sim = await startSimulator({ apiKey: 'test-key' });
 * passport.use(new ItsMeStrategy({ apiKey: 'test-key', baseURL: sim.url, callbackURL }, verify));
 * // ... later
 * await sim.close();
 * ```
 */
export async function startSimulator(options: SimulatorOptions): Promise<ItsMeSimulator> {
  return new ItsMeSimulator(options).listen();
}
