import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import {
  createProxyAgent,
  createWebhookHandler,
  ItsMeClient,
  ItsMeStrategy,
  type ProxyAgentOptions,
} from '../lib/index.js';
import { type GuardedApp, guardProcess, type ProcessGuard, realNetwork, startGuardedApp } from './support/guards.js';
import { browse, CookieJar, type Listening, listen } from './support/http.js';
import { rejection } from './support/rejection.js';
import { findSecret, renderings } from './support/secret-scan.js';
import { sampleResult } from './support/zignsec-stub.js';

const API_KEY = 'zs-PROXY-KEY-must-not-leak-c41d';
const PROXY_USER = 'egress-user';
const PROXY_PASSWORD = 'proxy-Pa55word-must-not-leak';
const SUB = '1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9';

/**
 * A private CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl; and an
 * intermediate CA under it with a server certificate of its own (sent with the intermediate).
 */
interface Pki {
  ca: Buffer;
  serverKey: Buffer;
  serverCert: Buffer;
  clientKey: Buffer;
  clientCert: Buffer;
  intermediate: Buffer;
  chainedKey: Buffer;
  chainedCert: Buffer;
}

function makePki(dir: string): Pki {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = (name: string) => run('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', name);
  key('ca.key');
  run('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=Bank Inspection CA', '-days', '2', '-out', 'ca.pem');
  const leaf = (name: string, subject: string, ext: string, issuer = 'ca') => {
    key(`${name}.key`);
    run('req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`);
    writeFileSync(join(dir, `${name}.ext`), ext);
    const ca = ['-CA', `${issuer}.pem`, '-CAkey', `${issuer}.key`, '-CAcreateserial'];
    run('x509', '-req', '-in', `${name}.csr`, ...ca, '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
  };
  const server = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n';
  leaf('server', '/CN=127.0.0.1', server);
  leaf('client', '/CN=bank-client', 'extendedKeyUsage=clientAuth\n');
  leaf('inter', '/CN=Bank Issuing CA', 'basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n');
  leaf('chained', '/CN=127.0.0.1', server, 'inter');
  const read = (name: string) => readFileSync(join(dir, name));
  // The child process of the NODE_DEBUG test reads the same files.
  return {
    ca: read('ca.pem'),
    serverKey: read('server.key'),
    serverCert: read('server.pem'),
    clientKey: read('client.key'),
    clientCert: read('client.pem'),
    intermediate: read('inter.pem'),
    chainedKey: read('chained.key'),
    chainedCert: Buffer.concat([read('chained.pem'), read('inter.pem')]),
  };
}

/** An HTTPS ZignSec stand-in with a certificate from the private CA; records what reached it. */
class HttpsZignSec {
  readonly requests: { method: string; path: string; authorization: string | undefined }[] = [];
  readonly relayStates: string[] = [];
  #server: https.Server;

  constructor(pki: Pki, requireClientCert: boolean, tlsOptions: https.ServerOptions = {}) {
    this.#server = https.createServer(
      {
        key: pki.serverKey,
        cert: pki.serverCert,
        ...(requireClientCert ? { ca: pki.ca, requestCert: true, rejectUnauthorized: true } : {}),
        ...tlsOptions,
      },
      (req, res) => {
        this.requests.push({ method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization });
        const chunks: Buffer[] = [];
        req.on('data', (chunk: Buffer) => chunks.push(chunk));
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          if (req.method === 'POST') {
            this.relayStates.push(String(JSON.parse(Buffer.concat(chunks).toString() || '{}').relaystate));
            const id = randomUUID();
            res.end(JSON.stringify({ id, redirectUrl: `https://itsme.example/authorize?session=${id}`, errors: [] }));
          } else res.end(JSON.stringify(sampleResult((req.url ?? '').split('/').pop() ?? '')));
        });
      },
    );
    this.#server.on('tlsClientError', () => {});
  }

  get url(): string {
    return `https://127.0.0.1:${(this.#server.address() as net.AddressInfo).port}`;
  }

  async listen(): Promise<this> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    return this;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** A CONNECT proxy on 127.0.0.1, optionally asking for Basic credentials, that records the tunnels and bytes. */
class ConnectProxy {
  readonly tunnels: string[] = [];
  /** Every byte that went through, both ways, as latin1. */
  traffic = '';
  readonly #sockets = new Set<net.Socket>();
  #server = http.createServer((_req, res) => {
    res.writeHead(405).end();
  });

  constructor(credentials?: string) {
    this.#server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
      this.#sockets.add(client);
      client.on('error', () => {});
      const expected = credentials ? `Basic ${Buffer.from(credentials).toString('base64')}` : undefined;
      if (expected && req.headers['proxy-authorization'] !== expected) {
        client.end(
          'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n',
        );
        return;
      }
      this.tunnels.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(/:(?=\d+$)/);
      const upstream = net.connect(Number(port), host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length > 0) upstream.write(head);
        client.on('data', (chunk: Buffer) => {
          this.traffic += chunk.toString('latin1');
        });
        upstream.on('data', (chunk: Buffer) => {
          this.traffic += chunk.toString('latin1');
        });
        client.pipe(upstream).pipe(client);
      });
      this.#sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
    });
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as net.AddressInfo).port}`;
  }

  async listen(): Promise<this> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    return this;
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/**
 * A bare TCP "proxy" on 127.0.0.1 that hands each connection and its CONNECT head to `onConnect`:
 * it can answer late or look at the client's address. Counts connections as they open.
 */
async function rawProxy(onConnect: (socket: net.Socket, head: string) => void) {
  const open = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted += 1;
    open.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => open.delete(socket));
    let buffered = '';
    const onData = (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      onConnect(socket, buffered.slice(0, end));
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    open,
    accepted: () => accepted,
    close: async () => {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Opens the tunnel the CONNECT line asks for. */
function tunnel(socket: net.Socket, head: string): void {
  const match = /^CONNECT \[?(.*?)\]?:(\d+) /.exec(head);
  if (!match) return void socket.destroy();
  const upstream = net.connect(Number(match[2]), match[1] as string, () => {
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    socket.pipe(upstream).pipe(socket);
  });
  upstream.on('error', () => socket.destroy());
  socket.on('close', () => upstream.destroy());
}

function expectNoSecrets(value: unknown): void {
  for (const secret of [API_KEY, PROXY_PASSWORD]) {
    expect(findSecret(value, secret), secret).to.deep.equal([]);
    for (const [how, text] of Object.entries(renderings(value)))
      expect(text, `${how}: ${secret}`).to.not.include(secret);
  }
}

describe('corporate networks', function () {
  this.timeout(15_000);
  let dir: string;
  let pki: Pki;
  let zignsec: HttpsZignSec;
  let mtlsZignSec: HttpsZignSec;
  let proxy: ConnectProxy;
  let restoreNock: () => void;
  let guard: ProcessGuard;
  const agents: http.Agent[] = [];

  before(async () => {
    restoreNock = realNetwork();
    dir = mkdtempSync(join(tmpdir(), 'itsme-pki-'));
    pki = makePki(dir);
    zignsec = await new HttpsZignSec(pki, false).listen();
    mtlsZignSec = await new HttpsZignSec(pki, true).listen();
    proxy = await new ConnectProxy().listen();
  });
  after(async () => {
    await zignsec.close();
    await mtlsZignSec.close();
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
    restoreNock();
  });
  beforeEach(() => {
    guard = guardProcess();
    zignsec.requests.length = 0;
    mtlsZignSec.requests.length = 0;
    proxy.tunnels.length = 0;
    proxy.traffic = '';
  });
  afterEach(async () => {
    for (const agent of agents.splice(0)) agent.destroy();
    try {
      await guard.assertClean();
    } finally {
      guard.dispose();
    }
  });

  function agent(options: Partial<ProxyAgentOptions> = {}): https.Agent {
    const made = createProxyAgent({ proxy: proxy.url, ca: pki.ca, ...options });
    agents.push(made);
    return made;
  }

  describe('through a CONNECT proxy with a private CA', () => {
    it('should log a person in through a real Express app, with TLS to ZignSec end to end inside the tunnel', async () => {
      const app: GuardedApp = await startGuardedApp({
        strategy: { baseURL: zignsec.url, apiKey: API_KEY, agent: agent() },
      });
      try {
        const jar = new CookieJar();
        const start = await browse(`${app.url}/login`, jar);
        expect(start.status, start.body).to.equal(302);
        expect(start.location).to.match(/^https:\/\/itsme\.example\/authorize\?session=/);
        const session = new URL(start.location ?? '').searchParams.get('session');
        const relayState = zignsec.relayStates.at(-1);
        const done = await browse(`${app.url}/callback/raw?relaystate=${relayState}`, jar);
        expect(done.status, done.body).to.equal(200);
        expect(JSON.parse(done.body).id).to.equal(SUB);
        expect(zignsec.requests.map((r) => `${r.method} ${r.path}`)).to.deep.equal([
          'POST /v3/eid/itsme',
          `GET /v3/eid/itsme/${session}`,
        ]);
        expect(zignsec.requests.every((r) => r.authorization === API_KEY)).to.equal(true);
        // One tunnel, kept alive for both calls; the proxy saw only ciphertext.
        expect(proxy.tunnels).to.deep.equal([new URL(zignsec.url).host]);
        expect(proxy.traffic.length).to.be.greaterThan(1000);
        expect(proxy.traffic).to.not.include(API_KEY);
        expect(proxy.traffic).to.not.include('/v3/eid/itsme');
      } finally {
        await app.close();
      }
    });

    it('should refuse ZignSec behind the inspection CA when the agent does not trust it, without sending the key', async () => {
      const client = new ItsMeClient({ apiKey: API_KEY, baseURL: zignsec.url, agent: agent({ ca: undefined }) });
      const error = await rejection(client.start());
      expect(error.code).to.equal('ERR_ZIGNSEC_NETWORK');
      expect(error.message).to.match(/certificate/);
      expect(proxy.tunnels).to.have.length(1);
      expect(zignsec.requests).to.deep.equal([]);
      expectNoSecrets(error);
    });

    it('should refuse the private CA without any agent option, without sending the key', async () => {
      const client = new ItsMeClient({ apiKey: API_KEY, baseURL: zignsec.url });
      const error = await rejection(client.getResult('9dc96404-7c0f-4997-bf94-3cd7f9de41b0'));
      expect(error.code).to.equal('ERR_ZIGNSEC_NETWORK');
      expect(error.message).to.match(/certificate/);
      expect(zignsec.requests).to.deep.equal([]);
      expectNoSecrets(error);
    });

    it('should present a client certificate when ZignSec asks for one, and fail cleanly without it', async () => {
      const withCert = new ItsMeClient({
        apiKey: API_KEY,
        baseURL: mtlsZignSec.url,
        agent: agent({ cert: pki.clientCert, key: pki.clientKey }),
      });
      const { id } = await withCert.start();
      expect((await withCert.getResult(id)).providerData?.sub).to.equal(SUB);
      expect(mtlsZignSec.requests).to.have.length(2);
      const without = new ItsMeClient({ apiKey: API_KEY, baseURL: mtlsZignSec.url, agent: agent() });
      const error = await rejection(without.start());
      expect(error.code).to.equal('ERR_ZIGNSEC_NETWORK');
      expect(mtlsZignSec.requests).to.have.length(2);
      expectNoSecrets(error);
    });

    it('should read a webhook result back through the agent', async () => {
      const results: string[] = [];
      const handler = createWebhookHandler({
        apiKey: API_KEY,
        baseURL: zignsec.url,
        agent: agent(),
        onResult: (result) => {
          results.push(result.id);
        },
      });
      const receiver: Listening = await listen((req, res) => handler(req, res));
      try {
        const id = '9dc96404-7c0f-4997-bf94-3cd7f9de41b0';
        const res = await fetch(`${receiver.url}/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ id }),
        });
        expect(res.status).to.be.within(200, 299);
        expect(results).to.deep.equal([id]);
        expect(proxy.tunnels).to.have.length(1);
      } finally {
        await receiver.close();
      }
    });
  });

  describe('proxy credentials', () => {
    let authProxy: ConnectProxy;
    before(async () => {
      authProxy = await new ConnectProxy(`${PROXY_USER}:${PROXY_PASSWORD}`).listen();
    });
    after(async () => {
      await authProxy.close();
    });

    it('should send the credentials of the proxy URL as Basic, and work', async () => {
      const url = new URL(authProxy.url);
      url.username = PROXY_USER;
      url.password = PROXY_PASSWORD;
      const client = new ItsMeClient({ apiKey: API_KEY, baseURL: zignsec.url, agent: agent({ proxy: url.href }) });
      const { id } = await client.start();
      expect(id).to.be.a('string');
      expect(authProxy.tunnels).to.have.length(1);
    });

    it('should fail with ERR_ZIGNSEC_NETWORK naming the 407 when the proxy refuses, showing no password', async () => {
      const url = new URL(authProxy.url);
      url.username = PROXY_USER;
      url.password = 'wrong-password';
      const client = new ItsMeClient({ apiKey: API_KEY, baseURL: zignsec.url, agent: agent({ proxy: url.href }) });
      const error = await rejection(client.start());
      expect(error.code).to.equal('ERR_ZIGNSEC_NETWORK');
      expect(error.message).to.match(/proxy refused the tunnel .*HTTP 407/);
      expect(error.message).to.not.include('wrong-password');
      expect(zignsec.requests).to.deep.equal([]);
      expectNoSecrets(error);
    });

    it('should fail with ERR_ZIGNSEC_NETWORK when the proxy cannot be reached', async () => {
      const closed = await listen((_req, res) => res.end());
      const url = closed.url;
      await closed.close();
      const client = new ItsMeClient({ apiKey: API_KEY, baseURL: zignsec.url, agent: agent({ proxy: url }) });
      const error = await rejection(client.start());
      expect(error.code).to.equal('ERR_ZIGNSEC_NETWORK');
      expect(error.message).to.match(/proxy could not be reached/);
    });
  });

  describe('NODE_DEBUG', () => {
    it('should print neither the API key, the proxy password nor the client key with NODE_DEBUG=http,https,net,tls', async () => {
      const fixture = resolve(fileURLToPath(import.meta.url), '../fixtures/node-debug-client.ts');
      const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', fixture], {
        env: {
          ...process.env,
          NODE_DEBUG: 'http,https,net,tls',
          PKI_DIR: dir,
          ITSME_TEST_KEY: API_KEY,
          ITSME_TEST_PROXY_PASSWORD: PROXY_PASSWORD,
        },
        timeout: 20_000,
        maxBuffer: 16 << 20,
      });
      expect(stdout).to.equal('done\n');
      // Node did log each request and connection: the check below looks at real debug output.
      expect(stderr).to.match(/HTTP \d+: createConnection 127\.0\.0\.1:\d+/);
      expect(stderr).to.match(/HTTP \d+: outgoing message end/);
      expect(stderr).to.match(/TLS \d+: client emit secureConnect/);
      expect(stderr).to.include("method: 'POST'");
      const basic = Buffer.from(`egress:${PROXY_PASSWORD}`).toString('base64');
      const keyPem = pki.clientKey.toString('latin1');
      // Node prints a Buffer option as the hex of its first 50 bytes: after the PEM header is key material.
      const keyHex = [...pki.clientKey.subarray(31, 50)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
      for (const [what, secret] of [
        ['API key', API_KEY],
        ['proxy password', PROXY_PASSWORD],
        ['Proxy-Authorization', basic],
        ['client key (text)', keyPem.split('\n')[1]?.slice(0, 24) ?? 'x'.repeat(24)],
        ['client key (hex)', keyHex],
      ] as const) {
        expect(stderr, what).to.not.include(secret);
      }
    });
  });

  describe('a proxy that answers slowly', () => {
    it('should give up on a proxy that dribbles its CONNECT answer once proxyTimeout has passed, and close that connection', async () => {
      const guard = guardProcess();
      const open = new Set<net.Socket>();
      const proxy = net.createServer((socket) => {
        open.add(socket);
        socket.on('error', () => {});
        socket.on('close', () => open.delete(socket));
        socket.once('data', () => {
          // One byte of the answer's headers every 100 ms, never the blank line that ends them.
          const text = 'HTTP/1.1 200 Connection established\r\nX-Slow: ';
          let i = 0;
          const timer = setInterval(() => socket.write(i < text.length ? (text[i++] as string) : 'a'), 100);
          const stop = () => clearInterval(timer);
          socket.on('close', stop).on('end', stop).on('error', stop);
        });
      });
      proxy.listen(0, '127.0.0.1');
      await once(proxy, 'listening');
      const agent = createProxyAgent({
        proxy: `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`,
        proxyTimeout: 300,
      });
      const client = new ItsMeClient({ apiKey: API_KEY, baseURL: 'https://127.0.0.1:9', agent, timeout: 4000 });
      try {
        const error = await rejection(client.start());
        // proxyTimeout (300 ms) ended it, not the call's own 4 s limit.
        expect(error.code).to.equal('ERR_ZIGNSEC_TIMEOUT');
        expect((error.cause as Error).message).to.equal('the proxy did not open the tunnel in time');
        // The proxy sees the tunnel's connection close (within 2 s), rather than kept dribbling.
        // (A plain listener: the client's reset may end the socket with an error before 'close'.)
        const closed = [...open].map((socket) => new Promise((resolve) => socket.once('close', resolve)));
        await Promise.race([Promise.all(closed), new Promise((resolve) => setTimeout(resolve, 2000))]);
        expect(open.size, 'connections to the proxy still open after the call failed').to.equal(0);
        await guard.assertClean();
      } finally {
        guard.dispose();
        for (const socket of open) socket.destroy();
        agent.destroy();
        await new Promise((resolve) => proxy.close(resolve));
      }
    });
  });

  describe('tunnels', () => {
    it('should keep TLS settings given beside ca, so a minVersion of TLS 1.3 refuses a TLS 1.2 ZignSec', async () => {
      const old = await new HttpsZignSec(pki, false, { maxVersion: 'TLSv1.2' }).listen();
      try {
        // Control: a plain https.Agent with the same options refuses it.
        const plain = new https.Agent({ ca: pki.ca, minVersion: 'TLSv1.3' });
        agents.push(plain);
        const direct = new ItsMeClient({ apiKey: API_KEY, baseURL: old.url, agent: plain });
        expect((await rejection(direct.start())).code).to.equal('ERR_ZIGNSEC_NETWORK');
        const client = new ItsMeClient({ apiKey: API_KEY, baseURL: old.url, agent: agent({ minVersion: 'TLSv1.3' }) });
        expect((await rejection(client.start())).code).to.equal('ERR_ZIGNSEC_NETWORK');
        expect(old.requests, 'requests (with the API key) sent over TLS 1.2').to.deep.equal([]);
        expect(proxy.tunnels).to.have.length(1);
        // The same proxy agent without minVersion reaches it, so it was the setting that held.
        const lax = new ItsMeClient({ apiKey: API_KEY, baseURL: old.url, agent: agent() });
        expect((await lax.start()).id).to.be.a('string');
      } finally {
        await old.close();
      }
    });

    it('should apply allowPartialTrustChain beside an intermediate ca, as a plain https.Agent does', async () => {
      const chained = await new HttpsZignSec(
        { ...pki, serverKey: pki.chainedKey, serverCert: pki.chainedCert },
        false,
      ).listen();
      try {
        const partial = agent({ ca: pki.intermediate, allowPartialTrustChain: true });
        const client = new ItsMeClient({ apiKey: API_KEY, baseURL: chained.url, agent: partial });
        expect((await client.start()).id).to.be.a('string');
        // Without it the intermediate alone is not a trust anchor: the control.
        const strict = new ItsMeClient({
          apiKey: API_KEY,
          baseURL: chained.url,
          agent: agent({ ca: pki.intermediate }),
        });
        expect((await rejection(strict.start())).code).to.equal('ERR_ZIGNSEC_NETWORK');
        expect(chained.requests).to.have.length(1);
      } finally {
        await chained.close();
      }
    });

    it('should open the connection to the proxy from localAddress', async () => {
      const seen: string[] = [];
      const refusing = await rawProxy((socket) => {
        seen.push(socket.remoteAddress ?? '');
        socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      });
      try {
        const made = agent({ proxy: refusing.url, localAddress: '127.0.0.2' });
        const client = new ItsMeClient({ apiKey: API_KEY, baseURL: 'https://127.0.0.1:9', agent: made });
        expect((await rejection(client.start())).code).to.equal('ERR_ZIGNSEC_NETWORK');
        expect(seen).to.deep.equal(['127.0.0.2']);
      } finally {
        await refusing.close();
      }
    });

    it('should log in through a proxy answering slowly with a bare TCP tunnel', async () => {
      const slow = await rawProxy((socket, head) => setTimeout(() => tunnel(socket, head), 50));
      try {
        const client = new ItsMeClient({ apiKey: API_KEY, baseURL: zignsec.url, agent: agent({ proxy: slow.url }) });
        const { id } = await client.start();
        expect((await client.getResult(id)).id).to.equal(id);
        expect(slow.accepted()).to.equal(1);
      } finally {
        await slow.close();
      }
    });
  });

  describe('options', () => {
    it('should refuse an agent that turns certificate checks off, pointing at the ca option', () => {
      const unchecked = new https.Agent({ rejectUnauthorized: false });
      const callbackURL = 'https://bank.example/cb';
      for (const build of [
        () => new ItsMeClient({ apiKey: API_KEY, agent: unchecked }),
        () => new ItsMeStrategy({ apiKey: API_KEY, callbackURL, agent: unchecked }, async () => false),
        () => createWebhookHandler({ apiKey: API_KEY, agent: unchecked, onResult: () => {} }),
      ]) {
        expect(build).to.throw(TypeError, /rejectUnauthorized: false.*ca option/);
      }
      expect(() => createProxyAgent({ proxy: 'http://127.0.0.1:3128', rejectUnauthorized: false })).to.throw(
        TypeError,
        /rejectUnauthorized option must not be false/,
      );
    });

    it('should refuse an agent option that is not an agent, or is for the other protocol', () => {
      expect(() => new ItsMeClient({ apiKey: API_KEY, agent: {} as http.Agent })).to.throw(
        TypeError,
        /ItsMeClient agent option must be an http.Agent or https.Agent/,
      );
      expect(
        () => new ItsMeClient({ apiKey: API_KEY, baseURL: 'http://127.0.0.1:1', agent: new https.Agent() }),
      ).to.throw(TypeError, /agent for https: but ZignSec is reached over http:/);
      expect(
        () =>
          new ItsMeStrategy(
            { apiKey: API_KEY, callbackURL: 'https://bank.example/cb', agent: new http.Agent() },
            () => {},
          ),
      ).to.throw(TypeError, /ItsMeStrategy agent option/);
      expect(() => createWebhookHandler({ apiKey: API_KEY, agent: 42 as never, onResult: () => {} })).to.throw(
        TypeError,
        /agent option/,
      );
    });

    it('should refuse proxyHeaders Node would refuse, naming the header and never quoting its value', () => {
      const token = 'proxy-token-from-a-file-7c1e';
      for (const [headers, message] of [
        [{ 'x-proxy-token': `${token}\n` }, /value of x-proxy-token must be a string without control characters/],
        [{ 'x-proxy-token': 42 }, /value of x-proxy-token must be a string/],
        [{ 'x proxy token': token }, /invalid header name "x proxy token"/],
        ['x-proxy-token', /proxyHeaders option must be an object/],
      ] as const) {
        let thrown: unknown;
        try {
          createProxyAgent({ proxy: 'http://127.0.0.1:3128', proxyHeaders: headers as never });
        } catch (err) {
          thrown = err;
        }
        expect(thrown, JSON.stringify(headers)).to.be.instanceOf(TypeError);
        expect((thrown as Error).message).to.match(message);
        expect((thrown as Error).message).to.not.include(token);
      }
    });

    it('should refuse TLS options Node refuses when the agent is made, not crash at the first call', () => {
      for (const options of [
        { ciphers: 'NOT-A-CIPHER' },
        { secureProtocol: 'TLSv1_2_method', minVersion: 'TLSv1.2' as const },
        { ca: pki.ca, ciphers: 'NOT-A-CIPHER' },
      ]) {
        expect(
          () => createProxyAgent({ proxy: 'http://127.0.0.1:3128', ...options }),
          JSON.stringify(options),
        ).to.throw(TypeError, /^createProxyAgent TLS options were refused: /);
      }
    });

    it('should fail the call, not the process, when TLS cannot start inside the tunnel', async () => {
      // A servername Node's TLS refuses: tls.connect throws inside the tunnel's 'connect' listener.
      const made = agent({ servername: 42 as unknown as string });
      const client = new ItsMeClient({ apiKey: API_KEY, baseURL: zignsec.url, agent: made });
      const error = await rejection(client.start());
      expect(error.code).to.equal('ERR_ZIGNSEC_NETWORK');
      expect(error.message).to.match(/TLS to 127\.0\.0\.1:\d+ could not start/);
      expect(zignsec.requests).to.deep.equal([]);
    });

    it('should refuse a proxy password with a bare % as it refuses other bad proxy URLs, without quoting it', () => {
      expect(() => createProxyAgent({ proxy: 'http://egress:50%off@127.0.0.1:3128' }))
        .to.throw(TypeError, /createProxyAgent proxy option has a user name or password that is not percent-encoded/)
        .with.property('message')
        .that.does.not.include('50%off');
    });

    it('should refuse a proxy that is not an http:// URL', () => {
      for (const value of ['', 'proxy:3128', 'https://proxy.example:3128', 'socks5://proxy.example:1080']) {
        expect(() => createProxyAgent({ proxy: value }), value).to.throw(TypeError, /createProxyAgent proxy option/);
      }
      expect(() => createProxyAgent({ proxy: 'http://proxy.example:3128', proxyTimeout: 0 })).to.throw(
        TypeError,
        /proxyTimeout/,
      );
    });
  });
});
