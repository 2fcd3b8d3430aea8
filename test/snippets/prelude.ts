// Shared prelude of the Markdown snippets (see test/support/snippets.ts): what every document's code
// may use without defining it, the same signatures everywhere. A block that declares one of these
// names itself uses its own.
import type { ItsMeProfile } from 'passport-itsme';

/** The app's own user record. */
export interface User {
  id: string;
  displayName: string;
}

/** The app's account lookup: finds the account keyed on (profile.provider, profile.id) or creates it. */
export declare function findOrCreateUser(profile: ItsMeProfile): Promise<User>;
