import http from 'node:http';
import https from 'node:https';
import got from 'got';

/** What the package's `Transport` (lib/transport.ts) holds that this layer reads. */
interface TransportLike {
  baseURL: string;
  maxResponseSize: number;
}

type Send = (
  this: TransportLike,
  method: 'GET' | 'POST',
  path: string,
  authorization: string,
  body: string | undefined,
  timeout: number,
  signal: AbortSignal | undefined,
) => Promise<{ statusCode: number; rawHeaders: string[]; body: string }>;

/**
 * got 14 tuned as far as it goes for two small JSON calls: the stream API, no retry, no redirects,
 * no decompression, no cache, no hooks, an empty `cacheOptions` (keeps its options on V8's fast
 * path), the same keep-alive agents, time limit, abort signal and size cap as `lib/transport.ts`.
 */
export function gotSend(): Send {
  const client = got.extend({
    agent: {
      http: new http.Agent({ keepAlive: true, maxSockets: 256, timeout: 4000 }),
      https: new https.Agent({ keepAlive: true, maxSockets: 256, timeout: 4000 }),
    },
    retry: { limit: 0 },
    followRedirect: false,
    decompress: false,
    throwHttpErrors: false,
    cacheOptions: {},
  });
  return function (this: TransportLike, method, path, authorization, body, timeout, signal) {
    const maxResponseSize = this.maxResponseSize;
    return new Promise((resolve, reject) => {
      const stream = client.stream(this.baseURL + path, {
        method,
        headers: {
          authorization,
          accept: 'application/json',
          'user-agent': 'passport-itsme',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body }),
        timeout: { request: timeout },
        ...(signal ? { signal } : {}),
      });
      const chunks: Buffer[] = [];
      let size = 0;
      let statusCode = 0;
      let rawHeaders: string[] = [];
      stream.on('response', (res: http.IncomingMessage) => {
        statusCode = res.statusCode ?? 0;
        rawHeaders = res.rawHeaders;
      });
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxResponseSize) {
          const err = Object.assign(new Error('response too large'), { code: 'ERR_RESPONSE_TOO_LARGE' });
          stream.destroy(err);
          return;
        }
        chunks.push(chunk);
      });
      stream.on('end', () => resolve({ statusCode, rawHeaders, body: Buffer.concat(chunks).toString('utf8') }));
      stream.on('error', reject);
    });
  };
}

/**
 * Swaps the HTTP layer of the package's ZignSec client for {@link gotSend} in this process only:
 * everything above it (the client's checks, the strategy, the store) stays the package's own.
 */
export async function useGot(distDir: string): Promise<void> {
  const { pathToFileURL } = await import('node:url');
  const { resolve } = await import('node:path');
  const module = (await import(pathToFileURL(resolve(distDir, 'transport.js')).href)) as {
    Transport?: { prototype: { send?: unknown } };
  };
  if (typeof module.Transport?.prototype.send !== 'function') {
    throw new Error(
      `${distDir}/transport.js no longer exports Transport with send(): update bench/variants/got-transport.ts`,
    );
  }
  module.Transport.prototype.send = gotSend();
}
