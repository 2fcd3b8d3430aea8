import type { ItsMeProfile, ItsMeStrategyOptions } from '../../../lib/index.js';

/**
 * What the NestJS test app offers its test. This file has no decorators, so the root tsconfig can check
 * the test that imports it; the app itself is compiled with legacy decorators (see tsconfig.json here).
 */

/** Which `validate` the app's `ItsMeAuth` strategy has. */
export type ValidateKind =
  /** `validate(profile)` returns the user. */
  | 'sync'
  /** `async validate(profile)` resolves to the user after a moment. */
  | 'async'
  /** `passReqToCallback: true`, `validate(req, profile)`. */
  | 'request'
  /** `validate` returns `null`: the person is refused. */
  | 'refuse'
  /** `validate` throws Nest's `UnauthorizedException`. */
  | 'throw'
  /** `validate` never settles. */
  | 'hang';

export interface NestAppOptions {
  zignsec: { url: string; apiKey: string };
  validate: ValidateKind;
  /** Further strategy options (`callbackURL` is the app's own). */
  strategy?: Partial<ItsMeStrategyOptions>;
  /** `keepSessionInfo` in `PassportModule.register()`, used when the guard logs the person in. */
  keepSessionInfo?: boolean;
}

export interface RunningNestApp {
  url: string;
  /** Profiles `validate` received. */
  validated: ItsMeProfile[];
  close(): Promise<void>;
}

export type StartNestApp = (options: NestAppOptions) => Promise<RunningNestApp>;

/** Injection tokens (explicit: the test run does not emit decorator metadata). */
export const ITSME_OPTIONS = 'ITSME_OPTIONS';
export const VALIDATED = 'VALIDATED';
