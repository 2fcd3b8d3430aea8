import { createHash } from 'node:crypto';
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import {
  type ItsMeLanguage,
  ItsMeStrategy,
  type ItsMeStrategyOptions,
  type PendingLogin,
  type RelayStateStore,
  type VerifyFunction,
} from '../../lib/index.js';
import { type BrowserResponse, browse, type CookieJar, listen } from './http.js';
import type { ZignSecStub } from './zignsec-stub.js';

/** What `/callback` answers: Passport's outcome as JSON. */
export interface CallbackOutcome {
  status: number;
  /** `fail`: the info and status the strategy failed with; `success`: the user; `error`: the error's code. */
  kind: 'fail' | 'success' | 'error';
  info?: { code?: string; message?: string; language?: string; zignsecCode?: string; hint?: string };
  user?: unknown;
  error?: { code: string | null; message: string };
}

export interface FailureApp {
  url: string;
  strategy: ItsMeStrategy;
  close(): Promise<void>;
  /** Starts a login in `jar`'s browser (optionally in a language); returns the relaystate and ZignSec id. */
  start(jar: CookieJar, language?: ItsMeLanguage): Promise<{ relayState: string; sessionId: string }>;
  /** The way back; `language` is passed as `authenticate(..., { language })` at the callback. */
  callback(jar: CookieJar, relayState: string, language?: ItsMeLanguage): Promise<CallbackOutcome>;
}

/**
 * A real Express 5 app with express-session and passport 0.7 whose callback answers with what Passport
 * was told (`passport.authenticate(name, callback)`), so tests read `info.code` and `info.message`.
 */
export async function startFailureApp(options: {
  stub: ZignSecStub;
  strategy?: Partial<ItsMeStrategyOptions>;
  verify?: VerifyFunction;
  cookie?: session.CookieOptions;
  trustProxy?: boolean;
}): Promise<FailureApp> {
  const { stub } = options;
  const app = express();
  if (options.trustProxy) app.set('trust proxy', true);
  const instance = new passport.Passport();
  const strategy = new ItsMeStrategy(
    {
      apiKey: stub.apiKey,
      baseURL: stub.url,
      callbackURL: 'http://127.0.0.1/callback',
      pendingTimeout: 1000,
      ...options.strategy,
    } as ItsMeStrategyOptions,
    options.verify ?? ((profile, done) => done(null, { id: profile.id })),
  );
  instance.use(strategy);
  const name = strategy.name;
  instance.serializeUser((user, done) => done(null, user));
  instance.deserializeUser((user: Express.User, done) => done(null, user));
  app.use(
    session({
      secret: 'failure-app-secret',
      resave: false,
      saveUninitialized: false,
      cookie: { sameSite: 'lax', ...options.cookie },
    }),
  );
  app.use(instance.session());
  app.get(['/login', '/login/:language'], (req, res, next) => {
    const language = req.params.language as ItsMeLanguage | undefined;
    instance.authenticate(name, language ? { language } : {})(req, res, next);
  });
  app.get(['/callback', '/callback/:language'], (req, res, next) => {
    const language = req.params.language as ItsMeLanguage | undefined;
    instance.authenticate(
      name,
      language ? { language } : {},
      (err: (Error & { code?: string }) | null, user: unknown, info: unknown, status: unknown) => {
        if (err) {
          res.status(500).json({ kind: 'error', error: { code: err.code ?? null, message: err.message } });
        } else if (!user) {
          const failed = Array.isArray(status) ? status[0] : status;
          res.status(typeof failed === 'number' ? failed : 401).json({ kind: 'fail', info });
        } else res.json({ kind: 'success', user });
      },
    )(req, res, next);
  });
  app.use(
    (err: Error & { code?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ kind: 'error', error: { code: err.code ?? null, message: err.message } });
    },
  );
  const server = await listen(app);
  const read = async (response: BrowserResponse): Promise<CallbackOutcome> => ({
    status: response.status,
    ...(JSON.parse(response.body) as Omit<CallbackOutcome, 'status'>),
  });
  return {
    url: server.url,
    strategy,
    close: () => server.close(),
    async start(jar, language) {
      const response = await browse(`${server.url}/login${language ? `/${language}` : ''}`, jar);
      if (response.status !== 302) throw new Error(`start answered ${response.status}: ${response.body}`);
      const sessionId = String(new URL(String(response.location)).searchParams.get('session'));
      return { relayState: stub.lastRelayState(), sessionId };
    },
    async callback(jar, relayState, language) {
      const path = `/callback${language ? `/${language}` : ''}?relaystate=${encodeURIComponent(relayState)}`;
      return read(await browse(`${server.url}${path}`, jar));
    },
  };
}

const digest = (relayState: string): string => createHash('sha256').update(relayState).digest('base64url');

/**
 * A store that keeps the whole pending login (language included) in `req.session` under a digest of
 * the relaystate, and
 * explains a miss the way the store API describes (`no-session`, `unknown`, `expired`, `used`).
 */
export class ExplainingStore implements RelayStateStore {
  constructor(readonly ttl = 600_000) {}

  async save(req: Parameters<RelayStateStore['save']>[0], relayState: string, record: PendingLogin): Promise<void> {
    this.#bag(req).pending[digest(relayState)] = { ...record };
  }

  async take(req: Parameters<RelayStateStore['take']>[0], relayState: string): Promise<PendingLogin | undefined> {
    if (!(req.session as unknown as Record<string, unknown> | undefined)?.['explaining-store']) return undefined;
    const bag = this.#bag(req);
    const key = digest(relayState);
    const record = bag.pending[key];
    if (!record) return undefined;
    delete bag.pending[key];
    if (record.createdAt + this.ttl <= Date.now()) {
      bag.expired.push(key);
      return undefined;
    }
    bag.used.push(key);
    return record;
  }

  explain(
    req: Parameters<RelayStateStore['take']>[0],
    relayState: string,
  ): 'no-session' | 'unknown' | 'expired' | 'used' {
    const stored = (req.session as unknown as Record<string, unknown> | undefined)?.['explaining-store'];
    if (!stored) return 'no-session';
    const bag = this.#bag(req);
    if (bag.used.includes(digest(relayState))) return 'used';
    if (bag.expired.includes(digest(relayState))) return 'expired';
    return 'unknown';
  }

  #bag(req: Parameters<RelayStateStore['take']>[0]): {
    pending: Record<string, PendingLogin>;
    used: string[];
    expired: string[];
  } {
    const holder = req.session as unknown as Record<string, unknown>;
    holder['explaining-store'] ??= { pending: {}, used: [], expired: [] };
    return holder['explaining-store'] as { pending: Record<string, PendingLogin>; used: string[]; expired: string[] };
  }
}
