/**
 * Child process: the apps under test, each an Express 5 + express-session + passport 0.7 app
 * of the same shape on its own port: passport-itsme (from dist/), passport-oauth2, and the
 * hand-written baseline (and the got-less diagnostic). The parent asks for CPU/ELU/heap snapshots around each measured phase and
 * for the session store's contents when measuring pending logins.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as lib from '../lib/index.js';
import { serve } from './ipc.js';
import type { AppsInfo, AppsSnapshot, PendingReport, StubsInfo, Variant } from './shared.js';
import { PENDING_KEY as BASELINE_KEY, mountBaseline } from './variants/baseline.js';
import { PENDING_KEY as ITSME_KEY, mountItsMe } from './variants/itsme.js';
import { mountItsMeNoGot } from './variants/itsme-nogot.js';
import { mountOAuth2, PENDING_KEY as OAUTH2_KEY } from './variants/oauth2.js';
import { createShell, finishShell, type Shell, storedSessions } from './variants/shell.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const stubs = JSON.parse(process.argv[2] ?? '{}') as StubsInfo;
const pkg = (await import(
  pathToFileURL(resolve(process.argv[3] ?? resolve(root, 'dist'), 'index.js')).href
)) as typeof lib;

const shells = {} as Record<Variant, Shell>;
const keys: Record<Variant, string> = {
  itsme: ITSME_KEY,
  oauth2: OAUTH2_KEY,
  baseline: BASELINE_KEY,
  nogot: ITSME_KEY,
};
shells.itsme = await createShell();
mountItsMe(shells.itsme, pkg, stubs.zignsecUrl);
shells.oauth2 = await createShell();
mountOAuth2(shells.oauth2, stubs.oauthUrl, stubs.providerUrl);
shells.baseline = await createShell();
mountBaseline(shells.baseline, stubs.zignsecUrl);
shells.nogot = await createShell();
mountItsMeNoGot(shells.nogot, pkg, stubs.zignsecUrl);
for (const shell of Object.values(shells)) finishShell(shell);

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

function fullGc(): void {
  gc();
  gc();
}

function clearStores(): void {
  for (const shell of Object.values(shells)) shell.store.clear();
}

function snapshot(): AppsSnapshot {
  const { idle, active, utilization } = performance.eventLoopUtilization();
  return { cpu: process.cpuUsage(), elu: { idle, active, utilization }, heapUsed: process.memoryUsage().heapUsed };
}

function pendingReport(variant: Variant): PendingReport {
  const store = shells[variant].store;
  const sessions = Object.values(storedSessions(store));
  const storedCount = sessions.length;
  const key = keys[variant];
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

const urls = Object.fromEntries(Object.entries(shells).map(([name, shell]) => [name, shell.url])) as AppsInfo;

serve(
  {
    /** Before a phase: forget earlier sessions, collect garbage, then snapshot. */
    begin: () => {
      clearStores();
      fullGc();
      return snapshot();
    },
    snapshot,
    /** Before loading pending logins: empty stores. */
    pendingBegin: () => {
      clearStores();
      fullGc();
    },
    pendingEnd: (variant) => pendingReport(variant as Variant),
    /** Starts the V8 CPU profiler (for `--profile`). */
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
  urls,
);
