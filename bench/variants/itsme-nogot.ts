import type * as lib from '../../lib/index.js';
import type { ItsMeResult } from '../../lib/index.js';
import { ZIGNSEC_KEY } from '../shared.js';
import { createRawClient } from './raw-client.js';
import type { Shell } from './shell.js';

/**
 * Diagnostic only (`--diagnose`): passport-itsme exactly as in {@link mountItsMe}, except that the
 * strategy's ZignSec client is swapped for the baseline's node:http calls (same checks on the
 * answers). The gap between this and passport-itsme is what the got-based client costs.
 */
export function mountItsMeNoGot(shell: Shell, pkg: typeof lib, zignsecUrl: string): void {
  const strategy = new pkg.ItsMeStrategy(
    { apiKey: ZIGNSEC_KEY, baseURL: zignsecUrl, callbackURL: `${shell.url}/callback` },
    (profile, done) => done(null, { id: profile.id, displayName: profile.displayName }),
  );
  const call = createRawClient(zignsecUrl);
  const client = {
    async start(request: Record<string, unknown>) {
      const { status, json } = await call('POST', '', JSON.stringify(request));
      if (status !== 200 || typeof json.id !== 'string' || typeof json.redirectUrl !== 'string') {
        throw new Error(`start failed: HTTP ${status}`);
      }
      return { id: json.id, redirectUrl: json.redirectUrl };
    },
    async waitForResult(id: string): Promise<ItsMeResult> {
      const { status, json } = await call('GET', `/${id}`);
      if (status !== 200 || json.id !== id) throw new Error(`result failed: HTTP ${status}`);
      return {
        id,
        state: String(json.state),
        errors: [],
        providerData: pkg.parseClaims(json.providerData),
        raw: '',
        ...(json.identity ? { identity: json.identity as ItsMeResult['identity'] } : {}),
      };
    },
  };
  Object.defineProperty(strategy, 'client', { value: client });
  shell.passport.use(strategy);
  shell.app.get('/login', shell.passport.authenticate('itsme'));
  shell.app.get('/callback', shell.passport.authenticate('itsme', { failureRedirect: '/failed' }), (_req, res) =>
    res.redirect('/me'),
  );
}
