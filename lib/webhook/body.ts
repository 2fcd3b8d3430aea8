import type { IncomingMessage, ServerResponse } from 'node:http';
import { SESSION_ID } from '../client-options.js';
import type { Outcome } from './outcome.js';

/** What the handler got as the request body: raw bytes, what a parser made of it, or an answer to send. @internal */
export type Body = { raw: Buffer } | { parsed: unknown } | { fail: Outcome } | null;

/**
 * Use as `express.json({ verify: keepRawBody })` when a JSON body parser runs before the webhook
 * route: it keeps the raw bytes on `req.rawBody`, which the signature check needs.
 */
export function keepRawBody(req: IncomingMessage, _res: ServerResponse, buf: Buffer): void {
  (req as IncomingMessage & { rawBody?: Buffer }).rawBody = buf;
}

/** The raw body, or what a body parser left when it already read the stream; `null` if the client left. @internal */
export function readBody(req: IncomingMessage, limit: number): Promise<Body> {
  const r = req as IncomingMessage & { rawBody?: unknown; body?: unknown; _body?: unknown };
  const tooLarge: Body = {
    fail: { status: 413, body: { error: `The body is larger than ${limit} bytes` }, outcome: 'too-large' },
  };
  const given = Buffer.isBuffer(r.rawBody) ? r.rawBody : Buffer.isBuffer(r.body) ? r.body : undefined;
  if (given) return Promise.resolve(given.length > limit ? tooLarge : { raw: given });
  if (r._body === true || r.readableEnded) {
    // Read by another parser, with its own limit: maxBodySize still holds.
    if (Number(req.headers['content-length']) > limit) return Promise.resolve(tooLarge);
    if (typeof r.body === 'string') {
      return Promise.resolve(Buffer.byteLength(r.body) > limit ? tooLarge : { raw: Buffer.from(r.body) });
    }
    if (r.body !== undefined) return Promise.resolve(jsonSize(r.body) > limit ? tooLarge : { parsed: r.body });
    return Promise.resolve({
      fail: {
        status: 500,
        body: { error: 'The request body was already read by another middleware' },
        outcome: 'internal-error',
      },
    });
  }
  const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity') {
    return Promise.resolve({
      fail: {
        status: 415,
        body: { error: `Unsupported content-encoding ${encoding}` },
        outcome: 'unsupported-encoding',
      },
    });
  }
  if (Number(req.headers['content-length']) > limit) return Promise.resolve(tooLarge);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (value: Body) => {
      req.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onGone);
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.pause();
        done(tooLarge);
      } else chunks.push(chunk);
    };
    const onEnd = () => done({ raw: Buffer.concat(chunks, size) });
    const onGone = () => done(null);
    req.on('data', onData).on('end', onEnd).on('error', onGone).on('close', onGone);
  });
}

/** The JSON value of `raw` (a leading BOM allowed); `undefined` when it is not JSON. @internal */
export function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8').replace(/^\uFEFF/, ''));
  } catch {
    return undefined;
  }
}

/** The valid ZignSec session id a JSON body names, if any. @internal */
export function sessionId(body: unknown): string | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const id = (body as { id?: unknown }).id;
  return typeof id === 'string' && SESSION_ID.test(id) ? id : undefined;
}

/** Bytes of `value` as JSON (a chunked body has no content-length); 0 when it does not serialise. */
function jsonSize(value: unknown): number {
  try {
    return Buffer.byteLength(JSON.stringify(value) ?? '');
  } catch {
    return 0;
  }
}
