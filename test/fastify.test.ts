import { expect } from 'chai';
import type { ItsMeProfile, VerifyFunction } from '../lib/index.js';
import { DEFAULT_PERSONAS } from '../lib/simulator/index.js';
import {
  type FastifyAppOptions,
  type FastifySessionKind,
  type FastifyTestApp,
  startFastifyApp,
} from './frameworks/fastify.js';
import { answerItsMe, itsmeLogin, json, onInstance, startItsMe } from './frameworks/login.js';
import { browse, CookieJar } from './support/http.js';
import { useSimulator } from './support/simulated-zignsec.js';

const KEY = 'fastify-test-key-5b0e';
const [FLORENT, ANNELEEN] = DEFAULT_PERSONAS;

describe('fastify', () => {
  const zs = useSimulator(KEY);
  const apps: FastifyTestApp[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });

  async function start(
    session: FastifySessionKind,
    options: Omit<FastifyAppOptions, 'session' | 'zignsec'> = {},
  ): Promise<FastifyTestApp> {
    const app = await startFastifyApp({ session, zignsec: { url: zs.sim.url, apiKey: KEY }, ...options });
    apps.push(app);
    return app;
  }

  for (const session of ['session', 'secure-session'] as const) {
    describe(`@fastify/passport with @fastify/${session}`, () => {
      it('should log the person in: start, itsme page, approve, callback, then /me shows who they are', async () => {
        const app = await start(session);
        const jar = new CookieJar();
        const { redirectUrl, back } = await itsmeLogin(app.url, jar, { action: 'approve', persona: 'anneleen' });
        expect(new URL(redirectUrl).origin).to.equal(zs.sim.url);
        expect(back.status).to.equal(302);
        expect(back.location).to.equal('/me');
        const me = await browse(`${app.url}/me`, jar);
        expect(me.status).to.equal(200);
        expect(json(me)).to.deep.equal({ id: ANNELEEN?.sub, displayName: 'Anneleen Peeters' });
        expect(app.verified).to.have.length(1);
        expect((app.verified[0] as ItsMeProfile).emails?.[0]?.value).to.equal(ANNELEEN?.email);
      });

      it('should show each failure message once, so 40 failures in a row leave a small session cookie', async () => {
        const app = await start(session);
        const jar = new CookieJar();
        await browse(`${app.url}/login`, jar);
        for (let i = 0; i < 40; i++) {
          const back = await browse(
            `${app.url}/callback?relaystate=${'A'.repeat(40)}${String(i).padStart(3, '0')}`,
            jar,
          );
          expect(back.location).to.equal('/failed');
          expect((json(await browse(`${app.url}/failed`, jar)) as { messages: string[] }).messages).to.have.length(1);
        }
        const cookies = [...jar.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
        expect(cookies.length).to.be.below(1024);
      });

      it('should send a per-login callbackURL to ZignSec and complete the login at that route', async () => {
        const app = await start(session);
        const jar = new CookieJar();
        const { callbackUrl, back } = await itsmeLogin(app.url, jar, { action: 'approve' }, '/login-elsewhere');
        expect(callbackUrl.startsWith(`${app.url}/elsewhere/callback?`), callbackUrl).to.equal(true);
        expect(back.location).to.equal('/me');
        expect(json(await browse(`${app.url}/me`, jar))).to.deep.equal({
          id: FLORENT?.sub,
          displayName: 'Florent Verschueren',
        });
      });

      it('should keep a second browser logged out while the first logs in', async () => {
        const app = await start(session);
        const first = new CookieJar();
        const second = new CookieJar();
        await startItsMe(app.url, second);
        await itsmeLogin(app.url, first, { action: 'approve' });
        expect(json(await browse(`${app.url}/me`, first))).to.deep.equal({
          id: FLORENT?.sub,
          displayName: 'Florent Verschueren',
        });
        expect((await browse(`${app.url}/me`, second)).status).to.equal(401);
      });

      it('should show the person why when they cancel on the itsme screen, and not log them in', async () => {
        const app = await start(session);
        const jar = new CookieJar();
        const { back } = await itsmeLogin(app.url, jar, { action: 'cancel' });
        expect(back.location).to.equal('/failed');
        expect(json(await browse(`${app.url}/failed`, jar))).to.deep.equal({
          messages: ['The itsme login was cancelled.'],
        });
        expect((await browse(`${app.url}/me`, jar)).status).to.equal(401);
        expect(app.verified).to.deep.equal([]);
      });

      it('should refuse a replayed callback with 403, without asking ZignSec or running verify again', async () => {
        const app = await start(session);
        const jar = new CookieJar();
        const { callbackUrl, back } = await itsmeLogin(app.url, jar, { action: 'approve' });
        expect(back.location).to.equal('/me');
        const reads = zs.resultReads();
        const replay = await browse(onInstance(callbackUrl, app.url).replace('/callback?', '/callback/status?'), jar);
        expect(replay.status).to.equal(403);
        expect(zs.resultReads()).to.equal(reads);
        expect(app.verified).to.have.length(1);
        expect((await browse(`${app.url}/me`, jar)).status, 'still logged in').to.equal(200);
      });

      it('should refuse the callback from another browser with 403 and let the right browser finish', async () => {
        const app = await start(session);
        const victim = new CookieJar();
        const trip = await answerItsMe(await startItsMe(app.url, victim), victim, { action: 'approve' });
        const other = new CookieJar();
        await startItsMe(app.url, other);
        const stolen = await browse(trip.callbackUrl.replace('/callback?', '/callback/status?'), other);
        expect(stolen.status).to.equal(403);
        expect((await browse(`${app.url}/me`, other)).status).to.equal(401);
        expect((await browse(trip.callbackUrl, victim)).location).to.equal('/me');
        expect((await browse(`${app.url}/me`, victim)).status).to.equal(200);
      });

      it('should tell no-session, not unknown-login, when the callback brings no session cookie', async () => {
        const app = await start(session);
        const starter = new CookieJar();
        const trip = await answerItsMe(await startItsMe(app.url, starter), starter, { action: 'approve' });
        // The browser comes back without its cookie (a Secure cookie over http, SameSite=Strict, ...).
        const fresh = new CookieJar();
        expect((await browse(trip.callbackUrl, fresh)).location).to.equal('/failed');
        const { messages } = json(await browse(`${app.url}/failed`, fresh)) as { messages: string[] };
        expect(messages[0]).to.match(/no session came back with the callback/);
      });

      it('should fail the login cleanly when verify refuses the person', async () => {
        const app = await start(session, {
          verify: (_profile, done) => done(null, false, { message: 'Not a customer.' }),
        });
        const jar = new CookieJar();
        const { back } = await itsmeLogin(app.url, jar, { action: 'approve' });
        expect(back.location).to.equal('/failed');
        expect(json(await browse(`${app.url}/failed`, jar))).to.deep.equal({ messages: ['Not a customer.'] });
        expect((await browse(`${app.url}/me`, jar)).status).to.equal(401);
      });

      const keeps: { label: string; options: Omit<FastifyAppOptions, 'session' | 'zignsec'>; kept: boolean }[] = [
        { label: 'by default', options: {}, kept: false },
        {
          label: "with clearSessionIgnoreFields: ['passport-itsme']",
          options: { clearSessionIgnoreFields: ['passport-itsme'] },
          kept: true,
        },
        ...(session === 'session'
          ? [{ label: 'with keepSessionInfo: true', options: { keepSessionInfo: true }, kept: true }]
          : []),
      ];
      for (const { label, options, kept } of keeps) {
        it(`should ${kept ? 'keep' : 'drop'} the other tab's pending login when the session is cleared at login, ${label}`, async () => {
          const app = await start(session, options);
          const jar = new CookieJar();
          const one = await startItsMe(app.url, jar);
          const two = await startItsMe(app.url, jar);
          const tripTwo = await answerItsMe(two, jar, { action: 'approve', persona: 'anneleen' });
          const tripOne = await answerItsMe(one, jar, { action: 'approve' });
          expect((await browse(tripTwo.callbackUrl, jar)).location).to.equal('/me');
          const late = await browse(tripOne.callbackUrl.replace('/callback?', '/callback/status?'), jar);
          expect(late.status).to.equal(kept ? 200 : 403);
          const me = json(await browse(`${app.url}/me`, jar)) as { id: string };
          expect(me.id, 'logged in as').to.equal(kept ? FLORENT?.sub : ANNELEEN?.sub);
        });
      }

      it('should log in with an async verify that returns the user', async () => {
        const app = await start(session, {
          verify: async (profile) => {
            await new Promise((resolve) => setTimeout(resolve, 5));
            return { id: profile.id, displayName: `${profile.displayName} (async)` };
          },
        });
        const jar = new CookieJar();
        expect((await itsmeLogin(app.url, jar, { action: 'approve' })).back.location).to.equal('/me');
        expect(json(await browse(`${app.url}/me`, jar))).to.deep.equal({
          id: FLORENT?.sub,
          displayName: 'Florent Verschueren (async)',
        });
      });
    });
  }

  describe('@fastify/secure-session: two instances sharing the key', () => {
    const key = Buffer.alloc(32, 42);

    /** Two app instances behind one load balancer, with a verify that counts and may refuse. */
    async function pair(refuse: boolean) {
      const runs: string[] = [];
      const verifyOn =
        (name: string): VerifyFunction =>
        (profile, done) => {
          runs.push(name);
          if (refuse) done(null, false, { message: 'Not a customer.' });
          else done(null, { id: profile.id, displayName: profile.displayName });
        };
      const a = await start('secure-session', { key, verify: verifyOn('a') });
      const b = await start('secure-session', { key, verify: verifyOn('b') });
      return { a, b, runs };
    }

    it('should complete on one instance a login started on the other (the session is the cookie)', async () => {
      const { a, b, runs } = await pair(false);
      const jar = new CookieJar();
      const trip = await answerItsMe(await startItsMe(a.url, jar), jar, { action: 'approve' });
      expect((await browse(onInstance(trip.callbackUrl, b.url), jar)).location).to.equal('/me');
      expect((await browse(`${a.url}/me`, jar)).status).to.equal(200);
      expect(runs).to.deep.equal(['b']);
    });

    it('should send back, after a refused login, a cookie without the used login: the other instance answers 403 without asking ZignSec or running verify', async () => {
      const { a, b, runs } = await pair(true);
      const jar = new CookieJar();
      const { callbackUrl, back } = await itsmeLogin(a.url, jar, { action: 'approve' });
      expect(back.location).to.equal('/failed');
      expect(runs).to.deep.equal(['a']);
      const reads = zs.resultReads();
      const replay = await browse(onInstance(callbackUrl, b.url).replace('/callback?', '/callback/status?'), jar);
      expect(replay.status).to.equal(403);
      expect(zs.resultReads(), 'result reads from ZignSec').to.equal(reads);
      expect(runs, 'verify runs').to.deep.equal(['a']);
    });

    it('should send back, after a cancelled login, a cookie without the used login', async () => {
      const { a, b, runs } = await pair(false);
      const jar = new CookieJar();
      const { callbackUrl, back } = await itsmeLogin(a.url, jar, { action: 'cancel' });
      expect(back.location).to.equal('/failed');
      const reads = zs.resultReads();
      const replay = await browse(onInstance(callbackUrl, b.url).replace('/callback?', '/callback/status?'), jar);
      expect(replay.status).to.equal(403);
      expect(zs.resultReads()).to.equal(reads);
      expect(runs).to.deep.equal([]);
    });

    it('should refuse the login on an instance with another key, as a browser without a pending login', async () => {
      const a = await start('secure-session', { key });
      const other = await start('secure-session', { key: Buffer.alloc(32, 9) });
      const jar = new CookieJar();
      const trip = await answerItsMe(await startItsMe(a.url, jar), jar, { action: 'approve' });
      const elsewhere = onInstance(trip.callbackUrl, other.url).replace('/callback?', '/callback/status?');
      expect((await browse(elsewhere, jar)).status).to.equal(403);
      expect(other.verified).to.deep.equal([]);
    });
  });
});
