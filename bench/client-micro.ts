/**
 * `node --expose-gc --import tsx bench/client-micro.ts`: CPU time of the two ZignSec calls alone (start + result),
 * passport-itsme's ItsMeClient (got) against the baseline's node:http calls, in this process, with
 * the ZignSec stub in a child (the strategy's calls: start, then waitForResult). Used to find and
 * check the client's own overhead; the machine's other load shows in the median, less in the min.
 * Options: --pairs N per phase (2000), --rounds N (5), --concurrency N (16).
 */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type * as lib from '../lib/index.js';
import { Remote } from './ipc.js';
import { type StubsInfo, ZIGNSEC_KEY } from './shared.js';
import { median, min } from './stats.js';
import { createRawClient } from './variants/raw-client.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '16' },
  },
});
const pairs = Number(values.pairs);
const rounds = Number(values.rounds);
const concurrency = Number(values.concurrency);

const stubs = await Remote.start<StubsInfo>(join(root, 'bench/stubs.ts'), ['--auto-confirm']);
const pkg = (await import(pathToFileURL(join(root, 'dist/index.js')).href)) as typeof lib;
const client = new pkg.ItsMeClient({ apiKey: ZIGNSEC_KEY, baseURL: stubs.info.zignsecUrl });
const raw = createRawClient(stubs.info.zignsecUrl);
const target = 'http://127.0.0.1:1/callback';

const variants: Record<string, () => Promise<void>> = {
  'ItsMeClient (got)': async () => {
    const { id } = await client.start({
      relaystate: randomBytes(32).toString('base64url'),
      target,
      targetError: target,
    });
    const result = await client.waitForResult(id, { timeout: 5000, interval: 250, maxInterval: 1000 });
    if (result.state !== 'Finished') throw new Error(`state ${result.state}`);
  },
  'node:http baseline': async () => {
    const body = JSON.stringify({ relaystate: randomBytes(32).toString('base64url'), target, targetError: target });
    const started = await raw('POST', '', body);
    const result = await raw('GET', `/${String(started.json.id)}`);
    if (result.json.state !== 'Finished') throw new Error(`state ${String(result.json.state)}`);
  },
};

async function phase(run: () => Promise<void>, count: number): Promise<{ cpuUs: number; wallMs: number }> {
  let left = count;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await run();
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return { cpuUs: (cpu.user + cpu.system) / count, wallMs: performance.now() - t0 };
}

const results = new Map<string, number[]>();
try {
  for (const run of Object.values(variants)) await phase(run, pairs);
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of Object.entries(variants)) {
      (globalThis as { gc?: () => void }).gc?.();
      const { cpuUs } = await phase(run, pairs);
      results.set(name, [...(results.get(name) ?? []), cpuUs]);
    }
  }
} finally {
  await stubs.stop();
}
for (const [name, samples] of results) {
  console.log(
    `${name.padEnd(20)} median ${median(samples).toFixed(0).padStart(5)} µs, min ${min(samples).toFixed(0).padStart(5)} µs of CPU per start+result pair over ${samples.length} rounds`,
  );
}
