import type * as lib from '../../lib/index.js';
import { ZIGNSEC_KEY } from '../shared.js';
import type { Shell } from './shell.js';

/** Key under which the strategy's default store keeps pending logins in the session. */
export const PENDING_KEY = 'passport-itsme';

/** passport-itsme as a user wires it: `ItsMeStrategy` from the built package, default session store. */
export function mountItsMe(shell: Shell, pkg: typeof lib, zignsecUrl: string): void {
  const strategy = new pkg.ItsMeStrategy(
    { apiKey: ZIGNSEC_KEY, baseURL: zignsecUrl, callbackURL: `${shell.url}/callback` },
    (profile, done) => done(null, { id: profile.id, displayName: profile.displayName }),
  );
  shell.passport.use(strategy);
  shell.app.get('/login', shell.passport.authenticate('itsme'));
  shell.app.get('/callback', shell.passport.authenticate('itsme', { failureRedirect: '/failed' }), (_req, res) =>
    res.redirect('/me'),
  );
}
