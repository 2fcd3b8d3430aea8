import { randomBytes } from 'node:crypto';
import diagnostics_channel from 'node:diagnostics_channel';
import { expect } from 'chai';
import type { Request } from 'express';
import nock from 'nock';
import {
  CHANNELS,
  ItsMeError,
  type ItsMeProfile,
  ItsMeStrategy,
  type ItsMeStrategyOptions,
  type RelayStateStore,
} from '../lib/index.js';
import { expectKind, fakeRequest, runStrategy } from './support/strategy-run.js';
import { sampleResult } from './support/zignsec-stub.js';

const KEY = 'zs-callback-key-3e8d41f0';
const BASE = 'https://zignsec.callback.test';
const SESSION_ID = '9dc96404-7c0f-4997-bf94-3cd7f9de41b0';
const SUB = '1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9';
const RESULT_PATH = `/v3/eid/itsme/${SESSION_ID}`;

interface Harness {
  strategy: ItsMeStrategy;
  profiles: ItsMeProfile[];
}

function harness(options: Partial<ItsMeStrategyOptions> = {}): Harness {
  const profiles: ItsMeProfile[] = [];
  const strategy = new ItsMeStrategy(
    {
      apiKey: KEY,
      callbackURL: 'https://bank.example/auth/itsme/callback',
      baseURL: BASE,
      timeout: 2000,
      pendingTimeout: 900,
      ...options,
    } as ItsMeStrategyOptions,
    (profile, done) => {
      profiles.push(profile);
      done(null, { id: profile.id, name: profile.displayName });
    },
  );
  return { strategy, profiles };
}

/** A browser session holding one pending login; returns the request of the way back. */
async function returning(
  strategy: ItsMeStrategy,
  sessionId = SESSION_ID,
  via: 'query' | 'body' = 'query',
): Promise<{ req: Request; relayState: string; session: Record<string, unknown> }> {
  const session: Record<string, unknown> = {};
  const relayState = randomBytes(32).toString('base64url');
  await strategy.store.save(fakeRequest({ session }), relayState, { sessionId, createdAt: Date.now() });
  const req =
    via === 'query'
      ? fakeRequest({ query: { relaystate: relayState }, session })
      : fakeRequest({ body: { relaystate: relayState }, session });
  return { req, relayState, session };
}

/** Queues result replies for the session; each GET takes the next one. Returns a GET counter. */
function results(...replies: [number, unknown][]): { count: number } {
  const counter = { count: 0 };
  const scope = nock(BASE);
  for (const [status, body] of replies) {
    scope
      .get(RESULT_PATH)
      .matchHeader('authorization', KEY)
      .reply(() => {
        counter.count += 1;
        return [status, typeof body === 'string' ? body : JSON.stringify(body)];
      });
  }
  return counter;
}

/** The same reply to every GET. */
function alwaysResult(status: number, body: unknown): { count: number } {
  const counter = { count: 0 };
  nock(BASE)
    .persist()
    .get(RESULT_PATH)
    .reply(() => {
      counter.count += 1;
      return [status, typeof body === 'string' ? body : JSON.stringify(body)];
    });
  return counter;
}

const pending = { id: SESSION_ID, state: 'Pending', errors: [] };

describe('callback', () => {
  before(() => nock.disableNetConnect());
  afterEach(() => nock.cleanAll());
  after(() => nock.enableNetConnect());

  describe('finished login', () => {
    it("should log the person in with the document's sample result", async () => {
      const { strategy, profiles } = harness();
      const { req } = await returning(strategy);
      const gets = results([200, sampleResult(SESSION_ID)]);
      const outcome = expectKind(await runStrategy(strategy, req), 'success');
      expect(outcome.user).to.deep.equal({ id: SUB, name: 'Florent Verschueren' });
      expect(gets.count).to.equal(1);
      expect(profiles).to.have.length(1);
      expect(profiles[0]?.provider).to.equal('itsme');
      expect(profiles[0]?.id).to.equal(SUB);
      expect(profiles[0]?.sessionId).to.equal(SESSION_ID);
    });

    it('should complete the login whatever per-login return URLs the callback route gives: they are used at the start only', async () => {
      const { strategy } = harness();
      const { req } = await returning(strategy);
      results([200, sampleResult(SESSION_ID)]);
      const options = { callbackURL: '/not/absolute', errorCallbackURL: 'javascript:alert(1)' };
      const outcome = expectKind(await runStrategy(strategy, req, options), 'success');
      expect(outcome.user).to.deep.equal({ id: SUB, name: 'Florent Verschueren' });
    });

    it('should fail as unknown-login, asking ZignSec nothing and publishing none of it, when a custom store returns a malformed session id', async () => {
      const planted = '\n[INFO] admin logged in';
      const store: RelayStateStore = {
        save: async () => {},
        take: async () => ({ sessionId: planted, createdAt: Date.now() }),
      };
      const { strategy } = harness({ store });
      const events: unknown[] = [];
      const listener = (message: unknown) => events.push(message);
      diagnostics_channel.subscribe(CHANNELS.loginFailure, listener);
      try {
        const outcome = expectKind(
          await runStrategy(strategy, fakeRequest({ query: { relaystate: 'A'.repeat(43) }, session: {} })),
          'fail',
        );
        expect(outcome.status).to.equal(403);
        expect((outcome.challenge as { code?: string }).code).to.equal('unknown-login');
      } finally {
        diagnostics_channel.unsubscribe(CHANNELS.loginFailure, listener);
      }
      expect(events).to.have.length(1);
      expect(JSON.stringify(events)).to.not.include('admin logged in');
    });

    it('should end in error() with ERR_ITSME_STORE_TIMEOUT, asking ZignSec nothing, when a custom store never answers take', async () => {
      const store: RelayStateStore = { save: async () => {}, take: () => new Promise(() => {}) };
      const { strategy, profiles } = harness({ store, timeout: 300 });
      const outcome = expectKind(
        await runStrategy(strategy, fakeRequest({ query: { relaystate: 'A'.repeat(43) }, session: {} })),
        'error',
      );
      expect(outcome.error).to.include({ name: 'ItsMeError', code: 'ERR_ITSME_STORE_TIMEOUT' });
      expect(outcome.error.message).to.equal(
        "store.take did not settle within 300 ms (the strategy's timeout): check the store's backend (Redis down?)",
      );
      expect(profiles).to.have.length(0);
    });

    it("should end in ERR_ITSME_STORE_TIMEOUT, not hang, when a custom store's explain never answers", async () => {
      const store: RelayStateStore = {
        save: async () => {},
        take: async () => undefined,
        explain: () => new Promise(() => {}),
      };
      const { strategy } = harness({ store, timeout: 300 });
      const outcome = expectKind(
        await runStrategy(strategy, fakeRequest({ query: { relaystate: 'A'.repeat(43) }, session: {} })),
        'error',
      );
      expect(outcome.error).to.include({ code: 'ERR_ITSME_STORE_TIMEOUT' });
      expect(outcome.error.message).to.match(/^store\.explain did not settle within 300 ms/);
    });

    it("should fail as unknown-login when a custom store's explain throws", async () => {
      const store: RelayStateStore = {
        save: async () => {},
        take: async () => undefined,
        explain: () => {
          throw new Error('explain is broken');
        },
      };
      const { strategy } = harness({ store, timeout: 300 });
      const outcome = expectKind(
        await runStrategy(strategy, fakeRequest({ query: { relaystate: 'A'.repeat(43) }, session: {} })),
        'fail',
      );
      expect(outcome.status).to.equal(403);
      expect((outcome.challenge as { code?: string }).code).to.equal('unknown-login');
    });

    it('should complete a login whose relaystate comes back in a POST body', async () => {
      const { strategy } = harness();
      const { req } = await returning(strategy, SESSION_ID, 'body');
      results([200, sampleResult(SESSION_ID)]);
      expectKind(await runStrategy(strategy, req), 'success');
    });

    for (const state of ['FINISHED', 'finished', 'Finished']) {
      it(`should treat state ${state} as finished`, async () => {
        const { strategy } = harness();
        const { req } = await returning(strategy);
        const gets = results([200, sampleResult(SESSION_ID, { state })]);
        expectKind(await runStrategy(strategy, req), 'success');
        expect(gets.count).to.equal(1);
      });
    }

    it('should keep polling a pending result until it is finished', async () => {
      const { strategy } = harness({ pendingTimeout: 4000 });
      const { req } = await returning(strategy);
      const gets = results([200, pending], [200, { ...pending, state: 'pending' }], [200, sampleResult(SESSION_ID)]);
      expectKind(await runStrategy(strategy, req), 'success');
      expect(gets.count).to.equal(3);
    });

    it('should treat an unknown state without errors as not final yet', async () => {
      const { strategy } = harness({ pendingTimeout: 4000 });
      const { req } = await returning(strategy);
      const gets = results([200, { ...pending, state: 'Processing' }], [200, sampleResult(SESSION_ID)]);
      expectKind(await runStrategy(strategy, req), 'success');
      expect(gets.count).to.equal(2);
    });
  });

  describe('failed login', () => {
    it('should fail with a human message when the person cancelled, without calling verify', async () => {
      const { strategy, profiles } = harness();
      const { req } = await returning(strategy);
      results([
        200,
        { id: SESSION_ID, state: 'Finished', errors: [{ code: 'USER_CANCEL', description: 'User cancelled' }] },
      ]);
      const outcome = expectKind(await runStrategy(strategy, req), 'fail');
      expect(outcome.challenge).to.deep.include({
        code: 'cancelled',
        message: 'The itsme login was cancelled.',
        zignsecCode: 'USER_CANCEL',
      });
      expect(outcome.status).to.equal(401);
      expect(profiles).to.have.length(0);
    });

    it('should say the login expired for an expired transaction, even while the state is pending', async () => {
      const { strategy } = harness();
      const { req } = await returning(strategy);
      const gets = results([200, { ...pending, errors: ['EXPIRED_TRANSACTION'] }]);
      const outcome = expectKind(await runStrategy(strategy, req), 'fail');
      expect((outcome.challenge as { message: string }).message).to.match(/expired/);
      expect(outcome.challenge).to.include({ code: 'itsme-expired', zignsecCode: 'EXPIRED_TRANSACTION' });
      expect(gets.count).to.equal(1);
    });

    it('should name the codes of an error it has no sentence for', async () => {
      const { strategy } = harness();
      const { req } = await returning(strategy);
      results([200, { ...pending, errors: [{ code: 'Internal Exception' }] }]);
      const outcome = expectKind(await runStrategy(strategy, req), 'fail');
      expect((outcome.challenge as { message: string }).message).to.include('Internal Exception');
      expect(outcome.challenge).to.include({ code: 'itsme-error', zignsecCode: 'Internal Exception' });
    });

    it('should fail, not error, when a result with errors carries no id', async () => {
      const { strategy } = harness();
      const { req } = await returning(strategy);
      results([200, { errors: [{ code: 'SESSION_NOT_FOUND' }] }]);
      const outcome = expectKind(await runStrategy(strategy, req), 'fail');
      expect(outcome.challenge).to.include({ code: 'unknown-login', zignsecCode: 'SESSION_NOT_FOUND' });
      expect((outcome.challenge as { message: string }).message).to.match(/unknown, was already used or has expired/);
    });

    for (const [zignsecCode, failure] of [
      ['ALREADY_COLLECTED', 'used-login'],
      ['SESSION_NOT_FOUND', 'unknown-login'],
    ] as const) {
      it(`should fail ZignSec's ${zignsecCode} as ${failure} with 403, as the store's ${failure} is`, async () => {
        const { strategy } = harness();
        const { req } = await returning(strategy);
        results([200, { ...pending, errors: [{ code: zignsecCode }] }]);
        const outcome = expectKind(await runStrategy(strategy, req), 'fail');
        expect(outcome.challenge).to.include({ code: failure, zignsecCode });
        expect(outcome.status).to.equal(403);
      });
    }

    it('should fail after pendingTimeout when the result stays pending', async () => {
      const { strategy, profiles } = harness({ pendingTimeout: 1500 });
      const { req } = await returning(strategy);
      const gets = alwaysResult(200, pending);
      const outcome = expectKind(await runStrategy(strategy, req), 'fail');
      expect((outcome.challenge as { message: string }).message).to.match(/not confirmed in time/);
      expect(outcome.challenge).to.include({ code: 'not-confirmed' });
      expect(gets.count).to.be.at.least(2);
      expect(profiles).to.have.length(0);
    });

    it('should fail when the result names nobody (no sub, no personal number)', async () => {
      const { strategy, profiles } = harness();
      const { req } = await returning(strategy);
      const claims = JSON.parse(String(sampleResult(SESSION_ID).providerData)) as Record<string, unknown>;
      delete claims.sub;
      results([200, sampleResult(SESSION_ID, { providerData: JSON.stringify(claims) })]);
      const outcome = expectKind(await runStrategy(strategy, req), 'fail');
      expect((outcome.challenge as { message: string }).message).to.match(/did not return who logged in/);
      expect(outcome.challenge).to.include({ code: 'no-subject' });
      expect(outcome.status).to.equal(401);
      expect(profiles).to.have.length(0);
    });
  });

  describe('relaystate', () => {
    it('should fail with 403 for an unknown relaystate without calling ZignSec', async () => {
      const { strategy } = harness();
      const gets = alwaysResult(200, sampleResult(SESSION_ID));
      const { session } = await returning(strategy);
      const req = fakeRequest({ query: { relaystate: randomBytes(32).toString('base64url') }, session });
      const outcome = expectKind(await runStrategy(strategy, req), 'fail');
      expect(outcome.status).to.equal(403);
      expect(outcome.challenge).to.include({ code: 'unknown-login' });
      expect((outcome.challenge as { message: string }).message).to.match(/unknown, was already used or has expired/);
      expect(gets.count).to.equal(0);
    });

    it('should fail with 403 when the relaystate is used a second time, without calling ZignSec again', async () => {
      const { strategy } = harness();
      const { req, relayState, session } = await returning(strategy);
      const gets = alwaysResult(200, sampleResult(SESSION_ID));
      expectKind(await runStrategy(strategy, req), 'success');
      const again = fakeRequest({ query: { relaystate: relayState }, session });
      const replay = expectKind(await runStrategy(strategy, again), 'fail');
      expect(replay.status).to.equal(403);
      expect(replay.challenge).to.include({ code: 'used-login' });
      expect(gets.count).to.equal(1);
    });

    it('should refuse a ZignSec session a store hands out twice', async () => {
      const leaky: RelayStateStore = {
        save: async () => {},
        take: async () => ({ sessionId: SESSION_ID, createdAt: Date.now() }),
      };
      const { strategy, profiles } = harness({ store: leaky });
      const gets = alwaysResult(200, sampleResult(SESSION_ID));
      const first = fakeRequest({ query: { relaystate: randomBytes(32).toString('base64url') } });
      const second = fakeRequest({ query: { relaystate: randomBytes(32).toString('base64url') } });
      expectKind(await runStrategy(strategy, first), 'success');
      const refused = expectKind(await runStrategy(strategy, second), 'fail');
      expect(refused.status).to.equal(403);
      expect(refused.challenge).to.include({ code: 'used-login' });
      expect(profiles).to.have.length(1);
      expect(gets.count).to.equal(1);
    });

    for (const [label, query] of [
      ['too short', { relaystate: 'abc' }],
      ['repeated', { relaystate: ['a'.repeat(43), 'b'.repeat(43)] }],
    ] as const) {
      it(`should fail with 400 for a ${label} relaystate without calling ZignSec`, async () => {
        const { strategy } = harness();
        const gets = alwaysResult(200, sampleResult(SESSION_ID));
        const req = fakeRequest({ query: query as Record<string, unknown>, session: {} });
        const outcome = expectKind(await runStrategy(strategy, req), 'fail');
        expect(outcome.status).to.equal(400);
        expect(outcome.challenge).to.include({ code: 'invalid-callback' });
        expect(gets.count).to.equal(0);
      });
    }
  });

  describe('ZignSec errors at the result', () => {
    async function resultError(strategy: ItsMeStrategy, req: Request): Promise<ItsMeError> {
      const outcome = expectKind(await runStrategy(strategy, req), 'error');
      expect(outcome.error).to.be.instanceOf(ItsMeError);
      return outcome.error as ItsMeError;
    }

    it('should error on a 404 with the status and codes, without retrying', async () => {
      const { strategy } = harness();
      const { req } = await returning(strategy);
      const gets = alwaysResult(404, { errors: [{ code: 'SESSION_NOT_FOUND', description: 'Unknown session' }] });
      const error = await resultError(strategy, req);
      expect(error.code).to.equal('ERR_ZIGNSEC_HTTP_STATUS');
      expect(error.status).to.equal(404);
      expect(error.message).to.include('404');
      expect(error.message).to.include('SESSION_NOT_FOUND');
      expect(gets.count).to.equal(1);
    });

    it('should error on a 401 with a hint about the key, without retrying', async () => {
      const { strategy } = harness();
      const { req } = await returning(strategy);
      const gets = alwaysResult(401, { errors: [{ code: 'UNAUTHORIZED' }] });
      const error = await resultError(strategy, req);
      expect(error.message).to.include('401');
      expect(error.message).to.match(/API key/);
      expect(gets.count).to.equal(1);
    });

    it('should retry 5xx answers within the budget and then log the person in', async () => {
      const { strategy } = harness({ pendingTimeout: 4000 });
      const { req } = await returning(strategy);
      const gets = results(
        [503, { errors: [] }],
        [502, '<html>Bad gateway</html>'],
        [500, ''],
        [200, sampleResult(SESSION_ID)],
      );
      expectKind(await runStrategy(strategy, req), 'success');
      expect(gets.count).to.equal(4);
    });

    it('should error with the last 5xx when ZignSec keeps failing until pendingTimeout', async () => {
      const { strategy } = harness({ pendingTimeout: 1500 });
      const { req } = await returning(strategy);
      const gets = alwaysResult(503, { errors: [{ code: 'Internal Exception' }] });
      const error = await resultError(strategy, req);
      expect(error.code).to.equal('ERR_ZIGNSEC_HTTP_STATUS');
      expect(error.status).to.equal(503);
      expect(gets.count).to.be.at.least(2);
    });

    it('should error without retrying when a 200 body is not JSON', async () => {
      const { strategy } = harness();
      const { req } = await returning(strategy);
      const gets = alwaysResult(200, '<html>maintenance</html>');
      const error = await resultError(strategy, req);
      expect(error.code).to.equal('ERR_ZIGNSEC_BAD_RESPONSE');
      expect(error.message).to.match(/not JSON/);
      expect(gets.count).to.equal(1);
    });

    it('should retry a call that timed out and log the person in when the next one answers', async () => {
      const { strategy } = harness({ timeout: 500, pendingTimeout: 6000 });
      const { req } = await returning(strategy);
      nock(BASE).get(RESULT_PATH).delay(2000).reply(200, sampleResult(SESSION_ID));
      const gets = results([200, sampleResult(SESSION_ID)]);
      expectKind(await runStrategy(strategy, req), 'success');
      expect(gets.count).to.equal(1);
    });

    it('should error with a timeout code when ZignSec never answers within pendingTimeout', async () => {
      const { strategy } = harness({ timeout: 150, pendingTimeout: 500 });
      const { req } = await returning(strategy);
      nock(BASE).persist().get(RESULT_PATH).delay(2000).reply(200, sampleResult(SESSION_ID));
      const error = await resultError(strategy, req);
      expect(error.code).to.equal('ERR_ZIGNSEC_TIMEOUT');
    });

    it('should error when ZignSec returns the result of another session', async () => {
      const { strategy, profiles } = harness();
      const { req } = await returning(strategy);
      results([200, sampleResult('11111111-2222-3333-4444-555555555555')]);
      const error = await resultError(strategy, req);
      expect(error.code).to.equal('ERR_ITSME_ID_MISMATCH');
      expect(profiles).to.have.length(0);
    });

    it('should error when a finished result has no id at all', async () => {
      const { strategy, profiles } = harness();
      const { req } = await returning(strategy);
      const { id: _id, ...withoutId } = sampleResult(SESSION_ID);
      results([200, withoutId]);
      const error = await resultError(strategy, req);
      expect(error.code).to.equal('ERR_ITSME_ID_MISMATCH');
      expect(profiles).to.have.length(0);
    });

    it('should error saying session support is needed when the way back has no req.session', async () => {
      const { strategy } = harness();
      const req = fakeRequest({ query: { relaystate: randomBytes(32).toString('base64url') }, session: null });
      const outcome = expectKind(await runStrategy(strategy, req), 'error');
      expect((outcome.error as ItsMeError).code).to.equal('ERR_ITSME_SESSION_REQUIRED');
      expect(outcome.error.message).to.match(/express-session/);
    });
  });
});
