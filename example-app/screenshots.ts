// `npm run screenshots`: regenerates the docs/*.png pictures of the example app and the simulator, on a
// laptop (1280x800) and a phone (390x844), in the system Chromium, offline (embedded simulator).
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser } from '../test/support/browser.js';
import { type RunningExample, startExampleApp } from './start.js';

const DOCS = path.resolve(import.meta.dirname, '..', 'docs');

const SCREENS = {
  desktop: { viewport: { width: 1280, height: 800 }, suffix: '' },
  phone: { viewport: { width: 390, height: 844 }, suffix: '-phone' },
} as const;

async function shoot(page: Page, name: string, suffix: string): Promise<void> {
  const file = path.join(DOCS, `${name}${suffix}.png`);
  await page.screenshot({ path: file, animations: 'disabled', caret: 'hide' });
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}

async function pictures(browser: Browser, app: RunningExample, screen: keyof typeof SCREENS): Promise<void> {
  const { viewport, suffix } = SCREENS[screen];
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1, locale: 'en-GB' });
  try {
    const page = await context.newPage();
    await page.goto(`${app.url}/`);
    await shoot(page, 'example-app', suffix);
    await page.getByLabel('Language of the itsme screen').selectOption('nl');
    await page.getByRole('button', { name: 'Log in with itsme' }).click();
    await page.waitForURL(`${app.simulator?.url}/itsme/authorize/**`);
    await page.getByText('Anneleen Peeters').click();
    await page.mouse.move(0, 0);
    await shoot(page, 'simulator-screen', suffix);
    await page.getByRole('button', { name: 'Bevestigen' }).click();
    await page.waitForURL(`${app.url}/profile`);
    await shoot(page, 'example-app-profile', suffix);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(`${app.url}/`);
    if (screen === 'phone') {
      await page.goto(`${app.url}/app`);
      await shoot(page, 'mobile-app-start', suffix);
      await page.getByRole('button', { name: 'Log in with itsme' }).click();
      await page.getByRole('link', { name: 'Open itsme' }).waitFor();
      await shoot(page, 'mobile-app-waiting', suffix);
      const id = app.simulator?.lastSession()?.id as string;
      app.simulator?.approve(id, 'helene');
      await page.getByRole('heading', { name: 'Hélène Dubois-Lefèvre' }).waitFor();
      await shoot(page, 'mobile-app', suffix);
      await page.goto(`${app.url}/app/return`);
      await shoot(page, 'mobile-app-return', suffix);
    }
  } finally {
    await context.close();
  }
}

async function main(): Promise<void> {
  const app = await startExampleApp(
    {
      port: 0,
      host: '127.0.0.1',
      sessionSecret: 'screenshots-session-secret-0123456789abcdef',
      trustProxy: false,
      zignsec: { mode: 'simulator' },
    },
    { publicUrlFor: (port) => `http://localhost:${port}`, app: { mobile: { checkInterval: 100 } } },
  );
  const browser = await launchBrowser();
  try {
    await pictures(browser, app, 'desktop');
    await pictures(browser, app, 'phone');
  } finally {
    await browser.close();
    await app.close();
  }
}

main().catch((err: unknown) => {
  console.error(`screenshots failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
