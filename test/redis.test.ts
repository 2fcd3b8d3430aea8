import { fork } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { RedisStore } from 'connect-redis';
import type { Request } from 'express';
import { createClient } from 'redis';
import {
  createWebhookHandler,
  ItsMeStrategy,
  RedisRelayStateStore,
  RedisSeenStore,
  type SeenKeyClient,
  SIGNATURE_HEADER,
  signWebhook,
} from '../lib/index.js';
import {
  captureLogs,
  type GuardedApp,
  type GuardedAppOptions,
  guardProcess,
  type LogCapture,
  type ProcessGuard,
  realNetwork,
  startGuardedApp,
} from './support/guards.js';
import { browse, CookieJar, listen } from './support/http.js';
import { findRedisServer, type RedisServer, startRedisServer } from './support/redis.js';
import { ZignSecStub } from './support/zignsec-stub.js';

const API_KEY = 'redis-KEY-never-in-logs-6e21a0';
const SECRET = 'one secret for every instance';
const SUB = '1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9';
const USED = 'This itsme login has already been used. Please start again.';

type Client = ReturnType<typeof createClient>;

/** The Redis key of a pending login: the prefix and the first 22 base64url characters of the relaystate's SHA-256. */
function keyOf(relayState: string): string {
  return `passport-itsme:login:${createHash('sha256').update(relayState).digest('base64url').slice(0, 22)}`;
}

describe('several instances on Redis', function () {
  this.timeout(20_000);
  let redis: RedisServer;
  let stub: ZignSecStub;
  let guard: ProcessGuard;
  let restoreNock: () => void;
  let logs: LogCapture | undefined;
  const clients: Client[] = [];
  const apps: GuardedApp[] = [];

  before(async function () {
    const binary = findRedisServer();
    if (!binary) {
      if (process.env.ITSME_REQUIRE_REDIS === '1') {
        throw new Error('redis-server is not installed, and ITSME_REQUIRE_REDIS=1 makes that a failure');
      }
      const line = '!'.repeat(78);
      console.warn(
        `\n${line}\n!! SKIPPED: the Redis tests (several app instances) need redis-server.\n` +
          `!! Install it (apt-get install redis-server) or run .ci/run, which sets ITSME_REQUIRE_REDIS=1.\n${line}\n`,
      );
      this.skip();
    }
    restoreNock = realNetwork();
    guard = guardProcess();
    redis = await startRedisServer(binary);
    stub = await new ZignSecStub(API_KEY).start();
  });
  after(async () => {
    for (const app of apps.splice(0)) await app.close();
    for (const client of clients.splice(0)) if (client.isOpen) await client.close();
    await stub?.close();
    await redis?.stop();
    guard?.dispose();
    restoreNock?.();
  });
  beforeEach(() => {
    logs = captureLogs();
  });
  afterEach(async () => {
    logs?.dispose();
    logs?.assertAbsent(API_KEY);
    await guard?.assertClean();
  });

  async function connect(): Promise<Client> {
    const client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    clients.push(client);
    return client;
  }

  /** One app instance, as a separate process would be: its own Redis connections, the shared secret. */
  async function instance(label: string, extra: Partial<GuardedAppOptions> = {}): Promise<GuardedApp> {
    const client = await connect();
    const app = await startGuardedApp({
      label,
      secret: SECRET,
      sessionStore: new RedisStore({ client, prefix: 'itsme-test-sess:' }),
      ...extra,
      strategy: { baseURL: stub.url, apiKey: API_KEY, ...extra.strategy },
    });
    apps.push(app);
    return app;
  }

  async function begin(app: GuardedApp, jar: CookieJar): Promise<string> {
    const res = await browse(`${app.url}/login`, jar);
    expect(res.status, res.body).to.equal(302);
    return stub.lastRelayState();
  }

  async function me(app: GuardedApp, jar: CookieJar) {
    const res = await browse(`${app.url}/me`, jar);
    return { status: res.status, user: JSON.parse(res.body) as { id?: string } | null };
  }

  describe('with the default session store shared through connect-redis', () => {
    let a: GuardedApp;
    let b: GuardedApp;
    before(async () => {
      a = await instance('A');
      b = await instance('B');
    });

    it('should complete on instance B a login started on instance A', async () => {
      const jar = new CookieJar();
      const relayState = await begin(a, jar);
      const back = await browse(`${b.url}/callback?relaystate=${relayState}`, jar);
      expect(back.location).to.equal('/me');
      expect((await me(b, jar)).user?.id).to.equal(SUB);
      expect((await me(a, jar)).user?.id, 'the session is shared').to.equal(SUB);
      expect(b.verified).to.have.length(1);
      expect(a.verified).to.have.length(0);
    });

    it('should refuse a replay on instance A after instance B used the relaystate', async () => {
      const jar = new CookieJar();
      const relayState = await begin(a, jar);
      const before = jar.copy();
      const gets = stub.gets.length;
      expect((await browse(`${b.url}/callback/raw?relaystate=${relayState}`, jar)).status).to.equal(200);
      // With the browser's current cookie, and with the cookie it had before logging in.
      expect((await browse(`${a.url}/callback/raw?relaystate=${relayState}`, jar)).status).to.equal(403);
      expect((await browse(`${a.url}/callback/raw?relaystate=${relayState}`, before)).status).to.equal(403);
      const replay = await browse(`${a.url}/callback?relaystate=${relayState}`, before);
      expect(replay.location).to.equal('/failed');
      const failed = await browse(`${a.url}/failed`, before);
      // The pre-login session was renewed at login: that cookie now brings back no session at all.
      expect(JSON.parse(failed.body).messages[0]).to.match(
        /^The itsme login cannot be completed because no session came back/,
      );
      expect(stub.gets.length - gets, 'ZignSec asked once').to.equal(1);
      expect((await me(a, before)).status, 'the pre-login cookie is not logged in').to.equal(401);
    });

    it("should refuse on instance B another browser's login started on instance A", async () => {
      const alice = new CookieJar();
      const mallory = new CookieJar();
      const relayState = await begin(a, alice);
      await begin(b, mallory);
      expect((await browse(`${b.url}/callback/raw?relaystate=${relayState}`, mallory)).status).to.equal(403);
      expect((await me(b, mallory)).status).to.equal(401);
      expect((await browse(`${b.url}/callback/raw?relaystate=${relayState}`, alice)).status).to.equal(200);
    });

    it('should let at most one of two simultaneous callbacks on one instance reach verify', async () => {
      for (let round = 0; round < 5; round++) {
        const jar = new CookieJar();
        const relayState = await begin(a, jar);
        const before = b.verified.length;
        const results = await Promise.all(
          [0, 1].map(() => browse(`${b.url}/callback/raw?relaystate=${relayState}`, jar)),
        );
        expect(results.map((r) => r.status).sort(), `round ${round}`).to.deep.equal([200, 403]);
        expect(b.verified.length - before).to.equal(1);
      }
    });

    it('should complete on instance B a login whose instance A died after the redirect to itsme', async () => {
      const doomed = await instance('doomed');
      const jar = new CookieJar();
      const relayState = await begin(doomed, jar);
      await doomed.close();
      const back = await browse(`${b.url}/callback?relaystate=${relayState}`, jar);
      expect(back.location).to.equal('/me');
      expect((await me(b, jar)).user?.id).to.equal(SUB);
    });

    it('should let the same browser finish on B when A died during the callback, before saving the session', async () => {
      const { doomed, reached } = await hangingInstance();
      const jar = new CookieJar();
      const relayState = await begin(doomed, jar);
      const dying = browse(`${doomed.url}/callback?relaystate=${relayState}`, jar).catch((err: Error) => err);
      await reached;
      await doomed.close();
      expect(await dying).to.be.instanceOf(Error);
      // The session in Redis still holds the pending login: taking it was never saved.
      const back = await browse(`${b.url}/callback?relaystate=${relayState}`, jar);
      expect(back.location).to.equal('/me');
    });
  });

  describe('with the opt-in RedisRelayStateStore (one-time GETDEL)', () => {
    let a: GuardedApp;
    let b: GuardedApp;
    let storeClient: Client;
    before(async () => {
      storeClient = await connect();
      a = await instance('A*', {
        strategy: { ...base(), store: new RedisRelayStateStore({ client: await connect() }) },
      });
      b = await instance('B*', {
        strategy: { ...base(), store: new RedisRelayStateStore({ client: await connect() }) },
      });
    });

    it('should complete on instance B a login started on instance A, then refuse a replay on A', async () => {
      const jar = new CookieJar();
      const relayState = await begin(a, jar);
      const back = await browse(`${b.url}/callback?relaystate=${relayState}`, jar);
      expect(back.location).to.equal('/me');
      expect((await me(b, jar)).user?.id).to.equal(SUB);
      expect((await browse(`${a.url}/callback/raw?relaystate=${relayState}`, jar)).status).to.equal(403);
    });

    it("should refuse on A a used login that a second tab's start brought back into the old session", async () => {
      const jar = new CookieJar();
      const relayState = await begin(a, jar);
      const before = a.verified.length + b.verified.length;
      const oldCookie = jar.copy();
      // Tab 2 loads the session and waits for ZignSec; tab 1 completes its login on B meanwhile.
      const held = stub.holdNextStart();
      const tab2 = browse(`${a.url}/login`, oldCookie);
      await held.reached;
      expect((await browse(`${b.url}/callback/raw?relaystate=${relayState}`, jar)).status).to.equal(200);
      held.release();
      // Tab 2's save writes back the whole session it loaded, tab 1's pending login included.
      expect((await tab2).status).to.equal(302);
      const replay = await browse(`${a.url}/callback/raw?relaystate=${relayState}`, oldCookie);
      expect(replay.status).to.equal(403);
      expect(a.verified.length + b.verified.length - before).to.equal(1);
    });

    it('should let at most one of simultaneous callbacks on two instances reach verify', async () => {
      for (let round = 0; round < 10; round++) {
        const jar = new CookieJar();
        const relayState = await begin(round % 2 ? a : b, jar);
        const before = a.verified.length + b.verified.length;
        const results = await Promise.all(
          [a, b, a, b].map((app) => browse(`${app.url}/callback/raw?relaystate=${relayState}`, jar)),
        );
        expect(results.map((r) => r.status).sort(), `round ${round}`).to.deep.equal([200, 403, 403, 403]);
        expect(a.verified.length + b.verified.length - before, `round ${round}`).to.equal(1);
      }
    });

    it("should refuse another browser's relaystate without using up the owner's login", async () => {
      const alice = new CookieJar();
      const mallory = new CookieJar();
      const relayState = await begin(a, alice);
      await begin(b, mallory);
      expect((await browse(`${b.url}/callback/raw?relaystate=${relayState}`, mallory)).status).to.equal(403);
      expect((await browse(`${a.url}/callback/raw?relaystate=${relayState}`, new CookieJar())).status).to.equal(403);
      expect(await storeClient.exists(keyOf(relayState))).to.equal(1);
      expect((await browse(`${b.url}/callback/raw?relaystate=${relayState}`, alice)).status).to.equal(200);
    });

    it('should keep a one-time key that expires with the pending login and is gone once used', async () => {
      const jar = new CookieJar();
      const start = await browse(`${a.url}/login`, jar);
      const sessionId = new URL(String(start.location)).searchParams.get('session');
      const relayState = stub.lastRelayState();
      const key = keyOf(relayState);
      expect(await storeClient.pTTL(key)).to.be.within(1, 600_000);
      expect(await storeClient.get(key)).to.equal(sessionId);
      expect(await storeClient.keys(`*${relayState}*`), 'no key holds the relaystate').to.deep.equal([]);
      expect((await browse(`${b.url}/callback/raw?relaystate=${relayState}`, jar)).status).to.equal(200);
      expect(await storeClient.exists(key)).to.equal(0);
    });

    it('should complete a login started before the upgrade to digests (relaystate in the keys), once', async () => {
      const jar = new CookieJar();
      const start = await browse(`${a.url}/login`, jar);
      const sessionId = new URL(String(start.location)).searchParams.get('session');
      const relayState = stub.lastRelayState();
      // Put the session and the one-time key back as the previous version wrote them.
      const sid = decodeURIComponent(String(jar.cookies.get('connect.sid')))
        .slice(2)
        .split('.')[0];
      const sessionKey = `itsme-test-sess:${sid}`;
      const saved = JSON.parse(String(await storeClient.get(sessionKey))) as Record<string, unknown>;
      const exp = (saved['passport-itsme'] as [string, string, number][])[0]?.[2];
      saved['passport-itsme'] = { [relayState]: { id: sessionId, exp } };
      await storeClient.set(sessionKey, JSON.stringify(saved), { expiration: { type: 'PX', value: 60_000 } });
      await storeClient.rename(keyOf(relayState), `passport-itsme:login:${relayState}`);
      expect((await browse(`${b.url}/callback/raw?relaystate=${relayState}`, jar)).status).to.equal(200);
      expect(await storeClient.exists(`passport-itsme:login:${relayState}`)).to.equal(0);
      expect((await browse(`${a.url}/callback/raw?relaystate=${relayState}`, jar)).status).to.equal(403);
    });

    it('should refuse a login whose one-time key another instance already took', async () => {
      const jar = new CookieJar();
      const relayState = await begin(a, jar);
      expect(await storeClient.getDel(keyOf(relayState))).to.be.a('string');
      const res = await browse(`${b.url}/callback?relaystate=${relayState}`, jar);
      expect(res.location).to.equal('/failed');
      expect(JSON.parse((await browse(`${b.url}/failed`, jar)).body).messages).to.deep.equal([USED]);
    });

    it('should make the browser start again when an instance died during the callback', async () => {
      const { doomed, reached } = await hangingInstance({
        store: new RedisRelayStateStore({ client: await connect() }),
      });
      const jar = new CookieJar();
      const relayState = await begin(doomed, jar);
      const dying = browse(`${doomed.url}/callback?relaystate=${relayState}`, jar).catch((err: Error) => err);
      await reached;
      await doomed.close();
      expect(await dying).to.be.instanceOf(Error);
      expect((await browse(`${b.url}/callback/raw?relaystate=${relayState}`, jar)).status).to.equal(403);
    });

    it('should answer a clean error() and keep serving when Redis cannot be reached at the callback', async () => {
      const lost = await connect();
      const app = await instance('lost-redis', {
        strategy: { ...base(), store: new RedisRelayStateStore({ client: lost }) },
      });
      const jar = new CookieJar();
      const relayState = await begin(app, jar);
      await lost.close();
      const res = await browse(`${app.url}/callback?relaystate=${relayState}`, jar);
      expect(res.status).to.equal(500);
      expect(app.errors).to.have.length(1);
      expect(app.verified).to.have.length(0);
      expect((await browse(`${app.url}/health`, jar)).status).to.equal(200);
    });

    it('should say session support is needed, before opening a ZignSec session, when there is none', async () => {
      const strategy = new ItsMeStrategy(
        {
          ...base(),
          callbackURL: 'http://127.0.0.1/callback',
          store: new RedisRelayStateStore({ client: storeClient }),
        },
        () => {},
      );
      const starts = stub.starts.length;
      const err = await new Promise<Error>((resolve, reject) => {
        const run = Object.create(strategy) as ItsMeStrategy & Record<string, unknown>;
        run.error = resolve;
        for (const action of ['redirect', 'fail', 'success', 'pass']) run[action] = () => reject(new Error(action));
        run.authenticate({ method: 'GET', url: '/login', query: {}, headers: {} } as unknown as Request);
      });
      expect(err).to.include({ name: 'ItsMeError', code: 'ERR_ITSME_SESSION_REQUIRED' });
      expect(stub.starts.length).to.equal(starts);
    });

    it('should require a client with set and getDel', () => {
      expect(() => new RedisRelayStateStore({} as never)).to.throw(TypeError, /client option with set and getDel/);
      expect(() => new RedisRelayStateStore({ client: { set: async () => 'OK' } } as never)).to.throw(TypeError);
      expect(() => new RedisRelayStateStore({ client: storeClient, ttl: 0 })).to.throw(TypeError, /ttl/);
    });

    it('should end a callback in ERR_ITSME_STORE_TIMEOUT, not hold it, while Redis is down', async () => {
      // A Redis of its own, stopped mid-login; node-redis queues commands until it comes back.
      const own = await startRedisServer(findRedisServer() as string);
      const client = createClient({ url: own.url });
      client.on('error', () => {});
      await client.connect();
      // Sessions in memory, so that only the store's Redis is gone.
      const app = await startGuardedApp({
        label: 'R',
        strategy: { ...base(), timeout: 500, store: new RedisRelayStateStore({ client }) },
      });
      try {
        const jar = new CookieJar();
        const relayState = await begin(app, jar);
        await own.stop();
        const answer = await Promise.race([
          browse(`${app.url}/callback/raw?relaystate=${relayState}`, jar).then((res) => res.status),
          new Promise((resolve) => setTimeout(() => resolve('no answer within 5 s'), 5000)),
        ]);
        expect(answer).to.equal(500);
        expect(app.errors.map((err) => err.code)).to.deep.equal(['ERR_ITSME_STORE_TIMEOUT']);
        expect(app.errors[0]?.message).to.match(/store\.take did not settle within 500 ms/);
        expect(app.verified).to.have.length(0);
      } finally {
        await app.close();
        client.destroy();
        await own.stop();
      }
    });
  });

  describe('RedisSeenStore', () => {
    let client: Client;
    before(async () => {
      client = await connect();
    });

    it('should claim once, answer busy, then done once completed, and claim again after a release', async () => {
      const [one, two] = [new RedisSeenStore({ client }), new RedisSeenStore({ client: await connect() })];
      const id = randomUUID();
      expect(await one.claim(id, 10_000)).to.equal('claimed');
      expect(await two.claim(id, 10_000)).to.equal('busy');
      expect(await one.claim(id, 10_000)).to.equal('busy');
      await one.release(id);
      expect(await client.exists(`passport-itsme:webhook:${id}`)).to.equal(0);
      expect(await two.claim(id, 10_000)).to.equal('claimed');
      await two.complete(id, 60_000);
      expect(await client.get(`passport-itsme:webhook:${id}`)).to.equal('done');
      expect(await client.pTTL(`passport-itsme:webhook:${id}`)).to.be.within(1, 60_000);
      expect(await one.claim(id, 10_000)).to.equal('done');
      await one.release(id);
      expect(await two.claim(id, 10_000), 'a release without a claim of its own removes nothing').to.equal('done');
    });

    it("should let a crashed instance's claim lapse, and not release the claim that came after it", async () => {
      const [slow, next, third] = [
        new RedisSeenStore({ client }),
        new RedisSeenStore({ client }),
        new RedisSeenStore({ client }),
      ];
      const id = randomUUID();
      expect(await slow.claim(id, 50)).to.equal('claimed');
      await new Promise((resolve) => setTimeout(resolve, 80));
      expect(await next.claim(id, 10_000)).to.equal('claimed');
      await slow.release(id);
      expect(await third.claim(id, 10_000)).to.equal('busy');
    });

    it("should release in one EVAL on Redis, which deletes its own claim and never another instance's", async () => {
      const calls: string[] = [];
      const counted: SeenKeyClient = {
        set: (k, v, o) => client.set(k, v, o),
        get: (k) => {
          calls.push('get');
          return client.get(k);
        },
        del: (k) => {
          calls.push('del');
          return client.del(k);
        },
        eval: (script, o) => {
          calls.push('eval');
          return client.eval(script, o);
        },
      };
      const store = new RedisSeenStore({ client: counted });
      const [lapsed, mine] = [randomUUID(), randomUUID()];
      expect(await store.claim(lapsed, 60_000)).to.equal('claimed');
      expect(await store.claim(mine, 60_000)).to.equal('claimed');
      // The first claim lapsed and another instance claimed the id: nothing between a GET and a DEL.
      await client.set(`passport-itsme:webhook:${lapsed}`, 'busy:other-instance', { PX: 60_000 });
      calls.length = 0;
      await store.release(lapsed);
      await store.release(mine);
      expect(calls).to.deep.equal(['eval', 'eval']);
      expect(await client.get(`passport-itsme:webhook:${lapsed}`)).to.equal('busy:other-instance');
      expect(await client.exists(`passport-itsme:webhook:${mine}`)).to.equal(0);
    });

    it('should release with GET and DEL for a Redis user not allowed EVAL, as the store needed before', async () => {
      const admin = await connect();
      await admin.sendCommand([
        'ACL',
        'SETUSER',
        'hook',
        'on',
        '>hook-pw',
        '~passport-itsme:*',
        '+set',
        '+get',
        '+del',
      ]);
      const url = new URL(redis.url);
      url.username = 'hook';
      url.password = 'hook-pw';
      const limited = createClient({ url: url.href });
      limited.on('error', () => {});
      await limited.connect();
      clients.push(limited);
      const store = new RedisSeenStore({ client: limited });
      for (const id of [randomUUID(), randomUUID()]) {
        expect(await store.claim(id, 60_000)).to.equal('claimed');
        await store.release(id);
        expect(await admin.exists(`passport-itsme:webhook:${id}`), 'its claim is gone').to.equal(0);
      }
    });

    it('should handle the next delivery once Redis takes writes again, after a claim that outlived the timeout', async () => {
      const admin = await connect();
      const id = randomUUID();
      const delivered: string[] = [];
      const handler = createWebhookHandler({
        apiKey: API_KEY,
        baseURL: stub.url,
        timeout: 300,
        seenStore: new RedisSeenStore({ client: await connect() }),
        onResult: (result) => {
          delivered.push(result.id);
        },
        onError: () => {},
      });
      const server = await listen(handler);
      const deliver = async () =>
        (await fetch(server.url, { method: 'POST', body: JSON.stringify({ id }), signal: AbortSignal.timeout(5000) }))
          .status;
      try {
        // Redis takes no writes for a while (as during a failover): the claim's SET NX waits for it.
        await admin.sendCommand(['CLIENT', 'PAUSE', '800', 'WRITE']);
        expect(await deliver(), 'the store call ran out of time').to.equal(503);
        await new Promise((resolve) => setTimeout(resolve, 1000)); // the queued SET NX ran, and was released
        expect(await client.exists(`passport-itsme:webhook:${id}`), 'no claim left that nobody owns').to.equal(0);
        expect(await deliver(), 'the retry once Redis works again').to.equal(200);
        expect(delivered).to.deep.equal([id]);
      } finally {
        await server.close();
      }
    });

    it('should follow the prefix option and refuse a client without set, get and del', async () => {
      const store = new RedisSeenStore({ client, prefix: 'app1:seen:' });
      const id = randomUUID();
      expect(await store.claim(id, 10_000)).to.equal('claimed');
      expect(await client.exists(`app1:seen:${id}`)).to.equal(1);
      expect(() => new RedisSeenStore({} as never)).to.throw(TypeError, /client option with set, get and del/);
      expect(() => new RedisSeenStore({ client: { set: client.set, get: client.get } } as never)).to.throw(TypeError);
      expect(() => new RedisSeenStore({ client, prefix: 5 } as never)).to.throw(TypeError, /prefix/);
    });

    describe('behind webhook receivers in two processes', function () {
      this.timeout(30_000);
      const children: Receiver[] = [];
      let first: Receiver;
      let second: Receiver;
      before(async () => {
        [first, second] = await Promise.all([receiver('P1'), receiver('P2')]);
        children.push(first, second);
      });
      after(async () => {
        await Promise.all(children.map((child) => child.stop()));
      });

      /** ZignSec posting its webhook for session `id` to one instance, signed. */
      async function deliver(to: Receiver, id: string): Promise<{ status: number; body: Record<string, unknown> }> {
        const body = JSON.stringify({ id, state: 'Finished' });
        const res = await fetch(`${to.url}/`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            [SIGNATURE_HEADER]: signWebhook(body, SECRET, { timestamp: Math.floor(Date.now() / 1000) }),
          },
          body,
        });
        return { status: res.status, body: (await res.json()) as Record<string, unknown> };
      }

      const runs = (id: string) => children.flatMap((child) => child.runs.filter((run) => run.id === id));

      /** Resolves true once `condition` holds, or false after `ms` or once `signal` fires. */
      async function until(condition: () => boolean, ms: number, signal: AbortSignal): Promise<boolean> {
        const deadline = Date.now() + ms;
        while (!condition()) {
          if (Date.now() > deadline || signal.aborted) return false;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        return true;
      }

      it('should run onResult once when the same webhook reaches both at the same moment', async () => {
        for (let round = 0; round < 3; round++) {
          const id = `hold-${randomUUID()}`;
          const both = [deliver(first, id), deliver(second, id)];
          // The instance that claimed the id stays in onResult until released, so the other answers first.
          // Should both claim it (the bug under test), both stay held: fail at once, naming it, and release.
          let firstAnswer: Awaited<(typeof both)[number]>;
          const watching = new AbortController();
          try {
            firstAnswer = await Promise.race([
              ...both,
              until(() => runs(id).length > 1, 10_000, watching.signal).then((twice) => {
                throw new Error(twice ? 'both instances ran onResult' : 'neither instance answered within 10 s');
              }),
            ]);
          } finally {
            watching.abort();
            for (const child of children) child.release(id);
          }
          expect(firstAnswer.status, `round ${round}: the instance that did not get the claim`).to.equal(409);
          const answers = await Promise.all(both);
          expect(answers.map((a) => a.status).sort(), `round ${round}`).to.deep.equal([200, 409]);
          // ZignSec retries the 409: a duplicate now, wherever it lands.
          const again = await Promise.all([deliver(first, id), deliver(second, id)]);
          expect(
            again.map((a) => [a.status, a.body.status]),
            `round ${round}`,
          ).to.deep.equal([
            [200, 'duplicate'],
            [200, 'duplicate'],
          ]);
          expect(runs(id), `round ${round}`).to.have.length(1);
        }
      });

      it('should retry on the other instance a result whose onResult failed on one, and then run it no more', async () => {
        const id = `P1-fails-${randomUUID()}`;
        const failed = await deliver(first, id);
        expect(failed.status).to.equal(500);
        const retried = await deliver(second, id);
        expect(retried).to.deep.include({ status: 200 });
        expect(retried.body.status).to.equal('ok');
        expect((await deliver(first, id)).body.status).to.equal('duplicate');
        expect(runs(id).map((run) => [run.label, run.fail])).to.deep.equal([
          ['P1', true],
          ['P2', false],
        ]);
      });
    });

    interface Receiver {
      url: string;
      runs: { label: string; id: string; fail: boolean }[];
      /** Lets a held `onResult` (ids starting with `hold-`) finish. */
      release(id: string): void;
      stop(): Promise<void>;
    }

    /** A webhook receiver in a child process of its own, sharing the Redis server and the secret. */
    async function receiver(label: string): Promise<Receiver> {
      const child = fork(fileURLToPath(new URL('./fixtures/webhook-instance.ts', import.meta.url)), [], {
        execArgv: ['--import', 'tsx'],
        env: {
          ...process.env,
          REDIS_URL: redis.url,
          ZIGNSEC_URL: stub.url,
          API_KEY,
          WEBHOOK_SECRET: SECRET,
          LABEL: label,
        },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const runs: Receiver['runs'] = [];
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${label} did not start`)), 20_000);
        child.on('message', (message: { event: string; url?: string; label: string; id?: string; fail?: boolean }) => {
          if (message.event === 'ready') {
            clearTimeout(timer);
            resolve(String(message.url));
          } else if (message.event === 'onResult') {
            runs.push({ label: message.label, id: String(message.id), fail: message.fail === true });
          }
        });
        child.once('exit', (code) => reject(new Error(`${label} exited with ${code}`)));
      });
      return {
        url,
        runs,
        release: (id) => {
          child.send({ release: id });
        },
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = once(child, 'exit');
          child.disconnect();
          await exited;
        },
      };
    }
  });

  function base() {
    return { baseURL: stub.url, apiKey: API_KEY };
  }

  /** An instance whose verify never returns: the process is "killed" while a callback is in it. */
  async function hangingInstance(strategy: Partial<GuardedAppOptions['strategy']> = {}) {
    let signal: () => void = () => {};
    const reached = new Promise<void>((resolve) => {
      signal = resolve;
    });
    const doomed = await instance('hanging', {
      strategy: { ...base(), ...strategy },
      verify: () => {
        signal();
        return new Promise(() => {});
      },
    });
    return { doomed, reached };
  }
});
