import { randomBytes } from 'node:crypto';
import diagnostics_channel from 'node:diagnostics_channel';
import { expect } from 'chai';
import nock from 'nock';
import { CHANNELS, ItsMeClient, ItsMeStrategy, SessionRelayStateStore } from '../lib/index.js';
import { expectKind, fakeRequest, runStrategy } from './support/strategy-run.js';
import { sampleResult } from './support/zignsec-stub.js';

const KEY = 'zs-review-key-9f3e21aa';
const BASE = 'https://zignsec.review.test';
const ID = '5f0c2a9e-1b7d-4c3e-9a8f-0d6e4b2c1a90';
const common = {
  apiKey: KEY,
  callbackURL: 'https://bank.example/cb',
  baseURL: BASE,
  timeout: 2000,
  pendingTimeout: 300,
};

/** The order in which Passport's actions and authenticate's return happen for one request. */
function order(strategy: ItsMeStrategy, req: unknown): Promise<string[]> {
  const seen: string[] = [];
  return new Promise((resolve) => {
    const actions = Object.create(strategy) as ItsMeStrategy & Record<string, unknown>;
    for (const n of ['redirect', 'success', 'fail', 'error', 'pass'])
      actions[n] = () => {
        seen.push(n);
        setImmediate(() => resolve(seen));
      };
    actions.authenticate(req as never, {});
    seen.push('returned');
  });
}

// What a shortcut on the hot path must keep (each of these broke once while one was tried): the
// default store's methods as the app sees them, a read of an id from inside a tracing subscriber, a
// verify answered at once, and Passport's actions after authenticate returned.
describe('fast paths', () => {
  before(() => nock.disableNetConnect());
  afterEach(() => nock.cleanAll());
  after(() => nock.enableNetConnect());

  describe('default store', () => {
    it('should still call a patch or spy on SessionRelayStateStore.prototype.take', async () => {
      const proto = SessionRelayStateStore.prototype;
      const { save, take } = proto;
      const calls: string[] = [];
      proto.save = function (this: SessionRelayStateStore, ...a: Parameters<typeof save>) {
        calls.push('save');
        return save.apply(this, a);
      };
      proto.take = function (this: SessionRelayStateStore, ...a: Parameters<typeof take>) {
        calls.push('take');
        return take.apply(this, a);
      };
      try {
        const strategy = new ItsMeStrategy(common, (_p, done) => done(null, { id: 1 }));
        const session: Record<string, unknown> = {};
        nock(BASE).post('/v3/eid/itsme').reply(200, { id: ID, redirectUrl: 'https://itsme.example/x' });
        const started = await runStrategy(strategy, fakeRequest({ session }));
        expectKind(started, 'redirect');
        const relayState = randomBytes(32).toString('base64url');
        await strategy.store.save(fakeRequest({ session }), relayState, { sessionId: ID, createdAt: Date.now() });
        calls.length = 0;
        nock(BASE).get(`/v3/eid/itsme/${ID}`).reply(200, sampleResult(ID));
        await runStrategy(strategy, fakeRequest({ query: { relaystate: relayState }, session }));
        expect(calls).to.deep.equal(['take']);
      } finally {
        proto.save = save;
        proto.take = take;
      }
    });

    it('should still call a patch or spy on SessionRelayStateStore.prototype.save', async () => {
      const proto = SessionRelayStateStore.prototype;
      const { save } = proto;
      let called = 0;
      proto.save = function (this: SessionRelayStateStore, ...a: Parameters<typeof save>) {
        called += 1;
        return save.apply(this, a);
      };
      try {
        const strategy = new ItsMeStrategy(common, (_p, done) => done(null, { id: 1 }));
        nock(BASE).post('/v3/eid/itsme').reply(200, { id: ID, redirectUrl: 'https://itsme.example/x' });
        expectKind(await runStrategy(strategy, fakeRequest({ session: {} })), 'redirect');
        expect(called).to.equal(1);
      } finally {
        proto.save = save;
      }
    });

    it('should not call a subclass method of the same name as its internal helpers', async () => {
      class Mine extends SessionRelayStateStore {
        saveNow(): void {
          throw new Error('my own helper, not for the base class');
        }
      }
      const store = new Mine();
      const session: Record<string, unknown> = {};
      await store.save(fakeRequest({ session }), randomBytes(32).toString('base64url'), {
        sessionId: ID,
        createdAt: Date.now(),
      });
      expect(session['passport-itsme']).to.be.an('array');
    });
  });

  describe('shared result reads', () => {
    it('should settle a read of the same id started from a zignsec tracing start subscriber', async () => {
      const client = new ItsMeClient({ apiKey: KEY, baseURL: BASE, timeout: 2000 });
      nock(BASE).get(`/v3/eid/itsme/${ID}`).times(2).reply(200, sampleResult(ID));
      let inner: Promise<unknown> | undefined;
      let once = false;
      const handlers = {
        start() {
          if (once) return;
          once = true;
          inner = client.getResult(ID);
        },
        end() {},
        asyncStart() {},
        asyncEnd() {},
        error() {},
      };
      const channel = diagnostics_channel.tracingChannel(CHANNELS.zignsec);
      channel.subscribe(handlers);
      try {
        const outer = await client.getResult(ID);
        expect(outer.id).to.equal(ID);
        const r = await Promise.race([inner, new Promise((res) => setTimeout(() => res('HUNG'), 1000))]);
        expect(r).to.not.equal('HUNG');
      } finally {
        channel.unsubscribe(handlers);
      }
    });
  });

  describe('verify answering at once', () => {
    it('should keep the answer given to done when verify returns an object whose then throws', async () => {
      // pendingTimeout also caps the result GET (lib/polling.ts): 300 ms would not outlast a pause of the process.
      const options = { ...common, pendingTimeout: 5000 };
      const strategy = new ItsMeStrategy(options, ((_p: unknown, done: (e: null, u: object) => void) => {
        done(null, { id: 7 });
        return {
          // biome-ignore lint/suspicious/noThenProperty: the point of the test is an object whose then throws
          get then() {
            throw new Error('not a thenable');
          },
        };
      }) as never);
      const session: Record<string, unknown> = {};
      const relayState = randomBytes(32).toString('base64url');
      await strategy.store.save(fakeRequest({ session }), relayState, { sessionId: ID, createdAt: Date.now() });
      nock(BASE).get(`/v3/eid/itsme/${ID}`).reply(200, sampleResult(ID));
      const outcome = await runStrategy(strategy, fakeRequest({ query: { relaystate: relayState }, session }));
      expectKind(outcome, 'success');
    });
  });

  describe('Passport actions', () => {
    it('should call error only after authenticate returned, when the request has no session', async () => {
      const strategy = new ItsMeStrategy(common, (_p, done) => done(null, { id: 1 }));
      const order: string[] = [];
      const actions = Object.create(strategy) as ItsMeStrategy & Record<string, unknown>;
      let resolve!: () => void;
      const acted = new Promise<void>((r) => {
        resolve = r;
      });
      for (const name of ['redirect', 'success', 'fail', 'error', 'pass'])
        actions[name] = () => {
          order.push(name);
          resolve();
        };
      actions.authenticate(fakeRequest({ session: null }), {});
      order.push('returned');
      await acted;
      expect(order).to.deep.equal(['returned', 'error']);
    });

    it('should fail a used login only after authenticate returned', async () => {
      const strategy = new ItsMeStrategy(common, (_p, done) => done(null, { id: 1 }));
      const session: Record<string, unknown> = {};
      const a = randomBytes(32).toString('base64url');
      const b = randomBytes(32).toString('base64url');
      await strategy.store.save(fakeRequest({ session }), a, { sessionId: ID, createdAt: Date.now() });
      await strategy.store.save(fakeRequest({ session }), b, { sessionId: ID, createdAt: Date.now() });
      // first callback claims the id (its GET fails, we do not care)
      await order(strategy, fakeRequest({ query: { relaystate: a }, session })).catch(() => {});
      expect(await order(strategy, fakeRequest({ query: { relaystate: b }, session }))).to.deep.equal([
        'returned',
        'fail',
      ]);
    });

    it('should call error only after authenticate returned, when startParams throws', async () => {
      class S extends ItsMeStrategy {
        override startParams(): never {
          throw new Error('boom');
        }
      }
      const strategy = new S(common, (_p, done) => done(null, { id: 1 }));
      expect(await order(strategy, fakeRequest({ session: {} }))).to.deep.equal(['returned', 'error']);
    });
  });
});
