import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { expect } from 'chai';
import express from 'express';
import express4 from 'express4';
import {
  createWebhookHandler,
  ItsMeClient,
  type ItsMeProfile,
  type ItsMeResult,
  keepRawBody,
  MemorySeenStore,
  type SeenStore,
  signWebhook,
  verifyWebhookSignature,
  type WebhookHandlerOptions,
} from '../lib/index.js';
import { ReadGuard } from '../lib/webhook/guard.js';
import { type Listening, listen } from './support/http.js';
import { sampleResult, ZignSecStub } from './support/zignsec-stub.js';

const SUB = '1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9';
const SECRET = 'whsec-test-6c1f0e2d';
const PATH = '/webhooks/zignsec';

type Parser = 'none' | 'json' | 'json-raw' | 'raw';

interface Delivery {
  result: ItsMeResult;
  profile: ItsMeProfile | null;
}

interface Receiver {
  url: string;
  delivered: Delivery[];
  errors: unknown[];
  close(): Promise<void>;
}

interface Reply {
  status: number;
  text: string;
  json: Record<string, unknown> | null;
}

/** A real Express 5 app with the webhook route, behind the chosen body parser. */
async function startReceiver(
  parser: Parser,
  options: Partial<WebhookHandlerOptions> & { apiKey?: string; baseURL?: string },
): Promise<Receiver> {
  const app = express();
  const delivered: Delivery[] = [];
  const errors: unknown[] = [];
  if (parser === 'json') app.use(express.json());
  if (parser === 'json-raw') app.use(express.json({ verify: keepRawBody }));
  if (parser === 'raw') app.use(express.raw({ type: '*/*' }));
  app.post(
    PATH,
    createWebhookHandler({
      onResult: (result, profile) => {
        delivered.push({ result, profile });
      },
      onError: (err) => {
        errors.push(err);
      },
      ...options,
    }),
  );
  app.use(
    (err: Error & { status?: number }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(err.status ?? 500).json({ error: err.message });
    },
  );
  const server: Listening = await listen(app);
  return { url: `${server.url}${PATH}`, delivered, errors, close: () => server.close() };
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = null;
  }
  return { status: response.status, text, json };
}

function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

const forged = (id: string) =>
  sampleResult(id, {
    identity: { firstName: 'Mallory', lastName: 'Forger', personalNumber: '99999999999' },
    providerData: JSON.stringify({ sub: 'forged-sub', given_name: 'Mallory', family_name: 'Forger', name: 'Mallory' }),
  });

describe('webhook receiver', () => {
  let stub: ZignSecStub;
  const receivers: Receiver[] = [];
  const replies: string[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  const receiver = async (parser: Parser, options: Partial<WebhookHandlerOptions> = {}) => {
    const r = await startReceiver(parser, { apiKey: stub.apiKey, baseURL: stub.url, ...options });
    receivers.push(r);
    return r;
  };
  const deliver = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
    const reply = await post(url, body, headers);
    replies.push(reply.text);
    return reply;
  };

  before(() => {
    process.on('unhandledRejection', onUnhandled);
  });
  after(() => {
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).to.deep.equal([]);
    for (const text of replies) expect(text).not.to.include(stub.apiKey);
  });
  beforeEach(async () => {
    stub = await new ZignSecStub('webhook-api-key-7d3b1c').start();
  });
  afterEach(async () => {
    for (const r of receivers.splice(0)) await r.close();
    await stub.close();
  });

  for (const parser of ['none', 'json'] as const) {
    describe(parser === 'none' ? 'delivery without a body parser' : 'delivery behind express.json()', () => {
      it('should hand onResult the result read back from ZignSec and answer 200', async () => {
        const r = await receiver(parser);
        const reply = await deliver(r.url, sampleResult('session-ok'));
        expect(reply.status).to.equal(200);
        expect(reply.json).to.deep.equal({ status: 'ok', id: 'session-ok' });
        expect(stub.gets).to.deep.equal(['session-ok']);
        expect(r.delivered).to.have.length(1);
        expect(r.delivered[0]?.result.id).to.equal('session-ok');
        expect(r.delivered[0]?.profile?.id).to.equal(SUB);
        expect(r.delivered[0]?.profile?.name).to.deep.equal({ givenName: 'Florent', familyName: 'Verschueren' });
      });

      it("should give onResult ZignSec's identity, never the one in a forged body", async () => {
        const r = await receiver(parser);
        const reply = await deliver(r.url, forged('session-forged'));
        expect(reply.status).to.equal(200);
        const seen = JSON.stringify(r.delivered);
        expect(r.delivered[0]?.profile?.id).to.equal(SUB);
        expect(r.delivered[0]?.result.providerData?.sub).to.equal(SUB);
        expect(seen).not.to.include('Mallory');
        expect(seen).not.to.include('forged-sub');
        expect(seen).not.to.include('99999999999');
      });

      it('should call onResult for nothing when the posted id is unknown to ZignSec', async () => {
        stub.results.set('unknown-id', [{ status: 404, body: { errors: [{ code: 'SESSION_NOT_FOUND' }] } }]);
        stub.results.set('unknown-200', [{ body: { errors: [{ code: 'SESSION_NOT_FOUND' }] } }]);
        const r = await receiver(parser);
        expect((await deliver(r.url, forged('unknown-id'))).status).to.equal(404);
        expect((await deliver(r.url, forged('unknown-200'))).status).to.equal(404);
        expect(r.delivered).to.deep.equal([]);
      });

      it('should answer 202 without onResult while the session is pending, and deliver once finished', async () => {
        stub.results.set('later', [
          { body: { id: 'later', state: 'Pending', errors: [] } },
          { body: sampleResult('later') },
        ]);
        const r = await receiver(parser);
        const first = await deliver(r.url, forged('later'));
        expect(first.status).to.equal(202);
        expect(first.json).to.deep.equal({ status: 'pending', id: 'later' });
        expect(r.delivered).to.deep.equal([]);
        const second = await deliver(r.url, forged('later'));
        expect(second.status).to.equal(200);
        expect(r.delivered.map((d) => d.profile?.id)).to.deep.equal([SUB]);
      });

      it('should call onResult once for a duplicate delivery and answer it 200 without asking ZignSec', async () => {
        const r = await receiver(parser);
        expect((await deliver(r.url, { id: 'dup' })).status).to.equal(200);
        const again = await deliver(r.url, { id: 'dup' });
        expect(again.status).to.equal(200);
        expect(again.json).to.deep.equal({ status: 'duplicate', id: 'dup' });
        expect(r.delivered).to.have.length(1);
        expect(stub.gets).to.deep.equal(['dup']);
      });

      it('should call onResult once when duplicates arrive at the same time', async () => {
        const release = gate();
        const delivered: string[] = [];
        const r = await receiver(parser, {
          onResult: async (result) => {
            await release.wait;
            delivered.push(result.id);
          },
        });
        const all = Promise.all(Array.from({ length: 8 }, () => deliver(r.url, { id: 'burst' })));
        while (stub.gets.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        await new Promise((resolve) => setTimeout(resolve, 50));
        release.open();
        const statuses = (await all).map((reply) => reply.status);
        expect(statuses).to.deep.equal(Array(8).fill(200));
        expect(delivered).to.deep.equal(['burst']);
        expect(stub.gets).to.deep.equal(['burst']);
      });

      it('should answer 500 when onResult throws, and call it again on the retry', async () => {
        let calls = 0;
        const r = await receiver(parser, {
          onResult: async (_result, profile) => {
            calls += 1;
            if (calls === 1) throw new Error('database down');
            if (calls === 2) await Promise.reject(new Error('still down'));
            expect(profile?.id).to.equal(SUB);
          },
        });
        const first = await deliver(r.url, { id: 'retry-me' });
        expect(first.status).to.equal(500);
        expect(first.text).not.to.include('database down');
        expect((await deliver(r.url, { id: 'retry-me' })).status).to.equal(500);
        expect((await deliver(r.url, { id: 'retry-me' })).status).to.equal(200);
        expect((await deliver(r.url, { id: 'retry-me' })).json?.status).to.equal('duplicate');
        expect(calls).to.equal(3);
        expect(r.errors.map((e) => (e as Error).message)).to.deep.equal(['database down', 'still down']);
      });

      it('should hand a cancelled result to onResult with its errors and a null profile', async () => {
        stub.results.set('cancelled', [
          { body: { id: 'cancelled', state: 'Finished', errors: [{ code: 'USER_CANCEL', description: 'x' }] } },
        ]);
        const r = await receiver(parser);
        expect((await deliver(r.url, { id: 'cancelled' })).status).to.equal(200);
        expect(r.delivered).to.have.length(1);
        expect(r.delivered[0]?.profile).to.equal(null);
        expect(r.delivered[0]?.result.errors).to.deep.equal([{ code: 'USER_CANCEL', description: 'x' }]);
      });

      it('should hand a finished result without a subject to onResult with a null profile', async () => {
        stub.results.set('no-sub', [
          { body: sampleResult('no-sub', { providerData: JSON.stringify({ name: 'X' }), identity: {} }) },
        ]);
        const r = await receiver(parser);
        expect((await deliver(r.url, { id: 'no-sub' })).status).to.equal(200);
        expect(r.delivered[0]?.profile).to.equal(null);
        expect(r.delivered[0]?.result.state).to.equal('Finished');
        expect(r.errors).to.deep.equal([]);
      });

      it('should answer 400 for a body that is not JSON or holds no usable id, without asking ZignSec', async () => {
        const r = await receiver(parser);
        for (const body of ['not json', '{"id":', '[]', '"abc"', '{}', '{"id":42}', '{"id":"../etc"}', '{"id":""}']) {
          const reply = await deliver(r.url, body);
          expect(reply.status, body).to.equal(400);
        }
        expect(stub.gets).to.deep.equal([]);
        expect(r.delivered).to.deep.equal([]);
      });

      it('should answer 413 for a body that is too large', async () => {
        const r = await receiver(parser, { maxBodySize: 4096 });
        const big = { id: 'big', padding: 'x'.repeat(200_000) };
        expect((await deliver(r.url, big)).status).to.equal(413);
        expect(stub.gets).to.deep.equal([]);
        expect((await deliver(r.url, { id: 'small' })).status).to.equal(200);
      });

      it('should answer 502 when ZignSec fails, without onResult, and deliver on the retry', async () => {
        stub.results.set('flaky', [{ status: 503, body: { errors: [] } }, { body: sampleResult('flaky') }]);
        const r = await receiver(parser);
        expect((await deliver(r.url, { id: 'flaky' })).status).to.equal(502);
        expect(r.delivered).to.deep.equal([]);
        expect((await deliver(r.url, { id: 'flaky' })).status).to.equal(200);
        expect(r.delivered).to.have.length(1);
      });
    });
  }

  describe('signatures', () => {
    const now = () => Math.floor(Date.now() / 1000);
    const header = 'X-ZignSec-Hmac-SHA256';

    it('should accept a hex signature keyed with the access token and refuse a wrong one without a fetch', async () => {
      const r = await receiver('none', { signature: 'hex' });
      const body = JSON.stringify(sampleResult('signed-hex'));
      const bad = await deliver(r.url, body, { [header]: signWebhook(body, 'another-key') });
      expect(bad.status).to.equal(401);
      expect(stub.gets).to.deep.equal([]);
      const good = await deliver(r.url, body, { [header]: signWebhook(body, stub.apiKey) });
      expect(good.status).to.equal(200);
      expect(r.delivered).to.have.length(1);
    });

    it('should refuse a missing signature, a malformed one, and a valid one over another body', async () => {
      const r = await receiver('none', { signature: true });
      const body = JSON.stringify({ id: 'tampered' });
      const other = JSON.stringify({ id: 'tampered', extra: 1 });
      const cases: Record<string, string>[] = [
        {},
        { [header]: 'not-hex' },
        { [header]: `${signWebhook(body, stub.apiKey).slice(0, 63)}g` },
        { [header]: signWebhook(other, stub.apiKey) },
        { [header]: `t=${now()},v1=${'0'.repeat(64)}` },
      ];
      for (const headers of cases) {
        const reply = await deliver(r.url, body, headers);
        expect(reply.status, JSON.stringify(headers)).to.equal(401);
      }
      expect(stub.gets).to.deep.equal([]);
      expect(r.delivered).to.deep.equal([]);
    });

    it('should accept a timestamped signature keyed with the secret and refuse a stale or future one', async () => {
      const r = await receiver('none', { secret: SECRET });
      const body = JSON.stringify({ id: 'signed-ts' });
      for (const t of [now() - 301, now() + 600]) {
        const reply = await deliver(r.url, body, { [header]: signWebhook(body, SECRET, { timestamp: t }) });
        expect(reply.status).to.equal(401);
        expect(reply.json?.error).to.match(/stale/);
      }
      const wrongKey = await deliver(r.url, body, { [header]: signWebhook(body, stub.apiKey, { timestamp: now() }) });
      expect(wrongKey.status).to.equal(401);
      expect(stub.gets).to.deep.equal([]);
      const good = await deliver(r.url, body, { [header]: signWebhook(body, SECRET, { timestamp: now() - 10 }) });
      expect(good.status).to.equal(200);
      expect(r.delivered.map((d) => d.profile?.id)).to.deep.equal([SUB]);
    });

    it('should honour a custom tolerance', async () => {
      const r = await receiver('none', { secret: SECRET, tolerance: 3600 });
      const body = JSON.stringify({ id: 'old-but-ok' });
      const reply = await deliver(r.url, body, { [header]: signWebhook(body, SECRET, { timestamp: now() - 1800 }) });
      expect(reply.status).to.equal(200);
    });

    it('should refuse the hex form when only the timestamped form is allowed', async () => {
      const r = await receiver('none', { secret: SECRET, signature: 'timestamped' });
      const body = JSON.stringify({ id: 'downgrade' });
      expect((await deliver(r.url, body, { [header]: signWebhook(body, SECRET) })).status).to.equal(401);
      const ok = await deliver(r.url, body, { [header]: signWebhook(body, SECRET, { timestamp: now() }) });
      expect(ok.status).to.equal(200);
    });

    it('should answer 500 with a clear message, and never fetch, when express.json() hid the raw body', async () => {
      const r = await receiver('json', { signature: true });
      const body = JSON.stringify({ id: 'no-raw' });
      const reply = await deliver(r.url, body, { [header]: signWebhook(body, stub.apiKey) });
      expect(reply.status).to.equal(500);
      expect(reply.json?.error)
        .to.match(/raw request body/)
        .and.match(/keepRawBody/);
      expect(stub.gets).to.deep.equal([]);
      expect(r.errors).to.have.length(1);
    });

    for (const parser of ['json-raw', 'raw'] as const) {
      it(`should check signatures behind ${parser === 'raw' ? 'express.raw()' : 'express.json({ verify: keepRawBody })'}`, async () => {
        const r = await receiver(parser, { signature: true });
        const body = JSON.stringify({ id: `behind-${parser}` });
        expect((await deliver(r.url, body, { [header]: signWebhook(`${body} `, stub.apiKey) })).status).to.equal(401);
        expect((await deliver(r.url, body, { [header]: signWebhook(body, stub.apiKey) })).status).to.equal(200);
        expect(r.delivered).to.have.length(1);
      });
    }
  });

  describe('robustness', () => {
    it('should answer 503 and call nothing when the seen-store throws', async () => {
      const broken: SeenStore = {
        claim: () => Promise.reject(new Error('redis down')),
        complete: () => undefined,
        release: () => undefined,
      };
      const r = await receiver('none', { seenStore: broken });
      expect((await deliver(r.url, { id: 'store-down' })).status).to.equal(503);
      expect(r.delivered).to.deep.equal([]);
      expect(stub.gets).to.deep.equal([]);
      expect((r.errors[0] as Error).message).to.equal('redis down');
    });

    it('should still answer 200 when onResult ran but the seen-store failed to record it', async () => {
      const store = new MemorySeenStore();
      const flaky: SeenStore = {
        claim: (id, ttl) => store.claim(id, ttl),
        complete: () => {
          throw new Error('write failed');
        },
        release: (id) => store.release(id),
      };
      const r = await receiver('none', { seenStore: flaky });
      expect((await deliver(r.url, { id: 'unrecorded' })).status).to.equal(200);
      expect(r.delivered).to.have.length(1);
      expect((r.errors[0] as Error).message).to.equal('write failed');
    });

    it('should answer 409 while another process holds the claim, then duplicate once it is done', async () => {
      const shared = new MemorySeenStore();
      const release = gate();
      const a = await receiver('none', { seenStore: shared, onResult: () => release.wait });
      const b = await receiver('none', { seenStore: shared });
      const first = deliver(a.url, { id: 'two-processes' });
      while (stub.gets.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      expect((await deliver(b.url, { id: 'two-processes' })).status).to.equal(409);
      release.open();
      expect((await first).status).to.equal(200);
      expect((await deliver(b.url, { id: 'two-processes' })).json?.status).to.equal('duplicate');
      expect(b.delivered).to.deep.equal([]);
    });

    it('should answer 502 when ZignSec refuses the API key, with the key in no reply or log line', async () => {
      const logged: string[] = [];
      const original = console.error;
      console.error = (...args: unknown[]) => {
        logged.push(args.map(String).join(' '));
      };
      try {
        const app = express();
        app.post(PATH, createWebhookHandler({ apiKey: 'wrong-key-5a9e', baseURL: stub.url, onResult: () => {} }));
        const server = await listen(app);
        const reply = await post(`${server.url}${PATH}`, { id: 'refused' });
        await server.close();
        expect(reply.status).to.equal(502);
        expect(reply.text).not.to.include('wrong-key-5a9e');
        expect(logged).to.have.length(1);
        expect(logged[0]).to.match(/HTTP 401/);
        expect(logged.join('\n')).not.to.include('wrong-key-5a9e');
      } finally {
        console.error = original;
      }
    });

    it('should survive a throwing onError and a throwing onResult together', async () => {
      const r = await receiver('none', {
        onResult: () => {
          throw new Error('boom');
        },
        onError: () => {
          throw new Error('logger broken');
        },
      });
      expect((await deliver(r.url, { id: 'double-fault' })).status).to.equal(500);
      expect((await deliver(r.url, { id: 'after-fault' })).status).to.equal(500);
    });

    it('should survive an async onError that rejects, leaving no unhandled rejection', async () => {
      const unhandled: unknown[] = [];
      const record = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', record);
      try {
        const r = await receiver('none', {
          onResult: () => {
            throw new Error('boom');
          },
          onError: async () => {
            throw new Error('log shipper unavailable');
          },
        });
        expect((await deliver(r.url, { id: 'async-fault' })).status).to.equal(500);
        await new Promise((resolve) => setImmediate(resolve));
        expect((await deliver(r.url, { id: 'after-async-fault' })).status).to.equal(500);
        expect(unhandled).to.deep.equal([]);
      } finally {
        process.off('unhandledRejection', record);
      }
    });

    it('should keep polling a session that is not final yet for up to pendingTimeout', async () => {
      const pending = (id: string) => ({ body: { id, state: 'Pending', errors: [] } });
      stub.results.set('soon', [pending('soon'), pending('soon'), { body: sampleResult('soon') }]);
      stub.results.set('never', [pending('never')]);
      const patient = await receiver('none', { pendingTimeout: 10_000 });
      expect((await deliver(patient.url, { id: 'soon' })).status).to.equal(200);
      expect(patient.delivered.map((d) => d.profile?.id)).to.deep.equal([SUB]);
      expect(stub.gets.filter((id) => id === 'soon')).to.have.length(3);
      const brief = await receiver('none', { pendingTimeout: 1500 });
      const never = await deliver(brief.url, { id: 'never' });
      expect(never.status).to.equal(202);
      expect(stub.gets.filter((id) => id === 'never').length).to.be.greaterThan(1);
      expect(brief.delivered).to.deep.equal([]);
    });

    it('should work on Express 4, with and without express.json() in front', async () => {
      for (const parsed of [false, true]) {
        const delivered: string[] = [];
        const app = express4();
        if (parsed) app.use(express4.json());
        app.post(
          PATH,
          createWebhookHandler({
            apiKey: stub.apiKey,
            baseURL: stub.url,
            onResult: (_result, profile) => void delivered.push(profile?.id ?? ''),
          }),
        );
        const server = await listen(app);
        const ok = await post(`${server.url}${PATH}`, forged(`express4-${parsed}`));
        const bad = await post(`${server.url}${PATH}`, '{"no":"id"}');
        await server.close();
        expect([ok.status, bad.status], `express.json(): ${parsed}`).to.deep.equal([200, 400]);
        expect(delivered).to.deep.equal([SUB]);
      }
    });

    it('should answer 405 to anything but POST', async () => {
      const app = express();
      app.use(PATH, createWebhookHandler({ apiKey: stub.apiKey, baseURL: stub.url, onResult: () => {} }));
      const server = await listen(app);
      const response = await fetch(`${server.url}${PATH}`);
      await server.close();
      expect(response.status).to.equal(405);
      expect(response.headers.get('allow')).to.equal('POST');
    });

    it('should work as a plain node:http listener with a shared client', async () => {
      const delivered: string[] = [];
      const client = new ItsMeClient({ apiKey: stub.apiKey, baseURL: stub.url });
      const server = await listen(
        createWebhookHandler({ client, onResult: (result) => void delivered.push(result.providerData?.sub ?? '') }),
      );
      const reply = await post(server.url, { id: 'plain-node' });
      await server.close();
      expect(reply.status).to.equal(200);
      expect(delivered).to.deep.equal([SUB]);
    });

    it('should give onResult the request', async () => {
      let seen: IncomingMessage | undefined;
      const r = await receiver('none', {
        onResult: (_result, _profile, req) => {
          seen = req;
        },
      });
      await deliver(r.url, { id: 'with-req' });
      expect(seen?.headers['content-type']).to.equal('application/json');
    });

    it('should refuse bad options with a TypeError naming them', () => {
      const base = { apiKey: 'k', onResult: () => {} };
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ apiKey: 'k' }, /onResult/],
        [{ onResult: () => {} }, /apiKey/],
        [{ ...base, secret: '' }, /secret/],
        [{ ...base, signature: 'sha1' }, /signature/],
        [{ ...base, tolerance: -1 }, /tolerance/],
        [{ ...base, maxBodySize: 0 }, /maxBodySize/],
        [{ ...base, seenTtl: 1.5 }, /seenTtl/],
        [{ ...base, pendingTimeout: -5 }, /pendingTimeout/],
        [{ ...base, pendingTimeout: 1.5 }, /pendingTimeout/],
        [{ ...base, pendingTimeout: 2 ** 31 }, /pendingTimeout/],
        [{ ...base, seenStore: {} }, /seenStore/],
        [{ ...base, client: {} }, /client/],
        [{ ...base, baseURL: 'nope' }, /baseURL/],
        [{ onResult: () => {}, client: new ItsMeClient({ apiKey: 'k' }), signature: true }, /secret or an apiKey/],
      ];
      for (const [options, message] of cases) {
        expect(() => createWebhookHandler(options as unknown as WebhookHandlerOptions), String(message))
          .to.throw(TypeError)
          .with.property('message')
          .that.matches(message);
      }
    });
  });

  describe('abuse without a signature', () => {
    const unknownSession = (id: string) => {
      stub.results.set(id, [{ status: 404, body: { errors: [{ code: 'SESSION_NOT_FOUND' }] } }]);
    };
    /** Posts `count` bodies, `batch` at a time, and returns the statuses in order. */
    const flood = async (url: string, ids: string[], count: number, batch = 25): Promise<number[]> => {
      const statuses: number[] = [];
      for (let sent = 0; sent < count; sent += batch) {
        const round = Array.from({ length: Math.min(batch, count - sent) }, (_, i) => ids[(sent + i) % ids.length]);
        for (const reply of await Promise.all(round.map((id) => post(url, { id })))) statuses.push(reply.status);
      }
      return statuses;
    };

    it('should read 300 posts of 3 unknown ids from ZignSec 3 times, and answer every one 404', async () => {
      const r = await receiver('none');
      const ids = ['forged-a', 'forged-b', 'forged-c'];
      for (const id of ids) unknownSession(id);
      const statuses = await flood(r.url, ids, 300);
      expect(statuses).to.have.length(300);
      expect(new Set(statuses)).to.deep.equal(new Set([404]));
      expect(stub.gets).to.have.length(3);
      expect([...stub.gets].sort()).to.deep.equal(ids);
      expect(r.delivered).to.deep.equal([]);
    });

    it('should cap reads of one not-final id per minute and answer the rest 429 with Retry-After', async () => {
      const r = await receiver('none');
      stub.results.set('still-pending', [{ body: { id: 'still-pending', state: 'Pending', errors: [] } }]);
      const statuses = await flood(r.url, ['still-pending'], 100, 1);
      expect(stub.gets).to.have.length(6);
      expect(statuses.filter((status) => status === 202)).to.have.length(6);
      expect(statuses.filter((status) => status === 429)).to.have.length(94);
      const refused = await fetch(r.url, { method: 'POST', body: JSON.stringify({ id: 'still-pending' }) });
      expect(refused.status).to.equal(429);
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).to.be.within(1, 60);
      expect(stub.gets).to.have.length(6);
    });

    it('should cap reads of an id whose read keeps failing, as maxReadsPerMinute says', async () => {
      const r = await receiver('none', { maxReadsPerMinute: 2, timeout: 500 });
      stub.results.set('zignsec-down', [{ status: 400, body: { errors: [{ code: 'INVALID_REQUEST' }] } }]);
      const statuses = await flood(r.url, ['zignsec-down'], 20, 1);
      expect(stub.gets).to.have.length(2);
      expect(statuses.filter((status) => status === 502)).to.have.length(2);
      expect(statuses.filter((status) => status === 429)).to.have.length(18);
    });

    it('should keep the cap per id, so a flood of one id does not stop the delivery of another', async () => {
      const r = await receiver('none');
      stub.results.set('flooded', [{ body: { id: 'flooded', state: 'Pending', errors: [] } }]);
      await flood(r.url, ['flooded'], 50, 10);
      const real = await deliver(r.url, sampleResult('real-session'));
      expect(real.status).to.equal(200);
      expect(r.delivered.map((d) => d.result.id)).to.deep.equal(['real-session']);
    });

    it('should not let a post of a not-final id make the real delivery that follows be lost', async () => {
      const r = await receiver('none');
      const id = 'raced-session';
      stub.results.set(id, [{ body: { id, state: 'Pending', errors: [] } }, { body: sampleResult(id) }]);
      expect((await post(r.url, { id })).status).to.equal(202);
      expect((await deliver(r.url, sampleResult(id))).status).to.equal(200);
      expect(r.delivered).to.have.length(1);
    });

    it('should answer a handled session as a duplicate without a new read, however often it is posted', async () => {
      const r = await receiver('none');
      await deliver(r.url, sampleResult('done-session'));
      const statuses = await flood(r.url, ['done-session'], 50, 10);
      expect(new Set(statuses)).to.deep.equal(new Set([200]));
      expect(stub.gets).to.deep.equal(['done-session']);
      expect(r.delivered).to.have.length(1);
    });

    it('should remember a bounded number of ids, forgetting the oldest first', () => {
      const guard = new ReadGuard<string>({ max: 100 });
      const now = Date.now();
      for (let i = 0; i < 5000; i++) {
        guard.read(`id-${i}`, now);
        guard.rememberUnknown(`id-${i}`, '404', now);
      }
      expect(guard.size).to.be.at.most(100);
      expect(guard.recall('id-4999', now)).to.equal('404');
      expect(guard.recall('id-0', now)).to.equal(undefined);
      expect(guard.recall('id-4999', now + 60_001), 'an unknown answer lapses after a minute').to.equal(undefined);
    });

    it('should refill reads evenly, one every minute / maxReadsPerMinute', () => {
      const guard = new ReadGuard<string>({ maxReadsPerMinute: 2 });
      const now = Date.now();
      expect([guard.read('x', now), guard.read('x', now + 1)]).to.deep.equal([0, 0]);
      expect(guard.read('x', now + 10_000)).to.be.within(19_000, 20_001);
      expect(guard.read('x', now + 30_001)).to.equal(0);
      expect(guard.read('x', now + 30_002)).to.be.greaterThan(29_000);
    });

    it('should let a delivery through 10 s after a burst of posts by someone who knows the id', () => {
      const guard = new ReadGuard<string>({ maxReadsPerMinute: 6 });
      const now = Date.now();
      for (let i = 0; i < 6; i++) expect(guard.read('victim', now + i)).to.equal(0);
      expect(guard.read('victim', now + 7)).to.be.greaterThan(9_000);
      expect(guard.read('victim', now + 10_010), 'one read is back after 10 s, not after a minute').to.equal(0);
    });

    for (const value of [0, -1, 1.5, Number.NaN]) {
      it(`should throw a TypeError naming maxReadsPerMinute for ${value}`, () => {
        expect(() => createWebhookHandler({ apiKey: 'k-0123', onResult: () => {}, maxReadsPerMinute: value })).to.throw(
          TypeError,
          /maxReadsPerMinute option must be a positive integer/,
        );
      });
    }
  });

  describe('MemorySeenStore', () => {
    it('should claim once, report busy, then done, and forget a released claim', () => {
      const store = new MemorySeenStore();
      expect(store.claim('a', 60_000)).to.equal('claimed');
      expect(store.claim('a', 60_000)).to.equal('busy');
      store.release('a');
      expect(store.claim('a', 60_000)).to.equal('claimed');
      store.complete('a', 60_000);
      expect(store.claim('a', 60_000)).to.equal('done');
      store.release('a');
      expect(store.claim('a', 60_000)).to.equal('done');
    });

    it('should forget ids once their time is up', async () => {
      const store = new MemorySeenStore();
      store.complete('short', 20);
      store.claim('crashed', 20);
      await new Promise((resolve) => setTimeout(resolve, 40));
      expect(store.claim('short', 60_000)).to.equal('claimed');
      expect(store.claim('crashed', 60_000)).to.equal('claimed');
    });

    it('should hold at most max ids, forgetting the oldest', () => {
      const store = new MemorySeenStore({ max: 3 });
      for (const id of ['1', '2', '3', '4', '5']) store.complete(id, 60_000);
      expect(store.size).to.equal(3);
      expect(store.claim('1', 60_000)).to.equal('claimed');
      expect(store.claim('5', 60_000)).to.equal('done');
      expect(store.size).to.equal(3);
    });
  });

  describe('signature helpers', () => {
    const body = Buffer.from('{"id":"x"}');

    it('should verify both forms and say why a header is refused', () => {
      const t = 1_700_000_000;
      expect(verifyWebhookSignature(signWebhook(body, 'k'), body, 'k')).to.deep.equal({ ok: true, format: 'hex' });
      expect(verifyWebhookSignature(signWebhook(body, 'k').toUpperCase(), body, 'k').ok).to.equal(true);
      expect(
        verifyWebhookSignature(signWebhook(body, 'k', { timestamp: t }), body, 'k', { now: t + 299 }),
      ).to.deep.equal({ ok: true, format: 'timestamped' });
      const reasons = [
        verifyWebhookSignature(undefined, body, 'k'),
        verifyWebhookSignature(['a', 'b'], body, 'k'),
        verifyWebhookSignature('t=1,v1=zz', body, 'k'),
        verifyWebhookSignature(`t=1,t=2,v1=${'a'.repeat(64)}`, body, 'k'),
        verifyWebhookSignature(signWebhook(body, 'other'), body, 'k'),
        verifyWebhookSignature(signWebhook(body, 'k', { timestamp: t }), body, 'k', { now: t + 301 }),
        verifyWebhookSignature(signWebhook(body, 'k'), body, 'k', { format: 'timestamped' }),
      ].map((check) => (check.ok ? 'ok' : check.reason));
      expect(reasons).to.deep.equal(['missing', 'malformed', 'malformed', 'malformed', 'mismatch', 'stale', 'format']);
    });

    it('should refuse every signature, never throwing, when its settings cannot be checked safely', () => {
      const t = 1_700_000_000;
      // An HMAC under the empty key: what an app with `process.env.SECRET ?? ''` and no SECRET would accept.
      const emptyKeyed = createHmac('sha256', '').update(body).digest('hex');
      const stale = signWebhook(body, 'k', { timestamp: 1_000_000 });
      const checks = [
        verifyWebhookSignature(emptyKeyed, body, ''),
        verifyWebhookSignature(signWebhook(body, 'k'), body, undefined as unknown as string),
        verifyWebhookSignature(stale, body, 'k', { now: t, tolerance: Number('300s') }),
        verifyWebhookSignature(stale, body, 'k', { now: t, tolerance: Number.POSITIVE_INFINITY }),
        verifyWebhookSignature(stale, body, 'k', { now: Number.NaN }),
        verifyWebhookSignature(signWebhook(body, 'k'), body, 'k', { format: 'timestamp' as 'timestamped' }),
      ].map((check) => (check.ok ? 'ok' : check.reason));
      expect(checks).to.deep.equal(['format', 'format', 'format', 'format', 'format', 'format']);
      // A key read from a file as bytes is a key; an empty one is not.
      expect(verifyWebhookSignature(signWebhook(body, 'k'), body, Buffer.from('k') as unknown as string).ok).to.equal(
        true,
      );
      expect(verifyWebhookSignature(emptyKeyed, body, Buffer.alloc(0) as unknown as string)).to.deep.equal({
        ok: false,
        reason: 'format',
      });
      // The same headers pass with sound settings, so it is the settings that were refused.
      expect(verifyWebhookSignature(stale, body, 'k', { now: 1_000_000 }).ok).to.equal(true);
      expect(verifyWebhookSignature(signWebhook(body, 'k'), body, 'k', { format: 'hex' }).ok).to.equal(true);
    });

    it('should accept a header with several v1 values when one matches', () => {
      const t = 1_700_000_000;
      const good = signWebhook(body, 'k', { timestamp: t }).split('v1=')[1];
      const check = verifyWebhookSignature(`t=${t}, v1=${'0'.repeat(64)}, v1=${good}`, body, 'k', { now: t });
      expect(check.ok).to.equal(true);
    });
  });
});
