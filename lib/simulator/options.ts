import { checkFault } from './faults.js';
import { isWebUrl } from './http.js';
import type { SimulatorPersona } from './personas.js';
import type { SessionBehaviour } from './sessions.js';
import type { WebhookSignatureFormat } from './webhook.js';

/** Options of `startSimulator`. */
export interface SimulatorOptions {
  /** The access token callers must send, raw, in `Authorization`. Required. */
  apiKey: string;
  /** Port to listen on. Default 0 (a free port). */
  port?: number;
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Base of the `redirectUrl`s handed out, when the browser reaches the simulator by another address. */
  publicUrl?: string;
  /** The test persons offered on the itsme screen. Default `DEFAULT_PERSONAS`. */
  personas?: readonly SimulatorPersona[];
  /** Milliseconds a session waits for the person before it expires. Default 600000 (10 minutes). */
  sessionTtl?: number;
  /** Milliseconds a session is kept after its TTL; after that its id is unknown (404). Default 600000. */
  retention?: number;
  /** Most sessions kept; beyond it the oldest is dropped. Default 10000. */
  maxSessions?: number;
  /** Behaviour of every session (see also `configureSession` and `configureNextSession`). */
  session?: SessionBehaviour;
  /** Error code of a cancelled session. Default `USER_CANCEL`. */
  cancelCode?: 'USER_CANCEL' | 'CANCELLED';
  /** Extra webhook attempts after a failed one. Default 3. */
  webhookRetries?: number;
  /** Milliseconds before the first webhook retry, doubled each time. Default 1000. */
  webhookBackoff?: number;
  /** Milliseconds for each webhook attempt. Default 5000. */
  webhookTimeout?: number;
  /** Format of the `X-ZignSec-Hmac-SHA256` header. Default `'hex'`. */
  webhookSignature?: WebhookSignatureFormat;
  /** Key of the `'timestamped'` signature. Default: the API key. */
  webhookSecret?: string;
  /** The clock, in ms since the epoch, for tests of expiry. Default `Date.now`. */
  clock?: () => number;
  /** Receives one line per request and per failed webhook attempt. Never the API key. Default: silent. */
  log?: (line: string) => void;
}

/** Defaults of the numeric options. @internal */
export const DEFAULTS = {
  sessionTtl: 600_000,
  retention: 600_000,
  maxSessions: 10_000,
  webhookRetries: 3,
  webhookBackoff: 1000,
  webhookTimeout: 5000,
} as const;

/** Throws a `TypeError` naming the first bad option. @internal */
export function checkOptions(options: SimulatorOptions): void {
  if (!options || typeof options !== 'object') throw new TypeError('startSimulator requires an options object');
  if (typeof options.apiKey !== 'string' || options.apiKey === '') {
    throw new TypeError('startSimulator requires an apiKey option');
  }
  for (const name of ['sessionTtl', 'retention', 'maxSessions', 'webhookTimeout'] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new TypeError(`startSimulator ${name} option must be a positive integer`);
    }
  }
  for (const name of ['webhookRetries', 'webhookBackoff'] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isInteger(value) && value >= 0)) {
      throw new TypeError(`startSimulator ${name} option must be a non-negative integer`);
    }
  }
  const port = options.port;
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new TypeError('startSimulator port option must be a port number');
  }
  // An empty host would listen on every interface, and give the unusable url `http://:port`.
  if (options.host !== undefined && (typeof options.host !== 'string' || options.host.trim() === '')) {
    throw new TypeError('startSimulator host option must be an address such as 127.0.0.1 (the default)');
  }
  if (options.publicUrl !== undefined && !isWebUrl(options.publicUrl)) {
    throw new TypeError('startSimulator publicUrl option must be an absolute http(s) URL');
  }
  if (options.cancelCode !== undefined && !['USER_CANCEL', 'CANCELLED'].includes(options.cancelCode)) {
    throw new TypeError("startSimulator cancelCode option must be 'USER_CANCEL' or 'CANCELLED'");
  }
  if (options.webhookSignature !== undefined && !['hex', 'timestamped'].includes(options.webhookSignature)) {
    throw new TypeError("startSimulator webhookSignature option must be 'hex' or 'timestamped'");
  }
  for (const name of ['clock', 'log'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new TypeError(`startSimulator ${name} option must be a function`);
    }
  }
  if (options.session?.result) checkFault(options.session.result, 'startSimulator session.result');
}
