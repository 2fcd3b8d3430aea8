import type { ZignSecErrorEntry } from './errors.js';

/** Languages the itsme screens are offered in. */
export type ItsMeLanguage = 'fr' | 'nl' | 'en' | 'de';

/** The languages accepted by the `language` option. */
export const LANGUAGES: readonly ItsMeLanguage[] = ['fr', 'nl', 'en', 'de'];

/** Which ZignSec host to use: `test` is https://test.zignsec.com, `production` https://api.zignsec.com. */
export type ZignSecEnvironment = 'test' | 'production';

/** Body of `POST /v3/eid/itsme`. */
export interface StartRequest {
  relaystate?: string;
  target?: string;
  targetError?: string;
  language?: ItsMeLanguage;
  webhook?: string;
}

/** What `POST /v3/eid/itsme` returns once checked. */
export interface StartResponse {
  id: string;
  redirectUrl: string;
}

/** ZignSec's `identity` block of a result. Names there are known to be unreliable: prefer the claims. */
export interface ZignSecIdentity {
  countryCode?: string;
  firstName?: string;
  lastName?: string;
  fullName?: string;
  personalNumber?: string;
  dateOfBirth?: string;
  age?: number;
  gender?: string;
  phone?: string;
  email?: string;
  addressInfoRaw?: string;
  idProviderName?: string;
  identificationDate?: string;
  idProviderAuthenticityScore?: string;
  [key: string]: unknown;
}

/** An itsme address, as in the `ParsedAddress` object or the JSON-string `address` claim. */
export interface ItsMeAddressClaim {
  country?: string;
  street_address?: string;
  locality?: string;
  postal_code?: string;
  region?: string;
  formatted?: string;
  [key: string]: unknown;
}

/** The itsme OpenID Connect claims that ZignSec forwards in `providerData`. */
export interface ItsMeClaims {
  sub?: string;
  aud?: string;
  iss?: string;
  name?: string;
  given_name?: string;
  family_name?: string;
  birthdate?: string;
  gender?: string;
  locale?: string;
  email?: string;
  email_verified?: boolean;
  phone_number?: string;
  phone_number_verified?: boolean;
  address?: string | ItsMeAddressClaim | null;
  ParsedAddress?: ItsMeAddressClaim | null;
  nationality?: string | null;
  place_of_birth?: string | null;
  city_of_birth?: string | null;
  eid?: string | null;
  photo?: string | null;
  device?: unknown;
  [key: string]: unknown;
}

/** A result of `GET /v3/eid/itsme/{id}`, with `providerData` parsed (or `null` when absent or not JSON). */
export interface ItsMeResult {
  id: string;
  /** As ZignSec sent it (`Pending`, `Finished`, ...); compare without regard to case. */
  state: string;
  errors: ZignSecErrorEntry[];
  identity?: ZignSecIdentity;
  providerData: ItsMeClaims | null;
  /**
   * `true` when ZignSec sent a `providerData` that is not a JSON object (not JSON, an array, a number):
   * `providerData` is then `null` and `toProfile` refuses the result with `ERR_ITSME_NO_SUBJECT`
   * rather than take the personal number as the id.
   */
  providerDataInvalid?: boolean;
  /** The response body exactly as received. */
  raw: string;
}

/** A postal address in the profile. */
export interface ItsMeAddress {
  formatted?: string;
  streetAddress?: string;
  locality?: string;
  postalCode?: string;
  region?: string;
  country?: string;
}

/** The Passport profile built from an itsme result. */
export interface ItsMeProfile {
  provider: 'itsme';
  /**
   * The itsme `sub` (stable per person). The personal number stands in only when the claims are a JSON
   * object with no `sub` key, or when ZignSec sent no `providerData` at all.
   */
  id: string;
  displayName: string;
  name?: { givenName?: string; familyName?: string };
  emails?: { value: string; verified: boolean }[];
  phoneNumbers?: { value: string; verified: boolean }[];
  addresses?: ItsMeAddress[];
  /** `YYYY-MM-DD`. */
  birthday?: string;
  gender?: string;
  locale?: string;
  /** ISO 3166 alpha-2, e.g. `BE`. */
  countryCode?: string;
  nationality?: string;
  placeOfBirth?: string;
  cityOfBirth?: string;
  /** The `eid` claim (national register / eID data), as sent. */
  eid?: string;
  nationalRegisterNumber?: string;
  eidCardNumber?: string;
  /** Base64 JPEG. */
  photo?: string;
  /** The ZignSec session id this profile came from. */
  sessionId: string;
  /** The response text. */
  _raw: string;
  /** The result with `providerData` parsed. */
  _json: {
    id: string;
    state: string;
    errors: ZignSecErrorEntry[];
    identity?: ZignSecIdentity;
    providerData: ItsMeClaims | null;
  };
}
