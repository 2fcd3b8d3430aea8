// Types the per-login options of passport.authenticate('itsme', { language, callbackURL }) for
// @types/passport. passport-itsme's own types do not augment 'passport', so that apps without
// @types/passport compile.
import type { ItsMeLanguage } from '../lib/index.js'; // in your app: from 'passport-itsme'

declare module 'passport' {
  interface AuthenticateOptions {
    /** itsme: language of the itsme screens for this login. */
    language?: ItsMeLanguage;
    /** itsme: `target` of this login, instead of the strategy's `callbackURL`. */
    callbackURL?: string;
    /** itsme: `targetError` of this login, instead of the strategy's `errorCallbackURL`. */
    errorCallbackURL?: string;
  }
}
