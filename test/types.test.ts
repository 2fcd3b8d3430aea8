import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { Request } from 'express';
import nock from 'nock';
import passport from 'passport';
import {
  type ItsMeProfile,
  ItsMeStrategy,
  type ItsMeStrategyOptions,
  type RelayStateStore,
  type VerifyCallback,
  type VerifyFunction,
  type VerifyFunctionWithRequest,
} from '../lib/index.js';
import { expectKind, fakeRequest, type Outcome, runStrategy } from './support/strategy-run.js';
import { sampleResult } from './support/zignsec-stub.js';

// The `@ts-expect-error` lines below are checked by `npm run typecheck`: if a mistake they mark
// stopped being a type error, the directive itself becomes an error.

const BASE = 'https://zignsec.types.test';
const SESSION_ID = 'c0ffee00-1234-4abc-8def-0123456789ab';
const base = { apiKey: 'zs-types-key', callbackURL: 'https://bank.example/cb', baseURL: BASE, timeout: 2000 };

const withoutReq = (profile: ItsMeProfile, done: VerifyCallback) => done(null, { id: profile.id });
const withReq = (req: Request, profile: ItsMeProfile, done: VerifyCallback) =>
  done(null, { id: profile.id, ip: req.ip });

/** Runs one login back from ZignSec and returns what verify received first. */
async function firstArgument(
  strategy: ItsMeStrategy,
  seen: unknown[],
): Promise<{ req: Request; first: unknown; outcome: Outcome }> {
  const session: Record<string, unknown> = {};
  const relayState = randomBytes(32).toString('base64url');
  await strategy.store.save(fakeRequest({ session }), relayState, { sessionId: SESSION_ID, createdAt: Date.now() });
  nock(BASE).get(`/v3/eid/itsme/${SESSION_ID}`).reply(200, sampleResult(SESSION_ID));
  const req = fakeRequest({ query: { relaystate: relayState }, session });
  const outcome = await runStrategy(strategy, req);
  return { req, first: seen[0], outcome };
}

describe('types', () => {
  before(() => nock.disableNetConnect());
  afterEach(() => nock.cleanAll());
  after(() => nock.enableNetConnect());

  describe('constructor overloads', () => {
    it('should type req, profile and done with passReqToCallback: true, with no cast', async () => {
      const seen: unknown[] = [];
      const strategy = new ItsMeStrategy({ ...base, passReqToCallback: true }, (req, profile, done) => {
        seen.push(req);
        const query: unknown = req.query;
        const sub: string = profile.id;
        const provider: 'itsme' = profile.provider;
        done(null, { sub, provider, query });
      });
      const { req, first, outcome } = await firstArgument(strategy, seen);
      expectKind(outcome, 'success');
      expect(first).to.equal(req);
    });

    it('should type profile and done without passReqToCallback', async () => {
      const seen: unknown[] = [];
      const strategy = new ItsMeStrategy(base, (profile, done) => {
        seen.push(profile);
        const given: string | undefined = profile.name?.givenName;
        done(null, { id: profile.id, given });
      });
      const { first, outcome } = await firstArgument(strategy, seen);
      expectKind(outcome, 'success');
      expect((first as ItsMeProfile).provider).to.equal('itsme');
    });

    it('should refuse a (profile, done) verify when passReqToCallback is true, as it would get req', async () => {
      const seen: unknown[] = [];
      const recording = (profile: ItsMeProfile, done: VerifyCallback) => {
        seen.push(profile);
        withoutReq(profile, done);
      };
      // @ts-expect-error a verify without req does not fit passReqToCallback: true
      const strategy = new ItsMeStrategy({ ...base, passReqToCallback: true }, recording);
      const { req, first, outcome } = await firstArgument(strategy, seen);
      expect(first, 'what such a verify would receive as its "profile"').to.equal(req);
      expect(expectKind(outcome, 'error').error.message).to.match(/done is not a function/);
    });

    it('should refuse a (req, profile, done) verify without passReqToCallback: true', () => {
      // @ts-expect-error a verify that wants req needs passReqToCallback: true
      const implicit = () => new ItsMeStrategy(base, withReq);
      // @ts-expect-error a verify that wants req needs passReqToCallback: true
      const explicit = () => new ItsMeStrategy({ ...base, passReqToCallback: false }, withReq);
      expect(implicit()).to.be.instanceOf(ItsMeStrategy);
      expect(explicit()).to.be.instanceOf(ItsMeStrategy);
    });

    it('should refuse a passReqToCallback that is only known to be a boolean', () => {
      const flag = Math.random() > 2;
      // @ts-expect-error the overload must be known at compile time
      const make = () => new ItsMeStrategy({ ...base, passReqToCallback: flag }, withReq);
      expect(make()).to.be.instanceOf(ItsMeStrategy);
    });

    it("should accept a verify and a store whose req is annotated as Express's Request", async () => {
      const seen: unknown[] = [];
      const annotated = (req: Request, profile: ItsMeProfile, done: VerifyCallback) => {
        seen.push(req);
        done(null, { id: profile.id, ip: req.ip });
      };
      const typed: VerifyFunctionWithRequest<Request> = annotated;
      const store: RelayStateStore = {
        save: async (_req: Request) => undefined,
        take: async (_req: Request) => undefined,
      };
      const strategy = new ItsMeStrategy({ ...base, passReqToCallback: true }, annotated);
      expect(new ItsMeStrategy({ ...base, passReqToCallback: true, store }, typed)).to.be.instanceOf(ItsMeStrategy);
      const { req, first, outcome } = await firstArgument(strategy, seen);
      expectKind(outcome, 'success');
      expect(first).to.equal(req);
    });

    it('should accept the exported verify types and promise-returning verifies', () => {
      const plain: VerifyFunction = async (profile) => ({ id: profile.id });
      const req: VerifyFunctionWithRequest = async (_req, profile) => (profile.id ? { id: profile.id } : false);
      expect(new ItsMeStrategy(base, plain)).to.be.instanceOf(ItsMeStrategy);
      expect(new ItsMeStrategy({ ...base, passReqToCallback: true }, req)).to.be.instanceOf(ItsMeStrategy);
    });
  });

  describe('options', () => {
    it('should require apiKey and callbackURL and know the option types', () => {
      // @ts-expect-error apiKey is required
      const noKey: ItsMeStrategyOptions = { callbackURL: 'https://bank.example/cb' };
      // @ts-expect-error callbackURL is required
      const noCallback: ItsMeStrategyOptions = { apiKey: 'k' };
      // @ts-expect-error language is one of fr, nl, en, de
      const spanish: ItsMeStrategyOptions = { ...base, language: 'es' };
      // @ts-expect-error environment is test or production
      const staging: ItsMeStrategyOptions = { ...base, environment: 'staging' };
      for (const options of [noKey, noCallback, spanish, staging]) {
        expect(() => new ItsMeStrategy(options, withoutReq)).to.throw(TypeError);
      }
    });

    it("should type the language of passport.authenticate's options", () => {
      const ok = passport.authenticate('itsme', { language: 'nl', failureRedirect: '/login' });
      // @ts-expect-error language is one of fr, nl, en, de
      const wrong = passport.authenticate('itsme', { language: 'es' });
      expect(ok).to.be.a('function');
      expect(wrong).to.be.a('function');
    });
  });
});
