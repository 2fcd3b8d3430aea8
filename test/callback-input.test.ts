import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import express5 from 'express';
import session from 'express-session';
import express4 from 'express4';
import passport from 'passport';
import { ItsMeStrategy, SessionRelayStateStore } from '../lib/index.js';
import {
  captureLogs,
  type GuardedApp,
  guardProcess,
  type LogCapture,
  type ProcessGuard,
  realNetwork,
  startGuardedApp,
} from './support/guards.js';
import { browse, CookieJar, type Listening, listen } from './support/http.js';
import { ZignSecStub } from './support/zignsec-stub.js';

const API_KEY = 'itsme-KEY-never-in-logs-5b7c1e';
const USED = 'This itsme login has already been used. Please start again.';
const EXPIRED = 'This itsme login has expired. Please start again.';
// The person sees one sentence for both; the reason is in `info.hint` (see test/failure-codes.test.ts).
const MALFORMED = 'This itsme login link is not valid. Please start again.';
const NOT_SINGLE = MALFORMED;

let guard: ProcessGuard;
let restoreNock: () => void;
let logs: LogCapture;

/** Starts a login in `jar`'s browser; returns the relaystate and ZignSec session id it got. */
async function begin(app: GuardedApp, stub: ZignSecStub, jar: CookieJar) {
  const res = await browse(`${app.url}/login`, jar);
  expect(res.status, res.body).to.equal(302);
  const sessionId = new URL(String(res.location)).searchParams.get('session');
  return { relayState: stub.lastRelayState(), sessionId: String(sessionId) };
}

/** The outcome a person sees on the redirecting route: `/me` or `/failed` with its messages. */
async function land(app: GuardedApp, jar: CookieJar, path: string, init = {}) {
  const res = await browse(`${app.url}${path}`, jar, init);
  if (res.status !== 302 || (res.location !== '/me' && res.location !== '/failed')) {
    return { status: res.status, location: res.location, messages: [] as string[], user: null };
  }
  const next = await browse(`${app.url}${res.location}`, jar);
  const json = JSON.parse(next.body) as { messages?: string[]; id?: string };
  return {
    status: res.status,
    location: res.location,
    messages: res.location === '/failed' ? (json.messages ?? []) : [],
    user: res.location === '/me' ? json : null,
  };
}

for (const version of [5, 4] as const) {
  const parser = version === 5 ? "Express 5's simple parser" : "Express 4's extended qs";
  describe(`callback input (${parser})`, () => {
    let stub: ZignSecStub;
    let app: GuardedApp;

    before(async () => {
      restoreNock = realNetwork();
      guard = guardProcess();
      stub = await new ZignSecStub(API_KEY).start();
      app = await startGuardedApp({ version, strategy: { baseURL: stub.url, apiKey: API_KEY } });
    });
    after(async () => {
      await app.close();
      await stub.close();
      guard.dispose();
      restoreNock();
    });
    beforeEach(() => {
      logs = captureLogs();
    });
    afterEach(async function () {
      logs.dispose();
      logs.assertAbsent(API_KEY);
      await guard.assertClean();
      if (this.currentTest?.state === 'passed') {
        // The process keeps serving: a whole login still works after whatever the test sent.
        const jar = new CookieJar();
        const { relayState } = await begin(app, stub, jar);
        const done = await land(app, jar, `/callback?relaystate=${relayState}`);
        expect(done.location, 'follow-up login').to.equal('/me');
      }
      app.verified.length = 0;
      app.errors.length = 0;
      stub.gets.length = 0;
    });

    /** Sends `query` to both callback routes: the bare one answers with Passport's status. */
    async function expectRejected(query: string, status: number, message: string) {
      const jar = new CookieJar();
      const { relayState } = await begin(app, stub, jar);
      stub.gets.length = 0;
      app.verified.length = 0;
      const q = query.replaceAll('RS', relayState);
      const raw = await browse(`${app.url}/callback/raw?${q}`, jar);
      expect(raw.status, `${q} -> ${raw.body}`).to.equal(status);
      const seen = await land(app, jar, `/callback?${q}`);
      expect(seen.location).to.equal('/failed');
      expect(seen.messages).to.deep.equal([message]);
      expect(stub.gets, 'ZignSec must not be asked').to.deep.equal([]);
      expect(app.verified).to.have.length(0);
      // The bad request did not use up the browser's pending login.
      const good = await land(app, jar, `/callback?relaystate=${relayState}`);
      expect(good.location).to.equal('/me');
    }

    describe('malformed relaystate', () => {
      it('should start a new login, not complete one, when relaystate is missing', async () => {
        const jar = new CookieJar();
        const res = await browse(`${app.url}/callback`, jar);
        expect(res.status).to.equal(302);
        expect(res.location).to.match(/^http:\/\/127\.0\.0\.1:\d+\/itsme\/authorize\?session=/);
        expect(stub.gets).to.deep.equal([]);
        expect(app.verified).to.have.length(0);
      });

      it('should refuse an empty relaystate with 400', async () => {
        await expectRejected('relaystate=', 400, MALFORMED);
        await expectRejected('relaystate', 400, MALFORMED);
      });

      it('should refuse a repeated relaystate with 400, even when both copies are the real one', async () => {
        await expectRejected('relaystate=RS&relaystate=RS', 400, NOT_SINGLE);
        await expectRejected('relaystate=RS&relaystate=other-value-0123456789', 400, NOT_SINGLE);
      });

      for (const query of [
        'relaystate[a]=RS',
        'relaystate[]=RS',
        'relaystate[0]=RS',
        'relaystate.a=RS',
        'relaystate[a][b][c][d][e][f][g]=RS',
        'relaystate[__proto__]=RS',
        'relaystate=RS&relaystate[a]=RS',
      ]) {
        it(`should refuse a nested relaystate (${query}) with 400`, async () => {
          await expectRejected(query, 400, NOT_SINGLE);
        });
      }

      it('should refuse an over-long relaystate with 400', async () => {
        await expectRejected(`relaystate=RS${'A'.repeat(300)}`, 400, MALFORMED);
      });

      it('should refuse a relaystate longer than a request line may be before the strategy runs', async () => {
        const res = await browse(`${app.url}/callback/raw?relaystate=${'A'.repeat(64 * 1024)}`, new CookieJar());
        expect(res.status).to.equal(431);
        expect(stub.gets).to.deep.equal([]);
      });

      it('should refuse a non-ASCII relaystate with 400', async () => {
        await expectRejected(`relaystate=${encodeURIComponent('RSé')}`, 400, MALFORMED);
        await expectRejected(`relaystate=${encodeURIComponent('ŕéłäÿśţåţë-ünïçødé-☃')}`, 400, MALFORMED);
      });

      it('should refuse percent-garbage in relaystate with 400', async () => {
        await expectRejected('relaystate=%zz%E0%A4%A', 400, MALFORMED);
        await expectRejected('relaystate=RS%00', 400, MALFORMED);
        await expectRejected('relaystate=RS%0d%0aSet-Cookie:%20x=1', 400, MALFORMED);
        await expectRejected('relaystate=%', 400, MALFORMED);
      });
    });

    describe('relaystate in a POST body', () => {
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const json = { 'content-type': 'application/json' };

      it('should complete a login from a urlencoded POST body', async () => {
        const jar = new CookieJar();
        const { relayState } = await begin(app, stub, jar);
        const seen = await land(app, jar, '/callback', {
          method: 'POST',
          headers: form,
          body: `relaystate=${relayState}`,
        });
        expect(seen.location).to.equal('/me');
        expect(seen.user?.id).to.equal('1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9');
      });

      it('should complete a login from a JSON POST body', async () => {
        const jar = new CookieJar();
        const { relayState } = await begin(app, stub, jar);
        const body = JSON.stringify({ relaystate: relayState });
        const seen = await land(app, jar, '/callback', { method: 'POST', headers: json, body });
        expect(seen.location).to.equal('/me');
      });

      it('should refuse repeated, nested and non-string relaystate in a body with 400', async () => {
        const jar = new CookieJar();
        const { relayState } = await begin(app, stub, jar);
        const bodies: [Record<string, string>, string][] = [
          [form, `relaystate=${relayState}&relaystate=${relayState}`],
          [form, `relaystate[a]=${relayState}`],
          [form, `relaystate[]=${relayState}`],
          [json, JSON.stringify({ relaystate: [relayState] })],
          [json, JSON.stringify({ relaystate: { $ne: null } })],
          [json, JSON.stringify({ relaystate: 1234567890123456 })],
          [json, JSON.stringify({ relaystate: null })],
          [json, JSON.stringify({ relaystate: true })],
        ];
        for (const [headers, body] of bodies) {
          const res = await browse(`${app.url}/callback/raw`, jar, { method: 'POST', headers, body });
          expect(res.status, body).to.equal(400);
        }
        expect(stub.gets).to.deep.equal([]);
        const good = await land(app, jar, `/callback?relaystate=${relayState}`);
        expect(good.location).to.equal('/me');
      });

      it('should refuse a malformed relaystate in a body with 400', async () => {
        const jar = new CookieJar();
        await begin(app, stub, jar);
        for (const body of [
          'relaystate=',
          `relaystate=${'B'.repeat(300)}`,
          'relaystate=%zz%E0',
          'relaystate=%C3%A9tat',
        ]) {
          const res = await browse(`${app.url}/callback/raw`, jar, { method: 'POST', headers: form, body });
          expect(res.status, body).to.equal(400);
        }
        expect(stub.gets).to.deep.equal([]);
      });

      it('should refuse a body larger than the parser allows before the strategy runs', async () => {
        const jar = new CookieJar();
        const { relayState } = await begin(app, stub, jar);
        const body = `relaystate=${relayState}&pad=${'x'.repeat(200 * 1024)}`;
        const res = await browse(`${app.url}/callback/raw`, jar, { method: 'POST', headers: form, body });
        expect(res.status).to.equal(413);
        expect(stub.gets).to.deep.equal([]);
      });
    });

    describe('which login a relaystate belongs to', () => {
      it("should refuse another browser's relaystate with 403 and leave that browser's login intact", async () => {
        const alice = new CookieJar();
        const mallory = new CookieJar();
        const { relayState } = await begin(app, stub, alice);
        await begin(app, stub, mallory);
        const raw = await browse(`${app.url}/callback/raw?relaystate=${relayState}`, mallory);
        expect(raw.status).to.equal(403);
        const noCookie = await browse(`${app.url}/callback/raw?relaystate=${relayState}`, new CookieJar());
        expect(noCookie.status).to.equal(403);
        expect(stub.gets).to.deep.equal([]);
        expect((await browse(`${app.url}/me`, mallory)).status).to.equal(401);
        const seen = await land(app, alice, `/callback?relaystate=${relayState}`);
        expect(seen.location).to.equal('/me');
      });

      it('should refuse a relaystate used twice, without asking ZignSec again', async () => {
        const jar = new CookieJar();
        const { relayState } = await begin(app, stub, jar);
        expect((await land(app, jar, `/callback?relaystate=${relayState}`)).location).to.equal('/me');
        const again = await land(app, jar, `/callback?relaystate=${relayState}`);
        expect(again.messages).to.deep.equal([USED]);
        expect((await browse(`${app.url}/callback/raw?relaystate=${relayState}`, jar)).status).to.equal(403);
        expect(stub.gets).to.have.length(1);
        expect(app.verified).to.have.length(1);
      });

      it('should let at most one of two simultaneous callbacks with the same cookie reach verify', async () => {
        for (let round = 0; round < 10; round++) {
          const jar = new CookieJar();
          const { relayState } = await begin(app, stub, jar);
          const before = app.verified.length;
          const paths = [`/callback?relaystate=${relayState}`, `/callback/raw?relaystate=${relayState}`];
          const [a, b] = await Promise.all(paths.map((p) => browse(`${app.url}${p}`, jar)));
          const won = [a?.location === '/me', b?.status === 200].filter(Boolean);
          expect(won, `round ${round}: ${a?.status} ${a?.location} / ${b?.status}`).to.have.length(1);
          expect([a?.location === '/failed', b?.status === 403].filter(Boolean)).to.have.length(1);
          expect(app.verified.length - before, `round ${round}`).to.equal(1);
        }
      });

      it('should let at most one of five simultaneous callbacks reach verify', async () => {
        const jar = new CookieJar();
        const { relayState } = await begin(app, stub, jar);
        const results = await Promise.all(
          Array.from({ length: 5 }, () => browse(`${app.url}/callback/raw?relaystate=${relayState}`, jar)),
        );
        expect(results.map((r) => r.status).sort()).to.deep.equal([200, 403, 403, 403, 403]);
        expect(app.verified).to.have.length(1);
      });

      it("should keep two tabs' pending logins apart and complete each with its own ZignSec session", async () => {
        for (const pick of [0, 1]) {
          const jar = new CookieJar();
          const tabs = [await begin(app, stub, jar), await begin(app, stub, jar)];
          const chosen = tabs[pick];
          const res = await browse(`${app.url}/callback/raw?relaystate=${chosen?.relayState}`, jar);
          expect(res.status).to.equal(200);
          expect(app.verified.at(-1)?.sessionId).to.equal(chosen?.sessionId);
          // Login regenerates the session: the other tab's pending login is gone with the old one.
          const other = await browse(`${app.url}/callback/raw?relaystate=${tabs[1 - pick]?.relayState}`, jar);
          expect(other.status).to.equal(403);
        }
        expect(app.verified).to.have.length(2);
      });

      it('should keep at most 10 pending logins per session, dropping the oldest', async () => {
        const jar = new CookieJar();
        const started = [];
        for (let i = 0; i < 11; i++) started.push(await begin(app, stub, jar));
        const oldest = await browse(`${app.url}/callback/raw?relaystate=${started[0]?.relayState}`, jar);
        expect(oldest.status).to.equal(403);
        const newest = await browse(`${app.url}/callback/raw?relaystate=${started[10]?.relayState}`, jar);
        expect(newest.status).to.equal(200);
      });

      it('should fail with the expiry message when ZignSec says the login expired', async () => {
        const jar = new CookieJar();
        const { relayState, sessionId } = await begin(app, stub, jar);
        stub.results.set(sessionId, [
          { body: { id: sessionId, state: 'Failed', errors: [{ code: 'EXPIRED_TRANSACTION' }] } },
        ]);
        const seen = await land(app, jar, `/callback?relaystate=${relayState}`);
        expect(seen.messages).to.deep.equal(['The itsme login expired before it was confirmed. Please try again.']);
        expect(app.verified).to.have.length(0);
      });
    });

    describe('session fixation and redirect targets', () => {
      it('should give the browser a new session at login so a planted session cookie gains nothing', async () => {
        const jar = new CookieJar();
        const { relayState } = await begin(app, stub, jar);
        const planted = jar.header();
        expect(planted).to.match(/^connect\.sid=/);
        expect((await land(app, jar, `/callback?relaystate=${relayState}`)).location).to.equal('/me');
        expect(jar.header()).to.not.equal(planted);
        const attacker = new CookieJar();
        attacker.cookies.set('connect.sid', planted.slice('connect.sid='.length));
        const me = await browse(`${app.url}/me`, attacker);
        expect(me.status).to.equal(401);
      });

      it('should send ZignSec only the configured targets and webhook, whatever the query says', async () => {
        const jar = new CookieJar();
        const evil = 'https://evil.example/steal';
        await browse(`${app.url}/login?target=${evil}&targetError=${evil}&webhook=${evil}&redirectUrl=${evil}`, jar);
        const sent = stub.starts.at(-1)?.body;
        expect(sent?.target).to.equal('http://127.0.0.1/callback');
        expect(sent?.targetError).to.equal('http://127.0.0.1/callback');
        expect(sent).to.not.have.property('webhook');
        const relayState = stub.lastRelayState();
        const res = await browse(`${app.url}/callback?relaystate=${relayState}&returnTo=${evil}&target=${evil}`, jar);
        expect(res.location).to.equal('/me');
      });
    });
  });
}

describe('callback input (expired pending login)', () => {
  let stub: ZignSecStub;
  let app: GuardedApp;
  before(async () => {
    restoreNock = realNetwork();
    guard = guardProcess();
    stub = await new ZignSecStub(API_KEY).start();
    const store = new SessionRelayStateStore({ ttl: 800 });
    app = await startGuardedApp({ strategy: { baseURL: stub.url, apiKey: API_KEY, store } });
  });
  after(async () => {
    await app.close();
    await stub.close();
    guard.dispose();
    restoreNock();
  });

  it('should refuse a relaystate whose pending login expired with 403, without asking ZignSec', async () => {
    logs = captureLogs();
    const jar = new CookieJar();
    await browse(`${app.url}/login`, jar);
    const relayState = stub.lastRelayState();
    await sleep(900);
    const raw = await browse(`${app.url}/callback/raw?relaystate=${relayState}`, jar);
    expect(raw.status).to.equal(403);
    await browse(`${app.url}/login`, jar);
    await sleep(900);
    const seen = await land(app, jar, `/callback?relaystate=${stub.lastRelayState()}`);
    expect(seen.messages).to.deep.equal([EXPIRED]);
    expect(stub.gets).to.deep.equal([]);
    expect(app.verified).to.have.length(0);
    logs.dispose();
    logs.assertAbsent(API_KEY);
    await guard.assertClean();
  });
});

for (const version of [5, 4] as const) {
  describe(`callback input (Express ${version}, query parser off)`, () => {
    let stub: ZignSecStub;
    let server: Listening;
    const verified: string[] = [];

    before(async () => {
      restoreNock = realNetwork();
      guard = guardProcess();
      stub = await new ZignSecStub(API_KEY).start();
      server = await appWithoutQueryParser(version, stub, verified);
    });
    after(async () => {
      await server.close();
      await stub.close();
      guard.dispose();
      restoreNock();
    });
    afterEach(() => guard.assertClean());

    it('should complete the login from the relaystate in the URL, not start a new one', async () => {
      const jar = new CookieJar();
      const start = await browse(`${server.url}/login`, jar);
      expect(start.status).to.equal(302);
      const starts = stub.starts.length;
      const back = await browse(`${server.url}/callback?relaystate=${stub.lastRelayState()}`, jar);
      expect(back.status, back.body).to.equal(200);
      expect(JSON.parse(back.body)).to.deep.equal({ id: '1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9' });
      expect(stub.starts.length, 'no new ZignSec session').to.equal(starts);
      expect(verified).to.have.length(1);
      expect((await browse(`${server.url}/callback?relaystate=${stub.lastRelayState()}`, jar)).status).to.equal(403);
    });

    it('should refuse a repeated, nested or malformed relaystate in the URL with 400', async () => {
      const jar = new CookieJar();
      await browse(`${server.url}/login`, jar);
      const rs = stub.lastRelayState();
      const before = verified.length;
      for (const query of [
        `relaystate=${rs}&relaystate=${rs}`,
        `relaystate[a]=${rs}`,
        `relay%73tate%5Ba%5D=${rs}`,
        'relaystate=a%20b',
      ]) {
        const res = await browse(`${server.url}/callback?${query}`, jar);
        expect(res.status, query).to.equal(400);
      }
      expect(verified.length, 'no refused URL reached verify').to.equal(before);
      const back = await browse(`${server.url}/callback?relay%73tate=${rs}`, jar);
      expect(back.status, 'a percent-escaped key is the same key: the pending login was still there').to.equal(200);
      expect(verified.length).to.equal(before + 1);
    });

    it('should start a login when the URL has no relaystate, whatever else it has', async () => {
      for (const query of ['', '?next=%2Fhome', '?relaystatus=1']) {
        const res = await browse(`${server.url}/callback${query}`, new CookieJar());
        expect(res.status, query).to.equal(302);
        expect(res.location).to.match(/\/itsme\/authorize\?session=/);
      }
    });
  });
}

/** Express with `app.set('query parser', false)`: `req.query` is always `{}`. */
async function appWithoutQueryParser(version: 4 | 5, stub: ZignSecStub, verified: string[]): Promise<Listening> {
  const express = (version === 4 ? express4 : express5) as typeof express5;
  const app = express();
  app.set('query parser', false);
  const instance = new passport.Passport();
  instance.use(
    new ItsMeStrategy(
      { baseURL: stub.url, apiKey: API_KEY, callbackURL: 'http://127.0.0.1/callback', pendingTimeout: 1000 },
      (profile, done) => {
        verified.push(profile.id);
        done(null, { id: profile.id });
      },
    ),
  );
  instance.serializeUser((user, done) => done(null, user));
  instance.deserializeUser((user: Express.User, done) => done(null, user));
  app.use(session({ secret: 'no-query-parser', resave: false, saveUninitialized: false }));
  app.use(instance.session());
  app.get('/login', instance.authenticate('itsme'));
  app.get(
    '/callback',
    (req, _res, next) => {
      expect(req.query).to.deep.equal({});
      next();
    },
    instance.authenticate('itsme'),
    (req, res) => {
      res.json(req.user ?? null);
    },
  );
  return listen(app);
}
