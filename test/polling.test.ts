import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { inspect } from 'node:util';
import { expect } from 'chai';
import nock from 'nock';
import { ItsMeClient, ItsMeError, type ItsMeResult, isFinal } from '../lib/index.js';
import { type Listening, listen } from './support/http.js';
import { rejection } from './support/rejection.js';
import { sampleResult } from './support/zignsec-stub.js';

const API_KEY = 'polling-secret-key-4f1e9a';
const SUB = '1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9';

interface Reply {
  status?: number;
  body: unknown;
}

/**
 * A loopback ZignSec for the result endpoint that counts requests in flight (from arrival until the
 * connection's response closes, answered or cancelled). `reply(id, n)` gives the n-th answer for an
 * id (0-based); `undefined` leaves the request hanging until the client goes away.
 */
class ResultServer {
  active = 0;
  maxActive = 0;
  readonly gets: string[] = [];
  readonly auth: (string | undefined)[] = [];
  cancelled = 0;
  readonly events = new (class extends EventTarget {})();
  reply: (id: string, n: number) => Reply | undefined | Promise<Reply | undefined> = (id) => ({
    body: sampleResult(id),
  });
  #server?: Listening;

  get url(): string {
    if (!this.#server) throw new Error('not started');
    return this.#server.url;
  }

  async start(): Promise<this> {
    this.#server = await listen((req, res) => void this.#handle(req, res));
    return this;
  }

  close(): Promise<void> {
    return this.#server?.close() ?? Promise.resolve();
  }

  /** Resolves when `count` requests have arrived in total. */
  async arrived(count: number): Promise<void> {
    while (this.gets.length < count) await once(this.events, 'request');
  }

  /** Resolves when `count` requests have been cancelled by the client in total. */
  async cancelledCount(count: number): Promise<void> {
    while (this.cancelled < count) await once(this.events, 'cancel');
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.active += 1;
    this.maxActive = Math.max(this.maxActive, this.active);
    res.on('close', () => {
      this.active -= 1;
      if (!res.writableFinished) {
        this.cancelled += 1;
        this.events.dispatchEvent(new Event('cancel'));
      }
    });
    const id = decodeURIComponent(/^\/v3\/eid\/itsme\/([^/?]+)/.exec(req.url ?? '')?.[1] ?? '');
    const n = this.gets.filter((g) => g === id).length;
    this.gets.push(id);
    this.auth.push(req.headers.authorization);
    this.events.dispatchEvent(new Event('request'));
    const reply = await this.reply(id, n);
    if (!reply || res.destroyed) return;
    res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' });
    res.end(typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body));
  }
}

const pending = (id: string): Reply => ({ body: { id, state: 'Pending', errors: [] } });
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A gate a test opens by hand: `opened` resolves once `open()` is called. */
function newGate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe('polling client', () => {
  let server: ResultServer;
  let client: ItsMeClient;

  beforeEach(async () => {
    server = await new ResultServer().start();
    client = new ItsMeClient({ apiKey: API_KEY, baseURL: server.url, timeout: 60_000 });
  });
  afterEach(async () => {
    await server.close();
  });

  describe('getResult', () => {
    it('should return the typed result with the claims parsed', async () => {
      const result = await client.getResult('abc-123');
      expect(result.id).to.equal('abc-123');
      expect(result.state).to.equal('Finished');
      expect(result.errors).to.deep.equal([]);
      expect(result.providerData?.sub).to.equal(SUB);
      expect(result.identity?.countryCode).to.equal('BE');
      expect(JSON.parse(result.raw).id).to.equal('abc-123');
      expect(server.auth).to.deep.equal([API_KEY]);
    });

    it('should share one request between concurrent calls for the same id', async () => {
      server.reply = async (id) => {
        await delay(30);
        return { body: sampleResult(id) };
      };
      const results = await Promise.all(Array.from({ length: 10 }, () => client.getResult('same-id')));
      expect(server.gets).to.deep.equal(['same-id']);
      expect(server.maxActive).to.equal(1);
      for (const r of results) expect(r.providerData?.sub).to.equal(SUB);
    });

    it('should run calls for different ids side by side', async () => {
      const gate = newGate();
      server.reply = async (id) => {
        await gate.opened;
        return { body: sampleResult(id) };
      };
      const both = Promise.all([client.getResult('id-one'), client.getResult('id-two')]);
      await server.arrived(2);
      gate.open();
      const [one, two] = await both;
      expect(server.maxActive).to.equal(2);
      expect([one.id, two.id]).to.deep.equal(['id-one', 'id-two']);
    });

    it('should let a caller leave on abort while the shared request goes on for the others', async () => {
      const gate = newGate();
      server.reply = async (id) => {
        await gate.opened;
        return { body: sampleResult(id) };
      };
      const controller = new AbortController();
      const leaving = client.getResult('shared', { signal: controller.signal });
      const staying = client.getResult('shared');
      await server.arrived(1);
      controller.abort();
      expect((await rejection(leaving)).code).to.equal('ERR_ITSME_ABORTED');
      gate.open();
      expect((await staying).providerData?.sub).to.equal(SUB);
      expect(server.gets).to.have.length(1);
      expect(server.cancelled).to.equal(0);
    });

    it('should cancel the request when its only caller aborts', async () => {
      server.reply = () => undefined;
      const controller = new AbortController();
      const call = client.getResult('hangs', { signal: controller.signal });
      await server.arrived(1);
      controller.abort();
      expect((await rejection(call)).code).to.equal('ERR_ITSME_ABORTED');
      await server.cancelledCount(1);
      expect(server.active).to.equal(0);
    });

    it('should reject a malformed id without calling ZignSec', async () => {
      for (const id of ['', '../x', 'a b', 'x'.repeat(200), 42 as unknown as string]) {
        let caught: unknown;
        await client.getResult(id).catch((err: unknown) => {
          caught = err;
        });
        expect(caught, String(id)).to.be.instanceOf(TypeError);
      }
      expect(server.gets).to.deep.equal([]);
    });
  });

  describe('getResult options', () => {
    it('should reject a timeout that is not an integer from 1 to 2^31 - 1 with a TypeError naming it', async () => {
      for (const timeout of [0, -5, Number.NaN, 2 ** 31, 1.5, Number.POSITIVE_INFINITY, '100']) {
        let caught: unknown;
        await client.getResult('x', { timeout: timeout as number }).catch((err: unknown) => {
          caught = err;
        });
        expect(caught, String(timeout)).to.be.instanceOf(TypeError);
        expect((caught as Error).message).to.match(/getResult timeout option/);
      }
      expect(server.gets).to.deep.equal([]);
    });

    it('should reject a signal that is not an AbortSignal', async () => {
      let caught: unknown;
      await client.getResult('x', { signal: {} as AbortSignal }).catch((err: unknown) => {
        caught = err;
      });
      expect(caught).to.be.instanceOf(TypeError);
      expect((caught as Error).message).to.match(/getResult signal option/);
      expect(server.gets).to.deep.equal([]);
    });

    it('should limit a call it starts to its own timeout, and cancel it then', async () => {
      server.reply = () => undefined;
      const err = await rejection(client.getResult('hangs-briefly', { timeout: 1000 }));
      expect(err.code).to.equal('ERR_ZIGNSEC_TIMEOUT');
      await server.cancelledCount(1);
    });
  });

  describe('waitForResult', () => {
    it('should poll a pending session until it is finished', async () => {
      server.reply = (id, n) => (n < 2 ? pending(id) : { body: sampleResult(id) });
      const result = await client.waitForResult('pending-then-done', { timeout: 10_000, interval: 100 });
      expect(result.state).to.equal('Finished');
      expect(client.toProfile(result).id).to.equal(SUB);
      expect(server.gets).to.deep.equal(['pending-then-done', 'pending-then-done', 'pending-then-done']);
      expect(server.maxActive).to.equal(1);
    });

    it('should treat the state without regard to case and an unknown state as not final', async () => {
      server.reply = (id, n) =>
        n === 0
          ? { body: { id, state: 'Collecting', errors: [] } }
          : { body: sampleResult(id, { state: n === 1 ? 'pending' : 'FINISHED' }) };
      const result = await client.waitForResult('odd-states', { timeout: 10_000, interval: 100 });
      expect(result.state).to.equal('FINISHED');
      expect(server.gets).to.have.length(3);
    });

    it('should return a cancelled session as a final result with its errors, and stop polling', async () => {
      server.reply = (id, n) =>
        n === 0
          ? pending(id)
          : { body: { id, state: 'Failed', errors: [{ code: 'USER_CANCEL', description: 'cancelled' }] } };
      const result = await client.waitForResult('cancelled', { timeout: 10_000, interval: 100 });
      expect(isFinal(result)).to.equal(true);
      expect(result.errors).to.deep.equal([{ code: 'USER_CANCEL', description: 'cancelled' }]);
      expect(result.providerData).to.equal(null);
      expect(server.gets).to.have.length(2);
      expect(() => client.toProfile(result))
        .to.throw(ItsMeError)
        .with.property('code', 'ERR_ITSME_NO_SUBJECT');
    });

    it('should accept errors sent as plain strings', async () => {
      server.reply = (id) => ({ body: { id, state: 'Pending', errors: ['EXPIRED_TRANSACTION'] } });
      const result = await client.waitForResult('expired', { timeout: 10_000, interval: 100 });
      expect(result.errors).to.deep.equal([{ code: 'EXPIRED_TRANSACTION' }]);
    });

    it('should retry 5xx answers, an HTML error page included, until the result comes', async () => {
      server.reply = (id, n) =>
        [
          { status: 503, body: { errors: [{ code: 'Internal Exception' }] } },
          { status: 502, body: '<html>Bad gateway</html>' },
          { status: 500, body: '' },
        ][n] ?? { body: sampleResult(id) };
      const result = await client.waitForResult('flaky', { timeout: 10_000, interval: 100 });
      expect(result.providerData?.sub).to.equal(SUB);
      expect(server.gets).to.have.length(4);
    });

    it('should not retry an unknown session (404) and report the status', async () => {
      server.reply = () => ({ status: 404, body: { errors: [{ code: 'SESSION_NOT_FOUND' }] } });
      const err = await rejection(client.waitForResult('unknown', { timeout: 10_000, interval: 100 }));
      expect(err.code).to.equal('ERR_ZIGNSEC_HTTP_STATUS');
      expect(err.status).to.equal(404);
      expect(err.errors).to.deep.equal([{ code: 'SESSION_NOT_FOUND' }]);
      expect(server.gets).to.have.length(1);
    });

    it('should not retry a refused API key and never show the key', async () => {
      server.reply = () => ({ status: 401, body: { errors: [{ code: 'UNAUTHORIZED', description: API_KEY }] } });
      const err = await rejection(client.waitForResult('refused', { timeout: 10_000, interval: 100 }));
      expect(err.status).to.equal(401);
      expect(err.message).to.match(/API key/);
      expect(server.gets).to.have.length(1);
      expect(err.message).not.to.include(API_KEY);
      expect(inspect(client, { depth: 5, showHidden: true })).not.to.include(API_KEY);
      expect(JSON.stringify(client)).not.to.include(API_KEY);
    });

    it('should reject with ERR_ITSME_PENDING_TIMEOUT when the session stays pending', async () => {
      server.reply = (id) => pending(id);
      const err = await rejection(client.waitForResult('stays-pending', { timeout: 1000, interval: 100 }));
      expect(err.code).to.equal('ERR_ITSME_PENDING_TIMEOUT');
      expect(server.gets.length).to.be.greaterThan(1);
      expect(server.maxActive).to.equal(1);
    });

    it('should still report a pending timeout, not a call timeout, when ZignSec answers slowly', async () => {
      server.reply = async (id) => {
        await delay(40);
        return pending(id);
      };
      const err = await rejection(client.waitForResult('slow-pending', { timeout: 1000, interval: 100 }));
      expect(err.code).to.equal('ERR_ITSME_PENDING_TIMEOUT');
    });

    it('should reject with ERR_ZIGNSEC_TIMEOUT and cancel the request when ZignSec never answers', async () => {
      server.reply = () => undefined;
      // Long enough for the request to reach the server even on a loaded machine, so it can be cancelled.
      const err = await rejection(client.waitForResult('silent', { timeout: 1000, interval: 100 }));
      expect(err.code).to.equal('ERR_ZIGNSEC_TIMEOUT');
      expect(server.gets).to.deep.equal(['silent']);
      await server.cancelledCount(1);
    });

    it('should reject with the last 5xx error when ZignSec kept failing until the deadline', async () => {
      server.reply = () => ({ status: 503, body: { errors: [{ code: 'Internal Exception' }] } });
      const err = await rejection(client.waitForResult('down', { timeout: 1000, interval: 100 }));
      expect(err.code).to.equal('ERR_ZIGNSEC_HTTP_STATUS');
      expect(err.status).to.equal(503);
    });

    it('should reject at once, without calling ZignSec, when the signal is already aborted', async () => {
      const err = await rejection(
        client.waitForResult('never', { timeout: 10_000, signal: AbortSignal.abort(new Error('gone')) }),
      );
      expect(err.code).to.equal('ERR_ITSME_ABORTED');
      expect(server.gets).to.deep.equal([]);
    });

    it('should reject with ERR_ITSME_ABORTED when aborted during the pause between polls', async () => {
      const controller = new AbortController();
      server.reply = (id) => pending(id);
      // The next poll would only come after a minute: only the abort can end this wait in time.
      const wait = client.waitForResult('long-pause', {
        timeout: 600_000,
        interval: 60_000,
        signal: controller.signal,
      });
      await server.arrived(1);
      await delay(50);
      controller.abort();
      expect((await rejection(wait)).code).to.equal('ERR_ITSME_ABORTED');
      expect(server.gets).to.have.length(1);
    });

    it('should reject with ERR_ITSME_ABORTED when aborted during a request, and cancel it', async () => {
      const controller = new AbortController();
      server.reply = () => undefined;
      const wait = client.waitForResult('hangs', { timeout: 600_000, signal: controller.signal });
      await server.arrived(1);
      controller.abort();
      expect((await rejection(wait)).code).to.equal('ERR_ITSME_ABORTED');
      await server.cancelledCount(1);
    });

    it('should keep one request in flight when two waits poll the same id', async () => {
      server.reply = async (id, n) => {
        await delay(15);
        return n < 6 ? pending(id) : { body: sampleResult(id) };
      };
      const [a, b] = await Promise.all([
        client.waitForResult('two-waiters', { timeout: 10_000, interval: 100 }),
        client.waitForResult('two-waiters', { timeout: 10_000, interval: 150 }),
      ]);
      expect(server.maxActive).to.equal(1);
      expect(server.gets.length).to.be.at.least(7);
      expect(a.providerData?.sub).to.equal(SUB);
      expect(b.providerData?.sub).to.equal(SUB);
    });

    it('should let one wait go on when another wait on the same id is aborted', async () => {
      const gate = newGate();
      server.reply = async (id, n) => {
        if (n === 0) await gate.opened;
        return n < 2 ? pending(id) : { body: sampleResult(id) };
      };
      const controller = new AbortController();
      const aborted = client.waitForResult('one-aborts', { timeout: 10_000, interval: 100, signal: controller.signal });
      const kept = client.waitForResult('one-aborts', { timeout: 10_000, interval: 100 });
      await server.arrived(1);
      controller.abort();
      expect((await rejection(aborted)).code).to.equal('ERR_ITSME_ABORTED');
      gate.open();
      const result: ItsMeResult = await kept;
      expect(result.state).to.equal('Finished');
      expect(server.cancelled).to.equal(0);
      expect(server.maxActive).to.equal(1);
    });

    it('should reject bad options with a TypeError naming them', async () => {
      const bad: [unknown, RegExp][] = [
        [undefined, /timeout/],
        [{}, /timeout/],
        [{ timeout: -1 }, /timeout/],
        [{ timeout: 30 * 24 * 3600 * 1000 }, /timeout option must be at most/],
        [{ timeout: 1000, interval: 0 }, /interval/],
        [{ timeout: 1000, maxInterval: Number.NaN }, /maxInterval/],
        [{ timeout: 0 }, /timeout option must be a positive integer/],
        [{ timeout: Number.NaN }, /timeout option must be a positive integer/],
        [{ timeout: 1000.5 }, /timeout option must be a positive integer/],
        [{ timeout: 2 ** 31 }, /timeout option must be at most/],
        [{ timeout: 1000, interval: 0.3 }, /interval option must be a number of milliseconds from 100/],
        [{ timeout: 1000, interval: 99 }, /interval option must be a number of milliseconds from 100/],
        [{ timeout: 1000, interval: Number.POSITIVE_INFINITY }, /interval option/],
        [{ timeout: 1000, maxInterval: 10 }, /maxInterval option must be a number of milliseconds from 100/],
        [{ timeout: 1000, signal: 'stop' }, /signal option must be an AbortSignal/],
      ];
      for (const [options, message] of bad) {
        let caught: unknown;
        await client.waitForResult('x', options as { timeout: number }).catch((err: unknown) => {
          caught = err;
        });
        expect(caught).to.be.instanceOf(TypeError);
        expect((caught as Error).message).to.match(message);
      }
      expect(server.gets).to.deep.equal([]);
    });
  });

  describe('poll rate', () => {
    it('should poll a session that stays pending a handful of times a second at the shortest interval', async () => {
      server.reply = (id) => pending(id);
      const err = await rejection(
        client.waitForResult('slowly-polled', { timeout: 2000, interval: 100, maxInterval: 100_000 }),
      );
      expect(err.code).to.equal('ERR_ITSME_PENDING_TIMEOUT');
      // 100, 150, 225, 338, 506 ms ... between polls: at most 7 GETs in 2 s, never hundreds (at least 3
      // even if the process is held up for a moment, as on a busy VM).
      expect(server.gets.length).to.be.within(3, 7);
    });

    it('should never pause longer than maxInterval, even when interval is larger', async () => {
      server.reply = (id, n) => (n === 0 ? pending(id) : { body: sampleResult(id) });
      // A first pause of interval (3 s) would outlast the whole wait (2.5 s); maxInterval caps it at 200 ms.
      const result = await client.waitForResult('capped-pause', { timeout: 2500, interval: 3000, maxInterval: 200 });
      expect(result.state).to.equal('Finished');
      expect(server.gets).to.have.length(2);
    });

    it('should end a wait that joined a slower call at its own deadline, leaving that call running', async () => {
      const gate = newGate();
      server.reply = async (id) => {
        await gate.opened;
        return { body: sampleResult(id) };
      };
      const first = client.getResult('joined');
      await server.arrived(1);
      const err = await rejection(client.waitForResult('joined', { timeout: 200 }));
      expect(err.code).to.equal('ERR_ZIGNSEC_TIMEOUT');
      expect(server.cancelled).to.equal(0);
      gate.open();
      expect((await first).providerData?.sub).to.equal(SUB);
      expect(server.gets).to.have.length(1);
    });
  });

  describe('HTTP request (unit, nock)', () => {
    afterEach(() => {
      nock.cleanAll();
    });

    it('should send the access token raw in Authorization and ask for JSON', async () => {
      const scope = nock('https://test.zignsec.com', {
        reqheaders: { authorization: API_KEY, accept: 'application/json' },
      })
        .get('/v3/eid/itsme/nock-id')
        .reply(200, sampleResult('nock-id'));
      const result = await new ItsMeClient({ apiKey: API_KEY }).getResult('nock-id');
      expect(result.providerData?.sub).to.equal(SUB);
      expect(scope.isDone()).to.equal(true);
    });

    it('should use the production host for environment production', async () => {
      const scope = nock('https://api.zignsec.com').get('/v3/eid/itsme/prod-id').reply(200, sampleResult('prod-id'));
      await new ItsMeClient({ apiKey: API_KEY, environment: 'production' }).getResult('prod-id');
      expect(scope.isDone()).to.equal(true);
    });
  });
});
