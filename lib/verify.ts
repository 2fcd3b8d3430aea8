import { ItsMeError } from './errors.js';
import type { ItsMeRequest } from './passport-base.js';
import type { VerifyCallback, VerifyFunction, VerifyFunctionWithRequest, VerifyResult } from './strategy-options.js';
import type { ItsMeProfile } from './types.js';

/** What `verify` answered. @internal */
export interface Verified {
  user: VerifyResult;
  info?: object;
}

/**
 * Calls the app's `verify` in whichever shape it has (`done`, a promise, or both, as NestJS's wrapper
 * does) and settles once: with the user and info, with verify's error, or with
 * `ERR_ITSME_VERIFY_TIMEOUT` when it neither called `done` nor settled its promise within `limit` ms.
 * A verify that calls `done` before it returns gets its answer back at once (or its error thrown),
 * with no promise and no timer.
 * @internal
 */
export function callVerify(
  verify: VerifyFunction | VerifyFunctionWithRequest,
  passReqToCallback: boolean,
  limit: number,
  req: ItsMeRequest,
  profile: ItsMeProfile,
): Verified | Promise<Verified> {
  let settled = false;
  let early: { error: Error | undefined; value: Verified | undefined } | undefined;
  let later: { resolve: (value: Verified) => void; reject: (err: unknown) => void } | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done: VerifyCallback = (err, user, info) => {
    if (settled) return;
    settled = true;
    if (timer !== undefined) clearTimeout(timer);
    const value: Verified | undefined = err ? undefined : info === undefined ? { user } : { user, info };
    if (later === undefined) early = { error: err ? (err as Error) : undefined, value };
    else if (err) later.reject(err);
    else later.resolve(value as Verified);
  };
  let returned: unknown;
  try {
    returned = passReqToCallback
      ? (verify as VerifyFunctionWithRequest)(req, profile, done)
      : (verify as VerifyFunction)(profile, done);
  } catch (err) {
    done(err instanceof Error ? err : new Error(String(err)));
  }
  try {
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
  } catch (err) {
    // A `then` that throws (a proxy, an ORM object): an answer already given by `done` stands.
    done(err instanceof Error ? err : new Error(String(err)));
  }
  if (early !== undefined) {
    if (early.error !== undefined) throw early.error;
    return early.value as Verified;
  }
  return new Promise<Verified>((resolve, reject) => {
    later = { resolve, reject };
    timer = setTimeout(() => {
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
  });
}
