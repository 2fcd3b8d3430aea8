import { expect } from 'chai';
import express from 'express';
import {
  createWebhookHandler,
  ItsMeClient,
  ItsMeError,
  type ItsMeProfile,
  type ItsMeResult,
  signWebhook,
  type WebhookHandlerOptions,
} from '../lib/index.js';
import { type ItsMeSimulator, startSimulator } from '../lib/simulator/index.js';
import { type Listening, listen } from './support/http.js';

const API_KEY = 'mobile-flow-key-3e8a51';
const WEBHOOK_SECRET = 'mobile-whsec-90b2';

interface Received {
  result: ItsMeResult;
  profile: ItsMeProfile | null;
}

/**
 * A mobile app's backend, as a real Express 5 app: the app asks it to start a login, opens the
 * `redirectUrl` it gets (app-to-app), and long-polls for the outcome; ZignSec's webhook lands on
 * `/webhooks/zignsec`. No browser session, no Passport redirect dance.
 */
interface Backend {
  url: string;
  received: Map<string, Received[]>;
  aborted: string[];
  close(): Promise<void>;
}

async function startBackend(
  sim: ItsMeSimulator,
  webhook: Partial<WebhookHandlerOptions> | false = {},
): Promise<Backend> {
  const app = express();
  const client = new ItsMeClient({ apiKey: API_KEY, baseURL: sim.url });
  const received = new Map<string, Received[]>();
  const aborted: string[] = [];
  let base = '';
  if (webhook) {
    app.post(
      '/webhooks/zignsec',
      createWebhookHandler({
        client,
        apiKey: API_KEY,
        signature: 'hex',
        onResult: (result, profile) => {
          received.set(result.id, [...(received.get(result.id) ?? []), { result, profile }]);
        },
        onError: () => {},
        ...webhook,
      }),
    );
  }
  app.post('/api/itsme/sessions', express.json(), async (_req, res) => {
    const { id, redirectUrl } = await client.start({
      language: 'nl',
      ...(webhook ? { webhook: `${base}/webhooks/zignsec` } : {}),
    });
    res.status(201).json({ id, redirectUrl });
  });
  app.get('/api/itsme/sessions/:id/result', async (req, res) => {
    const controller = new AbortController();
    res.on('close', () => controller.abort());
    try {
      const result = await client.waitForResult(req.params.id, {
        timeout: 15_000,
        interval: 100,
        maxInterval: 200,
        signal: controller.signal,
      });
      if (result.errors.length > 0) {
        res.status(401).json({ errors: result.errors });
        return;
      }
      res.json(client.toProfile(result));
    } catch (err) {
      if (err instanceof ItsMeError && err.code === 'ERR_ITSME_ABORTED') aborted.push(req.params.id);
      else res.status(502).json({ code: (err as ItsMeError).code ?? null });
    }
  });
  const server: Listening = await listen(app);
  base = server.url;
  return { url: server.url, received, aborted, close: () => server.close() };
}

/** What the itsme app does: open the redirectUrl, choose a persona, press Approve or Cancel. */
async function actOnItsmePage(
  redirectUrl: string,
  action: 'approve' | 'cancel',
  persona?: string,
): Promise<{ status: number; personas: string[] }> {
  const page = await fetch(redirectUrl);
  expect(page.status).to.equal(200);
  const html = await page.text();
  const token = /name="token" value="([^"]+)"/.exec(html)?.[1];
  const formAction = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  const personas = [...html.matchAll(/name="persona" value="([^"]+)"/g)].map((m) => m[1] ?? '');
  expect(token, 'token on the itsme page').to.be.a('string');
  expect(formAction, 'form on the itsme page').to.be.a('string');
  const form = new URLSearchParams({ token: token ?? '', action });
  if (persona) form.set('persona', persona);
  const answer = await fetch(new URL(formAction ?? '', redirectUrl), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
  await answer.text();
  return { status: answer.status, personas };
}

async function startLogin(backend: Backend): Promise<{ id: string; redirectUrl: string }> {
  const response = await fetch(`${backend.url}/api/itsme/sessions`, { method: 'POST' });
  expect(response.status).to.equal(201);
  return (await response.json()) as { id: string; redirectUrl: string };
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('mobile app-to-app flow against the simulator', () => {
  let sim: ItsMeSimulator;
  let backend: Backend;
  const subOf = (persona: string) => sim.personas.find((p) => p.id === persona)?.sub;

  beforeEach(async () => {
    sim = await startSimulator({ apiKey: API_KEY, webhookBackoff: 20, webhookRetries: 3 });
    backend = await startBackend(sim);
  });
  afterEach(async () => {
    await backend.close();
    await sim.close();
  });

  it('should start, let the person approve in the itsme app, and hand the app the profile by polling', async () => {
    const { id, redirectUrl } = await startLogin(backend);
    expect(redirectUrl.startsWith(sim.url)).to.equal(true);
    const poll = fetch(`${backend.url}/api/itsme/sessions/${id}/result`);
    await until(() => (sim.session(id)?.polls ?? 0) >= 2);
    const { status, personas } = await actOnItsmePage(redirectUrl, 'approve', 'anneleen');
    expect(status).to.equal(200);
    expect(personas).to.include('anneleen');
    const response = await poll;
    expect(response.status).to.equal(200);
    const profile = (await response.json()) as ItsMeProfile;
    expect(profile.provider).to.equal('itsme');
    expect(profile.id).to.equal(subOf('anneleen'));
    expect(profile.sessionId).to.equal(id);
  });

  it('should deliver the result by signed webhook, once, with the same profile', async () => {
    const { id, redirectUrl } = await startLogin(backend);
    await actOnItsmePage(redirectUrl, 'approve', 'helene');
    await sim.webhooksIdle();
    const attempts = sim.webhookAttempts.filter((a) => a.sessionId === id);
    expect(attempts.map((a) => a.status)).to.deep.equal([200]);
    expect(backend.received.get(id)?.map((r) => r.profile?.id)).to.deep.equal([subOf('helene')]);
    // The same delivery again (a ZignSec retry) is acknowledged without a second onResult.
    const body = JSON.stringify({ id });
    const again = await fetch(`${backend.url}/webhooks/zignsec`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-zignsec-hmac-sha256': signWebhook(body, API_KEY) },
      body,
    });
    expect(again.status).to.equal(200);
    expect(backend.received.get(id)).to.have.length(1);
    // Polling after the fact gives the app the same person.
    const polled = (await (await fetch(`${backend.url}/api/itsme/sessions/${id}/result`)).json()) as ItsMeProfile;
    expect(polled.id).to.equal(subOf('helene'));
  });

  it('should tell the poller and the webhook of a cancel, with no profile', async () => {
    const { id, redirectUrl } = await startLogin(backend);
    const poll = fetch(`${backend.url}/api/itsme/sessions/${id}/result`);
    await until(() => (sim.session(id)?.polls ?? 0) >= 1);
    await actOnItsmePage(redirectUrl, 'cancel');
    const response = await poll;
    expect(response.status).to.equal(401);
    expect(((await response.json()) as { errors: { code: string }[] }).errors[0]?.code).to.equal('USER_CANCEL');
    await sim.webhooksIdle();
    const [delivered] = backend.received.get(id) ?? [];
    expect(delivered?.profile).to.equal(null);
    expect(delivered?.result.errors[0]?.code).to.equal('USER_CANCEL');
  });

  it('should never let a forged webhook show an identity the simulator did not return', async () => {
    const { id, redirectUrl } = await startLogin(backend);
    const forged = JSON.stringify({
      id,
      state: 'Finished',
      errors: [],
      providerData: JSON.stringify({ sub: 'forged-sub', name: 'Mallory Forger' }),
    });
    const post = (headers: Record<string, string>) =>
      fetch(`${backend.url}/webhooks/zignsec`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: forged,
      });
    expect((await post({})).status).to.equal(401);
    expect((await post({ 'x-zignsec-hmac-sha256': signWebhook(forged, 'guessed-key') })).status).to.equal(401);
    // Even a body signed with the right key only names a session: it is still pending at ZignSec.
    expect((await post({ 'x-zignsec-hmac-sha256': signWebhook(forged, API_KEY) })).status).to.equal(202);
    expect(backend.received.size).to.equal(0);
    await actOnItsmePage(redirectUrl, 'approve', 'florent');
    await sim.webhooksIdle();
    const seen = backend.received.get(id) ?? [];
    expect(seen.map((r) => r.profile?.id)).to.deep.equal([subOf('florent')]);
    expect(JSON.stringify(seen)).not.to.include('Mallory');
  });

  it("should accept the simulator's timestamped signature keyed with the webhook secret", async () => {
    await backend.close();
    await sim.close();
    sim = await startSimulator({ apiKey: API_KEY, webhookSignature: 'timestamped', webhookSecret: WEBHOOK_SECRET });
    backend = await startBackend(sim, { secret: WEBHOOK_SECRET, signature: 'timestamped' });
    const { id, redirectUrl } = await startLogin(backend);
    await actOnItsmePage(redirectUrl, 'approve', 'juergen');
    await sim.webhooksIdle();
    expect(sim.webhookAttempts.map((a) => a.status)).to.deep.equal([200]);
    expect(backend.received.get(id)?.[0]?.profile?.id).to.equal(subOf('juergen'));
  });

  it('should get the result on the retry when onResult failed the first delivery', async () => {
    await backend.close();
    let calls = 0;
    const handled: string[] = [];
    backend = await startBackend(sim, {
      onResult: (result, profile) => {
        calls += 1;
        if (calls === 1) throw new Error('database briefly down');
        handled.push(`${result.id}:${profile?.id}`);
      },
    });
    const { id, redirectUrl } = await startLogin(backend);
    await actOnItsmePage(redirectUrl, 'approve', 'vandenbossche');
    await sim.webhooksIdle();
    expect(sim.webhookAttempts.filter((a) => a.sessionId === id).map((a) => a.status)).to.deep.equal([500, 200]);
    expect(handled).to.deep.equal([`${id}:${subOf('vandenbossche')}`]);
  });

  it('should wait through pending answers after approval, by polling and by webhook', async () => {
    await backend.close();
    backend = await startBackend(sim, { pendingTimeout: 10_000 });
    sim.configureNextSession({ pendingPolls: 3 });
    const { id, redirectUrl } = await startLogin(backend);
    await actOnItsmePage(redirectUrl, 'approve', 'anneleen');
    await sim.webhooksIdle();
    expect(backend.received.get(id)?.map((r) => r.profile?.id)).to.deep.equal([subOf('anneleen')]);
    expect(sim.session(id)?.polls).to.be.greaterThan(3);
    const polled = (await (await fetch(`${backend.url}/api/itsme/sessions/${id}/result`)).json()) as ItsMeProfile;
    expect(polled.id).to.equal(subOf('anneleen'));
  });

  it('should stop polling ZignSec when the app goes away', async () => {
    const { id } = await startLogin(backend);
    const app = new AbortController();
    const poll = fetch(`${backend.url}/api/itsme/sessions/${id}/result`, { signal: app.signal }).catch(
      (err: Error) => err.name,
    );
    await until(() => (sim.session(id)?.polls ?? 0) >= 1);
    app.abort();
    expect(await poll).to.equal('AbortError');
    await until(() => backend.aborted.includes(id));
    const polls = sim.session(id)?.polls ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sim.session(id)?.polls).to.equal(polls);
  });
});
