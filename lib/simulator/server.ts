import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ItsMeLanguage } from '../types.js';
import {
  type CallFault,
  checkFault,
  FaultQueue,
  faultReply,
  type QueuedFaultOptions,
  type SimulatorEndpoint,
} from './faults.js';
import { isWebUrl, readBody, redirect, sameSecret, sendHtml, sendJson, withRelayState } from './http.js';
import { authorizePage, endedPage, indexPage, pickLanguage } from './pages.js';
import {
  checkPersonas,
  DEFAULT_PERSONAS,
  failedResult,
  finishedResult,
  pendingResult,
  type SimulatorPersona,
} from './personas.js';
import {
  type SessionBehaviour,
  SessionTable,
  type SimSession,
  type SimulatorSessionInfo,
  type SimulatorStartRequest,
  sessionInfo,
} from './sessions.js';
import { type WebhookAttempt, WebhookSender, type WebhookSignatureFormat } from './webhook.js';

/** Options of {@link startSimulator}. */
export interface SimulatorOptions {
  /** The access token callers must send, raw, in `Authorization`. Required. */
  apiKey: string;
  /** Port to listen on. Default 0 (a free port). */
  port?: number;
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Base of the `redirectUrl`s handed out, when the browser reaches the simulator by another address. */
  publicUrl?: string;
  /** The test persons offered on the itsme screen. Default {@link DEFAULT_PERSONAS}. */
  personas?: readonly SimulatorPersona[];
  /** Milliseconds a session waits for the person before it expires. Default 600000 (10 minutes). */
  sessionTtl?: number;
  /** Milliseconds a session is kept after its TTL; after that its id is unknown (404). Default 600000. */
  retention?: number;
  /** Most sessions kept; beyond it the oldest is dropped. Default 10000. */
  maxSessions?: number;
  /** Behaviour of every session (see also `configureSession` and `configureNextSession`). */
  session?: SessionBehaviour;
  /** Error code of a cancelled session. Default `USER_CANCEL`. */
  cancelCode?: 'USER_CANCEL' | 'CANCELLED';
  /** Extra webhook attempts after a failed one. Default 3. */
  webhookRetries?: number;
  /** Milliseconds before the first webhook retry, doubled each time. Default 1000. */
  webhookBackoff?: number;
  /** Milliseconds for each webhook attempt. Default 5000. */
  webhookTimeout?: number;
  /** Format of the `X-ZignSec-Hmac-SHA256` header. Default `'hex'`. */
  webhookSignature?: WebhookSignatureFormat;
  /** Key of the `'timestamped'` signature. Default: the API key. */
  webhookSecret?: string;
  /** The clock, in ms since the epoch, for tests of expiry. Default `Date.now`. */
  clock?: () => number;
  /** Receives one line per request and per failed webhook attempt. Default: silent. */
  log?: (line: string) => void;
}

/** What the person does on the itsme screen; `location` is where the browser goes next, if anywhere. */
export interface SimulatorAction {
  location?: string;
}

const ID_PATH = /^\/v3\/eid\/itsme\/([^/]+)$/;
const PAGE_PATH = /^\/itsme\/authorize\/([A-Za-z0-9-]{1,64})$/;

/**
 * An offline stand-in for ZignSec's itsme API (v3) and for the itsme screen, as a real HTTP server.
 * Create it with {@link startSimulator}.
 */
export class ItsMeSimulator {
  /** @internal */
  #url = '';
  /** The test persons offered. */
  readonly personas: readonly SimulatorPersona[];
  /** @internal */
  readonly #key: string;
  /** @internal */
  readonly #options: SimulatorOptions;
  /** @internal */
  readonly #server: http.Server;
  /** @internal */
  readonly #sessions: SessionTable;
  /** @internal */
  readonly #faults = new FaultQueue();
  /** @internal */
  readonly #webhooks: WebhookSender;
  /** @internal */
  readonly #closing = new AbortController();
  /** @internal */
  #next: SessionBehaviour | undefined;
  /** @internal */
  #sweeper: NodeJS.Timeout | undefined;

  /** Use {@link startSimulator}, which also starts listening. */
  constructor(options: SimulatorOptions) {
    if (!options || typeof options !== 'object') throw new TypeError('startSimulator requires an options object');
    if (typeof options.apiKey !== 'string' || options.apiKey === '') {
      throw new TypeError('startSimulator requires an apiKey option');
    }
    for (const name of ['sessionTtl', 'retention', 'maxSessions', 'webhookTimeout'] as const) {
      const value = options[name];
      if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
        throw new TypeError(`startSimulator ${name} option must be a positive integer`);
      }
    }
    for (const name of ['webhookRetries', 'webhookBackoff'] as const) {
      const value = options[name];
      if (value !== undefined && !(Number.isInteger(value) && value >= 0)) {
        throw new TypeError(`startSimulator ${name} option must be a non-negative integer`);
      }
    }
    if (options.publicUrl !== undefined && !isWebUrl(options.publicUrl)) {
      throw new TypeError('startSimulator publicUrl option must be an absolute http(s) URL');
    }
    if (options.session?.result) checkFault(options.session.result, 'startSimulator session.result');
    this.#key = options.apiKey;
    this.#options = options;
    this.personas = options.personas === undefined ? DEFAULT_PERSONAS : checkPersonas(options.personas);
    const clock = options.clock ?? Date.now;
    const ttl = options.sessionTtl ?? 600_000;
    this.#sessions = new SessionTable({
      ttl,
      retention: options.retention ?? 600_000,
      max: options.maxSessions ?? 10_000,
      clock,
      onExpire: (session) => {
        session.result = failedResult(session.id, 'EXPIRED_TRANSACTION', 'The itsme session expired');
        this.#notify(session);
      },
    });
    this.#webhooks = new WebhookSender({
      key: options.webhookSignature === 'timestamped' ? (options.webhookSecret ?? options.apiKey) : options.apiKey,
      format: options.webhookSignature ?? 'hex',
      retries: options.webhookRetries ?? 3,
      backoff: options.webhookBackoff ?? 1000,
      timeout: options.webhookTimeout ?? 5000,
      clock,
      log: (line) => this.#log(line),
    });
    this.#server = http.createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        this.#log(`internal error: ${err instanceof Error ? err.message : String(err)}`);
        if (!res.headersSent) sendJson(res, 500, { errors: [{ code: 'Internal Exception' }] });
        else res.destroy();
      });
    });
    this.#server.on('clientError', (_err, socket) => socket.destroy());
  }

  /** Base URL, e.g. `http://127.0.0.1:41234`: use it as the strategy's `baseURL`. */
  get url(): string {
    return this.#url;
  }

  /** The port listened on. */
  get port(): number {
    return (this.#server.address() as AddressInfo | null)?.port ?? 0;
  }

  /** How many sessions are held now. */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Every webhook attempt so far (the last 200). */
  get webhookAttempts(): readonly WebhookAttempt[] {
    return this.#webhooks.attempts;
  }

  /** @internal */
  async listen(): Promise<this> {
    const { port = 0, host = '127.0.0.1' } = this.#options;
    this.#server.listen(port, host);
    await once(this.#server, 'listening');
    const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
    this.#url = (this.#options.publicUrl ?? `http://${shown}:${this.port}`).replace(/\/+$/, '');
    const ttl = this.#options.sessionTtl ?? 600_000;
    this.#sweeper = setInterval(() => this.#sessions.sweep(), Math.min(ttl, 30_000));
    this.#sweeper.unref();
    return this;
  }

  /** Stops the server, pending webhook retries and delayed answers. */
  async close(): Promise<void> {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#closing.abort();
    this.#webhooks.close();
    if (!this.#server.listening) return;
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  /** Makes the next call(s) to `endpoint` misbehave (see {@link CallFault}). */
  failNext(endpoint: SimulatorEndpoint, fault: CallFault, options?: QueuedFaultOptions): void {
    this.#faults.add(endpoint, fault, options);
  }

  /** Forgets faults queued with `failNext` and by `configureNextSession`. */
  clearFaults(): void {
    this.#faults.clear();
    this.#next = undefined;
  }

  /** Changes how an existing session behaves from now on. */
  configureSession(id: string, behaviour: SessionBehaviour): void {
    const session = this.#sessions.get(id);
    if (!session) throw new Error(`No simulator session ${id}`);
    if (behaviour.result) checkFault(behaviour.result, 'configureSession result');
    session.behaviour = { ...session.behaviour, ...behaviour };
    if (behaviour.pendingPolls !== undefined) session.pendingLeft = Math.max(0, Math.floor(behaviour.pendingPolls));
  }

  /** Sets how the next session started behaves (on top of the `session` option). */
  configureNextSession(behaviour: SessionBehaviour): void {
    if (behaviour.result) checkFault(behaviour.result, 'configureNextSession result');
    this.#next = { ...behaviour };
  }

  /** A session's state, or `undefined` when unknown. */
  session(id: string): SimulatorSessionInfo | undefined {
    const session = this.#sessions.get(id);
    return session && sessionInfo(session, this.#pageUrl(session.id));
  }

  /** The session started last, if it is still held. */
  lastSession(): SimulatorSessionInfo | undefined {
    const session = this.#sessions.latest();
    return session && sessionInfo(session, this.#pageUrl(session.id));
  }

  /** Acts as the person approving on the itsme screen, as `personaId` (default: the first persona). */
  approve(id: string, personaId?: string): SimulatorAction {
    return this.#act(this.#pending(id), 'approve', personaId ?? this.personas[0]?.id);
  }

  /** Acts as the person cancelling on the itsme screen. */
  cancel(id: string): SimulatorAction {
    return this.#act(this.#pending(id), 'cancel');
  }

  /** Resolves when every webhook delivery started so far has succeeded or given up. */
  webhooksIdle(): Promise<void> {
    return this.#webhooks.idle();
  }

  #pending(id: string): SimSession {
    const session = this.#sessions.get(id);
    if (!session) throw new Error(`No simulator session ${id}`);
    if (session.status !== 'pending') throw new Error(`Simulator session ${id} is ${session.status}`);
    return session;
  }

  #act(session: SimSession, action: 'approve' | 'cancel', personaId?: string): SimulatorAction {
    const { target, targetError, relaystate } = session.request;
    if (action === 'approve') {
      const persona = this.personas.find((p) => p.id === personaId);
      if (!persona) throw new Error(`No simulator persona ${personaId}`);
      session.status = 'approved';
      session.personaId = persona.id;
      session.result = finishedResult(session.id, persona, this.#now(), {
        withoutSub: session.behaviour.withoutSub === true,
      });
    } else {
      session.status = 'cancelled';
      session.result = failedResult(
        session.id,
        this.#options.cancelCode ?? 'USER_CANCEL',
        'The user cancelled the itsme session',
      );
    }
    this.#notify(session);
    const back = action === 'approve' ? target : (targetError ?? target);
    return back ? { location: withRelayState(back, relaystate ?? session.id) } : {};
  }

  #notify(session: SimSession): void {
    const webhook = session.request.webhook;
    if (webhook && session.result) this.#webhooks.send(webhook, session.id, JSON.stringify(session.result));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://simulator').pathname;
    res.on('finish', () => this.#log(`${req.method} ${path} ${res.statusCode}`));
    if (path === '/v3/eid/itsme') {
      if (req.method !== 'POST') return sendJson(res, 405, { errors: [{ code: 'INVALID_REQUEST' }] });
      return this.#start(req, res);
    }
    const idMatch = ID_PATH.exec(path);
    if (idMatch) {
      if (req.method !== 'GET') return sendJson(res, 405, { errors: [{ code: 'INVALID_REQUEST' }] });
      return this.#result(req, res, decodeURIComponent(idMatch[1] ?? ''));
    }
    const pageMatch = PAGE_PATH.exec(path);
    if (pageMatch && (req.method === 'GET' || req.method === 'POST')) {
      return this.#page(req, res, pageMatch[1] ?? '');
    }
    if (path === '/' && req.method === 'GET') return sendHtml(res, 200, indexPage(this.personas));
    sendJson(res, 404, { errors: [{ code: 'NOT_FOUND', description: 'No such endpoint' }] });
  }

  async #start(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const fault = this.#faults.take('start');
    const text = await readBody(req);
    if (await this.#delayOrDrop(fault, res)) return;
    if (
      fault &&
      ((fault.status !== undefined && (fault.status < 200 || fault.status > 299)) || fault.body !== undefined)
    ) {
      const reply = faultReply(fault, 200, {});
      return sendJson(res, reply.status, reply.text);
    }
    let status = 200;
    let body: Record<string, unknown>;
    if (!sameSecret(req.headers.authorization, this.#key)) {
      status = 401;
      body = { errors: [{ code: 'UNAUTHORIZED', description: 'Missing or invalid access token' }] };
    } else if (text === undefined) {
      status = 413;
      body = { errors: [{ code: 'INVALID_REQUEST', description: 'Request body too large' }] };
    } else {
      const parsed = parseStart(text);
      if ('errors' in parsed) {
        status = 400;
        body = { id: null, redirectUrl: null, errors: parsed.errors };
      } else {
        const session = this.#sessions.create(parsed.request, this.#behaviour());
        body = { id: session.id, redirectUrl: this.#pageUrl(session.id), errors: [] };
      }
    }
    const reply = fault ? faultReply(fault, status, body) : { status, text: JSON.stringify(body) };
    sendJson(res, reply.status, reply.text);
  }

  async #result(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    if (!sameSecret(req.headers.authorization, this.#key)) {
      return sendJson(res, 401, { errors: [{ code: 'UNAUTHORIZED', description: 'Missing or invalid access token' }] });
    }
    const session = this.#sessions.get(id);
    const fault = this.#faults.take('result', id) ?? session?.behaviour.result;
    if (await this.#delayOrDrop(fault, res)) return;
    let status = 200;
    let body: Record<string, unknown>;
    if (!session) {
      status = 404;
      body = { errors: [{ code: 'SESSION_NOT_FOUND', description: 'No itsme session with this id' }] };
    } else {
      session.polls += 1;
      if (session.status === 'pending' || !session.result) body = pendingResult(id);
      else if (session.pendingLeft > 0) {
        session.pendingLeft -= 1;
        body = pendingResult(id);
      } else body = session.result;
    }
    const reply = fault ? faultReply(fault, status, body) : { status, text: JSON.stringify(body) };
    sendJson(res, reply.status, reply.text);
  }

  async #page(req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
    const session = this.#sessions.get(id);
    const text = req.method === 'POST' ? await readBody(req) : '';
    const lang = session?.request.language ?? pickLanguage(req.headers['accept-language']);
    if (!session) return sendHtml(res, 404, endedPage(lang, 'expired', undefined));
    const { target, targetError, relaystate } = session.request;
    const back = targetError ?? target;
    const backUrl = back ? withRelayState(back, relaystate ?? session.id) : undefined;
    const showPage = (status: number) =>
      sendHtml(
        res,
        status,
        authorizePage({
          lang,
          action: `/itsme/authorize/${session.id}`,
          token: session.token,
          target,
          personas: this.personas,
        }),
        [target, targetError].filter((u): u is string => !!u),
      );
    if (req.method === 'GET') {
      if (session.status === 'expired') return sendHtml(res, 410, endedPage(lang, 'expired', backUrl));
      if (session.status !== 'pending') return sendHtml(res, 409, endedPage(lang, 'finished', undefined));
      return showPage(200);
    }
    const form = new URLSearchParams(text ?? '');
    if (text === undefined || !sameSecret(form.get('token') ?? undefined, session.token)) {
      return sendHtml(res, 403, endedPage(lang, 'finished', undefined));
    }
    if (session.status === 'expired') {
      return backUrl ? redirect(res, backUrl) : sendHtml(res, 410, endedPage(lang, 'expired', undefined));
    }
    if (session.status !== 'pending') return sendHtml(res, 409, endedPage(lang, 'finished', undefined));
    const action = form.get('action');
    const personaId = form.get('persona') ?? undefined;
    if (action === 'cancel' || (action === 'approve' && this.personas.some((p) => p.id === personaId))) {
      const { location } = this.#act(session, action, personaId);
      return location ? redirect(res, location) : sendHtml(res, 200, endedPage(lang, 'finished', undefined));
    }
    showPage(400);
  }

  /** Waits for a fault's delay; closes the connection and answers `true` for a `drop` fault. */
  async #delayOrDrop(fault: CallFault | undefined, res: ServerResponse): Promise<boolean> {
    if (fault?.delay) {
      try {
        await sleep(fault.delay, undefined, { signal: this.#closing.signal });
      } catch {
        res.destroy();
        return true;
      }
    }
    if (fault?.drop) {
      res.socket?.destroy();
      return true;
    }
    return false;
  }

  #behaviour(): SessionBehaviour {
    const behaviour = { ...this.#options.session, ...this.#next };
    this.#next = undefined;
    return behaviour;
  }

  #pageUrl(id: string): string {
    return `${this.url}/itsme/authorize/${id}`;
  }

  #now(): number {
    return (this.#options.clock ?? Date.now)();
  }

  #log(line: string): void {
    this.#options.log?.(line);
  }
}

/** Reads and checks the body of a start call, as ZignSec does. */
function parseStart(
  text: string,
): { request: SimulatorStartRequest } | { errors: { code: string; description: string }[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { errors: [{ code: 'INVALID_REQUEST', description: 'The body is not valid JSON' }] };
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) {
    return { errors: [{ code: 'INVALID_REQUEST', description: 'The body must be a JSON object' }] };
  }
  const body = json as Record<string, unknown>;
  const errors: { code: string; description: string }[] = [];
  const request: SimulatorStartRequest = {};
  const urls = [
    ['target', 'INVALID_TARGET'],
    ['targetError', 'INVALID_TARGETERROR'],
    ['webhook', 'INVALID_WEBHOOK'],
  ] as const;
  for (const [field, code] of urls) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    if (isWebUrl(value)) request[field] = value;
    else errors.push({ code, description: `${field} must be an absolute http(s) URL` });
  }
  const relaystate = body.relaystate;
  if (relaystate !== undefined && relaystate !== null) {
    if (typeof relaystate === 'string' && relaystate.length <= 2048) request.relaystate = relaystate;
    else
      errors.push({ code: 'INVALID_REQUEST', description: 'relaystate must be a string of at most 2048 characters' });
  }
  if (['fr', 'nl', 'en', 'de'].includes(body.language as string)) request.language = body.language as ItsMeLanguage;
  return errors.length > 0 ? { errors } : { request };
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
