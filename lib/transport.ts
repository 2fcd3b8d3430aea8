import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';

/**
 * Idle kept-alive sockets are closed after this many ms, before a server's or load balancer's own idle
 * timeout (5 s for Node servers, often more) can close one just as a start POST, which is never
 * retried, is written to it. A shorter `Keep-Alive: timeout=N` hint from the server wins. @internal
 */
const IDLE_SOCKET_TIMEOUT = 4000;

/** One HTTP request as the client sends it. @internal */
export interface ExchangeRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: OutgoingHttpHeaders;
  body?: Buffer;
  /** Milliseconds for the whole exchange, body included. */
  timeout: number;
  signal?: AbortSignal;
  /** Largest body read; beyond it the connection is cut. */
  maxResponseSize: number;
}

/** What is kept of a response. @internal */
export interface Exchange {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * The client's HTTP layer: `node:http`/`node:https` with kept-alive connections, a time limit on the
 * whole exchange, an abort signal, a cap on the body read, and no redirects followed. Errors are plain
 * Node errors with a `code` (`ETIMEDOUT`, `ABORT_ERR`, `ERR_RESPONSE_TOO_LARGE`, `ECONNRESET`, ...).
 * @internal
 */
export class Transport {
  #http = new http.Agent({ keepAlive: true, maxSockets: 256, timeout: IDLE_SOCKET_TIMEOUT });
  #https = new https.Agent({ keepAlive: true, maxSockets: 256, timeout: IDLE_SOCKET_TIMEOUT });

  send(request: ExchangeRequest): Promise<Exchange> {
    return new Promise((resolve, reject) => {
      const url = new URL(request.url);
      const secure = url.protocol === 'https:';
      let settled = false;
      const settle = (err: Error | undefined, value?: Exchange): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        request.signal?.removeEventListener('abort', onAbort);
        if (err) {
          req.destroy();
          reject(err);
        } else resolve(value as Exchange);
      };
      const onAbort = (): void => settle(failure('The operation was aborted', 'ABORT_ERR', 'AbortError'));
      const req = (secure ? https : http).request(
        url,
        { method: request.method, headers: request.headers, agent: secure ? this.#https : this.#http },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > request.maxResponseSize) {
              settle(failure(`response is larger than ${request.maxResponseSize} bytes`, 'ERR_RESPONSE_TOO_LARGE'));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () =>
            settle(undefined, {
              statusCode: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
          res.on('error', (err) => settle(err));
          res.on('close', () => {
            if (!res.complete) settle(failure('the connection closed before the response ended', 'ECONNRESET'));
          });
        },
      );
      const timer = setTimeout(
        () => settle(failure(`no complete answer within ${request.timeout} ms`, 'ETIMEDOUT', 'TimeoutError')),
        request.timeout,
      );
      req.on('error', (err) => settle(err));
      // Without this listener Node drops the socket of a 101 answer and the request waits for its timer.
      req.on('upgrade', (_res, socket) => {
        socket.destroy();
        settle(failure('the server switched protocols (HTTP 101) instead of answering', 'ERR_UNEXPECTED_UPGRADE'));
      });
      if (request.signal) {
        if (request.signal.aborted) onAbort();
        else request.signal.addEventListener('abort', onAbort, { once: true });
      }
      req.end(request.body);
    });
  }
}

function failure(message: string, code: string, name = 'Error'): Error {
  const err = new Error(message);
  err.name = name;
  Object.defineProperty(err, 'code', { value: code, enumerable: true });
  return err;
}
