import { expect } from 'chai';
import nock from 'nock';
import { ItsMeError, ItsMeStrategy, type ItsMeStrategyOptions, SessionRelayStateStore } from '../lib/index.js';
import { createRelayState } from '../lib/relaystate.js';
import { type Listening, listen } from './support/http.js';
import { expectKind, fakeRequest, runStrategy } from './support/strategy-run.js';

const KEY = 'zs-start-key-5b1e7c2d9a';
const BASE = 'https://zignsec.start.test';
const CALLBACK = 'https://bank.example/auth/itsme/callback';
const SESSION_ID = '9dc96404-7c0f-4997-bf94-3cd7f9de41b0';
const REDIRECT = `https://e2emerchant.itsme.be/oidc/authorization?client_id=Nqs0C2dKKA&session=${SESSION_ID}`;

interface Seen {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

function strategy(options: Partial<ItsMeStrategyOptions> = {}): ItsMeStrategy {
  return new ItsMeStrategy(
    { apiKey: KEY, callbackURL: CALLBACK, baseURL: BASE, timeout: 2000, ...options } as ItsMeStrategyOptions,
    (profile, done) => done(null, { id: profile.id }),
  );
}

/** Answers the next start call with `status`/`body` and records what was sent. */
function replyToStart(status: number, body: unknown, host = BASE): Seen[] {
  const seen: Seen[] = [];
  nock(host)
    .post('/v3/eid/itsme')
    .reply(function (path, requestBody) {
      seen.push({
        method: this.req.method,
        path,
        headers: this.req.headers,
        body: requestBody as Record<string, unknown>,
      });
      return [status, typeof body === 'string' ? body : JSON.stringify(body), { 'content-type': 'application/json' }];
    });
  return seen;
}

const ok = { id: SESSION_ID, redirectUrl: REDIRECT, errors: [] };

function pendingIn(session: Record<string, unknown>): number {
  const entries = session['passport-itsme'];
  return entries && typeof entries === 'object' ? Object.keys(entries).length : 0;
}

describe('start', () => {
  before(() => nock.disableNetConnect());
  afterEach(() => nock.cleanAll());
  after(() => nock.enableNetConnect());

  describe('request to ZignSec', () => {
    it('should POST JSON to /v3/eid/itsme with the raw API key as Authorization', async () => {
      const seen = replyToStart(200, ok);
      expectKind(await runStrategy(strategy(), fakeRequest()), 'redirect');
      expect(seen).to.have.length(1);
      const [call] = seen;
      expect(call?.method).to.equal('POST');
      expect(call?.path).to.equal('/v3/eid/itsme');
      expect(call?.headers.authorization).to.equal(KEY);
      expect(String(call?.headers['content-type'])).to.match(/^application\/json/);
    });

    it('should send exactly relaystate, target and targetError when no language or webhook is set', async () => {
      const seen = replyToStart(200, ok);
      await runStrategy(strategy(), fakeRequest());
      const body = seen[0]?.body ?? {};
      expect(Object.keys(body).sort()).to.deep.equal(['relaystate', 'target', 'targetError']);
      expect(body.target).to.equal(CALLBACK);
      expect(body.targetError).to.equal(CALLBACK);
    });

    it('should never hand out the same relaystate twice, across many logins', () => {
      const made = Array.from({ length: 1000 }, () => createRelayState());
      expect(new Set(made).size).to.equal(1000);
      for (const relayState of made) expect(relayState).to.match(/^[A-Za-z0-9_-]{43}$/);
    });

    it('should use a fresh base64url relaystate of at least 128 bits for every login', async () => {
      const seen = replyToStart(200, ok);
      const again = replyToStart(200, ok);
      const s = strategy();
      await runStrategy(s, fakeRequest());
      await runStrategy(s, fakeRequest());
      const states = [...seen, ...again].map((c) => String(c.body.relaystate));
      expect(states).to.have.length(2);
      for (const state of states) {
        expect(state).to.match(/^[A-Za-z0-9_-]+$/);
        expect(Buffer.from(state, 'base64url').length * 8).to.be.at.least(128);
      }
      expect(states[0]).to.not.equal(states[1]);
    });

    it('should send errorCallbackURL as targetError, and language and webhook when configured', async () => {
      const seen = replyToStart(200, ok);
      await runStrategy(
        strategy({
          errorCallbackURL: 'https://bank.example/auth/itsme/error',
          language: 'fr',
          webhookURL: 'https://bank.example/webhooks/zignsec',
        }),
        fakeRequest(),
      );
      const body = seen[0]?.body ?? {};
      expect(body).to.include({
        target: CALLBACK,
        targetError: 'https://bank.example/auth/itsme/error',
        language: 'fr',
        webhook: 'https://bank.example/webhooks/zignsec',
      });
    });

    it('should let authenticate options choose the language of one login', async () => {
      const seen = replyToStart(200, ok);
      const s = strategy({ language: 'fr' });
      await runStrategy(s, fakeRequest(), { language: 'nl' });
      expect(seen[0]?.body.language).to.equal('nl');
      const next = replyToStart(200, ok);
      await runStrategy(s, fakeRequest());
      expect(next[0]?.body.language).to.equal('fr');
    });

    for (const language of ['es', 'NL', '', 42]) {
      it(`should error without calling ZignSec for the per-login language ${JSON.stringify(language)}`, async () => {
        const seen = replyToStart(200, ok);
        const req = fakeRequest();
        const outcome = expectKind(
          await runStrategy(strategy(), req, { language } as unknown as Record<string, unknown>),
          'error',
        );
        expect(outcome.error).to.be.instanceOf(TypeError);
        expect(outcome.error.message).to.match(/language/);
        expect(outcome.error.message).to.include('fr, nl, en, de');
        expect(seen).to.have.length(0);
        expect(pendingIn((req as unknown as { session: Record<string, unknown> }).session)).to.equal(0);
      });
    }

    it('should send the authenticate options callbackURL as target and targetError of that login only', async () => {
      const seen = replyToStart(200, ok);
      const s = strategy();
      const tenant = 'https://other-bank.example/auth/itsme/callback';
      expectKind(await runStrategy(s, fakeRequest(), { callbackURL: tenant }), 'redirect');
      expect(seen[0]?.body).to.include({ target: tenant, targetError: tenant });
      const next = replyToStart(200, ok);
      expectKind(await runStrategy(s, fakeRequest()), 'redirect');
      expect(next[0]?.body).to.include({ target: CALLBACK, targetError: CALLBACK });
    });

    it("should keep the strategy's errorCallbackURL as targetError under a per-login callbackURL, unless the login gives its own", async () => {
      const errorURL = 'https://bank.example/auth/itsme/error';
      const tenant = 'https://other-bank.example/auth/itsme/callback';
      const s = strategy({ errorCallbackURL: errorURL });
      const seen = replyToStart(200, ok);
      await runStrategy(s, fakeRequest(), { callbackURL: tenant });
      expect(seen[0]?.body).to.include({ target: tenant, targetError: errorURL });
      const own = replyToStart(200, ok);
      const ownError = 'https://other-bank.example/auth/itsme/error';
      await runStrategy(s, fakeRequest(), { callbackURL: tenant, errorCallbackURL: ownError });
      expect(own[0]?.body).to.include({ target: tenant, targetError: ownError });
    });

    for (const [name, value] of [
      ['callbackURL', '/auth/itsme/callback'],
      ['callbackURL', 'javascript:alert(1)'],
      ['callbackURL', 42],
      ['errorCallbackURL', 'ftp://bank.example/error'],
      ['errorCallbackURL', ''],
      ['callbackURL', 'https://bank.example@evil.example/auth/itsme/callback'],
      ['callbackURL', `${CALLBACK}?relaystate=abc`],
      ['callbackURL', `${CALLBACK}#top`],
      ['callbackURL', `${CALLBACK}?relaystate[a]=1`],
      ['errorCallbackURL', `${CALLBACK}?relaystate.a=1`],
      ['callbackURL', `${CALLBACK}#`],
      ['callbackURL', `${CALLBACK}?pad=${'a'.repeat(20_000)}`],
    ] as const) {
      it(`should error naming ${name}, without calling ZignSec, for the per-login ${name} ${JSON.stringify(value).slice(0, 80)}`, async () => {
        const seen = replyToStart(200, ok);
        const req = fakeRequest();
        const outcome = expectKind(
          await runStrategy(strategy(), req, { [name]: value } as unknown as Record<string, unknown>),
          'error',
        );
        expect(outcome.error).to.be.instanceOf(TypeError);
        expect(outcome.error.message).to.match(new RegExp(`^ItsMeStrategy authenticate option ${name} must `));
        expect(seen).to.have.length(0);
        expect(pendingIn((req as unknown as { session: Record<string, unknown> }).session)).to.equal(0);
      });
    }

    it("should refuse, before asking ZignSec, a per-login http callbackURL with ZignSec's production API", async () => {
      const seen = replyToStart(200, ok, 'https://api.zignsec.com');
      const production = strategy({ baseURL: undefined, environment: 'production' });
      const outcome = await runStrategy(production, fakeRequest(), { callbackURL: 'http://bank.example/cb' });
      expect(expectKind(outcome, 'error').error.message).to.equal(
        "ItsMeStrategy authenticate option callbackURL must be an https URL with ZignSec's production API: a real person's login travels there (http only for localhost)",
      );
      expect(seen).to.have.length(0);
      nock.cleanAll();
    });

    it('should send a per-login errorCallbackURL given alone as targetError, the target staying the strategy one', async () => {
      const seen = replyToStart(200, ok);
      const errorURL = 'https://bank.example/auth/itsme/cancelled';
      expectKind(await runStrategy(strategy(), fakeRequest(), { errorCallbackURL: errorURL }), 'redirect');
      expect(seen[0]?.body).to.include({ target: CALLBACK, targetError: errorURL });
    });

    it('should give a startParams override that calls super the per-login target', async () => {
      class WithWebhook extends ItsMeStrategy {
        override startParams(...args: Parameters<ItsMeStrategy['startParams']>) {
          return { ...super.startParams(...args), webhook: 'https://bank.example/hooks/itsme' };
        }
      }
      const s = new WithWebhook({ apiKey: KEY, callbackURL: CALLBACK, baseURL: BASE, timeout: 2000 }, () => {});
      const seen = replyToStart(200, ok);
      const tenant = 'https://other-bank.example/auth/itsme/callback';
      expectKind(await runStrategy(s, fakeRequest(), { callbackURL: tenant }), 'redirect');
      expect(seen[0]?.body).to.include({
        target: tenant,
        targetError: tenant,
        webhook: 'https://bank.example/hooks/itsme',
      });
    });

    it('should send the per-login callbackURL it checked, even if the options object changes meanwhile', async () => {
      const options: Record<string, unknown> = { callbackURL: 'https://other-bank.example/cb' };
      const store = new SessionRelayStateStore();
      const check = store.check.bind(store);
      store.check = async (req) => {
        await check(req);
        options.callbackURL = 'javascript:alert(document.cookie)';
      };
      const seen = replyToStart(200, ok);
      expectKind(await runStrategy(strategy({ store }), fakeRequest(), options), 'redirect');
      expect(seen[0]?.body.target).to.equal('https://other-bank.example/cb');
    });

    it('should error without calling ZignSec, not quoting it, for a per-login callbackURL that holds the API key', async () => {
      for (const name of ['callbackURL', 'errorCallbackURL'] as const) {
        const seen = replyToStart(200, ok);
        const outcome = expectKind(
          await runStrategy(strategy(), fakeRequest(), { [name]: `${CALLBACK}?k=${KEY}` }),
          'error',
        );
        expect(outcome.error).to.be.instanceOf(TypeError);
        expect(outcome.error.message).to.equal(
          `start request ${name === 'callbackURL' ? 'target' : 'targetError'} must not hold the API key`,
        );
        expect(seen, name).to.have.length(0);
        nock.cleanAll();
      }
    });

    it('should call the production host when environment is production', async () => {
      const seen = replyToStart(200, ok, 'https://api.zignsec.com');
      const s = new ItsMeStrategy({ apiKey: KEY, callbackURL: CALLBACK, environment: 'production' }, () => {});
      expectKind(await runStrategy(s, fakeRequest()), 'redirect');
      expect(seen).to.have.length(1);
    });

    it('should call the test host by default', async () => {
      const seen = replyToStart(200, ok, 'https://test.zignsec.com');
      const s = new ItsMeStrategy({ apiKey: KEY, callbackURL: CALLBACK }, () => {});
      expectKind(await runStrategy(s, fakeRequest()), 'redirect');
      expect(seen).to.have.length(1);
    });
  });

  describe('language', () => {
    it('should keep with the pending login the language a startParams override started it in', async () => {
      class UserLanguageStrategy extends ItsMeStrategy {
        override startParams(...args: Parameters<ItsMeStrategy['startParams']>) {
          return { ...super.startParams(...args), language: 'nl' as const };
        }
      }
      const seen = replyToStart(200, ok);
      const session: Record<string, unknown> = {};
      const s = new UserLanguageStrategy(
        { apiKey: KEY, callbackURL: CALLBACK, baseURL: BASE, timeout: 2000 },
        (profile, done) => done(null, { id: profile.id }),
      );
      expectKind(await runStrategy(s, fakeRequest({ session })), 'redirect');
      expect(seen[0]?.body.language).to.equal('nl');
      const [entry] = session['passport-itsme'] as unknown[][];
      expect(entry?.[3], 'the language kept for the failure messages').to.equal('nl');
    });
  });

  describe('redirect', () => {
    it('should redirect the browser to the redirectUrl ZignSec returned', async () => {
      replyToStart(200, ok);
      const outcome = expectKind(await runStrategy(strategy(), fakeRequest()), 'redirect');
      expect(outcome.url).to.equal(REDIRECT);
    });

    it('should send the browser the normalised URL, not the text ZignSec sent', async () => {
      replyToStart(200, { ...ok, redirectUrl: 'HTTPS://E2EMerchant.itsme.be:443/oidc/a b/../authorize?x=é&y=<b>#f' });
      const outcome = expectKind(await runStrategy(strategy(), fakeRequest()), 'redirect');
      expect(outcome.url).to.equal('https://e2emerchant.itsme.be/oidc/authorize?x=%C3%A9&y=%3Cb%3E#f');
    });

    it('should take a redirectUrl of exactly 8 KiB', async () => {
      const base = 'https://e2emerchant.itsme.be/oidc/authorization?pad=';
      const url = base + 'a'.repeat(8192 - base.length);
      replyToStart(200, { ...ok, redirectUrl: url });
      const outcome = expectKind(await runStrategy(strategy(), fakeRequest()), 'redirect');
      expect(outcome.url).to.equal(url);
    });

    it('should remember the ZignSec session under the relaystate in the browser session', async () => {
      const seen = replyToStart(200, ok);
      const s = strategy();
      const req = fakeRequest();
      await runStrategy(s, req);
      const relayState = String(seen[0]?.body.relaystate);
      const record = await s.store.take(req, relayState);
      expect(record?.sessionId).to.equal(SESSION_ID);
    });

    it('should keep pending logins of other tabs when a new login starts', async () => {
      const s = strategy();
      const req = fakeRequest();
      const first = replyToStart(200, ok);
      await runStrategy(s, req);
      const second = replyToStart(200, { ...ok, id: 'second-session-id' });
      await runStrategy(s, req);
      expect((await s.store.take(req, String(first[0]?.body.relaystate)))?.sessionId).to.equal(SESSION_ID);
      expect((await s.store.take(req, String(second[0]?.body.relaystate)))?.sessionId).to.equal('second-session-id');
    });
  });

  describe('errors from ZignSec', () => {
    async function startError(status: number, body: unknown): Promise<{ error: ItsMeError; req: unknown }> {
      replyToStart(status, body);
      const req = fakeRequest();
      const outcome = expectKind(await runStrategy(strategy(), req), 'error');
      expect(outcome.error).to.be.instanceOf(ItsMeError);
      expect(pendingIn((req as unknown as { session: Record<string, unknown> }).session)).to.equal(0);
      return { error: outcome.error as ItsMeError, req };
    }

    it('should error with the status and ZignSec error codes on a 400', async () => {
      const { error } = await startError(400, {
        errors: [{ code: 'INVALID_TARGET', description: 'target must be https' }],
      });
      expect(error.code).to.equal('ERR_ZIGNSEC_HTTP_STATUS');
      expect(error.status).to.equal(400);
      expect(error.message).to.include('400');
      expect(error.message).to.include('INVALID_TARGET');
      expect(error.message).to.include('target must be https');
      expect(error.errors).to.deep.equal([{ code: 'INVALID_TARGET', description: 'target must be https' }]);
    });

    it('should hint at the API key and IP allow-list on a 401', async () => {
      const { error } = await startError(401, { errors: [{ code: 'INVALID_IP', description: 'Caller not allowed' }] });
      expect(error.message).to.include('401');
      expect(error.message).to.include('INVALID_IP');
      expect(error.message).to.match(/API key/);
    });

    it('should report a 4xx with an HTML body as an HTTP status error', async () => {
      const { error } = await startError(403, '<html><body>Forbidden by WAF</body></html>');
      expect(error.code).to.equal('ERR_ZIGNSEC_HTTP_STATUS');
      expect(error.status).to.equal(403);
      expect(error.message).to.include('403');
      expect(error.message).to.match(/API key/);
    });

    for (const status of [500, 502, 503]) {
      it(`should error on a ${status} without retrying the POST`, async () => {
        let calls = 0;
        nock(BASE)
          .post('/v3/eid/itsme')
          .times(3)
          .reply(() => {
            calls += 1;
            return [status, status === 502 ? '<html>Bad gateway</html>' : { errors: [] }];
          });
        const outcome = expectKind(await runStrategy(strategy(), fakeRequest()), 'error');
        expect((outcome.error as ItsMeError).code).to.equal('ERR_ZIGNSEC_HTTP_STATUS');
        expect(outcome.error.message).to.include(String(status));
        expect(calls).to.equal(1);
      });
    }

    it('should not retry the POST after a network error', async () => {
      // A real socket reset: nock's replyWithError never settles a got request.
      nock.enableNetConnect('127.0.0.1');
      let calls = 0;
      const server = await listen((req) => {
        calls += 1;
        req.socket.destroy();
      });
      try {
        const outcome = expectKind(await runStrategy(strategy({ baseURL: server.url }), fakeRequest()), 'error');
        expect((outcome.error as ItsMeError).code).to.equal('ERR_ZIGNSEC_NETWORK');
        expect(outcome.error.message).to.include('socket hang up');
        expect(calls).to.equal(1);
      } finally {
        await server.close();
        nock.disableNetConnect();
      }
    });

    it('should error when the body is not JSON', async () => {
      const { error } = await startError(200, 'Service temporarily unavailable');
      expect(error.code).to.equal('ERR_ZIGNSEC_BAD_RESPONSE');
      expect(error.message).to.match(/not JSON/);
    });

    it('should error when the body is JSON but not an object', async () => {
      const { error } = await startError(200, [ok]);
      expect(error.code).to.equal('ERR_ZIGNSEC_BAD_RESPONSE');
    });

    it('should error with the codes when a 200 carries an errors list, even with an id', async () => {
      const { error } = await startError(200, {
        ...ok,
        errors: [
          { code: 'MISSING_CONFIG', description: 'itsme is not configured for this account' },
          { code: 'INVALID_WEBHOOK' },
        ],
      });
      expect(error.code).to.equal('ERR_ZIGNSEC_ERRORS');
      expect(error.message).to.include('MISSING_CONFIG');
      expect(error.message).to.include('INVALID_WEBHOOK');
      expect(error.errors?.map((e) => e.code)).to.deep.equal(['MISSING_CONFIG', 'INVALID_WEBHOOK']);
    });

    it('should accept errors sent as plain strings', async () => {
      const { error } = await startError(200, { errors: ['START_FAILED'] });
      expect(error.code).to.equal('ERR_ZIGNSEC_ERRORS');
      expect(error.message).to.include('START_FAILED');
    });

    it('should error when the id is missing', async () => {
      const { error } = await startError(200, { redirectUrl: REDIRECT, errors: [] });
      expect(error.code).to.equal('ERR_ZIGNSEC_BAD_RESPONSE');
      expect(error.message).to.match(/\bid\b/);
    });

    it('should error when the redirectUrl is missing or not http(s)', async () => {
      const missing = await startError(200, { id: SESSION_ID, errors: [] });
      expect(missing.error.code).to.equal('ERR_ZIGNSEC_BAD_RESPONSE');
      expect(missing.error.message).to.match(/redirectUrl/);
      const script = await startError(200, { id: SESSION_ID, redirectUrl: 'javascript:alert(1)', errors: [] });
      expect(script.error.message).to.match(/redirectUrl/);
    });

    for (const [label, url] of [
      ['a line feed', `${REDIRECT}\nSet-Cookie: x=1`],
      ['a carriage return', `${REDIRECT}\r`],
      ['a tab', `https://e2emerchant.itsme.be/\toidc`],
      ['a NUL', `${REDIRECT}\u0000`],
      ['a DEL', `${REDIRECT}\u007f`],
      ['a C1 control', `${REDIRECT}\u0085`],
      ['more than 8 KiB', `${REDIRECT}&pad=${'a'.repeat(8192)}`],
      ['more than 8 KiB once normalised', `https://e2emerchant.itsme.be/?q=${' '.repeat(3000)}x`],
      ['no host', 'https://'],
      ['a relative URL', '/oidc/authorization'],
      ['a data: URL', 'data:text/html,<script>alert(1)</script>'],
      ['userinfo that reads as the host', 'https://e2emerchant.itsme.be@evil.example/oidc'],
      ['a user and password', 'https://user:pw@e2emerchant.itsme.be/oidc'],
    ] as const) {
      it(`should error with ERR_ZIGNSEC_BAD_RESPONSE, storing nothing, on a redirectUrl with ${label}`, async () => {
        const { error } = await startError(200, { id: SESSION_ID, redirectUrl: url, errors: [] });
        expect(error.code).to.equal('ERR_ZIGNSEC_BAD_RESPONSE');
        expect(error.message).to.equal('ZignSec start response has no valid redirectUrl');
      });
    }

    it('should error with a timeout code when ZignSec does not answer in time, without retrying', async () => {
      let calls = 0;
      nock(BASE)
        .post('/v3/eid/itsme')
        .times(2)
        .delay(1500)
        .reply(() => {
          calls += 1;
          return [200, ok];
        });
      const outcome = expectKind(await runStrategy(strategy({ timeout: 150 }), fakeRequest()), 'error');
      expect((outcome.error as ItsMeError).code).to.equal('ERR_ZIGNSEC_TIMEOUT');
      expect(outcome.error.message).to.equal('ZignSec start call timed out: no complete answer within 150 ms');
      expect(calls).to.be.at.most(1);
      expect(nock.pendingMocks()).to.have.length(1);
    });

    it('should error saying session support is needed, before calling ZignSec, when there is no req.session', async () => {
      const seen = replyToStart(200, ok);
      const outcome = expectKind(await runStrategy(strategy(), fakeRequest({ session: null })), 'error');
      expect((outcome.error as ItsMeError).code).to.equal('ERR_ITSME_SESSION_REQUIRED');
      expect(outcome.error.message).to.match(/express-session/);
      expect(seen).to.have.length(0);
    });

    it("should ask a custom store's check before opening a ZignSec session, and error when it throws", async () => {
      const seen = replyToStart(200, ok);
      const refusal = new Error('no tenant for this request');
      const store = {
        save: async () => {},
        take: async () => undefined,
        check: async () => {
          throw refusal;
        },
      };
      const outcome = await runStrategy(strategy({ store }), fakeRequest());
      expect(expectKind(outcome, 'error').error).to.equal(refusal);
      expect(seen).to.have.length(0);
    });

    it("should end in ERR_ITSME_STORE_TIMEOUT when a custom store's check never answers, before opening a ZignSec session", async () => {
      const seen = replyToStart(200, ok);
      const store = { save: async () => {}, take: async () => undefined, check: () => new Promise<void>(() => {}) };
      const outcome = await runStrategy(strategy({ store, timeout: 300 }), fakeRequest());
      expect(expectKind(outcome, 'error').error).to.include({ code: 'ERR_ITSME_STORE_TIMEOUT' });
      expect(seen).to.have.length(0);
    });

    it("should end in ERR_ITSME_STORE_TIMEOUT, redirecting nowhere, when a custom store's save never answers", async () => {
      const seen = replyToStart(200, ok);
      const store = { save: () => new Promise<void>(() => {}), take: async () => undefined };
      const outcome = await runStrategy(strategy({ store, timeout: 300 }), fakeRequest());
      const { error } = expectKind(outcome, 'error');
      expect(error).to.include({ code: 'ERR_ITSME_STORE_TIMEOUT' });
      expect(error.message).to.match(/^store\.save did not settle within 300 ms/);
      expect(seen).to.have.length(1);
    });

    it('should leave the session check to a custom store', async () => {
      const seen = replyToStart(200, ok);
      const saved: string[] = [];
      const store = { save: async (_req: unknown, rs: string) => void saved.push(rs), take: async () => undefined };
      const outcome = await runStrategy(strategy({ store }), fakeRequest({ session: null }));
      expect(expectKind(outcome, 'redirect').url).to.equal(REDIRECT);
      expect(saved).to.deep.equal([seen[0]?.body.relaystate]);
    });
  });

  describe('connections', () => {
    /** A real ZignSec stand-in that answers every start, counting the TCP connections it accepts. */
    async function countingServer(): Promise<{ server: Listening; connections: () => number }> {
      // nock's interceptor opens a socket per request: take it out of the way for this real server.
      nock.restore();
      let connections = 0;
      const server = await listen((req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(ok));
        });
      });
      server.server.keepAliveTimeout = 60_000;
      server.server.on('connection', () => {
        connections += 1;
      });
      return { server, connections: () => connections };
    }

    it('should reuse one kept-alive connection across logins', async () => {
      const { server, connections: count } = await countingServer();
      try {
        const s = strategy({ baseURL: server.url, timeout: 2000 });
        for (let i = 0; i < 3; i += 1) expectKind(await runStrategy(s, fakeRequest()), 'redirect');
        expect(count()).to.equal(1);
      } finally {
        await server.close();
        nock.activate();
      }
    });

    it('should not reuse a connection left idle for more than 4 s, which the server may be closing', async function () {
      this.timeout(15_000);
      const { server, connections: count } = await countingServer();
      try {
        const s = strategy({ baseURL: server.url, timeout: 2000 });
        expectKind(await runStrategy(s, fakeRequest()), 'redirect');
        await new Promise((resolve) => setTimeout(resolve, 4500));
        expectKind(await runStrategy(s, fakeRequest()), 'redirect');
        expect(count()).to.equal(2);
      } finally {
        await server.close();
        nock.activate();
      }
    });
  });
});
