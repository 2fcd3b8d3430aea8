import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { Request } from 'express';
import { ItsMeError, SessionRelayStateStore } from '../lib/index.js';
import { startTestApp } from './support/app.js';
import { browse, CookieJar } from './support/http.js';
import { fakeRequest } from './support/strategy-run.js';
import { ZignSecStub } from './support/zignsec-stub.js';

const MINUTE = 60_000;

function relayState(): string {
  return randomBytes(32).toString('base64url');
}

function requestWith(session: Record<string, unknown>): Request {
  return fakeRequest({ session });
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
      const rs = relayState();
      for (const junk of ['text', 42, null, [1, 2], { [rs]: 'not an entry' }, { [rs]: { id: 1, exp: 'later' } }]) {
        const req = requestWith({ 'passport-itsme': junk });
        expect(await store.take(req, rs)).to.equal(undefined);
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
      await store.save(req, rs, { sessionId: 'zs-1', createdAt: Date.now() - 2 * MINUTE });
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
      expect(Object.keys(session['passport-itsme'] as object)).to.deep.equal([fresh]);
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
      expect(Object.keys(session['passport-itsme'] as object)).to.have.length(10);
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
      expect(Object.keys(session['itsme-pending'] as object)).to.deep.equal(states.slice(1));
    });

    it('should reject bad options with a TypeError naming them', () => {
      expect(() => new SessionRelayStateStore({ ttl: 0 })).to.throw(TypeError, /ttl/);
      expect(() => new SessionRelayStateStore({ max: 1.5 })).to.throw(TypeError, /max/);
      expect(() => new SessionRelayStateStore({ key: '' })).to.throw(TypeError, /key/);
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
});
