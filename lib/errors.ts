/**
 * Stable error codes carried by every {@link ItsMeError}.
 *
 * - `ERR_ZIGNSEC_HTTP_STATUS`: ZignSec answered with a non-2xx status.
 * - `ERR_ZIGNSEC_ERRORS`: ZignSec answered 2xx with a non-empty `errors` list.
 * - `ERR_ZIGNSEC_BAD_RESPONSE`: the body was not JSON, too large, nested too deep, held too many values,
 *   or lacked a required field (`id`, a usable `redirectUrl`).
 * - `ERR_ZIGNSEC_TIMEOUT`: a call, or the whole wait for a final result, ran out of time.
 * - `ERR_ZIGNSEC_NETWORK`: the connection failed (refused, reset, DNS, TLS).
 * - `ERR_ITSME_PENDING_TIMEOUT`: the person did not finish the itsme flow within the wait.
 * - `ERR_ITSME_ABORTED`: the caller's `AbortSignal` fired.
 * - `ERR_ITSME_ID_MISMATCH`: the result's `id` is not the session that was asked for.
 * - `ERR_ITSME_NO_SUBJECT`: no usable subject: a `sub` that is not a non-empty string, `providerData`
 *   that is not a JSON object, or neither a `sub` nor a personal number.
 * - `ERR_ITSME_SESSION_REQUIRED`: the default store found no `req.session`.
 * - `ERR_ITSME_SESSION_UNSAFE`: the session is one the browser can write (cookie-session with `signed: false`).
 * - `ERR_ITSME_STORE_TIMEOUT`: a call to the strategy's `store` (a custom or Redis one) did not settle
 *   within the strategy's `timeout`.
 * - `ERR_ITSME_VERIFY_TIMEOUT`: `verify` neither called `done` nor settled its promise within `verifyTimeout`.
 */
export type ItsMeErrorCode =
  | 'ERR_ZIGNSEC_HTTP_STATUS'
  | 'ERR_ZIGNSEC_ERRORS'
  | 'ERR_ZIGNSEC_BAD_RESPONSE'
  | 'ERR_ZIGNSEC_TIMEOUT'
  | 'ERR_ZIGNSEC_NETWORK'
  | 'ERR_ITSME_PENDING_TIMEOUT'
  | 'ERR_ITSME_ABORTED'
  | 'ERR_ITSME_ID_MISMATCH'
  | 'ERR_ITSME_NO_SUBJECT'
  | 'ERR_ITSME_SESSION_REQUIRED'
  | 'ERR_ITSME_SESSION_UNSAFE'
  | 'ERR_ITSME_STORE_TIMEOUT'
  | 'ERR_ITSME_VERIFY_TIMEOUT';

/** One entry of ZignSec's `errors` list, normalised: plain strings become `{ code }`. */
export interface ZignSecErrorEntry {
  /** ZignSec's error code, e.g. `USER_CANCEL` or `MISSING_CONFIG`. */
  code: string;
  /** ZignSec's description of it, when sent (with the API key redacted). */
  description?: string;
}

/** Extra fields an {@link ItsMeError} may carry. */
export interface ItsMeErrorDetails {
  /** The underlying problem, as a plain copy: never an HTTP-layer error that could hold the request headers. */
  cause?: unknown;
  /** HTTP status ZignSec answered with, when there was one. */
  status?: number;
  /** ZignSec's error list, when it sent one. */
  errors?: ZignSecErrorEntry[];
}

/**
 * The one error class of this package. Branch on {@link ItsMeError.code}, which is stable across
 * versions, rather than on the message.
 */
export class ItsMeError extends Error {
  /** Always `'ItsMeError'`. */
  override name = 'ItsMeError';
  /** The stable code to branch on. */
  readonly code: ItsMeErrorCode;
  /** The HTTP status ZignSec answered, when it answered (not a status to send to the browser). */
  readonly status?: number;
  /** ZignSec's `errors` list, normalised, when it sent one. */
  readonly errors?: ZignSecErrorEntry[];

  constructor(code: ItsMeErrorCode, message: string, details: ItsMeErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    if (details.status !== undefined) this.status = details.status;
    if (details.errors !== undefined) this.errors = details.errors;
  }
}

/**
 * Turns anything thrown by the HTTP layer into a plain `Error` that keeps the message and the
 * system error code (`ECONNREFUSED`, ...) and nothing else: no request options, no headers.
 * @internal
 */
export function sanitizeCause(err: unknown, secret: string): Error {
  const source = err instanceof Error ? err : new Error(String(err));
  const clean = new Error(redact(source.message, secret));
  clean.name = source.name;
  const code = (source as { code?: unknown }).code;
  if (typeof code === 'string') Object.defineProperty(clean, 'code', { value: code, enumerable: true });
  clean.stack = `${clean.name}: ${clean.message}`;
  return clean;
}

/**
 * `text` with every echo of `secret` (see {@link secretForms}) replaced by `[redacted]`, in any letter
 * case for a key of 16 characters or more (as {@link holdsSecret} finds them). @internal
 */
export function redact(text: string, secret: string): string {
  if (!secret) return text;
  if (secret.length >= MIN_SECRET) return text.replace(secretForms(secret).anyCase, '[redacted]');
  let out = text;
  for (const form of secretForms(secret).forms) out = out.split(form).join('[redacted]');
  return out;
}

/** Shortest key checked for echoes in what ZignSec answers: a shorter one is a dummy (`'itsme'`, `'1'`). */
const MIN_SECRET = 16;

/**
 * Whether `text` holds an echo of `secret` (see {@link secretForms}), in any letter case (a URL's host
 * is lowercased); never for a key shorter than 16 characters, which would match by chance. @internal
 */
export function holdsSecret(text: string, secret: string): boolean {
  if (secret.length < MIN_SECRET) return false;
  const lower = text.toLowerCase();
  return secretForms(secret).lower.some((form) => lower.includes(form));
}

/** The forms of one key, as they are and lowercased. */
interface SecretForms {
  secret: string;
  forms: string[];
  lower: string[];
  /** Every form, in any letter case. */
  anyCase: RegExp;
}

/** The last key's forms: every start checks its request and its answer against them. */
let lastForms: SecretForms | undefined;

/** The forms an echo of `secret` comes back in: as is, and percent-encoded in a URL or a form. */
function secretForms(secret: string): SecretForms {
  if (lastForms?.secret === secret) return lastForms;
  const forms = [secret];
  const encoded = encodeURIComponent(secret);
  if (encoded !== secret)
    forms.push(
      encoded,
      encoded.replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()),
    );
  const form = new URLSearchParams([['', secret]]).toString().slice(1);
  if (!forms.includes(form)) forms.push(form);
  const anyCase = new RegExp(forms.map((text) => text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&')).join('|'), 'gi');
  lastForms = { secret, forms, lower: forms.map((text) => text.toLowerCase()), anyCase };
  return lastForms;
}

/** Most entries kept of ZignSec's `errors` list, so no failure message or session grows with it. */
const MAX_ERRORS = 10;

/**
 * Normalises ZignSec's `errors` field: objects `{code, description}` and, as older APIs send, plain
 * strings. Anything else becomes `UNKNOWN`. Only the first 10 entries are kept, codes cut to 200
 * characters and descriptions to 1,000.
 * @internal
 */
export function normalizeErrors(value: unknown, secret = ''): ZignSecErrorEntry[] {
  if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) return [];
  const list = Array.isArray(value) ? value.slice(0, MAX_ERRORS) : [value];
  return list.map((entry): ZignSecErrorEntry => {
    if (typeof entry === 'string') return { code: redact(entry, secret).slice(0, 200) || 'UNKNOWN' };
    if (entry && typeof entry === 'object') {
      const { code, description } = entry as { code?: unknown; description?: unknown };
      const out: ZignSecErrorEntry = {
        code: typeof code === 'string' && code ? redact(code, secret).slice(0, 200) : 'UNKNOWN',
      };
      if (typeof description === 'string') out.description = redact(description, secret).slice(0, 1000);
      return out;
    }
    return { code: 'UNKNOWN' };
  });
}
