/**
 * `node --import tsx bench/client-micro.ts`: CPU time of the two ZignSec calls alone, as the strategy
 * makes them (start, then waitForResult), with passport-itsme's ItsMeClient (got) and with the
 * baseline's node:http calls, against the ZignSec stub in a child process. Each measurement runs in a
 * fresh process that makes only one kind of call (sharing a process lets one client's code shape
 * the JIT state the other runs on), and the two kinds take turns.
 * Options: --pairs N per process (4000, after as many to warm up), --runs N per kind (3),
 * --concurrency N (16), --dist DIR (the build to load; default dist/).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type * as lib from '../lib/index.js';
import { Remote } from './ipc.js';
import { type StubsInfo, ZIGNSEC_KEY } from './shared.js';
import { median, min } from './stats.js';
import { createRawClient } from './variants/raw-client.js';

const here = fileURLToPath(import.meta.url);
const root = resolve(here, '../..');
const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '4000' },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '16' },
    dist: { type: 'string', default: 'dist' },
    only: { type: 'string' },
  },
});
const pairs = Math.max(1, Math.min(100_000, Number(values.pairs) || 4000));
const runs = Math.max(1, Math.min(20, Number(values.runs) || 3));
const concurrency = Math.max(1, Math.min(256, Number(values.concurrency) || 16));
const KINDS = { got: 'ItsMeClient (got)', http: 'node:http baseline' } as const;
type Kind = keyof typeof KINDS;

/** In a child: warm up, then measure one kind of call; prints µs of CPU per start + result. */
async function measure(kind: Kind): Promise<void> {
  const stubs = await Remote.start<StubsInfo>(join(root, 'bench/stubs.ts'), ['--auto-confirm']);
  const target = 'http://127.0.0.1:1/callback';
  const relay = () => randomBytes(32).toString('base64url');
  let pair: () => Promise<void>;
  if (kind === 'got') {
    const pkg = (await import(pathToFileURL(resolve(root, values.dist, 'index.js')).href)) as typeof lib;
    const client = new pkg.ItsMeClient({ apiKey: ZIGNSEC_KEY, baseURL: stubs.info.zignsecUrl });
    pair = async () => {
      const { id } = await client.start({ relaystate: relay(), target, targetError: target });
      const result = await client.waitForResult(id, { timeout: 5000, interval: 250, maxInterval: 1000 });
      if (result.state !== 'Finished') throw new Error(`state ${result.state}`);
    };
  } else {
    const raw = createRawClient(stubs.info.zignsecUrl);
    pair = async () => {
      const started = await raw('POST', '', JSON.stringify({ relaystate: relay(), target, targetError: target }));
      const result = await raw('GET', `/${String(started.json.id)}`);
      if (result.json.state !== 'Finished') throw new Error(`state ${String(result.json.state)}`);
    };
  }
  const phase = async () => {
    let left = pairs;
    const cpu0 = process.cpuUsage();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (left-- > 0) await pair();
      }),
    );
    const cpu = process.cpuUsage(cpu0);
    return (cpu.user + cpu.system) / pairs;
  };
  try {
    await phase();
    process.stdout.write(String(await phase()));
  } finally {
    await stubs.stop();
  }
}

if (values.only) {
  await measure(values.only as Kind);
} else {
  const results: Record<Kind, number[]> = { got: [], http: [] };
  for (let run = 0; run < runs; run++) {
    for (const kind of Object.keys(KINDS) as Kind[]) {
      const child = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          here,
          '--only',
          kind,
          '--pairs',
          String(pairs),
          '--concurrency',
          String(concurrency),
          '--dist',
          values.dist,
        ],
        { cwd: root, encoding: 'utf8', timeout: 120_000 },
      );
      if (child.status !== 0) throw new Error(`${kind} run failed: ${child.stderr}`);
      results[kind].push(Number(child.stdout));
    }
  }
  for (const kind of Object.keys(KINDS) as Kind[]) {
    const samples = results[kind];
    console.log(
      `${KINDS[kind].padEnd(20)} median ${median(samples).toFixed(0).padStart(5)} µs, min ${min(samples).toFixed(0).padStart(5)} µs of CPU per start + result (${samples.length} processes)`,
    );
  }
}
