import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ItsMeLanguage } from '../types.js';
import type { SimulatorEngine } from './engine.js';
import { type CallFault, faultReply } from './faults.js';
import { isWebUrl, readBody, redirect, sameSecret, sendHtml, sendJson } from './http.js';
import { authorizePage, endedPage, indexPage, pickLanguage } from './pages.js';
import type { SimulatorStartRequest } from './sessions.js';

const ID_PATH = /^\/v3\/eid\/itsme\/([^/]+)$/;
const PAGE_PATH = /^\/itsme\/authorize\/([A-Za-z0-9-]{1,64})$/;
const UNAUTHORIZED = { errors: [{ code: 'UNAUTHORIZED', description: 'Missing or invalid access token' }] };

type ErrorEntry = { code: string; description: string };

/**
 * Answers one request: the two API calls, the itsme screen (GET shows it, POST answers it) and `/`.
 * `closing` aborts delayed answers when the simulator stops.
 * @internal
 */
export async function route(
  engine: SimulatorEngine,
  closing: AbortSignal,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let path: string;
  try {
    path = new URL(req.url ?? '/', 'http://simulator').pathname;
  } catch {
    // A request target no URL parser takes (`GET http://[`): the client's mistake, not the simulator's.
    return sendJson(res, 400, { errors: [{ code: 'INVALID_REQUEST' }] });
  }
  res.on('finish', () => engine.log(`${req.method} ${path} ${res.statusCode}`));
  if (path === '/v3/eid/itsme') {
    if (req.method !== 'POST') return sendJson(res, 405, { errors: [{ code: 'INVALID_REQUEST' }] });
    return start(engine, closing, req, res);
  }
  const idMatch = ID_PATH.exec(path);
  if (idMatch) {
    if (req.method !== 'GET') return sendJson(res, 405, { errors: [{ code: 'INVALID_REQUEST' }] });
    return result(engine, closing, req, res, safeDecode(idMatch[1] ?? ''));
  }
  const pageMatch = PAGE_PATH.exec(path);
  if (pageMatch && (req.method === 'GET' || req.method === 'POST')) return page(engine, req, res, pageMatch[1] ?? '');
  if (path === '/' && req.method === 'GET') return sendHtml(res, 200, indexPage(engine.personas));
  if ((path === '/favicon.svg' || path === '/favicon.ico') && req.method === 'GET') return sendIcon(res);
  sendJson(res, 404, { errors: [{ code: 'NOT_FOUND', description: 'No such endpoint' }] });
}

async function start(engine: SimulatorEngine, closing: AbortSignal, req: IncomingMessage, res: ServerResponse) {
  const fault = engine.faultFor('start');
  const text = await readBody(req);
  if (await delayOrDrop(fault, closing, res)) return;
  if (
    fault &&
    ((fault.status !== undefined && (fault.status < 200 || fault.status > 299)) || fault.body !== undefined)
  ) {
    const reply = faultReply(fault, 200, {});
    return sendJson(res, reply.status, reply.text);
  }
  let status = 200;
  let body: Record<string, unknown>;
  if (!engine.authorized(req.headers.authorization)) {
    status = 401;
    body = UNAUTHORIZED;
  } else if (text === undefined) {
    status = 413;
    body = { errors: [{ code: 'INVALID_REQUEST', description: 'Request body too large' }] };
  } else {
    const parsed = parseStart(text);
    if ('errors' in parsed) {
      status = 400;
      body = { id: null, redirectUrl: null, errors: parsed.errors };
    } else {
      const session = engine.createSession(parsed.request);
      body = { id: session.id, redirectUrl: engine.pageUrl(session.id), errors: [] };
    }
  }
  const reply = fault ? faultReply(fault, status, body) : { status, text: JSON.stringify(body) };
  sendJson(res, reply.status, reply.text);
}

async function result(
  engine: SimulatorEngine,
  closing: AbortSignal,
  req: IncomingMessage,
  res: ServerResponse,
  id: string,
) {
  if (!engine.authorized(req.headers.authorization)) return sendJson(res, 401, UNAUTHORIZED);
  const session = engine.sessions.get(id);
  const fault = engine.faultFor('result', session, id);
  if (await delayOrDrop(fault, closing, res)) return;
  const status = session ? 200 : 404;
  const body = session
    ? engine.poll(session)
    : { errors: [{ code: 'SESSION_NOT_FOUND', description: 'No itsme session with this id' }] };
  const reply = fault ? faultReply(fault, status, body) : { status, text: JSON.stringify(body) };
  sendJson(res, reply.status, reply.text);
}

async function page(engine: SimulatorEngine, req: IncomingMessage, res: ServerResponse, id: string) {
  const session = engine.sessions.get(id);
  const text = req.method === 'POST' ? await readBody(req) : '';
  const lang: ItsMeLanguage = session?.request.language ?? pickLanguage(req.headers['accept-language']);
  if (!session) return sendHtml(res, 404, endedPage(lang, 'expired', undefined));
  const { target, targetError } = session.request;
  const show = (status: number) =>
    sendHtml(
      res,
      status,
      authorizePage({
        lang,
        // Relative to the page, so that it posts back through a `publicUrl` with a path prefix.
        action: encodeURIComponent(session.id),
        token: session.token,
        target,
        personas: engine.personas,
      }),
      [target, targetError].filter((u): u is string => !!u),
    );
  const back = engine.returnUrl(session, 'targetError');
  // An answered request links to the site's home page, not to the way back (that one works once).
  const site = siteOf(target);
  if (req.method === 'GET') {
    if (session.status === 'expired') return sendHtml(res, 410, endedPage(lang, 'expired', back));
    if (session.status !== 'pending') return sendHtml(res, 409, endedPage(lang, 'finished', site));
    return show(200);
  }
  const form = new URLSearchParams(text ?? '');
  if (text === undefined || !sameSecret(form.get('token') ?? undefined, session.token)) {
    return sendHtml(res, 403, endedPage(lang, 'finished', site));
  }
  if (session.status === 'expired') {
    return back ? redirect(res, back) : sendHtml(res, 410, endedPage(lang, 'expired', undefined));
  }
  if (session.status !== 'pending') return sendHtml(res, 409, endedPage(lang, 'finished', site));
  const action = form.get('action');
  const personaId = form.get('persona') ?? undefined;
  if (
    action === 'cancel' ||
    action === 'expire' ||
    action === 'error' ||
    (action === 'approve' && engine.personas.some((p) => p.id === personaId))
  ) {
    const { location } = engine.act(session, action, personaId);
    if (location) return redirect(res, location);
    return sendHtml(res, 200, endedPage(lang, action === 'expire' ? 'expired' : 'finished', undefined));
  }
  show(400);
}

/** Waits for a fault's delay; closes the connection and answers `true` for a `drop` fault. */
async function delayOrDrop(fault: CallFault | undefined, closing: AbortSignal, res: ServerResponse): Promise<boolean> {
  if (fault?.delay) {
    try {
      await sleep(fault.delay, undefined, { signal: closing });
    } catch {
      res.destroy();
      return true;
    }
  }
  if (fault?.drop) {
    res.socket?.destroy();
    return true;
  }
  return false;
}

/** Reads and checks the body of a start call, as ZignSec does. @internal */
export function parseStart(text: string): { request: SimulatorStartRequest } | { errors: ErrorEntry[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { errors: [{ code: 'INVALID_REQUEST', description: 'The body is not valid JSON' }] };
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) {
    return { errors: [{ code: 'INVALID_REQUEST', description: 'The body must be a JSON object' }] };
  }
  const body = json as Record<string, unknown>;
  const errors: ErrorEntry[] = [];
  const request: SimulatorStartRequest = {};
  const urls = [
    ['target', 'INVALID_TARGET'],
    ['targetError', 'INVALID_TARGETERROR'],
    ['webhook', 'INVALID_WEBHOOK'],
  ] as const;
  for (const [field, code] of urls) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    if (isWebUrl(value)) request[field] = value;
    else errors.push({ code, description: `${field} must be an absolute http(s) URL` });
  }
  const relaystate = body.relaystate;
  if (relaystate !== undefined && relaystate !== null) {
    if (typeof relaystate === 'string' && relaystate.length <= 2048) request.relaystate = relaystate;
    else
      errors.push({ code: 'INVALID_REQUEST', description: 'relaystate must be a string of at most 2048 characters' });
  }
  const language = body.language;
  if (language === 'fr' || language === 'nl' || language === 'en' || language === 'de') request.language = language;
  return errors.length > 0 ? { errors } : { request };
}

const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#c9380c"/><circle cx="16" cy="16" r="7" fill="#fff"/></svg>`;

function sendIcon(res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'image/svg+xml',
    'cache-control': 'public, max-age=86400',
    'content-length': Buffer.byteLength(ICON),
    'x-content-type-options': 'nosniff',
  });
  res.end(ICON);
}

/** The home page of the site a request came from (the origin of its target), if it has one. */
function siteOf(target: string | undefined): string | undefined {
  if (!target) return undefined;
  try {
    return `${new URL(target).origin}/`;
  } catch {
    return undefined;
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
