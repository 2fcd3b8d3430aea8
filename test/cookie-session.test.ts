import { createHash } from 'node:crypto';
import { expect } from 'chai';
import cookieSession from 'cookie-session';
import express, { type NextFunction, type Request, type Response } from 'express';
import passport from 'passport';
import { ItsMeStrategy, SessionRelayStateStore } from '../lib/index.js';
import { DEFAULT_PERSONAS } from '../lib/simulator/index.js';
import { type CookieSessionTestApp, readCookieSession, startCookieSessionApp } from './frameworks/cookie-session.js';
import { answerItsMe, itsmeLogin, json, startItsMe } from './frameworks/login.js';
import { browse, CookieJar, listen } from './support/http.js';
import { useSimulator } from './support/simulated-zignsec.js';

const KEY = 'cookie-session-test-key-9d2a';
const [FLORENT, ANNELEEN] = DEFAULT_PERSONAS;

/** Every string in `value` (keys included) that could be sent back as a relaystate. */
function relayStateLike(value: unknown, out = new Set<string>()): Set<string> {
  if (typeof value === 'string') {
    if (/^[A-Za-z0-9_-]{16,256}$/.test(value)) out.add(value);
  } else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      relayStateLike(key, out);
      relayStateLike(inner, out);
    }
  }
  return out;
}

describe('cookie-session (Express 5, passport 0.7, regenerate/save shim)', () => {
  const zs = useSimulator(KEY);
  const apps: CookieSessionTestApp[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  async function start(options: { signed?: false } = {}): Promise<CookieSessionTestApp> {
    const app = await startCookieSessionApp({ zignsec: { url: zs.sim.url, apiKey: KEY }, ...options });
    apps.push(app);
    return app;
  }

  /** Serves `/login` through the strategy on `app` (its session middleware already mounted), answering errors as JSON. */
  async function listenApp(app: express.Express, instance: passport.Authenticator) {
    app.get('/login', instance.authenticate('itsme'));
    app.use((err: Error & { code?: unknown }, _req: Request, res: Response, _next: NextFunction) => {
      res.status(500).json({ error: err.message, code: typeof err.code === 'string' ? err.code : null });
    });
    const server = await listen(app);
    instance.use(
      new ItsMeStrategy({ baseURL: zs.sim.url, apiKey: KEY, callbackURL: `${server.url}/callback` }, () => {}),
    );
    apps.push({ close: () => server.close() } as CookieSessionTestApp);
    return server;
  }

  describe('login', () => {
    it('should log the person in: start, itsme page, approve, callback, then /me shows who they are', async () => {
      const app = await start();
      const jar = new CookieJar();
      const { back } = await itsmeLogin(app.url, jar, { action: 'approve', persona: 'anneleen' });
      expect(back.location).to.equal('/me');
      const me = await browse(`${app.url}/me`, jar);
      expect(me.status).to.equal(200);
      expect(json(me)).to.deep.equal({ id: ANNELEEN?.sub, displayName: 'Anneleen Peeters' });
      expect([...jar.cookies.keys()].sort()).to.deep.equal(['session', 'session.sig']);
    });

    it('should show the person why when they cancel, and not log them in', async () => {
      const app = await start();
      const jar = new CookieJar();
      const { back } = await itsmeLogin(app.url, jar, { action: 'cancel' });
      expect(back.location).to.equal('/failed');
      expect(json(await browse(`${app.url}/failed`, jar))).to.deep.equal({
        messages: ['The itsme login was cancelled.'],
      });
      expect((await browse(`${app.url}/me`, jar)).status).to.equal(401);
      expect(app.verified).to.deep.equal([]);
    });

    it('should let two tabs of one browser each finish their own login', async () => {
      const app = await start();
      const jar = new CookieJar();
      const one = await startItsMe(app.url, jar);
      const two = await startItsMe(app.url, jar);
      const tripTwo = await answerItsMe(two, jar, { action: 'approve', persona: 'anneleen' });
      const tripOne = await answerItsMe(one, jar, { action: 'approve' });
      expect((await browse(tripTwo.callbackUrl, jar)).location).to.equal('/me');
      expect((await browse(tripOne.callbackUrl, jar)).location).to.equal('/me');
      expect(json(await browse(`${app.url}/me`, jar))).to.deep.equal({
        id: FLORENT?.sub,
        displayName: 'Florent Verschueren',
      });
      expect(app.verified).to.have.length(2);
    });
  });

  describe('replay', () => {
    /** A login approved and completed on `app`: its cookies after, a copy from before the callback, its status URL. */
    async function completedLogin(app: CookieSessionTestApp) {
      const jar = new CookieJar();
      const redirectUrl = await startItsMe(app.url, jar);
      const before = jar.copy();
      const trip = await answerItsMe(redirectUrl, jar, { action: 'approve' });
      expect((await browse(trip.callbackUrl, jar)).location).to.equal('/me');
      return { jar, before, status: trip.callbackUrl.replace('/callback?', '/callback/status?') };
    }

    it('should refuse a replayed callback with 403 without asking ZignSec, even with the cookie from before the login', async () => {
      const app = await start();
      const { jar, before, status } = await completedLogin(app);
      const reads = zs.resultReads();
      expect((await browse(status, jar)).status, 'with the cookie after the login').to.equal(403);
      expect((await browse(status, before)).status, 'with the cookie before the login').to.equal(403);
      expect(zs.resultReads()).to.equal(reads);
      expect(app.verified).to.have.length(1);
    });

    it('should refuse the cookie from before the login for as long as a pending login lives (ttl 1 h, 16 minutes later)', async () => {
      const app = await startCookieSessionApp({
        zignsec: { url: zs.sim.url, apiKey: KEY },
        strategy: { store: new SessionRelayStateStore({ ttl: 60 * 60_000 }) },
      });
      apps.push(app);
      const { before, status } = await completedLogin(app);
      const reads = zs.resultReads();
      // Past the strategy's 15 minutes of used ids, still within the pending login's hour.
      const real = Date.now;
      Date.now = () => real() + 16 * 60_000;
      try {
        expect((await browse(status, before.copy())).status).to.equal(403);
      } finally {
        Date.now = real;
      }
      expect(zs.resultReads()).to.equal(reads);
      expect(app.verified).to.have.length(1);
    });

    it("should not let a second strategy (another name, the default store) complete the first one's login", async () => {
      const web = express();
      const instance = new passport.Passport();
      web.use(cookieSession({ name: 'session', keys: ['two-strategies-key'], httpOnly: true, sameSite: 'lax' }));
      web.use((req: Request, _res: Response, next: NextFunction) => {
        const session = req.session as unknown as Record<string, unknown> | null;
        if (session && !session.regenerate) session.regenerate = (done: () => void) => done();
        if (session && !session.save) session.save = (done: () => void) => done();
        next();
      });
      web.use(instance.session());
      instance.serializeUser((user, done) => done(null, user));
      const ran: string[] = [];
      for (const name of ['itsme', 'itsme-stepup']) {
        web.get(`/${name}`, instance.authenticate(name));
        web.get(`/${name}/callback`, instance.authenticate(name), (req, res) => res.json(req.user ?? null));
      }
      const server = await listen(web);
      apps.push({ close: () => server.close() } as CookieSessionTestApp);
      for (const name of ['itsme', 'itsme-stepup']) {
        instance.use(
          new ItsMeStrategy(
            { name, baseURL: zs.sim.url, apiKey: KEY, callbackURL: `${server.url}/${name}/callback` },
            (profile, done) => {
              ran.push(name);
              done(null, { id: profile.id });
            },
          ),
        );
      }
      const jar = new CookieJar();
      const started = await browse(`${server.url}/itsme`, jar);
      const trip = await answerItsMe(String(started.location), jar, { action: 'approve' });
      const relayState = new URL(trip.callbackUrl).searchParams.get('relaystate');
      const elsewhere = await browse(`${server.url}/itsme-stepup/callback?relaystate=${relayState}`, jar.copy());
      expect(elsewhere.status).to.equal(403);
      expect(ran).to.deep.equal([]);
      // The login is still whole for its own strategy.
      expect((await browse(trip.callbackUrl, jar)).status).to.equal(200);
      expect(ran).to.deep.equal(['itsme']);
    });

    it("should refuse another browser's callback with 403 and let the right browser finish", async () => {
      const app = await start();
      const owner = new CookieJar();
      const trip = await answerItsMe(await startItsMe(app.url, owner), owner, { action: 'approve' });
      const other = new CookieJar();
      await startItsMe(app.url, other);
      expect((await browse(trip.callbackUrl.replace('/callback?', '/callback/status?'), other)).status).to.equal(403);
      expect((await browse(`${app.url}/me`, other)).status).to.equal(401);
      expect((await browse(trip.callbackUrl, owner)).location).to.equal('/me');
    });
  });

  describe('a session the browser can read (issue 10, item 1)', () => {
    it('should answer 403 to an attacker who completes, with their own readable cookie, a login the victim approved; the victim still logs in', async () => {
      const app = await start();
      const victim = new CookieJar();
      const victimsOwn = await startItsMe(app.url, victim);
      // The attacker starts a login and reads everything their own cookie holds.
      const attacker = new CookieJar();
      const lure = await startItsMe(app.url, attacker);
      const readable = readCookieSession(attacker.cookies.get('session'));
      const candidates = relayStateLike(readable);
      expect(candidates.size, 'strings in the readable cookie').to.be.greaterThan(0);
      // The victim is sent the attacker's redirectUrl and approves it as themselves.
      const approved = await answerItsMe(lure, victim, { action: 'approve', persona: 'anneleen' });
      // The attacker tries every string of their cookie as the relaystate, with their own cookie.
      for (const candidate of candidates) {
        const attempt = await browse(
          `${app.url}/callback/status?relaystate=${encodeURIComponent(candidate)}`,
          attacker.copy(),
        );
        expect(attempt.status, `attacker with ${candidate}: ${attempt.body}`).to.equal(403);
      }
      expect((await browse(`${app.url}/me`, attacker)).status, 'attacker logged in').to.equal(401);
      expect(app.verified, 'profiles that reached verify').to.deep.equal([]);
      expect(JSON.stringify(readable)).not.to.include(approved.relayState);
      // The victim's own login, in their own browser, still completes.
      const own = await answerItsMe(victimsOwn, victim, { action: 'approve', persona: 'anneleen' });
      expect((await browse(own.callbackUrl, victim)).location).to.equal('/me');
      expect(json(await browse(`${app.url}/me`, victim))).to.deep.equal({
        id: ANNELEEN?.sub,
        displayName: 'Anneleen Peeters',
      });
    });
  });

  describe('a session the browser can write', () => {
    it('should refuse an unsigned cookie-session with ERR_ITSME_SESSION_UNSAFE naming the fix, before asking ZignSec', async () => {
      const app = await start({ signed: false });
      const jar = new CookieJar();
      const login = await browse(`${app.url}/login`, jar);
      expect(login.status).to.equal(500);
      const { code, error } = json(login) as { code: string; error: string };
      expect(code).to.equal('ERR_ITSME_SESSION_UNSAFE');
      expect(error)
        .to.match(/signed: false/)
        .and.match(/keys/);
      expect(zs.calls.filter((line) => line.startsWith('POST /v3/eid/itsme '))).to.deep.equal([]);
    });

    for (const signed of [0, ''] as const) {
      it(`should refuse a cookie-session with signed: ${JSON.stringify(signed)}, which it leaves unsigned too`, async () => {
        const app = express();
        const instance = new passport.Passport();
        // cookie-session defaults only a null or undefined signed to true: any other falsy value turns signing off.
        app.use(cookieSession({ name: 'session', signed: signed as unknown as boolean }));
        const started = await listenApp(app, instance);
        const login = await browse(`${started.url}/login`, new CookieJar());
        expect(login.status).to.equal(500);
        expect((json(login) as { code: string }).code).to.equal('ERR_ITSME_SESSION_UNSAFE');
        expect(zs.calls.filter((line) => line.startsWith('POST /v3/eid/itsme '))).to.deep.equal([]);
      });
    }

    it('should refuse the way back too, so a pending login written by the browser logs nobody in', async () => {
      const app = await start({ signed: false });
      const jar = new CookieJar();
      // What the browser would write: the store's own layout for a relaystate of its choosing.
      const relayState = 'A'.repeat(43);
      // The digest exactly as the store writes it (digestRelayState): the entry is well-formed.
      const digest = createHash('sha256').update(relayState).digest('base64url').slice(0, 22);
      const forged = { 'passport-itsme': [[digest, 'a-session-the-victim-approved', Date.now() + 60_000]] };
      jar.cookies.set('session', Buffer.from(JSON.stringify(forged)).toString('base64'));
      const back = await browse(`${app.url}/callback/status?relaystate=${relayState}`, jar);
      expect(back.status).to.equal(500);
      expect((json(back) as { code: string }).code).to.equal('ERR_ITSME_SESSION_UNSAFE');
      expect(zs.resultReads()).to.equal(0);
      expect(app.verified).to.deep.equal([]);
    });
  });
});
