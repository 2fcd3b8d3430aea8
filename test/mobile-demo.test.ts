import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { type ExampleConfig, loadConfig } from '../example-app/config.js';
import { type RunningExample, startExampleApp } from '../example-app/start.js';
import { type ItsMeSimulator, startSimulator } from '../lib/simulator/index.js';
import { answerItsMePage, consoleErrors, launchBrowser, requireChromium, VIEWPORTS } from './support/browser.js';
import { CookieJar } from './support/http.js';

const KEY = 'mobile-demo-key-91c4e2';
const DEVICE = 'device-key-of-one-phone-0123456789';
const OTHER = 'device-key-of-another-phone-98765';

function config(zignsec: ExampleConfig['zignsec'] = { mode: 'simulator' }): ExampleConfig {
  return {
    ...loadConfig({ SESSION_SECRET: 'mobile-demo-secret-0123456789abcdefghij' }).config,
    port: 0,
    zignsec,
  };
}

interface ApiAnswer {
  status: number;
  json: Record<string, unknown>;
  headers: Headers;
}

/** One call as the native app makes it: JSON, its device key, no cookie. */
async function call(
  app: RunningExample,
  method: 'GET' | 'POST',
  path: string,
  options: { device?: string | null; body?: unknown; token?: string } = {},
): Promise<ApiAnswer> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const device = options.device === undefined ? DEVICE : options.device;
  if (device !== null) headers['x-device-key'] = device;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const response = await fetch(`${app.url}${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  return {
    status: response.status,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    headers: response.headers,
  };
}

async function startLogin(app: RunningExample, body: unknown = {}): Promise<{ id: string; redirectUrl: string }> {
  const started = await call(app, 'POST', '/api/app/logins', { body });
  expect(started.status, JSON.stringify(started.json)).to.equal(201);
  return started.json as { id: string; redirectUrl: string };
}

describe('mobile-app demo', () => {
  let sim: ItsMeSimulator;
  let app: RunningExample;
  let offset = 0;

  before(async () => {
    sim = await startSimulator({ apiKey: KEY });
    app = await startExampleApp(config({ mode: 'zignsec', apiKey: KEY, environment: 'test', baseURL: sim.url }), {
      publicUrlFor: (port) => `http://127.0.0.1:${port}`,
      app: { log: () => {}, mobile: { checkInterval: 1, now: () => Date.now() + offset, loginTtl: 60_000 } },
    });
  });
  after(async () => {
    await app?.close();
    await sim?.close();
  });

  describe('JSON API', () => {
    it('should start a login bound to the caller, answer pending, then an app token once, and the person for it', async () => {
      const { id, redirectUrl } = await startLogin(app, { language: 'fr' });
      expect(redirectUrl).to.equal(`${sim.url}/itsme/authorize/${id}`);
      expect(sim.session(id)?.request).to.include({ target: `${app.url}/app/return`, language: 'fr' });
      const pending = await call(app, 'GET', `/api/app/logins/${id}`);
      expect(pending.status).to.equal(200);
      expect(pending.json).to.deep.equal({ status: 'pending' });
      expect(pending.headers.get('cache-control')).to.equal('no-store');
      expect(pending.headers.get('set-cookie')).to.equal(null);
      const { answer } = await answerItsMePage(redirectUrl, new CookieJar(), {
        action: 'approve',
        persona: 'anneleen',
      });
      expect(answer.location).to.match(new RegExp(`^${app.url}/app/return\\?relaystate=`));
      const done = await call(app, 'GET', `/api/app/logins/${id}`);
      expect(done.status).to.equal(200);
      expect(done.json.status).to.equal('approved');
      const token = done.json.token as string;
      expect(token).to.match(/^[A-Za-z0-9_-]{43}$/);
      expect((done.json.person as { displayName: string }).displayName).to.equal('Anneleen Peeters');
      const again = await call(app, 'GET', `/api/app/logins/${id}`);
      expect(again.status).to.equal(410);
      expect(again.json.code).to.equal('used');
      const me = await call(app, 'GET', '/api/app/me', { token });
      expect(me.status).to.equal(200);
      expect(me.json.person).to.include({ displayName: 'Anneleen Peeters', birthday: '1992-07-14' });
      // The token works only beside the device key that collected it.
      for (const device of [OTHER, null]) {
        const stolen = await call(app, 'GET', '/api/app/me', { token, device });
        expect(stolen.status, String(device)).to.equal(401);
        expect(stolen.json).to.deep.equal({ code: 'bad_token', message: 'Log in again.' });
        if (device !== null) {
          expect((await call(app, 'POST', '/api/app/logout', { token, device })).status, device).to.equal(401);
        }
      }
      expect((await call(app, 'POST', '/api/app/logout', { token })).status).to.equal(204);
      expect((await call(app, 'GET', '/api/app/me', { token })).status).to.equal(401);
    });

    it("should answer another caller's login exactly like an unknown one", async () => {
      const { id, redirectUrl } = await startLogin(app);
      await answerItsMePage(redirectUrl, new CookieJar(), { action: 'approve', persona: 'helene' });
      const stolen = await call(app, 'GET', `/api/app/logins/${id}`, { device: OTHER });
      const unknown = await call(app, 'GET', '/api/app/logins/9dc96404-7c0f-4997-bf94-3cd7f9de41b0', {
        device: OTHER,
      });
      expect(stolen.status).to.equal(404);
      expect(stolen.json).to.deep.equal(unknown.json);
      expect(stolen.json.code).to.equal('unknown_login');
      expect(JSON.stringify(stolen.json)).not.to.include('Hélène');
      const odd = await call(app, 'GET', `/api/app/logins/${encodeURIComponent('../../v3/eid/itsme')}`);
      expect(odd.status).to.equal(404);
      // The rightful caller still gets its token afterwards.
      const mine = await call(app, 'GET', `/api/app/logins/${id}`);
      expect(mine.json.status).to.equal('approved');
    });

    it('should refuse a caller without a device key, a bad language, and a sixth login in progress', async () => {
      for (const device of [null, 'short', 'has spaces in it, which is not base64url']) {
        const res = await call(app, 'POST', '/api/app/logins', { device, body: {} });
        expect(res.status, String(device)).to.equal(401);
        expect(res.json.code).to.equal('device_key_required');
      }
      const before = sim.sessionCount;
      expect((await call(app, 'POST', '/api/app/logins', { body: { language: 'es' } })).status).to.equal(400);
      expect(sim.sessionCount).to.equal(before);
      const busy = 'device-key-of-a-busy-phone-1234567';
      for (let i = 0; i < 5; i++) {
        expect((await call(app, 'POST', '/api/app/logins', { device: busy, body: {} })).status).to.equal(201);
      }
      const sixth = await call(app, 'POST', '/api/app/logins', { device: busy, body: {} });
      expect(sixth.status).to.equal(429);
      expect(sim.sessionCount).to.equal(before + 5);
    });

    it('should say expired when the login is not answered in time, and no token comes after', async () => {
      const { id, redirectUrl } = await startLogin(app);
      offset += 61_000;
      try {
        const late = await call(app, 'GET', `/api/app/logins/${id}`);
        expect(late.status).to.equal(410);
        expect(late.json).to.include({ status: 'expired', code: 'expired' });
        await answerItsMePage(redirectUrl, new CookieJar(), { action: 'approve' });
        const after = await call(app, 'GET', `/api/app/logins/${id}`);
        expect(after.status).to.equal(410);
        expect(after.json.token).to.equal(undefined);
      } finally {
        offset -= 61_000;
      }
    });

    it('should pass on what itsme said: a cancel, an expiry on the itsme side, a ZignSec error', async () => {
      const expected = [
        ['cancel', 200, 'cancelled', 'USER_CANCEL'],
        ['expire', 410, 'expired', 'EXPIRED_TRANSACTION'],
        ['error', 200, 'failed', 'Internal Exception'],
      ] as const;
      for (const [action, status, outcome, code] of expected) {
        const { id, redirectUrl } = await startLogin(app);
        await answerItsMePage(redirectUrl, new CookieJar(), { action });
        const res = await call(app, 'GET', `/api/app/logins/${id}`);
        expect(res.status, action).to.equal(status);
        expect(res.json, action).to.include({ status: outcome, code });
        expect(res.json.message).to.be.a('string');
      }
    });

    it('should answer 502 without the API key when ZignSec is down, and recover', async () => {
      sim.failNext('start', { status: 503 });
      const down = await call(app, 'POST', '/api/app/logins', { body: {} });
      expect(down.status).to.equal(502);
      expect(down.json.code).to.equal('itsme_unavailable');
      expect(JSON.stringify(down.json)).not.to.include(KEY);
      const { id } = await startLogin(app);
      sim.failNext('result', { status: 500 }, { sessionId: id });
      expect((await call(app, 'GET', `/api/app/logins/${id}`)).status).to.equal(502);
      expect((await call(app, 'GET', `/api/app/logins/${id}`)).json).to.deep.equal({ status: 'pending' });
    });

    it('should not count logins past their expiry as in progress', async () => {
      const device = 'device-key-of-a-phone-that-gave-up-0123';
      for (let i = 0; i < 5; i++) {
        expect((await call(app, 'POST', '/api/app/logins', { device, body: {} })).status).to.equal(201);
      }
      expect((await call(app, 'POST', '/api/app/logins', { device, body: {} })).status).to.equal(429);
      // The person gave up on all five ("Stop waiting" on /app tells the server nothing).
      offset += 61_000;
      try {
        const next = await call(app, 'POST', '/api/app/logins', { device, body: {} });
        expect(next.status, JSON.stringify(next.json)).to.equal(201);
      } finally {
        offset -= 61_000;
      }
    });

    it('should not let one device start more than five logins by sending them at once', async () => {
      const device = 'device-key-of-a-hasty-phone-0123456789';
      const before = sim.sessionCount;
      sim.failNext('start', { delay: 200 }, { times: 5 }); // ZignSec takes 200 ms to answer each of the 5 starts
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => call(app, 'POST', '/api/app/logins', { device, body: {} })),
      );
      expect(answers.map((a) => a.status).sort()).to.deep.equal([201, 201, 201, 201, 201, 429, 429, 429, 429, 429]);
      expect(sim.sessionCount - before, 'ZignSec sessions opened').to.equal(5);
    });

    it('should hand out the app token once even when two polls of one approved login overlap', async () => {
      const device = 'device-key-of-a-phone-with-two-tabs-01';
      const started = await call(app, 'POST', '/api/app/logins', { device, body: {} });
      const { id, redirectUrl } = started.json as { id: string; redirectUrl: string };
      await answerItsMePage(redirectUrl, new CookieJar(), { action: 'approve', persona: 'anneleen' });
      // ZignSec answers slowly: both polls (two tabs of /app, or a retry) wait on it.
      sim.failNext('result', { delay: 300 }, { sessionId: id, times: 2 });
      const first = call(app, 'GET', `/api/app/logins/${id}`, { device });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const second = call(app, 'GET', `/api/app/logins/${id}`, { device });
      const answers = await Promise.all([first, second]);
      expect(answers.map((a) => a.status).sort()).to.deep.equal([200, 410]);
      expect(answers.filter((a) => typeof a.json.token === 'string')).to.have.length(1);
    });

    it('should refuse a body that is not JSON, or too large, in JSON', async () => {
      for (const body of ['{"language":', JSON.stringify({ language: 'x'.repeat(4096) })]) {
        const response = await fetch(`${app.url}/api/app/logins`, {
          method: 'POST',
          headers: { accept: 'application/json', 'content-type': 'application/json', 'x-device-key': DEVICE },
          body,
        });
        expect(response.headers.get('content-type') ?? '').to.match(/^application\/json/);
        const json = (await response.json()) as Record<string, unknown>;
        expect({ status: response.status, code: json.code }).to.deep.equal({
          status: body.length > 2048 ? 413 : 400,
          code: 'bad_body',
        });
        expect(json.message).to.be.a('string');
      }
    });

    it('should refuse a body of another type with 400 bad_body, starting no ZignSec session', async () => {
      const starts = sim.sessionCount;
      const response = await fetch(`${app.url}/api/app/logins`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', 'x-device-key': DEVICE },
        body: '{"language":"nl"}',
      });
      expect(response.status).to.equal(400);
      expect(((await response.json()) as { code: string }).code).to.equal('bad_body');
      expect(sim.sessionCount).to.equal(starts);
    });

    it('should answer in JSON a login id Express cannot decode (404 unknown_login) and an unknown call (404 not_found)', async () => {
      const undecodable = await call(app, 'GET', '/api/app/logins/%E0%A4%A');
      expect({ status: undecodable.status, code: undecodable.json.code }).to.deep.equal({
        status: 404,
        code: 'unknown_login',
      });
      const unknown = await call(app, 'GET', '/api/app/nothing-here');
      expect({ status: unknown.status, code: unknown.json.code }).to.deep.equal({ status: 404, code: 'not_found' });
    });

    it('should serve the universal-link return page with an "open the app" button and no personal data', async () => {
      const page = await fetch(`${app.url}/app/return?relaystate=abc`);
      expect(page.status).to.equal(200);
      const body = await page.text();
      expect(body).to.include('<a class="btn btn-itsme" href="/app">Open the Demo Bank app</a>');
      expect(page.headers.get('cache-control')).to.equal('no-store');
    });
  });

  describe('/app in a real browser', function () {
    this.timeout(60_000);
    let browser: Browser;
    let embedded: RunningExample;
    before(async function () {
      requireChromium(this, 'the mobile-app browser test');
      embedded = await startExampleApp(config(), {
        publicUrlFor: (port) => `http://127.0.0.1:${port}`,
        app: { mobile: { checkInterval: 100 } },
      });
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
      await embedded?.close();
    });

    it('should start, open itsme in a new tab, poll, and show the token and the person; the return page opens the app', async () => {
      const context = await browser.newContext({ viewport: VIEWPORTS.phone });
      try {
        const page = await context.newPage();
        const errors = consoleErrors(page);
        await page.goto(`${embedded.url}/app`);
        await page.getByLabel('Language of the itsme screen').selectOption('nl');
        await page.getByRole('button', { name: 'Log in with itsme' }).click();
        const open = page.getByRole('link', { name: 'Open itsme' });
        await open.waitFor();
        const [itsme] = await Promise.all([context.waitForEvent('page'), open.click()]);
        await itsme.waitForURL(`${embedded.simulator?.url}/itsme/authorize/**`);
        expect(await itsme.getByRole('heading', { level: 1 }).textContent()).to.equal('Bevestigen met itsme');
        await itsme.getByText('Jürgen Schmitz').click();
        await itsme.getByRole('button', { name: 'Bevestigen' }).click();
        await itsme.waitForURL(`${embedded.url}/app/return?**`);
        await page.getByRole('heading', { name: 'Jürgen Schmitz' }).waitFor();
        const token = (await page.locator('#token').textContent()) ?? '';
        expect(token).to.match(/^[A-Za-z0-9_-]{43}$/);
        expect(await page.getByRole('status').textContent()).to.equal('You are logged in.');
        // The itsme tab is on the return page: its button opens the app, which is logged in.
        await itsme.getByRole('link', { name: 'Open the Demo Bank app' }).click();
        await itsme.waitForURL(`${embedded.url}/app`);
        await itsme.getByRole('heading', { name: 'Jürgen Schmitz' }).waitFor();
        expect(await itsme.locator('#token').textContent()).to.equal(token);
        // The token works against the API beside the app's device key, like the app would use it.
        // (The page keeps it in localStorage, under 'demo-bank-app', as an app keeps it in its storage.)
        const stored = await page.evaluate("localStorage.getItem('demo-bank-app')");
        const deviceKey = (JSON.parse(String(stored)) as { deviceKey: string }).deviceKey;
        const me = await fetch(`${embedded.url}/api/app/me`, {
          headers: { authorization: `Bearer ${token}`, 'x-device-key': deviceKey },
        });
        expect(((await me.json()) as { person: { displayName: string } }).person.displayName).to.equal(
          'Jürgen Schmitz',
        );
        await page.getByRole('button', { name: 'Log out of the app' }).click();
        await page.getByRole('status').filter({ hasText: 'You are logged out of the app.' }).waitFor();
        expect(await page.getByRole('button', { name: 'Log in with itsme' }).isVisible()).to.equal(true);
        const after = await fetch(`${embedded.url}/api/app/me`, { headers: { authorization: `Bearer ${token}` } });
        expect(after.status).to.equal(401);
        expect(errors).to.deep.equal([]);
      } finally {
        await context.close();
      }
    });

    it('should tell the app when the person cancels in itsme, and let it start again', async () => {
      const context = await browser.newContext({ viewport: VIEWPORTS.phone });
      try {
        const page = await context.newPage();
        await page.goto(`${embedded.url}/app`);
        await page.getByRole('button', { name: 'Log in with itsme' }).click();
        const open = page.getByRole('link', { name: 'Open itsme' });
        const [itsme] = await Promise.all([context.waitForEvent('page'), open.click()]);
        await itsme.getByRole('button', { name: 'Cancel' }).click();
        await page.getByText('The itsme login was cancelled.').waitFor();
        expect(await page.getByRole('button', { name: 'Log in with itsme' }).isVisible()).to.equal(true);
      } finally {
        await context.close();
      }
    });
  });
});
