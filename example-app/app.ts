import express, {
  type ErrorRequestHandler,
  type Express,
  type NextFunction,
  type Request,
  type Response,
} from 'express';
import session from 'express-session';
import passportModule from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { createWebhookHandler, type ItsMeLanguage, ItsMeStrategy, type ZignSecEnvironment } from '../lib/index.js';
import { STYLESHEET } from './styles.js';
import { type AppUser, checkDemoUser, DEFAULT_DEMO_USER, type DemoUser, userFromProfile } from './users.js';
import { errorPage, loginPage, type PageContext, profilePage, type ReceivedWebhook, webhooksPage } from './views.js';

/** Options of {@link createApp}. */
export interface ExampleAppOptions {
  /** Public base URL of the app, e.g. `http://localhost:3000`; the itsme callback URL is derived from it. */
  publicUrl: string;
  /** How the strategy reaches ZignSec (or the simulator, through `baseURL`). */
  itsme: {
    apiKey: string;
    environment?: ZignSecEnvironment;
    baseURL?: string;
    webhookURL?: string;
    pendingTimeout?: number;
  };
  sessionSecret: string;
  /** An express-session store (e.g. connect-redis for several instances). Default: the memory store. */
  sessionStore?: session.Store;
  /** Express `trust proxy` setting, for `secure` cookies behind an HTTPS proxy. Default `false`. */
  trustProxy?: boolean | number | string;
  /** Shows the "itsme is simulated" banner. */
  simulated?: boolean;
  /** The username/password account. Default demo / demo. */
  demoUser?: DemoUser;
  /**
   * Redirects GET requests that arrive by another host name (127.0.0.1 instead of localhost) to
   * `publicUrl`, so that the session cookie is set where the itsme callback will come back. For local
   * development only: behind a proxy the Host header may legitimately differ. Default `false`.
   */
  canonicalHost?: boolean;
  /** Where server errors are reported. Default `console.error`. */
  log?: (line: string) => void;
  /** Adds routes (a webhook receiver, an admin page, ...) before the 404 and error handlers. */
  configure?: (
    app: Express,
    context: { passport: passportModule.Authenticator; strategy: ItsMeStrategy; page: PageContext },
  ) => void;
}

const LANGUAGES: readonly ItsMeLanguage[] = ['en', 'fr', 'nl', 'de'];

interface FlashSession {
  messages?: string[];
  notice?: string;
}

/**
 * Builds the example app: Express 5, express-session, passport 0.7 with two strategies side by side,
 * `ItsMeStrategy` and passport-local. Routes: `/`, `GET /auth/itsme`, `GET /auth/itsme/callback`,
 * `POST /login`, `/profile`, `POST /logout`.
 */
export function createApp(options: ExampleAppOptions): Express {
  const publicUrl = new URL(options.publicUrl);
  const base = publicUrl.origin;
  const secure = publicUrl.protocol === 'https:';
  const page: PageContext = { simulated: options.simulated === true };
  const demo = options.demoUser ?? DEFAULT_DEMO_USER;

  const passport = new passportModule.Passport();
  const strategy = new ItsMeStrategy(
    {
      apiKey: options.itsme.apiKey,
      callbackURL: `${base}/auth/itsme/callback`,
      ...(options.itsme.environment ? { environment: options.itsme.environment } : {}),
      ...(options.itsme.baseURL ? { baseURL: options.itsme.baseURL } : {}),
      ...(options.itsme.webhookURL ? { webhookURL: options.itsme.webhookURL } : {}),
      ...(options.itsme.pendingTimeout ? { pendingTimeout: options.itsme.pendingTimeout } : {}),
    },
    async (profile) => userFromProfile(profile),
  );
  passport.use(strategy);
  passport.use(
    new LocalStrategy((username, password, done) => {
      const user = checkDemoUser(demo, username, password);
      done(null, user ?? false, user ? undefined : { message: 'Wrong username or password.' });
    }),
  );
  passport.serializeUser((user, done) => done(null, user));
  passport.deserializeUser((user: Express.User, done) => done(null, user));

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy ?? false);
  app.use(securityHeaders);
  if (options.canonicalHost) {
    app.use((req, res, next) => {
      if ((req.method === 'GET' || req.method === 'HEAD') && req.get('host') !== publicUrl.host) {
        res.redirect(`${base}${req.originalUrl}`);
        return;
      }
      next();
    });
  }
  // ZignSec's webhook (the strategy sends `webhookURL` when it starts a login). The posted body is only a
  // hint: the handler reads the result back from ZignSec by id with the API key, and calls onResult once
  // per session. Mounted before the session and body parsers: it reads the raw body itself.
  const received: ReceivedWebhook[] = [];
  app.post(
    '/webhooks/zignsec',
    createWebhookHandler({
      apiKey: options.itsme.apiKey,
      ...(options.itsme.environment ? { environment: options.itsme.environment } : {}),
      ...(options.itsme.baseURL ? { baseURL: options.itsme.baseURL } : {}),
      // The simulator signs with the access token (hex form). ZignSec's v3 signature format is not
      // documented, so against ZignSec the re-fetch by id is the check.
      signature: options.simulated ? 'hex' : false,
      onResult: (result, profile) => {
        received.unshift({
          at: new Date().toISOString(),
          sessionId: result.id,
          outcome: result.errors.length > 0 ? result.errors.map((e) => e.code).join(', ') : 'Finished',
          name: profile?.displayName ?? null,
        });
        received.splice(20);
      },
      onError: (err) =>
        (options.log ?? console.error)(`[example-app] webhook: ${err instanceof Error ? err.message : String(err)}`),
    }),
  );
  app.get('/assets/app.css', (_req, res) => {
    res.type('text/css').set('cache-control', 'public, max-age=3600').send(STYLESHEET);
  });
  app.use(
    session({
      name: 'demo.sid',
      secret: options.sessionSecret,
      resave: false,
      saveUninitialized: false,
      ...(options.sessionStore ? { store: options.sessionStore } : {}),
      cookie: { httpOnly: true, sameSite: 'lax', secure: secure ? true : 'auto', maxAge: 8 * 3600_000 },
    }),
  );
  app.use(express.urlencoded({ extended: false, limit: '10kb' }));
  app.use(sameOriginPosts(base));
  app.use(passport.session());

  app.get('/', (req, res) => {
    if (req.user) return res.redirect('/profile');
    const flash = req.session as typeof req.session & FlashSession;
    const errors = flash.messages ?? [];
    const notice = flash.notice;
    delete flash.messages;
    delete flash.notice;
    const language = LANGUAGES.find((l) => l === req.query.language) ?? 'en';
    res.type('html').send(
      loginPage(page, {
        errors,
        language,
        demoHint: `Demo account: ${demo.username} / ${demo.password}`,
        ...(notice ? { notice } : {}),
      }),
    );
  });

  app.get('/auth/itsme', (req, res, next) => {
    const asked = req.query.language;
    const language = LANGUAGES.find((l) => l === asked);
    if (asked !== undefined && !language) return res.redirect('/');
    passport.authenticate('itsme', language ? { language } : {})(req, res, next);
  });
  app.get(
    '/auth/itsme/callback',
    passport.authenticate('itsme', { failureRedirect: '/', failureMessage: true }),
    (_req, res) => res.redirect('/profile'),
  );
  app.post('/login', passport.authenticate('local', { failureRedirect: '/', failureMessage: true }), (_req, res) =>
    res.redirect('/profile'),
  );
  app.get('/profile', (req, res) => {
    if (!req.user) return res.redirect('/');
    res.type('html').send(profilePage(page, req.user as AppUser));
  });
  app.post('/logout', (req, res, next) => {
    req.logout((err) => {
      if (err) return next(err);
      (req.session as typeof req.session & FlashSession).notice = 'You are logged out.';
      res.redirect(303, '/');
    });
  });

  app.get('/webhooks', (req, res) => {
    if (!req.user) return res.redirect('/');
    res.type('html').send(webhooksPage(page, received));
  });

  options.configure?.(app, { passport, strategy, page });

  app.use((_req, res) => {
    res
      .status(404)
      .type('html')
      .send(errorPage(page, 'Page not found', 'There is nothing at this address.'));
  });
  const onError: ErrorRequestHandler = (err: Error & { status?: number }, req, res, _next) => {
    const itsme = req.path.startsWith('/auth/itsme');
    (options.log ?? console.error)(`[example-app] ${req.method} ${req.path}: ${err.name}: ${err.message}`);
    if (res.headersSent) return;
    const status = err.status && err.status >= 400 && err.status < 500 ? err.status : itsme ? 502 : 500;
    const message = itsme
      ? 'itsme is not available right now. Please try again in a moment, or log in with your password.'
      : 'Something went wrong on our side. Please try again.';
    res
      .status(status)
      .type('html')
      .send(errorPage(page, itsme ? 'itsme is unavailable' : 'Error', message));
  };
  app.use(onError);
  return app;
}

function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.set({
    'content-security-policy':
      "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'same-origin',
  });
  next();
}

/** Refuses form posts sent from another site (SameSite=Lax cookies already stop most; this is belt and braces). */
function sameOriginPosts(origin: string) {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method !== 'POST') {
      next();
      return;
    }
    const from = req.get('origin');
    const site = req.get('sec-fetch-site');
    if ((from && from !== origin && from !== `${req.protocol}://${req.get('host')}`) || site === 'cross-site') {
      res.status(403).type('text').send('Cross-site form posts are not accepted.');
      return;
    }
    next();
  };
}
