import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest request body the simulator reads. @internal */
export const MAX_BODY = 64 * 1024;

/** Reads the request body as text; `undefined` when it is larger than {@link MAX_BODY}. @internal */
export async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Sends a JSON answer (or the exact text given). @internal */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** Sends an HTML page with headers that keep it out of frames, caches and referrers. @internal */
export function sendHtml(res: ServerResponse, status: number, page: string, formTargets: string[] = []): void {
  const origins = new Set<string>();
  for (const target of formTargets) {
    try {
      origins.add(new URL(target).origin);
    } catch {
      // not a URL: nothing to allow
    }
  }
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(page),
    'content-security-policy': [
      "default-src 'none'",
      "style-src 'unsafe-inline'",
      "img-src 'self'",
      "base-uri 'none'",
      "frame-ancestors 'none'",
      `form-action 'self'${[...origins].map((o) => ` ${o}`).join('')}`,
    ].join('; '),
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
  });
  res.end(page);
}

/** Sends a redirect. @internal */
export function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
  res.end();
}

/** Compares two secrets in constant time. @internal */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** An absolute http(s) URL of sane length. @internal */
export function isWebUrl(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > 2048) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/**
 * `url` with `relaystate=<value>` appended to its query, leaving the existing query exactly as it was
 * and keeping any fragment at the end.
 * @internal
 */
export function withRelayState(url: string, relayState: string): string {
  const hash = url.indexOf('#');
  const base = hash < 0 ? url : url.slice(0, hash);
  const fragment = hash < 0 ? '' : url.slice(hash);
  const sep = base.includes('?') ? (base.endsWith('?') || base.endsWith('&') ? '' : '&') : '?';
  return `${base}${sep}relaystate=${encodeURIComponent(relayState)}${fragment}`;
}
