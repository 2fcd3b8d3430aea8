import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import passport from 'passport';

/** The app every variant is mounted on: Express 5 + express-session (MemoryStore) + passport 0.7. */
export interface Shell {
  app: Express;
  passport: passport.PassportStatic;
  store: session.MemoryStore;
  /** `http://127.0.0.1:<port>`, known before the variant mounts its routes. */
  url: string;
  server: http.Server;
}

/** Serialized sessions, as express-session's MemoryStore keeps them (sid -> JSON string). */
export function storedSessions(store: session.MemoryStore): Record<string, string> {
  return (store as unknown as { sessions: Record<string, string> }).sessions;
}

/**
 * Builds and starts the shared app shape. The variant then adds `GET /login` and `GET /callback`
 * (which ends with a redirect to `/me`) and calls {@link finishShell}.
 */
export async function createShell(): Promise<Shell> {
  const app = express();
  const instance = new passport.Passport() as passport.PassportStatic;
  const store = new session.MemoryStore();
  instance.serializeUser((user, done) => done(null, user));
  instance.deserializeUser((user: Express.User, done) => done(null, user));
  app.set('x-powered-by', false);
  app.use(
    session({
      secret: 'bench-session-secret',
      store,
      resave: false,
      saveUninitialized: false,
      cookie: { sameSite: 'lax', httpOnly: true },
    }),
  );
  app.use(instance.session());
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { app, passport: instance, store, url, server };
}

/** Adds `/me`, `/failed` and the error handler, the same for every variant. */
export function finishShell(shell: Shell): void {
  const { app } = shell;
  app.get('/me', (req, res) => {
    res.status(req.user ? 200 : 401).json(req.user ?? null);
  });
  app.get('/failed', (_req, res) => {
    res.status(401).json({ error: 'login failed' });
  });
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ error: err.message });
  });
}
