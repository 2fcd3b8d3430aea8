import type { ZignSecErrorEntry } from './errors.js';

/** Languages the itsme screens are offered in. */
export type ItsMeLanguage = 'fr' | 'nl' | 'en' | 'de';

/** The languages accepted by the `language` option. */
export const LANGUAGES: readonly ItsMeLanguage[] = ['fr', 'nl', 'en', 'de'];

/** Which ZignSec host to use: `test` is https://test.zignsec.com, `production` https://api.zignsec.com. */
export type ZignSecEnvironment = 'test' | 'production';

/** Body of `POST /v3/eid/itsme`. */
export interface StartRequest {
  /** Returned to `target`/`targetError` as the `relaystate` query parameter. */
  relaystate?: string;
  /** Where the browser is sent after a successful itsme login. */
  target?: string;
  /** Where the browser is sent on cancel or error. */
  targetError?: string;
  /** Language of the itsme screens; ZignSec ignores other values. */
  language?: ItsMeLanguage;
  /** URL ZignSec posts the result to when the session ends. */
  webhook?: string;
}

/** What `POST /v3/eid/itsme` returns once checked. */
export interface StartResponse {
  /** The ZignSec session id, to read the result with. */
  id: string;
  /** The itsme URL to send the browser (or the person's phone) to. */
  redirectUrl: string;
}

/** ZignSec's `identity` block of a result. Names there are known to be unreliable: prefer the claims. */
export interface ZignSecIdentity {
  /** ISO 3166 alpha-2 country of the person, e.g. `BE`. */
  countryCode?: string;
  /** Known to hold the whole name (`Florent Verschueren`), not the given name. */
  firstName?: string;
  /** Family name. */
  lastName?: string;
  /** Known to repeat the family name. */
  fullName?: string;
  /** Personal (national) number when ZignSec knows it; often empty. */
  personalNumber?: string;
  /** `YYYY-MM-DD`. */
  dateOfBirth?: string;
  /** Age in years on the day of the login; `null` without a birth date. */
  age?: number | null;
  /** `male` or `female`. */
  gender?: string;
  /** Phone number as itsme formats it, e.g. `+32 425009714`. */
  phone?: string;
  /** E-mail address, when the person shared one. */
  email?: string;
  /** The address on one line, e.g. `Havenlaan 2,Brussel,1000`. */
  addressInfoRaw?: string;
  /** `ItsMe`. */
  idProviderName?: string;
  /** ISO 8601 time of the identification. */
  identificationDate?: string;
  /** ZignSec's score field; `NOT_SET` for itsme. */
  idProviderAuthenticityScore?: string;
  [key: string]: unknown;
}

/** An itsme address, as in the `ParsedAddress` object or the JSON-string `address` claim. */
export interface ItsMeAddressClaim {
  /** ISO 3166 alpha-2. */
  country?: string;
  /** Street and number, e.g. `Havenlaan 2`. */
  street_address?: string;
  /** City or town. */
  locality?: string;
  /** Postal code. */
  postal_code?: string;
  /** Region or province, when sent. */
  region?: string;
  /** The whole address as one text, when sent. */
  formatted?: string;
  [key: string]: unknown;
}

/** The itsme OpenID Connect claims that ZignSec forwards in `providerData`. */
export interface ItsMeClaims {
  /** The person's stable itsme identifier (pairwise: as seen through ZignSec's itsme client). */
  sub?: string;
  /** ZignSec's itsme client id. */
  aud?: string;
  /** itsme's issuer URL. */
  iss?: string;
  /** Full name. */
  name?: string;
  /** Given name; may be missing (absent or `null`) for Belgian accounts. */
  given_name?: string | null;
  /** Family name. */
  family_name?: string;
  /** `YYYY-MM-DD`; may be missing (absent or `null`). */
  birthdate?: string | null;
  /** `male` or `female`. */
  gender?: string;
  /** The person's itsme language (`fr`, `nl`, `en`, `de`). */
  locale?: string;
  /** E-mail address, best effort: may be absent or `null`. */
  email?: string | null;
  /** Always `false` for Belgian accounts. */
  email_verified?: boolean;
  /** Phone number, e.g. `+32 425009714`. */
  phone_number?: string;
  /** Always `true` for Belgian accounts. */
  phone_number_verified?: boolean;
  /** The postal address, usually as a JSON string. */
  address?: string | ItsMeAddressClaim | null;
  /** ZignSec's parsed copy of `address`. */
  ParsedAddress?: ItsMeAddressClaim | null;
  /** Nationality, with the matching scope. */
  nationality?: string | null;
  /** Place of birth, with the matching scope. */
  place_of_birth?: string | null;
  /** City of birth, with the matching scope. */
  city_of_birth?: string | null;
  /** National register and eID card data, with the `eid` scope. */
  eid?: string | null;
  /** Base64 JPEG, with the matching scope. */
  photo?: string | null;
  /** Device information, when itsme sends it. */
  device?: unknown;
  [key: string]: unknown;
}

/** A result of `GET /v3/eid/itsme/{id}`, with `providerData` parsed (or `null` when absent or not JSON). */
export interface ItsMeResult {
  /** The ZignSec session id. */
  id: string;
  /** As ZignSec sent it (`Pending`, `Finished`, ...); compare without regard to case. */
  state: string;
  /** ZignSec's errors, normalised to `{ code, description? }`; non-empty for a cancel or an expiry. */
  errors: ZignSecErrorEntry[];
  /** ZignSec's `identity` block (its names are unreliable: prefer `providerData`). */
  identity?: ZignSecIdentity;
  /** The itsme claims, parsed from the `providerData` JSON string; `null` when absent or not a JSON object. */
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
  /**
   * The whole address as one text: itsme's own, else built in postal order (`Havenlaan 2, 1000
   * Brussel`), else ZignSec's `addressInfoRaw`.
   */
  formatted?: string;
  /** Street and number. */
  streetAddress?: string;
  /** City or town. */
  locality?: string;
  /** Postal code. */
  postalCode?: string;
  /** Region or province. */
  region?: string;
  /** ISO 3166 alpha-2. */
  country?: string;
}

/** The Passport profile built from an itsme result. */
export interface ItsMeProfile {
  /** Always `'itsme'`. */
  provider: 'itsme';
  /**
   * The itsme `sub` (stable per person). The personal number stands in only when the claims are a JSON
   * object with no `sub` key, or when ZignSec sent no `providerData` at all.
   */
  id: string;
  /** The `name` claim, else given and family name joined; `''` when nothing is known. */
  displayName: string;
  /** Given and family name from the claims (`givenName` may be missing for Belgian accounts). */
  name?: {
    /** Given name. */
    givenName?: string;
    /** Family name. */
    familyName?: string;
  };
  /** The e-mail claim with its verified flag (`false` for Belgian accounts). */
  emails?: {
    /** The e-mail address. */
    value: string;
    /** Whether itsme verified it. */
    verified: boolean;
  }[];
  /** The phone claim with its verified flag. */
  phoneNumbers?: {
    /** The phone number. */
    value: string;
    /** Whether itsme verified it. */
    verified: boolean;
  }[];
  /** The postal address. */
  addresses?: ItsMeAddress[];
  /** `YYYY-MM-DD`. */
  birthday?: string;
  /** `male` or `female`. */
  gender?: string;
  /** The person's itsme language. */
  locale?: string;
  /** ISO 3166 alpha-2, e.g. `BE`. */
  countryCode?: string;
  /** With the matching scope. */
  nationality?: string;
  /** With the matching scope. */
  placeOfBirth?: string;
  /** With the matching scope. */
  cityOfBirth?: string;
  /** The `eid` claim (national register / eID data), as sent. */
  eid?: string;
  /** The Belgian national register number, with the `eid` scope. */
  nationalRegisterNumber?: string;
  /** The Belgian eID card number, with the `eid` scope. */
  eidCardNumber?: string;
  /** Base64 JPEG. */
  photo?: string;
  /** The ZignSec session id this profile came from. */
  sessionId: string;
  /** The response text. */
  _raw: string;
  /** The result with `providerData` parsed. */
  _json: {
    /** The ZignSec session id. */
    id: string;
    /** ZignSec's state, e.g. `Finished`. */
    state: string;
    /** ZignSec's errors (empty for a profile). */
    errors: ZignSecErrorEntry[];
    /** ZignSec's `identity` block. */
    identity?: ZignSecIdentity;
    /** The parsed itsme claims. */
    providerData: ItsMeClaims | null;
  };
}
