import { format, inspect } from 'node:util';
import { expect } from 'chai';
import type { Express, NextFunction, Request, Response } from 'express';
import express5 from 'express';
import session from 'express-session';
import express4 from 'express4';
import nock from 'nock';
import passport from 'passport';
import {
  ItsMeError,
  type ItsMeProfile,
  ItsMeStrategy,
  type ItsMeStrategyOptions,
  type VerifyFunction,
} from '../../lib/index.js';
import { type Listening, listen } from './http.js';

/** Lets pending callbacks, promise jobs and `unhandledRejection` detection run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 20));
}

/**
 * Takes nock's interceptor out of the way for tests on real sockets (other test files load nock, which
 * patches `http` for the whole process). Returns a function that puts it back as it was.
 */
export function realNetwork(): () => void {
  const wasActive = nock.isActive();
  if (wasActive) nock.restore();
  return () => {
    if (wasActive && !nock.isActive()) nock.activate();
  };
}

/** Records unhandled rejections and uncaught exceptions while installed. */
export interface ProcessGuard {
  readonly problems: string[];
  /** Waits for stray rejections to surface, then fails if any was recorded (and forgets them). */
  assertClean(): Promise<void>;
  dispose(): void;
}

export function guardProcess(): ProcessGuard {
  const problems: string[] = [];
  const onRejection = (reason: unknown) => problems.push(`unhandledRejection: ${inspect(reason)}`);
  const onException = (err: unknown) => problems.push(`uncaughtException: ${inspect(err)}`);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    problems,
    async assertClean() {
      await settle();
      const seen = problems.splice(0);
      expect(seen, 'unhandled rejections / uncaught exceptions').to.deep.equal([]);
    },
    dispose() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

/** Everything written through `console` while installed (not passed through, to keep test output clean). */
export interface LogCapture {
  readonly lines: string[];
  text(): string;
  /** Fails when `secret` appears in anything logged so far. */
  assertAbsent(secret: string): void;
  clear(): void;
  dispose(): void;
}

export function captureLogs(): LogCapture {
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  const originals = methods.map((name) => [name, console[name]] as const);
  const lines: string[] = [];
  for (const name of methods) {
    console[name] = (...args: unknown[]) => {
      lines.push(format(...args));
    };
  }
  return {
    lines,
    text: () => lines.join('\n'),
    assertAbsent(secret: string) {
      const leaked = lines.filter((line) => line.includes(secret));
      expect(leaked, 'log lines holding the API key').to.deep.equal([]);
    },
    clear: () => {
      lines.length = 0;
    },
    dispose() {
      for (const [name, original] of originals) console[name] = original;
    },
  };
}

/** What the app's error handler saw. */
export interface SeenError {
  name: string;
  code: string | null;
  message: string;
  causeCode: string | null;
}

export interface GuardedApp {
  url: string;
  app: Express;
  strategy: ItsMeStrategy;
  /** Profiles that reached `verify`. */
  verified: ItsMeProfile[];
  /** Errors that reached the app's error handler. */
  errors: SeenError[];
  close(): Promise<void>;
}

export interface GuardedAppOptions {
  version?: 4 | 5;
  strategy: Partial<ItsMeStrategyOptions> & { baseURL: string; apiKey: string };
  verify?: VerifyFunction;
  /** express-session store (default: its MemoryStore). */
  sessionStore?: session.Store;
  /** Session secret; instances behind one load balancer share it. */
  secret?: string;
  /** Label used in log lines. */
  label?: string;
}

/**
 * A real Express app (4 or 5) with express-session and passport 0.7, written the way a production app
 * is: it logs every error it handles (with `util.inspect` and `JSON.stringify`, causes included), parses
 * urlencoded and JSON bodies (Express 4: extended qs, Express 5: the simple parser) and has:
 * - `/login`: start; `/callback` (GET, POST): complete, then redirect to `/me` or `/failed`;
 * - `/callback/raw` (GET, POST): complete with Passport's own failure response (its status), `req.user` as JSON;
 * - `/me`, `/failed` (the session's failure messages), `/health`.
 */
export async function startGuardedApp(options: GuardedAppOptions): Promise<GuardedApp> {
  const version = options.version ?? 5;
  const express = (version === 4 ? express4 : express5) as typeof express5;
  const label = options.label ?? `express${version}`;
  const app = express();
  const verified: ItsMeProfile[] = [];
  const errors: SeenError[] = [];
  const instance = new passport.Passport();
  const strategy = new ItsMeStrategy(
    { callbackURL: 'http://127.0.0.1/callback', timeout: 2000, pendingTimeout: 1000, ...options.strategy },
    options.verify ??
      (async (profile) => {
        verified.push(profile);
        await new Promise((resolve) => setImmediate(resolve));
        return { id: profile.id, displayName: profile.displayName };
      }),
  );
  instance.use(strategy);
  instance.serializeUser((user, done) => done(null, user));
  instance.deserializeUser((user: Express.User, done) => done(null, user));
  app.use(
    session({
      secret: options.secret ?? 'guarded-test-secret',
      resave: false,
      saveUninitialized: false,
      cookie: { sameSite: 'lax', httpOnly: true },
      ...(options.sessionStore ? { store: options.sessionStore } : {}),
    }),
  );
  app.use(express.urlencoded({ extended: version === 4 }));
  app.use(express.json());
  app.use(instance.session());
  app.get('/health', (_req, res) => {
    res.type('text').send('ok');
  });
  app.get('/login', instance.authenticate('itsme'));
  const finish = instance.authenticate('itsme', { failureRedirect: '/failed', failureMessage: true });
  const toMe = (_req: Request, res: Response) => res.redirect('/me');
  app.get('/callback', finish, toMe);
  app.post('/callback', finish, toMe);
  const raw = instance.authenticate('itsme');
  const asJson = (req: Request, res: Response) => {
    res.json(req.user ?? null);
  };
  app.get('/callback/raw', raw, asJson);
  app.post('/callback/raw', raw, asJson);
  app.get('/me', (req, res) => {
    res.status(req.user ? 200 : 401).json(req.user ?? null);
  });
  app.get('/failed', (req, res) => {
    const messages = (req.session as unknown as { messages?: string[] }).messages ?? [];
    console.info(`[${label}] login failed:`, messages);
    res.status(401).json({ messages });
  });
  app.use((err: Error & { code?: unknown; status?: unknown }, _req: Request, res: Response, _next: NextFunction) => {
    const cause = (err as { cause?: { code?: unknown } }).cause;
    errors.push({
      name: err.name,
      code: typeof err.code === 'string' ? err.code : null,
      message: err.message,
      causeCode: typeof cause?.code === 'string' ? cause.code : null,
    });
    console.error(`[${label}] login error:`, inspect(err, { showHidden: true, depth: null }));
    console.error(`[${label}] login error as JSON:`, JSON.stringify(err), JSON.stringify(cause ?? null));
    const status = !(err instanceof ItsMeError) && typeof err.status === 'number' ? err.status : 500;
    res.status(status).json({ error: err.message, code: typeof err.code === 'string' ? err.code : null });
  });
  const server: Listening = await listen(app);
  return { url: server.url, app, strategy, verified, errors, close: () => server.close() };
}
