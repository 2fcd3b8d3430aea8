import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { MAX_DELAY } from './polling.js';
import { failure, hostnameOf, IDLE_SOCKET_TIMEOUT } from './transport.js';

/** Options of {@link createProxyAgent}. */
export interface ProxyAgentOptions extends https.AgentOptions {
  /**
   * The egress proxy, `http://host:port`. A `user:password@` in it is sent as
   * `Proxy-Authorization: Basic ...`. Required.
   */
  proxy: string | URL;
  /** More headers for the `CONNECT` request (a proxy token, ...). */
  proxyHeaders?: Record<string, string>;
  /** Milliseconds for the proxy to open the tunnel. Default 10000. */
  proxyTimeout?: number;
}

interface Proxy {
  hostname: string;
  port: number;
  headers: Record<string, string>;
  timeout: number;
}

/**
 * An `https.Agent` that reaches ZignSec through an HTTP egress proxy: each new connection is a
 * `CONNECT host:443` tunnel, and TLS to ZignSec runs inside it end to end. The agent's TLS options
 * apply to ZignSec's certificate: `ca` for a TLS-inspecting proxy's private CA, `cert`/`key` (or
 * `pfx`/`passphrase`) for a client certificate. The certificate is verified before any request,
 * and so the API key, is written. Connections are kept alive (`keepAlive: true`, idle sockets closed
 * after 4 s) unless the options say otherwise. The CA, certificate, key and passphrase are kept in one
 * `tls.SecureContext`, so `NODE_DEBUG=http` output never shows them; the proxy credentials are set
 * as a header, not in the options Node prints.
 *
 * @example
 * const agent = createProxyAgent({ proxy: 'http://proxy.bank.example:3128', ca: readFileSync('bank-ca.pem') });
 * new ItsMeStrategy({ apiKey, callbackURL, environment: 'production', agent }, verify);
 */
export function createProxyAgent(options: ProxyAgentOptions): https.Agent {
  if (!options || typeof options !== 'object') throw new TypeError('createProxyAgent requires an options object');
  let url: URL;
  try {
    url = new URL(String(options.proxy));
  } catch {
    throw new TypeError('createProxyAgent proxy option must be an http:// URL');
  }
  if (url.protocol !== 'http:' || url.hostname === '') {
    throw new TypeError('createProxyAgent proxy option must be an http:// URL (host and port of the proxy)');
  }
  const proxyTimeout = options.proxyTimeout ?? 10_000;
  if (!(Number.isInteger(proxyTimeout) && proxyTimeout > 0 && proxyTimeout <= MAX_DELAY)) {
    throw new TypeError('createProxyAgent proxyTimeout option must be a positive integer (milliseconds)');
  }
  if ((options as { rejectUnauthorized?: unknown }).rejectUnauthorized === false) {
    throw new TypeError(
      'createProxyAgent rejectUnauthorized option must not be false: trust the inspecting proxy or private CA with the ca option instead',
    );
  }
  const headers = checkProxyHeaders(options.proxyHeaders);
  if (url.username || url.password) {
    let credentials: string;
    try {
      credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    } catch {
      throw new TypeError(
        'createProxyAgent proxy option has a user name or password that is not percent-encoded (write % as %25)',
      );
    }
    headers['proxy-authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
  }
  const { proxy: _proxy, proxyHeaders: _headers, proxyTimeout: _timeout, ...agentOptions } = options;
  return new ProxyAgent(
    { keepAlive: true, maxSockets: 256, timeout: IDLE_SOCKET_TIMEOUT, ...withSecureContext(agentOptions) },
    {
      hostname: hostnameOf(url),
      port: url.port ? Number(url.port) : 80,
      headers,
      timeout: proxyTimeout,
    },
  );
}

/** TLS options that hold key material or trust: kept in a `SecureContext`, never in the agent's options. */
const KEY_MATERIAL = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'crl'] as const;

/**
 * The other options `tls.createSecureContext` reads: `tls.connect` ignores them once it is given a
 * `secureContext`, so they go into the same context (a `minVersion` must hold beside a `ca`).
 */
const CONTEXT_OPTIONS = [
  'allowPartialTrustChain',
  'ciphers',
  'clientCertEngine',
  'dhparam',
  'ecdhCurve',
  'honorCipherOrder',
  'maxVersion',
  'minVersion',
  'privateKeyEngine',
  'privateKeyIdentifier',
  'secureOptions',
  'secureProtocol',
  'sessionIdContext',
  'sessionTimeout',
  'sigalgs',
  'ticketKeys',
] as const;

/**
 * Moves the CA, certificate, key and passphrase into one `tls.SecureContext`, with the other context
 * options beside them: Node's `NODE_DEBUG=http` prints an agent's options on every new connection (a
 * passphrase whole, the start of each key).
 */
function withSecureContext(options: https.AgentOptions): https.AgentOptions {
  const all = options as Record<string, unknown>;
  const names = [...KEY_MATERIAL, ...CONTEXT_OPTIONS].filter((name) => all[name] !== undefined);
  // Built here whenever a context option is given, so that one Node refuses throws now, not at a login.
  if (options.secureContext !== undefined || names.length === 0) return options;
  const context: Record<string, unknown> = {};
  const rest: Record<string, unknown> = { ...options };
  for (const name of names) {
    context[name] = all[name];
    // The other context options stay in the agent's options too: they hold no secret.
    if ((KEY_MATERIAL as readonly string[]).includes(name)) delete rest[name];
  }
  let secureContext: tls.SecureContext;
  try {
    secureContext = tls.createSecureContext(context as tls.SecureContextOptions);
  } catch (err) {
    // Node's message names the problem (no cipher match, a bad PEM, a wrong passphrase), never a key.
    throw new TypeError(`createProxyAgent TLS options were refused: ${(err as Error).message}`);
  }
  return { ...(rest as https.AgentOptions), secureContext };
}

/** The `proxyHeaders` option as headers Node accepts, or a `TypeError` naming the header (never its value). */
function checkProxyHeaders(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError('createProxyAgent proxyHeaders option must be an object of header names to strings');
  }
  const headers: Record<string, string> = {};
  for (const [name, header] of Object.entries(value)) {
    try {
      http.validateHeaderName(name);
    } catch {
      throw new TypeError(`createProxyAgent proxyHeaders option has an invalid header name ${JSON.stringify(name)}`);
    }
    try {
      if (typeof header !== 'string') throw new TypeError('not a string');
      http.validateHeaderValue(name, header);
    } catch {
      // A token read from a file often ends in a newline, which Node refuses in a header.
      throw new TypeError(
        `createProxyAgent proxyHeaders option: the value of ${name} must be a string without control characters (a trailing newline?)`,
      );
    }
    headers[name.toLowerCase()] = header;
  }
  return headers;
}

class ProxyAgent extends https.Agent {
  readonly #proxy: Proxy;
  constructor(options: https.AgentOptions, proxy: Proxy) {
    super(options);
    this.#proxy = proxy;
  }

  override createConnection(
    options: https.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const done = callback ?? (() => {});
    const host = String(options.host ?? options.hostname ?? 'localhost');
    const port = Number(options.port ?? 443);
    const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const proxy = this.#proxy;
    let finished = false;
    const finish = (): void => {
      finished = true;
      clearTimeout(timer);
    };
    const fail = (err: Error): void => {
      if (finished) return;
      finish();
      connect.destroy();
      done(err, undefined as unknown as Duplex);
    };
    // The only connection this host makes is the one to the proxy: the local address and lookup go there.
    const { localAddress, family, lookup } = options as https.RequestOptions;
    const connect = http.request({
      hostname: proxy.hostname,
      port: proxy.port,
      method: 'CONNECT',
      path: authority,
      agent: false,
      headers: { host: authority },
      ...(localAddress !== undefined && { localAddress }),
      ...(family !== undefined && { family }),
      ...(lookup !== undefined && { lookup }),
    });
    connect.once('error', (err) => fail(failure(`the proxy could not be reached (${err.message})`, code(err))));
    // A limit on the whole CONNECT exchange, not an idle timer: a proxy dribbling its answer trips it too.
    const timer = setTimeout(
      () => fail(failure('the proxy did not open the tunnel in time', 'ETIMEDOUT')),
      proxy.timeout,
    );
    // Set here, not in the options above, which NODE_DEBUG=http prints (checked by createProxyAgent).
    for (const [name, value] of Object.entries(proxy.headers)) connect.setHeader(name, value);
    connect.once('connect', (res, socket, head) => {
      if (finished) {
        socket.destroy();
        return;
      }
      finish();
      // Node hands every answer to a CONNECT here, refusals (407, 403, 502, ...) included.
      if (res.statusCode !== 200) {
        socket.destroy();
        done(
          failure(`the proxy refused the tunnel to ${authority} (HTTP ${res.statusCode})`, 'ERR_PROXY_REFUSED'),
          undefined as unknown as Duplex,
        );
        return;
      }
      if (head.length > 0) socket.unshift(head);
      const {
        path: _path,
        headers: _headers,
        agent: _agent,
        ...tlsOptions
      } = options as https.RequestOptions & tls.ConnectionOptions;
      let secure: tls.TLSSocket;
      try {
        secure = tls.connect({
          ...tlsOptions,
          socket,
          host,
          port,
          ...(tlsOptions.servername === undefined && !isIp(host) ? { servername: host } : {}),
        });
      } catch (err) {
        // In a listener, a throw would end the process: the call fails instead.
        socket.destroy();
        done(
          failure(`TLS to ${authority} could not start (${(err as Error).message})`, code(err as Error)),
          undefined as unknown as Duplex,
        );
        return;
      }
      done(null, secure);
    });
    connect.end();
    return undefined;
  }
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

function code(err: Error): string {
  const value = (err as { code?: unknown }).code;
  return typeof value === 'string' ? value : 'ERR_PROXY';
}
