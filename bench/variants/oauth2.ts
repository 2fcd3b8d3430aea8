import http from 'node:http';
import OAuth2Strategy, { type VerifyCallback } from 'passport-oauth2';
import { OAUTH_CLIENT } from '../shared.js';
import type { Shell } from './shell.js';

/** Key under which passport-oauth2's session state store keeps the pending `state`. */
export const PENDING_KEY = 'oauth2:127.0.0.1';

interface Claims {
  sub: string;
  name?: string;
  given_name?: string;
  family_name?: string;
  email?: string;
}

/**
 * The usual shape of a passport-oauth2 provider strategy (as passport-google-oauth20 and others are
 * written): the token POST is passport-oauth2's own, `userProfile` GETs the userinfo endpoint.
 */
class UserinfoStrategy extends OAuth2Strategy {
  userinfoURL = '';

  override userProfile(accessToken: string, done: (err?: unknown, profile?: unknown) => void): void {
    this._oauth2.get(this.userinfoURL, accessToken, (err, body) => {
      if (err) {
        done(new OAuth2Strategy.InternalOAuthError('Failed to fetch user profile', err));
        return;
      }
      try {
        const json = JSON.parse(String(body)) as Claims;
        done(null, {
          provider: 'oauth2',
          id: json.sub,
          displayName: json.name,
          name: { givenName: json.given_name, familyName: json.family_name },
          emails: json.email ? [{ value: json.email }] : [],
          _raw: body,
          _json: json,
        });
      } catch (parseError) {
        done(parseError);
      }
    });
  }
}

/** passport-oauth2 with `state: true` (kept in the session), a keep-alive agent for its calls. */
export function mountOAuth2(shell: Shell, oauthUrl: string, providerUrl: string): void {
  const strategy = new UserinfoStrategy(
    {
      authorizationURL: `${providerUrl}/oauth/authorize`,
      tokenURL: `${oauthUrl}/token`,
      clientID: OAUTH_CLIENT.id,
      clientSecret: OAUTH_CLIENT.secret,
      callbackURL: `${shell.url}/callback`,
      state: true,
    },
    (
      _accessToken: string,
      _refreshToken: string,
      profile: { id: string; displayName?: string },
      done: VerifyCallback,
    ) => done(null, { id: profile.id, displayName: profile.displayName }),
  );
  strategy.userinfoURL = `${oauthUrl}/userinfo`;
  const oauth2 = (strategy as unknown as { _oauth2: import('oauth').OAuth2 })._oauth2;
  oauth2.useAuthorizationHeaderforGET(true);
  oauth2.setAgent(new http.Agent({ keepAlive: true, maxSockets: 256 }));
  shell.passport.use('oauth2', strategy);
  shell.app.get('/login', shell.passport.authenticate('oauth2'));
  shell.app.get('/callback', shell.passport.authenticate('oauth2', { failureRedirect: '/failed' }), (_req, res) =>
    res.redirect('/me'),
  );
}
