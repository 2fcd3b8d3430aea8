/**
 * The load generator: virtual users that log in as a browser would, with `node:http`. Each user has
 * its own keep-alive agent (its "browser") and starts every login with a fresh cookie jar.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { SUBJECT } from './shared.js';

interface Reply {
  status: number;
  location: string | undefined;
  body: string;
}

/** A minimal cookie jar: `name=value` pairs from `Set-Cookie`, sent back on every request. */
class Jar {
  #cookies = new Map<string, string>();

  header(): string | undefined {
    if (this.#cookies.size === 0) return undefined;
    let out = '';
    for (const [name, value] of this.#cookies) out += `${out ? '; ' : ''}${name}=${value}`;
    return out;
  }

  store(lines: string[] | undefined): void {
    for (const line of lines ?? []) {
      const pair = line.slice(0, line.indexOf(';') >>> 0);
      const eq = pair.indexOf('=');
      if (eq > 0) this.#cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
  }
}

function get(agent: http.Agent, url: URL, jar: Jar, readBody: boolean): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const cookie = jar.header();
    const req = http.get(url, { agent, headers: cookie ? { cookie } : {} }, (res) => {
      jar.store(res.headers['set-cookie']);
      let body = '';
      if (readBody) {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
      } else res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer from ${url.host} within 30 s`)));
    req.on('error', reject);
  });
}

function expectRedirect(reply: Reply, step: string, base: URL): URL {
  if (reply.status !== 302 || !reply.location) {
    throw new Error(`${step}: expected a 302, got ${reply.status} ${reply.body.slice(0, 200)}`);
  }
  return new URL(reply.location, base);
}

/** One browser. */
export class VirtualUser {
  readonly agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  /** A complete login: start -> provider redirect -> callback -> `/me`. Throws if any step is wrong. */
  async login(app: URL): Promise<void> {
    const jar = new Jar();
    const login = new URL('/login', app);
    const provider = expectRedirect(await get(this.agent, login, jar, true), 'start', login);
    const callback = expectRedirect(await get(this.agent, provider, jar, true), 'provider', provider);
    if (callback.host !== app.host) throw new Error(`provider sent the browser to ${callback.host}`);
    const me = expectRedirect(await get(this.agent, callback, jar, true), 'callback', callback);
    const reply = await get(this.agent, me, jar, true);
    if (reply.status !== 200) throw new Error(`/me: expected 200, got ${reply.status} ${reply.body.slice(0, 200)}`);
    const user = JSON.parse(reply.body) as { id?: unknown };
    if (user.id !== SUBJECT) throw new Error(`/me: wrong user ${reply.body.slice(0, 200)}`);
  }

  /** Only the start of a login, never completed: leaves one pending login in a new session. */
  async startOnly(app: URL): Promise<void> {
    const login = new URL('/login', app);
    expectRedirect(await get(this.agent, login, new Jar(), true), 'start', login);
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface PhaseResult {
  logins: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  /** Latency of each complete login, in ms. */
  latencies: number[];
}

/**
 * Every user logs in again and again until `durationMs` has passed (a login under way is finished).
 */
export async function runLogins(users: VirtualUser[], app: string, durationMs: number): Promise<PhaseResult> {
  const url = new URL(app);
  const result: PhaseResult = { logins: 0, errors: 0, elapsedMs: 0, latencies: [] };
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    users.map(async (user) => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          await user.login(url);
          result.latencies.push(performance.now() - t0);
          result.logins++;
        } catch (err) {
          result.errors++;
          result.firstError ??= String((err as Error).message ?? err);
        }
      }
    }),
  );
  result.elapsedMs = performance.now() - started;
  return result;
}

/** Starts `count` logins (fresh sessions), `users.length` at a time, and never completes them. */
export async function startPending(users: VirtualUser[], app: string, count: number): Promise<number> {
  const url = new URL(app);
  let left = count;
  let errors = 0;
  await Promise.all(
    users.map(async (user) => {
      while (left-- > 0) {
        try {
          await user.startOnly(url);
        } catch {
          errors++;
        }
      }
    }),
  );
  return errors;
}
