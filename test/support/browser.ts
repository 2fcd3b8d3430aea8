import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { type BrowserResponse, browse, type CookieJar } from './http.js';

/** What a person does on the simulator's itsme screen. */
export interface ItsMeChoice {
  /** The person's two answers, or the simulator page's expiry and ZignSec error buttons. */
  action: 'approve' | 'cancel' | 'expire' | 'error';
  /** Persona id; default: the one preselected on the page. */
  persona?: string;
}

/** The hidden form token of the simulator's itsme page. */
export function formToken(page: string): string {
  const token = /name="token" value="([^"]+)"/.exec(page)?.[1];
  if (!token) throw new Error(`no form token on the itsme page:\n${page.slice(0, 500)}`);
  return token;
}

/**
 * Opens the simulator's itsme page like a browser without JavaScript would, then submits its form:
 * the persona radio button that is checked (or the given one) and the pressed button.
 */
export async function answerItsMePage(
  pageUrl: string,
  jar: CookieJar,
  choice: ItsMeChoice,
): Promise<{ page: BrowserResponse; answer: BrowserResponse }> {
  const page = await browse(pageUrl, jar);
  if (page.status !== 200) throw new Error(`itsme page answered ${page.status}: ${page.body.slice(0, 300)}`);
  const action = /<form method="post" action="([^"]+)"/.exec(page.body)?.[1];
  if (!action) throw new Error('no form on the itsme page');
  const checked = /name="persona" value="([^"]+)" checked/.exec(page.body)?.[1];
  const form = new URLSearchParams({ token: formToken(page.body), action: choice.action });
  const persona = choice.persona ?? checked;
  if (persona) form.set('persona', persona);
  const answer = await browse(new URL(action, pageUrl).href, jar, {
    method: 'POST',
    body: form.toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  return { page, answer };
}

export const CHROMIUM = '/usr/bin/chromium';

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** The two screens every page is tried on: a laptop and a phone (iPhone 12-15 size). */
export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

/** Chromium from the system (never a downloaded browser), headless, in a fresh profile directory. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const { chromium } = await import('playwright-core');
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'itsme-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** The system Chromium, headless: one per test file; each test opens its own context (a fresh browser profile). */
export async function launchBrowser(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}

/**
 * In a `before` hook: skips the file when Chromium is missing, unless ITSME_REQUIRE_BROWSER=1 (CI),
 * where a missing browser is an error.
 */
export function requireChromium(ctx: Mocha.Context, what: string): void {
  if (hasChromium()) return;
  if (process.env.ITSME_REQUIRE_BROWSER === '1') {
    throw new Error(`ITSME_REQUIRE_BROWSER=1 but ${CHROMIUM} is missing: install Debian's chromium package`);
  }
  const line = '!'.repeat(78);
  console.warn(`\n${line}\n!! SKIPPED: ${what} needs ${CHROMIUM} (apt-get install chromium).\n${line}\n`);
  ctx.skip();
}

/**
 * Collects what a page logs as an error: console errors, failed loads (a missing favicon, a blocked
 * script) and uncaught exceptions. The status of the document itself is left out: a 404 page is
 * meant to answer 404.
 */
export function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const document = message.text().startsWith('Failed to load resource') && message.location().url === page.url();
    if (!document) errors.push(`${page.url()}: ${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (err) => errors.push(`${page.url()}: ${err.message}`));
  return errors;
}

/** The WCAG 2.2 A and AA rule tags of axe-core. */
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

let axeSource: string | undefined;

/**
 * Runs axe-core in the page and answers its WCAG A/AA violations, one line each. axe's source is
 * evaluated through the DevTools protocol, which the page's CSP does not govern (a script tag would
 * rightly be blocked); `@axe-core/playwright` is not used because it needs Node 22.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  if (axeSource === undefined) {
    const require = createRequire(import.meta.url);
    axeSource = await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  }
  const loaded = await page.evaluate("typeof window.axe !== 'undefined'");
  if (!loaded) await page.evaluate(axeSource);
  const violations = await page.evaluate(async (tags) => {
    const scope = globalThis as unknown as {
      axe: { run(context: unknown, options: unknown): Promise<AxeResults> };
      document: unknown;
    };
    const results = await scope.axe.run(scope.document, {
      runOnly: { type: 'tag', values: tags },
      resultTypes: ['violations'],
    });
    return results.violations.map(
      (v) => `${v.id} (${v.impact ?? '-'}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
    );
  }, WCAG_TAGS);
  return violations;
}

interface AxeResults {
  violations: { id: string; impact?: string; help: string; nodes: { target: string[] }[] }[];
}

/** `true` when the system Chromium is installed. */
export function hasChromium(): boolean {
  return existsSync(CHROMIUM);
}
