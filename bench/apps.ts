/**
 * Child process: one app under test (`argv[4]`, a {@link Variant}), an Express 5 + express-session +
 * passport 0.7 app of the shape every variant shares. One process per app, so that no app's code
 * shapes the JIT state of another's. The parent asks for CPU/ELU snapshots around each measured
 * phase, for the session store's contents when measuring pending logins, and for CPU profiles.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as lib from '../lib/index.js';
import { serve } from './ipc.js';
import type { AppInfo, AppsSnapshot, PendingReport, StubsInfo, Variant } from './shared.js';
import { PENDING_KEY as BASELINE_KEY, mountBaseline } from './variants/baseline.js';
import { PENDING_KEY as FLOOR_KEY, mountFloor } from './variants/floor.js';
import { useGot } from './variants/got-transport.js';
import { PENDING_KEY as ITSME_KEY, mountItsMe } from './variants/itsme.js';
import { mountOAuth2, PENDING_KEY as OAUTH2_KEY } from './variants/oauth2.js';
import { createShell, finishShell, type Shell, storedSessions } from './variants/shell.js';
import { subscribeAll } from './variants/subscribers.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const stubs = JSON.parse(process.argv[2] ?? '{}') as StubsInfo;
const distDir = process.argv[3] ?? resolve(root, 'dist');
/** The package under test, loaded only by the apps that use it. */
const loadPackage = async () => (await import(pathToFileURL(resolve(distDir, 'index.js')).href)) as typeof lib;

const variant = (process.argv[4] ?? 'itsme') as Variant;
const upstream = stubs.upstream[variant] ?? '';
let events = () => 0;
const mounts: Record<Variant, { key: string; mount: (shell: Shell) => Promise<void> | void }> = {
  itsme: { key: ITSME_KEY, mount: async (shell) => mountItsMe(shell, await loadPackage(), upstream) },
  subs: {
    key: ITSME_KEY,
    mount: async (shell) => {
      events = subscribeAll();
      mountItsMe(shell, await loadPackage(), upstream);
    },
  },
  got: {
    key: ITSME_KEY,
    mount: async (shell) => {
      await useGot(distDir);
      mountItsMe(shell, await loadPackage(), upstream);
    },
  },
  before: { key: ITSME_KEY, mount: async (shell) => mountItsMe(shell, await loadPackage(), upstream) },
  floor: { key: FLOOR_KEY, mount: (shell) => mountFloor(shell, upstream) },
  oauth2: { key: OAUTH2_KEY, mount: (shell) => mountOAuth2(shell, upstream, stubs.providerUrl) },
  baseline: { key: BASELINE_KEY, mount: (shell) => mountBaseline(shell, upstream) },
};
const shell = await createShell();
await mounts[variant].mount(shell);
finishShell(shell);

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

function fullGc(): void {
  gc();
  gc();
}

function clearStore(): void {
  shell.store.clear();
}

function snapshot(): AppsSnapshot {
  return { cpu: process.cpuUsage(), events: events() };
}

function pendingReport(): PendingReport {
  const store = shell.store;
  const sessions = Object.values(storedSessions(store));
  const storedCount = sessions.length;
  const key = mounts[variant].key;
  let sessionBytes = 0;
  let stateBytes = 0;
  for (const text of sessions) {
    sessionBytes += Buffer.byteLength(text);
    const state = (JSON.parse(text) as Record<string, unknown>)[key];
    if (state !== undefined) stateBytes += Buffer.byteLength(`${JSON.stringify(key)}:${JSON.stringify(state)}`);
  }
  sessions.length = 0;
  fullGc();
  const heapWith = process.memoryUsage().heapUsed;
  store.clear();
  fullGc();
  const heapWithout = process.memoryUsage().heapUsed;
  return { sessions: storedCount, sessionBytes, stateBytes, heapWith, heapWithout };
}

const inspector = new Session();

function post<T>(method: string, params?: object): Promise<T> {
  return new Promise((done, fail) =>
    inspector.post(method, params ?? {}, (err, result) => (err ? fail(err) : done(result as T))),
  );
}

serve(
  {
    /** Before a phase: forget earlier sessions, collect garbage, then snapshot. */
    begin: () => {
      clearStore();
      fullGc();
      return snapshot();
    },
    snapshot,
    /** Before loading pending logins: empty stores. */
    pendingBegin: () => {
      clearStore();
      fullGc();
    },
    pendingEnd: () => pendingReport(),
    /** Starts the V8 CPU profiler (for `--profile`), sampling every 100 µs. */
    profileStart: async () => {
      inspector.connect();
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 100 });
      await post('Profiler.start');
    },
    /** Stops the profiler and writes the `.cpuprofile` to `path`. */
    profileStop: async (path) => {
      const { profile } = await post<{ profile: unknown }>('Profiler.stop');
      inspector.disconnect();
      writeFileSync(String(path), JSON.stringify(profile));
    },
  },
  { url: shell.url } satisfies AppInfo,
);
