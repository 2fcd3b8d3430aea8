import type { ZignSecEnvironment } from '../lib/index.js';

/** Where the example app gets itsme from. */
export type ZignSecSetup =
  /** The embedded simulator, started in the same process (no account, no internet). */
  | { mode: 'simulator' }
  /** ZignSec itself (or any compatible server at `baseURL`). */
  | {
      mode: 'zignsec';
      apiKey: string;
      environment: ZignSecEnvironment;
      baseURL?: string;
      /** Key of the webhook signature check; default the API key. */
      webhookSecret?: string;
    };

/** The example app's configuration, read from the environment by {@link loadConfig}. */
export interface ExampleConfig {
  port: number;
  host: string;
  /** Public base URL of the app (no trailing slash); default `http://localhost:<port>`. */
  publicUrl?: string;
  sessionSecret: string;
  /** Express `trust proxy` setting. */
  trustProxy: boolean | number | string;
  zignsec: ZignSecSetup;
}

/** A development-only session secret, used (with a warning) when SESSION_SECRET is not set. */
export const DEV_SESSION_SECRET = 'passport-itsme-example-dev-secret-change-me';

/**
 * Reads the configuration from environment variables:
 * `PORT` (3000), `HOST` (127.0.0.1), `PUBLIC_URL`, `SESSION_SECRET`, `TRUST_PROXY`,
 * `ZIGNSEC_API_KEY` (none: the embedded simulator), `ZIGNSEC_ENV` (`test` or `production`),
 * `ZIGNSEC_BASE_URL` (a standalone simulator or a proxy), `ZIGNSEC_WEBHOOK_SECRET` (key of the webhook
 * signature check; default the API key).
 *
 * @returns the configuration and the warnings to print.
 * @throws {Error} naming the variable when one is invalid.
 */
export function loadConfig(env: NodeJS.ProcessEnv): { config: ExampleConfig; warnings: string[] } {
  const warnings: string[] = [];
  const port = env.PORT === undefined || env.PORT === '' ? 3000 : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be a port number, not ${JSON.stringify(env.PORT)}`);
  }
  let publicUrl: string | undefined;
  if (env.PUBLIC_URL) {
    if (!isHttpUrl(env.PUBLIC_URL)) throw new Error('PUBLIC_URL must be an absolute http(s) URL');
    publicUrl = env.PUBLIC_URL.replace(/\/+$/, '');
  }
  let sessionSecret = env.SESSION_SECRET ?? '';
  if (sessionSecret === '') {
    sessionSecret = DEV_SESSION_SECRET;
    warnings.push(
      'SESSION_SECRET is not set: using a development secret. Set it to a long random value in production.',
    );
  } else if (sessionSecret.length < 32) {
    warnings.push('SESSION_SECRET is short: use at least 32 random characters.');
  }
  const config: ExampleConfig = {
    port,
    host: env.HOST || '127.0.0.1',
    sessionSecret,
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    zignsec: { mode: 'simulator' },
  };
  if (publicUrl) config.publicUrl = publicUrl;
  const apiKey = env.ZIGNSEC_API_KEY?.trim();
  if (apiKey) {
    const environment = env.ZIGNSEC_ENV || 'test';
    if (environment !== 'test' && environment !== 'production') {
      throw new Error(`ZIGNSEC_ENV must be test or production, not ${JSON.stringify(environment)}`);
    }
    if (env.ZIGNSEC_BASE_URL && !isHttpUrl(env.ZIGNSEC_BASE_URL)) {
      throw new Error('ZIGNSEC_BASE_URL must be an absolute http(s) URL');
    }
    config.zignsec = {
      mode: 'zignsec',
      apiKey,
      environment,
      ...(env.ZIGNSEC_BASE_URL ? { baseURL: env.ZIGNSEC_BASE_URL } : {}),
      ...(env.ZIGNSEC_WEBHOOK_SECRET ? { webhookSecret: env.ZIGNSEC_WEBHOOK_SECRET } : {}),
    };
  } else if (env.ZIGNSEC_ENV === 'production') {
    throw new Error('ZIGNSEC_ENV=production needs ZIGNSEC_API_KEY');
  }
  return { config, warnings };
}

function parseTrustProxy(value: string | undefined): boolean | number | string {
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
