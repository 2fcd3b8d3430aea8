import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type RunningExample, startExampleApp } from '../example-app/start.js';
import { axeViolations, consoleErrors, launchBrowser, requireChromium, VIEWPORTS } from './support/browser.js';

/** What a page must hold to on both screens: no WCAG A/AA violation, no sideways scrolling. */
async function checkPage(page: Page, label: string): Promise<void> {
  await page.waitForLoadState('load');
  const violations = await axeViolations(page);
  expect(violations, `${label} (${page.url()})`).to.deep.equal([]);
  const overflow = await page.evaluate(
    '[document.documentElement.scrollWidth, window.innerWidth, ...[...document.querySelectorAll("table")].map((t) => t.scrollWidth - t.clientWidth)]',
  );
  const [scrollWidth, innerWidth, ...tables] = overflow as number[];
  expect(scrollWidth, `${label}: page wider than the screen`).to.be.at.most(innerWidth as number);
  for (const extra of tables) expect(extra, `${label}: a table scrolls sideways`).to.be.at.most(0);
}

describe('accessibility: axe-core WCAG 2.2 A/AA on every page, on a laptop and a phone', function () {
  this.timeout(120_000);
  let app: RunningExample;
  let browser: Browser;
  let sim: string;
  const logged: string[] = [];

  before(async function () {
    requireChromium(this, 'the accessibility test');
    app = await startExampleApp(
      {
        port: 0,
        host: '127.0.0.1',
        sessionSecret: 'accessibility-test-secret-0123456789abcdef',
        trustProxy: false,
        zignsec: { mode: 'simulator' },
      },
      {
        publicUrlFor: (port) => `http://127.0.0.1:${port}`,
        app: { mobile: { checkInterval: 50 }, log: (line) => logged.push(line) },
      },
    );
    sim = app.simulator?.url ?? '';
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await app?.close();
  });

  for (const [screen, viewport] of Object.entries(VIEWPORTS)) {
    describe(`${screen} ${viewport.width}x${viewport.height}`, () => {
      let context: BrowserContext;
      let page: Page;
      let errors: string[];
      before(async () => {
        context = await browser.newContext({ viewport });
        page = await context.newPage();
        errors = consoleErrors(page);
      });
      after(() => context?.close());

      it('should pass on the login page, with an error, with a notice and with the username kept', async () => {
        await page.goto(`${app.url}/`);
        await checkPage(page, 'login');
        await page.getByLabel('Username').fill('demo');
        await page.getByLabel('Password').fill('wrong');
        await page.getByRole('button', { name: 'Log in', exact: true }).click();
        await page.waitForURL(`${app.url}/`);
        expect(await page.getByRole('alert').textContent()).to.equal('Wrong username or password.');
        expect(await page.getByLabel('Username').inputValue()).to.equal('demo');
        await checkPage(page, 'login with an error');
      });

      it("should pass on the simulator's itsme screen, and on the profile and webhook pages after confirming", async () => {
        await page.goto(`${app.url}/`);
        await page.getByRole('button', { name: 'Log in with itsme' }).click();
        await page.waitForURL(`${sim}/itsme/authorize/**`);
        await checkPage(page, 'itsme screen');
        const screenUrl = page.url();
        await page.getByText('Anneleen Peeters').click();
        await page.getByRole('button', { name: 'Confirm' }).click();
        await page.waitForURL(`${app.url}/profile`);
        await checkPage(page, 'profile');
        await app.simulator?.webhooksIdle();
        await page.getByRole('link', { name: /webhook/ }).click();
        await page.waitForURL(`${app.url}/webhooks`);
        expect(await page.locator('table.results').textContent()).to.include('Anneleen Peeters');
        await checkPage(page, 'webhook results');
        await page.goto(`${app.url}/nowhere`);
        await checkPage(page, '404');
        app.simulator?.failNext('start', { status: 503 });
        const unavailable = await page.goto(`${app.url}/auth/itsme`);
        expect(unavailable?.status()).to.equal(502);
        const lines = logged.splice(0);
        expect(lines).to.have.length(1);
        expect(lines[0]).to.match(/HTTP 503/);
        await checkPage(page, 'itsme unavailable');
        await page.goto(screenUrl);
        expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal(
          'This itsme request has already been answered.',
        );
        await checkPage(page, 'already answered');
        await page.goto(`${app.url}/profile`);
        await page.getByRole('button', { name: 'Log out' }).click();
        await page.waitForURL(`${app.url}/`);
        await checkPage(page, 'logged out');
      });

      it('should pass on the messages of an expiry and a ZignSec error, and on the expired and home pages of the simulator', async () => {
        await page.goto(`${app.url}/`);
        await page.getByRole('button', { name: 'Log in with itsme' }).click();
        await page.waitForURL(`${sim}/itsme/authorize/**`);
        const screenUrl = page.url();
        await page.getByRole('button', { name: 'Let it expire' }).click();
        await page.waitForURL(`${app.url}/`);
        expect(await page.getByRole('alert').textContent()).to.include('expired');
        await checkPage(page, 'expired message');
        await page.goto(screenUrl);
        expect(await page.getByRole('heading', { level: 1 }).textContent()).to.equal('This itsme request has expired.');
        await checkPage(page, 'simulator expired page');
        await page.goto(`${app.url}/`);
        await page.getByRole('button', { name: 'Log in with itsme' }).click();
        await page.waitForURL(`${sim}/itsme/authorize/**`);
        await page.getByRole('button', { name: 'ZignSec error' }).click();
        await page.waitForURL(`${app.url}/`);
        expect(await page.getByRole('alert').count()).to.equal(1);
        await checkPage(page, 'ZignSec error message');
        await page.goto(`${sim}/`);
        await checkPage(page, 'simulator home');
      });

      it('should pass on the pages of a password login', async () => {
        await page.goto(`${app.url}/`);
        await page.getByLabel('Username').fill('demo');
        await page.getByLabel('Password').fill('demo');
        await page.getByRole('button', { name: 'Log in', exact: true }).click();
        await page.waitForURL(`${app.url}/profile`);
        await checkPage(page, 'password profile');
        await page.goto(`${app.url}/webhooks`);
        await checkPage(page, 'password webhooks');
        await page.goto(`${app.url}/profile`);
        await page.getByRole('button', { name: 'Log out' }).click();
        await page.waitForURL(`${app.url}/`);
      });

      it('should pass on the mobile-app demo in each of its states and on its return page', async () => {
        await page.goto(`${app.url}/app`);
        await checkPage(page, 'app start');
        await page.getByRole('button', { name: 'Log in with itsme' }).click();
        await page.getByRole('link', { name: 'Open itsme' }).waitFor();
        await checkPage(page, 'app waiting');
        const id = app.simulator?.lastSession()?.id as string;
        app.simulator?.approve(id, 'juergen');
        await page.getByRole('heading', { name: 'Jürgen Schmitz' }).waitFor();
        await checkPage(page, 'app logged in');
        await page.getByRole('button', { name: 'Log out of the app' }).click();
        await page.goto(`${app.url}/app/return`);
        await checkPage(page, 'app return page');
      });

      it('should have logged no console error on any page (favicons included)', () => {
        expect(errors).to.deep.equal([]);
      });
    });
  }

  describe('the checks themselves', () => {
    it('should catch what they look for: low contrast, a missing label, a wide table, a console error', async () => {
      const context = await browser.newContext({ viewport: VIEWPORTS.phone });
      try {
        const page = await context.newPage();
        const errors = consoleErrors(page);
        // The simulator's pages allow inline styles (the app's CSP rightly does not).
        await page.goto(`${sim}/`);
        await page.evaluate(`document.querySelector('main').innerHTML =
          '<button style="background:#ff4612;color:#fff">Log in</button><input name="q">' +
          '<table><tr><td style="white-space:nowrap">' + 'x'.repeat(300) + '</td></tr></table>'`);
        const violations = await axeViolations(page);
        expect(violations.map((v) => v.split(' ')[0])).to.include.members(['color-contrast', 'label']);
        let failed = false;
        await checkPage(page, 'broken').catch(() => {
          failed = true;
        });
        expect(failed).to.equal(true);
        await page.evaluate(
          `document.querySelector('main').innerHTML = '<table><tr><td style="white-space:nowrap">' + 'x'.repeat(300) + '</td></tr></table>'`,
        );
        await checkPage(page, 'wide').then(
          () => expect.fail('a table wider than the phone passed'),
          (err: Error) => expect(err.message).to.match(/wider than the screen|scrolls sideways/),
        );
        await page.goto(`${app.url}/nowhere`);
        expect(errors.join('\n')).not.to.include('404');
        await page.evaluate(`console.error('boom')`);
        expect(errors.join('\n')).to.include('boom');
      } finally {
        await context.close();
      }
    });
  });

  describe('phone-first details', () => {
    it("should show the simulator's Confirm button on a 390x844 phone without scrolling", async () => {
      const context = await browser.newContext({ viewport: VIEWPORTS.phone });
      try {
        const page = await context.newPage();
        for (const language of ['en', 'fr', 'nl', 'de']) {
          await page.goto(`${app.url}/`);
          await page.getByLabel('Language of the itsme screen').selectOption(language);
          await page.getByRole('button', { name: 'Log in with itsme' }).click();
          await page.waitForURL(`${sim}/itsme/authorize/**`);
          const confirm = page.locator('button[value="approve"]');
          const box = await confirm.boundingBox();
          expect(box, language).to.not.equal(null);
          const { x, y, width, height } = box as { x: number; y: number; width: number; height: number };
          expect(y + height, `${language}: Confirm below the fold`).to.be.at.most(VIEWPORTS.phone.height);
          expect(y).to.be.at.least(0);
          const onTop = await page.evaluate(
            `document.elementFromPoint(${x + width / 2}, ${y + height / 2})?.closest('button')?.value ?? null`,
          );
          expect(onTop, `${language}: Confirm covered`).to.equal('approve');
          expect(await page.evaluate('window.scrollY')).to.equal(0);
          await page.locator('button[value="cancel"]').click();
          await page.waitForURL(`${app.url}/`);
        }
      } finally {
        await context.close();
      }
    });

    for (const viewport of [
      { width: 360, height: 740 },
      { width: 360, height: 640 },
    ]) {
      it(`should never hide the focused test person behind the sticky Confirm bar on a ${viewport.width}x${viewport.height} phone`, async () => {
        const context = await browser.newContext({ viewport });
        try {
          const page = await context.newPage();
          const hidden: string[] = [];
          for (const language of ['en', 'fr', 'nl', 'de']) {
            await page.goto(`${app.url}/`);
            await page.getByLabel('Language of the itsme screen').selectOption(language);
            await page.getByRole('button', { name: 'Log in with itsme' }).click();
            await page.waitForURL(`${sim}/itsme/authorize/**`);
            await page.keyboard.press('Tab'); // into the group of test persons
            for (let i = 0; i < 5; i++) {
              await page.keyboard.press('ArrowDown');
              // WCAG 2.4.11: the focused control, its ring included, not entirely under the bar.
              const focus = (await page.evaluate(`(() => {
                const el = document.activeElement;
                const r = el.getBoundingClientRect();
                const bar = document.querySelector('form .actions').getBoundingClientRect();
                const ring = 4;
                return { value: el.value, under: r.top - ring >= bar.top && r.bottom + ring <= bar.bottom };
              })()`)) as { value: string; under: boolean };
              if (focus.under) hidden.push(`${language}: ${focus.value}`);
            }
            await page.locator('button[value="cancel"]').click();
            await page.waitForURL(`${app.url}/`);
          }
          expect(hidden, 'focused test persons entirely behind the bar').to.deep.equal([]);
        } finally {
          await context.close();
        }
      });
    }

    it('should show a clearly visible focus ring on every control, in the app and in the simulator', async () => {
      const context = await browser.newContext({ viewport: VIEWPORTS.desktop });
      try {
        const page = await context.newPage();
        const ringsOf = async (count: number): Promise<string[]> => {
          const seen: string[] = [];
          for (let i = 0; i < count; i++) {
            await page.keyboard.press('Tab');
            const ring = (await page.evaluate(`(() => {
              const el = document.activeElement;
              if (!el || el === document.body) return null;
              const s = getComputedStyle(el);
              return { name: el.tagName + ':' + (el.getAttribute('name') ?? el.textContent?.trim().slice(0, 20)), style: s.outlineStyle, width: parseFloat(s.outlineWidth), color: s.outlineColor };
            })()`)) as { name: string; style: string; width: number; color: string } | null;
            if (!ring) continue;
            expect(ring.style, ring.name).to.not.equal('none');
            expect(ring.width, ring.name).to.be.at.least(2);
            seen.push(ring.name);
          }
          return seen;
        };
        await page.goto(`${app.url}/`);
        const appControls = await ringsOf(7);
        expect(appControls.join(' ')).to.include('BUTTON').and.include('SELECT').and.include('INPUT:username');
        await page.getByRole('button', { name: 'Log in with itsme' }).click();
        await page.waitForURL(`${sim}/itsme/authorize/**`);
        const simControls = await ringsOf(6);
        expect(simControls.join(' ')).to.include('INPUT:persona').and.include('BUTTON:action');
      } finally {
        await context.close();
      }
    });
  });
});
