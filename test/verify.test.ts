import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { Request } from 'express';
import nock from 'nock';
import {
  ItsMeError,
  type ItsMeProfile,
  ItsMeStrategy,
  type VerifyCallback,
  type VerifyFunction,
  type VerifyFunctionWithRequest,
} from '../lib/index.js';
import { expectKind, fakeRequest, type Outcome, runStrategy } from './support/strategy-run.js';
import { sampleResult } from './support/zignsec-stub.js';

const KEY = 'zs-verify-key-a41c0b7d';
const BASE = 'https://zignsec.verify.test';
const SESSION_ID = '5f0c2a9e-1b7d-4c3e-9a8f-0d6e4b2c1a90';
const SUB = '1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9';
const REFUSED = { code: 'verify-refused', language: 'en', message: 'Login refused.' };
const common = { apiKey: KEY, callbackURL: 'https://bank.example/cb', baseURL: BASE, timeout: 2000 };

/** Runs one complete way back (a pending login in the session, ZignSec answering the sample). */
async function complete(strategy: ItsMeStrategy): Promise<{ outcome: Outcome; req: Request }> {
  const session: Record<string, unknown> = {};
  const relayState = randomBytes(32).toString('base64url');
  await strategy.store.save(fakeRequest({ session }), relayState, { sessionId: SESSION_ID, createdAt: Date.now() });
  nock(BASE).get(`/v3/eid/itsme/${SESSION_ID}`).reply(200, sampleResult(SESSION_ID));
  const req = fakeRequest({ query: { relaystate: relayState }, session });
  return { outcome: await runStrategy(strategy, req), req };
}

function withVerify(verify: VerifyFunction): ItsMeStrategy {
  return new ItsMeStrategy(common, verify);
}

describe('verify', () => {
  before(() => nock.disableNetConnect());
  afterEach(() => nock.cleanAll());
  after(() => nock.enableNetConnect());

  describe('callback form', () => {
    it('should log in the user given to done(null, user), with the profile passed in', async () => {
      const seen: ItsMeProfile[] = [];
      const { outcome } = await complete(
        withVerify((profile, done) => {
          seen.push(profile);
          done(null, { id: 42 });
        }),
      );
      const success = expectKind(outcome, 'success');
      expect(success.user).to.deep.equal({ id: 42 });
      expect(success.info).to.equal(undefined);
      expect(seen).to.have.length(1);
      expect(seen[0]?.id).to.equal(SUB);
    });

    it('should hand the info of done(null, user, info) to Passport', async () => {
      const { outcome } = await complete(withVerify((_p, done) => done(null, { id: 1 }, { message: 'Welcome back' })));
      expect(expectKind(outcome, 'success').info).to.deep.equal({ message: 'Welcome back' });
    });

    it('should fail with the info of done(null, false, info)', async () => {
      const { outcome } = await complete(withVerify((_p, done) => done(null, false, { message: 'No account yet' })));
      const fail = expectKind(outcome, 'fail');
      expect(fail.challenge).to.deep.equal({ code: 'verify-refused', language: 'en', message: 'No account yet' });
      expect(fail.status).to.equal(401);
    });

    it('should fail with a default message for done(null, false)', async () => {
      const { outcome } = await complete(withVerify((_p, done) => done(null, false)));
      expect(expectKind(outcome, 'fail').challenge).to.deep.equal(REFUSED);
    });

    it('should error with the very error given to done(err)', async () => {
      const boom = new Error('database down');
      const { outcome } = await complete(withVerify((_p, done) => done(boom)));
      expect(expectKind(outcome, 'error').error).to.equal(boom);
    });

    it('should error when verify throws', async () => {
      const boom = new Error('bug in verify');
      const { outcome } = await complete(
        withVerify(() => {
          throw boom;
        }),
      );
      expect(expectKind(outcome, 'error').error).to.equal(boom);
    });

    it('should act once when done is called twice', async () => {
      const outcomes: string[] = [];
      const strategy = withVerify((_p, done) => {
        done(null, { id: 1 });
        done(null, false);
      });
      const session: Record<string, unknown> = {};
      const relayState = randomBytes(32).toString('base64url');
      await strategy.store.save(fakeRequest({ session }), relayState, { sessionId: SESSION_ID, createdAt: Date.now() });
      nock(BASE).get(`/v3/eid/itsme/${SESSION_ID}`).reply(200, sampleResult(SESSION_ID));
      await new Promise<void>((resolve) => {
        const actions = Object.create(strategy) as ItsMeStrategy & Record<string, unknown>;
        const record = (kind: string) => () => {
          outcomes.push(kind);
          resolve();
        };
        actions.success = record('success');
        actions.fail = record('fail');
        actions.error = record('error');
        actions.authenticate(fakeRequest({ query: { relaystate: relayState }, session }));
      });
      for (let i = 0; i < 5; i += 1) await new Promise((resolve) => setImmediate(resolve));
      expect(outcomes).to.deep.equal(['success']);
    });
  });

  describe('promise form', () => {
    it('should log in the user a promise resolves to', async () => {
      const { outcome } = await complete(withVerify(async (profile) => ({ id: profile.id })));
      expect(expectKind(outcome, 'success').user).to.deep.equal({ id: SUB });
    });

    for (const value of [false, null, undefined]) {
      it(`should fail when the promise resolves to ${String(value)}`, async () => {
        const { outcome } = await complete(withVerify(async () => value));
        const fail = expectKind(outcome, 'fail');
        expect(fail.status).to.equal(401);
        expect(fail.challenge).to.deep.equal(REFUSED);
      });
    }

    it('should error with the rejection of the promise', async () => {
      const boom = new Error('lookup failed');
      const { outcome } = await complete(withVerify(() => Promise.reject(boom)));
      expect(expectKind(outcome, 'error').error).to.equal(boom);
    });

    it('should error with an Error when the promise rejects with something else', async () => {
      const { outcome } = await complete(withVerify(() => Promise.reject('no')));
      const error = expectKind(outcome, 'error').error;
      expect(error).to.be.instanceOf(Error);
      expect(error.message).to.equal('no');
    });

    it('should honour done when an async verify calls it before resolving', async () => {
      const { outcome } = await complete(
        withVerify(async (_p, done) => {
          await Promise.resolve();
          done(null, { id: 'from-done' });
        }),
      );
      expect(expectKind(outcome, 'success').user).to.deep.equal({ id: 'from-done' });
    });

    it('should wait for done when an async verify that takes done resolves to nothing first', async () => {
      const { outcome } = await complete(
        withVerify(async (profile, done) => {
          setTimeout(() => done(null, { id: `late-${profile.id}` }), 10);
        }),
      );
      expect(expectKind(outcome, 'success').user).to.deep.equal({ id: `late-${SUB}` });
    });

    it('should wait for a late done(null, false) the same way, and fail', async () => {
      const { outcome } = await complete(
        withVerify(async (_profile, done) => {
          setTimeout(() => done(null, false, { message: 'No account for this person.' }), 10);
        }),
      );
      expect(expectKind(outcome, 'fail').challenge).to.deep.include({
        code: 'verify-refused',
        message: 'No account for this person.',
      });
    });
  });

  describe('time limit (verifyTimeout)', () => {
    const limited = (verify: VerifyFunction, verifyTimeout = 150) =>
      new ItsMeStrategy({ ...common, verifyTimeout }, verify);

    it('should wait 30 s by default', () => {
      expect(withVerify(() => {}).verifyTimeout).to.equal(30_000);
    });

    it('should end an async verify that declares done, resolves to nothing and never calls done with an error saying so', async () => {
      const { outcome } = await complete(limited(async (_profile, _done) => {}));
      const error = expectKind(outcome, 'error').error as ItsMeError;
      expect(error).to.be.instanceOf(ItsMeError);
      expect(error.code).to.equal('ERR_ITSME_VERIFY_TIMEOUT');
      expect(error.message).to.match(/verify did not answer within 150 ms \(verifyTimeout\)/);
      expect(error.message).to.match(/must call done/);
    });

    it('should end a callback verify that never calls done the same way', async () => {
      const { outcome } = await complete(limited(() => {}));
      expect((expectKind(outcome, 'error').error as ItsMeError).code).to.equal('ERR_ITSME_VERIFY_TIMEOUT');
    });

    it('should end a promise that never settles the same way', async () => {
      const { outcome } = await complete(limited(() => new Promise(() => {})));
      expect((expectKind(outcome, 'error').error as ItsMeError).code).to.equal('ERR_ITSME_VERIFY_TIMEOUT');
    });

    it('should act once when done comes after the time limit', async () => {
      let lateDone!: () => void;
      const answered = new Promise<void>((resolve) => {
        lateDone = resolve;
      });
      const strategy = limited((_p, done) => {
        setTimeout(() => {
          done(null, { id: 'too-late' });
          lateDone();
        }, 250);
      });
      const session: Record<string, unknown> = {};
      const relayState = randomBytes(32).toString('base64url');
      await strategy.store.save(fakeRequest({ session }), relayState, { sessionId: SESSION_ID, createdAt: Date.now() });
      nock(BASE).get(`/v3/eid/itsme/${SESSION_ID}`).reply(200, sampleResult(SESSION_ID));
      // Every Passport action the strategy takes, not only the first one.
      const actions: string[] = [];
      const run = Object.create(strategy) as ItsMeStrategy & Record<string, unknown>;
      for (const action of ['success', 'fail', 'error', 'redirect', 'pass']) run[action] = () => actions.push(action);
      run.authenticate(fakeRequest({ query: { relaystate: relayState }, session }));
      await answered; // the late done has been called (after the 150 ms limit)
      await new Promise((resolve) => setImmediate(resolve));
      expect(actions).to.deep.equal(['error']);
    });

    /** Runs `verify` under a `verifyTimeout` of 54321 ms, watching the timers armed with that delay. */
    async function watchTimers(verify: VerifyFunction): Promise<{ armed: unknown[]; cleared: unknown[] }> {
      const armed: unknown[] = [];
      const cleared: unknown[] = [];
      const { setTimeout: realSet, clearTimeout: realClear } = globalThis;
      globalThis.setTimeout = ((fn: () => void, ms?: number) => {
        const handle = realSet(fn, ms);
        if (ms === 54_321) armed.push(handle);
        return handle;
      }) as typeof setTimeout;
      globalThis.clearTimeout = ((handle?: Parameters<typeof clearTimeout>[0]) => {
        cleared.push(handle);
        realClear(handle);
      }) as typeof clearTimeout;
      try {
        const { outcome } = await complete(limited(verify, 54_321));
        expectKind(outcome, 'success');
      } finally {
        globalThis.setTimeout = realSet;
        globalThis.clearTimeout = realClear;
      }
      return { armed, cleared };
    }

    it('should arm no timer for a verify that calls done before it returns', async () => {
      const { armed } = await watchTimers((_p, done) => done(null, { id: 1 }));
      expect(armed).to.have.length(0);
    });

    it('should clear its timer once a verify that answers later answered', async () => {
      const { armed, cleared } = await watchTimers((_p, done) => {
        setImmediate(() => done(null, { id: 1 }));
      });
      expect(armed).to.have.length(1);
      expect(cleared).to.include(armed[0]);
    });

    // The arity is what callVerify reads to tell a (profile, done) verify from an async (profile) one.
    for (const [label, verify, expected, arity] of [
      ['sync done', (_p: ItsMeProfile, done: VerifyCallback) => done(null, { id: 'sync' }), { id: 'sync' }, 2],
      ['async returning a user', async (p: ItsMeProfile) => ({ id: p.id }), { id: SUB }, 1],
      [
        'async calling done later',
        async (_p: ItsMeProfile, done: VerifyCallback) => {
          setTimeout(() => done(null, { id: 'later' }), 20);
        },
        { id: 'later' },
        2,
      ],
      // NestJS's PassportStrategy wraps validate() as `async (...params) => { done(null, await validate(...)) }`:
      // a function of length 0 that calls done before its own promise resolves to undefined.
      [
        "NestJS's wrapper (length 0, done before the promise resolves to undefined)",
        // biome-ignore lint/complexity/useArrowFunction: the wrapper is a plain function of length 0
        async function (...params: unknown[]) {
          const done = params[params.length - 1] as VerifyCallback;
          done(null, await Promise.resolve({ id: 'nest' }));
        } as VerifyFunction,
        { id: 'nest' },
        0,
      ],
    ] as const) {
      it(`should log in within the limit for ${label}`, async () => {
        expect((verify as VerifyFunction).length, 'the shape under test').to.equal(arity);
        const { outcome } = await complete(limited(verify as VerifyFunction));
        expect(expectKind(outcome, 'success').user).to.deep.equal(expected);
      });
    }

    it('should error at once, not wait, with what an async verify throws', async () => {
      const boom = new Error('account lookup failed');
      const { outcome } = await complete(
        limited(async (_p, _done) => {
          await Promise.resolve();
          throw boom;
        }, 60_000),
      );
      expect(expectKind(outcome, 'error').error).to.equal(boom);
    });

    it("should fail, not wait, when NestJS's wrapper resolves to undefined and validate refused", async () => {
      const wrapper = async (...params: unknown[]) => {
        const done = params[params.length - 1] as VerifyCallback;
        done(null, false);
      };
      const { outcome } = await complete(limited(wrapper as VerifyFunction));
      expect(expectKind(outcome, 'fail').challenge).to.include({ code: 'verify-refused' });
    });

    it('should fail at once for a length-0 async verify that resolves to nothing without calling done', async () => {
      const { outcome } = await complete(limited((async () => undefined) as VerifyFunction, 60_000));
      expect(expectKind(outcome, 'fail').challenge).to.include({ code: 'verify-refused' });
    });

    for (const value of [0, -1, 1.5, Number.NaN, 2 ** 31, '1000']) {
      it(`should throw a TypeError naming verifyTimeout for ${String(value)}`, () => {
        expect(() => new ItsMeStrategy({ ...common, verifyTimeout: value as number }, () => {})).to.throw(
          TypeError,
          /verifyTimeout option must be/,
        );
      });
    }
  });

  describe('passReqToCallback', () => {
    it('should give verify the request first, then the profile and done', async () => {
      const calls: { req: Request; profile: ItsMeProfile; done: VerifyCallback }[] = [];
      const verify: VerifyFunctionWithRequest<Request> = (req, profile, done) => {
        calls.push({ req, profile, done });
        done(null, { id: profile.id, via: (req.query as Record<string, unknown>).relaystate ? 'callback' : '?' });
      };
      const strategy = new ItsMeStrategy({ ...common, passReqToCallback: true }, verify);
      const { outcome, req } = await complete(strategy);
      expect(expectKind(outcome, 'success').user).to.deep.equal({ id: SUB, via: 'callback' });
      expect(calls).to.have.length(1);
      expect(calls[0]?.req).to.equal(req);
      expect(calls[0]?.profile.id).to.equal(SUB);
      expect(calls[0]?.done).to.be.a('function');
    });

    it('should await a promise from a verify that receives the request', async () => {
      const strategy = new ItsMeStrategy({ ...common, passReqToCallback: true }, async (req, profile) =>
        req.session ? { id: profile.id } : false,
      );
      const { outcome } = await complete(strategy);
      expect(expectKind(outcome, 'success').user).to.deep.equal({ id: SUB });
    });

    it('should not give the request when passReqToCallback is false', async () => {
      const args: unknown[][] = [];
      const strategy = new ItsMeStrategy({ ...common, passReqToCallback: false }, (...received) => {
        args.push(received);
        received[1](null, { id: 1 });
      });
      expectKind((await complete(strategy)).outcome, 'success');
      expect(args[0]).to.have.length(2);
      expect((args[0]?.[0] as ItsMeProfile | undefined)?.provider).to.equal('itsme');
    });
  });
});
