import { getEventListeners, once } from 'node:events';
import type http from 'node:http';
import net from 'node:net';
import { expect } from 'chai';
import { ItsMeClient } from '../lib/index.js';
import { guardProcess, type ProcessGuard, realNetwork } from './support/guards.js';
import { type Listening, listen } from './support/http.js';
import { rejection } from './support/rejection.js';
import { sampleResult } from './support/zignsec-stub.js';

const API_KEY = 'transport-test-key';
const ID_A = '0b5e2f7a-3c1d-4e8f-9a6b-1c2d3e4f5a6b';
const ID_B = '7d9c1e3a-5b2f-4a8e-8c6d-2e3f4a5b6c7d';

/** What the loopback ZignSec stand-in saw of one request. */
interface Seen {
  path: string;
  port: number;
  socket: net.Socket;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A real HTTP server on 127.0.0.1 whose answers the test sets, recording the connection of each request. */
async function zignsec(handler: Handler): Promise<{ server: Listening; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = await listen((req, res) => {
    seen.push({ path: req.url ?? '', port: req.socket.remotePort ?? 0, socket: req.socket });
    req.resume();
    req.on('end', () => handler(req, res));
  });
  server.server.keepAliveTimeout = 60_000;
  return { server, seen };
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Answers starts and results like ZignSec does. */
const normal: Handler = (req, res) => {
  if (req.method === 'POST') json(res, 200, { id: ID_A, redirectUrl: 'https://itsme.example/go', errors: [] });
  else json(res, 200, sampleResult((req.url ?? '').split('/').pop() ?? ''));
};

function client(url: string, options: { timeout?: number; maxResponseSize?: number } = {}): ItsMeClient {
  return new ItsMeClient({ apiKey: API_KEY, baseURL: url, timeout: 5000, ...options });
}

function pendingTimers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}

describe('transport', () => {
  let restoreNock: () => void;
  let guard: ProcessGuard;
  const closing: Array<() => Promise<void>> = [];

  beforeEach(() => {
    restoreNock = realNetwork();
    guard = guardProcess();
  });

  afterEach(async () => {
    try {
      await guard.assertClean();
    } finally {
      guard.dispose();
      for (const close of closing.splice(0)) await close();
      restoreNock();
    }
  });

  async function server(handler: Handler): Promise<{ url: string; seen: Seen[] }> {
    const { server, seen } = await zignsec(handler);
    closing.push(() => server.close());
    return { url: server.url, seen };
  }

  describe('abort signals', () => {
    it('should leave no abort listener on a long-lived signal after many successful and failed calls', async () => {
      let failNext = 0;
      const { url } = await server((req, res) => {
        if (failNext > 0) {
          failNext -= 1;
          json(res, 500, { errors: [{ code: 'INTERNAL' }] });
        } else normal(req, res);
      });
      const itsme = client(url, { maxResponseSize: 100_000 });
      const signal = new AbortController().signal;
      for (let i = 0; i < 40; i++) {
        await itsme.start({}, { signal });
        await itsme.getResult(ID_A, { signal });
      }
      failNext = 4;
      expect((await rejection(itsme.start({}, { signal }))).code).to.equal('ERR_ZIGNSEC_HTTP_STATUS');
      expect((await rejection(itsme.getResult(ID_B, { signal }))).code).to.equal('ERR_ZIGNSEC_HTTP_STATUS');
      const result = await itsme.waitForResult(ID_B, { timeout: 5000, interval: 100, signal });
      expect(result.state).to.equal('Finished');
      expect(getEventListeners(signal, 'abort')).to.have.length(0);
    });

    it('should abort one call without disturbing a concurrent call on the same client', async () => {
      const held: Array<() => void> = [];
      let arrived: () => void = () => {};
      const bothArrived = new Promise<void>((resolve) => {
        arrived = resolve;
      });
      const { url, seen } = await server((req, res) => {
        held.push(() => normal(req, res));
        if (held.length === 2) arrived();
      });
      const controller = new AbortController();
      const itsme = client(url);
      const first = rejection(itsme.getResult(ID_A, { signal: controller.signal }));
      const second = itsme.getResult(ID_B);
      await bothArrived;
      const cut = seen.find((request) => request.path.endsWith(ID_A));
      expect(cut, 'the aborted call reached the server').to.not.equal(undefined);
      const closed = once(cut?.socket as net.Socket, 'close');
      controller.abort();
      expect((await first).code).to.equal('ERR_ITSME_ABORTED');
      await closed;
      for (const answer of held) answer();
      const result = await second;
      expect(result.id).to.equal(ID_B);
      expect(result.state).to.equal('Finished');
    });
  });

  describe('connections', () => {
    it('should not reuse a connection cut after a too-large body, and the next call should succeed', async () => {
      let big = true;
      const { url, seen } = await server((req, res) => {
        if (big && req.method === 'GET') {
          big = false;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ ...sampleResult(ID_A), padding: 'x'.repeat(20_000) }));
        } else normal(req, res);
      });
      const itsme = client(url, { maxResponseSize: 4000 });
      await itsme.start();
      const error = await rejection(itsme.getResult(ID_A));
      expect(error.code).to.equal('ERR_ZIGNSEC_BAD_RESPONSE');
      expect(error.message).to.include('larger than 4000 bytes');
      const result = await itsme.getResult(ID_A);
      expect(result.state).to.equal('Finished');
      expect(seen).to.have.length(3);
      const [warm, cut, next] = seen as [Seen, Seen, Seen];
      expect(cut.port, 'the kept-alive connection is reused before the cut').to.equal(warm.port);
      expect(next.port, 'the cut connection is not reused').to.not.equal(cut.port);
      expect(cut.socket.destroyed || cut.socket.readyState !== 'open').to.equal(true);
    });

    it('should fail a response that ends early as a network error, and the next call should succeed', async () => {
      let cut = true;
      const { url, seen } = await server((req, res) => {
        if (cut) {
          cut = false;
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': 500 });
          res.write('{"id":');
          setTimeout(() => req.socket.destroy(), 10);
        } else normal(req, res);
      });
      const itsme = client(url);
      const error = await rejection(itsme.getResult(ID_A));
      expect(error.code).to.equal('ERR_ZIGNSEC_NETWORK');
      expect((await itsme.getResult(ID_A)).state).to.equal('Finished');
      expect(seen[1]?.port).to.not.equal(seen[0]?.port);
    });

    it('should fail an empty 204 answer with a clear error', async () => {
      const { url } = await server((_req, res) => {
        res.writeHead(204);
        res.end();
      });
      const error = await rejection(client(url).start());
      expect(error.code).to.equal('ERR_ZIGNSEC_BAD_RESPONSE');
      expect(error.message).to.include('HTTP 204');
    });

    it('should fail a 101 Switching Protocols answer as a network error, not wait for the time limit', async () => {
      const raw = net.createServer((socket) => {
        socket.once('data', () =>
          socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhi'),
        );
        socket.on('error', () => {});
      });
      raw.listen(0, '127.0.0.1');
      await once(raw, 'listening');
      closing.push(() => new Promise((resolve) => raw.close(() => resolve())));
      const { port } = raw.address() as net.AddressInfo;
      const error = await rejection(client(`http://127.0.0.1:${port}`, { timeout: 1500 }).start());
      expect(error.code).to.equal('ERR_ZIGNSEC_NETWORK');
      expect(error.message).to.include('101');
      expect(error.message).to.not.include(API_KEY);
    });
  });

  describe('timers', () => {
    it('should leave no pending timer after calls that succeed, time out, are aborted or are cut', async () => {
      const { url } = await server((req, res) => {
        if ((req.url ?? '').endsWith(ID_B)) return; // never answers
        normal(req, res);
      });
      const before = pendingTimers();
      const itsme = client(url, { timeout: 60_000, maxResponseSize: 100 });
      await itsme.start();
      expect((await rejection(itsme.getResult(ID_A))).code).to.equal('ERR_ZIGNSEC_BAD_RESPONSE');
      const controller = new AbortController();
      const aborted = rejection(itsme.getResult(ID_B, { signal: controller.signal }));
      setImmediate(() => controller.abort());
      expect((await aborted).code).to.equal('ERR_ITSME_ABORTED');
      expect((await rejection(client(url, { timeout: 50 }).getResult(ID_B))).code).to.equal('ERR_ZIGNSEC_TIMEOUT');
      expect(pendingTimers()).to.equal(before);
    });
  });
});
