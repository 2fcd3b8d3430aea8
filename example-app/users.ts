import { timingSafeEqual } from 'node:crypto';
import type { ItsMeAddress, ItsMeProfile } from '../lib/index.js';

/** What itsme verified about a person, as the app keeps it in the session. */
export interface VerifiedIdentity {
  /** The itsme `sub`: the key of the person's account. */
  sub: string;
  displayName: string;
  givenName?: string;
  familyName?: string;
  birthday?: string;
  gender?: string;
  email?: { value: string; verified: boolean };
  phone?: { value: string; verified: boolean };
  address?: ItsMeAddress;
  nationality?: string;
  placeOfBirth?: string;
  locale?: string;
  /** ISO time of the login. */
  verifiedAt: string;
}

/** The logged-in user, serialized into the session. */
export interface AppUser {
  /** `itsme:<sub>` or `local:<username>`: one account per (provider, subject). */
  id: string;
  method: 'itsme' | 'password';
  displayName: string;
  username?: string;
  itsme?: VerifiedIdentity;
}

/** The demo account of the username/password form. */
export interface DemoUser {
  username: string;
  password: string;
  displayName: string;
}

export const DEFAULT_DEMO_USER: DemoUser = { username: 'demo', password: 'demo', displayName: 'Demo User' };

/** Maps a verified itsme profile to the app's user. A real app would find or create the account here. */
export function userFromProfile(profile: ItsMeProfile, now = new Date()): AppUser {
  const identity: VerifiedIdentity = {
    sub: profile.id,
    displayName: profile.displayName,
    verifiedAt: now.toISOString(),
  };
  const optional = {
    givenName: profile.name?.givenName,
    familyName: profile.name?.familyName,
    birthday: profile.birthday,
    gender: profile.gender,
    email: profile.emails?.[0],
    phone: profile.phoneNumbers?.[0],
    address: profile.addresses?.[0],
    nationality: profile.nationality,
    placeOfBirth: profile.placeOfBirth ?? profile.cityOfBirth,
    locale: profile.locale,
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) (identity as unknown as Record<string, unknown>)[key] = value;
  }
  const displayName =
    profile.displayName ||
    [profile.name?.givenName, profile.name?.familyName].filter(Boolean).join(' ') ||
    'itsme user';
  return { id: `itsme:${profile.id}`, method: 'itsme', displayName, itsme: identity };
}

/** Checks the demo account's credentials in constant time. */
export function checkDemoUser(demo: DemoUser, username: string, password: string): AppUser | undefined {
  const ok = same(username, demo.username) && same(password, demo.password);
  return ok ? { id: `local:${demo.username}`, method: 'password', displayName: demo.displayName, username } : undefined;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
