import { ItsMeError } from './errors.js';
import type { ItsMeRequest } from './passport-base.js';
import type { VerifyCallback, VerifyFunction, VerifyFunctionWithRequest, VerifyResult } from './strategy-options.js';
import type { ItsMeProfile } from './types.js';

/**
 * Calls the app's `verify` in whichever shape it has (`done`, a promise, or both, as NestJS's wrapper
 * does) and settles once: with the user and info, with verify's error, or with
 * `ERR_ITSME_VERIFY_TIMEOUT` when it neither called `done` nor settled its promise within `limit` ms.
 * @internal
 */
export function callVerify(
  verify: VerifyFunction | VerifyFunctionWithRequest,
  passReqToCallback: boolean,
  limit: number,
  req: ItsMeRequest,
  profile: ItsMeProfile,
): Promise<{ user: VerifyResult; info?: object }> {
  return new Promise((resolve, reject) => {
    let settled = false;

    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      reject(
        new ItsMeError(
          'ERR_ITSME_VERIFY_TIMEOUT',
          `verify did not answer within ${limit} ms (verifyTimeout): it neither called done nor returned a promise of the user. ` +
            'An async verify that declares a done parameter and resolves to nothing must call done.',
        ),
      );
    }, limit);
    const done: VerifyCallback = (err, user, info) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(info === undefined ? { user } : { user, info });
    };
    let returned: unknown;
    try {
      returned = passReqToCallback
        ? (verify as VerifyFunctionWithRequest)(req, profile, done)
        : (verify as VerifyFunction)(profile, done);
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (returned && typeof (returned as PromiseLike<unknown>).then === 'function') {
      // An async verify that takes `done` and resolves to nothing may still call `done` later.
      const takesDone = verify.length > (passReqToCallback ? 2 : 1);
      (returned as PromiseLike<VerifyResult>).then(
        (user) => {
          if (user !== undefined || !takesDone) done(null, user);
        },
        (err: unknown) => done(err instanceof Error ? err : new Error(String(err ?? 'verify rejected'))),
      );
    }
  });
}
