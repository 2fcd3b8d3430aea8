/**
 * Child process: light loopback stand-ins for the two providers.
 * - ZignSec API (`POST /v3/eid/itsme`, `GET /v3/eid/itsme/{id}`), answering the document's sample;
 * - an OAuth 2.0 API (`POST /token`, `GET /userinfo`) answering the same claims;
 * - a "provider UI" server the browser is sent to, which answers at once with a 302 back to the app
 *   (`relaystate` for itsme, `code` + `state` for OAuth), as if the person had confirmed.
 * New TCP connections on the two API servers are counted; the UI server is the browser's side.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sampleResult } from '../test/support/zignsec-stub.js';
import { serve } from './ipc.js';
import { OAUTH_CLIENT, type StubsInfo, type StubsSnapshot, ZIGNSEC_KEY } from './shared.js';

/** Cap on pending sessions/codes the stubs remember (oldest forgotten first). */
const MAX_PENDING = 200_000;
/** `--auto-confirm`: sessions are confirmed at start (for the client-only micro benchmark). */
const AUTO_CONFIRM = process.argv.includes('--auto-confirm');
/** Upstream keep-alive as a typical load balancer in front of an API keeps it (AWS ALB: 60 s). */
const KEEP_ALIVE_MS = 65_000;

const sessions = new Map<string, { relaystate: string; target: string; confirmed: boolean }>();
const codes = new Map<string, string>();
const tokens = new Set<string>();
const counts = {
  connections: { zignsec: 0, oauth: 0 },
  requests: { zignsec: 0, oauth: 0, provider: 0 },
};
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

async function zignsec(req: http.IncomingMessage, res: http.ServerResponse, providerUrl: string): Promise<void> {
  counts.requests.zignsec++;
  const body = await readBody(req);
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
    remember(sessions, id, { relaystate: input.relaystate, target: input.target, confirmed: AUTO_CONFIRM });
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

async function oauth(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  counts.requests.oauth++;
  const body = await readBody(req);
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
  counts.requests.provider++;
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

let providerUrl = '';
const providerServer = http.createServer(provider);
const zignsecServer = http.createServer((req, res) => void zignsec(req, res, providerUrl).catch(fail(res)));
const oauthServer = http.createServer((req, res) => void oauth(req, res).catch(fail(res)));
zignsecServer.on('connection', () => counts.connections.zignsec++);
oauthServer.on('connection', () => counts.connections.oauth++);
providerUrl = await listen(providerServer, false);
const info: StubsInfo = {
  zignsecUrl: await listen(zignsecServer, true),
  oauthUrl: await listen(oauthServer, true),
  providerUrl,
};

serve(
  {
    snapshot: (): StubsSnapshot => ({
      cpu: process.cpuUsage(),
      connections: { ...counts.connections },
      requests: { ...counts.requests },
    }),
  },
  info,
);
