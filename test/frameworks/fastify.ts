import fastifyCookie from '@fastify/cookie';
import { Authenticator } from '@fastify/passport';
import fastifySecureSession from '@fastify/secure-session';
import fastifySession from '@fastify/session';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type ItsMeLanguage, ItsMeStrategy, type ItsMeStrategyOptions, type VerifyFunction } from '../../lib/index.js';

// As docs/fastify.md tells apps to: the per-login options, typed for @fastify/passport.
declare module '@fastify/passport/dist/authentication-route.js' {
  interface AuthenticateOptions {
    language?: ItsMeLanguage;
    callbackURL?: string;
    errorCallbackURL?: string;
  }
}

/** The two session plugins @fastify/passport works with. */
export type FastifySessionKind = 'session' | 'secure-session';

export interface FastifyAppOptions {
  session: FastifySessionKind;
  /** The simulator (or stub) to talk to. */
  zignsec: { url: string; apiKey: string };
  /** @fastify/secure-session key (32 bytes); instances behind one load balancer share it. */
  key?: Buffer;
  /** Default: records the profile and logs the person in as `{ id, displayName }`. */
  verify?: VerifyFunction;
  strategy?: Partial<ItsMeStrategyOptions>;
  /** `keepSessionInfo` of the callback's `authenticate()`. Default `false`. */
  keepSessionInfo?: boolean;
  /** The Authenticator's `clearSessionIgnoreFields`: session keys kept when the session is cleared at login. */
  clearSessionIgnoreFields?: string[];
}

export interface FastifyTestApp {
  url: string;
  app: FastifyInstance;
  strategy: ItsMeStrategy;
  /** Profiles that reached `verify`. */
  verified: unknown[];
  close(): Promise<void>;
}

interface Person {
  id: string;
  displayName: string;
}

/**
 * A real Fastify 5 app with @fastify/passport and either @fastify/session (server-side sessions, in its
 * memory store) or @fastify/secure-session (the whole session in an encrypted cookie), listening on
 * 127.0.0.1: `/login` starts (`/login-elsewhere` with a per-login `callbackURL` of `/elsewhere/callback`,
 * which completes as `/callback` does), `/callback` completes and redirects to `/me` (the person, 401 when not
 * logged in) or to `/failed` (the session's failure messages); `/callback/status` completes without
 * failureRedirect, so a failure answers with the strategy's own status.
 */
export async function startFastifyApp(options: FastifyAppOptions): Promise<FastifyTestApp> {
  const app = Fastify();
  const passport = new Authenticator(
    options.clearSessionIgnoreFields ? { clearSessionIgnoreFields: options.clearSessionIgnoreFields } : {},
  );
  const verified: unknown[] = [];
  if (options.session === 'session') {
    await app.register(fastifyCookie);
    await app.register(fastifySession, {
      secret: 'a-fastify-session-secret-of-at-least-32-chars',
      cookie: { secure: false, httpOnly: true, sameSite: 'lax' },
      saveUninitialized: false,
    });
  } else {
    await app.register(fastifySecureSession, {
      key: options.key ?? Buffer.alloc(32, 7),
      cookie: { path: '/', httpOnly: true, sameSite: 'lax' },
    });
  }
  await app.register(passport.initialize());
  await app.register(passport.secureSession());
  passport.registerUserSerializer(async (user: Person) => user);
  passport.registerUserDeserializer(async (user: Person) => user);

  app.get('/login', { preValidation: passport.authenticate('itsme') }, async () => undefined);
  // A login that comes back to another route; its URL is known once the app listens.
  const elsewhere = { callbackURL: '' };
  app.get('/login-elsewhere', { preValidation: passport.authenticate('itsme', elsewhere) }, async () => undefined);
  for (const path of ['/callback', '/elsewhere/callback']) {
    app.get(
      path,
      {
        preValidation: passport.authenticate('itsme', {
          successRedirect: '/me',
          failureRedirect: '/failed',
          failureMessage: true,
          keepSessionInfo: options.keepSessionInfo ?? false,
        }),
      },
      async () => undefined,
    );
  }
  app.get('/callback/status', { preValidation: passport.authenticate('itsme') }, async (request) => request.user);
  app.get('/me', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.isAuthenticated()) return reply.code(401).send({ error: 'not logged in' });
    return request.user;
  });
  app.get('/failed', async (request, reply) => {
    const messages = (request.session.get('messages') as string[] | undefined) ?? [];
    // Read once: kept, they would pile up in the session (a secure-session cookie past 4 KB is dropped).
    (request.session as unknown as { set(key: string, value: unknown): void }).set('messages', undefined);
    return reply.code(401).send({ messages });
  });
  app.setErrorHandler((err: Error & { code?: unknown }, _request, reply) => {
    reply.code(500).send({ error: err.message, code: typeof err.code === 'string' ? err.code : null });
  });

  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('Fastify is not listening on a port');
  const url = `http://127.0.0.1:${address.port}`;
  elsewhere.callbackURL = `${url}/elsewhere/callback`;
  const strategy = new ItsMeStrategy(
    {
      baseURL: options.zignsec.url,
      apiKey: options.zignsec.apiKey,
      callbackURL: `${url}/callback`,
      ...options.strategy,
    },
    options.verify ??
      ((profile, done) => {
        verified.push(profile);
        done(null, { id: profile.id, displayName: profile.displayName });
      }),
  );
  passport.use('itsme', strategy);
  return { url, app, strategy, verified, close: () => app.close() };
}
