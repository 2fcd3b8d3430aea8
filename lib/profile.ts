import { ItsMeError } from './errors.js';
import { JSON_LIMITS, withinLimits } from './json-limits.js';
import type { ItsMeAddress, ItsMeAddressClaim, ItsMeClaims, ItsMeProfile, ItsMeResult } from './types.js';

/** Longest `sub` or personal number taken as `profile.id`. */
const MAX_ID_LENGTH = 255;
/** Longest text claim copied into the profile; longer ones are left out. */
const MAX_TEXT_LENGTH = 2048;
/** Longest `photo` claim (base64 JPEG) copied into the profile. */
const MAX_PHOTO_LENGTH = 512 * 1024;

/**
 * What ZignSec's `providerData` holds: the claims, `null` when it sent none (absent or JSON `null`),
 * `'invalid'` when it sent something that is not a JSON object, `'too-complex'` when the claims exceed
 * the nesting or size limits. @internal
 */
export function readClaims(value: unknown): ItsMeClaims | null | 'invalid' | 'too-complex' {
  if (value === undefined || value === null) return null;
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch {
      return 'invalid';
    }
  }
  if (!isObject(parsed)) return 'invalid';
  return withinLimits(parsed, JSON_LIMITS.claimsDepth, JSON_LIMITS.claimsValues)
    ? (parsed as ItsMeClaims)
    : 'too-complex';
}

/**
 * Parses ZignSec's `providerData`: a JSON string of itsme claims (or, tolerated, an object already).
 * Anything else, a string that is not a JSON object, or claims nested deeper than 16 levels or holding
 * more than 1,000 values give `null`. Never throws.
 */
export function parseClaims(value: unknown): ItsMeClaims | null {
  const claims = readClaims(value);
  return typeof claims === 'string' ? null : claims;
}

/**
 * Maps an itsme result to a Passport profile. Names, e-mail, phone and birth date come from the itsme
 * claims in `providerData`; ZignSec's `identity` block is used only when ZignSec sent no `providerData`,
 * since its name fields are known to be wrong. Text claims longer than 2,048 characters (the photo:
 * 512 KiB) are left out.
 *
 * `profile.id` is the `sub` claim. The personal number (`identity.personalNumber`) stands in for it
 * only when the claims are a JSON object with no `sub` key at all, or when ZignSec sent no
 * `providerData` at all.
 *
 * @throws {ItsMeError} `ERR_ITSME_NO_SUBJECT` when `sub` is present but not a non-empty string (of at
 *   most 255 characters), when `providerData` was sent but is not a JSON object
 *   ({@link ItsMeResult.providerDataInvalid}), or when neither `sub` nor a personal number is there.
 */
export function toProfile(result: ItsMeResult): ItsMeProfile {
  const claims = isObject(result.providerData) ? result.providerData : null;
  const identity = isObject(result.identity) ? result.identity : {};
  const fromIdentity = claims === null;
  const c: Record<string, unknown> = claims ?? {};

  let id: string | undefined;
  if (claims !== null && Object.hasOwn(claims, 'sub')) {
    id = str(claims.sub, MAX_ID_LENGTH);
    if (!id) throw noSubject('The itsme claims hold a sub that is not a non-empty string');
  } else if (claims === null && result.providerDataInvalid === true) {
    throw noSubject('ZignSec sent providerData that is not a JSON object, so the itsme subject (sub) is unknown');
  } else {
    id = str(identity.personalNumber, MAX_ID_LENGTH);
  }
  if (!id) throw noSubject('The itsme result holds no subject identifier (sub)');

  const givenName = str(c.given_name) ?? (fromIdentity ? str(identity.firstName) : undefined);
  const familyName = str(c.family_name) ?? (fromIdentity ? str(identity.lastName) : undefined);
  const joined = [givenName, familyName].filter(Boolean).join(' ');
  const displayName = str(c.name) ?? (joined || (fromIdentity ? str(identity.fullName) : undefined) || '');

  const profile: ItsMeProfile = {
    provider: 'itsme',
    id,
    displayName,
    sessionId: result.id,
    _raw: result.raw,
    _json: {
      id: result.id,
      state: result.state,
      errors: result.errors,
      ...(result.identity ? { identity: result.identity } : {}),
      providerData: claims,
    },
  };
  if (givenName || familyName) {
    profile.name = {};
    if (givenName) profile.name.givenName = givenName;
    if (familyName) profile.name.familyName = familyName;
  }

  const email = str(c.email) ?? (fromIdentity ? str(identity.email) : undefined);
  if (email) profile.emails = [{ value: email, verified: c.email_verified === true }];
  const phone = str(c.phone_number) ?? (fromIdentity ? str(identity.phone) : undefined);
  if (phone) profile.phoneNumbers = [{ value: phone, verified: c.phone_number_verified === true }];

  const address = toAddress(c, str(identity.addressInfoRaw));
  if (address) profile.addresses = [address];

  set(profile, 'birthday', str(c.birthdate) ?? (fromIdentity ? str(identity.dateOfBirth) : undefined));
  set(profile, 'gender', str(c.gender) ?? str(identity.gender));
  set(profile, 'locale', str(c.locale));
  set(profile, 'countryCode', str(identity.countryCode) ?? address?.country);
  set(profile, 'nationality', str(c.nationality));
  set(profile, 'placeOfBirth', str(c.place_of_birth));
  set(profile, 'cityOfBirth', str(c.city_of_birth));
  set(profile, 'photo', str(c.photo, MAX_PHOTO_LENGTH));
  if (claims !== null) addEid(profile, claims);
  return profile;
}

function noSubject(message: string): ItsMeError {
  return new ItsMeError('ERR_ITSME_NO_SUBJECT', message);
}

function toAddress(claims: Record<string, unknown>, raw: string | undefined): ItsMeAddress | undefined {
  const parsed = claims.ParsedAddress;
  const claim = isObject(parsed)
    ? (parsed as ItsMeAddressClaim)
    : typeof claims.address === 'string' && claims.address.length <= MAX_TEXT_LENGTH
      ? parseObject(claims.address)
      : claims.address;
  const out: ItsMeAddress = {};
  if (isObject(claim)) {
    const a = claim as ItsMeAddressClaim;
    set(out, 'streetAddress', str(a.street_address));
    set(out, 'locality', str(a.locality));
    set(out, 'postalCode', str(a.postal_code));
    set(out, 'region', str(a.region));
    set(out, 'country', str(a.country));
    set(out, 'formatted', str(a.formatted));
  }
  // itsme's own text, else one in postal order ("Havenlaan 2, 1000 Brussel"), else ZignSec's raw
  // one ("Havenlaan 2,Brussel,1000"): the claims beat the identity block here too.
  if (!out.formatted && (out.streetAddress || out.locality)) {
    out.formatted = [out.streetAddress, [out.postalCode, out.locality].filter(Boolean).join(' ')]
      .filter(Boolean)
      .join(', ');
  }
  if (!out.formatted && raw) out.formatted = raw;
  return Object.keys(out).length > 0 ? out : undefined;
}

function addEid(profile: ItsMeProfile, claims: Record<string, unknown>): void {
  const eid = claims.eid;
  if (typeof eid === 'string') set(profile, 'eid', str(eid));
  const nested = isObject(eid) ? (eid as Record<string, unknown>) : {};
  const suffix = (name: string): string | undefined => {
    for (const key in claims) if (key.endsWith(name) && Object.hasOwn(claims, key)) return str(claims[key]);
    return undefined;
  };
  set(
    profile,
    'nationalRegisterNumber',
    str(nested.national_number) ??
      str(nested.nationalNumber) ??
      str(claims.national_number) ??
      suffix('BENationalNumber'),
  );
  set(
    profile,
    'eidCardNumber',
    str(nested.eid) ?? str(nested.card_number) ?? str(claims.eid_card_number) ?? suffix('BEeidSn'),
  );
}

function set<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

/** A trimmed, non-empty string of at most `max` characters, else `undefined`. */
function str(value: unknown, max = MAX_TEXT_LENGTH): string | undefined {
  if (typeof value !== 'string' || value.length > max) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : null;
  } catch {
    return null;
  }
}
