import { createHmac, timingSafeEqual } from 'node:crypto';

/** The header ZignSec signs webhooks in (lower case, as Node exposes it). */
export const SIGNATURE_HEADER = 'x-zignsec-hmac-sha256';

/**
 * Which signature formats a webhook receiver accepts:
 * - `'hex'`: the header is the lowercase hex HMAC-SHA256 of the raw body;
 * - `'timestamped'`: the header is `t=<unix seconds>,v1=<hex>`, the HMAC-SHA256 of `"<t>.<raw body>"`,
 *   and `t` must be within the tolerance window (this form resists replay);
 * - `'any'`: either of them.
 */
export type SignatureFormat = 'hex' | 'timestamped' | 'any';

/** Options of {@link verifyWebhookSignature}. */
export interface VerifySignatureOptions {
  /** Formats accepted. Default `'any'`. */
  format?: SignatureFormat;
  /** Largest distance, in seconds, between `t` and now for the timestamped form. Default 300. */
  tolerance?: number;
  /** Current time in unix seconds (for tests). Default now. */
  now?: number;
}

/** Why a signature was refused, or `ok`. */
export type SignatureCheck =
  | {
      /** The signature matched. */
      ok: true;
      /** The form it came in. */
      format: 'hex' | 'timestamped';
    }
  | {
      /** The signature did not match, or could not be checked. */
      ok: false;
      /** Why: no header, an unreadable one, a wrong HMAC, a stale timestamp, or a refused form (or settings that cannot be checked: see {@link verifyWebhookSignature}). */
      reason: 'missing' | 'malformed' | 'mismatch' | 'stale' | 'format';
    };

const HEX_SHA256 = /^[0-9a-f]{64}$/i;
const TIMESTAMP = /^\d{1,12}$/;
const FORMATS: readonly unknown[] = ['hex', 'timestamped', 'any'] satisfies SignatureFormat[];

/** A key `createHmac` takes that is not empty: a string, or the bytes of a key file. */
function isKey(value: unknown): boolean {
  return (typeof value === 'string' && value !== '') || (Buffer.isBuffer(value) && value.length > 0);
}

function isSeconds(value: unknown): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * Computes the `X-ZignSec-Hmac-SHA256` header value for a body: the hex form, or with `timestamp`
 * (unix seconds) the `t=<ts>,v1=<hex>` form. Handy for testing a webhook endpoint.
 */
export function signWebhook(rawBody: string | Buffer, key: string, options: { timestamp?: number } = {}): string {
  if (typeof key !== 'string' || key === '') throw new TypeError('signWebhook requires a key');
  if (options.timestamp === undefined) return hmac(key, rawBody);
  if (!Number.isInteger(options.timestamp) || options.timestamp < 0) {
    throw new TypeError('signWebhook timestamp must be unix seconds');
  }
  return `t=${options.timestamp},v1=${hmac(key, `${options.timestamp}.`, rawBody)}`;
}

/**
 * Checks an `X-ZignSec-Hmac-SHA256` header against the raw body with a constant-time comparison.
 * Never throws. Settings that cannot be checked safely refuse every signature with `'format'`: an
 * empty key or one that is neither a string nor a Buffer, a `format` other than the three, a
 * `tolerance` or `now` that is not a finite number of 0 or more.
 */
export function verifyWebhookSignature(
  header: string | string[] | undefined,
  rawBody: Buffer,
  key: string,
  options: VerifySignatureOptions = {},
): SignatureCheck {
  const format = options?.format ?? 'any';
  const tolerance = options?.tolerance ?? 300;
  const now = options?.now ?? Math.floor(Date.now() / 1000);
  // An unset secret (`process.env.SECRET ?? ''`) or a misspelt option must not turn a check off.
  if (!isKey(key) || !FORMATS.includes(format) || !isSeconds(tolerance) || !isSeconds(now)) {
    return { ok: false, reason: 'format' };
  }
  if (header === undefined || header === '') return { ok: false, reason: 'missing' };
  if (typeof header !== 'string' || header.length > 1024) return { ok: false, reason: 'malformed' };
  const value = header.trim();
  if (HEX_SHA256.test(value)) {
    if (format === 'timestamped') return { ok: false, reason: 'format' };
    return same(value, hmac(key, rawBody)) ? { ok: true, format: 'hex' } : { ok: false, reason: 'mismatch' };
  }
  const parts = parseTimestamped(value);
  if (!parts) return { ok: false, reason: 'malformed' };
  if (format === 'hex') return { ok: false, reason: 'format' };
  const expected = hmac(key, `${parts.t}.`, rawBody);
  if (!parts.v1.some((candidate) => same(candidate, expected))) return { ok: false, reason: 'mismatch' };
  if (Math.abs(now - Number(parts.t)) > tolerance) return { ok: false, reason: 'stale' };
  return { ok: true, format: 'timestamped' };
}

function parseTimestamped(value: string): { t: string; v1: string[] } | null {
  let t: string | undefined;
  const v1: string[] = [];
  for (const item of value.split(',')) {
    const eq = item.indexOf('=');
    if (eq < 0) return null;
    const name = item.slice(0, eq).trim();
    const part = item.slice(eq + 1).trim();
    if (name === 't') {
      if (t !== undefined || !TIMESTAMP.test(part)) return null;
      t = part;
    } else if (name === 'v1') {
      if (!HEX_SHA256.test(part)) return null;
      v1.push(part);
    }
  }
  return t !== undefined && v1.length > 0 && v1.length <= 8 ? { t, v1 } : null;
}

function hmac(key: string, ...parts: (string | Buffer)[]): string {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return mac.digest('hex');
}

function same(givenHex: string, expectedHex: string): boolean {
  const given = Buffer.from(givenHex, 'hex');
  const expected = Buffer.from(expectedHex, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
