import http, { type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';

/**
 * Idle kept-alive sockets are closed after this many ms, before a server's or load balancer's own idle
 * timeout (5 s for Node servers, often more) can close one just as a start POST, which is never
 * retried, is written to it. A shorter `Keep-Alive: timeout=N` hint from the server wins. @internal
 */
export const IDLE_SOCKET_TIMEOUT = 4000;

/** What is kept of a response. @internal */
export interface Exchange {
  statusCode: number;
  /** The response's raw header list (name, value, name, value, ...), read only when needed. */
  rawHeaders: string[];
  body: string;
}

const GET_HEADERS: OutgoingHttpHeaders = { accept: 'application/json', 'user-agent': 'passport-itsme' };
const POST_HEADERS: OutgoingHttpHeaders = { ...GET_HEADERS, 'content-type': 'application/json' };

/**
 * The client's HTTP layer for one origin: `node:http`/`node:https` with kept-alive connections (or
 * the agent the app gave), a time limit on the whole exchange, an abort signal, a cap on the body
 * read, and no redirects followed. Errors are plain Node errors with a `code` (`ETIMEDOUT`,
 * `ABORT_ERR`, `ERR_RESPONSE_TOO_LARGE`, `ECONNRESET`, ...).
 *
 * The origin is parsed once. `Authorization` is set on the request after it is created, not passed
 * in its options, so Node's `NODE_DEBUG=http` output (which prints the options of each new
 * connection) never holds the API key.
 * @internal
 */
export class Transport {
  /** The URL paths are appended to. */
  readonly baseURL: string;
  /** Largest body read, in bytes. */
  readonly maxResponseSize: number;
  readonly #request: typeof http.request;
  readonly #hostname: string;
  readonly #port: number;
  readonly #basePath: string;
  readonly #agent: http.Agent;

  constructor(baseURL: string, maxResponseSize: number, agent?: http.Agent) {
    const url = new URL(baseURL);
    const secure = url.protocol === 'https:';
    this.#request = secure ? https.request : http.request;
    this.#hostname = hostnameOf(url);
    this.#port = url.port ? Number(url.port) : secure ? 443 : 80;
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.baseURL = baseURL;
    this.maxResponseSize = maxResponseSize;
    this.#agent =
      agent ?? new (secure ? https : http).Agent({ keepAlive: true, maxSockets: 256, timeout: IDLE_SOCKET_TIMEOUT });
  }

  /**
   * One exchange: `path` is appended to the base URL's path; `body` is sent as JSON; `timeout` covers
   * the whole exchange, body included.
   */
  send(
    method: 'GET' | 'POST',
    path: string,
    authorization: string,
    body: string | undefined,
    timeout: number,
    signal: AbortSignal | undefined,
  ): Promise<Exchange> {
    return new Promise((resolve, reject) => {
      const max = this.maxResponseSize;
      let settled = false;
      const settle = (err: Error | undefined, value?: Exchange): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (signal) signal.removeEventListener('abort', onAbort);
        if (err) {
          req.destroy();
          reject(err);
        } else resolve(value as Exchange);
      };
      const onAbort = (): void => settle(failure('The operation was aborted', 'ABORT_ERR', 'AbortError'));
      const req = this.#request(
        {
          hostname: this.#hostname,
          port: this.#port,
          path: this.#basePath + path,
          method,
          headers: body === undefined ? GET_HEADERS : POST_HEADERS,
          agent: this.#agent,
        },
        (res) => {
          let first: Buffer | undefined;
          let chunks: Buffer[] | undefined;
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > max) {
              settle(failure(`response is larger than ${max} bytes`, 'ERR_RESPONSE_TOO_LARGE'));
              return;
            }
            if (first === undefined) first = chunk;
            else if (chunks === undefined) chunks = [first, chunk];
            else chunks.push(chunk);
          });
          res.on('end', () => {
            const bytes = chunks ? Buffer.concat(chunks, size) : first;
            settle(undefined, {
              statusCode: res.statusCode ?? 0,
              // Not `res.headers`: Node builds that object on first read, and a good answer never needs it.
              rawHeaders: res.rawHeaders,
              body: bytes ? bytes.toString('utf8') : '',
            });
          });
          res.on('error', (err) => settle(err));
          res.on('close', () => {
            if (!res.complete) settle(failure('the connection closed before the response ended', 'ECONNRESET'));
          });
        },
      );
      const timer = setTimeout(
        () => settle(failure(`no complete answer within ${timeout} ms`, 'ETIMEDOUT', 'TimeoutError')),
        timeout,
      );
      req.setHeader('authorization', authorization);
      req.on('error', (err) => settle(err));
      // Without this listener Node drops the socket of a 101 answer and the request waits for its timer.
      req.on('upgrade', (_res, socket) => {
        socket.destroy();
        settle(failure('the server switched protocols (HTTP 101) instead of answering', 'ERR_UNEXPECTED_UPGRADE'));
      });
      if (signal) {
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
      // With the whole body given to end(), Node sends its Content-Length itself.
      req.end(body);
    });
  }
}

/** The first value of header `name` (lower case) in a raw header list. @internal */
export function rawHeader(rawHeaders: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if ((rawHeaders[i] as string).toLowerCase() === name) return rawHeaders[i + 1];
  }
  return undefined;
}

/** A plain `Error` with a Node-style `code` (and a `name` when one is given). @internal */
export function failure(message: string, code: string, name?: string): Error {
  const err = new Error(message);
  if (name !== undefined) err.name = name;
  Object.defineProperty(err, 'code', { value: code, enumerable: true });
  return err;
}

/** The host of `url` as `http.request` and `net.connect` take it: an IPv6 address without its brackets. @internal */
export function hostnameOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}
