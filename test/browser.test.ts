import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import type { BrowserContext, Page } from 'playwright-core';
import { type RunningExample, startExampleApp } from '../example-app/start.js';
import { CHROMIUM, hasChromium, launchChromium } from './support/browser.js';

const ARTIFACTS = path.resolve('test-artifacts', 'browser');

describe('real browser against the example app and the embedded simulator', function () {
  this.timeout(60_000);
  let app: RunningExample;
  let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
  let context: BrowserContext;

  before(async function () {
    if (!hasChromium()) {
      if (process.env.ITSME_REQUIRE_BROWSER === '1') {
        throw new Error(`ITSME_REQUIRE_BROWSER=1 but ${CHROMIUM} is missing: install Debian's chromium package`);
      }
      const line = '!'.repeat(78);
      console.warn(
        `\n${line}\n!! SKIPPED: the real-browser test needs ${CHROMIUM} (apt-get install chromium).\n${line}\n`,
      );
      this.skip();
    }
    await mkdir(ARTIFACTS, { recursive: true });
    app = await startExampleApp(
      {
        port: 0,
        host: '127.0.0.1',
        sessionSecret: 'browser-test-secret-0123456789abcdef',
        trustProxy: false,
        zignsec: { mode: 'simulator' },
      },
      { publicUrlFor: (port) => `http://127.0.0.1:${port}` },
    );
    browser = await launchChromium();
    context = browser.context;
  });

  after(async () => {
    await browser?.close();
    await app?.close();
  });

  async function freshPage(): Promise<Page> {
    await context.clearCookies();
    const page = await context.newPage();
    page.on('pageerror', (err) => {
      throw err;
    });
    return page;
  }

  it('should log in with itsme: pick a person on the itsme screen, approve, and see the name on /profile', async () => {
    const page = await freshPage();
    await page.goto(`${app.url}/`);
    await page.screenshot({ path: path.join(ARTIFACTS, '1-login.png'), fullPage: true });
    await page.getByLabel('Language of the itsme screen').selectOption('fr');
    await page.getByRole('button', { name: 'Log in with itsme' }).click();
    await page.waitForURL(`${app.simulator?.url}/itsme/authorize/**`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('Confirmer avec itsme');
    await page.getByText('Anneleen Peeters').click();
    await page.screenshot({ path: path.join(ARTIFACTS, '2-itsme-screen.png'), fullPage: true });
    await page.getByRole('button', { name: 'Confirmer' }).click();
    await page.waitForURL(`${app.url}/profile`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('Anneleen Peeters');
    expect(await page.locator('dl.facts').textContent()).to.include('14 July 1992');
    await page.screenshot({ path: path.join(ARTIFACTS, '3-profile.png'), fullPage: true });
    const cookies = await context.cookies(app.url);
    expect(cookies.find((c) => c.name === 'demo.sid')).to.include({ httpOnly: true, sameSite: 'Lax' });
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(`${app.url}/`);
    expect(await page.getByRole('status').textContent()).to.equal('You are logged out.');
    await page.close();
  });

  it('should come back to the login page with a message after cancelling on the itsme screen', async () => {
    const page = await freshPage();
    await page.goto(`${app.url}/`);
    await page.getByRole('button', { name: 'Log in with itsme' }).click();
    await page.waitForURL(`${app.simulator?.url}/itsme/authorize/**`);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.waitForURL(`${app.url}/`);
    expect(await page.getByRole('alert').textContent()).to.equal('The itsme login was cancelled.');
    await page.screenshot({ path: path.join(ARTIFACTS, '4-cancelled.png'), fullPage: true });
    await page.goto(`${app.url}/profile`);
    expect(page.url()).to.equal(`${app.url}/`);
    await page.close();
  });
});
