import type { ItsMeLanguage } from '../types.js';

/** A postal address of a test person, as itsme sends it. */
export interface PersonaAddress {
  /** Street and number, e.g. `Meir 12`. */
  street_address: string;
  /** City or town. */
  locality: string;
  /** Postal code. */
  postal_code: string;
  /** ISO 3166 alpha-2. Default `BE`. */
  country?: string;
}

/**
 * A test person the simulator's itsme screen offers. The simulator turns it into the exact result
 * ZignSec returns: itsme claims in the `providerData` JSON string and ZignSec's `identity` block, with
 * the quirks of the real service.
 */
export interface SimulatorPersona {
  /** Short key used in forms and by `approve(id, personaId)`, e.g. `'anneleen'`. */
  id: string;
  /** The itsme subject identifier: stable for the person. */
  sub: string;
  /** Absent for people itsme returns without a given name. */
  givenName?: string;
  /** The `family_name` claim. */
  familyName: string;
  /** The `name` claim. Default: given and family name joined. */
  name?: string;
  /** `YYYY-MM-DD`; absent when itsme does not return it. */
  birthdate?: string;
  /** The `gender` claim. */
  gender: 'male' | 'female';
  /** The person's itsme language, sent as the `locale` claim. */
  locale: ItsMeLanguage;
  /** Absent for people who did not share an e-mail address. */
  email?: string;
  /** As itsme formats it, e.g. `+32 470123456`. Always verified. */
  phone: string;
  /** Sent as the `address` claim (a JSON string) and as `ParsedAddress`. */
  address: PersonaAddress;
  /** The `nationality` claim, when set. */
  nationality?: string;
  /** The `city_of_birth` claim, when set. */
  cityOfBirth?: string;
  /** Any further claims, merged into `providerData` as given. */
  extraClaims?: Record<string, unknown>;
}

/** The built-in Belgian test persons. The first one is the person of ZignSec's documented sample. */
export const DEFAULT_PERSONAS: readonly SimulatorPersona[] = Object.freeze([
  {
    id: 'florent',
    sub: '1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9',
    givenName: 'Florent',
    familyName: 'Verschueren',
    birthdate: '1980-01-02',
    gender: 'male',
    locale: 'fr',
    email: 'florent.verschueren@example.be',
    phone: '+32 425009714',
    address: { street_address: 'Havenlaan 2', locality: 'Brussel', postal_code: '1000' },
  },
  {
    id: 'anneleen',
    sub: 'q7vz3k1mwr0hx5sd9ya2cpl4ntbe8gju6fio',
    givenName: 'Anneleen',
    familyName: 'Peeters',
    birthdate: '1992-07-14',
    gender: 'female',
    locale: 'nl',
    email: 'anneleen.peeters@example.be',
    phone: '+32 470123456',
    address: { street_address: 'Meir 12', locality: 'Antwerpen', postal_code: '2000' },
  },
  {
    id: 'helene',
    sub: 'z2m8xq5rk0vb3nwd7cjt1hsy9glp4fae6uoi',
    givenName: 'Hélène',
    familyName: 'Dubois-Lefèvre',
    birthdate: '1957-11-23',
    gender: 'female',
    locale: 'fr',
    phone: '+32 485765432',
    address: { street_address: 'Rue Léopold 3', locality: 'Liège', postal_code: '4000' },
    nationality: 'BE',
    cityOfBirth: 'Namur',
  },
  {
    id: 'vandenbossche',
    sub: 'c5t0ya8hw2ke7mqz4nrb1xs9vjd3lgp6foiu',
    familyName: 'Van den Bossche',
    name: 'Van den Bossche',
    birthdate: '2003-03-09',
    gender: 'male',
    locale: 'nl',
    email: 'vandenbossche@example.be',
    phone: '+32 491246810',
    address: { street_address: 'Korenmarkt 1 bus 4', locality: 'Gent', postal_code: '9000' },
  },
  {
    id: 'juergen',
    sub: 'k9r4wb7ze1mq0xh6tc3vy8ps2ljn5dgaf0ou',
    givenName: 'Jürgen',
    familyName: 'Schmitz',
    birthdate: '1975-05-30',
    gender: 'male',
    locale: 'de',
    email: 'juergen.schmitz@example.be',
    phone: '+32 87123456',
    address: { street_address: 'Klosterstraße 4', locality: 'Eupen', postal_code: '4700' },
    nationality: 'BE',
    cityOfBirth: 'Eupen',
  },
] satisfies SimulatorPersona[]);

/** The `name` claim of a persona. @internal */
export function personaName(p: SimulatorPersona): string {
  return p.name ?? [p.givenName, p.familyName].filter(Boolean).join(' ');
}

/** Checks user-given personas; throws a `TypeError` naming the problem. @internal */
export function checkPersonas(personas: unknown): readonly SimulatorPersona[] {
  if (!Array.isArray(personas) || personas.length === 0) {
    throw new TypeError('startSimulator personas option must be a non-empty array');
  }
  const ids = new Set<string>();
  for (const p of personas as Partial<SimulatorPersona>[]) {
    for (const key of ['id', 'sub', 'familyName', 'phone'] as const) {
      if (typeof p?.[key] !== 'string' || p[key] === '') {
        throw new TypeError(`startSimulator persona ${JSON.stringify(p?.id)} needs a ${key}`);
      }
    }
    if (!p.address || typeof p.address !== 'object') {
      throw new TypeError(`startSimulator persona ${JSON.stringify(p.id)} needs an address`);
    }
    if (ids.has(p.id as string)) throw new TypeError(`startSimulator persona id ${JSON.stringify(p.id)} is repeated`);
    ids.add(p.id as string);
  }
  return Object.freeze([...(personas as SimulatorPersona[])]);
}

/** What a finished result may leave out, for tests of the relying party. */
export interface ResultVariant {
  /** Leave `sub` out of the claims (and `personalNumber` empty, as usual). */
  withoutSub?: boolean;
}

/**
 * The body of `GET /v3/eid/itsme/{id}` for a person who approved, in the exact shape ZignSec
 * documents: `providerData` is a JSON string, its `address` claim another JSON string, plus a parsed
 * `ParsedAddress`; the `identity` block repeats ZignSec's quirks (`firstName` holds the whole name,
 * `fullName` repeats the family name, `personalNumber` is empty).
 * @internal
 */
export function finishedResult(
  id: string,
  p: SimulatorPersona,
  at: number,
  variant: ResultVariant = {},
): Record<string, unknown> {
  const name = personaName(p);
  const address = { country: p.address.country ?? 'BE', ...p.address };
  const parsedAddress = {
    country: address.country,
    street_address: address.street_address,
    locality: address.locality,
    postal_code: address.postal_code,
  };
  const claims: Record<string, unknown> = {
    sub: p.sub,
    aud: 'Nqs0C2dKKA',
    eid: null,
    birthdate: p.birthdate ?? null,
    city_of_birth: p.cityOfBirth ?? null,
    gender: p.gender,
    name,
    iss: 'https://e2emerchant.itsme.be/oidc',
    phone_number: p.phone,
    phone_number_verified: true,
    given_name: p.givenName ?? null,
    family_name: p.familyName,
    locale: p.locale,
    email: p.email ?? null,
    email_verified: false,
    address: JSON.stringify(parsedAddress),
    ParsedAddress: parsedAddress,
    nationality: p.nationality ?? null,
    photo: null,
    device: null,
    ...p.extraClaims,
  };
  if (variant.withoutSub) delete claims.sub;
  return {
    id,
    state: 'Finished',
    errors: [],
    identity: {
      countryCode: address.country,
      firstName: name,
      lastName: p.familyName,
      fullName: `${name} ${p.familyName}`,
      personalNumber: '',
      dateOfBirth: p.birthdate ?? '',
      age: p.birthdate ? ageAt(p.birthdate, at) : null,
      gender: p.gender,
      phone: p.phone,
      email: p.email ?? '',
      addressInfoRaw: `${address.street_address},${address.locality},${address.postal_code}`,
      idProviderName: 'ItsMe',
      identificationDate: new Date(at).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z'),
      idProviderAuthenticityScore: 'NOT_SET',
    },
    providerData: JSON.stringify(claims),
  };
}

/** The body for a session that ended without an identity (cancel, expiry). @internal */
export function failedResult(id: string, code: string, description: string): Record<string, unknown> {
  return { id, state: 'Finished', errors: [{ code, description }], identity: null, providerData: null };
}

/** The body while the person has not finished. @internal */
export function pendingResult(id: string): Record<string, unknown> {
  return { id, state: 'Pending', errors: [], identity: null, providerData: null };
}

function ageAt(birthdate: string, at: number): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birthdate);
  if (!match) return null;
  const now = new Date(at);
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const beforeBirthday = now.getUTCMonth() + 1 < m || (now.getUTCMonth() + 1 === m && now.getUTCDate() < d);
  return now.getUTCFullYear() - y - (beforeBirthday ? 1 : 0);
}
