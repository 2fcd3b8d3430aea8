import { randomBytes } from 'node:crypto';

/** The alphabet and length a relaystate may have on the way back (ours are 43 base64url characters). */
const RELAYSTATE = /^[A-Za-z0-9_-]{16,256}$/;

/** A fresh relaystate: 256 random bits, base64url. */
export function createRelayState(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * What the request says about `relaystate`:
 * - `absent`: no relaystate anywhere, so this is the start of a login;
 * - `invalid`: present but not one string of sane length and alphabet (repeated, nested, empty, ...);
 * - `valid`: one well-formed string.
 */
export type RelayStateInput =
  | { kind: 'absent' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'valid'; value: string };

/** Reads `relaystate` from the query string, or from the body of a POST. Never throws. */
export function readRelayState(req: { query?: unknown; body?: unknown; url?: string }): RelayStateInput {
  const fromQuery = lookup(queryOf(req));
  const fromBody = fromQuery.found ? { found: false as const } : lookup(req.body);
  const found = fromQuery.found ? fromQuery : fromBody;
  if (!found.found) return { kind: 'absent' };
  const value = found.value;
  if (typeof value !== 'string') return { kind: 'invalid', reason: 'relaystate must be a single value' };
  if (!RELAYSTATE.test(value)) return { kind: 'invalid', reason: 'relaystate is malformed' };
  return { kind: 'valid', value };
}

function queryOf(req: { query?: unknown; url?: string }): unknown {
  if (req.query && typeof req.query === 'object') return req.query;
  try {
    const params = new URL(req.url ?? '/', 'http://localhost').searchParams;
    const all = params.getAll('relaystate');
    if (all.length === 0) return {};
    return { relaystate: all.length === 1 ? all[0] : all };
  } catch {
    return {};
  }
}

function lookup(container: unknown): { found: true; value: unknown } | { found: false } {
  if (!container || typeof container !== 'object') return { found: false };
  // `relaystate[a]=x` under Express 5's simple parser: a nested form, never one plain string.
  const nested = Object.keys(container).some((key) => /^relaystate[[.]/.test(key));
  if (nested) return { found: true, value: undefined };
  if (!Object.hasOwn(container, 'relaystate')) return { found: false };
  return { found: true, value: (container as Record<string, unknown>).relaystate };
}
