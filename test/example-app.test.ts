import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import diagnostics_channel from 'node:diagnostics_channel';
import { once } from 'node:events';
import http from 'node:http';
import { expect } from 'chai';
import { type ExampleConfig, loadConfig } from '../example-app/config.js';
import { type RunningExample, type StartOptions, startExampleApp } from '../example-app/start.js';
import { DEFAULT_PERSONAS, type ItsMeSimulator, startSimulator } from '../lib/simulator/index.js';
import { answerItsMePage, type ItsMeChoice } from './support/browser.js';
import { type BrowserResponse, browse, CookieJar } from './support/http.js';

const KEY = 'example-app-test-key-7c1d';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function config(overrides: Partial<ExampleConfig> = {}): ExampleConfig {
  return {
    port: 0,
    host: '127.0.0.1',
    sessionSecret: 'a-test-secret-that-is-long-enough-0123456789',
    trustProxy: false,
    zignsec: { mode: 'simulator' },
    ...overrides,
  };
}

const onLoopback: StartOptions = { publicUrlFor: (port) => `http://127.0.0.1:${port}` };

/** Starts the example app against its own simulator (port 0 both), as in the README. */
const logged: string[] = [];

async function startAgainst(sim: ItsMeSimulator): Promise<RunningExample> {
  return startExampleApp(config({ zignsec: { mode: 'zignsec', apiKey: KEY, environment: 'test', baseURL: sim.url } }), {
    ...onLoopback,
    app: { log: (line) => logged.push(line) },
  });
}

/** One person in one browser: open the app, log in with itsme, answer on the itsme screen, come back. */
async function itsmeLogin(
  app: RunningExample,
  jar: CookieJar,
  choice: ItsMeChoice,
  language?: string,
): Promise<{ itsmePage: BrowserResponse; back: BrowserResponse; landing: BrowserResponse }> {
  const home = await browse(`${app.url}/`, jar);
  expect(home.status).to.equal(200);
  expect(home.body).to.include('Log in with itsme');
  const start = await browse(`${app.url}/auth/itsme${language ? `?language=${language}` : ''}`, jar);
  expect(start.status, start.body).to.equal(302);
  const { page, answer } = await answerItsMePage(start.location as string, jar, choice);
  expect(answer.status).to.equal(302);
  expect(answer.location?.startsWith(`${app.url}/auth/itsme/callback?relaystate=`)).to.equal(true);
  const back = await browse(answer.location as string, jar);
  expect(back.status).to.equal(302);
  const landing = await browse(new URL(back.location as string, app.url).href, jar);
  return { itsmePage: page, back, landing };
}

describe('example app', () => {
  let sim: ItsMeSimulator;
  let app: RunningExample;
  const extra: RunningExample[] = [];
  before(async () => {
    sim = await startSimulator({ apiKey: KEY });
    app = await startAgainst(sim);
  });
  after(async () => {
    await app.close();
    await sim.close();
  });
  afterEach(async () => {
    await Promise.all(extra.splice(0).map((a) => a.close()));
  });

  describe('itsme login', () => {
    it('should log a person in with itsme and show the verified identity on /profile', async () => {
      const jar = new CookieJar();
      const { back, landing } = await itsmeLogin(app, jar, { action: 'approve', persona: 'anneleen' });
      expect(back.location).to.equal('/profile');
      expect(landing.status).to.equal(200);
      const body = landing.body;
      expect(body).to.include('<h1 id="title">Anneleen Peeters</h1>');
      expect(body).to.include('Identity verified with itsme');
      expect(body).to.include('14 July 1992');
      expect(body).to.include('Meir 12<br>2000 Antwerpen<br>Belgium');
      expect(body).to.match(/anneleen\.peeters@example\.be<span class="badge warn">not verified/);
      expect(body).to.match(/\+32 470123456<span class="badge ok">verified/);
      expect(body).to.include(`<code>${DEFAULT_PERSONAS[1]?.sub}</code>`);
    });

    it('should show only what itsme returned for a person without first name or e-mail', async () => {
      const first = await itsmeLogin(app, new CookieJar(), { action: 'approve', persona: 'vandenbossche' });
      expect(first.landing.body).to.include('<h1 id="title">Van den Bossche</h1>');
      expect(first.landing.body).not.to.include('First name');
      const second = await itsmeLogin(app, new CookieJar(), { action: 'approve', persona: 'helene' });
      expect(second.landing.body).to.include('Hélène Dubois-Lefèvre');
      expect(second.landing.body).not.to.include('E-mail');
      expect(second.landing.body).to.include('Namur');
    });

    it('should show that the login was cancelled on the login page, and not log in', async () => {
      const jar = new CookieJar();
      const { back, landing } = await itsmeLogin(app, jar, { action: 'cancel' });
      expect(back.location).to.equal('/');
      expect(landing.body).to.include('<p class="alert error" role="alert">The itsme login was cancelled.</p>');
      expect((await browse(`${app.url}/profile`, jar)).location).to.equal('/');
      expect((await browse(`${app.url}/`, jar)).body).not.to.include('cancelled');
    });

    it('should log in when ZignSec still answers Pending a few times after the approval', async () => {
      sim.configureNextSession({ pendingPolls: 2 });
      const { landing } = await itsmeLogin(app, new CookieJar(), { action: 'approve', persona: 'juergen' });
      expect(landing.body).to.include('Jürgen Schmitz');
      expect(sim.lastSession()?.polls).to.equal(3);
    });

    it('should show that the login expired when the person answered too late', async () => {
      let now = Date.now();
      const slowSim = await startSimulator({ apiKey: KEY, clock: () => now, sessionTtl: 60_000 });
      const late = await startAgainst(slowSim);
      extra.push(late);
      try {
        const jar = new CookieJar();
        const start = await browse(`${late.url}/auth/itsme?language=fr`, jar);
        const page = await browse(start.location as string, jar);
        now += 120_000;
        const token = /name="token" value="([^"]+)"/.exec(page.body)?.[1] ?? '';
        const answer = await browse(start.location as string, jar, {
          method: 'POST',
          body: `token=${token}&action=approve&persona=florent`,
          headers: FORM,
        });
        const back = await browse(answer.location as string, jar);
        const landing = await browse(new URL(back.location as string, late.url).href, jar);
        // Started in French, so the failure is told in French.
        expect(landing.body).to.include('La connexion itsme a expiré avant d’être confirmée. Veuillez réessayer.');
      } finally {
        await slowSim.close();
      }
    });

    it('should refuse to use the same way back twice', async () => {
      const jar = new CookieJar();
      const start = await browse(`${app.url}/auth/itsme`, jar);
      const { answer } = await answerItsMePage(start.location as string, jar, { action: 'approve' });
      await browse(answer.location as string, jar);
      await browse(`${app.url}/`, jar);
      const again = await browse(answer.location as string, jar);
      expect(again.location).to.equal('/');
      const home = await browse(`${app.url}/`, jar);
      expect(home.status).to.equal(302);
      const other = new CookieJar();
      const replay = await browse(answer.location as string, other);
      expect(replay.location).to.equal('/');
      expect((await browse(`${app.url}/`, other)).body).to.include('This itsme login has already been used.');
    });

    it('should say itsme is unavailable when ZignSec fails, and keep serving', async () => {
      sim.failNext('start', { status: 503 });
      const failed = await browse(`${app.url}/auth/itsme?language=en`, new CookieJar());
      expect(failed.status).to.equal(502);
      expect(failed.body).to.include('itsme is not available right now');
      expect(logged.at(-1)).to.include('HTTP 503');
      expect(logged.join('\n')).not.to.include(KEY);
      const { landing } = await itsmeLogin(app, new CookieJar(), { action: 'approve' });
      expect(landing.body).to.include('Florent Verschueren');
    });
  });

  describe('webhook', () => {
    it('should ask ZignSec for its webhook at PUBLIC_URL outside simulator mode, and not without one', async () => {
      const sim = await startSimulator({ apiKey: KEY });
      try {
        const zignsec = { mode: 'zignsec', apiKey: KEY, environment: 'test', baseURL: sim.url } as const;
        const published = await startExampleApp(config({ zignsec, publicUrl: 'https://bank.example' }), {
          app: { log: () => {}, canonicalHost: false },
        });
        extra.push(published);
        const start = await browse(`${published.listening}/auth/itsme`, new CookieJar());
        expect(start.status, start.body).to.equal(302);
        expect(sim.lastSession()?.request.webhook).to.equal('https://bank.example/webhooks/zignsec');
        // Without PUBLIC_URL the app has no address ZignSec can reach: no webhook is asked for.
        const local = await startAgainst(sim);
        extra.push(local);
        expect((await browse(`${local.url}/auth/itsme`, new CookieJar())).status).to.equal(302);
        expect(sim.lastSession()?.request).to.not.have.property('webhook');
      } finally {
        await sim.close();
      }
    });

    it("should receive the simulator's signed webhook and show the result read back from ZignSec", async () => {
      const embedded = await startExampleApp(config(), onLoopback);
      extra.push(embedded);
      const jar = new CookieJar();
      const { landing } = await itsmeLogin(embedded, jar, { action: 'approve', persona: 'anneleen' });
      expect(landing.status).to.equal(200);
      await embedded.simulator?.webhooksIdle();
      expect(embedded.simulator?.webhookAttempts.map((a) => a.status)).to.deep.equal([200]);
      const page = await browse(`${embedded.url}/webhooks`, jar);
      expect(page.status).to.equal(200);
      expect(page.body).to.include('Anneleen Peeters');
      expect(page.body).to.include('Finished');
    });

    it('should refuse an unsigned forged webhook and show nothing for it', async () => {
      const embedded = await startExampleApp(config(), onLoopback);
      extra.push(embedded);
      const forged = await browse(`${embedded.url}/webhooks/zignsec`, new CookieJar(), {
        method: 'POST',
        body: JSON.stringify({ id: '9dc96404-7c0f-4997-bf94-3cd7f9de41b0', state: 'Finished', errors: [] }),
        headers: { 'content-type': 'application/json' },
      });
      expect(forged.status).to.equal(401);
      const jar = new CookieJar();
      await itsmeLogin(embedded, jar, { action: 'approve', persona: 'juergen' });
      await embedded.simulator?.webhooksIdle();
      const page = await browse(`${embedded.url}/webhooks`, jar);
      expect(page.body).to.not.include('9dc96404-7c0f-4997-bf94-3cd7f9de41b0');
      expect(page.body).to.include('Jürgen Schmitz');
    });

    it("should show each person only their own results, and the demo password user no one's name", async () => {
      const embedded = await startExampleApp(config(), onLoopback);
      extra.push(embedded);
      const anneleen = new CookieJar();
      await itsmeLogin(embedded, anneleen, { action: 'approve', persona: 'anneleen' });
      const helene = new CookieJar();
      await itsmeLogin(embedded, helene, { action: 'approve', persona: 'helene' });
      await itsmeLogin(embedded, new CookieJar(), { action: 'cancel' });
      await embedded.simulator?.webhooksIdle();
      expect(embedded.simulator?.webhookAttempts.map((a) => a.status)).to.deep.equal([200, 200, 200]);
      const own = (await browse(`${embedded.url}/webhooks`, anneleen)).body;
      expect(own).to.include('Anneleen Peeters');
      expect(own).not.to.include('Hélène');
      expect(own).not.to.include('USER_CANCEL');
      expect((await browse(`${embedded.url}/webhooks`, helene)).body).not.to.include('Anneleen');
      const demo = new CookieJar();
      await browse(`${embedded.url}/login`, demo, {
        method: 'POST',
        body: 'username=demo&password=demo',
        headers: FORM,
      });
      const shown = await browse(`${embedded.url}/webhooks`, demo);
      expect(shown.status).to.equal(200);
      for (const name of ['Anneleen', 'Hélène', 'USER_CANCEL']) expect(shown.body).not.to.include(name);
      expect(shown.body).to.include('You logged in with a password: there are no itsme results for you.');
    });

    it('should refuse unsigned posts outside simulator mode, and take ones signed with the webhook secret', async () => {
      const secret = 'zignsec-webhook-secret-5d1f';
      const signedSim = await startSimulator({ apiKey: KEY, webhookSignature: 'timestamped', webhookSecret: secret });
      try {
        const real = await startExampleApp(
          config({
            zignsec: {
              mode: 'zignsec',
              apiKey: KEY,
              environment: 'test',
              baseURL: signedSim.url,
              webhookSecret: secret,
            },
          }),
          onLoopback,
        );
        extra.push(real);
        const jar = new CookieJar();
        const start = await browse(`${real.url}/auth/itsme`, jar);
        const id = signedSim.lastSession()?.id as string;
        expect(start.status).to.equal(302);
        signedSim.approve(id, 'helene');
        const post = (headers: Record<string, string>) =>
          browse(`${real.url}/webhooks/zignsec`, new CookieJar(), {
            method: 'POST',
            body: JSON.stringify({ id }),
            headers: { 'content-type': 'application/json', ...headers },
          });
        expect((await post({})).status).to.equal(401);
        expect((await post({ 'x-zignsec-hmac-sha256': 'a'.repeat(64) })).status).to.equal(401);
        const body = JSON.stringify({ id });
        const t = Math.floor(Date.now() / 1000);
        const good = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
        expect((await post({ 'x-zignsec-hmac-sha256': `t=${t},v1=${good}` })).status).to.equal(200);
      } finally {
        await signedSim.close();
      }
    });
  });

  describe('language', () => {
    it('should show the itsme screen in the language chosen on the login page', async () => {
      const expected = { nl: 'Bevestigen met itsme', fr: 'Confirmer avec itsme', de: 'Mit itsme bestätigen' };
      for (const [language, title] of Object.entries(expected)) {
        const { itsmePage } = await itsmeLogin(app, new CookieJar(), { action: 'cancel' }, language);
        expect(itsmePage.body, language).to.include(`<h1>${title}</h1>`);
        expect(sim.lastSession()?.request.language).to.equal(language);
      }
    });

    it('should keep the language chosen on the login page after a cancel', async () => {
      const jar = new CookieJar();
      const { landing } = await itsmeLogin(app, jar, { action: 'cancel' }, 'nl');
      // The Dutch message on the English page says it is Dutch, for screen readers (WCAG 3.1.2).
      expect(landing.body).to.include(
        '<p class="alert error" role="alert" lang="nl">De aanmelding met itsme werd geannuleerd.</p>',
      );
      expect(landing.body).to.include('<option value="nl" lang="nl" selected>Nederlands</option>');
      expect(landing.body).to.include('<option value="fr" lang="fr">Français</option>');
    });

    it('should go back to the login page for a language itsme does not offer, without calling ZignSec', async () => {
      const before = sim.sessionCount;
      const res = await browse(`${app.url}/auth/itsme?language=es`, new CookieJar());
      expect(res.location).to.equal('/');
      expect(sim.sessionCount).to.equal(before);
    });
  });

  describe('password login beside itsme', () => {
    let embedded: RunningExample;
    before(async () => {
      embedded = await startExampleApp(config(), onLoopback);
    });
    after(() => embedded.close());

    it('should log the demo user in with the password form', async () => {
      const jar = new CookieJar();
      const res = await browse(`${embedded.url}/login`, jar, {
        method: 'POST',
        body: 'username=demo&password=demo',
        headers: FORM,
      });
      expect(res.location).to.equal('/profile');
      const profile = await browse(`${embedded.url}/profile`, jar);
      expect(profile.body).to.include('<h1 id="title">Demo User</h1>');
      expect(profile.body).to.include('Logged in with a password');
    });

    it('should refuse a wrong password with a message on the login page, keeping the username typed', async () => {
      const jar = new CookieJar();
      const res = await browse(`${embedded.url}/login`, jar, {
        method: 'POST',
        body: 'username=d%C3%A9mo%22%3E&password=nope',
        headers: FORM,
      });
      expect(res.location).to.equal('/');
      const home = (await browse(`${embedded.url}/`, jar)).body;
      expect(home).to.include('Wrong username or password.');
      expect(home).to.include('value="démo&quot;&gt;"');
      expect((await browse(`${embedded.url}/`, jar)).body).not.to.include('démo');
      expect((await browse(`${embedded.url}/profile`, jar)).location).to.equal('/');
    });

    it('should have no password account at all outside simulator mode', async () => {
      const home = await browse(`${app.url}/`, new CookieJar());
      expect(home.body).to.include('Log in with itsme');
      expect(home.body).not.to.include('Password');
      expect(home.body).not.to.include('Demo account');
      const res = await browse(`${app.url}/login`, new CookieJar(), {
        method: 'POST',
        body: 'username=demo&password=demo',
        headers: FORM,
      });
      expect(res.status).to.equal(404);
    });
  });

  describe('privacy', () => {
    it('should send Cache-Control: no-store on every page, those with personal data first', async () => {
      const jar = new CookieJar();
      const { landing } = await itsmeLogin(app, jar, { action: 'approve', persona: 'anneleen' });
      expect(landing.headers.get('cache-control')).to.equal('no-store');
      expect((await browse(`${app.url}/webhooks`, jar)).headers.get('cache-control')).to.equal('no-store');
      expect((await browse(`${app.url}/`, new CookieJar())).headers.get('cache-control')).to.equal('no-store');
      expect((await browse(`${app.url}/nowhere`, jar)).headers.get('cache-control')).to.equal('no-store');
      expect((await browse(`${app.url}/assets/app.css`, jar)).headers.get('cache-control')).to.match(/^public/);
    });

    it('should let two tabs of one browser complete their own logins, each landing on its own person', async () => {
      const jar = new CookieJar();
      const first = await browse(`${app.url}/auth/itsme`, jar);
      const second = await browse(`${app.url}/auth/itsme`, jar);
      const one = await answerItsMePage(first.location as string, jar, { action: 'approve', persona: 'anneleen' });
      const two = await answerItsMePage(second.location as string, jar, { action: 'approve', persona: 'helene' });
      const back1 = await browse(one.answer.location as string, jar);
      expect(back1.location).to.equal('/profile');
      expect((await browse(`${app.url}/profile`, jar)).body).to.include('<h1 id="title">Anneleen Peeters</h1>');
      const back2 = await browse(two.answer.location as string, jar);
      expect(back2.location).to.equal('/profile');
      expect((await browse(`${app.url}/profile`, jar)).body).to.include('<h1 id="title">Hélène Dubois-Lefèvre</h1>');
    });

    it('should forget pending logins at logout, so a way back after it does not log anyone in', async () => {
      const jar = new CookieJar();
      await itsmeLogin(app, jar, { action: 'approve', persona: 'anneleen' });
      const pending = await browse(`${app.url}/auth/itsme`, jar);
      const { answer } = await answerItsMePage(pending.location as string, jar, {
        action: 'approve',
        persona: 'helene',
      });
      await browse(`${app.url}/logout`, jar, { method: 'POST', body: '', headers: FORM });
      const back = await browse(answer.location as string, jar);
      expect(back.location).to.equal('/');
      expect((await browse(`${app.url}/profile`, jar)).location).to.equal('/');
    });

    it('should show the nationality as a nationality', async () => {
      const { landing } = await itsmeLogin(app, new CookieJar(), { action: 'approve', persona: 'helene' });
      expect(landing.body).to.include('<dt>Nationality</dt><dd>Belgian</dd>');
    });
  });

  describe('events', () => {
    it('should print the events of a real login, a cancel and a webhook, with no personal data', async () => {
      const lines: string[] = [];
      const logged = await startExampleApp(config(), { ...onLoopback, eventLog: (line) => lines.push(line) });
      extra.push(logged);
      await itsmeLogin(logged, new CookieJar(), { action: 'approve', persona: 'anneleen' });
      const approved = logged.simulator?.lastSession()?.id as string;
      await itsmeLogin(logged, new CookieJar(), { action: 'cancel' });
      const cancelled = logged.simulator?.lastSession()?.id as string;
      await logged.simulator?.webhooksIdle();
      const of = (id: string) => lines.filter((l) => l.includes(`session=${id}`)).map((l) => l.split(' ')[1]);
      expect(of(approved)).to.include.members(['login:start', 'login:success', 'webhook', 'zignsec']);
      expect(lines.find((l) => l.startsWith('[itsme] login:failure') && l.includes(cancelled))).to.match(
        / code=\S+ status=401 ms=\d+$/,
      );
      expect(lines.find((l) => l.includes('[itsme] zignsec method=POST path=/v3/eid/itsme '))).to.match(/status=200/);
      const all = lines.join('\n');
      for (const personal of ['Anneleen', 'Peeters', 'relaystate', DEFAULT_PERSONAS[1]?.sub ?? '-', KEY]) {
        expect(all).not.to.include(personal);
      }
    });

    it('should print one line per event with ids, codes and durations only', async () => {
      const lines: string[] = [];
      const logged = await startExampleApp(config(), { ...onLoopback, eventLog: (line) => lines.push(line) });
      extra.push(logged);
      const personal = { displayName: 'Anneleen Peeters', relayState: 'rs-secret', profile: { sub: 'x' } };
      diagnostics_channel
        .channel('passport-itsme:login:start')
        .publish({ strategy: 'itsme', sessionId: 'sess-1', ...personal });
      diagnostics_channel
        .channel('passport-itsme:login:failure')
        .publish({ strategy: 'itsme', sessionId: 'sess-1', code: 'ERR_ITSME_CANCELLED', status: 401, duration: 12.4 });
      diagnostics_channel
        .channel('passport-itsme:login:success')
        .publish({ strategy: 'itsme', sessionId: 's 2"', duration: 3 });
      diagnostics_channel
        .channel('passport-itsme:webhook')
        .publish({ sessionId: 'sess-1', outcome: 'handled', status: 200 });
      const tracing = diagnostics_channel.tracingChannel('passport-itsme:zignsec');
      await tracing.tracePromise(async () => {}, {
        method: 'GET',
        path: '/v3/eid/itsme/{id}',
        sessionId: 'sess-1',
        status: 200,
        duration: 8,
      });
      await tracing
        .tracePromise(async () => Promise.reject(Object.assign(new Error('down'), { code: 'ERR_ZIGNSEC_NETWORK' })), {
          method: 'POST',
          path: '/v3/eid/itsme',
          duration: 5,
        })
        .catch(() => {});
      expect(lines).to.deep.equal([
        '[itsme] login:start strategy=itsme session=sess-1',
        '[itsme] login:failure strategy=itsme session=sess-1 code=ERR_ITSME_CANCELLED status=401 ms=12',
        '[itsme] login:success strategy=itsme session=s2 ms=3',
        '[itsme] webhook session=sess-1 outcome=handled status=200',
        '[itsme] zignsec method=GET path=/v3/eid/itsme/{id} session=sess-1 status=200 ms=8',
        '[itsme] zignsec method=POST path=/v3/eid/itsme error=ERR_ZIGNSEC_NETWORK ms=5',
      ]);
      await logged.close();
      diagnostics_channel.channel('passport-itsme:webhook').publish({ outcome: 'handled', status: 200 });
      expect(lines).to.have.length(6);
    });
  });

  describe('logout and cookies', () => {
    it('should log out by POST only, and say so', async () => {
      const jar = new CookieJar();
      await itsmeLogin(app, jar, { action: 'approve' });
      expect((await browse(`${app.url}/logout`, jar)).status).to.equal(404);
      expect((await browse(`${app.url}/profile`, jar)).status).to.equal(200);
      const out = await browse(`${app.url}/logout`, jar, { method: 'POST', body: '', headers: FORM });
      expect(out.status).to.equal(303);
      expect((await browse(`${app.url}/`, jar)).body).to.include('You are logged out.');
      expect((await browse(`${app.url}/profile`, jar)).location).to.equal('/');
    });

    it('should refuse a logout posted from another site', async () => {
      const jar = new CookieJar();
      await itsmeLogin(app, jar, { action: 'approve' });
      const forged = await browse(`${app.url}/logout`, jar, {
        method: 'POST',
        body: '',
        headers: { ...FORM, origin: 'https://evil.example' },
      });
      expect(forged.status).to.equal(403);
      expect((await browse(`${app.url}/profile`, jar)).status).to.equal(200);
    });

    it('should set an httpOnly SameSite=Lax session cookie, Secure behind an HTTPS proxy', async () => {
      const res = await browse(`${app.url}/auth/itsme`, new CookieJar());
      const cookie = res.headers.getSetCookie().find((c) => c.startsWith('demo.sid='));
      expect(cookie)
        .to.match(/; HttpOnly/i)
        .and.match(/; SameSite=Lax/i);
      expect(cookie).not.to.match(/; Secure/i);
      const proxied = await startExampleApp(
        config({
          publicUrl: 'https://bank.example',
          trustProxy: 'loopback',
          zignsec: { mode: 'zignsec', apiKey: KEY, environment: 'test', baseURL: sim.url },
        }),
      );
      extra.push(proxied);
      expect(proxied.url).to.equal('https://bank.example');
      const secure = await browse(`${proxied.listening}/auth/itsme`, new CookieJar(), {
        headers: { 'x-forwarded-proto': 'https' },
      });
      expect(secure.headers.getSetCookie().find((c) => c.startsWith('demo.sid='))).to.match(/; Secure/i);
      expect(secure.location?.startsWith(sim.url)).to.equal(true);
      expect(sim.lastSession()?.request.target).to.equal('https://bank.example/auth/itsme/callback');
    });

    it('should send a browser that came by 127.0.0.1 to the localhost address the itsme callback uses', async () => {
      const local = await startExampleApp(
        config({ zignsec: { mode: 'zignsec', apiKey: KEY, environment: 'test', baseURL: sim.url } }),
      );
      extra.push(local);
      expect(local.url).to.match(/^http:\/\/localhost:\d+$/);
      const before = sim.sessionCount;
      const res = await browse(`${local.listening}/auth/itsme?language=nl`, new CookieJar());
      expect(res.status).to.equal(302);
      expect(res.location).to.equal(`${local.url}/auth/itsme?language=nl`);
      expect(sim.sessionCount).to.equal(before);
    });

    it('should escape what itsme returned when showing it', async () => {
      const evil = {
        ...(DEFAULT_PERSONAS[0] as (typeof DEFAULT_PERSONAS)[0]),
        id: 'evil',
        givenName: '<img src=x onerror=alert(1)>',
        address: { street_address: '"><script>alert(2)</script>', locality: 'Gent', postal_code: '9000' },
      };
      const embedded = await startExampleApp(config(), { ...onLoopback, simulator: { personas: [evil] } });
      extra.push(embedded);
      expect(embedded.simulator).to.not.equal(undefined);
      const { landing } = await itsmeLogin(embedded, new CookieJar(), { action: 'approve', persona: 'evil' });
      expect(landing.body).to.include('&lt;img src=x onerror=alert(1)&gt;');
      expect(landing.body).not.to.include('<img src=x');
      expect(landing.body).not.to.include('<script>');
      expect(landing.body).to.include('Offline mode: itsme is played by the built-in ZignSec simulator');
    });
  });

  describe('configuration', () => {
    it('should use the embedded simulator, port 3000 and a warned development secret by default', () => {
      const { config: c, warnings } = loadConfig({});
      expect(c).to.include({ port: 3000, host: '127.0.0.1', trustProxy: false });
      expect(c.zignsec).to.deep.equal({ mode: 'simulator' });
      expect(c.publicUrl).to.equal(undefined);
      expect(warnings.join(' ')).to.include('SESSION_SECRET is not set');
    });

    it('should use ZignSec when an API key is given, on the test host unless told otherwise', () => {
      const env = {
        ZIGNSEC_API_KEY: 'k',
        SESSION_SECRET: 'x'.repeat(40),
        PUBLIC_URL: 'https://bank.example/',
        TRUST_PROXY: '1',
      };
      const { config: c, warnings } = loadConfig(env);
      expect(c.zignsec).to.deep.equal({ mode: 'zignsec', apiKey: 'k', environment: 'test' });
      expect(c).to.include({ publicUrl: 'https://bank.example', trustProxy: 1 });
      expect(warnings).to.deep.equal([]);
      expect(loadConfig({ ...env, ZIGNSEC_ENV: 'production' }).config.zignsec).to.include({
        environment: 'production',
      });
    });

    it('should refuse bad values, naming the variable', () => {
      expect(() => loadConfig({ PORT: 'eighty' })).to.throw(/PORT/);
      expect(() => loadConfig({ ZIGNSEC_API_KEY: 'k', ZIGNSEC_ENV: 'prod' })).to.throw(/ZIGNSEC_ENV/);
      expect(() => loadConfig({ ZIGNSEC_ENV: 'production' })).to.throw(/ZIGNSEC_API_KEY/);
      expect(() => loadConfig({ PUBLIC_URL: 'bank.example' })).to.throw(/PUBLIC_URL/);
    });

    it('should start with `npm start` offline, say that it uses the simulator, and serve the login page', async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'example-app/server.ts'], {
        env: { ...process.env, PORT: '0', ZIGNSEC_API_KEY: '', SESSION_SECRET: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => {
        output += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        output += c.toString();
      });
      try {
        while (!/open (http:\S+)/.test(output)) {
          if (child.exitCode !== null) throw new Error(output);
          await once(child.stdout, 'data');
        }
        expect(output).to.include('itsme is played by the embedded simulator');
        expect(output).to.include('SESSION_SECRET is not set');
        const opened = new URL(/open (http:\S+)/.exec(output)?.[1] as string);
        expect(opened.hostname).to.equal('localhost');
        const home = await getAs(`http://127.0.0.1:${opened.port}/`, opened.host);
        expect(home).to.include('Log in with itsme');
        child.kill('SIGTERM');
        const [code] = (await once(child, 'exit')) as [number | null];
        expect(code).to.equal(0);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    });
  });
});

/** A GET to a loopback address with the Host header a browser on `host` would send (fetch cannot set it). */
function getAs(url: string, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { host } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}
