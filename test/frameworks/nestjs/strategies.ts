import { Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import {
  type ItsMeProfile,
  ItsMeStrategy,
  type ItsMeStrategyOptions,
  type ItsMeStrategyOptionsWithRequest,
} from '../../../lib/index.js';
import { ITSME_OPTIONS, VALIDATED } from './contract.js';

/** Who is logged in, as the session keeps it. */
export interface Person {
  id: string;
  displayName: string;
  /** The `Host` the callback came to (only with `passReqToCallback: true`). */
  host?: string;
}

const person = (profile: ItsMeProfile): Person => ({ id: profile.id, displayName: profile.displayName });

/** `validate(profile)` returns the user. */
@Injectable()
export class ItsMeAuth extends PassportStrategy(ItsMeStrategy, 'itsme') {
  constructor(
    @Inject(ITSME_OPTIONS) options: ItsMeStrategyOptions,
    @Inject(VALIDATED) private readonly seen: ItsMeProfile[],
  ) {
    super(options);
  }

  validate(profile: ItsMeProfile): Person {
    this.seen.push(profile);
    return person(profile);
  }
}

/** `async validate(profile)`: looks the person up, then resolves to the user. */
@Injectable()
export class AsyncItsMeAuth extends PassportStrategy(ItsMeStrategy, 'itsme') {
  constructor(
    @Inject(ITSME_OPTIONS) options: ItsMeStrategyOptions,
    @Inject(VALIDATED) private readonly seen: ItsMeProfile[],
  ) {
    super(options);
  }

  async validate(profile: ItsMeProfile): Promise<Person> {
    this.seen.push(profile);
    await new Promise((resolve) => setTimeout(resolve, 20));
    return { ...person(profile), displayName: `${profile.displayName} (looked up)` };
  }
}

/** `passReqToCallback: true`: `validate(req, profile)`. */
@Injectable()
export class ItsMeAuthWithRequest extends PassportStrategy(ItsMeStrategy, 'itsme') {
  constructor(
    @Inject(ITSME_OPTIONS) options: ItsMeStrategyOptionsWithRequest,
    @Inject(VALIDATED) private readonly seen: ItsMeProfile[],
  ) {
    super({ ...options, passReqToCallback: true });
  }

  async validate(req: Request, profile: ItsMeProfile): Promise<Person> {
    this.seen.push(profile);
    return { ...person(profile), host: String(req.headers.host) };
  }
}

/** `validate` refuses everyone by returning `null`. */
@Injectable()
export class RefusingItsMeAuth extends PassportStrategy(ItsMeStrategy, 'itsme') {
  constructor(
    @Inject(ITSME_OPTIONS) options: ItsMeStrategyOptions,
    @Inject(VALIDATED) private readonly seen: ItsMeProfile[],
  ) {
    super(options);
  }

  async validate(profile: ItsMeProfile): Promise<Person | null> {
    this.seen.push(profile);
    return null;
  }
}

/** `validate` refuses everyone the Nest way, by throwing. */
@Injectable()
export class ThrowingItsMeAuth extends PassportStrategy(ItsMeStrategy, 'itsme') {
  constructor(
    @Inject(ITSME_OPTIONS) options: ItsMeStrategyOptions,
    @Inject(VALIDATED) private readonly seen: ItsMeProfile[],
  ) {
    super(options);
  }

  validate(profile: ItsMeProfile): Person {
    this.seen.push(profile);
    throw new UnauthorizedException('This itsme account has no customer file here.');
  }
}

/** `validate` never answers. */
@Injectable()
export class HangingItsMeAuth extends PassportStrategy(ItsMeStrategy, 'itsme') {
  constructor(
    @Inject(ITSME_OPTIONS) options: ItsMeStrategyOptions,
    @Inject(VALIDATED) private readonly seen: ItsMeProfile[],
  ) {
    super(options);
  }

  validate(profile: ItsMeProfile): Promise<Person> {
    this.seen.push(profile);
    return new Promise(() => {});
  }
}
