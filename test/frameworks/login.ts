import { expect } from 'chai';
import { answerItsMePage, type ItsMeChoice } from '../support/browser.js';
import { type BrowserResponse, browse, type CookieJar } from '../support/http.js';

/** Where one login of one browser got to: the itsme page it was sent to and the way back to the app. */
export interface ItsMeRoundTrip {
  /** The simulator page the app redirected to (ZignSec's `redirectUrl`). */
  redirectUrl: string;
  /** The app URL the simulator sent the browser back to, with its relaystate. */
  callbackUrl: string;
  relayState: string;
}

/** Opens `startPath` of the app in `jar`'s browser and follows it to the simulator's itsme page. */
export async function startItsMe(appUrl: string, jar: CookieJar, startPath = '/login'): Promise<string> {
  const start = await browse(`${appUrl}${startPath}`, jar);
  expect(start.status, start.body).to.equal(302);
  return String(start.location);
}

/** On the simulator's itsme page at `redirectUrl`, the person does `choice`; returns where they are sent. */
export async function answerItsMe(redirectUrl: string, jar: CookieJar, choice: ItsMeChoice): Promise<ItsMeRoundTrip> {
  const { answer } = await answerItsMePage(redirectUrl, jar, choice);
  expect(answer.status, answer.body).to.equal(302);
  const callbackUrl = String(answer.location);
  const relayState = String(new URL(callbackUrl).searchParams.get('relaystate'));
  return { redirectUrl, callbackUrl, relayState };
}

/**
 * One person in one browser: start at the app, answer the itsme page, come back to the app's callback.
 * Returns the round trip and the app's answer to the callback (not followed).
 */
export async function itsmeLogin(
  appUrl: string,
  jar: CookieJar,
  choice: ItsMeChoice,
  startPath = '/login',
): Promise<ItsMeRoundTrip & { back: BrowserResponse }> {
  const redirectUrl = await startItsMe(appUrl, jar, startPath);
  const trip = await answerItsMe(redirectUrl, jar, choice);
  const back = await browse(trip.callbackUrl, jar);
  return { ...trip, back };
}

/** The same callback URL sent to another app instance (same path and query, other origin). */
export function onInstance(callbackUrl: string, appUrl: string): string {
  const url = new URL(callbackUrl);
  return `${appUrl}${url.pathname}${url.search}`;
}

/** JSON body of a response. */
export function json(response: BrowserResponse): unknown {
  return JSON.parse(response.body);
}
