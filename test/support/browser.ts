import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BrowserContext } from 'playwright-core';
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

/** Chromium from the system (never a downloaded browser), headless, in a fresh profile directory. */
export async function launchChromium(): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const { chromium } = await import('playwright-core');
  const userDataDir = await mkdtemp(path.join(tmpdir(), 'itsme-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

/** `true` when the system Chromium is installed. */
export function hasChromium(): boolean {
  return existsSync(CHROMIUM);
}
