import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { type ItsMeStrategyOptions, SessionRelayStateStore } from '../lib/index.js';
import { ELSEWHERE_CALLBACK, startTestApp, type TestApp } from './support/app.js';
import { type BrowserResponse, browse, CookieJar } from './support/http.js';
import { sampleResult, ZignSecStub } from './support/zignsec-stub.js';

const SUB = '1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9';

function messages(response: BrowserResponse): string[] {
  return (JSON.parse(response.body) as { messages: string[] }).messages;
}

for (const version of [5, 4] as const) {
  describe(`integration (Express ${version}, express-session, passport 0.7)`, () => {
    let stub: ZignSecStub;
    const apps: TestApp[] = [];

    async function app(
      options: { keepSessionInfo?: boolean; strategy?: Partial<ItsMeStrategyOptions> } = {},
    ): Promise<TestApp> {
      const started = await startTestApp({
        version,
        ...options,
        strategy: { baseURL: stub.url, apiKey: stub.apiKey, pendingTimeout: 1500, ...options.strategy },
      });
      apps.push(started);
      return started;
    }

    /** Starts a login in `jar`'s browser; returns the relaystate and ZignSec session id. */
    async function startLogin(target: TestApp, jar: CookieJar, path = '/login') {
      const response = await browse(`${target.url}${path}`, jar);
      expect(response.status, response.body).to.equal(302);
      const location = new URL(String(response.location));
      return { relayState: stub.lastRelayState(), sessionId: String(location.searchParams.get('session')), location };
    }

    beforeEach(async () => {
      stub = await new ZignSecStub().start();
    });
    afterEach(async () => {
      for (const started of apps.splice(0)) await started.close();
      await stub.close();
    });

    describe('login', () => {
      it('should redirect to itsme, come back, and log the person in by their itsme sub', async () => {
        const target = await app();
        const jar = new CookieJar();
        const { relayState, location } = await startLogin(target, jar);
        expect(location.origin).to.equal(stub.url);
        expect(jar.cookies.size, 'a session cookie').to.equal(1);
        const start = stub.starts[0];
        expect(start?.headers.authorization).to.equal(stub.apiKey);
        expect(start?.body).to.deep.equal({
          relaystate: relayState,
          target: 'http://127.0.0.1/callback',
          targetError: 'http://127.0.0.1/callback',
        });
        const back = await browse(`${target.url}/callback?relaystate=${relayState}`, jar);
        expect(back.location).to.equal('/me');
        const me = await browse(`${target.url}/me`, jar);
        expect(me.status).to.equal(200);
        expect(JSON.parse(me.body)).to.deep.equal({ id: SUB, displayName: 'Florent Verschueren' });
        expect(target.verified).to.have.length(1);
      });

      it('should complete a login whose relaystate comes back in a form POST', async () => {
        const target = await app();
        const jar = new CookieJar();
        const { relayState } = await startLogin(target, jar);
        const back = await browse(`${target.url}/callback`, jar, {
          method: 'POST',
          body: `relaystate=${relayState}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        expect(back.location).to.equal('/me');
      });

      it('should pass the language chosen for one login, and refuse an unknown one without calling ZignSec', async () => {
        const target = await app();
        await startLogin(target, new CookieJar(), '/login/nl');
        expect(stub.starts[0]?.body.language).to.equal('nl');
        const wrong = await browse(`${target.url}/login/es`, new CookieJar());
        expect(wrong.status).to.equal(500);
        expect(JSON.parse(wrong.body).error).to.match(/language/);
        expect(stub.starts).to.have.length(1);
      });

      it('should send the callbackURL given to passport.authenticate as the target of that login, and complete it there', async () => {
        const target = await app();
        const jar = new CookieJar();
        const { relayState } = await startLogin(target, jar, '/login-elsewhere');
        expect(stub.starts[0]?.body).to.include({ target: ELSEWHERE_CALLBACK, targetError: ELSEWHERE_CALLBACK });
        const back = await browse(`${target.url}/elsewhere/callback?relaystate=${relayState}`, jar);
        expect(back.location).to.equal('/me');
        expect(JSON.parse((await browse(`${target.url}/me`, jar)).body)).to.deep.equal({
          id: SUB,
          displayName: 'Florent Verschueren',
        });
        await startLogin(target, new CookieJar());
        expect(stub.starts[1]?.body.target, 'the next login: the strategy option again').to.equal(
          'http://127.0.0.1/callback',
        );
      });

      it('should fail with a message the person understands when they cancelled', async () => {
        const target = await app();
        const jar = new CookieJar();
        const { relayState, sessionId } = await startLogin(target, jar);
        stub.results.set(sessionId, [
          { body: { id: sessionId, state: 'Finished', errors: [{ code: 'USER_CANCEL', description: 'cancelled' }] } },
        ]);
        const back = await browse(`${target.url}/callback?relaystate=${relayState}`, jar);
        expect(back.location).to.equal('/failed');
        expect(messages(await browse(`${target.url}/failed`, jar))).to.deep.equal(['The itsme login was cancelled.']);
        expect((await browse(`${target.url}/me`, jar)).status).to.equal(401);
      });

      it('should log in after the result was pending for a while', async () => {
        const target = await app();
        const jar = new CookieJar();
        const { relayState, sessionId } = await startLogin(target, jar);
        const pending = { body: { id: sessionId, state: 'Pending', errors: [] } };
        stub.results.set(sessionId, [pending, pending, { body: sampleResult(sessionId) }]);
        expect((await browse(`${target.url}/callback?relaystate=${relayState}`, jar)).location).to.equal('/me');
        expect(stub.gets).to.have.length(3);
      });
    });

    describe('relaystate checks', () => {
      it('should answer 403 to an unknown relaystate without asking ZignSec', async () => {
        const target = await app();
        const jar = new CookieJar();
        await startLogin(target, jar);
        const unknown = randomBytes(32).toString('base64url');
        expect((await browse(`${target.url}/callback/status?relaystate=${unknown}`, jar)).status).to.equal(403);
        const back = await browse(`${target.url}/callback?relaystate=${unknown}`, jar);
        expect(back.location).to.equal('/failed');
        expect(messages(await browse(`${target.url}/failed`, jar))[0]).to.match(
          /unknown, was already used or has expired/,
        );
        expect(stub.gets).to.deep.equal([]);
      });

      it('should answer 400 to a malformed relaystate', async () => {
        const target = await app();
        const jar = new CookieJar();
        await startLogin(target, jar);
        expect((await browse(`${target.url}/callback/status?relaystate=abc`, jar)).status).to.equal(400);
        const repeated = `relaystate=${stub.lastRelayState()}&relaystate=${stub.lastRelayState()}`;
        expect((await browse(`${target.url}/callback/status?${repeated}`, jar)).status).to.equal(400);
        expect(stub.gets).to.deep.equal([]);
      });

      it('should refuse an expired login without asking ZignSec', async () => {
        const target = await app({ strategy: { store: new SessionRelayStateStore({ ttl: 1 }) } });
        const jar = new CookieJar();
        const { relayState } = await startLogin(target, jar);
        await sleep(20);
        expect((await browse(`${target.url}/callback/status?relaystate=${relayState}`, jar)).status).to.equal(403);
        expect(stub.gets).to.deep.equal([]);
      });

      it('should refuse a replayed relaystate, even from the browser that used it', async () => {
        const target = await app();
        const jar = new CookieJar();
        const { relayState } = await startLogin(target, jar);
        expect((await browse(`${target.url}/callback?relaystate=${relayState}`, jar)).location).to.equal('/me');
        expect((await browse(`${target.url}/callback/status?relaystate=${relayState}`, jar)).status).to.equal(403);
        expect(stub.gets).to.have.length(1);
        expect(target.verified).to.have.length(1);
      });

      it("should refuse another browser's relaystate and leave that browser's login intact", async () => {
        const target = await app();
        const victim = new CookieJar();
        const { relayState } = await startLogin(target, victim);
        const attacker = new CookieJar();
        await startLogin(target, attacker);
        expect((await browse(`${target.url}/callback/status?relaystate=${relayState}`, attacker)).status).to.equal(403);
        expect(
          (await browse(`${target.url}/callback/status?relaystate=${relayState}`, new CookieJar())).status,
        ).to.equal(403);
        expect(stub.gets).to.deep.equal([]);
        expect((await browse(`${target.url}/callback?relaystate=${relayState}`, victim)).location).to.equal('/me');
        expect((await browse(`${target.url}/me`, attacker)).status).to.equal(401);
      });
    });

    describe('two tabs', () => {
      it('should keep both pending logins, so either tab can finish first', async () => {
        for (const finishFirst of [0, 1]) {
          const target = await app();
          const jar = new CookieJar();
          const tabs = [await startLogin(target, jar), await startLogin(target, jar)];
          const first = tabs[finishFirst];
          expect((await browse(`${target.url}/callback?relaystate=${first?.relayState}`, jar)).location).to.equal(
            '/me',
          );
          expect(stub.gets.at(-1)).to.equal(first?.sessionId);
        }
      });

      it('should let both tabs finish, each once, with keepSessionInfo: true', async () => {
        const target = await app({ keepSessionInfo: true });
        const jar = new CookieJar();
        const one = await startLogin(target, jar);
        const two = await startLogin(target, jar);
        expect((await browse(`${target.url}/callback?relaystate=${two.relayState}`, jar)).location).to.equal('/me');
        expect((await browse(`${target.url}/callback?relaystate=${one.relayState}`, jar)).location).to.equal('/me');
        expect(stub.gets).to.deep.equal([two.sessionId, one.sessionId]);
        for (const tab of [one, two]) {
          const replay = await browse(`${target.url}/callback/status?relaystate=${tab.relayState}`, jar);
          expect(replay.status).to.equal(403);
        }
        expect(target.verified).to.have.length(2);
      });

      it("should drop the other tab's pending login when Passport regenerates the session at login", async () => {
        const target = await app();
        const jar = new CookieJar();
        const one = await startLogin(target, jar);
        const two = await startLogin(target, jar);
        expect((await browse(`${target.url}/callback?relaystate=${two.relayState}`, jar)).location).to.equal('/me');
        const late = await browse(`${target.url}/callback/status?relaystate=${one.relayState}`, jar);
        expect(late.status).to.equal(403);
        expect((await browse(`${target.url}/me`, jar)).status, 'still logged in').to.equal(200);
      });
    });
  });
}
