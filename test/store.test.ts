import { createHash, randomBytes, randomUUID } from 'node:crypto';
import diagnostics_channel from 'node:diagnostics_channel';
import { expect } from 'chai';
import type { Request } from 'express';
import { CHANNELS, ItsMeError, ItsMeStrategy, type LoginFailureMessage, SessionRelayStateStore } from '../lib/index.js';
import { type ItsMeSimulator, startSimulator } from '../lib/simulator/index.js';
import { type CookieSessionTestApp, readCookieSession, startCookieSessionApp } from './frameworks/cookie-session.js';
import { startTestApp } from './support/app.js';
import { type GuardedApp, guardProcess, type ProcessGuard, realNetwork, startGuardedApp } from './support/guards.js';
import { browse, CookieJar } from './support/http.js';
import { expectKind, fakeRequest, runStrategy } from './support/strategy-run.js';
import { ZignSecStub } from './support/zignsec-stub.js';

const MINUTE = 60_000;

function relayState(): string {
  return randomBytes(32).toString('base64url');
}

function requestWith(session: Record<string, unknown>): Request {
  return fakeRequest({ session });
}

/** What an independent reader of the session computes: the first 22 base64url characters (132 bits) of its SHA-256. */
function digestOf(relayState: string): string {
  return createHash('sha256').update(relayState).digest('base64url').slice(0, 22);
}

/** The pending logins a session holds, as `[digest, id, exp, language?]` tuples. */
function stored(session: Record<string, unknown>, key = 'passport-itsme'): unknown[][] {
  const value = session[key];
  expect(value, 'an array of entries').to.be.an('array');
  return value as unknown[][];
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('store', () => {
  describe('one-time take', () => {
    it('should give back what was saved, once', async () => {
      const store = new SessionRelayStateStore();
      const req = requestWith({});
      const rs = relayState();
      const createdAt = Date.now();
      await store.save(req, rs, { sessionId: 'zs-1', createdAt });
      expect(await store.take(req, rs)).to.deep.equal({ sessionId: 'zs-1', createdAt });
      expect(await store.take(req, rs)).to.equal(undefined);
    });

    it('should return nothing for a relaystate it never saw, and keep the others', async () => {
      const store = new SessionRelayStateStore();
      const req = requestWith({});
      const rs = relayState();
      await store.save(req, rs, { sessionId: 'zs-1', createdAt: Date.now() });
      expect(await store.take(req, relayState())).to.equal(undefined);
      expect((await store.take(req, rs))?.sessionId).to.equal('zs-1');
    });

    it("should not find a login saved in another browser's session", async () => {
      const store = new SessionRelayStateStore();
      const rs = relayState();
      await store.save(requestWith({}), rs, { sessionId: 'zs-1', createdAt: Date.now() });
      expect(await store.take(requestWith({}), rs)).to.equal(undefined);
    });

    it('should not find prototype keys', async () => {
      const store = new SessionRelayStateStore();
      const req = requestWith({});
      await store.save(req, relayState(), { sessionId: 'zs-1', createdAt: Date.now() });
      expect(await store.take(req, 'constructor')).to.equal(undefined);
      expect(await store.take(req, '__proto__')).to.equal(undefined);
    });

    it('should remove its key from the session once nothing is pending', async () => {
      const store = new SessionRelayStateStore();
      const session: Record<string, unknown> = { other: 'kept' };
      const rs = relayState();
      await store.save(requestWith(session), rs, { sessionId: 'zs-1', createdAt: Date.now() });
      expect(session).to.have.property('passport-itsme');
      await store.take(requestWith(session), rs);
      expect(session).to.deep.equal({ other: 'kept' });
    });

    it('should work after the session went through JSON, as session stores keep it', async () => {
      const store = new SessionRelayStateStore();
      const session: Record<string, unknown> = {};
      const rs = relayState();
      await store.save(requestWith(session), rs, { sessionId: 'zs-json', createdAt: Date.now() });
      const reloaded = JSON.parse(JSON.stringify(session)) as Record<string, unknown>;
      expect((await store.take(requestWith(reloaded), rs))?.sessionId).to.equal('zs-json');
    });

    it('should ignore junk found under its key', async () => {
      const store = new SessionRelayStateStore();
      for (const make of [
        () => 'text',
        () => 42,
        () => null,
        () => [1, 2],
        (rs: string) => ({ [rs]: 'not an entry' }),
        (rs: string) => ({ [rs]: { id: 1, exp: 'later' } }),
      ]) {
        // A fresh relaystate each time: a used one is refused by this store for its TTL.
        const rs = relayState();
        const junk = make(rs);
        const req = requestWith({ 'passport-itsme': junk });
        expect(await store.take(req, rs), JSON.stringify(junk)).to.equal(undefined);
        await store.save(req, rs, { sessionId: 'zs-1', createdAt: Date.now() });
        expect((await store.take(req, rs))?.sessionId).to.equal('zs-1');
      }
    });
  });

  describe('two tabs', () => {
    it('should keep two logins of one session apart, whatever order they finish in', async () => {
      const store = new SessionRelayStateStore();
      const session: Record<string, unknown> = {};
      const first = relayState();
      const second = relayState();
      await store.save(requestWith(session), first, { sessionId: 'zs-tab-1', createdAt: Date.now() });
      await store.save(requestWith(session), second, { sessionId: 'zs-tab-2', createdAt: Date.now() });
      expect((await store.take(requestWith(session), second))?.sessionId).to.equal('zs-tab-2');
      expect((await store.take(requestWith(session), first))?.sessionId).to.equal('zs-tab-1');
    });
  });

  describe('TTL', () => {
    it('should forget a login older than 10 minutes by default', async () => {
      const store = new SessionRelayStateStore();
      const req = requestWith({});
      const old = relayState();
      const recent = relayState();
      await store.save(req, old, { sessionId: 'zs-old', createdAt: Date.now() - 10 * MINUTE - 1000 });
      await store.save(req, recent, { sessionId: 'zs-recent', createdAt: Date.now() - 9 * MINUTE });
      expect(await store.take(req, old)).to.equal(undefined);
      expect((await store.take(req, recent))?.sessionId).to.equal('zs-recent');
    });

    it('should follow the ttl option', async () => {
      const store = new SessionRelayStateStore({ ttl: MINUTE });
      const req = requestWith({});
      const rs = relayState();
      await store.save(req, rs, { sessionId: 'zs-1', createdAt: Date.now() - MINUTE - 1000 });
      expect(await store.take(req, rs)).to.equal(undefined);
    });

    it('should drop expired logins from the session when a new one is saved', async () => {
      const store = new SessionRelayStateStore({ ttl: MINUTE });
      const session: Record<string, unknown> = {};
      for (let i = 0; i < 3; i += 1) {
        await store.save(requestWith(session), relayState(), {
          sessionId: `zs-${i}`,
          createdAt: Date.now() - 5 * MINUTE,
        });
      }
      const fresh = relayState();
      await store.save(requestWith(session), fresh, { sessionId: 'zs-fresh', createdAt: Date.now() });
      expect(stored(session)).to.have.length(1);
      expect(stored(session)[0]?.[0]).to.equal(digestOf(fresh));
    });
  });

  describe('cap', () => {
    it('should keep at most 10 pending logins per session, dropping the oldest', async () => {
      const store = new SessionRelayStateStore();
      const session: Record<string, unknown> = {};
      const states = Array.from({ length: 12 }, relayState);
      for (const [i, rs] of states.entries()) {
        await store.save(requestWith(session), rs, { sessionId: `zs-${i}`, createdAt: Date.now() });
      }
      expect(stored(session)).to.have.length(10);
      expect(await store.take(requestWith(session), states[0] as string)).to.equal(undefined);
      expect(await store.take(requestWith(session), states[1] as string)).to.equal(undefined);
      for (const [i, rs] of states.entries()) {
        if (i < 2) continue;
        expect((await store.take(requestWith(session), rs))?.sessionId).to.equal(`zs-${i}`);
      }
    });

    it('should follow the max and key options', async () => {
      const store = new SessionRelayStateStore({ max: 2, key: 'itsme-pending' });
      const session: Record<string, unknown> = {};
      const states = [relayState(), relayState(), relayState()];
      for (const rs of states) await store.save(requestWith(session), rs, { sessionId: 'zs', createdAt: Date.now() });
      expect(session).to.not.have.property('passport-itsme');
      expect(stored(session, 'itsme-pending').map((entry) => entry[0])).to.deep.equal(states.slice(1).map(digestOf));
    });

    it('should reject bad options with a TypeError naming them', () => {
      expect(() => new SessionRelayStateStore({ ttl: 0 })).to.throw(TypeError, /ttl/);
      expect(() => new SessionRelayStateStore({ max: 1.5 })).to.throw(TypeError, /max/);
      expect(() => new SessionRelayStateStore({ key: '' })).to.throw(TypeError, /key/);
      expect(() => new SessionRelayStateStore({ key: '__proto__' })).to.throw(TypeError, /key/);
    });
  });

  describe('hostile session contents (a compromised session store)', () => {
    let stub: ZignSecStub;
    let restore: () => void;
    before(async () => {
      restore = realNetwork();
      stub = await new ZignSecStub().start();
    });
    after(async () => {
      await stub.close();
      restore();
    });

    it('should fail cleanly (403, no-session once the junk is dropped), ask ZignSec nothing and publish no planted text, for malformed entries', async () => {
      const strategy = new ItsMeStrategy(
        { apiKey: stub.apiKey, baseURL: stub.url, callbackURL: 'http://127.0.0.1/cb' },
        () => {
          throw new Error('verify must not run');
        },
      );
      const planted = '\n[INFO] admin logged in from 10.0.0.1';
      const rs = relayState();
      const exp = Date.now() + MINUTE;
      const events: LoginFailureMessage[] = [];
      const listen = (message: unknown) => events.push(message as LoginFailureMessage);
      diagnostics_channel.subscribe(CHANNELS.loginFailure, listen);
      try {
        for (const junk of [
          [[digestOf(rs), planted, exp]],
          [[digestOf(rs), 'x'.repeat(100_000), exp]],
          [[digestOf(rs), '../../v3/admin', exp]],
          [[digestOf(rs), 'zs-1', Number.POSITIVE_INFINITY]],
          [[digestOf(rs), 'zs-1', Number.NaN]],
          [[`${digestOf(rs)}${'x'.repeat(1000)}`, 'zs-1', exp]],
          { [rs]: { id: planted, exp } },
          { [rs]: { id: 'zs-1', exp: Number.POSITIVE_INFINITY } },
        ]) {
          const session: Record<string, unknown> = { 'passport-itsme': junk };
          const outcome = await runStrategy(strategy, fakeRequest({ query: { relaystate: rs }, session }));
          const failed = expectKind(outcome, 'fail');
          expect(failed.status, JSON.stringify(junk).slice(0, 80)).to.equal(403);
          expect(failed.challenge).to.include({ code: 'no-session' });
          expect(session, 'the junk is dropped').to.not.have.property('passport-itsme');
        }
      } finally {
        diagnostics_channel.unsubscribe(CHANNELS.loginFailure, listen);
      }
      expect(stub.gets, 'ZignSec not asked').to.have.length(0);
      expect(events.map((e) => e.code)).to.deep.equal(Array(8).fill('no-session'));
      expect(events.every((e) => e.sessionId === undefined)).to.equal(true);
    });

    it('should read only the newest max entries of a session holding more, and write back at most max', async () => {
      const store = new SessionRelayStateStore({ max: 3 });
      const states = Array.from({ length: 5000 }, () => relayState());
      const exp = Date.now() + MINUTE;
      const session: Record<string, unknown> = {
        'passport-itsme': states.map((rs, i) => [digestOf(rs), `zs-${i}`, exp]),
      };
      expect(await store.take(requestWith(session), states[0] as string)).to.equal(undefined);
      expect(stored(session).map((entry) => entry[1])).to.deep.equal(['zs-4997', 'zs-4998', 'zs-4999']);
      expect((await store.take(requestWith(session), states[4998] as string))?.sessionId).to.equal('zs-4998');
      expect(stored(session)).to.have.length(2);
    });
  });

  describe('without session support', () => {
    for (const session of [null, undefined, 'cookie-less']) {
      it(`should reject save and take when req.session is ${String(session)}`, async () => {
        const store = new SessionRelayStateStore();
        const req = { query: {}, session } as unknown as Request;
        for (const call of [
          store.save(req, relayState(), { sessionId: 'zs', createdAt: Date.now() }),
          store.take(req, relayState()),
        ]) {
          const err = await rejection(call);
          expect(err).to.be.instanceOf(ItsMeError);
          expect((err as ItsMeError).code).to.equal('ERR_ITSME_SESSION_REQUIRED');
          expect((err as Error).message).to.include('express-session');
          expect((err as Error).message).to.include('store option');
        }
      });
    }
  });

  describe('with passport keepSessionInfo', () => {
    let stub: ZignSecStub;
    before(async () => {
      stub = await new ZignSecStub().start();
    });
    after(() => stub.close());

    it('should stay one-time when the session is carried over at login', async () => {
      const app = await startTestApp({
        keepSessionInfo: true,
        strategy: { baseURL: stub.url, apiKey: stub.apiKey, pendingTimeout: 1000 },
      });
      try {
        const jar = new CookieJar();
        expect((await browse(`${app.url}/login`, jar)).status).to.equal(302);
        const first = stub.lastRelayState();
        expect((await browse(`${app.url}/login`, jar)).status).to.equal(302);
        const second = stub.lastRelayState();
        expect((await browse(`${app.url}/callback?relaystate=${first}`, jar)).location).to.equal('/me');
        expect((await browse(`${app.url}/callback?relaystate=${first}`, jar)).location).to.equal('/failed');
        expect((await browse(`${app.url}/callback?relaystate=${second}`, jar)).location).to.equal('/me');
        expect((await browse(`${app.url}/callback?relaystate=${second}`, jar)).location).to.equal('/failed');
        expect(app.verified).to.have.length(2);
      } finally {
        await app.close();
      }
    });
  });

  describe('digest instead of the relaystate', () => {
    it('should keep no relaystate in the session, only a 132-bit SHA-256 digest', async () => {
      const store = new SessionRelayStateStore();
      const session: Record<string, unknown> = {};
      const states = [relayState(), relayState()];
      for (const rs of states) await store.save(requestWith(session), rs, { sessionId: 'zs-1', createdAt: Date.now() });
      const text = JSON.stringify(session);
      for (const rs of states) {
        expect(text).to.not.include(rs);
        expect(text).to.not.include(rs.slice(0, 16));
      }
      expect(stored(session).map((entry) => entry[0])).to.deep.equal(states.map(digestOf));
    });

    it('should not complete a login for whoever sends the digest read from the session', async () => {
      const store = new SessionRelayStateStore();
      const session: Record<string, unknown> = {};
      const rs = relayState();
      await store.save(requestWith(session), rs, { sessionId: 'zs-1', createdAt: Date.now() });
      const readable = JSON.parse(JSON.stringify(session)) as Record<string, unknown>;
      for (const value of stored(readable).flat()) {
        expect(await store.take(requestWith(readable), String(value))).to.equal(undefined);
      }
      expect((await store.take(requestWith(readable), rs))?.sessionId).to.equal('zs-1');
    });
  });

  describe('layout', () => {
    it('should store every pending login as a [digest, id, exp] tuple, under 256 bytes of JSON each', async () => {
      const store = new SessionRelayStateStore();
      const session: Record<string, unknown> = {};
      const createdAt = Date.now();
      for (let i = 0; i < 10; i++) {
        await store.save(requestWith(session), relayState(), { sessionId: randomUUID(), createdAt, language: 'nl' });
      }
      const entries = stored(session);
      expect(entries).to.have.length(10);
      for (const entry of entries) {
        expect(entry).to.have.length(4);
        expect(entry[2]).to.equal(createdAt + 600_000);
        expect(entry[3]).to.equal('nl');
      }
      const bytes = Buffer.byteLength(JSON.stringify({ 'passport-itsme': entries }));
      expect(bytes / entries.length).to.be.below(256);
    });

    it('should give back the language a login was started in, and none when it had none', async () => {
      const store = new SessionRelayStateStore();
      const req = requestWith({});
      const [withLanguage, without] = [relayState(), relayState()];
      const createdAt = Date.now();
      await store.save(req, withLanguage, { sessionId: 'zs-de', createdAt, language: 'de' });
      await store.save(req, without, { sessionId: 'zs-none', createdAt });
      expect(await store.take(req, withLanguage)).to.deep.equal({ sessionId: 'zs-de', createdAt, language: 'de' });
      expect(await store.take(req, without)).to.deep.equal({ sessionId: 'zs-none', createdAt });
    });

    it('should be given the language of the login by the strategy, and none when it has none', async () => {
      const stub = await new ZignSecStub().start();
      const restore = realNetwork();
      try {
        const options = { baseURL: stub.url, apiKey: stub.apiKey, callbackURL: 'http://127.0.0.1/callback' };
        const french = new ItsMeStrategy({ ...options, language: 'fr' }, () => {});
        const plain = new ItsMeStrategy(options, () => {});
        const languages = [];
        for (const [strategy, language] of [
          [french, undefined],
          [french, 'de'],
          [plain, undefined],
        ] as const) {
          const session: Record<string, unknown> = {};
          expectKind(await runStrategy(strategy, requestWith(session), language ? { language } : {}), 'redirect');
          languages.push(stored(session)[0]?.[3]);
        }
        expect(languages).to.deep.equal(['fr', 'de', undefined]);
      } finally {
        restore();
        await stub.close();
      }
    });

    it('should ignore entries whose language is not an itsme language', async () => {
      const store = new SessionRelayStateStore();
      const rs = relayState();
      const session = { 'passport-itsme': [[digestOf(rs), 'zs-1', Date.now() + MINUTE, 'xx']] };
      expect(await store.take(requestWith(session), rs)).to.equal(undefined);
    });

    it('should complete logins saved in the old { [relaystate]: { id, exp } } layout, once', async () => {
      const store = new SessionRelayStateStore();
      const [old, expired, next] = [relayState(), relayState(), relayState()];
      const exp = Date.now() + 5 * MINUTE;
      const session: Record<string, unknown> = {
        'passport-itsme': { [old]: { id: 'zs-old', exp }, [expired]: { id: 'zs-gone', exp: Date.now() - 1 } },
      };
      expect(await store.take(requestWith(session), old)).to.deep.equal({
        sessionId: 'zs-old',
        createdAt: exp - 600_000,
      });
      expect(session).to.not.have.property('passport-itsme');
      expect(await store.take(requestWith(session), old)).to.equal(undefined);

      // An older copy of that session (a cookie kept from before): this store remembers the use.
      const copy: Record<string, unknown> = { 'passport-itsme': { [old]: { id: 'zs-old', exp } } };
      expect(await store.take(requestWith(copy), old)).to.equal(undefined);
      expect(store.explain(requestWith(copy), old)).to.equal('used');

      // On an instance that never saw it, a save converts the old layout and the login completes once.
      const other = new SessionRelayStateStore();
      const upgraded: Record<string, unknown> = { 'passport-itsme': { [old]: { id: 'zs-old', exp } } };
      await other.save(requestWith(upgraded), next, { sessionId: 'zs-next', createdAt: Date.now() });
      expect(JSON.stringify(upgraded), 'rewritten without the relaystate').to.not.include(old);
      expect(stored(upgraded)).to.have.length(2);
      expect((await other.take(requestWith(upgraded), old))?.sessionId).to.equal('zs-old');
      expect((await other.take(requestWith(upgraded), expired))?.sessionId).to.equal(undefined);
      expect((await other.take(requestWith(upgraded), next))?.sessionId).to.equal('zs-next');
    });
  });

  describe('sessions with get and set (@fastify/secure-session)', () => {
    /** Like @fastify/secure-session: only what goes through set() reaches the cookie. */
    class AccessorSession {
      readonly written: Record<string, unknown> = {};
      readonly calls: string[] = [];
      get(key: string): unknown {
        const value = this.written[key];
        return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
      }
      set(key: string, value: unknown): void {
        this.calls.push(`set ${key} ${value === undefined ? 'undefined' : 'value'}`);
        this.written[key] = value;
      }
    }

    it('should write the removal of a used login through set(), removing the key with the last one', async () => {
      const store = new SessionRelayStateStore();
      const session = new AccessorSession();
      const req = fakeRequest({ session: session as unknown as Record<string, unknown> });
      const [first, second] = [relayState(), relayState()];
      await store.save(req, first, { sessionId: 'zs-1', createdAt: Date.now() });
      await store.save(req, second, { sessionId: 'zs-2', createdAt: Date.now() });
      expect((await store.take(req, first))?.sessionId).to.equal('zs-1');
      expect(session.get('passport-itsme')).to.have.length(1);
      expect(await store.take(req, first), 'the used login is gone from what set() kept').to.equal(undefined);
      expect((await store.take(req, second))?.sessionId).to.equal('zs-2');
      expect(session.calls.at(-1)).to.equal('set passport-itsme undefined');
      expect(JSON.parse(JSON.stringify(session.written))).to.deep.equal({});
    });

    it('should not touch the session when it holds nothing of passport-itsme', async () => {
      const store = new SessionRelayStateStore();
      const session = new AccessorSession();
      const req = fakeRequest({ session: session as unknown as Record<string, unknown> });
      expect(await store.take(req, relayState())).to.equal(undefined);
      expect(session.calls).to.deep.equal([]);
    });
  });

  describe('explain', () => {
    it("should say 'no-session' when the session holds nothing of passport-itsme, or there is none", async () => {
      const store = new SessionRelayStateStore();
      const rs = relayState();
      expect(store.explain(requestWith({}), rs)).to.equal('no-session');
      expect(store.explain(requestWith({ cookie: {} }), rs)).to.equal('no-session');
      expect(store.explain(fakeRequest({ session: null }), rs)).to.equal('no-session');
    });

    it("should say 'used' for a relaystate taken already, in this browser or another", async () => {
      const store = new SessionRelayStateStore();
      const req = requestWith({});
      const rs = relayState();
      await store.save(req, rs, { sessionId: 'zs-1', createdAt: Date.now() });
      await store.take(req, rs);
      expect(await store.take(req, rs)).to.equal(undefined);
      expect(store.explain(req, rs)).to.equal('used');
      expect(store.explain(requestWith({}), rs)).to.equal('used');
    });

    it("should say 'expired' for a login that outlived the ttl, in the session or pruned from it", async () => {
      const store = new SessionRelayStateStore({ ttl: MINUTE });
      const session: Record<string, unknown> = {};
      const [left, pruned] = [relayState(), relayState()];
      await store.save(requestWith(session), left, { sessionId: 'zs-1', createdAt: Date.now() - MINUTE - 1000 });
      expect(store.explain(requestWith(session), left), 'still in the session').to.equal('expired');
      await store.save(requestWith(session), pruned, { sessionId: 'zs-2', createdAt: Date.now() - MINUTE - 1000 });
      expect(stored(session)).to.have.length(1);
      expect(await store.take(requestWith(session), left)).to.equal(undefined);
      expect(session).to.not.have.property('passport-itsme');
      expect(store.explain(requestWith(session), left), 'pruned').to.equal('expired');
      expect(store.explain(requestWith({}), pruned), 'pruned').to.equal('expired');
    });

    it("should say 'unknown' for another browser's or a dropped login while logins are pending or a user is logged in", async () => {
      const store = new SessionRelayStateStore({ max: 1 });
      const session: Record<string, unknown> = {};
      const [dropped, kept] = [relayState(), relayState()];
      await store.save(requestWith(session), dropped, { sessionId: 'zs-1', createdAt: Date.now() });
      await store.save(requestWith(session), kept, { sessionId: 'zs-2', createdAt: Date.now() });
      expect(await store.take(requestWith(session), dropped)).to.equal(undefined);
      expect(store.explain(requestWith(session), dropped)).to.equal('unknown');
      expect(store.explain(requestWith(session), relayState())).to.equal('unknown');
      expect(store.explain(requestWith({ passport: { user: 'u-1' } }), relayState())).to.equal('unknown');
      const loggedIn = fakeRequest({ session: {} }) as Request & { user?: unknown };
      loggedIn.user = { id: 'u-1' };
      expect(store.explain(loggedIn, relayState())).to.equal('unknown');
    });

    it("should say 'expired' right after take, however long ago the login expired", async () => {
      const store = new SessionRelayStateStore({ ttl: MINUTE });
      const session: Record<string, unknown> = {};
      const rs = relayState();
      // Started 3 minutes ago with a 1-minute ttl: the cookie came back with it, 2 minutes past its end.
      await store.save(requestWith(session), rs, { sessionId: 'zs-1', createdAt: Date.now() - 3 * MINUTE });
      expect(await store.take(requestWith(session), rs)).to.equal(undefined);
      expect(store.explain(requestWith(session), rs)).to.equal('expired');
    });

    it("should count a null request.user (as @fastify/passport sets it) as nobody logged in: 'no-session'", () => {
      const store = new SessionRelayStateStore();
      const req = fakeRequest({ session: {} });
      Object.assign(req, { user: null });
      expect(store.explain(req, relayState())).to.equal('no-session');
    });

    it('should word expired-login and used-login in the language the login was started with', async () => {
      const store = new SessionRelayStateStore({ ttl: MINUTE });
      const strategy = new ItsMeStrategy(
        { apiKey: 'k', callbackURL: 'https://bank.example/cb', store },
        async () => false,
      );
      const callback = async (createdAt: number, replay: boolean) => {
        const session: Record<string, unknown> = {};
        const rs = relayState();
        await store.save(requestWith(session), rs, { sessionId: 'zs-1', createdAt, language: 'nl' });
        if (replay) await store.take(requestWith(session), rs);
        const req = fakeRequest({ query: { relaystate: rs }, session });
        return expectKind(await runStrategy(strategy, req), 'fail').challenge;
      };
      expect(await callback(Date.now() - 2 * MINUTE, false)).to.include({
        code: 'expired-login',
        language: 'nl',
        message: 'Deze aanmelding met itsme is verlopen. Begin opnieuw.',
      });
      expect(await callback(Date.now(), true)).to.include({ code: 'used-login', language: 'nl' });
    });

    it('should forget used and expired relaystates after the ttl', async () => {
      const store = new SessionRelayStateStore({ ttl: 40 });
      const req = requestWith({});
      const rs = relayState();
      await store.save(req, rs, { sessionId: 'zs-1', createdAt: Date.now() });
      await store.take(req, rs);
      expect(store.explain(req, rs)).to.equal('used');
      await new Promise((resolve) => setTimeout(resolve, 60));
      expect(store.explain(req, rs)).to.equal('no-session');
    });
  });

  describe('on cookie-session (a session the browser can read)', () => {
    let stub: ZignSecStub;
    let app: CookieSessionTestApp;
    let restore: () => void;
    before(async () => {
      restore = realNetwork();
      stub = await new ZignSecStub().start();
      app = await startCookieSessionApp({ zignsec: stub, strategy: { pendingTimeout: 1000 } });
    });
    after(async () => {
      await app.close();
      await stub.close();
      restore();
    });

    /** The session as its owner can read it from the cookie (base64 JSON, signed but not encrypted). */
    function readCookie(jar: CookieJar): Record<string, unknown> {
      const value = jar.cookies.get('session');
      expect(value, 'session cookie').to.be.a('string');
      return readCookieSession(value) as Record<string, unknown>;
    }

    it('should not let the reader of their own cookie complete the login someone else approved', async () => {
      const attacker = new CookieJar();
      expect((await browse(`${app.url}/login`, attacker)).status).to.equal(302);
      // The attacker sends the redirectUrl to a victim, who approves: ZignSec now holds the victim's result,
      // and the relaystate goes only to the victim's browser.
      const relayStateOfVictim = stub.lastRelayState();
      const cookie = readCookie(attacker);
      expect(JSON.stringify(cookie)).to.not.include(relayStateOfVictim);
      const candidates = [...JSON.stringify(cookie).matchAll(/[A-Za-z0-9_-]{16,}/g)].map((m) => m[0]);
      expect(candidates, 'the digest is among them').to.include(digestOf(relayStateOfVictim));
      const gets = stub.gets.length;
      for (const guess of candidates) {
        const res = await browse(`${app.url}/callback/status?relaystate=${guess}`, attacker);
        expect(res.status, guess).to.equal(403);
      }
      expect(app.verified, 'nobody logged in').to.deep.equal([]);
      expect(stub.gets.length - gets, 'ZignSec not asked').to.equal(0);
      expect((await browse(`${app.url}/me`, attacker)).status).to.equal(401);
    });

    it("should complete a person's own login started and finished in their browser", async () => {
      const victim = new CookieJar();
      expect((await browse(`${app.url}/login`, victim)).status).to.equal(302);
      const res = await browse(`${app.url}/callback/status?relaystate=${stub.lastRelayState()}`, victim);
      expect(res.status).to.equal(200);
      expect(JSON.parse(res.body)).to.include({ id: '1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9' });
      expect(app.verified).to.have.length(1);
      expect((await browse(`${app.url}/callback/status?relaystate=${stub.lastRelayState()}`, victim)).status).to.equal(
        403,
      );
    });
  });

  describe('two logins started at the same moment in one browser', function () {
    this.timeout(60_000);
    let sim: ItsMeSimulator;
    let app: GuardedApp;
    let guard: ProcessGuard;
    let restore: () => void;
    /** The failure codes the strategy published, as a log subscriber would see them. */
    const codes: string[] = [];
    const onFailure = (message: unknown) => codes.push((message as LoginFailureMessage).code);

    before(async () => {
      restore = realNetwork();
      guard = guardProcess();
      sim = await startSimulator({ apiKey: 'concurrent-key-5e1' });
      app = await startGuardedApp({ strategy: { baseURL: sim.url, apiKey: 'concurrent-key-5e1' } });
      diagnostics_channel.subscribe(CHANNELS.loginFailure, onFailure);
    });
    after(async () => {
      diagnostics_channel.unsubscribe(CHANNELS.loginFailure, onFailure);
      await app.close();
      await sim.close();
      guard.dispose();
      restore();
    });
    afterEach(() => guard.assertClean());

    const personas = ['anneleen', 'juergen'];
    const subOf = (persona: string) => sim.personas.find((p) => p.id === persona)?.sub;

    /** Both tabs start at once, both people approve, then each tab comes back; what each tab got. */
    async function round(jar: CookieJar) {
      const starts = await Promise.all(personas.map(() => browse(`${app.url}/login`, jar)));
      const tabs = starts.map((res, i) => {
        expect(res.status, res.body).to.equal(302);
        const id = String(res.location).split('/').at(-1) as string;
        const back = new URL(String(sim.approve(id, personas[i]).location));
        return { persona: personas[i] as string, callback: `${app.url}/callback/raw${back.search}` };
      });
      const outcomes = [];
      for (const tab of tabs) {
        const res = await browse(tab.callback, jar);
        outcomes.push({
          persona: tab.persona,
          status: res.status,
          user: res.status === 200 ? JSON.parse(res.body) : null,
        });
      }
      return outcomes;
    }

    it('should complete each surviving tab as its own person and fail the lost one with 403, unknown', async () => {
      let lost = 0;
      for (let i = 0; i < 6; i++) {
        // Half the rounds from a browser that has a session cookie already, half from a fresh one.
        const jar = new CookieJar();
        if (i % 2 === 1) {
          await browse(`${app.url}/login`, jar);
          await browse(`${app.url}/callback/raw?relaystate=${relayState()}`, jar);
        }
        codes.length = 0;
        const outcomes = await round(jar);
        for (const outcome of outcomes) {
          if (outcome.status === 200) {
            expect(outcome.user?.id, `round ${i}: a tab lands on its own person`).to.equal(subOf(outcome.persona));
          } else {
            expect(outcome.status, `round ${i}`).to.equal(403);
            lost++;
          }
        }
        expect(
          outcomes.filter((o) => o.status === 200),
          `round ${i}: one tab completes`,
        ).to.not.have.length(0);
        const failures = outcomes.filter((o) => o.status !== 200).length;
        expect(codes, `round ${i}: the lost tab is told to start again`).to.deep.equal(
          Array(failures).fill('unknown-login'),
        );
        const me = await browse(`${app.url}/me`, jar);
        const winner = outcomes.findLast((o) => o.status === 200);
        expect(JSON.parse(me.body)?.id, `round ${i}: logged in as whoever completed last`).to.equal(
          subOf(String(winner?.persona)),
        );
      }
      // express-session saves each request's copy of the session: one of two simultaneous starts is lost.
      expect(lost, 'the lost save was reproduced').to.be.above(0);
    });
  });
});
