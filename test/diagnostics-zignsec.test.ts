import { AsyncLocalStorage } from 'node:async_hooks';
import diagnostics_channel from 'node:diagnostics_channel';
import type http from 'node:http';
import { expect } from 'chai';
import { ItsMeClient, ItsMeError } from '../lib/index.js';
import { guardProcess, type ProcessGuard, realNetwork } from './support/guards.js';
import { type Listening, listen } from './support/http.js';
import { rejection } from './support/rejection.js';
import { findSecret } from './support/secret-scan.js';
import { sampleResult } from './support/zignsec-stub.js';

/** The public name of the channel (an exact contract). */
const CHANNELS = { zignsec: 'passport-itsme:zignsec' } as const;
const API_KEY = 'zs-TRACE-KEY-must-not-leak-3e1f';
const ID = '3c1d4e8f-9a6b-4c2d-8e3f-4a5b6c7d8e9f';
const RELAY = 'relaystate-in-the-body-7a9c';
const SUB = '1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9';

type EventName = 'start' | 'end' | 'asyncStart' | 'asyncEnd' | 'error';
interface Seen {
  event: EventName;
  context: Record<string, unknown>;
}

/** Subscribes to every event of the ZignSec tracing channel, recording copies of the context. */
function record(): { seen: Seen[]; contexts: Set<object>; dispose(): void } {
  const seen: Seen[] = [];
  const contexts = new Set<object>();
  const channel = diagnostics_channel.tracingChannel(CHANNELS.zignsec);
  const on = (event: EventName) => (message: unknown) => {
    contexts.add(message as object);
    seen.push({ event, context: { ...(message as Record<string, unknown>) } });
  };
  const handlers = {
    start: on('start'),
    end: on('end'),
    asyncStart: on('asyncStart'),
    asyncEnd: on('asyncEnd'),
    error: on('error'),
  };
  channel.subscribe(handlers);
  return { seen, contexts, dispose: () => channel.unsubscribe(handlers) };
}

describe('ZignSec tracing channel', () => {
  let restoreNock: () => void;
  let guard: ProcessGuard;
  let server: Listening;
  let status = 200;

  before(async () => {
    restoreNock = realNetwork();
    server = await listen((req: http.IncomingMessage, res: http.ServerResponse) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(status, { 'content-type': 'application/json' });
        if (status !== 200) res.end(JSON.stringify({ errors: [{ code: 'Internal Exception' }] }));
        else if (req.method === 'POST')
          res.end(JSON.stringify({ id: ID, redirectUrl: 'https://itsme.example/go', errors: [] }));
        else res.end(JSON.stringify(sampleResult(ID)));
      });
    });
  });
  after(async () => {
    await server.close();
    restoreNock();
  });
  beforeEach(() => {
    status = 200;
    guard = guardProcess();
  });
  afterEach(async () => {
    try {
      await guard.assertClean();
    } finally {
      guard.dispose();
    }
  });

  const client = (baseURL = server.url) => new ItsMeClient({ apiKey: API_KEY, baseURL, timeout: 2000 });

  describe('events', () => {
    it('should trace a start call: start, end, asyncStart, asyncEnd, with method, path, status and duration', async () => {
      const trace = record();
      try {
        await client().start({ relaystate: RELAY, target: 'https://bank.example/cb' });
      } finally {
        trace.dispose();
      }
      expect(trace.seen.map((s) => s.event)).to.deep.equal(['start', 'end', 'asyncStart', 'asyncEnd']);
      expect(trace.contexts.size, 'one context object for the call').to.equal(1);
      expect(trace.seen[0]?.context).to.deep.equal({ method: 'POST', path: '/v3/eid/itsme' });
      const last = trace.seen.at(-1)?.context ?? {};
      expect(Object.keys(last).sort()).to.deep.equal(['duration', 'method', 'path', 'status']);
      expect(last.status).to.equal(200);
      expect(last.duration).to.be.a('number').and.at.least(0);
    });

    it('should trace a result call with the path template and the session id, never the id in the path', async () => {
      const trace = record();
      try {
        await client().getResult(ID);
      } finally {
        trace.dispose();
      }
      expect(trace.seen.map((s) => s.event)).to.deep.equal(['start', 'end', 'asyncStart', 'asyncEnd']);
      expect(trace.seen.at(-1)?.context).to.deep.include({
        method: 'GET',
        path: '/v3/eid/itsme/{id}',
        sessionId: ID,
        status: 200,
      });
    });

    it('should publish error before asyncStart and asyncEnd on a failed call, with the status', async () => {
      status = 503;
      const trace = record();
      try {
        const err = await client()
          .getResult(ID)
          .catch((e: unknown) => e);
        expect(err).to.be.instanceOf(ItsMeError);
      } finally {
        trace.dispose();
      }
      expect(trace.seen.map((s) => s.event)).to.deep.equal(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
      const failed = trace.seen[2]?.context ?? {};
      expect(failed.status).to.equal(503);
      expect(failed.duration).to.be.a('number');
      expect(failed.error).to.be.instanceOf(ItsMeError).with.property('code', 'ERR_ZIGNSEC_HTTP_STATUS');
    });

    it('should trace a call that never reached ZignSec with an error and no status', async () => {
      const closed = await listen((_req, res) => res.end());
      const url = closed.url;
      await closed.close();
      const trace = record();
      try {
        await client(url)
          .start()
          .catch(() => {});
      } finally {
        trace.dispose();
      }
      expect(trace.seen.map((s) => s.event)).to.deep.equal(['start', 'end', 'error', 'asyncStart', 'asyncEnd']);
      const failed = trace.seen[2]?.context ?? {};
      expect(failed).to.not.have.property('status');
      expect(failed.error).to.be.instanceOf(ItsMeError).with.property('code', 'ERR_ZIGNSEC_NETWORK');
    });

    it('should run the call inside a store bound to the start channel, as APM tools bind spans', async () => {
      const store = new AsyncLocalStorage<string>();
      const start = diagnostics_channel.channel(`tracing:${CHANNELS.zignsec}:start`);
      start.bindStore(store, (context) => `span for ${(context as { path: string }).path}`);
      const seenInside: (string | undefined)[] = [];
      const onAsyncEnd = () => seenInside.push(store.getStore());
      diagnostics_channel.subscribe(`tracing:${CHANNELS.zignsec}:asyncEnd`, onAsyncEnd);
      try {
        await client().start();
      } finally {
        start.unbindStore(store);
        diagnostics_channel.unsubscribe(`tracing:${CHANNELS.zignsec}:asyncEnd`, onAsyncEnd);
      }
      expect(seenInside).to.deep.equal(['span for /v3/eid/itsme']);
    });
  });

  describe('cancelled shared reads', () => {
    it('should trace only calls that reach ZignSec, not a GET whose callers all left before it was sent', async () => {
      let requests = 0;
      const hanging = await listen((req) => {
        req.resume();
        requests += 1; // never answered: the client cancels it
      });
      const client = new ItsMeClient({ apiKey: API_KEY, baseURL: hanging.url, timeout: 2000 });
      const trace = record();
      try {
        const first = new AbortController();
        const one = rejection(client.getResult(ID, { signal: first.signal }));
        while (requests < 1) await new Promise((resolve) => setTimeout(resolve, 5));
        first.abort(); // its only caller leaves: the GET is cancelled
        const second = new AbortController();
        // Queued behind the cancelled GET (one request per id), and left before it could be sent.
        const two = rejection(client.getResult(ID, { signal: second.signal }));
        second.abort();
        expect([(await one).code, (await two).code]).to.deep.equal(['ERR_ITSME_ABORTED', 'ERR_ITSME_ABORTED']);
        await new Promise((resolve) => setTimeout(resolve, 50));
      } finally {
        trace.dispose();
        await hanging.close();
      }
      expect(requests, 'GETs ZignSec received').to.equal(1);
      expect(
        trace.seen.filter((s) => s.event === 'start'),
        'traced calls',
      ).to.have.length(1);
    });
  });

  describe('payloads', () => {
    it('should never carry the API key, the relaystate or anything of the person', async () => {
      const trace = record();
      try {
        const itsme = client();
        await itsme.start({ relaystate: RELAY, target: 'https://bank.example/cb' });
        await itsme.getResult(ID);
        status = 401;
        await itsme.getResult(ID).catch(() => {});
      } finally {
        trace.dispose();
      }
      expect(trace.seen).to.have.length(13);
      for (const secret of [API_KEY, RELAY, SUB, 'Florent', 'Verschueren', '+32 425009714', 'Havenlaan']) {
        expect(findSecret(trace.seen, secret, 12), secret).to.deep.equal([]);
        expect(findSecret([...trace.contexts], secret, 12), secret).to.deep.equal([]);
      }
      for (const { context } of trace.seen) expect(context).to.not.have.property('result');
    });
  });

  describe('without subscribers', () => {
    it('should build and publish nothing', async () => {
      const names = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'].map((e) => `tracing:${CHANNELS.zignsec}:${e}`);
      const channels = names.map((name) => diagnostics_channel.channel(name));
      expect(channels.some((c) => c.hasSubscribers)).to.equal(false);
      let used = 0;
      for (const c of channels) {
        c.publish = () => {
          used += 1;
        };
        c.runStores = ((_data: unknown, fn: () => unknown) => {
          used += 1;
          return fn();
        }) as typeof c.runStores;
      }
      try {
        const itsme = client();
        await itsme.start();
        await itsme.getResult(ID);
        status = 500;
        await itsme.getResult(ID).catch(() => {});
      } finally {
        for (const c of channels) {
          delete (c as { publish?: unknown }).publish;
          delete (c as { runStores?: unknown }).runStores;
        }
      }
      expect(used).to.equal(0);
    });
  });
});
