import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { type ItsMeClient, ItsMeError, type ItsMeLanguage, type ItsMeResult, toProfile } from '../lib/index.js';
import { type AppUser, userFromProfile } from './users.js';
import { LANGUAGES } from './views.js';

/** Options of {@link mobileApi}. */
export interface MobileApiOptions {
  /** Talks to ZignSec (or the simulator). */
  client: ItsMeClient;
  /** The app's public origin: `<origin>/app/return` is the universal-link target sent to ZignSec. */
  origin: string;
  /** Sent to ZignSec as `webhook`, if set. */
  webhookURL?: string;
  /** Milliseconds a started login may take before the API calls it expired. Default 600000 (10 minutes). */
  loginTtl?: number;
  /** Milliseconds an app token stays valid. Default 3600000 (1 hour). */
  tokenTtl?: number;
  /** Shortest pause between two reads of one login's result from ZignSec, in ms. Default 1000. */
  checkInterval?: number;
  /** The clock. Default `Date.now`. */
  now?: () => number;
  /** Where unexpected errors are reported. */
  log: (line: string) => void;
}

/** The header a native app sends on every call: a random key it made once, at installation. */
export const DEVICE_KEY_HEADER = 'x-device-key';

const DEVICE_KEY = /^[A-Za-z0-9_-]{22,128}$/;
const LOGIN_ID = /^[A-Za-z0-9-]{1,64}$/;
const MAX_LOGINS = 10_000;
const MAX_PER_DEVICE = 5;

type Outcome = 'pending' | 'approved' | 'cancelled' | 'expired' | 'failed';

interface AppLogin {
  id: string;
  device: Buffer;
  expiresAt: number;
  checkedAt: number;
  outcome: Outcome;
  code?: string;
  collected: boolean;
  user?: AppUser;
}

interface AppToken {
  user: AppUser;
  /** The SHA-256 of the device key that collected it: the token works only beside that key. */
  device: Buffer;
  expiresAt: number;
}

const MESSAGES: Record<Exclude<Outcome, 'approved' | 'pending'>, string> = {
  cancelled: 'The itsme login was cancelled.',
  expired: 'The itsme login expired before it was confirmed. Please start again.',
  failed: 'itsme could not complete the login. Please try again.',
};

/**
 * The JSON API a native app uses to log in with itsme, app to app:
 *
 * - `POST /api/app/logins` starts a login and answers its ZignSec `id` and `redirectUrl` (the app opens
 *   it: the itsme app takes over), bound to the caller's `X-Device-Key`;
 * - `GET /api/app/logins/:id` says where it stands; once approved it answers an app token, once;
 * - `GET /api/app/me` answers the person for `Authorization: Bearer <token>`; `POST /api/app/logout`
 *   ends the token.
 *
 * A login is visible only to the device key that started it: another caller's id is answered exactly
 * like an unknown one. Every answer is `Cache-Control: no-store`.
 */
export function mobileApi(options: MobileApiOptions): Router {
  const now = options.now ?? Date.now;
  const loginTtl = options.loginTtl ?? 600_000;
  const tokenTtl = options.tokenTtl ?? 3_600_000;
  const checkInterval = options.checkInterval ?? 1000;
  const logins = new Map<string, AppLogin>();
  const tokens = new Map<string, AppToken>();
  /** The device keys of starts waiting for ZignSec's answer, so concurrent starts count too. */
  const starting: Buffer[] = [];
  const router = express.Router();
  router.use('/api/app', (_req, res, next) => {
    res.set('cache-control', 'no-store');
    next();
  });

  router.post('/api/app/logins', express.json({ limit: '2kb' }), async (req, res) => {
    const device = deviceOf(req, res);
    if (!device) return;
    // A body the JSON parser skipped (another content type) is not the JSON object the API takes.
    if (req.get('content-length') !== '0' && req.get('content-length') !== undefined && !req.is('application/json')) {
      refuse(res, 400, 'bad_body', 'The body must be a JSON object of at most 2 KB.');
      return;
    }
    sweep(logins, tokens, now());
    const language = (req.body as { language?: unknown } | undefined)?.language;
    if (language !== undefined && !LANGUAGES.includes(language as ItsMeLanguage)) {
      refuse(res, 400, 'bad_language', 'language must be en, fr, nl or de.');
      return;
    }
    const at0 = now();
    const inProgress = (l: AppLogin) => !l.collected && l.outcome === 'pending' && l.expiresAt > at0;
    const mine =
      [...logins.values()].filter((l) => inProgress(l) && same(l.device, device)).length +
      starting.filter((d) => same(d, device)).length;
    if (mine >= MAX_PER_DEVICE) {
      refuse(res, 429, 'too_many_logins', 'Too many logins in progress for this app. Finish or wait for one.');
      return;
    }
    starting.push(device);
    try {
      const target = `${options.origin}/app/return`;
      const started = await options.client.start({
        relaystate: randomUUID(),
        target,
        targetError: target,
        ...(language ? { language: language as ItsMeLanguage } : {}),
        ...(options.webhookURL ? { webhook: options.webhookURL } : {}),
      });
      const at = now();
      logins.set(started.id, {
        id: started.id,
        device,
        expiresAt: at + loginTtl,
        checkedAt: 0,
        outcome: 'pending',
        collected: false,
      });
      while (logins.size > MAX_LOGINS) logins.delete(logins.keys().next().value as string);
      res.status(201).json({
        id: started.id,
        redirectUrl: started.redirectUrl,
        expiresAt: new Date(at + loginTtl).toISOString(),
      });
    } catch (err) {
      unavailable(res, err);
    } finally {
      starting.splice(starting.indexOf(device), 1);
    }
  });

  router.get('/api/app/logins/:id', async (req, res) => {
    const device = deviceOf(req, res);
    if (!device) return;
    const id = String(req.params.id);
    const login = LOGIN_ID.test(id) ? logins.get(id) : undefined;
    if (!login || !same(login.device, device)) {
      refuse(res, 404, 'unknown_login', 'This app started no such login.');
      return;
    }
    if (login.collected) {
      refuse(res, 410, 'used', 'This login has already handed out its token. Start a new one.');
      return;
    }
    const at = now();
    if (login.outcome === 'pending' && at >= login.expiresAt) {
      login.outcome = 'expired';
      login.code = 'expired';
    }
    if (login.outcome === 'pending' && at - login.checkedAt >= checkInterval) {
      login.checkedAt = at;
      try {
        settle(login, await options.client.getResult(login.id));
      } catch (err) {
        unavailable(res, err);
        return;
      }
    }
    if (login.outcome === 'pending') {
      res.json({ status: 'pending' });
      return;
    }
    // Another poll of this login may have handed out its token while this one waited for ZignSec.
    if (login.collected) {
      refuse(res, 410, 'used', 'This login has already handed out its token. Start a new one.');
      return;
    }
    if (login.outcome === 'approved' && login.user) {
      login.collected = true;
      const token = randomBytes(32).toString('base64url');
      tokens.set(token, { user: login.user, device, expiresAt: at + tokenTtl });
      res.json({ status: 'approved', token, expiresIn: Math.floor(tokenTtl / 1000), person: personOf(login.user) });
      return;
    }
    const status = login.outcome === 'expired' ? 410 : 200;
    const outcome = login.outcome as keyof typeof MESSAGES;
    res.status(status).json({ status: outcome, code: login.code ?? outcome, message: MESSAGES[outcome] });
  });

  router.get('/api/app/me', (req, res) => {
    const found = tokenOf(req);
    if (!found || !fromItsDevice(req, found.entry)) return badToken(res);
    res.json({ person: personOf(found.entry.user) });
  });

  // Ending a token that is unknown or expired is a no-op; ending one from another device is refused.
  router.post('/api/app/logout', (req, res) => {
    const found = tokenOf(req);
    if (found) {
      if (!fromItsDevice(req, found.entry)) return badToken(res);
      tokens.delete(found.token);
    }
    res.status(204).end();
  });

  router.use('/api/app', (_req, res) => refuse(res, 404, 'not_found', 'No such call in this API.'));

  // A body the JSON parser refused (not JSON, over 2 KB) is refused in JSON too, not with the site's HTML
  // page; so is a path Express could not decode (`%E0%A4%A`), as the unknown login it names.
  router.use('/api/app', (err: unknown, req: Request, res: Response, next: (err?: unknown) => void) => {
    const { status, type } = (err ?? {}) as { status?: unknown; type?: unknown };
    if (typeof status !== 'number' || status < 400 || status > 499) {
      next(err);
      return;
    }
    if (typeof type === 'string' && type.startsWith('entity.')) {
      refuse(res, status, 'bad_body', 'The body must be a JSON object of at most 2 KB.');
      return;
    }
    if (req.path.startsWith('/logins/')) refuse(res, 404, 'unknown_login', 'This app started no such login.');
    else refuse(res, 404, 'not_found', 'No such call in this API.');
  });

  /** The app token of `Authorization: Bearer <token>` and what it stands for, while it is valid. */
  function tokenOf(req: Request): { token: string; entry: AppToken } | undefined {
    const token = /^Bearer ([A-Za-z0-9_-]{43})$/.exec(req.get('authorization') ?? '')?.[1];
    const entry = token ? tokens.get(token) : undefined;
    return token && entry && entry.expiresAt > now() ? { token, entry } : undefined;
  }

  function unavailable(res: Response, err: unknown): void {
    const code = err instanceof ItsMeError ? err.code : 'unknown';
    options.log(`[example-app] app API: ZignSec call failed: ${code}`);
    refuse(res, 502, 'itsme_unavailable', 'itsme is not available right now. Please try again in a moment.');
  }

  return router;
}

/** What ZignSec's result means for the app's login. */
function settle(login: AppLogin, result: ItsMeResult): void {
  const first = result.errors[0];
  if (first) {
    const code = first.code.toUpperCase();
    login.outcome = ['USER_CANCEL', 'CANCELLED', 'USER_CANCELLED'].includes(code)
      ? 'cancelled'
      : ['EXPIRED_TRANSACTION', 'EXPIRED'].includes(code)
        ? 'expired'
        : 'failed';
    login.code = first.code;
    return;
  }
  if (result.state.toLowerCase() !== 'finished') return;
  try {
    login.user = userFromProfile(toProfile(result));
    login.outcome = 'approved';
  } catch {
    login.outcome = 'failed';
    login.code = 'no_subject';
  }
}

/** The person as the app shows it: what itsme verified. */
function personOf(user: AppUser): Record<string, unknown> {
  return { displayName: user.displayName, ...user.itsme };
}

function deviceOf(req: Request, res: Response): Buffer | undefined {
  const device = deviceHash(req);
  if (!device) {
    refuse(
      res,
      401,
      'device_key_required',
      `Send ${DEVICE_KEY_HEADER}: a random key of 22 to 128 base64url characters.`,
    );
  }
  return device;
}

/** The SHA-256 of the request's well-formed device key, or `undefined`. */
function deviceHash(req: Request): Buffer | undefined {
  const key = req.get(DEVICE_KEY_HEADER);
  return key && DEVICE_KEY.test(key) ? createHash('sha256').update(key).digest() : undefined;
}

/** Whether the request carries the device key that collected the token of `entry`. */
function fromItsDevice(req: Request, entry: AppToken): boolean {
  const device = deviceHash(req);
  return device !== undefined && same(entry.device, device);
}

function badToken(res: Response): void {
  res.set('www-authenticate', 'Bearer');
  refuse(res, 401, 'bad_token', 'Log in again.');
}

function same(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function refuse(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ code, message });
}

function sweep(logins: Map<string, AppLogin>, tokens: Map<string, AppToken>, at: number): void {
  for (const [id, login] of logins) if (login.expiresAt + 600_000 <= at) logins.delete(id);
  for (const [token, entry] of tokens) if (entry.expiresAt <= at) tokens.delete(token);
}
