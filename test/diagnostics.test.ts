import diagnostics_channel from 'node:diagnostics_channel';
import { expect } from 'chai';
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import {
  CHANNELS,
  createWebhookHandler,
  ItsMeStrategy,
  type LoginFailureMessage,
  type LoginStartMessage,
  type LoginSuccessMessage,
  signWebhook,
  type WebhookMessage,
} from '../lib/index.js';
import { type FailureApp, startFailureApp } from './support/failure-app.js';
import { realNetwork } from './support/guards.js';
import { browse, CookieJar, type Listening, listen } from './support/http.js';
import { findSecret } from './support/secret-scan.js';
import { sampleResult, ZignSecStub } from './support/zignsec-stub.js';

type Event =
  | { channel: 'start'; message: LoginStartMessage }
  | { channel: 'success'; message: LoginSuccessMessage }
  | { channel: 'failure'; message: LoginFailureMessage }
  | { channel: 'webhook'; message: WebhookMessage };

const NAMES = {
  start: CHANNELS.loginStart,
  success: CHANNELS.loginSuccess,
  failure: CHANNELS.loginFailure,
  webhook: CHANNELS.webhook,
} as const;

/** Everything a person is, in the sample result: none of it may reach an event. */
const PERSONAL = [
  '1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9',
  'Florent',
  'Verschueren',
  '1980-01-02',
  '+32 425009714',
  '[email protected]',
  'Havenlaan',
];

describe('diagnostics channels', () => {
  let restore: () => void;
  let stub: ZignSecStub;
  const apps: FailureApp[] = [];
  const servers: Listening[] = [];
  let events: Event[];
  const relayStates: string[] = [];
  const listeners = (Object.keys(NAMES) as (keyof typeof NAMES)[]).map((channel) => ({
    name: NAMES[channel],
    fn: (message: unknown) => events.push({ channel, message } as Event),
  }));
  const subscribe = () => {
    for (const { name, fn } of listeners) diagnostics_channel.subscribe(name, fn);
  };
  const unsubscribe = () => {
    for (const { name, fn } of listeners) diagnostics_channel.unsubscribe(name, fn);
  };

  async function app(options: Parameters<typeof startFailureApp>[0]['strategy'] = {}, verify?: () => never) {
    const started = await startFailureApp({ stub, strategy: options, ...(verify ? { verify } : {}) });
    apps.push(started);
    return started;
  }

  async function start(target: FailureApp, jar: CookieJar) {
    const login = await target.start(jar);
    relayStates.push(login.relayState);
    return login;
  }

  before(() => {
    restore = realNetwork();
  });
  after(() => restore());
  beforeEach(async () => {
    events = [];
    stub = await new ZignSecStub('diagnostics-api-key-5a7e20c4').start();
    subscribe();
  });
  afterEach(async () => {
    unsubscribe();
    for (const started of apps.splice(0)) await started.close();
    for (const server of servers.splice(0)) await server.close();
    // No event of any test carries the key, a relaystate, or anything about the person.
    for (const event of events) {
      expect(findSecret(event.message, stub.apiKey), JSON.stringify(event)).to.deep.equal([]);
      for (const relayState of relayStates) expect(findSecret(event.message, relayState)).to.deep.equal([]);
      for (const value of PERSONAL) expect(JSON.stringify(event.message)).to.not.include(value);
      expect(Object.keys(event.message)).to.satisfy((keys: string[]) =>
        keys.every((key) => ['strategy', 'sessionId', 'code', 'status', 'duration', 'outcome'].includes(key)),
      );
    }
    await stub.close();
  });

  const channels = () => events.map((event) => event.channel);

  it('should publish on exactly the public channel names', () => {
    expect(CHANNELS).to.deep.equal({
      loginStart: 'passport-itsme:login:start',
      loginSuccess: 'passport-itsme:login:success',
      loginFailure: 'passport-itsme:login:failure',
      webhook: 'passport-itsme:webhook',
      zignsec: 'passport-itsme:zignsec',
    });
  });

  describe('logins', () => {
    it('should publish start then success, with the strategy name, the ZignSec session id and a duration', async () => {
      const target = await app({ name: 'itsme' });
      const jar = new CookieJar();
      const { relayState, sessionId } = await start(target, jar);
      expect(channels()).to.deep.equal(['start']);
      expect((await target.callback(jar, relayState)).kind).to.equal('success');
      expect(channels()).to.deep.equal(['start', 'success']);
      expect(events[0]?.message).to.deep.equal({ strategy: 'itsme', sessionId });
      const success = events[1]?.message as LoginSuccessMessage;
      expect(success).to.include({ strategy: 'itsme', sessionId });
      expect(success.duration).to.be.a('number').and.at.least(0).and.below(10_000);
    });

    it('should publish start then a failure with code cancelled and status 401 when the person cancels', async () => {
      const target = await app();
      const jar = new CookieJar();
      const { relayState, sessionId } = await start(target, jar);
      stub.results.set(sessionId, [{ body: { id: sessionId, state: 'Finished', errors: [{ code: 'USER_CANCEL' }] } }]);
      await target.callback(jar, relayState);
      expect(channels()).to.deep.equal(['start', 'failure']);
      const failure = events[1]?.message as LoginFailureMessage;
      expect(failure).to.include({ strategy: 'itsme', sessionId, code: 'cancelled', status: 401 });
      expect(failure.duration).to.be.at.least(0);
    });

    it('should publish start, success, then a used-login failure (403) without a session id for a replay', async () => {
      const target = await app();
      const jar = new CookieJar();
      const { relayState } = await start(target, jar);
      await target.callback(jar, relayState);
      await target.callback(jar, relayState);
      expect(channels()).to.deep.equal(['start', 'success', 'failure']);
      expect(events[2]?.message).to.deep.include({ strategy: 'itsme', code: 'used-login', status: 403 });
      expect(events[2]?.message).to.not.have.property('sessionId');
    });

    it('should publish only a failure with the ItsMeError code when ZignSec is down at the start', async () => {
      const target = await app();
      stub.startReply = () => ({ status: 503, body: { errors: [{ code: 'Internal Exception' }] } });
      const response = await fetch(`${target.url}/login`, { redirect: 'manual' });
      expect(response.status).to.equal(500);
      expect(channels()).to.deep.equal(['failure']);
      expect(events[0]?.message).to.deep.include({ strategy: 'itsme', code: 'ERR_ZIGNSEC_HTTP_STATUS', status: 500 });
      expect(events[0]?.message).to.not.have.property('sessionId');
    });

    it('should publish start then an error failure with the session id when ZignSec is down at the callback', async () => {
      const target = await app({ pendingTimeout: 1000 });
      const jar = new CookieJar();
      const { relayState, sessionId } = await start(target, jar);
      stub.results.set(sessionId, [{ status: 503, body: { errors: [] } }]);
      expect((await target.callback(jar, relayState)).kind).to.equal('error');
      expect(channels()).to.deep.equal(['start', 'failure']);
      expect(events[1]?.message).to.deep.include({ sessionId, code: 'ERR_ZIGNSEC_HTTP_STATUS', status: 500 });
    });

    it('should publish ERR_UNEXPECTED for an error thrown by verify', async () => {
      const target = await app({}, () => {
        throw new Error('database down');
      });
      const jar = new CookieJar();
      const { relayState } = await start(target, jar);
      await target.callback(jar, relayState);
      expect(events.map((e) => [e.channel, (e.message as { code?: string }).code])).to.deep.equal([
        ['start', undefined],
        ['failure', 'ERR_UNEXPECTED'],
      ]);
    });

    it('should publish a failure for a malformed callback, with the name given to the strategy', async () => {
      const target = await app({ name: 'itsme-pro' });
      await target.callback(new CookieJar(), 'abc');
      const [failure] = events.map((e) => e.message as LoginFailureMessage);
      expect(events).to.have.length(1);
      expect(failure).to.deep.equal({
        strategy: 'itsme-pro',
        code: 'invalid-callback',
        status: 400,
        duration: failure?.duration,
      });
      expect(failure?.duration).to.be.within(0, 1000);
    });
  });

  describe('a Passport action that throws', () => {
    /** Express 5, express-session and passport 0.7, flash messages asked for without connect-flash. */
    async function flashApp(flash: 'failureFlash' | 'successFlash') {
      const web = express();
      const instance = new passport.Passport();
      instance.serializeUser((user, done) => done(null, user));
      instance.use(
        new ItsMeStrategy({ apiKey: stub.apiKey, baseURL: stub.url, callbackURL: 'http://127.0.0.1/cb' }, (p, done) =>
          done(null, { id: p.id }),
        ),
      );
      web.use(session({ secret: 's', resave: false, saveUninitialized: false }));
      web.use(instance.session());
      web.get('/login', instance.authenticate('itsme'));
      // A successFlash of true flashes only a message the strategy gave (none): a text always is.
      const asked = flash === 'successFlash' ? 'Welcome' : true;
      web.get('/cb', instance.authenticate('itsme', { failureRedirect: '/', successRedirect: '/', [flash]: asked }));
      const errors: string[] = [];
      web.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
        errors.push(err.message);
        res.status(500).end();
      });
      const server = await listen(web);
      servers.push(server);
      return { url: server.url, errors };
    }

    it("should publish one failure, not a second error, when Passport's fail() throws (failureFlash without connect-flash)", async () => {
      const target = await flashApp('failureFlash');
      const answer = await browse(`${target.url}/cb?relaystate=${'A'.repeat(43)}`, new CookieJar());
      expect(answer.status).to.equal(500);
      expect(target.errors).to.deep.equal(['req.flash is not a function']);
      expect(events.map((e) => [e.channel, (e.message as { code?: string }).code])).to.deep.equal([
        ['failure', 'no-session'],
      ]);
    });

    it("should publish the success and no failure when Passport's success() throws (successFlash without connect-flash)", async () => {
      const target = await flashApp('successFlash');
      const jar = new CookieJar();
      expect((await browse(`${target.url}/login`, jar)).status).to.equal(302);
      const answer = await browse(`${target.url}/cb?relaystate=${stub.lastRelayState()}`, jar);
      expect(answer.status).to.equal(500);
      expect(target.errors).to.deep.equal(['req.flash is not a function']);
      expect(channels()).to.deep.equal(['start', 'success']);
    });
  });

  describe('webhook', () => {
    async function receiver(secret?: string): Promise<string> {
      const web = express();
      web.post(
        '/hook',
        createWebhookHandler({
          apiKey: stub.apiKey,
          baseURL: stub.url,
          onResult: () => {},
          onError: () => {},
          ...(secret ? { secret } : {}),
        }),
      );
      const server = await listen(web);
      servers.push(server);
      return `${server.url}/hook`;
    }
    const post = (url: string, body: string, headers: Record<string, string> = {}) =>
      fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

    it('should publish handled, duplicate, unknown-session and bad-body with the status answered', async () => {
      const url = await receiver();
      stub.results.set('nobody', [{ status: 404, body: { errors: [{ code: 'SESSION_NOT_FOUND' }] } }]);
      await post(url, JSON.stringify(sampleResult('s-1')));
      await post(url, JSON.stringify({ id: 's-1' }));
      await post(url, JSON.stringify({ id: 'nobody' }));
      await post(url, '{"no":"id"}');
      expect(events.map((e) => e.message)).to.deep.equal([
        { sessionId: 's-1', outcome: 'handled', status: 200 },
        { sessionId: 's-1', outcome: 'duplicate', status: 200 },
        { sessionId: 'nobody', outcome: 'unknown-session', status: 404 },
        { outcome: 'bad-body', status: 400 },
      ]);
    });

    it('should publish bad-signature for a forged post and handled for a signed one', async () => {
      const url = await receiver('whsec-diag-1');
      const body = JSON.stringify({ id: 's-2' });
      await post(url, body, { 'x-zignsec-hmac-sha256': signWebhook(Buffer.from(body), 'wrong') });
      await post(url, body, { 'x-zignsec-hmac-sha256': signWebhook(Buffer.from(body), 'whsec-diag-1') });
      expect(events.map((e) => e.message)).to.deep.equal([
        { outcome: 'bad-signature', status: 401 },
        { sessionId: 's-2', outcome: 'handled', status: 200 },
      ]);
    });

    it('should publish rate-limited (429) once an id had its reads for the minute', async () => {
      const url = await receiver();
      stub.results.set('slow', [{ body: { id: 'slow', state: 'Pending', errors: [] } }]);
      for (let i = 0; i < 8; i++) await post(url, JSON.stringify({ id: 'slow' }));
      expect(events.map((e) => (e.message as WebhookMessage).outcome)).to.deep.equal([
        ...Array(6).fill('pending'),
        'rate-limited',
        'rate-limited',
      ]);
      expect(events.at(-1)?.message).to.deep.equal({ sessionId: 'slow', outcome: 'rate-limited', status: 429 });
    });
  });

  describe('without subscribers', () => {
    it('should build and publish nothing', async () => {
      unsubscribe();
      const published: string[] = [];
      // An own `publish` on each channel, removed afterwards: Node switches a channel's prototype when it
      // gains or loses subscribers, so the spy forwards to whatever the prototype's publish is then.
      const spies = Object.values(NAMES).map((name) => {
        const channel = diagnostics_channel.channel(name) as diagnostics_channel.Channel & { publish: unknown };
        Object.defineProperty(channel, 'publish', {
          configurable: true,
          writable: true,
          value(message: unknown) {
            published.push(name);
            (Object.getPrototypeOf(channel) as diagnostics_channel.Channel).publish.call(channel, message);
          },
        });
        return () => {
          delete (channel as { publish?: unknown }).publish;
        };
      });
      try {
        const run = async (listening: boolean) => {
          const target = await app();
          let reads = 0;
          // The strategy name is read for event payloads only.
          Object.defineProperty(target.strategy, 'name', {
            configurable: true,
            get: () => {
              reads += 1;
              return 'itsme';
            },
          });
          if (listening) subscribe();
          const jar = new CookieJar();
          const { relayState, sessionId } = await start(target, jar);
          stub.results.set(sessionId, [
            { body: { id: sessionId, state: 'Finished', errors: [{ code: 'USER_CANCEL' }] } },
          ]);
          await target.callback(jar, relayState);
          const ok = await start(target, jar);
          await target.callback(jar, ok.relayState);
          await target.callback(jar, ok.relayState);
          await target.callback(jar, 'abc');
          if (listening) unsubscribe();
          return reads;
        };
        expect(await run(false), 'payload fields read with nobody listening').to.equal(0);
        const hook = createWebhookHandler({ apiKey: stub.apiKey, baseURL: stub.url, onResult: () => {} });
        const server = await listen(express().post('/hook', hook));
        servers.push(server);
        const url = `${server.url}/hook`;
        await fetch(url, { method: 'POST', body: JSON.stringify({ id: 's-3' }) });
        await fetch(url, { method: 'POST', body: '{}' });
        expect(published, 'publish() calls with nobody listening').to.deep.equal([]);
        expect(await run(true), 'the same flows with a subscriber read the name').to.be.at.least(5);
      } finally {
        for (const undo of spies) undo();
      }
    });
  });
});
