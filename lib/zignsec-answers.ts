import { ItsMeError, type ZignSecErrorEntry } from './errors.js';

// Checks of ZignSec's answers that the client makes once they are parsed: the `redirectUrl` handed
// to the browser, the HTTP status, and the error codes quoted in messages.

/** Longest `redirectUrl` passed to the browser. */
const MAX_REDIRECT_URL = 8192;

/** ZignSec's `redirectUrl` as the browser gets it (normalised), or `undefined` when it is not fit for that. @internal */
export function browserUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > MAX_REDIRECT_URL || hasControl(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.hostname === '') return undefined;
  // `https://zignsec.example@evil.example/` reads as ZignSec's host but goes to evil.example.
  if (url.username !== '' || url.password !== '') return undefined;
  const href = url.href;
  return href.length > MAX_REDIRECT_URL ? undefined : href;
}

/** Whether the UTF-16 unit `code` is a control character (C0, DEL, C1). */
function isControl(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

/** Whether `text` holds a control character: never in a URL sent to a browser. */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (isControl(text.charCodeAt(i))) return true;
  return false;
}

/** The error of a non-2xx answer, with ZignSec's codes and a hint for 401/403. @internal */
export function httpError(what: string, status: number, errors: ZignSecErrorEntry[]): ItsMeError {
  const detail = errors.length ? `: ${codes(errors)}` : '';
  const hint = status === 401 || status === 403 ? ' (check the API key and the IP allow-list)' : '';
  return new ItsMeError('ERR_ZIGNSEC_HTTP_STATUS', `ZignSec ${what} call answered HTTP ${status}${detail}${hint}`, {
    status,
    errors,
  });
}

/** @internal */
export function isOk(status: number): boolean {
  return status >= 200 && status <= 299;
}

/**
 * ZignSec's codes for a message, at most 500 characters of them, control characters as spaces (an
 * app logs the message: a CR/LF from ZignSec would forge a log line). @internal
 */
export function codes(errors: { code: string; description?: string }[]): string {
  const text = errors.map((e) => (e.description ? `${e.code} (${e.description})` : e.code)).join(', ');
  const cut = text.length > 500 ? `${text.slice(0, 500)}...` : text;
  return hasControl(cut) ? withoutControl(cut) : cut;
}

function withoutControl(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) out += isControl(text.charCodeAt(i)) ? ' ' : text[i];
  return out;
}
