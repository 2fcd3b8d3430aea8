import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type RunningExample, startExampleApp } from '../example-app/start.js';
import { consoleErrors, launchBrowser, requireChromium } from './support/browser.js';

const ARTIFACTS = path.resolve('test-artifacts', 'browser');

describe('real browser against the example app and the embedded simulator', function () {
  this.timeout(60_000);
  let app: RunningExample;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let errors: string[] = [];

  before(async function () {
    requireChromium(this, 'the real-browser test');
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
    browser = await launchBrowser();
  });

  beforeEach(async () => {
    context = await (browser as Browser).newContext({ viewport: { width: 1280, height: 800 } });
    errors = [];
  });

  afterEach(async () => {
    await context?.close();
    expect(errors, 'console errors').to.deep.equal([]);
  });

  after(async () => {
    await browser?.close();
    await app?.close();
  });

  async function freshPage(): Promise<Page> {
    const page = await context.newPage();
    const seen = consoleErrors(page);
    page.on('close', () => errors.push(...seen));
    return page;
  }

  async function loginInTab(page: Page, persona: string): Promise<void> {
    await page.getByText(persona).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
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

  it('should show no personal data when Back is pressed after logging out', async () => {
    const page = await freshPage();
    await page.goto(`${app.url}/`);
    await page.getByRole('button', { name: 'Log in with itsme' }).click();
    await page.waitForURL(`${app.simulator?.url}/itsme/authorize/**`);
    await loginInTab(page, 'Hélène Dubois-Lefèvre');
    await page.waitForURL(`${app.url}/profile`);
    expect(await page.locator('dl.facts').textContent()).to.include('Namur');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(`${app.url}/`);
    await page.goBack();
    await page.waitForLoadState('load');
    expect(page.url()).to.equal(`${app.url}/`);
    const shown = (await page.locator('body').textContent()) ?? '';
    expect(shown).not.to.include('Hélène');
    expect(shown).not.to.include('Namur');
    expect(shown).to.include('Log in with itsme');
    await page.goForward();
    expect(await page.locator('body').textContent()).not.to.include('Hélène');
    await page.close();
  });

  it('should let two tabs approving two persons each land on their own person', async () => {
    const first = await freshPage();
    const second = await freshPage();
    for (const tab of [first, second]) {
      await tab.goto(`${app.url}/`);
      await tab.getByRole('button', { name: 'Log in with itsme' }).click();
      await tab.waitForURL(`${app.simulator?.url}/itsme/authorize/**`);
    }
    await loginInTab(first, 'Anneleen Peeters');
    await first.waitForURL(`${app.url}/profile`);
    expect(await first.getByRole('heading', { level: 1 }).textContent()).to.equal('Anneleen Peeters');
    await loginInTab(second, 'Jürgen Schmitz');
    await second.waitForURL(`${app.url}/profile`);
    expect(await second.getByRole('heading', { level: 1 }).textContent()).to.equal('Jürgen Schmitz');
    await first.close();
    await second.close();
  });

  it('should keep the language chosen on the login page after a cancel', async () => {
    const page = await freshPage();
    await page.goto(`${app.url}/`);
    await page.getByLabel('Language of the itsme screen').selectOption('de');
    await page.getByRole('button', { name: 'Log in with itsme' }).click();
    await page.waitForURL(`${app.simulator?.url}/itsme/authorize/**`);
    expect(await page.getByText('Geteilte Daten:').count()).to.equal(1);
    await page.getByRole('button', { name: 'Abbrechen' }).click();
    await page.waitForURL(`${app.url}/`);
    expect(await page.getByLabel('Language of the itsme screen').inputValue()).to.equal('de');
    await page.close();
  });

  it('should link an already answered itsme screen back to the site', async () => {
    const page = await freshPage();
    await page.goto(`${app.url}/`);
    await page.getByRole('button', { name: 'Log in with itsme' }).click();
    await page.waitForURL(`${app.simulator?.url}/itsme/authorize/**`);
    const screen = page.url();
    await loginInTab(page, 'Florent Verschueren');
    await page.waitForURL(`${app.url}/profile`);
    await page.goto(screen);
    await page.getByRole('link', { name: 'Back to the website' }).click();
    await page.waitForURL(`${app.url}/profile`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('Florent Verschueren');
    await page.close();
  });
});
