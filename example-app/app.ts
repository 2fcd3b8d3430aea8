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
import { FAVICON } from './assets.js';
import { type MobileApiOptions, mobileApi } from './mobile-api.js';
import { APP_SCRIPT, appPage, returnPage } from './mobile-pages.js';
import { STYLESHEET } from './styles.js';
import { type AppUser, checkDemoUser, DEFAULT_DEMO_USER, type DemoUser, userFromProfile } from './users.js';
import {
  errorPage,
  LANGUAGES,
  loginPage,
  type PageContext,
  profilePage,
  type ReceivedWebhook,
  webhooksPage,
} from './views.js';

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
    /**
     * Key of the webhook signature check outside simulator mode. Default: the API key. The receiver
     * never accepts an unsigned post: without a signature it would be an open door to the ZignSec quota.
     */
    webhookSecret?: string;
  };
  sessionSecret: string;
  /** An express-session store (e.g. connect-redis for several instances). Default: the memory store. */
  sessionStore?: session.Store;
  /** Express `trust proxy` setting, for `secure` cookies behind an HTTPS proxy. Default `false`. */
  trustProxy?: boolean | number | string;
  /** Shows the "itsme is simulated" banner. */
  simulated?: boolean;
  /**
   * The username/password account, or `false` for none. Default: demo / demo in simulator mode, none
   * otherwise (a known password has no place next to real identities).
   */
  demoUser?: DemoUser | false;
  /**
   * Redirects GET requests that arrive by another host name (127.0.0.1 instead of localhost) to
   * `publicUrl`, so that the session cookie is set where the itsme callback will come back. For local
   * development only: behind a proxy the Host header may legitimately differ. Default `false`.
   */
  canonicalHost?: boolean;
  /** Settings of the mobile-app API (`/api/app/...`), for tests: TTLs, the clock, the poll pause. */
  mobile?: Partial<Pick<MobileApiOptions, 'loginTtl' | 'tokenTtl' | 'checkInterval' | 'now'>>;
  /** Where server errors are reported. Default `console.error`. */
  log?: (line: string) => void;
  /** Adds routes (a webhook receiver, an admin page, ...) before the 404 and error handlers. */
  configure?: (
    app: Express,
    context: { passport: passportModule.Authenticator; strategy: ItsMeStrategy; page: PageContext },
  ) => void;
}

interface FlashSession {
  /** Passport's failure messages (`failureMessage: true`): itsme's, in the language of the login. */
  messages?: string[];
  /** The password form's refusal, in English like the page. */
  passwordError?: string;
  notice?: string;
  /** The username typed before a wrong password, shown again in the form. */
  username?: string;
  /** The itsme language last chosen, kept across a cancel. */
  language?: ItsMeLanguage;
}

function flashOf(req: Request): FlashSession {
  return req.session as typeof req.session & FlashSession;
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
  const demo = options.demoUser ?? (page.simulated ? DEFAULT_DEMO_USER : false);

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
  if (demo) {
    passport.use(
      new LocalStrategy((username, password, done) => {
        const user = checkDemoUser(demo, username, password);
        done(null, user ?? false, user ? undefined : { message: 'Wrong username or password.' });
      }),
    );
  }
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
  const received: StoredWebhook[] = [];
  app.post(
    '/webhooks/zignsec',
    createWebhookHandler({
      apiKey: options.itsme.apiKey,
      ...(options.itsme.environment ? { environment: options.itsme.environment } : {}),
      ...(options.itsme.baseURL ? { baseURL: options.itsme.baseURL } : {}),
      // Never unsigned: without a signature anyone could make the app spend its ZignSec quota. The
      // simulator signs with the access token (hex form); against ZignSec, either documented form is
      // accepted, keyed with the webhook secret when one is configured.
      signature: options.simulated ? 'hex' : true,
      ...(!options.simulated && options.itsme.webhookSecret ? { secret: options.itsme.webhookSecret } : {}),
      onResult: (result, profile) => {
        received.unshift({
          at: new Date().toISOString(),
          sessionId: result.id,
          outcome: result.errors.length > 0 ? result.errors.map((e) => e.code).join(', ') : 'Finished',
          name: profile?.displayName ?? null,
          sub: profile?.id ?? null,
        });
        received.splice(50);
      },
      onError: (err) =>
        (options.log ?? console.error)(`[example-app] webhook: ${err instanceof Error ? err.message : String(err)}`),
    }),
  );
  app.get('/assets/app.css', (_req, res) => {
    res.type('text/css').set('cache-control', 'public, max-age=3600').send(STYLESHEET);
  });
  app.get(['/favicon.svg', '/favicon.ico'], (_req, res) => {
    res.type('image/svg+xml').set('cache-control', 'public, max-age=86400').send(FAVICON);
  });
  app.get('/assets/app.js', (_req, res) => {
    res.type('text/javascript').set('cache-control', 'public, max-age=3600').send(APP_SCRIPT);
  });
  // The mobile-app demo: a JSON API bound to the caller's device key (no cookie, so before the session),
  // the page that plays the native app, and the universal-link return page.
  app.use(
    mobileApi({
      client: strategy.client,
      origin: base,
      ...(options.itsme.webhookURL ? { webhookURL: options.itsme.webhookURL } : {}),
      ...options.mobile,
      log: options.log ?? console.error,
    }),
  );
  app.get('/app', (_req, res) => {
    res.set('content-security-policy', `${CSP}; script-src 'self'; connect-src 'self'`);
    res.type('html').send(appPage(page));
  });
  app.get('/app/return', (_req, res) => {
    res.type('html').send(returnPage(page));
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
    const flash = flashOf(req);
    // itsme words its failures in the login's language, which is then the last one chosen (or English).
    const spoken = flash.language ?? 'en';
    const errors = [
      ...(flash.messages ?? []).map((text) => ({ text, language: spoken })),
      ...(flash.passwordError ? [{ text: flash.passwordError, language: 'en' as const }] : []),
    ];
    const { notice, username } = flash;
    delete flash.messages;
    delete flash.passwordError;
    delete flash.notice;
    delete flash.username;
    const language = LANGUAGES.find((l) => l === req.query.language) ?? flash.language ?? 'en';
    res.type('html').send(
      loginPage(page, {
        errors,
        language,
        ...(demo ? { password: { demoHint: `Demo account: ${demo.username} / ${demo.password}`, username } } : {}),
        ...(notice ? { notice } : {}),
      }),
    );
  });

  app.get('/auth/itsme', (req, res, next) => {
    const asked = req.query.language;
    const language = LANGUAGES.find((l) => l === asked);
    if (asked !== undefined && !language) return res.redirect('/');
    if (language) flashOf(req).language = language;
    passport.authenticate('itsme', language ? { language } : {})(req, res, next);
  });
  // keepSessionInfo: logging in regenerates the session (against fixation) but keeps its data, so a
  // login still pending in another tab can complete; without it, that tab would be told to start again.
  app.get(
    '/auth/itsme/callback',
    passport.authenticate('itsme', { failureRedirect: '/', failureMessage: true, keepSessionInfo: true }),
    (_req, res) => res.redirect('/profile'),
  );
  if (demo) {
    app.post('/login', (req, res, next) => {
      passport.authenticate('local', (err: unknown, user: AppUser | false, info?: { message?: string }) => {
        if (err) return next(err);
        if (!user) {
          const flash = flashOf(req);
          flash.passwordError = info?.message ?? 'Wrong username or password.';
          const typed: unknown = req.body?.username;
          if (typeof typed === 'string') flash.username = typed.slice(0, 100);
          return res.redirect('/');
        }
        req.logIn(user, { session: true, keepSessionInfo: true }, (loginErr) =>
          loginErr ? next(loginErr) : res.redirect('/profile'),
        );
      })(req, res, next);
    });
  }
  app.get('/profile', (req, res) => {
    if (!req.user) return res.redirect('/');
    res.type('html').send(profilePage(page, req.user as AppUser));
  });
  app.post('/logout', (req, res, next) => {
    // Logging out regenerates the session and keeps nothing: pending logins and flash data go too.
    req.logout((err) => {
      if (err) return next(err);
      flashOf(req).notice = 'You are logged out.';
      res.redirect(303, '/');
    });
  });

  // Only the results that belong to the person logged in: never other people's names.
  app.get('/webhooks', (req, res) => {
    if (!req.user) return res.redirect('/');
    const sub = (req.user as AppUser).itsme?.sub;
    const own = sub ? received.filter((r) => r.sub === sub) : [];
    res.type('html').send(webhooksPage(page, own, sub !== undefined));
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

/** A webhook result as kept in memory, with the subject it belongs to. */
interface StoredWebhook extends ReceivedWebhook {
  sub: string | null;
}

const CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'";

function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.set({
    // Pages show personal data: never kept by the browser or a proxy, so Back after logout shows nothing.
    'cache-control': 'no-store',
    'content-security-policy': CSP,
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
