import http from 'node:http';
import { ZIGNSEC_KEY } from '../shared.js';

const MAX_BODY = 1024 * 1024;

/** A ZignSec call as the baseline makes it: `node:http`, one keep-alive agent, JSON in and out. */
export type RawCall = (
  method: 'GET' | 'POST',
  path: string,
  body?: string,
) => Promise<{ status: number; json: Record<string, unknown> }>;

/** The hand-written client of the baseline: no got, no options merging, just the call. */
export function createRawClient(zignsecUrl: string): RawCall {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  return (method, path, body) =>
    new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { authorization: ZIGNSEC_KEY, accept: 'application/json' };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const url = `${zignsecUrl}/v3/eid/itsme${path}`;
      const req = http.request(url, { method, agent, headers, timeout: 10_000 }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          if (text.length > MAX_BODY) req.destroy(new Error('ZignSec response too large'));
        });
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> });
          } catch {
            reject(new Error(`ZignSec answered HTTP ${res.statusCode} with a body that is not JSON`));
          }
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('ZignSec call timed out')));
      req.on('error', reject);
      req.end(body);
    });
}
