import type { Express } from 'express';
import express5 from 'express';
import session from 'express-session';
import express4 from 'express4';
import passport from 'passport';
import { type ItsMeLanguage, ItsMeStrategy, type ItsMeStrategyOptions, type VerifyFunction } from '../../lib/index.js';
import { type Listening, listen } from './http.js';

/** The `callbackURL` that `/login-elsewhere` gives `passport.authenticate`. */
export const ELSEWHERE_CALLBACK = 'http://127.0.0.1/elsewhere/callback';

export interface TestApp {
  url: string;
  app: Express;
  strategy: ItsMeStrategy;
  verified: unknown[];
  close(): Promise<void>;
}

/**
 * A real Express app with express-session and passport 0.7, using ItsMeStrategy:
 * `/login` starts (`/login-elsewhere` with a per-login `callbackURL`), `/callback` (and
 * `/elsewhere/callback`) completes and redirects to `/me` (JSON of `req.user`) or to `/failed`
 * (JSON of the session's failure messages and the status Passport would have used); `/callback/status`
 * completes without failureRedirect, so a failure answers with the strategy's own status.
 */
export async function startTestApp(options: {
  version?: 4 | 5;
  strategy: Partial<ItsMeStrategyOptions> & { baseURL: string; apiKey: string };
  verify?: VerifyFunction;
  keepSessionInfo?: boolean;
}): Promise<TestApp> {
  const express = (options.version === 4 ? express4 : express5) as typeof express5;
  const app = express();
  const verified: unknown[] = [];
  const instance = new passport.Passport();
  let server: Listening | undefined;
  const strategy = new ItsMeStrategy(
    { callbackURL: 'http://127.0.0.1/callback', ...options.strategy },
    options.verify ??
      ((profile, done) => {
        verified.push(profile);
        done(null, { id: profile.id, displayName: profile.displayName });
      }),
  );
  instance.use(strategy);
  instance.serializeUser((user, done) => done(null, user));
  instance.deserializeUser((user: Express.User, done) => done(null, user));
  app.use(session({ secret: 'test-secret', resave: false, saveUninitialized: false, cookie: { sameSite: 'lax' } }));
  app.use(express.urlencoded({ extended: false }));
  app.use(instance.session());
  app.get('/login', instance.authenticate('itsme'));
  app.get('/login/:language', (req, res, next) =>
    instance.authenticate('itsme', { language: req.params.language as ItsMeLanguage })(req, res, next),
  );
  const finish = instance.authenticate('itsme', {
    failureRedirect: '/failed',
    failureMessage: true,
    keepSessionInfo: options.keepSessionInfo ?? false,
  });
  app.get('/callback', finish, (_req, res) => res.redirect('/me'));
  // A second return route, chosen per login (passport-oauth2's authenticate option).
  app.get('/login-elsewhere', instance.authenticate('itsme', { callbackURL: ELSEWHERE_CALLBACK }));
  app.get('/elsewhere/callback', finish, (_req, res) => res.redirect('/me'));
  app.post('/callback', finish, (_req, res) => res.redirect('/me'));
  // Without failureRedirect: Passport answers a failure with the strategy's status (400, 401, 403).
  app.get(
    '/callback/status',
    instance.authenticate('itsme', { keepSessionInfo: options.keepSessionInfo ?? false }),
    (req, res) => res.json(req.user ?? null),
  );
  app.get('/me', (req, res) => {
    res.status(req.user ? 200 : 401).json(req.user ?? null);
  });
  app.get('/failed', (req, res) => {
    const messages = (req.session as unknown as { messages?: string[] }).messages ?? [];
    res.status(401).json({ messages });
  });
  app.use(
    (err: Error & { code?: string }, _req: express5.Request, res: express5.Response, _next: express5.NextFunction) => {
      res.status(500).json({ error: err.message, code: err.code ?? null });
    },
  );
  server = await listen(app);
  return { url: server.url, app, strategy, verified, close: () => server?.close() ?? Promise.resolve() };
}
