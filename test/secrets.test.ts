import { randomBytes } from 'node:crypto';
import diagnostics_channel from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import { expect } from 'chai';
import type { Request } from 'express';
import got, { RequestError } from 'got';
import nock from 'nock';
import { CHANNELS, ItsMeClient, ItsMeError, ItsMeStrategy, type ItsMeStrategyOptions } from '../lib/index.js';
import { realNetwork, startGuardedApp } from './support/guards.js';
import { browse, CookieJar, type Listening, listen } from './support/http.js';
import { findSecret, renderings } from './support/secret-scan.js';
import { expectKind, fakeRequest, type Outcome, runStrategy } from './support/strategy-run.js';
import { sampleResult, ZignSecStub } from './support/zignsec-stub.js';

const KEY = 'zs-SECRET-7d2f9a41c3b8e6f0';
const BASE = 'https://zignsec.secrets.test';
const SESSION_ID = '0b7e4c1d-2a3f-4e5d-8c9b-1a2b3c4d5e6f';

function strategy(options: Partial<ItsMeStrategyOptions> = {}): ItsMeStrategy {
  return new ItsMeStrategy(
    {
      apiKey: KEY,
      callbackURL: 'https://bank.example/cb',
      baseURL: BASE,
      timeout: 500,
      pendingTimeout: 900,
      ...options,
    } as ItsMeStrategyOptions,
    (profile, done) => done(null, { id: profile.id }),
  );
}

async function wayBack(s: ItsMeStrategy): Promise<Request> {
  const session: Record<string, unknown> = {};
  const relayState = randomBytes(32).toString('base64url');
  await s.store.save(fakeRequest({ session }), relayState, { sessionId: SESSION_ID, createdAt: Date.now() });
  return fakeRequest({ query: { relaystate: relayState }, session });
}

/** Asserts that nothing reachable from `value`, nor any usual rendering of it, holds the key. */
function assertNoKey(value: unknown): void {
  expect(findSecret(value, KEY), 'paths holding the key').to.deep.equal([]);
  for (const [how, text] of Object.entries(renderings(value))) {
    expect(text.includes(KEY), `key found in ${how}: ${text}`).to.equal(false);
  }
}

function assertCleanError(outcome: Outcome): ItsMeError {
  const { error } = expectKind(outcome, 'error');
  expect(error).to.be.instanceOf(ItsMeError);
  for (let cause: unknown = error.cause; cause !== undefined; cause = (cause as Error).cause) {
    expect(cause, 'a got error in the cause chain').to.not.be.instanceOf(RequestError);
  }
  assertNoKey(error);
  return error as ItsMeError;
}

describe('secrets', () => {
  const logged: string[] = [];
  const originals = { ...console };
  before(() => {
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
    for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      console[level] = (...args: unknown[]) => {
        logged.push(inspect(args, { depth: Number.POSITIVE_INFINITY }));
        originals[level](...args);
      };
    }
  });
  afterEach(() => nock.cleanAll());
  after(() => {
    Object.assign(console, originals);
    nock.enableNetConnect();
  });

  describe('the scanner', () => {
    it("should find the key in got's own error, which carries the request headers", async () => {
      const server = await listen((req) => req.socket.destroy());
      try {
        const err = await got(server.url, { headers: { authorization: KEY }, retry: { limit: 0 } }).catch((e) => e);
        expect(err).to.be.instanceOf(RequestError);
        expect(findSecret(err, KEY)).to.not.deep.equal([]);
        expect(renderings(err).inspect).to.include(KEY);
      } finally {
        await server.close();
      }
    });
  });

  describe('errors at the start', () => {
    it('should keep the key out of a 401 whose body echoes it', async () => {
      nock(BASE)
        .post('/v3/eid/itsme')
        .reply(401, { errors: [{ code: 'UNAUTHORIZED', description: `Unknown access token ${KEY}` }] });
      const error = assertCleanError(await runStrategy(strategy(), fakeRequest()));
      expect(error.message).to.include('UNAUTHORIZED');
      expect(error.message).to.include('[redacted]');
    });

    it('should keep the key out of an HTML error page that echoes it', async () => {
      nock(BASE).post('/v3/eid/itsme').reply(403, `<html>Denied for Authorization: ${KEY}</html>`);
      assertCleanError(await runStrategy(strategy(), fakeRequest()));
    });

    it('should keep the key out of an errors list in a 200', async () => {
      nock(BASE)
        .post('/v3/eid/itsme')
        .reply(200, { errors: [`INVALID_KEY ${KEY}`] });
      assertCleanError(await runStrategy(strategy(), fakeRequest()));
    });

    it('should keep even the first characters of the key out of a non-JSON 200 that starts with it', async () => {
      nock(BASE).post('/v3/eid/itsme').reply(200, `${KEY} accepted but no JSON today`);
      const error = assertCleanError(await runStrategy(strategy(), fakeRequest()));
      expect(error.code).to.equal('ERR_ZIGNSEC_BAD_RESPONSE');
      for (const text of Object.values(renderings(error))) expect(text).to.not.include(KEY.slice(0, 6));
    });

    it('should refuse, before any call, a start request whose target, targetError or webhook holds the key in any form', async () => {
      const client = new ItsMeClient({ apiKey: KEY, baseURL: BASE });
      const scope = nock(BASE).post('/v3/eid/itsme').reply(200, {});
      for (const field of ['target', 'targetError', 'webhook'] as const) {
        for (const url of [`https://bank.example/cb?k=${KEY}`, `https://bank.example/${KEY.toLowerCase()}/cb`]) {
          const err = await client.start({ relaystate: 'r', [field]: url }).then(
            () => undefined,
            (e: unknown) => e as Error,
          );
          expect(err, `${field}: ${url}`).to.be.instanceOf(TypeError);
          expect(err?.message).to.equal(`start request ${field} must not hold the API key`);
          for (const text of Object.values(renderings(err))) expect(text).to.not.include(KEY);
        }
      }
      expect(scope.isDone(), 'ZignSec was not called').to.equal(false);
    });

    it('should answer a start request field that is not a string with a rejected TypeError naming it, never a synchronous throw', async () => {
      const client = new ItsMeClient({ apiKey: KEY, baseURL: BASE });
      const scope = nock(BASE).post('/v3/eid/itsme').reply(200, {});
      for (const field of ['relaystate', 'target', 'targetError', 'webhook'] as const) {
        let returned: Promise<unknown> | undefined;
        expect(() => {
          returned = client.start({ [field]: new URL('https://bank.example/cb') as unknown as string });
        }, field).to.not.throw();
        const err = await returned?.then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(err, field).to.be.instanceOf(TypeError);
        expect(err?.message).to.equal(`start request ${field} must be a string`);
      }
      expect(scope.isDone(), 'ZignSec was not called').to.equal(false);
    });

    it('should keep the key out of a timeout', async () => {
      nock(BASE).post('/v3/eid/itsme').delay(1000).reply(200, {});
      const error = assertCleanError(await runStrategy(strategy(), fakeRequest()));
      expect(error.code).to.equal('ERR_ZIGNSEC_TIMEOUT');
    });

    describe('network errors', () => {
      let server: Listening;
      beforeEach(async () => {
        server = await listen((req) => req.socket.destroy());
      });
      afterEach(() => server.close());

      it('should keep the key out of a reset connection', async () => {
        const error = assertCleanError(await runStrategy(strategy({ baseURL: server.url }), fakeRequest()));
        expect(error.code).to.equal('ERR_ZIGNSEC_NETWORK');
        expect((error.cause as { code?: string }).code).to.equal('ECONNRESET');
      });

      it('should keep the key out of a refused connection', async () => {
        const url = server.url;
        await server.close();
        const error = assertCleanError(await runStrategy(strategy({ baseURL: url }), fakeRequest()));
        expect(error.code).to.equal('ERR_ZIGNSEC_NETWORK');
        expect((error.cause as { code?: string }).code).to.equal('ECONNREFUSED');
      });
    });
  });

  describe('errors at the result', () => {
    it('should keep the key out of a 404 whose body echoes it', async () => {
      const s = strategy();
      nock(BASE)
        .get(`/v3/eid/itsme/${SESSION_ID}`)
        .reply(404, { errors: [{ code: 'SESSION_NOT_FOUND', description: `for key ${KEY}` }] });
      assertCleanError(await runStrategy(s, await wayBack(s)));
    });

    it('should keep every part of the key out when its echo straddles the length limits', async () => {
      const s = strategy();
      nock(BASE)
        .get(`/v3/eid/itsme/${SESSION_ID}`)
        .reply(401, {
          errors: [
            { code: `${'C'.repeat(190)}${KEY}`, description: `${'d'.repeat(990)}${KEY}` },
            `${'s'.repeat(185)}${KEY}`,
          ],
        });
      const error = assertCleanError(await runStrategy(s, await wayBack(s)));
      const fragment = KEY.slice(0, 9);
      expect(JSON.stringify(error.errors)).to.not.include(fragment);
      expect(error.message).to.not.include(fragment);
    });

    it('should keep the start of the key out of a failure message shown to the person', async () => {
      const s = strategy();
      nock(BASE)
        .get(`/v3/eid/itsme/${SESSION_ID}`)
        .reply(200, { id: SESSION_ID, state: 'Finished', errors: [`${'x'.repeat(185)}${KEY}`] });
      const { challenge } = expectKind(await runStrategy(s, await wayBack(s)), 'fail');
      expect(JSON.stringify(challenge)).to.not.include(KEY.slice(0, 9));
    });

    it('should keep the key out of 5xx answers retried until the deadline', async () => {
      const s = strategy();
      nock(BASE).persist().get(`/v3/eid/itsme/${SESSION_ID}`).reply(503, `<h1>${KEY} upstream down</h1>`);
      assertCleanError(await runStrategy(s, await wayBack(s)));
    });

    it('should keep the key out of call timeouts retried until the deadline', async () => {
      const s = strategy();
      nock(BASE).persist().get(`/v3/eid/itsme/${SESSION_ID}`).delay(1000).reply(200, sampleResult(SESSION_ID));
      const error = assertCleanError(await runStrategy(s, await wayBack(s)));
      expect(error.code).to.equal('ERR_ZIGNSEC_TIMEOUT');
    });

    it('should keep the key out of reset connections retried until the deadline', async () => {
      const server = await listen((req) => req.socket.destroy());
      try {
        const s = strategy({ baseURL: server.url });
        const error = assertCleanError(await runStrategy(s, await wayBack(s)));
        expect(error.code).to.equal('ERR_ZIGNSEC_NETWORK');
      } finally {
        await server.close();
      }
    });

    it('should keep the key out of the failure message of an errors list that echoes it', async () => {
      const s = strategy();
      nock(BASE)
        .get(`/v3/eid/itsme/${SESSION_ID}`)
        .reply(200, { id: SESSION_ID, state: 'Failed', errors: [{ code: `BAD_KEY_${KEY}` }] });
      const { challenge } = expectKind(await runStrategy(s, await wayBack(s)), 'fail');
      assertNoKey(challenge);
    });

    it('should keep the key out of a result for another session', async () => {
      const s = strategy();
      nock(BASE).get(`/v3/eid/itsme/${SESSION_ID}`).reply(200, sampleResult('ffffffff-0000-1111-2222-333333333333'));
      const error = assertCleanError(await runStrategy(s, await wayBack(s)));
      expect(error.code).to.equal('ERR_ITSME_ID_MISMATCH');
    });
  });

  describe('echoes of the key in what ZignSec answers', () => {
    it('should not send the browser to a redirectUrl that holds the API key', async () => {
      nock(BASE)
        .post('/v3/eid/itsme')
        .reply(200, { id: SESSION_ID, redirectUrl: `https://itsme.example/authorize?token=${KEY}`, errors: [] });
      const error = assertCleanError(await runStrategy(strategy(), fakeRequest()));
      expect(error.code).to.equal('ERR_ZIGNSEC_BAD_RESPONSE');
      expect(error.message).to.match(/redirectUrl that holds the API key/);
    });

    it('should not answer a real browser with a Location header that holds the API key', async () => {
      const restore = realNetwork();
      const stub = await new ZignSecStub(KEY).start();
      stub.startReply = () => ({
        body: { id: SESSION_ID, redirectUrl: `${stub.url}/itsme/authorize?access_token=${KEY}`, errors: [] },
      });
      const app = await startGuardedApp({ strategy: { apiKey: KEY, baseURL: stub.url } });
      try {
        const res = await browse(`${app.url}/login`, new CookieJar());
        expect(res.status).to.equal(500);
        expect(`${res.location ?? ''}\n${res.body}`, 'what the browser got').to.not.include(KEY);
      } finally {
        await app.close();
        await stub.close();
        restore();
      }
    });

    it('should refuse a redirectUrl whose host name holds the API key (URL parsing lowercases a host)', async () => {
      nock(BASE)
        .post('/v3/eid/itsme')
        .reply(200, { id: SESSION_ID, redirectUrl: `https://${KEY}.itsme.example/authorize`, errors: [] });
      const error = assertCleanError(await runStrategy(strategy(), fakeRequest()));
      expect(error.message).to.match(/redirectUrl that holds the API key/);
    });

    it('should not take a short dummy key (a simulator\'s "itsme") for an echo in the redirectUrl', async () => {
      nock(BASE)
        .post('/v3/eid/itsme')
        .reply(200, { id: SESSION_ID, redirectUrl: 'https://sim.example/itsme/authorize/abc', errors: [] });
      const outcome = await runStrategy(strategy({ apiKey: 'itsme' }), fakeRequest({ session: {} }));
      expect(expectKind(outcome, 'redirect').url).to.equal('https://sim.example/itsme/authorize/abc');
    });

    it('should keep the API key out of the login:start event and the session when ZignSec echoes it as the id', async () => {
      const events: unknown[] = [];
      const onStart = (message: unknown) => events.push(message);
      diagnostics_channel.subscribe(CHANNELS.loginStart, onStart);
      try {
        nock(BASE).post('/v3/eid/itsme').reply(200, { id: KEY, redirectUrl: 'https://itsme.example/a', errors: [] });
        const session: Record<string, unknown> = {};
        const error = assertCleanError(await runStrategy(strategy(), fakeRequest({ session })));
        expect(error.message).to.match(/no valid id/);
        expect(events, 'login:start payloads').to.deep.equal([]);
        expect(JSON.stringify(session), 'session (readable by the browser with cookie-session)').to.not.include(KEY);
      } finally {
        diagnostics_channel.unsubscribe(CHANNELS.loginStart, onStart);
      }
    });

    it('should keep a percent-encoded echo of the API key (a URL in an error description) out of the error', async () => {
      // '/', '+', '=' and ' ' are what URL encoding changes; '*' only a form's encoding.
      const key = 'zs/SECRET+7d2f9a41 c3b8e6f0*==';
      const encoded = encodeURIComponent(key);
      const echoes = [
        encoded,
        encoded.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()),
        new URLSearchParams({ token: key }).toString().slice(6),
      ];
      expect(new Set(echoes).size, 'three different forms').to.equal(3);
      for (const echo of echoes) {
        nock(BASE)
          .post('/v3/eid/itsme')
          .reply(401, {
            errors: [
              { code: 'UNAUTHORIZED', description: `Unknown token, see https://portal.example/keys?token=${echo}` },
            ],
          });
        const { error } = expectKind(await runStrategy(strategy({ apiKey: key }), fakeRequest()), 'error');
        expect(error.message).to.include('[redacted]');
        expect(decodeURIComponent(error.message), 'message, URL-decoded').to.not.include(key);
        expect(decodeURIComponent(JSON.stringify((error as ItsMeError).errors))).to.not.include(key);
      }
    });
    it('should keep an echo of the API key in another letter case out of the error and its errors list', async () => {
      for (const echo of [KEY.toUpperCase(), KEY.toLowerCase()]) {
        nock(BASE)
          .post('/v3/eid/itsme')
          .reply(400, { errors: [{ code: 'BAD_REQUEST', description: `token ${echo} is not valid` }] });
        const { error } = expectKind(await runStrategy(strategy(), fakeRequest()), 'error');
        const text = `${error.message} ${JSON.stringify((error as ItsMeError).errors)}`;
        expect(text).to.include('token [redacted] is not valid');
        expect(text.toLowerCase(), echo).to.not.include(KEY.toLowerCase());
      }
    });
  });

  describe('log lines', () => {
    it("should keep CR/LF from ZignSec's errors out of the ItsMeError message that apps log", async () => {
      const s = strategy();
      nock(BASE)
        .get(`/v3/eid/itsme/${SESSION_ID}`)
        .reply(404, {
          errors: [{ code: 'SESSION_NOT_FOUND', description: 'gone\r\n2030-01-01T00:00:00Z INFO admin logged in' }],
        });
      const { error } = expectKind(await runStrategy(s, await wayBack(s)), 'error');
      expect(error.message).to.include('SESSION_NOT_FOUND (gone  2030-01-01T00:00:00Z INFO admin logged in)');
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is looked for
      expect(error.message).to.not.match(/[\u0000-\u001f\u007f-\u009f]/);
    });
  });

  describe('objects the app can reach', () => {
    it('should not expose the key on the strategy, its client or its store, even after calls', async () => {
      const s = strategy();
      nock(BASE).post('/v3/eid/itsme').reply(200, { id: SESSION_ID, redirectUrl: 'https://itsme.example/a' });
      expectKind(await runStrategy(s, fakeRequest()), 'redirect');
      nock(BASE).get(`/v3/eid/itsme/${SESSION_ID}`).reply(200, sampleResult(SESSION_ID));
      expectKind(await runStrategy(s, await wayBack(s)), 'success');
      assertNoKey(s);
      assertNoKey(s.client);
      assertNoKey(s.store);
      expect(Object.values(s.client)).to.not.include(KEY);
    });

    it('should not expose the key on a client built directly', () => {
      const client = new ItsMeClient({ apiKey: KEY, baseURL: BASE });
      assertNoKey(client);
      expect(JSON.stringify(client)).to.not.include(KEY);
    });

    it('should not have logged the key anywhere', () => {
      expect(logged.filter((line) => line.includes(KEY))).to.deep.equal([]);
    });
  });
});
