import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { expect } from 'chai';
import type { ItsMeErrorCode, ItsMeProfile } from '../lib/index.js';
import {
  captureLogs,
  type GuardedApp,
  guardProcess,
  type LogCapture,
  type ProcessGuard,
  realNetwork,
  startGuardedApp,
} from './support/guards.js';
import { browse, CookieJar, type Listening, listen } from './support/http.js';
import { sampleResult } from './support/zignsec-stub.js';

const API_KEY = 'zs-FAULT-KEY-must-not-leak-91ac';
const SUB = '1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9';
const MAX_RESPONSE = 64 * 1024;
const HUGE = 256 * 1024 * 1024;

interface FaultContext {
  /** The ZignSec session id of a result call. */
  id: string;
  /** Counts bytes a fault wrote, for the huge-body case. */
  wrote(bytes: number): void;
}

/** How the fake ZignSec answers one call. */
type Fault = (req: IncomingMessage, res: ServerResponse, ctx: FaultContext) => void;

/**
 * A raw ZignSec stand-in on a loopback port: healthy unless a fault is set for the start or the result
 * call. It can also stop listening (connection refused) and come back on the same port.
 */
class FaultServer {
  start?: Fault | undefined;
  result?: Fault | undefined;
  posts = 0;
  gets = 0;
  /** The relaystate of every start call. */
  readonly relayStates: string[] = [];
  bytesWritten = 0;
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #server = http.createServer((req, res) => this.#handle(req, res));
  #port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async listen(): Promise<this> {
    this.#server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => this.#sockets.delete(socket));
    });
    this.#server.listen(this.#port, '127.0.0.1');
    await once(this.#server, 'listening');
    this.#port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  /** Stops listening: calls now get ECONNREFUSED. */
  async refuse(): Promise<void> {
    this.#dropConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async restore(): Promise<void> {
    this.#server = http.createServer((req, res) => this.#handle(req, res));
    await this.listen();
  }

  /** Healthy again. Open connections stay: dropping idle keep-alive sockets would race with their reuse. */
  heal(): void {
    this.start = undefined;
    this.result = undefined;
  }

  reset(): void {
    this.heal();
    this.posts = 0;
    this.gets = 0;
    this.bytesWritten = 0;
  }

  async close(): Promise<void> {
    this.#dropConnections();
    if (this.#server.listening) await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Runs `fn` every `ms` until the connection closes. */
  every(res: ServerResponse, ms: number, fn: () => void): void {
    const timer = setInterval(fn, ms);
    this.#timers.add(timer);
    res.on('close', () => {
      clearInterval(timer);
      this.#timers.delete(timer);
    });
  }

  #dropConnections(): void {
    for (const timer of this.#timers) clearInterval(timer);
    this.#timers.clear();
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.headers.authorization !== API_KEY) {
        send(401, { errors: [{ code: 'UNAUTHORIZED' }] });
        return;
      }
      const match = /^\/v3\/eid\/itsme(?:\/([^/?]+))?$/.exec(req.url ?? '');
      const ctx: FaultContext = { id: match?.[1] ?? '', wrote: (n) => (this.bytesWritten += n) };
      if (req.method === 'POST' && match && !match[1]) {
        this.posts += 1;
        this.relayStates.push(String(JSON.parse(Buffer.concat(chunks).toString() || '{}').relaystate));
        if (this.start) return this.start(req, res, ctx);
        const id = randomUUID();
        send(200, { id, redirectUrl: `${this.url}/authorize?session=${id}`, errors: [] });
        return;
      }
      if (req.method === 'GET' && match?.[1]) {
        this.gets += 1;
        if (this.result) return this.result(req, res, ctx);
        send(200, sampleResult(match[1]));
        return;
      }
      send(404, { errors: [{ code: 'NOT_FOUND' }] });
    });
  }
}

const json =
  (body: unknown, status = 200): Fault =>
  (_req, res, ctx) => {
    const value = typeof body === 'function' ? (body as (id: string) => unknown)(ctx.id) : body;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(typeof value === 'string' ? value : JSON.stringify(value));
  };

const faults = {
  resetMidBody: ((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
    res.write('{"id":"half-way-th');
    setImmediate(() => res.socket?.resetAndDestroy());
  }) as Fault,
  slowHeaders: (() => {}) as Fault,
  slowBody: ((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100000' });
    res.write('{"id":"');
    server.every(res, 50, () => res.write(' '));
  }) as Fault,
  html: ((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><html><body><h1>Service Unavailable</h1></body></html>');
  }) as Fault,
  truncated: ((_req, res, ctx) => {
    const text = JSON.stringify(sampleResult(ctx.id || 'x'));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(text.slice(0, Math.floor(text.length / 2)));
  }) as Fault,
  huge: ((_req, res, ctx) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    res.write('{"id":"');
    const pump = () => {
      while (!closed && sent < HUGE) {
        sent += chunk.length;
        ctx.wrote(chunk.length);
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      if (!closed) res.end('"}');
    };
    pump();
  }) as Fault,
  notHttp: ((_req, res) => {
    res.socket?.end('SSH-2.0-OpenSSH_9.2\r\nProtocol mismatch.\r\n');
  }) as Fault,
};

/** What the person (and the app) sees at the end. */
type Outcome =
  | { kind: 'error'; code: ItsMeErrorCode; causeCode?: string; message?: RegExp }
  | { kind: 'fail'; status: number; message: string | RegExp }
  | { kind: 'success'; check?: (profile: ItsMeProfile) => void };

interface Case {
  what: string;
  fault: Fault;
  outcome: Outcome;
  /** Extra checks after the outcome. */
  after?: () => unknown;
}

let server: FaultServer;

describe('ZignSec faults', function () {
  // The time budget: every fault must end within this, with calls timing out at 1 s and the
  // callback polling a result that is not final for at most 2 s (well above a pause of the process
  // of a few hundred ms, as on a busy VM, so that a healthy call never times out).
  this.timeout(6000);
  let app: GuardedApp;
  let guard: ProcessGuard;
  let restoreNock: () => void;
  let logs: LogCapture;
  let bodies: string[];

  before(async () => {
    restoreNock = realNetwork();
    guard = guardProcess();
    server = await new FaultServer().listen();
    app = await startGuardedApp({
      strategy: {
        baseURL: server.url,
        apiKey: API_KEY,
        timeout: 1000,
        pendingTimeout: 2000,
        maxResponseSize: MAX_RESPONSE,
      },
    });
  });
  after(async () => {
    await app.close();
    await server.close();
    guard.dispose();
    restoreNock();
  });
  beforeEach(() => {
    server.reset();
    app.verified.length = 0;
    app.errors.length = 0;
    bodies = [];
    logs = captureLogs();
  });
  afterEach(async function () {
    logs.dispose();
    logs.assertAbsent(API_KEY);
    for (const body of bodies) expect(body, 'a page sent to the browser').to.not.include(API_KEY);
    await guard.assertClean();
    if (this.currentTest?.state !== 'passed') return;
    // The process keeps serving, and the client recovers once ZignSec is healthy again.
    server.heal();
    const jar = new CookieJar();
    const start = await browse(`${app.url}/login`, jar);
    expect(start.status, `follow-up start: ${start.body}`).to.equal(302);
    const relayState = server.relayStates.at(-1);
    const done = await browse(`${app.url}/callback/raw?relaystate=${relayState}`, jar);
    expect(done.status, `follow-up callback: ${done.body}`).to.equal(200);
    expect(JSON.parse(done.body).id).to.equal(SUB);
  });

  /** Starts a login through the healthy start call; returns the relaystate. */
  async function begin(jar: CookieJar): Promise<string> {
    const fault = server.start;
    server.start = undefined;
    const res = await browse(`${app.url}/login`, jar);
    server.start = fault;
    expect(res.status, res.body).to.equal(302);
    return server.relayStates.at(-1) ?? '';
  }

  async function expectOutcome(path: string, jar: CookieJar, outcome: Outcome) {
    const res = await browse(`${app.url}${path}`, jar);
    bodies.push(res.body);
    if (outcome.kind === 'error') {
      expect(res.status, res.body).to.equal(500);
      expect(res.location).to.equal(null);
      const seen = app.errors.at(-1);
      expect(seen?.code, res.body).to.equal(outcome.code);
      expect(JSON.parse(res.body).code).to.equal(outcome.code);
      if (outcome.causeCode) expect(seen?.causeCode).to.equal(outcome.causeCode);
      if (outcome.message) expect(seen?.message).to.match(outcome.message);
      expect(app.verified).to.have.length(0);
      // The app's error handler logged it (so the key check above looks at real error output).
      expect(logs.text()).to.include(outcome.code);
      return;
    }
    if (outcome.kind === 'fail') {
      expect(res.status).to.equal(302);
      expect(res.location, res.body).to.equal('/failed');
      const failed = await browse(`${app.url}/failed`, jar);
      bodies.push(failed.body);
      const [message] = JSON.parse(failed.body).messages as string[];
      if (typeof outcome.message === 'string') expect(message).to.equal(outcome.message);
      else expect(message).to.match(outcome.message);
      expect(app.verified).to.have.length(0);
      expect(app.errors).to.have.length(0);
      // Passport's own answer without a failureRedirect: the strategy's status.
      const jar2 = new CookieJar();
      const rs = await begin(jar2);
      const raw = await browse(`${app.url}/callback/raw?relaystate=${rs}`, jar2);
      expect(raw.status).to.equal(outcome.status);
      return;
    }
    expect(res.status, res.body).to.equal(302);
    expect(res.location).to.equal('/me');
    expect(app.errors).to.have.length(0);
    const profile = app.verified.at(-1);
    expect(profile?.provider).to.equal('itsme');
    outcome.check?.(profile as ItsMeProfile);
  }

  describe('at start', () => {
    const cases: Case[] = [
      {
        what: 'connection refused',
        fault: faults.slowHeaders,
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_NETWORK', causeCode: 'ECONNREFUSED' },
      },
      {
        what: 'a connection reset in the middle of the body',
        fault: faults.resetMidBody,
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_NETWORK' },
      },
      {
        what: 'headers that never come',
        fault: faults.slowHeaders,
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_TIMEOUT' },
      },
      { what: 'a body that trickles', fault: faults.slowBody, outcome: { kind: 'error', code: 'ERR_ZIGNSEC_TIMEOUT' } },
      {
        what: '200 with an HTML page',
        fault: faults.html,
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_BAD_RESPONSE', message: /not JSON/ },
      },
      {
        what: '200 with truncated JSON',
        fault: faults.truncated,
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_BAD_RESPONSE', message: /not JSON/ },
      },
      {
        what: '200 with JSON null',
        fault: json('null'),
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_BAD_RESPONSE', message: /not a JSON object/ },
      },
      {
        what: 'a huge body',
        fault: faults.huge,
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_BAD_RESPONSE', message: /larger than 65536 bytes/ },
        after: hugeBodyWasCut,
      },
      {
        what: 'bytes that are not HTTP',
        fault: faults.notHttp,
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_NETWORK' },
      },
      {
        what: 'errors as strings in a 200',
        fault: json({ errors: ['INVALID_TARGET', 'MISSING_CONFIG'] }),
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_ERRORS', message: /INVALID_TARGET, MISSING_CONFIG/ },
      },
      {
        what: 'errors as objects in a 400',
        fault: json({ errors: [{ code: 'INVALID_TARGET', description: 'target must be https' }] }, 400),
        outcome: {
          kind: 'error',
          code: 'ERR_ZIGNSEC_HTTP_STATUS',
          message: /HTTP 400: INVALID_TARGET \(target must be https\)/,
        },
      },
      {
        what: 'a 401 whose errors echo the API key',
        fault: json({ errors: [{ code: 'UNAUTHORIZED', description: `Invalid access token ${API_KEY}` }] }, 401),
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_HTTP_STATUS', message: /HTTP 401.*check the API key/ },
      },
      {
        what: 'a 503, which is not retried',
        fault: json({ errors: [{ code: 'Internal Exception' }] }, 503),
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_HTTP_STATUS', message: /HTTP 503/ },
        after: () => expect(server.posts).to.equal(1),
      },
      {
        what: 'a redirectUrl that is not http(s)',
        fault: json({ id: 'abc123', redirectUrl: 'javascript:alert(document.cookie)', errors: [] }),
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_BAD_RESPONSE', message: /redirectUrl/ },
      },
      {
        what: 'no id',
        fault: json({ redirectUrl: 'http://127.0.0.1/authorize', errors: [] }),
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_BAD_RESPONSE', message: /no valid id/ },
      },
    ];
    for (const c of cases) {
      it(`should end in a clean error() on ${c.what}`, async () => {
        const refused = c.what === 'connection refused';
        server.start = c.fault;
        if (refused) await server.refuse();
        try {
          await expectOutcome('/login', new CookieJar(), c.outcome);
        } finally {
          if (refused) await server.restore();
        }
        await c.after?.();
      });
    }

    it('should not follow a redirect, so the API key never goes to another host', async () => {
      const elsewhere: IncomingMessage['headers'][] = [];
      const other: Listening = await listen((req, res) => {
        elsewhere.push(req.headers);
        res.end('{}');
      });
      try {
        server.start = (_req, res) => {
          res.writeHead(307, { location: `${other.url}/v3/eid/itsme` });
          res.end();
        };
        await expectOutcome('/login', new CookieJar(), {
          kind: 'error',
          code: 'ERR_ZIGNSEC_HTTP_STATUS',
          message: /HTTP 307/,
        });
        expect(elsewhere).to.deep.equal([]);
      } finally {
        await other.close();
      }
    });
  });

  describe('at the result', () => {
    const withoutIdentity = (id: string) => {
      const { identity: _drop, ...rest } = sampleResult(id);
      return rest;
    };
    const claims = (id: string) => JSON.parse(String(sampleResult(id).providerData)) as Record<string, unknown>;
    const cases: Case[] = [
      {
        what: 'connection refused',
        fault: faults.slowHeaders,
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_NETWORK', causeCode: 'ECONNREFUSED' },
      },
      {
        what: 'a connection reset in the middle of the body, retried until the budget is spent',
        fault: faults.resetMidBody,
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_NETWORK' },
        after: () => expect(server.gets).to.be.greaterThan(1),
      },
      {
        what: 'headers that never come',
        fault: faults.slowHeaders,
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_TIMEOUT' },
      },
      { what: 'a body that trickles', fault: faults.slowBody, outcome: { kind: 'error', code: 'ERR_ZIGNSEC_TIMEOUT' } },
      {
        what: '200 with an HTML page',
        fault: faults.html,
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_BAD_RESPONSE', message: /not JSON/ },
      },
      {
        what: '200 with truncated JSON',
        fault: faults.truncated,
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_BAD_RESPONSE', message: /not JSON/ },
      },
      {
        what: 'a huge body',
        fault: faults.huge,
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_BAD_RESPONSE', message: /larger than 65536 bytes/ },
        after: hugeBodyWasCut,
      },
      {
        what: 'bytes that are not HTTP',
        fault: faults.notHttp,
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_NETWORK' },
      },
      {
        what: 'the result of another session',
        fault: json(() => sampleResult('someone-elses-session')),
        outcome: { kind: 'error', code: 'ERR_ITSME_ID_MISMATCH' },
      },
      {
        what: 'a 404 for the session',
        fault: json({ errors: [{ code: 'SESSION_NOT_FOUND' }] }, 404),
        outcome: { kind: 'error', code: 'ERR_ZIGNSEC_HTTP_STATUS', message: /HTTP 404: SESSION_NOT_FOUND/ },
      },
    ];
    const failures: Case[] = [
      {
        what: 'errors as strings',
        fault: json((id: string) => ({ id, state: 'Failed', errors: ['USER_CANCEL'] })),
        outcome: { kind: 'fail', status: 401, message: 'The itsme login was cancelled.' },
      },
      {
        what: 'errors as objects',
        fault: json((id: string) => ({
          id,
          state: 'Failed',
          errors: [{ code: 'EXPIRED_TRANSACTION', description: 'The transaction expired' }],
        })),
        outcome: {
          kind: 'fail',
          status: 401,
          message: 'The itsme login expired before it was confirmed. Please try again.',
        },
      },
      {
        what: 'errors with an unknown code that echoes the API key',
        fault: json((id: string) => ({ id, state: 'Failed', errors: [`NOPE ${API_KEY}`] })),
        outcome: {
          kind: 'fail',
          status: 401,
          message: /^The itsme login did not succeed \(NOPE \[redacted\]\)\. Please try again later\.$/,
        },
      },
      {
        what: 'an unknown state, polled as not final until the wait ends',
        fault: json((id: string) => ({ ...sampleResult(id), state: 'Processing' })),
        outcome: { kind: 'fail', status: 401, message: 'The itsme login was not confirmed in time. Please try again.' },
        after: () => expect(server.gets).to.be.greaterThan(2),
      },
      {
        what: 'neither identity nor providerData',
        fault: json((id: string) => ({ id, state: 'Finished', errors: [] })),
        outcome: { kind: 'fail', status: 401, message: 'itsme did not return who logged in. Please try again.' },
      },
      {
        what: 'providerData that is not JSON and an identity without a personal number',
        fault: json((id: string) => sampleResult(id, { providerData: '<claims>oops' })),
        outcome: { kind: 'fail', status: 401, message: 'itsme did not return who logged in. Please try again.' },
      },
      {
        what: 'providerData that is not JSON, even with a personal number in identity',
        fault: json((id: string) => {
          const result = sampleResult(id, { providerData: '{"sub":' });
          return { ...result, identity: { ...(result.identity as object), personalNumber: '80010212345' } };
        }),
        outcome: { kind: 'fail', status: 401, message: 'itsme did not return who logged in. Please try again.' },
        after: () => expect(app.verified).to.have.length(0),
      },
      {
        what: 'a sub of the wrong type, even with a personal number in identity',
        fault: json((id: string) => {
          const result = sampleResult(id, { providerData: JSON.stringify({ ...claims(id), sub: 42 }) });
          return { ...result, identity: { ...(result.identity as object), personalNumber: '80010212345' } };
        }),
        outcome: { kind: 'fail', status: 401, message: 'itsme did not return who logged in. Please try again.' },
      },
    ];
    const successes: Case[] = [
      {
        what: 'identity missing',
        fault: json(withoutIdentity),
        outcome: {
          kind: 'success',
          check: (p) => {
            expect(p.id).to.equal(SUB);
            expect(p.displayName).to.equal('Florent Verschueren');
            expect(p._json).to.not.have.property('identity');
          },
        },
      },
      {
        what: 'providerData as an object instead of a string',
        fault: json((id: string) => sampleResult(id, { providerData: claims(id) })),
        outcome: {
          kind: 'success',
          check: (p) => {
            expect(p.id).to.equal(SUB);
            expect(p.name).to.deep.equal({ givenName: 'Florent', familyName: 'Verschueren' });
          },
        },
      },
      {
        what: 'a broken address claim',
        fault: json((id: string) => {
          const { ParsedAddress: _drop, ...rest } = claims(id);
          return sampleResult(id, { providerData: JSON.stringify({ ...rest, address: '{"country":"BE","str' }) });
        }),
        outcome: {
          kind: 'success',
          check: (p) => {
            expect(p.id).to.equal(SUB);
            expect(p.addresses).to.deep.equal([{ formatted: 'Havenlaan 2,Brussel,1000' }]);
          },
        },
      },
      {
        what: 'an address claim of the wrong types',
        fault: json((id: string) =>
          sampleResult(id, { providerData: JSON.stringify({ ...claims(id), address: 42, ParsedAddress: 'x' }) }),
        ),
        outcome: { kind: 'success', check: (p) => expect(p.addresses?.[0]?.formatted).to.be.a('string') },
      },
      {
        what: 'a 502 before the result, retried',
        fault: (() => {
          let calls = 0;
          return ((req, res, ctx) => {
            calls += 1;
            if (calls === 1) json({ errors: ['Bad Gateway'] }, 502)(req, res, ctx);
            else json(sampleResult(ctx.id))(req, res, ctx);
          }) as Fault;
        })(),
        outcome: { kind: 'success', check: (p) => expect(p.id).to.equal(SUB) },
        after: () => expect(server.gets).to.equal(2),
      },
    ];

    for (const c of cases) {
      it(`should end in a clean error() on ${c.what}`, async () => {
        const refused = c.what === 'connection refused';
        const jar = new CookieJar();
        const relayState = await begin(jar);
        server.result = c.fault;
        if (refused) await server.refuse();
        try {
          await expectOutcome(`/callback?relaystate=${relayState}`, jar, c.outcome);
        } finally {
          if (refused) await server.restore();
        }
        await c.after?.();
      });
    }
    for (const c of failures) {
      it(`should end in a clean fail() on ${c.what}`, async () => {
        const jar = new CookieJar();
        const relayState = await begin(jar);
        server.result = c.fault;
        await expectOutcome(`/callback?relaystate=${relayState}`, jar, c.outcome);
        await c.after?.();
      });
    }
    for (const c of successes) {
      it(`should still log the person in on ${c.what}`, async () => {
        const jar = new CookieJar();
        const relayState = await begin(jar);
        server.result = c.fault;
        await expectOutcome(`/callback?relaystate=${relayState}`, jar, c.outcome);
        await c.after?.();
      });
    }
  });
});

/** The client stopped reading: the fake ZignSec could write only a little of the huge body. */
async function hugeBodyWasCut(): Promise<void> {
  expect(server.bytesWritten).to.be.greaterThan(MAX_RESPONSE);
  expect(server.bytesWritten, 'bytes ZignSec managed to write').to.be.lessThan(32 * 1024 * 1024);
}

/** `depth` arrays nested in each other: `[[[...]]]`. */
function nested(depth: number): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

describe('hostile ZignSec bodies', function () {
  this.timeout(10_000);
  let hostile: FaultServer;
  let app: GuardedApp;
  let guard: ProcessGuard;
  let restoreNock: () => void;
  let logs: LogCapture;
  /** What verify got, as the app serialises it. */
  const serialised: string[] = [];

  before(async () => {
    restoreNock = realNetwork();
    guard = guardProcess();
    hostile = await new FaultServer().listen();
    app = await startGuardedApp({
      // Large enough that the limits on what is parsed, not the size cap, are what stops these bodies.
      strategy: {
        baseURL: hostile.url,
        apiKey: API_KEY,
        timeout: 5000,
        pendingTimeout: 5000,
        maxResponseSize: 8 << 20,
      },
      verify: async (profile) => {
        serialised.push(JSON.stringify(profile));
        return { id: profile.id };
      },
    });
  });
  after(async () => {
    await app.close();
    await hostile.close();
    guard.dispose();
    restoreNock();
  });
  beforeEach(() => {
    hostile.reset();
    serialised.length = 0;
    app.errors.length = 0;
    logs = captureLogs();
  });
  afterEach(async () => {
    logs.dispose();
    logs.assertAbsent(API_KEY);
    await guard.assertClean();
  });

  async function callback(
    result: Fault,
  ): Promise<{ status: number; body: string; jar: CookieJar; location: string | null }> {
    const jar = new CookieJar();
    const start = await browse(`${app.url}/login`, jar);
    expect(start.status, start.body).to.equal(302);
    hostile.result = result;
    const res = await browse(`${app.url}/callback?relaystate=${hostile.relayStates.at(-1)}`, jar);
    return { status: res.status, body: res.body, jar, location: res.location };
  }

  const claimsOf = (id: string) => JSON.parse(String(sampleResult(id).providerData)) as Record<string, unknown>;
  const badResponses: [string, Fault, RegExp][] = [
    [
      'a 10 kB providerData nested 5,000 deep',
      json((id: string) => sampleResult(id, { providerData: `{"sub":"x","deep":${nested(5000)}}` })),
      /providerData is nested deeper than 16 levels/,
    ],
    [
      'an identity block nested 5,000 deep',
      json((id: string) => `{"id":"${id}","state":"Finished","errors":[],"identity":${nested(5000)}}`),
      /response \(HTTP 200\) is nested deeper than 32 levels/,
    ],
    [
      'providerData with 70,000 claim keys',
      json((id: string) => {
        const many: Record<string, unknown> = claimsOf(id);
        for (let i = 0; i < 70_000; i++) many[`c${i}`] = i;
        return sampleResult(id, { providerData: JSON.stringify(many) });
      }),
      /holds more than 1000 values/,
    ],
    [
      '300,000 error entries',
      json((id: string) => ({ id, state: 'Failed', errors: Array.from({ length: 300_000 }, () => 'E') })),
      /holds more than 10000 values/,
    ],
  ];
  for (const [what, fault, message] of badResponses) {
    it(`should end in a clean ERR_ZIGNSEC_BAD_RESPONSE error() on ${what}`, async () => {
      const res = await callback(fault);
      expect(res.status, res.body).to.equal(500);
      expect(JSON.parse(res.body).code).to.equal('ERR_ZIGNSEC_BAD_RESPONSE');
      expect(app.errors.at(-1)?.message).to.match(message);
      expect(res.body.length, 'error page').to.be.lessThan(500);
      expect(serialised).to.deep.equal([]);
    });
  }

  it('should cut a long error list to a short failure message, so the session stays small', async () => {
    const errors = Array.from({ length: 2000 }, (_, i) => ({
      code: `E${i}-${'x'.repeat(300)}`,
      description: 'y'.repeat(1500),
    }));
    const res = await callback(json((id: string) => ({ id, state: 'Failed', errors })));
    expect(res.location, res.body).to.equal('/failed');
    const failed = await browse(`${app.url}/failed`, res.jar);
    const messages = JSON.parse(failed.body).messages as string[];
    expect(messages).to.have.length(1);
    expect(messages[0]).to.match(/^The itsme login did not succeed \(E0-x+, E1-x+/);
    expect(messages[0]?.length).to.be.lessThan(2500);
  });

  it('should copy only plain claim values of sane size into a profile the app can serialise', async () => {
    const res = await callback(
      json((id: string) =>
        sampleResult(id, {
          providerData: JSON.stringify({
            ...claimsOf(id),
            given_name: 'G'.repeat(100_000),
            nationality: { nested: [1, 2, 3] },
            place_of_birth: ['Brussel'],
            city_of_birth: 'Gent',
            deep: JSON.parse(nested(15)),
          }),
        }),
      ),
    );
    expect(res.location, res.body).to.equal('/me');
    expect(serialised).to.have.length(1);
    const profile = JSON.parse(serialised[0] ?? '') as ItsMeProfile;
    expect(profile.id).to.equal(SUB);
    expect(profile.name).to.deep.equal({ familyName: 'Verschueren' });
    expect(profile).to.not.have.property('nationality');
    expect(profile).to.not.have.property('placeOfBirth');
    expect(profile.cityOfBirth).to.equal('Gent');
  });
});
