import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import {
  type ItsMeFailureCode,
  type ItsMeStrategyOptions,
  type RelayStateStore,
  SessionRelayStateStore,
  type VerifyFunction,
} from '../lib/index.js';
import { type CallbackOutcome, ExplainingStore, type FailureApp, startFailureApp } from './support/failure-app.js';
import { realNetwork } from './support/guards.js';
import { browse, CookieJar } from './support/http.js';
import { sampleResult, ZignSecStub } from './support/zignsec-stub.js';

/** Every code of the union: the suite below must reach each one over HTTP. */
const ALL_CODES: ItsMeFailureCode[] = [
  'invalid-callback',
  'no-session',
  'unknown-login',
  'expired-login',
  'used-login',
  'cancelled',
  'itsme-expired',
  'itsme-error',
  'not-confirmed',
  'no-subject',
  'verify-refused',
];

describe('failure codes', () => {
  let restore: () => void;
  let stub: ZignSecStub;
  const apps: FailureApp[] = [];
  const reached = new Set<string>();

  async function app(
    options: { strategy?: Partial<ItsMeStrategyOptions>; verify?: VerifyFunction; trustProxy?: boolean } = {},
  ) {
    const started = await startFailureApp({ stub, ...options });
    apps.push(started);
    return started;
  }

  function expectFailure(outcome: CallbackOutcome, code: ItsMeFailureCode, status: number): void {
    expect(outcome.kind, JSON.stringify(outcome)).to.equal('fail');
    expect(outcome.status).to.equal(status);
    expect(outcome.info?.code).to.equal(code);
    expect(outcome.info?.message).to.be.a('string').and.not.equal('');
    reached.add(code);
  }

  /** A login whose result, once asked for, is `body`. */
  async function withResult(target: FailureApp, body: (id: string) => unknown): Promise<CallbackOutcome> {
    const jar = new CookieJar();
    const { relayState, sessionId } = await target.start(jar);
    stub.results.set(sessionId, [{ body: body(sessionId) }]);
    return target.callback(jar, relayState);
  }

  before(() => {
    restore = realNetwork();
  });
  after(() => {
    restore();
    expect([...reached].sort(), 'codes reached by the tests of this file').to.deep.equal([...ALL_CODES].sort());
  });
  beforeEach(async () => {
    stub = await new ZignSecStub().start();
  });
  afterEach(async () => {
    for (const started of apps.splice(0)) await started.close();
    await stub.close();
  });

  describe('before ZignSec is asked', () => {
    it('should fail with invalid-callback (400) and the reason in the hint for a malformed relaystate', async () => {
      const target = await app();
      const jar = new CookieJar();
      await target.start(jar);
      const outcome = await target.callback(jar, 'abc');
      expectFailure(outcome, 'invalid-callback', 400);
      expect(outcome.info?.hint).to.match(/relaystate is malformed/);
      expect(stub.gets).to.deep.equal([]);
    });

    it('should fail with no-session (403) when the session cookie did not come back, and say what to check over http', async () => {
      const target = await app();
      const { relayState } = await target.start(new CookieJar());
      const outcome = await target.callback(new CookieJar(), relayState);
      expectFailure(outcome, 'no-session', 403);
      const message = String(outcome.info?.message);
      expect(message).to.match(/no session came back with the callback/);
      expect(message).to.match(/Secure/);
      expect(message).to.match(/plain http/);
      expect(message).to.match(/SameSite=Strict/);
      expect(message).to.match(/same host name/);
      expect(outcome.info?.hint).to.match(/secure: true/);
      expect(stub.gets).to.deep.equal([]);
    });

    it('should tell the quick start mistake (a Secure cookie over plain http) on the first try', async () => {
      const target = await startFailureApp({ stub, cookie: { secure: true } });
      apps.push(target);
      const jar = new CookieJar();
      const { relayState } = await target.start(jar);
      expect(jar.cookies.size, 'express-session sends no Secure cookie over http').to.equal(0);
      const outcome = await target.callback(jar, relayState);
      expectFailure(outcome, 'no-session', 403);
      expect(outcome.info?.message).to.match(/not marked Secure while the site runs on plain http/);
    });

    it('should give the person a plain sentence, without the developer checks, over https', async () => {
      const target = await app({ trustProxy: true });
      const { relayState } = await target.start(new CookieJar());
      const response = await browse(`${target.url}/callback?relaystate=${relayState}`, new CookieJar(), {
        headers: { 'x-forwarded-proto': 'https' },
      });
      const outcome = { status: response.status, ...JSON.parse(response.body) } as CallbackOutcome;
      expectFailure(outcome, 'no-session', 403);
      expect(outcome.info?.message).to.match(/allow cookies for this site/);
      expect(outcome.info?.message).to.not.match(/SameSite/);
      expect(outcome.info?.hint).to.match(/SameSite=Strict/);
    });

    it('should fail with no-session when the store explains that the session holds no login', async () => {
      const target = await app({ strategy: { store: new ExplainingStore() } });
      const { relayState } = await target.start(new CookieJar());
      expectFailure(await target.callback(new CookieJar(), relayState), 'no-session', 403);
    });

    it("should fail with unknown-login when a custom store's explain answers a name Object.prototype has", async () => {
      for (const reason of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
        const store = { save: async () => {}, take: async () => undefined, explain: () => reason as 'unknown' };
        const target = await app({ strategy: { store } });
        const outcome = await target.callback(new CookieJar(), randomBytes(32).toString('base64url'));
        expectFailure(outcome, 'unknown-login', 403);
      }
    });

    it("should fail with unknown-login (403) for a relaystate this browser's session does not know", async () => {
      const target = await app();
      const jar = new CookieJar();
      await target.start(jar);
      const outcome = await target.callback(jar, randomBytes(32).toString('base64url'));
      expectFailure(outcome, 'unknown-login', 403);
      expect(stub.gets).to.deep.equal([]);
    });

    it("should fail with unknown-login for another browser's link when the store can explain", async () => {
      const target = await app({ strategy: { store: new ExplainingStore() } });
      const { relayState } = await target.start(new CookieJar());
      const mine = new CookieJar();
      await target.start(mine);
      expectFailure(await target.callback(mine, relayState), 'unknown-login', 403);
    });

    it('should fail with expired-login (403) for a pending login past its time to live', async () => {
      const target = await app({ strategy: { store: new ExplainingStore(50) } });
      const jar = new CookieJar();
      const { relayState } = await target.start(jar);
      await sleep(80);
      expectFailure(await target.callback(jar, relayState), 'expired-login', 403);
      expect(stub.gets).to.deep.equal([]);
    });

    it('should fail with used-login (403) for a replayed relaystate, without asking ZignSec again', async () => {
      const target = await app({ strategy: { store: new ExplainingStore() } });
      const jar = new CookieJar();
      const { relayState } = await target.start(jar);
      expect((await target.callback(jar, relayState)).kind).to.equal('success');
      expectFailure(await target.callback(jar, relayState), 'used-login', 403);
      expect(stub.gets).to.have.length(1);
    });

    it('should fail with used-login and expired-login with the built-in session store too', async () => {
      const target = await app({ strategy: { store: new SessionRelayStateStore({ ttl: 800 }) } });
      const jar = new CookieJar();
      const { relayState } = await target.start(jar);
      expect((await target.callback(jar, relayState)).kind).to.equal('success');
      expectFailure(await target.callback(jar, relayState), 'used-login', 403);
      const late = await target.start(jar);
      await sleep(900);
      expectFailure(await target.callback(jar, late.relayState), 'expired-login', 403);
      expect(stub.gets).to.have.length(1);
    });

    it('should fail with unknown-login when the store cannot explain (no explain, or one that throws or answers junk)', async () => {
      for (const explain of [undefined, () => Promise.reject(new Error('redis down')), () => 'nonsense']) {
        const inner = new SessionRelayStateStore();
        const store: RelayStateStore = {
          save: (req, rs, record) => inner.save(req, rs, record),
          take: (req, rs) => inner.take(req, rs),
          ...(explain ? { explain: explain as RelayStateStore['explain'] } : {}),
        };
        const target = await app({ strategy: { store } });
        const { relayState } = await target.start(new CookieJar());
        expectFailure(await target.callback(new CookieJar(), relayState), 'unknown-login', 403);
      }
    });

    it('should fail with used-login when a store hands out the same ZignSec session twice', async () => {
      let sessionId = '';
      const leaky: RelayStateStore = {
        save: async (_req, _rs, record) => {
          sessionId = record.sessionId;
        },
        take: async () => ({ sessionId, createdAt: Date.now() }),
      };
      const target = await app({ strategy: { store: leaky } });
      const { relayState } = await target.start(new CookieJar());
      expect((await target.callback(new CookieJar(), relayState)).kind).to.equal('success');
      expectFailure(await target.callback(new CookieJar(), relayState), 'used-login', 403);
    });
  });

  describe('from the result', () => {
    const failed = (code: string) => (id: string) => ({ id, state: 'Finished', errors: [{ code, description: 'x' }] });
    it('should keep markup and control characters of ZignSec error codes out of info.message', async () => {
      const target = await app();
      // Each character the threat model names, in a code of its own.
      for (const code of ['<img src=x onerror=alert(1)>', 'A"B', "A'B", 'A&B', 'A`B', 'A\\B', 'A\r\nX', 'A\u0085B']) {
        const outcome = await withResult(target, (id) => ({ id, state: 'Finished', errors: [{ code }] }));
        expectFailure(outcome, 'itsme-error', 401);
        expect(outcome.info?.message, JSON.stringify(code)).to.not.include(code);
        expect(outcome.info?.message).to.include('UNKNOWN');
        expect(String(outcome.info?.zignsecCode), JSON.stringify(code)).to.equal('UNKNOWN');
      }
    });

    it('should fail with cancelled (401) and keep ZignSec code when the person cancelled', async () => {
      const outcome = await withResult(await app(), failed('USER_CANCEL'));
      expectFailure(outcome, 'cancelled', 401);
      expect(outcome.info?.zignsecCode).to.equal('USER_CANCEL');
    });

    it('should fail with itsme-expired (401) when itsme let the transaction expire', async () => {
      const outcome = await withResult(await app(), failed('EXPIRED_TRANSACTION'));
      expectFailure(outcome, 'itsme-expired', 401);
      expect(outcome.info?.zignsecCode).to.equal('EXPIRED_TRANSACTION');
    });

    it('should fail with itsme-error (401) naming the codes ZignSec sent', async () => {
      const outcome = await withResult(await app(), (id) => ({
        id,
        state: 'Finished',
        errors: [{ code: 'Internal Exception' }, 'ACCESS_DENIED_RP'],
      }));
      expectFailure(outcome, 'itsme-error', 401);
      expect(outcome.info?.zignsecCode).to.equal('Internal Exception, ACCESS_DENIED_RP');
      expect(outcome.info?.message).to.equal(
        'The itsme login did not succeed (Internal Exception, ACCESS_DENIED_RP). Please try again later.',
      );
    });

    it('should cut the list of ZignSec codes in the message to a sane length', async () => {
      const outcome = await withResult(await app(), (id) => ({
        id,
        state: 'Finished',
        errors: Array.from({ length: 3000 }, (_, i) => `ERR_${i}_${'x'.repeat(150)}`),
      }));
      expectFailure(outcome, 'itsme-error', 401);
      expect(outcome.info?.zignsecCode).to.match(/^ERR_0_x+, ERR_1_x+, .*, \.\.\.$/);
      expect(String(outcome.info?.zignsecCode).length).to.be.at.most(1000);
      expect(String(outcome.info?.message).length).to.be.below(1100);
    });

    it('should fail with not-confirmed (401) when the result stays pending past pendingTimeout', async () => {
      const target = await app({ strategy: { pendingTimeout: 1000 } });
      const outcome = await withResult(target, (id) => ({ id, state: 'Pending', errors: [] }));
      expectFailure(outcome, 'not-confirmed', 401);
    });

    it('should fail with no-subject (401) when the result says nobody', async () => {
      const outcome = await withResult(await app(), (id) => {
        const claims = JSON.parse(String(sampleResult(id).providerData)) as Record<string, unknown>;
        delete claims.sub;
        return sampleResult(id, { providerData: JSON.stringify(claims) });
      });
      expectFailure(outcome, 'no-subject', 401);
    });

    it('should fail with verify-refused (401), keeping the fields of verify info but not its code', async () => {
      const target = await app({
        verify: (_profile, done) =>
          done(null, false, { message: 'No account yet.', code: 'mine', reason: 'no-account' }),
      });
      const outcome = await withResult(target, (id) => sampleResult(id));
      expectFailure(outcome, 'verify-refused', 401);
      expect(outcome.info).to.deep.include({ message: 'No account yet.', reason: 'no-account' });
    });
  });
});
