import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import express from 'express';
import {
  createWebhookHandler,
  type ItsMeResult,
  MemorySeenStore,
  RedisSeenStore,
  type SeenClaim,
  type SeenKeyClient,
  type SeenSetOptions,
  type SeenStore,
  type WebhookHandlerOptions,
} from '../lib/index.js';
import { type Listening, listen } from './support/http.js';
import { sampleResult } from './support/zignsec-stub.js';

const API_KEY = 'deliveries-api-key-0123456789';

interface Reply {
  status: number;
  text: string;
}

async function post(url: string, body: unknown, signal?: AbortSignal): Promise<Reply> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  return { status: response.status, text: await response.text() };
}

/** A ZignSec stand-in: `GET /v3/eid/itsme/{id}` answered by `answer(id, n)` (n counts from 1). */
async function zignsec(
  answer: (id: string, n: number) => { delay?: number; body: unknown; status?: number },
): Promise<Listening & { gets: string[] }> {
  const gets: string[] = [];
  const server = await listen((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    const match = /^\/v3\/eid\/itsme\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '');
    if (!match || req.headers.authorization !== API_KEY) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"SESSION_NOT_FOUND"}]}');
      return;
    }
    const id = match[1] as string;
    gets.push(id);
    const { delay = 0, body, status = 200 } = answer(id, gets.filter((g) => g === id).length);
    setTimeout(() => {
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    }, delay);
  });
  return Object.assign(server, { gets });
}

/** A SeenKeyClient in memory whose clock the test moves (to stand for minutes passing). */
class FakeRedis implements SeenKeyClient {
  now = 0;
  readonly keys = new Map<string, { value: string; expires: number }>();
  #live(key: string) {
    const entry = this.keys.get(key);
    if (entry && entry.expires <= this.now) this.keys.delete(key);
    return this.keys.get(key);
  }
  async set(key: string, value: string, options: SeenSetOptions): Promise<unknown> {
    if (options.NX && this.#live(key)) return null;
    this.keys.set(key, { value, expires: this.now + options.PX });
    return 'OK';
  }
  async get(key: string): Promise<unknown> {
    return this.#live(key)?.value ?? null;
  }
  async del(key: string): Promise<unknown> {
    return this.keys.delete(key) ? 1 : 0;
  }
}

describe('webhook deliveries', () => {
  const servers: Listening[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  const track = <T extends Listening>(s: T): T => {
    servers.push(s);
    return s;
  };

  /** A webhook handler reading from `apiUrl` with `options`, and what its onResult got. */
  const receiver = (apiUrl: string, options: Partial<WebhookHandlerOptions> = {}) => {
    const delivered: ItsMeResult[] = [];
    const onResult = (result: ItsMeResult) => {
      delivered.push(result);
    };
    const handler = createWebhookHandler({ apiKey: API_KEY, baseURL: apiUrl, onResult, onError: () => {}, ...options });
    return { handler, delivered };
  };

  beforeEach(() => {
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(async () => {
    process.off('unhandledRejection', onUnhandled);
    for (const s of servers.splice(0)) await s.close();
    expect(unhandled, 'unhandled rejections').to.deep.equal([]);
  });

  describe('while another read of the id runs', () => {
    it("should not answer ZignSec's delivery 202 from a not-final read that an attacker's post started before the session finished", async () => {
      // The attacker knows a pending session id (the threat model's "Delayed webhook" attacker) and
      // posts it without a signature. ZignSec answers that read "Pending" (slowly). Meanwhile the
      // person approves and ZignSec posts the real webhook, which joins the attacker's read in flight.
      const id = 'raced-in-flight';
      let finished = false;
      const api = track(
        await zignsec((_id, n) =>
          n === 1
            ? { delay: 400, body: { id, state: 'Pending', errors: [] } }
            : { body: finished ? sampleResult(id) : { id, state: 'Pending', errors: [] } },
        ),
      );
      const { handler, delivered } = receiver(api.url);
      const server = track(await listen(handler));
      const attacker = post(server.url, { id });
      while (api.gets.length === 0) await sleep(5); // the attacker's read has reached ZignSec
      finished = true; // the session is over; ZignSec now delivers its webhook
      const real = await post(server.url, sampleResult(id));
      expect((await attacker).status).to.equal(202);
      // Either onResult ran for the real delivery, or the delivery got a non-2xx that ZignSec retries.
      // A 2xx without onResult means ZignSec stops delivering and the result is lost.
      expect(
        { status: real.status, onResultCalls: delivered.length },
        'the real delivery was answered 2xx without onResult: ZignSec will never deliver it again',
      ).to.satisfy((x: { status: number; onResultCalls: number }) => x.onResultCalls === 1 || x.status >= 300);
    });
  });

  describe('a seen-store call that never settles', () => {
    it('should answer a later delivery of an id once the seen-store works again, after one claim of it never settled', async () => {
      const id = 'store-hung-once';
      const api = track(await zignsec(() => ({ body: sampleResult(id) })));
      const memory = new MemorySeenStore();
      let claims = 0;
      const seenStore: SeenStore = {
        // The first claim never settles (a Redis command queued while the connection was down, a
        // pool that never hands out a connection); every later call works.
        claim: (key, ttl): Promise<SeenClaim> | SeenClaim =>
          ++claims === 1 ? new Promise<SeenClaim>(() => {}) : memory.claim(key, ttl),
        complete: (key, ttl) => memory.complete(key, ttl),
        release: (key) => memory.release(key),
      };
      const { handler, delivered } = receiver(api.url, { timeout: 1000, seenStore });
      const server = track(await listen(handler));
      // ZignSec's first delivery: no answer; ZignSec gives up on it after its own time limit.
      const first = await post(server.url, sampleResult(id), AbortSignal.timeout(500)).then(
        (reply) => reply.status,
        (err: Error) => err.name,
      );
      expect(first).to.equal('TimeoutError');
      // ZignSec's retry arrives while the hung claim is still being waited for: it gets that
      // delivery's answer once the store call has run out of time (503, which ZignSec retries).
      const answer = (reply: Reply) => reply.status;
      const late = (err: Error) => `no answer in 3 s (${err.name})`;
      const retry = await post(server.url, sampleResult(id), AbortSignal.timeout(3000)).then(answer, late);
      expect(retry, 'the retry waits on the first, hung claim').to.equal(503);
      // The next retry, with the store working, is handled.
      const next = await post(server.url, sampleResult(id), AbortSignal.timeout(3000)).then(answer, late);
      expect(next).to.equal(200);
      expect(delivered).to.have.length(1);
    });
  });

  describe('a seen-store call that settles after its time ran out', () => {
    it('should release a claim that came back after timeout, so the next delivery is handled, not 409', async () => {
      // Redis was unreachable: node-redis queued the first claim's SET NX and ran it on reconnect,
      // after the handler had given up on it (timeout 300 ms) and answered 503.
      const id = 'late-claim-session';
      const api = track(await zignsec(() => ({ body: sampleResult(id) })));
      const redis = new FakeRedis();
      let sets = 0;
      let lateSetRan = false;
      const late = async (key: string, value: string, options: SeenSetOptions) => {
        await sleep(600);
        const reply = await redis.set(key, value, options);
        lateSetRan = true;
        return reply;
      };
      const client: SeenKeyClient = {
        set: (key, value, options) => (++sets === 1 ? late(key, value, options) : redis.set(key, value, options)),
        get: (key) => redis.get(key),
        del: (key) => redis.del(key),
      };
      const { handler, delivered } = receiver(api.url, { timeout: 300, seenStore: new RedisSeenStore({ client }) });
      const server = track(await listen(handler));
      expect((await post(server.url, { id })).status, 'the first delivery, the store down').to.equal(503);
      while (!lateSetRan) await sleep(20);
      await sleep(50);
      expect(redis.keys.size, 'the late claim, released').to.equal(0);
      expect((await post(server.url, { id })).status, 'the retry once the store answers again').to.equal(200);
      expect(delivered).to.have.length(1);
    });
  });

  describe('pendingTimeout: 0', () => {
    it('should answer 202 at once for a session not final yet, with one read, as the default does', async () => {
      const id = 'pending-now';
      const api = track(await zignsec(() => ({ body: { id, state: 'Pending', errors: [] } })));
      const { handler, delivered } = receiver(api.url, { pendingTimeout: 0 });
      const server = track(await listen(handler));
      expect((await post(server.url, { id })).status).to.equal(202);
      expect({ reads: api.gets.length, delivered: delivered.length }).to.deep.equal({ reads: 1, delivered: 0 });
    });
  });

  describe('a body read by another parser', () => {
    /** A receiver with `maxBodySize: 1024` behind `parser` (which allows 1 MB), and its ZignSec. */
    async function behind(parser: express.RequestHandler, id: string) {
      const api = track(await zignsec(() => ({ body: sampleResult(id) })));
      const app = express();
      app.use(parser);
      const { handler, delivered } = receiver(api.url, { maxBodySize: 1024 });
      app.post('/webhooks/zignsec', handler);
      const server = track(await listen(app));
      return { api, delivered, url: `${server.url}/webhooks/zignsec` };
    }

    it('should answer 413 for a body over maxBodySize behind express.json() with a larger limit', async () => {
      const id = 'big-body-session';
      const { api, url } = await behind(express.json({ limit: '1mb' }), id);
      const body = { id, padding: 'x'.repeat(64 * 1024) }; // 64 KiB, maxBodySize is 1 KiB
      const reply = await post(url, body);
      expect({ status: reply.status, zignsecReads: api.gets.length }).to.deep.equal({ status: 413, zignsecReads: 0 });
    });

    it('should answer 413 for a chunked body over maxBodySize (no content-length) behind express.json()', async () => {
      const id = 'chunked-body-session';
      const { api, url } = await behind(express.json({ limit: '1mb' }), id);
      const text = JSON.stringify({ id, padding: 'x'.repeat(8192) });
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: new Blob([text]).stream(),
        duplex: 'half',
      } as RequestInit);
      expect({ status: response.status, zignsecReads: api.gets.length }).to.deep.equal({
        status: 413,
        zignsecReads: 0,
      });
    });

    it('should answer 413 for a body over maxBodySize behind express.text(), and handle one within it', async () => {
      const id = 'text-body-session';
      const { api, delivered, url } = await behind(express.text({ type: '*/*', limit: '1mb' }), id);
      const big = await post(url, { id, padding: 'x'.repeat(4096) });
      expect({ status: big.status, zignsecReads: api.gets.length }).to.deep.equal({ status: 413, zignsecReads: 0 });
      const small = await post(url, { id });
      expect({ status: small.status, delivered: delivered.length }).to.deep.equal({ status: 200, delivered: 1 });
    });
  });

  describe('claims across instances', () => {
    it('should run onResult once across two instances sharing a RedisSeenStore when pendingTimeout outlasts the 2-minute claim', async () => {
      // pendingTimeout accepts up to 2^31 - 1 ms, but the claim taken in the shared store lasts 2 min.
      const id = 'slow-to-finish';
      let finished = false;
      const api = track(
        await zignsec(() => ({ body: finished ? sampleResult(id) : { id, state: 'Pending', errors: [] } })),
      );
      const redis = new FakeRedis();
      const delivered: string[] = [];
      const instance = async (name: string) =>
        track(
          await listen(
            createWebhookHandler({
              apiKey: API_KEY,
              baseURL: api.url,
              pendingTimeout: 300_000,
              seenStore: new RedisSeenStore({ client: redis }),
              onResult: () => {
                delivered.push(name);
              },
              onError: () => {},
            }),
          ),
        );
      const [a, b] = [await instance('A'), await instance('B')];
      const onA = post(a.url, { id }); // A claims the id and keeps polling ZignSec (up to 300 s)
      await sleep(300);
      redis.now += 121_000; // two minutes later, A still polling within its pendingTimeout: its claim lapses
      finished = true;
      await post(b.url, { id }); // ZignSec's retry lands on instance B
      await onA;
      expect(delivered, 'onResult ran on both instances').to.have.length(1);
    });
  });
});
