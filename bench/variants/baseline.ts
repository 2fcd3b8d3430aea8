import { randomBytes } from 'node:crypto';
import type { Request } from 'express';
import { createRawClient } from './raw-client.js';
import type { Shell } from './shell.js';

/** Key under which the hand-written flow keeps pending logins in the session. */
export const PENDING_KEY = 'itsme';

const RELAYSTATE = /^[A-Za-z0-9_-]{16,256}$/;
const TTL = 600_000;

type Pending = Record<string, { id: string; exp: number }>;

/**
 * The cost floor of this design: the same two ZignSec calls with `node:http` and a keep-alive agent,
 * the pending login and the logged-in user written to the session by hand, no strategy, no got.
 * It keeps the checks that matter (one-time relaystate bound to the session, status, errors, state,
 * id) and regenerates the session at login as passport does.
 */
export function mountBaseline(shell: Shell, zignsecUrl: string): void {
  const call = createRawClient(zignsecUrl);
  const target = `${shell.url}/callback`;

  const pendingOf = (req: Request) => req.session as unknown as Record<string, Pending | undefined>;

  shell.app.get('/login', async (req, res) => {
    const relaystate = randomBytes(32).toString('base64url');
    const body = JSON.stringify({ relaystate, target, targetError: target });
    const { status, json } = await call('POST', '', body);
    if (status !== 200 || (Array.isArray(json.errors) && json.errors.length > 0)) {
      throw new Error(`ZignSec start failed: HTTP ${status}`);
    }
    if (typeof json.id !== 'string' || typeof json.redirectUrl !== 'string') throw new Error('bad start response');
    const session = pendingOf(req);
    session[PENDING_KEY] = { ...session[PENDING_KEY], [relaystate]: { id: json.id, exp: Date.now() + TTL } };
    res.redirect(json.redirectUrl);
  });

  shell.app.get('/callback', async (req, res, next) => {
    const relaystate = req.query.relaystate;
    if (typeof relaystate !== 'string' || !RELAYSTATE.test(relaystate)) {
      res.status(400).json({ error: 'bad relaystate' });
      return;
    }
    const session = pendingOf(req);
    const pending = session[PENDING_KEY];
    const entry = pending && Object.hasOwn(pending, relaystate) ? pending[relaystate] : undefined;
    if (pending && entry) delete pending[relaystate];
    if (pending && Object.keys(pending).length === 0) delete session[PENDING_KEY];
    if (!entry || entry.exp < Date.now()) {
      res.redirect('/failed');
      return;
    }
    const { status, json } = await call('GET', `/${entry.id}`);
    const errors = Array.isArray(json.errors) ? json.errors : [];
    if (
      status !== 200 ||
      errors.length > 0 ||
      String(json.state).toLowerCase() !== 'finished' ||
      json.id !== entry.id
    ) {
      res.redirect('/failed');
      return;
    }
    const claims = JSON.parse(String(json.providerData)) as { sub?: string; name?: string };
    if (!claims.sub) {
      res.redirect('/failed');
      return;
    }
    const user = { id: claims.sub, displayName: claims.name };
    req.session.regenerate((err) => {
      if (err) return next(err);
      (req.session as unknown as { passport: { user: unknown } }).passport = { user };
      req.session.save((saveError) => (saveError ? next(saveError) : res.redirect('/me')));
    });
  });
}
