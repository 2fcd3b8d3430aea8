import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A real HTTP server on 127.0.0.1, on a free port. */
export interface Listening {
  url: string;
  server: http.Server;
  close(): Promise<void>;
}

export async function listen(handler: http.RequestListener): Promise<Listening> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A minimal cookie jar: one browser. */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  /** Another jar holding these cookies as they are now: a copy of the browser's cookies, kept. */
  copy(): CookieJar {
    const copy = new CookieJar();
    for (const [name, value] of this.cookies) copy.cookies.set(name, value);
    return copy;
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (!pair || eq < 0) continue;
      this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  }
}

export interface BrowserResponse {
  status: number;
  location: string | null;
  body: string;
  headers: Headers;
}

/** One request as a browser would send it, without following redirects. */
export async function browse(
  url: string,
  jar: CookieJar,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<BrowserResponse> {
  const headers: Record<string, string> = { ...init.headers };
  const cookie = jar.header();
  if (cookie) headers.cookie = cookie;
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    redirect: 'manual',
    headers,
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  jar.store(response);
  return {
    status: response.status,
    location: response.headers.get('location'),
    body: await response.text(),
    headers: response.headers,
  };
}
