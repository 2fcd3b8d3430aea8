import cookieSession from 'cookie-session';
import express, { type NextFunction, type Request, type Response } from 'express';
import passport from 'passport';
import { ItsMeStrategy, type ItsMeStrategyOptions, type VerifyFunction } from '../../lib/index.js';
import { type Listening, listen } from '../support/http.js';

export interface CookieSessionAppOptions {
  zignsec: { url: string; apiKey: string };
  /** cookie-session signing keys; instances behind one load balancer share them. */
  keys?: string[];
  /** `false`: cookie-session's unsigned cookie, which the browser can write. */
  signed?: false;
  verify?: VerifyFunction;
  strategy?: Partial<ItsMeStrategyOptions>;
}

export interface CookieSessionTestApp {
  url: string;
  strategy: ItsMeStrategy;
  verified: unknown[];
  close(): Promise<void>;
}

/**
 * passport 0.7 calls `req.session.regenerate()` and `req.session.save()` at login and logout;
 * cookie-session has neither (its session is the cookie, written when the response ends).
 */
function sessionShim(req: Request, _res: Response, next: NextFunction): void {
  const session = req.session as (CookieSessionInterfaces.CookieSessionObject & Partial<ShimmedSession>) | null;
  if (session && !session.regenerate) session.regenerate = (done) => done();
  if (session && !session.save) session.save = (done) => done();
  next();
}

interface ShimmedSession {
  regenerate(done: (err?: unknown) => void): void;
  save(done: (err?: unknown) => void): void;
}

/**
 * A real Express 5 app whose session is cookie-session's signed, readable cookie, with passport 0.7 and
 * the usual regenerate/save shim: `/login`, `/callback` (to `/me` or `/failed`), `/callback/status`
 * (the strategy's own status on failure), `/me`, `/failed`.
 */
export async function startCookieSessionApp(options: CookieSessionAppOptions): Promise<CookieSessionTestApp> {
  const app = express();
  const instance = new passport.Passport();
  const verified: unknown[] = [];
  app.use(
    cookieSession({
      name: 'session',
      ...(options.signed === false ? { signed: false } : { keys: options.keys ?? ['cookie-session-test-key-1'] }),
      httpOnly: true,
      sameSite: 'lax',
      maxAge: 24 * 60 * 60 * 1000,
    }),
  );
  app.use(sessionShim);
  app.use(instance.session());
  instance.serializeUser((user, done) => done(null, user));
  instance.deserializeUser((user: Express.User, done) => done(null, user));
  app.get('/login', instance.authenticate('itsme'));
  app.get(
    '/callback',
    instance.authenticate('itsme', { failureRedirect: '/failed', failureMessage: true }),
    (_req, res) => res.redirect('/me'),
  );
  app.get('/callback/status', instance.authenticate('itsme'), (req, res) => {
    res.json(req.user ?? null);
  });
  app.get('/me', (req, res) => {
    res.status(req.user ? 200 : 401).json(req.user ?? null);
  });
  app.get('/failed', (req, res) => {
    const messages = (req.session as { messages?: string[] } | null)?.messages ?? [];
    res.status(401).json({ messages });
  });
  app.use((err: Error & { code?: unknown }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ error: err.message, code: typeof err.code === 'string' ? err.code : null });
  });
  const server: Listening = await listen(app);
  const strategy = new ItsMeStrategy(
    {
      baseURL: options.zignsec.url,
      apiKey: options.zignsec.apiKey,
      callbackURL: `${server.url}/callback`,
      ...options.strategy,
    },
    options.verify ??
      ((profile, done) => {
        verified.push(profile);
        done(null, { id: profile.id, displayName: profile.displayName });
      }),
  );
  instance.use(strategy);
  return { url: server.url, strategy, verified, close: () => server.close() };
}

/** What anyone holding the browser's `session` cookie reads in it: it is base64 JSON, only signed. */
export function readCookieSession(cookie: string | undefined): unknown {
  if (!cookie) return undefined;
  return JSON.parse(Buffer.from(decodeURIComponent(cookie), 'base64').toString('utf8'));
}
