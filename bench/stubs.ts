/**
 * Child process: light loopback stand-ins for the two providers.
 * - one upstream API server per variant (`argv[2]`, a JSON list), so that connections and requests
 *   are counted per app even when two apps run at once. It answers ZignSec's routes
 *   (`POST /v3/eid/itsme`, `GET /v3/eid/itsme/{id}`, with the document's sample) and an OAuth 2.0
 *   API's (`POST /token`, `GET /userinfo`, with the same claims);
 * - a "provider UI" server the browser is sent to, which answers at once with a 302 back to the app
 *   (`relaystate` for itsme, `code` + `state` for OAuth), as if the person had confirmed.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sampleResult } from '../test/support/zignsec-stub.js';
import { serve } from './ipc.js';
import { OAUTH_CLIENT, type StubsInfo, type StubsSnapshot, type Variant, ZIGNSEC_KEY } from './shared.js';

/** Cap on pending sessions/codes the stubs remember (oldest forgotten first). */
const MAX_PENDING = 200_000;
/** Upstream keep-alive as a typical load balancer in front of an API keeps it (AWS ALB: 60 s). */
const KEEP_ALIVE_MS = 65_000;

const sessions = new Map<string, { relaystate: string; target: string; confirmed: boolean }>();
const codes = new Map<string, string>();
const tokens = new Set<string>();
const variants = JSON.parse(process.argv[2] ?? '[]') as Variant[];
const connections: Partial<Record<Variant, number>> = {};
const requests: Partial<Record<Variant, number>> = {};
const resultTemplate = JSON.stringify(sampleResult('__ID__')).split('__ID__');
const claims = JSON.parse(String(sampleResult('x').providerData)) as Record<string, unknown>;
const userinfoBody = JSON.stringify(claims);

function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  if (map.size >= MAX_PENDING) map.delete(map.keys().next().value as K);
  map.set(key, value);
}

function send(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function redirect(res: http.ServerResponse, location: string): void {
  res.writeHead(302, { location, 'content-length': 0 });
  res.end();
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      text += chunk;
    });
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

const RESULT_PATH = /^\/v3\/eid\/itsme\/([A-Za-z0-9_-]{1,128})$/;

async function zignsec(req: http.IncomingMessage, res: http.ServerResponse, body: string): Promise<void> {
  if (req.headers.authorization !== ZIGNSEC_KEY) {
    send(res, 401, '{"errors":[{"code":"UNAUTHORIZED","description":"Invalid access token"}]}');
    return;
  }
  if (req.method === 'POST' && req.url === '/v3/eid/itsme') {
    const input = JSON.parse(body) as { relaystate?: unknown; target?: unknown };
    if (typeof input.relaystate !== 'string' || typeof input.target !== 'string') {
      send(res, 400, '{"errors":[{"code":"INVALID_REQUEST"}]}');
      return;
    }
    const id = randomUUID();
    remember(sessions, id, { relaystate: input.relaystate, target: input.target, confirmed: false });
    send(res, 200, JSON.stringify({ id, redirectUrl: `${providerUrl}/itsme/authorize?session=${id}`, errors: [] }));
    return;
  }
  const match = req.method === 'GET' ? RESULT_PATH.exec(req.url ?? '') : null;
  const id = match?.[1];
  const session = id ? sessions.get(id) : undefined;
  if (!id || !session) {
    send(res, 404, '{"errors":[{"code":"SESSION_NOT_FOUND"}]}');
    return;
  }
  if (!session.confirmed) {
    send(res, 200, JSON.stringify({ id, state: 'Pending', errors: [] }));
    return;
  }
  sessions.delete(id);
  send(res, 200, resultTemplate.join(id));
}

function oauth(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
  if (req.method === 'POST' && req.url === '/token') {
    const form = new URLSearchParams(body);
    const code = form.get('code') ?? '';
    const redirectUri = codes.get(code);
    const client = form.get('client_id') === OAUTH_CLIENT.id && form.get('client_secret') === OAUTH_CLIENT.secret;
    if (!client || form.get('grant_type') !== 'authorization_code' || redirectUri !== form.get('redirect_uri')) {
      send(res, 400, '{"error":"invalid_grant"}');
      return;
    }
    codes.delete(code);
    const token = randomBytes(24).toString('base64url');
    tokens.add(token);
    send(res, 200, JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 3600 }));
    return;
  }
  if (req.method === 'GET' && req.url === '/userinfo') {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!token || !tokens.delete(token)) {
      send(res, 401, '{"error":"invalid_token"}');
      return;
    }
    send(res, 200, userinfoBody);
    return;
  }
  send(res, 404, '{"error":"not_found"}');
}

function provider(req: http.IncomingMessage, res: http.ServerResponse): void {
  req.resume();
  const url = new URL(req.url ?? '/', 'http://provider');
  if (url.pathname === '/itsme/authorize') {
    const session = sessions.get(url.searchParams.get('session') ?? '');
    if (!session) send(res, 404, '{"error":"unknown session"}');
    else {
      session.confirmed = true;
      redirect(res, `${session.target}?relaystate=${encodeURIComponent(session.relaystate)}`);
    }
    return;
  }
  if (url.pathname === '/oauth/authorize') {
    const redirectUri = url.searchParams.get('redirect_uri');
    const state = url.searchParams.get('state');
    if (url.searchParams.get('client_id') !== OAUTH_CLIENT.id || !redirectUri || !state) {
      send(res, 400, '{"error":"invalid_request"}');
      return;
    }
    const code = randomBytes(16).toString('base64url');
    remember(codes, code, redirectUri);
    redirect(res, `${redirectUri}?code=${code}&state=${encodeURIComponent(state)}`);
    return;
  }
  send(res, 404, '{"error":"not_found"}');
}

async function listen(server: http.Server, keepAlive: boolean): Promise<string> {
  if (keepAlive) {
    server.keepAliveTimeout = KEEP_ALIVE_MS;
    server.headersTimeout = KEEP_ALIVE_MS + 1000;
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const fail = (res: http.ServerResponse) => (err: unknown) => {
  if (!res.headersSent) send(res, 500, JSON.stringify({ error: String(err) }));
};

/** The upstream API server of one variant: ZignSec's routes under `/v3/`, the OAuth API's elsewhere. */
function upstream(variant: Variant): http.Server {
  connections[variant] = 0;
  requests[variant] = 0;
  const server = http.createServer((req, res) => {
    requests[variant] = (requests[variant] ?? 0) + 1;
    readBody(req)
      .then((body) => (req.url?.startsWith('/v3/') ? zignsec(req, res, body) : oauth(req, res, body)))
      .catch(fail(res));
  });
  server.on('connection', () => {
    connections[variant] = (connections[variant] ?? 0) + 1;
  });
  return server;
}

const providerUrl = await listen(http.createServer(provider), false);
const info: StubsInfo = { upstream: {}, providerUrl };
for (const variant of variants) info.upstream[variant] = await listen(upstream(variant), true);

serve(
  {
    snapshot: (): StubsSnapshot => ({
      cpu: process.cpuUsage(),
      connections: { ...connections },
      requests: { ...requests },
    }),
  },
  info,
);
