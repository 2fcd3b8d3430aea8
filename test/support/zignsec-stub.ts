import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Listening, listen } from './http.js';

/** The document's sample result, for session `id`. */
export function sampleResult(id: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    state: 'Finished',
    errors: [],
    identity: {
      countryCode: 'BE',
      firstName: 'Florent Verschueren',
      lastName: 'Verschueren',
      fullName: 'Florent Verschueren Verschueren',
      personalNumber: '',
      dateOfBirth: '1980-01-02',
      age: 41,
      gender: 'male',
      phone: '+32 425009714',
      email: '[email protected]',
      addressInfoRaw: 'Havenlaan 2,Brussel,1000',
      idProviderName: 'ItsMe',
      identificationDate: '2021-05-11T16:34:19.6727354Z',
      idProviderAuthenticityScore: 'NOT_SET',
    },
    providerData: JSON.stringify({
      sub: '1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9',
      aud: 'Nqs0C2dKKA',
      eid: null,
      birthdate: '1980-01-02',
      city_of_birth: null,
      gender: 'male',
      name: 'Florent Verschueren',
      iss: 'https://e2emerchant.itsme.be/oidc',
      phone_number: '+32 425009714',
      phone_number_verified: true,
      given_name: 'Florent',
      family_name: 'Verschueren',
      locale: 'fr',
      email: '[email protected]',
      email_verified: false,
      address: JSON.stringify({
        country: 'BE',
        street_address: 'Havenlaan 2',
        locality: 'Brussel',
        postal_code: '1000',
      }),
      ParsedAddress: { country: 'BE', street_address: 'Havenlaan 2', locality: 'Brussel', postal_code: '1000' },
      nationality: null,
      photo: null,
      device: null,
    }),
    ...overrides,
  };
}

export interface StubReply {
  status?: number;
  body: unknown;
}

/**
 * A programmable ZignSec stand-in for integration tests. Start calls return a new id and a redirect
 * URL; results come from `results[id]` (a queue: each GET takes the next reply, the last one sticks),
 * or the document's sample when nothing was queued.
 */
export class ZignSecStub {
  readonly apiKey: string;
  readonly starts: { headers: IncomingMessage['headers']; body: Record<string, unknown> }[] = [];
  readonly gets: string[] = [];
  readonly results = new Map<string, StubReply[]>();
  startReply?: (body: Record<string, unknown>) => StubReply;
  #server?: Listening;
  #held?: { reached: () => void; released: Promise<void> };

  constructor(apiKey = 'test-api-key-0123456789') {
    this.apiKey = apiKey;
  }

  get url(): string {
    if (!this.#server) throw new Error('stub not started');
    return this.#server.url;
  }

  async start(): Promise<this> {
    this.#server = await listen((req, res) => void this.#handle(req, res));
    return this;
  }

  close(): Promise<void> {
    return this.#server?.close() ?? Promise.resolve();
  }

  /**
   * Holds the answer to the next start call until `release()`: `reached` resolves once that call
   * arrived (its request is recorded in `starts`), so a test can act while the app waits.
   */
  holdNextStart(): { reached: Promise<void>; release(): void } {
    let reached!: () => void;
    let release!: () => void;
    const arrived = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#held = { reached, released };
    return { reached: arrived, release };
  }

  /** The relaystate sent in the last start call. */
  lastRelayState(): string {
    return String(this.starts.at(-1)?.body.relaystate);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    if (req.headers.authorization !== this.apiKey) {
      send(401, { errors: [{ code: 'UNAUTHORIZED', description: 'Invalid access token' }] });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://stub');
    if (req.method === 'POST' && url.pathname === '/v3/eid/itsme') {
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>;
      this.starts.push({ headers: req.headers, body });
      const held = this.#held;
      this.#held = undefined;
      if (held) {
        held.reached();
        await held.released;
      }
      if (this.startReply) {
        const reply = this.startReply(body);
        send(reply.status ?? 200, reply.body);
        return;
      }
      const id = randomUUID();
      send(200, { id, redirectUrl: `${this.url}/itsme/authorize?session=${id}`, errors: [] });
      return;
    }
    const match = /^\/v3\/eid\/itsme\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && match?.[1]) {
      const id = decodeURIComponent(match[1]);
      this.gets.push(id);
      const queue = this.results.get(id);
      const reply = queue && queue.length > 1 ? queue.shift() : queue?.[0];
      if (reply) send(reply.status ?? 200, reply.body);
      else send(200, sampleResult(id));
      return;
    }
    send(404, { errors: [{ code: 'NOT_FOUND' }] });
  }
}
