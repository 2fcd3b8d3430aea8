import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Request } from 'express';
import PassportStrategy from 'passport-strategy';
import { ZIGNSEC_KEY } from '../shared.js';
import type { Shell } from './shell.js';

/** Key under which the floor keeps its one pending login in the session. */
export const PENDING_KEY = 'itsme';

type Pending = [relaystate: string, id: string];

/**
 * What a login of this flow costs at the least through Passport: a passport-strategy subclass that
 * makes the same two ZignSec calls and keeps one pending login in the session, with none of the
 * package's checks (no digest, no time limits, no size cap, no answer validation, no profile, no
 * events). Not something to deploy: it measures what passport-itsme's checks cost (pair
 * `itsme/floor`, with `--floor`).
 */
export function mountFloor(shell: Shell, zignsecUrl: string): void {
  const url = new URL(zignsecUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const call = (method: 'GET' | 'POST', path: string, body?: string) =>
    new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { accept: 'application/json', authorization: ZIGNSEC_KEY };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const req = http.request(
        { hostname: url.hostname, port: url.port, path: `/v3/eid/itsme${path}`, method, agent, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            try {
              resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString()) });
            } catch (err) {
              reject(err);
            }
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const target = `${shell.url}/callback`;

  class FloorStrategy extends PassportStrategy.Strategy {
    name = 'floor';

    override authenticate(req: Request): void {
      const relaystate = req.query.relaystate;
      const session = req.session as unknown as Record<string, unknown>;
      if (relaystate === undefined) {
        const fresh = randomBytes(32).toString('base64url');
        call('POST', '', JSON.stringify({ relaystate: fresh, target, targetError: target }))
          .then(({ json }) => {
            session[PENDING_KEY] = [fresh, String(json.id)] satisfies Pending;
            this.redirect(String(json.redirectUrl));
          })
          .catch((err: Error) => this.error(err));
        return;
      }
      const pending = session[PENDING_KEY] as Pending | undefined;
      delete session[PENDING_KEY];
      if (!pending || pending[0] !== relaystate) {
        this.fail(401);
        return;
      }
      call('GET', `/${pending[1]}`)
        .then(({ json }) => {
          const claims = JSON.parse(String(json.providerData)) as { sub: string; name?: string };
          this.success({ id: claims.sub, displayName: claims.name });
        })
        .catch((err: Error) => this.error(err));
    }
  }

  shell.passport.use(new FloorStrategy());
  shell.app.get('/login', shell.passport.authenticate('floor'));
  shell.app.get('/callback', shell.passport.authenticate('floor', { failureRedirect: '/failed' }), (_req, res) =>
    res.redirect('/me'),
  );
}
