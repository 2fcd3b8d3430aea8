import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { DEFAULT_PERSONAS, type ItsMeSimulator } from '../lib/simulator/index.js';
import { answerItsMe, itsmeLogin, json, startItsMe } from './frameworks/login.js';
import type { NestAppOptions, RunningNestApp, StartNestApp } from './frameworks/nestjs/contract.js';
import { guardProcess } from './support/guards.js';
import { browse, CookieJar } from './support/http.js';
import { useSimulator } from './support/simulated-zignsec.js';

const KEY = 'nestjs-test-key-31c7';
const [FLORENT, ANNELEEN] = DEFAULT_PERSONAS;
const START = '/auth/itsme';

/**
 * The Nest app is compiled with legacy decorators, as Nest needs: tsx takes them from the app's own
 * tsconfig.json, which only that folder uses.
 */
async function loadNest(): Promise<StartNestApp> {
  // Mocha may load this file as CommonJS: ask for tsx's ESM API by import(), not require().
  const { tsImport } = await import('tsx/esm/api');
  const tsconfig = fileURLToPath(new URL('./frameworks/nestjs/tsconfig.json', import.meta.url));
  const loaded = (await tsImport('./frameworks/nestjs/app.ts', { parentURL: import.meta.url, tsconfig })) as {
    startNestApp: StartNestApp;
  };
  return loaded.startNestApp;
}

describe('nestjs (Express platform, @nestjs/passport, express-session)', () => {
  let _restoreNock: () => void;
  let _sim: ItsMeSimulator;
  let startNestApp: StartNestApp;
  let running: RunningNestApp | undefined;
  const zs = useSimulator(KEY);

  before(async () => {
    startNestApp = await loadNest();
  });
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  async function start(
    validate: NestAppOptions['validate'],
    strategy?: NestAppOptions['strategy'],
    more: Pick<NestAppOptions, 'keepSessionInfo'> = {},
  ) {
    running = await startNestApp({
      zignsec: { url: zs.sim.url, apiKey: KEY },
      validate,
      ...(strategy ? { strategy } : {}),
      ...more,
    });
    return running;
  }

  describe('login', () => {
    it('should log the person in with validate(profile) returning the user, behind AuthGuard("itsme")', async () => {
      const app = await start('sync');
      const jar = new CookieJar();
      expect((await browse(`${app.url}/me`, jar)).status, 'before').to.equal(401);
      const { redirectUrl, back } = await itsmeLogin(app.url, jar, { action: 'approve', persona: 'anneleen' }, START);
      expect(new URL(redirectUrl).origin).to.equal(zs.sim.url);
      expect(back.status).to.equal(302);
      expect(back.location).to.equal('/me');
      const me = await browse(`${app.url}/me`, jar);
      expect(me.status).to.equal(200);
      expect(json(me)).to.deep.equal({ id: ANNELEEN?.sub, displayName: 'Anneleen Peeters' });
      expect(app.validated.map((profile) => profile.id)).to.deep.equal([ANNELEEN?.sub]);
    });

    it('should log the person in with an async validate(profile)', async () => {
      const app = await start('async');
      const jar = new CookieJar();
      expect((await itsmeLogin(app.url, jar, { action: 'approve' }, START)).back.location).to.equal('/me');
      expect(json(await browse(`${app.url}/me`, jar))).to.deep.equal({
        id: FLORENT?.sub,
        displayName: 'Florent Verschueren (looked up)',
      });
    });

    it('should hand validate the request first with passReqToCallback: true', async () => {
      const app = await start('request');
      const jar = new CookieJar();
      expect((await itsmeLogin(app.url, jar, { action: 'approve' }, START)).back.location).to.equal('/me');
      expect(json(await browse(`${app.url}/me`, jar))).to.deep.equal({
        id: FLORENT?.sub,
        displayName: 'Florent Verschueren',
        host: new URL(app.url).host,
      });
      expect(app.validated).to.have.length(1);
    });
  });

  describe('two tabs', () => {
    for (const keepSessionInfo of [false, true]) {
      it(`should ${keepSessionInfo ? 'keep' : 'drop'} the other tab's pending login at login with keepSessionInfo: ${keepSessionInfo}`, async () => {
        const app = await start('sync', undefined, { keepSessionInfo });
        const jar = new CookieJar();
        const one = await startItsMe(app.url, jar, START);
        const two = await startItsMe(app.url, jar, START);
        const tripTwo = await answerItsMe(two, jar, { action: 'approve', persona: 'anneleen' });
        const tripOne = await answerItsMe(one, jar, { action: 'approve' });
        expect((await browse(tripTwo.callbackUrl, jar)).location).to.equal('/me');
        const late = await browse(tripOne.callbackUrl, jar);
        expect(late.status).to.equal(keepSessionInfo ? 302 : 403);
        const me = json(await browse(`${app.url}/me`, jar)) as { id: string };
        expect(me.id, 'logged in as').to.equal(keepSessionInfo ? FLORENT?.sub : ANNELEEN?.sub);
      });
    }
  });

  describe('failures', () => {
    it('should answer 401 with the reason when the person cancels, and not log them in', async () => {
      const app = await start('sync');
      const jar = new CookieJar();
      const { back } = await itsmeLogin(app.url, jar, { action: 'cancel' }, START);
      expect(back.status).to.equal(401);
      expect(json(back)).to.include({ message: 'The itsme login was cancelled.' });
      expect((await browse(`${app.url}/me`, jar)).status).to.equal(401);
      expect(app.validated).to.deep.equal([]);
    });

    it('should answer 401 when validate returns null', async () => {
      const app = await start('refuse');
      const jar = new CookieJar();
      const { back } = await itsmeLogin(app.url, jar, { action: 'approve' }, START);
      expect(back.status).to.equal(401);
      expect(json(back)).to.include({ message: 'Login refused.' });
      expect((await browse(`${app.url}/me`, jar)).status).to.equal(401);
      expect(app.validated).to.have.length(1);
    });

    it("should answer with validate's own exception when it throws one", async () => {
      const app = await start('throw');
      const jar = new CookieJar();
      const { back } = await itsmeLogin(app.url, jar, { action: 'approve' }, START);
      expect(back.status).to.equal(401);
      expect(json(back)).to.include({ message: 'This itsme account has no customer file here.' });
      expect((await browse(`${app.url}/me`, jar)).status).to.equal(401);
    });

    it('should refuse a replayed callback with 403, without asking ZignSec or running validate again', async () => {
      const app = await start('sync');
      const jar = new CookieJar();
      const { callbackUrl, back } = await itsmeLogin(app.url, jar, { action: 'approve' }, START);
      expect(back.location).to.equal('/me');
      const reads = zs.resultReads();
      const replay = await browse(callbackUrl, jar);
      expect(replay.status).to.equal(403);
      expect(json(replay)).to.include({ statusCode: 403 });
      expect(zs.resultReads()).to.equal(reads);
      expect(app.validated).to.have.length(1);
      expect((await browse(`${app.url}/me`, jar)).status, 'still logged in').to.equal(200);
    });

    it("should refuse another browser's callback with 403 and let the right browser finish", async () => {
      const app = await start('sync');
      const owner = new CookieJar();
      const trip = await answerItsMe(await startItsMe(app.url, owner, START), owner, { action: 'approve' });
      const other = new CookieJar();
      expect((await browse(trip.callbackUrl, other)).status).to.equal(403);
      expect((await browse(`${app.url}/me`, other)).status).to.equal(401);
      expect((await browse(trip.callbackUrl, owner)).location).to.equal('/me');
      expect((await browse(`${app.url}/me`, owner)).status).to.equal(200);
    });
  });

  describe('verify time limit', () => {
    for (const kind of ['sync', 'async', 'request'] as const) {
      it(`should log in through Nest's validate wrapper (length 0, done before its promise resolves) under a short verifyTimeout: ${kind}`, async () => {
        const guard = guardProcess();
        try {
          const app = await start(kind, { verifyTimeout: 200 });
          const jar = new CookieJar();
          expect((await itsmeLogin(app.url, jar, { action: 'approve' }, START)).back.location).to.equal('/me');
          await new Promise((resolve) => setTimeout(resolve, 300));
          const me = await browse(`${app.url}/me`, jar);
          expect(me.status, 'still logged in after the time limit').to.equal(200);
          expect((json(me) as { id: string }).id).to.equal(FLORENT?.sub);
          await guard.assertClean();
        } finally {
          guard.dispose();
        }
      });
    }

    it('should answer a validate that never settles with ERR_ITSME_VERIFY_TIMEOUT once verifyTimeout has passed', async () => {
      const app = await start('hang', { verifyTimeout: 150 });
      const jar = new CookieJar();
      const { back } = await itsmeLogin(app.url, jar, { action: 'approve' }, START);
      expect(back.status).to.equal(500);
      expect(json(back)).to.deep.equal({ statusCode: 500, code: 'ERR_ITSME_VERIFY_TIMEOUT' });
      expect((await browse(`${app.url}/me`, jar)).status).to.equal(401);
      expect(app.validated).to.have.length(1);
    });
  });

  describe('on Node 20', () => {
    it("should check an upload's type with @nestjs/common's FileTypeValidator (file-type 22 declares Node >= 22)", async () => {
      const { FileTypeValidator } = await import('@nestjs/common');
      const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');
      const validator = new FileTypeValidator({ fileType: 'image/png' });
      expect(await validator.isValid({ mimetype: 'image/png', buffer: png, size: png.length } as never)).to.equal(true);
      const text = Buffer.from('not an image at all, just text');
      expect(await validator.isValid({ mimetype: 'image/png', buffer: text, size: text.length } as never)).to.equal(
        false,
      );
    });
  });
});
