import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { type ItsMeSimulator, type SimulatorOptions, startSimulator } from '../lib/simulator/index.js';
import { createApp, type ExampleAppOptions } from './app.js';
import type { ExampleConfig } from './config.js';
import { logItsMeEvents } from './events.js';

/** The example app, listening. */
export interface RunningExample {
  /** Where to open it: the public URL. */
  url: string;
  /** The address actually listened on, e.g. `http://127.0.0.1:41234` (differs from `url` behind a proxy). */
  listening: string;
  app: Express;
  /** The embedded simulator, when the config has no ZignSec API key. */
  simulator?: ItsMeSimulator;
  close(): Promise<void>;
}

/** Extra settings for tests and embedding. */
export interface StartOptions {
  /** Options for the embedded simulator (besides its API key). */
  simulator?: Partial<SimulatorOptions>;
  /** Passed on to {@link createApp}. */
  app?: Partial<Omit<ExampleAppOptions, 'publicUrl' | 'itsme' | 'sessionSecret'>> & {
    itsme?: Partial<ExampleAppOptions['itsme']>;
  };
  /** Public URL from the port, when `config.publicUrl` is not set. Default `http://localhost:<port>`. */
  publicUrlFor?: (port: number) => string;
  /** Receives one line per passport-itsme event (logins, webhooks, ZignSec calls). Default: none. */
  eventLog?: (line: string) => void;
}

/**
 * Starts the example app as configured: when `config.zignsec.mode` is `'simulator'` it first starts the
 * embedded simulator in this process; then it listens on `config.host`:`config.port`.
 */
export async function startExampleApp(config: ExampleConfig, options: StartOptions = {}): Promise<RunningExample> {
  let simulator: ItsMeSimulator | undefined;
  let itsme: ExampleAppOptions['itsme'];
  if (config.zignsec.mode === 'simulator') {
    const apiKey = `sim-${randomBytes(16).toString('base64url')}`;
    simulator = await startSimulator({ ...options.simulator, apiKey });
    itsme = { apiKey, baseURL: simulator.url };
  } else {
    const { apiKey, environment, baseURL, webhookSecret } = config.zignsec;
    itsme = { apiKey, environment, ...(baseURL ? { baseURL } : {}), ...(webhookSecret ? { webhookSecret } : {}) };
  }
  const server = http.createServer();
  try {
    server.listen(config.port, config.host);
    await once(server, 'listening');
  } catch (err) {
    await simulator?.close();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  const url = config.publicUrl ?? (options.publicUrlFor ?? ((p: number) => `http://localhost:${p}`))(port);
  const shown = config.host.includes(':') ? `[${config.host}]` : config.host;
  const listening = `http://${shown}:${port}`;
  const app = createApp({
    canonicalHost: config.publicUrl === undefined,
    ...options.app,
    publicUrl: url,
    // The embedded simulator posts its webhook to the address the app listens on; ZignSec (or a
    // standalone simulator) to PUBLIC_URL, when the app has one it can be reached at.
    itsme: {
      ...itsme,
      ...(simulator
        ? { webhookURL: `${listening}/webhooks/zignsec` }
        : config.publicUrl
          ? { webhookURL: `${config.publicUrl}/webhooks/zignsec` }
          : {}),
      ...options.app?.itsme,
    },
    sessionSecret: config.sessionSecret,
    trustProxy: config.trustProxy,
    simulated: simulator !== undefined,
  });
  server.on('request', app);
  const unsubscribe = options.eventLog ? logItsMeEvents(options.eventLog) : undefined;
  return {
    url,
    listening,
    app,
    ...(simulator ? { simulator } : {}),
    async close() {
      unsubscribe?.();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await simulator?.close();
    },
  };
}
