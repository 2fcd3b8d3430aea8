import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import { expect } from 'chai';
import { ItsMeClient, ItsMeError, toProfile, verifyWebhookSignature } from '../lib/index.js';
import {
  DEFAULT_PERSONAS,
  type ItsMeSimulator,
  type SimulatorOptions,
  startSimulator,
} from '../lib/simulator/index.js';
import { answerItsMePage, formToken } from './support/browser.js';
import { browse, CookieJar, type Listening, listen } from './support/http.js';
import { sampleResult } from './support/zignsec-stub.js';

const KEY = 'sim-test-key-5f2b9c';
const TARGET = 'http://127.0.0.1:9/auth/callback?from=itsme&x=a%20b';
const TARGET_ERROR = 'http://127.0.0.1:9/auth/failed';

async function api(
  sim: ItsMeSimulator,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  key: string | null = KEY,
): Promise<{ status: number; text: string; json: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== null) headers.authorization = key;
  const response = await fetch(`${sim.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // left empty: the test looks at text
  }
  return { status: response.status, text, json };
}

async function start(sim: ItsMeSimulator, body: Record<string, unknown> = {}): Promise<{ id: string; url: string }> {
  const res = await api(sim, 'POST', '/v3/eid/itsme', { target: TARGET, targetError: TARGET_ERROR, ...body });
  expect(res.status, res.text).to.equal(200);
  return { id: res.json.id as string, url: res.json.redirectUrl as string };
}

/** A webhook receiver on loopback that answers with the given statuses in turn (the last one sticks). */
async function receiver(statuses: number[] = [200]) {
  const calls: { headers: IncomingHttpHeaders; body: string }[] = [];
  const server: Listening = await listen((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      calls.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = statuses[Math.min(calls.length - 1, statuses.length - 1)] ?? 200;
      res.end();
    });
  });
  return { calls, url: `${server.url}/hook`, close: () => server.close() };
}

describe('simulator', () => {
  let sim: ItsMeSimulator;
  const open: ItsMeSimulator[] = [];
  async function simulator(options: Partial<SimulatorOptions> = {}): Promise<ItsMeSimulator> {
    const s = await startSimulator({ apiKey: KEY, ...options });
    open.push(s);
    return s;
  }
  beforeEach(async () => {
    sim = await simulator();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  describe('startSimulator', () => {
    it('should listen on 127.0.0.1 on a free port', () => {
      expect(sim.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(sim.port).to.be.greaterThan(0);
    });

    it('should refuse to start without an apiKey or with bad options', async () => {
      for (const bad of [{}, { apiKey: '' }, { apiKey: KEY, sessionTtl: -1 }, { apiKey: KEY, personas: [] }]) {
        let error: unknown;
        try {
          await startSimulator(bad as SimulatorOptions);
        } catch (err) {
          error = err;
        }
        expect(error, JSON.stringify(bad)).to.be.instanceOf(TypeError);
      }
    });

    it('should refuse an empty host, which would listen on every interface with an unusable url', async () => {
      for (const host of ['', ' ']) {
        let error: unknown;
        try {
          await startSimulator({ apiKey: KEY, host });
        } catch (err) {
          error = err;
        }
        expect(error, JSON.stringify(host)).to.be.instanceOf(TypeError);
        expect((error as Error).message).to.match(/startSimulator host option/);
      }
    });

    it('should answer 400 in JSON, not a 500, to a request target no URL parser takes', async () => {
      const { port } = new URL(sim.url);
      const reply = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () =>
          socket.write('GET http://[ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n'),
        );
        let text = '';
        socket.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
      expect(reply.split('\r\n')[0]).to.equal('HTTP/1.1 400 Bad Request');
      expect(reply).to.include('"INVALID_REQUEST"');
    });
  });

  describe('POST /v3/eid/itsme', () => {
    it('should answer an id, a redirectUrl and an empty errors list', async () => {
      const res = await api(sim, 'POST', '/v3/eid/itsme', { relaystate: 'abc', target: TARGET, language: 'nl' });
      expect(res.status).to.equal(200);
      expect(Object.keys(res.json)).to.deep.equal(['id', 'redirectUrl', 'errors']);
      expect(res.json.errors).to.deep.equal([]);
      expect(res.json.redirectUrl).to.equal(`${sim.url}/itsme/authorize/${res.json.id}`);
      expect(sim.session(res.json.id as string)?.request).to.deep.equal({
        relaystate: 'abc',
        target: TARGET,
        language: 'nl',
      });
    });

    it('should answer 401 with an errors list when the key is missing, wrong or has a Bearer prefix', async () => {
      for (const key of [null, 'wrong', `Bearer ${KEY}`]) {
        const res = await api(sim, 'POST', '/v3/eid/itsme', { target: TARGET }, key);
        expect(res.status, String(key)).to.equal(401);
        expect((res.json.errors as { code: string }[])[0]?.code).to.equal('UNAUTHORIZED');
      }
      expect(sim.sessionCount).to.equal(0);
    });

    it('should report each bad URL with its own error code', async () => {
      const res = await api(sim, 'POST', '/v3/eid/itsme', {
        target: 'javascript:alert(1)',
        targetError: '/relative',
        webhook: 'ftp://127.0.0.1/x',
      });
      expect(res.status).to.equal(400);
      expect((res.json.errors as { code: string }[]).map((e) => e.code)).to.deep.equal([
        'INVALID_TARGET',
        'INVALID_TARGETERROR',
        'INVALID_WEBHOOK',
      ]);
      expect(sim.sessionCount).to.equal(0);
    });

    it('should answer INVALID_REQUEST for a body that is not a JSON object', async () => {
      for (const body of ['{"target":', '[1,2]', '"text"', 'null']) {
        const res = await api(sim, 'POST', '/v3/eid/itsme', body);
        expect(res.status, body).to.equal(400);
        expect((res.json.errors as { code: string }[])[0]?.code, body).to.equal('INVALID_REQUEST');
      }
    });

    it('should answer 413 for a body over 64 KiB', async () => {
      const res = await api(sim, 'POST', '/v3/eid/itsme', { relaystate: 'x'.repeat(70_000) });
      expect(res.status).to.equal(413);
    });

    it('should ignore a language it does not support, as ZignSec documents', async () => {
      const { id } = await start(sim, { language: 'es' });
      expect(sim.session(id)?.request.language).to.equal(undefined);
    });
  });

  describe('GET /v3/eid/itsme/{id}', () => {
    it('should answer Pending until the person acts', async () => {
      const { id } = await start(sim);
      const res = await api(sim, 'GET', `/v3/eid/itsme/${id}`);
      expect(res.status).to.equal(200);
      expect(res.json).to.include({ id, state: 'Pending' });
      expect(res.json.errors).to.deep.equal([]);
    });

    it("should answer the finished result in the exact shape of ZignSec's document", async () => {
      const { id } = await start(sim);
      sim.approve(id, 'florent');
      const res = await api(sim, 'GET', `/v3/eid/itsme/${id}`);
      const sample = sampleResult(id);
      expect(Object.keys(res.json)).to.deep.equal(Object.keys(sample));
      const identity = res.json.identity as Record<string, unknown>;
      expect(Object.keys(identity)).to.deep.equal(Object.keys(sample.identity as object));
      expect(identity).to.include({
        firstName: 'Florent Verschueren',
        lastName: 'Verschueren',
        fullName: 'Florent Verschueren Verschueren',
        personalNumber: '',
        addressInfoRaw: 'Havenlaan 2,Brussel,1000',
        idProviderName: 'ItsMe',
      });
      expect(identity.identificationDate).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
      expect(res.json.providerData).to.be.a('string');
      const claims = JSON.parse(res.json.providerData as string) as Record<string, unknown>;
      const sampleClaims = JSON.parse(sample.providerData as string) as Record<string, unknown>;
      expect(Object.keys(claims)).to.deep.equal(Object.keys(sampleClaims));
      expect({ ...claims, email: null }).to.deep.equal({ ...sampleClaims, email: null });
      expect(claims.address).to.be.a('string');
      expect(JSON.parse(claims.address as string)).to.deep.equal(claims.ParsedAddress);
    });

    it("should give every built-in persona a result the strategy's client maps to a profile", async () => {
      const client = new ItsMeClient({ apiKey: KEY, baseURL: sim.url });
      const profiles = [];
      for (const persona of DEFAULT_PERSONAS) {
        const { id } = await start(sim);
        sim.approve(id, persona.id);
        profiles.push(toProfile(await client.getResult(id)));
      }
      expect(profiles.map((p) => p.displayName)).to.deep.equal([
        'Florent Verschueren',
        'Anneleen Peeters',
        'Hélène Dubois-Lefèvre',
        'Van den Bossche',
        'Jürgen Schmitz',
      ]);
      expect(new Set(profiles.map((p) => p.id)).size).to.equal(DEFAULT_PERSONAS.length);
      expect(profiles[2]?.emails).to.equal(undefined);
      expect(profiles[3]?.name).to.deep.equal({ familyName: 'Van den Bossche' });
      expect(profiles[4]?.addresses?.[0]).to.include({ locality: 'Eupen', streetAddress: 'Klosterstraße 4' });
      expect(new Set(profiles.map((p) => p.birthday?.slice(0, 4))).size).to.equal(DEFAULT_PERSONAS.length);
    });

    it('should answer an errors list with USER_CANCEL after a cancel, or CANCELLED when configured', async () => {
      const { id } = await start(sim);
      sim.cancel(id);
      const res = await api(sim, 'GET', `/v3/eid/itsme/${id}`);
      expect(res.status).to.equal(200);
      expect((res.json.errors as { code: string }[]).map((e) => e.code)).to.deep.equal(['USER_CANCEL']);
      expect(res.json.identity).to.equal(null);

      const other = await simulator({ cancelCode: 'CANCELLED' });
      const second = await start(other);
      other.cancel(second.id);
      const res2 = await api(other, 'GET', `/v3/eid/itsme/${second.id}`);
      expect((res2.json.errors as { code: string }[])[0]?.code).to.equal('CANCELLED');
    });

    it('should answer 404 SESSION_NOT_FOUND for an unknown id and 401 for a wrong key', async () => {
      const unknown = await api(sim, 'GET', '/v3/eid/itsme/0b7a0a56-0000-4000-8000-000000000000');
      expect(unknown.status).to.equal(404);
      expect((unknown.json.errors as { code: string }[])[0]?.code).to.equal('SESSION_NOT_FOUND');
      const { id } = await start(sim);
      const wrongKey = await api(sim, 'GET', `/v3/eid/itsme/${id}`, undefined, 'nope');
      expect(wrongKey.status).to.equal(401);
    });
  });

  describe('itsme screen', () => {
    it('should post its form back through the path of a publicUrl (a reverse proxy with a prefix)', async () => {
      const prefixed = await simulator({ publicUrl: 'http://127.0.0.1:1/zignsec-sim' });
      // The proxy strips /zignsec-sim: call the simulator the way the proxy would.
      const direct = `http://127.0.0.1:${prefixed.port}`;
      const started = await fetch(`${direct}/v3/eid/itsme`, {
        method: 'POST',
        headers: { authorization: KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ target: TARGET }),
      });
      const { id, redirectUrl: url } = (await started.json()) as { id: string; redirectUrl: string };
      expect(url).to.equal(`http://127.0.0.1:1/zignsec-sim/itsme/authorize/${id}`);
      const page = await browse(`${direct}/itsme/authorize/${id}`, new CookieJar());
      const action = /<form method="post" action="([^"]+)"/.exec(page.body)?.[1] ?? '';
      // Resolved against the page's public address, the form posts back through the prefix.
      expect(new URL(action, url).pathname).to.equal(`/zignsec-sim/itsme/authorize/${id}`);
    });

    it("should show the persons and the buttons in the session's language", async () => {
      const expected = { nl: 'Bevestigen', fr: 'Confirmer', de: 'Bestätigen', en: 'Confirm' } as const;
      for (const [language, approve] of Object.entries(expected)) {
        const { url } = await start(sim, { language });
        const page = await browse(url, new CookieJar());
        expect(page.status).to.equal(200);
        expect(page.body).to.include(`<html lang="${language}">`);
        expect(page.body).to.include(`value="approve" class="approve">${approve}</button>`);
        for (const persona of DEFAULT_PERSONAS) expect(page.body).to.include(`value="${persona.id}"`);
      }
      expect((await browse((await start(sim)).url, new CookieJar())).body).to.include('lang="en"');
    });

    it("should fall back on the browser's Accept-Language when the session has none", async () => {
      const { url } = await start(sim);
      const page = await browse(url, new CookieJar(), { headers: { 'accept-language': 'nl-BE,nl;q=0.9' } });
      expect(page.body).to.include('Kies een testpersoon');
    });

    it('should escape what it shows and forbid framing', async () => {
      const evil = await simulator({
        personas: [
          { ...(DEFAULT_PERSONAS[0] as (typeof DEFAULT_PERSONAS)[0]), givenName: '<script>alert(1)</script>' },
        ],
      });
      const { url } = await start(evil, { target: 'http://a"b.example/cb' });
      const page = await browse(url, new CookieJar());
      expect(page.body).not.to.include('<script>');
      expect(page.body).to.include('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(page.headers.get('x-frame-options')).to.equal('DENY');
      expect(page.headers.get('content-security-policy')).to.include("default-src 'none'");
    });

    it('should send the browser to target with relaystate appended after approval, keeping the query', async () => {
      const { url, id } = await start(sim, { relaystate: 'rs_123-ABC' });
      const { answer } = await answerItsMePage(url, new CookieJar(), { action: 'approve', persona: 'anneleen' });
      expect(answer.status).to.equal(302);
      expect(answer.location).to.equal(`${TARGET}&relaystate=rs_123-ABC`);
      expect(sim.session(id)).to.include({ status: 'approved', personaId: 'anneleen' });
      const res = await api(sim, 'GET', `/v3/eid/itsme/${id}`);
      expect(JSON.parse(res.json.providerData as string).given_name).to.equal('Anneleen');
    });

    it('should send the browser to targetError after a cancel, with the session id when no relaystate was sent', async () => {
      const { url, id } = await start(sim);
      const { answer } = await answerItsMePage(url, new CookieJar(), { action: 'cancel' });
      expect(answer.location).to.equal(`${TARGET_ERROR}?relaystate=${id}`);
      expect(sim.session(id)?.status).to.equal('cancelled');
    });

    it('should not let a GET or a form without its token approve, nor a second answer change the first', async () => {
      const { url, id } = await start(sim, { relaystate: 'one' });
      const jar = new CookieJar();
      const getAction = await browse(`${url}?action=approve&persona=florent`, jar);
      expect(getAction.status).to.equal(200);
      const forged = await browse(url, jar, {
        method: 'POST',
        body: 'action=approve&persona=florent&token=guess',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(forged.status).to.equal(403);
      expect(sim.session(id)?.status).to.equal('pending');
      const page = await browse(url, jar);
      await answerItsMePage(url, jar, { action: 'cancel' });
      const again = await browse(url, jar, {
        method: 'POST',
        body: `action=approve&persona=florent&token=${formToken(page.body)}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(again.status).to.equal(409);
      expect(sim.session(id)?.status).to.equal('cancelled');
    });

    it('should let the page expire the request or end it in a ZignSec error, with the result and the way back', async () => {
      const hook = await receiver();
      try {
        const expired = await start(sim, { relaystate: 'late', webhook: hook.url });
        const page = await browse(expired.url, new CookieJar());
        expect(page.body).to.include('value="expire">Let it expire</button>');
        expect(page.body).to.include('value="error">ZignSec error</button>');
        const one = await answerItsMePage(expired.url, new CookieJar(), { action: 'expire' });
        expect(one.answer.location).to.equal(`${TARGET_ERROR}?relaystate=late`);
        expect(sim.session(expired.id)?.status).to.equal('expired');
        const late = await api(sim, 'GET', `/v3/eid/itsme/${expired.id}`);
        expect(late.json.errors).to.deep.equal([
          { code: 'EXPIRED_TRANSACTION', description: 'The itsme session expired' },
        ]);
        const failed = await start(sim, { relaystate: 'broken', webhook: hook.url });
        const two = await answerItsMePage(failed.url, new CookieJar(), { action: 'error' });
        expect(two.answer.location).to.equal(`${TARGET_ERROR}?relaystate=broken`);
        expect(sim.session(failed.id)?.status).to.equal('failed');
        const error = await api(sim, 'GET', `/v3/eid/itsme/${failed.id}`);
        expect((error.json.errors as { code: string }[])[0]?.code).to.equal('Internal Exception');
        await sim.webhooksIdle();
        const codes = hook.calls.map((c) => (JSON.parse(c.body) as { errors: { code: string }[] }).errors[0]?.code);
        expect(codes).to.deep.equal(['EXPIRED_TRANSACTION', 'Internal Exception']);
        const again = await browse(failed.url, new CookieJar());
        expect(again.status).to.equal(409);
      } finally {
        await hook.close();
      }
    });

    it('should link an already answered request back to the site it came from', async () => {
      const { url } = await start(sim, { language: 'nl' });
      await answerItsMePage(url, new CookieJar(), { action: 'approve' });
      const again = await browse(url, new CookieJar());
      expect(again.status).to.equal(409);
      expect(again.body).to.include('Deze itsme-aanvraag werd al beantwoord.');
      expect(again.body).to.include('<a class="button approve" href="http://127.0.0.1:9/">Terug naar de website</a>');
    });

    it('should put a narrow no-break space before the colon in French, and none in English', async () => {
      const fr = await browse((await start(sim, { language: 'fr' })).url, new CookieJar());
      expect(fr.body).to.include('<strong>Données partagées\u202f:</strong>');
      expect(fr.body).to.include('Simulateur\u202f: aucune identité');
      const en = await browse((await start(sim, { language: 'en' })).url, new CookieJar());
      expect(en.body).to.include('<strong>Data to be shared:</strong>');
    });

    it('should serve its icon, so that a browser logs no error', async () => {
      const icon = await fetch(`${sim.url}/favicon.svg`);
      expect(icon.status).to.equal(200);
      expect(icon.headers.get('content-type')).to.equal('image/svg+xml');
      expect(await icon.text()).to.match(/^<svg /);
      const page = await browse((await start(sim)).url, new CookieJar());
      expect(page.body).to.include('<link rel="icon" href="/favicon.svg"');
      expect(page.headers.get('content-security-policy')).to.include("img-src 'self'");
    });

    it('should show a page instead of redirecting when the session has no target', async () => {
      const res = await api(sim, 'POST', '/v3/eid/itsme', {});
      const { answer } = await answerItsMePage(res.json.redirectUrl as string, new CookieJar(), { action: 'approve' });
      expect(answer.status).to.equal(200);
      expect(answer.body).to.include('You can close this window.');
    });
  });

  describe('webhook', () => {
    it('should post the result signed with the hex HMAC-SHA256 of the raw body, keyed with the API key', async () => {
      const hook = await receiver();
      try {
        const { id } = await start(sim, { webhook: hook.url });
        sim.approve(id, 'helene');
        await sim.webhooksIdle();
        expect(hook.calls).to.have.length(1);
        const call = hook.calls[0] as (typeof hook.calls)[0];
        const expected = createHmac('sha256', KEY).update(call.body).digest('hex');
        expect(call.headers['x-zignsec-hmac-sha256']).to.equal(expected);
        expect(call.headers['content-type']).to.equal('application/json');
        const posted = JSON.parse(call.body) as Record<string, unknown>;
        const fetched = await api(sim, 'GET', `/v3/eid/itsme/${id}`);
        expect(posted).to.deep.equal(fetched.json);
      } finally {
        await hook.close();
      }
    });

    it('should sign as t=<seconds>,v1=<hex> over "<t>.<body>" with the webhook secret when asked', async () => {
      const hook = await receiver();
      const timed = await simulator({ webhookSignature: 'timestamped', webhookSecret: 'whsec' });
      try {
        const { id } = await start(timed, { webhook: hook.url });
        timed.cancel(id);
        await timed.webhooksIdle();
        const call = hook.calls[0] as (typeof hook.calls)[0];
        const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(call.headers['x-zignsec-hmac-sha256']));
        expect(match).to.not.equal(null);
        const [, t, v1] = match as RegExpExecArray;
        expect(v1).to.equal(createHmac('sha256', 'whsec').update(`${t}.${call.body}`).digest('hex'));
        expect(JSON.parse(call.body).errors[0].code).to.equal('USER_CANCEL');
      } finally {
        await hook.close();
      }
    });

    it('should sign a timestamped webhook with the real time, not the test clock, so receivers accept it', async () => {
      const hook = await receiver();
      let now = Date.now();
      const timed = await simulator({
        clock: () => now,
        webhookSignature: 'timestamped',
        webhookSecret: 'whsec',
        webhookRetries: 0,
      });
      try {
        const { id } = await start(timed, { webhook: hook.url });
        now += 11 * 60_000; // the documented way to test expiry: move the clock past sessionTtl
        expect(timed.session(id)?.status).to.equal('expired');
        await timed.webhooksIdle();
        const call = hook.calls[0] as (typeof hook.calls)[0];
        const check = verifyWebhookSignature(call.headers['x-zignsec-hmac-sha256'], Buffer.from(call.body), 'whsec');
        expect(check).to.deep.equal({ ok: true, format: 'timestamped' });
      } finally {
        await hook.close();
      }
    });

    it('should retry on a non-2xx answer until the receiver accepts it', async () => {
      const hook = await receiver([500, 503, 204]);
      const retrying = await simulator({ webhookBackoff: 10, webhookRetries: 5 });
      try {
        const { id } = await start(retrying, { webhook: hook.url });
        retrying.approve(id);
        await retrying.webhooksIdle();
        expect(hook.calls).to.have.length(3);
        expect(new Set(hook.calls.map((c) => c.body)).size).to.equal(1);
        expect(retrying.webhookAttempts.map((a) => a.status)).to.deep.equal([500, 503, 204]);
      } finally {
        await hook.close();
      }
    });

    it('should give up after its retries when the receiver is down, and keep serving', async () => {
      const hook = await receiver();
      await hook.close();
      const retrying = await simulator({ webhookBackoff: 5, webhookRetries: 2 });
      const { id } = await start(retrying, { webhook: hook.url });
      retrying.approve(id);
      await retrying.webhooksIdle();
      expect(retrying.webhookAttempts).to.have.length(3);
      expect(retrying.webhookAttempts.every((a) => a.status === undefined && a.error)).to.equal(true);
      expect((await api(retrying, 'GET', `/v3/eid/itsme/${id}`)).json.state).to.equal('Finished');
    });
  });

  describe('fault injection', () => {
    it('should answer a forced status to the next start call only, without creating a session', async () => {
      sim.failNext('start', { status: 503 });
      const failed = await api(sim, 'POST', '/v3/eid/itsme', { target: TARGET });
      expect(failed.status).to.equal(503);
      expect(failed.json.errors).to.be.an('array').that.is.not.empty;
      expect(sim.sessionCount).to.equal(0);
      await start(sim);
      expect(sim.sessionCount).to.equal(1);
    });

    it('should send a malformed body, or an exact body, when asked', async () => {
      const { id } = await start(sim);
      sim.failNext('result', { malformed: true });
      sim.failNext('result', { body: { id, state: 'Finished', errors: ['ALREADY_COLLECTED'] } });
      const malformed = await api(sim, 'GET', `/v3/eid/itsme/${id}`);
      expect(malformed.status).to.equal(200);
      expect(() => JSON.parse(malformed.text)).to.throw();
      expect((await api(sim, 'GET', `/v3/eid/itsme/${id}`)).json.errors).to.deep.equal(['ALREADY_COLLECTED']);
      expect((await api(sim, 'GET', `/v3/eid/itsme/${id}`)).json.state).to.equal('Pending');
    });

    it('should delay or drop an answer so that the client sees a timeout or a network error', async () => {
      const { id } = await start(sim);
      const client = new ItsMeClient({ apiKey: KEY, baseURL: sim.url, timeout: 200 });
      sim.failNext('result', { delay: 5000 });
      const slow = await client.getResult(id).catch((err: unknown) => err);
      expect(slow).to.be.instanceOf(ItsMeError).with.property('code', 'ERR_ZIGNSEC_TIMEOUT');
      sim.failNext('result', { drop: true });
      const dropped = await client.getResult(id).catch((err: unknown) => err);
      expect(dropped).to.be.instanceOf(ItsMeError).with.property('code', 'ERR_ZIGNSEC_NETWORK');
      expect((await client.getResult(id)).state).to.equal('Pending');
    });

    it('should keep a fault for a number of calls, for one session only', async () => {
      const a = await start(sim);
      const b = await start(sim);
      sim.failNext('result', { status: 500 }, { times: 2, sessionId: a.id });
      expect((await api(sim, 'GET', `/v3/eid/itsme/${b.id}`)).status).to.equal(200);
      expect((await api(sim, 'GET', `/v3/eid/itsme/${a.id}`)).status).to.equal(500);
      expect((await api(sim, 'GET', `/v3/eid/itsme/${a.id}`)).status).to.equal(500);
      expect((await api(sim, 'GET', `/v3/eid/itsme/${a.id}`)).status).to.equal(200);
    });

    it('should answer Pending a given number of times after the person approved, then Finished', async () => {
      sim.configureNextSession({ pendingPolls: 2 });
      const { id } = await start(sim);
      sim.approve(id);
      const states = [];
      for (let i = 0; i < 4; i++) states.push((await api(sim, 'GET', `/v3/eid/itsme/${id}`)).json.state);
      expect(states).to.deep.equal(['Pending', 'Pending', 'Finished', 'Finished']);
      const next = await start(sim);
      sim.approve(next.id);
      expect((await api(sim, 'GET', `/v3/eid/itsme/${next.id}`)).json.state).to.equal('Finished');
    });

    it('should leave sub out when asked, so that the profile cannot be built', async () => {
      const { id } = await start(sim);
      sim.configureSession(id, { withoutSub: true });
      sim.approve(id);
      const result = await new ItsMeClient({ apiKey: KEY, baseURL: sim.url }).getResult(id);
      expect(result.providerData).to.not.have.property('sub');
      expect(() => toProfile(result))
        .to.throw(ItsMeError)
        .with.property('code', 'ERR_ITSME_NO_SUBJECT');
    });

    it('should apply a session-wide result fault to every poll of that session', async () => {
      const broken = await simulator({ session: { result: { status: 502 } } });
      const { id } = await start(broken);
      expect((await api(broken, 'GET', `/v3/eid/itsme/${id}`)).status).to.equal(502);
      expect((await api(broken, 'GET', `/v3/eid/itsme/${id}`)).status).to.equal(502);
    });
  });

  describe('expiry and memory', () => {
    let now = Date.UTC(2026, 0, 5, 9, 0, 0);
    const clock = () => now;

    it('should expire an unanswered session: the result says so, the page too, and the form goes to targetError', async () => {
      const hook = await receiver();
      const timed = await simulator({ clock, sessionTtl: 60_000, retention: 60_000 });
      try {
        const { id, url } = await start(timed, { relaystate: 'late-one', webhook: hook.url });
        const page = await browse(url, new CookieJar());
        now += 60_001;
        const res = await api(timed, 'GET', `/v3/eid/itsme/${id}`);
        expect((res.json.errors as { code: string }[])[0]?.code).to.equal('EXPIRED_TRANSACTION');
        const expired = await browse(url, new CookieJar());
        expect(expired.status).to.equal(410);
        expect(expired.body).to.include('This itsme request has expired.');
        const late = await browse(url, new CookieJar(), {
          method: 'POST',
          body: `action=approve&persona=florent&token=${formToken(page.body)}`,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
        expect(late.location).to.equal(`${TARGET_ERROR}?relaystate=late-one`);
        expect(timed.session(id)?.status).to.equal('expired');
        await timed.webhooksIdle();
        expect(JSON.parse(hook.calls[0]?.body ?? '{}').errors[0].code).to.equal('EXPIRED_TRANSACTION');
      } finally {
        await hook.close();
      }
    });

    it('should forget a session after its retention: its id is then unknown', async () => {
      const timed = await simulator({ clock, sessionTtl: 1000, retention: 5000 });
      const { id } = await start(timed);
      timed.approve(id);
      now += 5999;
      expect((await api(timed, 'GET', `/v3/eid/itsme/${id}`)).status).to.equal(200);
      now += 2;
      expect((await api(timed, 'GET', `/v3/eid/itsme/${id}`)).status).to.equal(404);
    });

    it('should hold no more than maxSessions, dropping the oldest', async () => {
      const small = await simulator({ maxSessions: 5 });
      const ids = [];
      for (let i = 0; i < 8; i++) ids.push((await start(small)).id);
      expect(small.sessionCount).to.equal(5);
      for (const id of ids.slice(0, 3)) expect((await api(small, 'GET', `/v3/eid/itsme/${id}`)).status).to.equal(404);
      for (const id of ids.slice(3)) expect((await api(small, 'GET', `/v3/eid/itsme/${id}`)).status).to.equal(200);
    });
  });

  describe('command line', () => {
    const children: ChildProcess[] = [];
    afterEach(() => {
      for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    });

    function run(args: string[]): { child: ChildProcess; output: () => string } {
      const child = spawn(process.execPath, ['--import', 'tsx', 'lib/simulator/cli.ts', ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ZIGNSEC_API_KEY: '' },
      });
      children.push(child);
      let output = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.stderr?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      return { child, output: () => output };
    }

    it('should serve with the given key on the given port and stop cleanly on SIGTERM', async () => {
      const { child, output } = run(['--port', '0', '--api-key', 'cli-key']);
      while (!/listening on (http:\S+)/.test(output())) {
        if (child.exitCode !== null) throw new Error(output());
        await once(child.stdout as NodeJS.ReadableStream, 'data');
      }
      const url = /listening on (http:\S+)/.exec(output())?.[1] as string;
      expect(output()).not.to.include('cli-key');
      const ok = await fetch(`${url}/v3/eid/itsme`, {
        method: 'POST',
        headers: { authorization: 'cli-key' },
        body: '{}',
      });
      expect(ok.status).to.equal(200);
      const refused = await fetch(`${url}/v3/eid/itsme`, {
        method: 'POST',
        headers: { authorization: 'x' },
        body: '{}',
      });
      expect(refused.status).to.equal(401);
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).to.equal(0);
      expect(output()).to.include('[simulator] POST /v3/eid/itsme 200');
    });

    it('should print a key it made up, and refuse a bad option with exit code 2', async () => {
      const bad = run(['--port', 'eighty']);
      const [code] = (await once(bad.child, 'exit')) as [number | null];
      expect(code).to.equal(2);
      expect(bad.output()).to.include('--port must be an integer');
      const help = run(['--help']);
      await once(help.child, 'exit');
      expect(help.output()).to.include('Usage: passport-itsme-simulator');
      const generated = run(['--port', '0', '--quiet']);
      while (!/API key: (sim-\S+)/.test(generated.output())) {
        if (generated.child.exitCode !== null) throw new Error(generated.output());
        await once(generated.child.stdout as NodeJS.ReadableStream, 'data');
      }
      const key = /API key: (sim-\S+)/.exec(generated.output())?.[1] as string;
      const url = /listening on (http:\S+)/.exec(generated.output())?.[1] as string;
      const ok = await fetch(`${url}/v3/eid/itsme`, { method: 'POST', headers: { authorization: key }, body: '{}' });
      expect(ok.status).to.equal(200);
      generated.child.kill('SIGTERM');
      await once(generated.child, 'exit');
    });
  });
});
