import type { Request } from 'express';
import type { ItsMeAuthenticateOptions, ItsMeStrategy } from '../../lib/index.js';

/** What a strategy told Passport to do with one request. */
export type Outcome =
  | { kind: 'redirect'; url: string; status: number | undefined }
  | { kind: 'success'; user: unknown; info: unknown }
  | { kind: 'fail'; challenge: unknown; status: number | undefined }
  | { kind: 'error'; error: Error }
  | { kind: 'pass' };

/** A fake request with the fields the strategy reads: `query`, `body`, `url`, `session`. */
export function fakeRequest(
  fields: { query?: Record<string, unknown>; body?: unknown; session?: Record<string, unknown> | null } = {},
): Request {
  const query = fields.query ?? {};
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (typeof value === 'string') search.set(key, value);
  const req: Record<string, unknown> = {
    method: fields.body === undefined ? 'GET' : 'POST',
    url: `/auth/itsme${search.size > 0 ? `?${search}` : ''}`,
    headers: {},
    query,
    body: fields.body,
  };
  if (fields.session !== null) req.session = fields.session ?? {};
  return req as unknown as Request;
}

/**
 * Calls `strategy.authenticate` the way Passport 0.7 does (on `Object.create(strategy)` with the
 * action functions added) and resolves with the first action the strategy took.
 */
export function runStrategy(
  strategy: ItsMeStrategy,
  req: Request,
  options: ItsMeAuthenticateOptions = {},
): Promise<Outcome> {
  return new Promise((resolve) => {
    const actions = Object.create(strategy) as ItsMeStrategy & Record<string, unknown>;
    actions.redirect = (url: string, status?: number) => resolve({ kind: 'redirect', url, status });
    actions.success = (user: unknown, info?: unknown) => resolve({ kind: 'success', user, info });
    actions.fail = (challenge: unknown, status?: number) => resolve({ kind: 'fail', challenge, status });
    actions.error = (error: Error) => resolve({ kind: 'error', error });
    actions.pass = () => resolve({ kind: 'pass' });
    actions.authenticate(req, options);
  });
}

/** Narrows an outcome to one kind, failing the test with the actual outcome otherwise. */
export function expectKind<K extends Outcome['kind']>(outcome: Outcome, kind: K): Extract<Outcome, { kind: K }> {
  if (outcome.kind !== kind) {
    const detail =
      outcome.kind === 'error' ? `${outcome.error.name}: ${outcome.error.message}` : JSON.stringify(outcome);
    throw new Error(`expected ${kind}, got ${outcome.kind} (${detail})`);
  }
  return outcome as Extract<Outcome, { kind: K }>;
}
