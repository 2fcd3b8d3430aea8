/**
 * `npm run bench`: full itsme logins per second against passport-oauth2 and a hand-written baseline,
 * on loopback, in one run. Each app runs in its own child process, the provider stubs in another,
 * and the load comes from this process. How to read the output: the README's "Performance" section.
 *
 * Options: --vus N (16), --rounds N (8), --seconds S per phase (2), --warmup S per variant (2),
 * --pending N (2000), --import-runs N (7), --dist DIR (a build other than dist/), --diagnose (also
 * measure passport-itsme with a node:http client), --profile <variant> (write a CPU profile of the apps
 * process while only that variant runs, then print its hottest functions).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { importTime, ownFootprint, packageFootprint } from './footprint.js';
import { Remote } from './ipc.js';
import { runLogins, startPending, VirtualUser } from './load.js';
import { summarizeProfile } from './profile.js';
import {
  type BenchReport,
  latencyQuantiles,
  type PendingMeasure,
  type PhaseMeasure,
  render,
  summarize,
  writeReport,
} from './report.js';
import {
  ALL_VARIANTS,
  type AppInfo,
  type AppsSnapshot,
  LABELS,
  type PendingReport,
  type StubsInfo,
  type StubsSnapshot,
  VARIANTS,
  type Variant,
} from './shared.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const here = join(root, 'bench');
const resultsDir = join(here, 'results');

const { values: args } = parseArgs({
  options: {
    vus: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '8' },
    seconds: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '2' },
    pending: { type: 'string', default: '2000' },
    'import-runs': { type: 'string', default: '7' },
    profile: { type: 'string' },
    diagnose: { type: 'boolean', default: false },
    dist: { type: 'string' },
  },
});

function positive(name: string, text: string | undefined, limit: number): number {
  const value = Number(text);
  if (!(Number.isFinite(value) && value > 0 && value <= limit)) {
    throw new Error(`--${name} must be a number in (0, ${limit}]`);
  }
  return value;
}

const config = {
  vus: Math.round(positive('vus', args.vus, 1000)),
  rounds: Math.round(positive('rounds', args.rounds, 50)),
  seconds: positive('seconds', args.seconds, 60),
  warmup: positive('warmup', args.warmup, 60),
  pending: Math.round(positive('pending', args.pending, 100_000)),
  importRuns: Math.round(positive('import-runs', args['import-runs'], 50)),
  /** Re-warm each variant this long before each measured phase (reconnects, refills caches). */
  rewarmMs: 300,
  diagnose: args.diagnose === true,
};
const profileVariant = args.profile as Variant | undefined;
if (profileVariant !== undefined && !ALL_VARIANTS.includes(profileVariant)) {
  throw new Error(`--profile must be one of ${ALL_VARIANTS.join(', ')}`);
}
/** The variants measured: the three of the issue, plus the got-less diagnostic with `--diagnose`. */
const measured: readonly Variant[] = [...VARIANTS, ...(args.diagnose ? (['nogot'] as const) : [])];

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

/** The build under test: dist/ (built when missing or older than lib/), or `--dist <dir>` as it is. */
const distDir = resolve(root, args.dist ?? 'dist');

/** Builds dist/ when it is missing or older than lib/. */
function ensureBuild(): void {
  if (args.dist !== undefined) return;
  const dist = join(root, 'dist/index.js');
  if (existsSync(dist) && statSync(dist).mtimeMs >= newest(join(root, 'lib'))) return;
  console.log('dist/ is missing or older than lib/: npm run build');
  const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('npm run build failed');
}

/** CPU time used by every process on the machine so far, in ms (Linux; `undefined` elsewhere). */
function machineCpuMs(): number | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]?.trim().split(/\s+/).slice(1).map(Number) ?? [];
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return (user + nice + system + irq + softirq + steal) * 10;
  } catch {
    return undefined;
  }
}

/**
 * A fixed piece of JavaScript work (arithmetic, small objects, strings), timed: the same machine
 * gives about the same figure, so it tells whether the host was slower during one run than another.
 */
function calibrate(): number {
  let best = Number.POSITIVE_INFINITY;
  let sink = 0;
  for (let round = 0; round < 6; round++) {
    const t0 = performance.now();
    for (let i = 0; i < 5_000_000; i++) {
      const item = { i, text: `k${i % 97}` };
      sink += item.text.length + (item.i % 7);
    }
    best = Math.min(best, performance.now() - t0);
  }
  if (sink < 0) console.log(sink);
  return best;
}

function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

function eluDelta(a: AppsSnapshot, b: AppsSnapshot): number {
  const active = b.elu.active - a.elu.active;
  return active / (active + b.elu.idle - a.elu.idle);
}

async function main(): Promise<void> {
  const began = performance.now();
  ensureBuild();
  const speedBefore = calibrate();
  const stubs = await Remote.start<StubsInfo>(join(here, 'stubs.ts'), []);
  const profileDir = join(resultsDir, 'profiles', new Date().toISOString().replace(/[:.]/g, '-'));
  const appArgv = ['--expose-gc'];
  const started: readonly Variant[] = profileVariant ? [profileVariant] : measured;
  const apps = {} as Record<Variant, Remote<AppInfo>>;
  for (const variant of started) {
    apps[variant] = await Remote.start<AppInfo>(
      join(here, 'apps.ts'),
      [JSON.stringify(stubs.info), distDir, variant],
      appArgv,
    );
  }
  const users = Array.from({ length: config.vus }, () => new VirtualUser());
  const phases: PhaseMeasure[] = [];
  const pending: PendingMeasure[] = [];
  let coldStartConnections = 0;
  let profiled = 0;

  const measure = async (variant: Variant, round: number): Promise<PhaseMeasure> => {
    const app = apps[variant];
    const url = app.info.url;
    await runLogins(users, url, config.rewarmMs);
    const [a0, s0] = await Promise.all([app.call<AppsSnapshot>('begin'), stubs.call<StubsSnapshot>('snapshot')]);
    const p0 = process.cpuUsage();
    const m0 = machineCpuMs();
    const run = await runLogins(users, url, config.seconds * 1000);
    const load = process.cpuUsage(p0);
    const m1 = machineCpuMs();
    const [a1, s1] = await Promise.all([app.call<AppsSnapshot>('snapshot'), stubs.call<StubsSnapshot>('snapshot')]);
    const upstream = variant === 'oauth2' ? 'oauth' : 'zignsec';
    const wall = run.elapsedMs;
    const appCpu = cpuMs({ user: a1.cpu.user - a0.cpu.user, system: a1.cpu.system - a0.cpu.system });
    const stubCpu = cpuMs({ user: s1.cpu.user - s0.cpu.user, system: s1.cpu.system - s0.cpu.system });
    const phase: PhaseMeasure = {
      round,
      variant,
      logins: run.logins,
      errors: run.errors,
      ...(run.firstError ? { firstError: run.firstError } : {}),
      elapsedMs: wall,
      loginsPerSec: (run.logins / wall) * 1000,
      ...latencyQuantiles(run.latencies),
      appCpuMsPerLogin: appCpu / run.logins,
      appCpu: appCpu / wall,
      appElu: eluDelta(a0, a1),
      stubCpu: stubCpu / wall,
      loadCpu: cpuMs(load) / wall,
      otherCpu:
        m0 === undefined || m1 === undefined
          ? Number.NaN
          : Math.max(0, m1 - m0 - appCpu - stubCpu - cpuMs(load)) / wall,
      upstreamConnections: s1.connections[upstream] - s0.connections[upstream],
      upstreamRequestsPerLogin: (s1.requests[upstream] - s0.requests[upstream]) / run.logins,
    };
    console.log(
      `round ${round + 1} ${LABELS[variant].padEnd(20)} ${phase.loginsPerSec.toFixed(0).padStart(5)} logins/s` +
        `  p50 ${phase.p50Ms.toFixed(1)} ms  p99 ${phase.p99Ms.toFixed(1)} ms  CPU ${phase.appCpuMsPerLogin.toFixed(3)} ms/login` +
        `  app loop ${(phase.appElu * 100).toFixed(0)}% busy${run.errors ? `  ERRORS ${run.errors}: ${run.firstError}` : ''}`,
    );
    return phase;
  };

  const profileOnly = async (variant: Variant): Promise<void> => {
    const seconds = config.seconds * config.rounds;
    console.log(`profiling ${LABELS[variant]} for ${seconds} s after ${config.warmup} s of warm-up`);
    const app = apps[variant];
    await runLogins(users, app.info.url, config.warmup * 1000);
    await app.call('begin');
    await app.call('profileStart');
    const run = await runLogins(users, app.info.url, seconds * 1000);
    mkdirSync(profileDir, { recursive: true });
    await app.call('profileStop', join(profileDir, `${variant}.cpuprofile`));
    profiled = run.logins;
    console.log(
      `${run.logins} logins, ${((run.logins / run.elapsedMs) * 1000).toFixed(0)} logins/s under the profiler, ${run.errors} errors`,
    );
  };

  const measureAll = async (): Promise<void> => {
    const c0 = await stubs.call<StubsSnapshot>('snapshot');
    for (const variant of measured) {
      const run = await runLogins(users, apps[variant].info.url, config.warmup * 1000);
      if (run.errors > 0) throw new Error(`${LABELS[variant]} fails during warm-up: ${run.firstError}`);
    }
    const c1 = await stubs.call<StubsSnapshot>('snapshot');
    coldStartConnections =
      c1.connections.zignsec + c1.connections.oauth - c0.connections.zignsec - c0.connections.oauth;
    for (let round = 0; round < config.rounds; round++) {
      for (let i = 0; i < measured.length; i++) {
        phases.push(await measure(measured[(round + i) % measured.length] as Variant, round));
      }
    }
    for (const variant of measured) {
      await apps[variant].call('pendingBegin');
      const errors = await startPending(users, apps[variant].info.url, config.pending);
      const report = await apps[variant].call<PendingReport>('pendingEnd');
      pending.push({ variant, started: config.pending, errors, ...report });
    }
  };

  try {
    if (profileVariant) await profileOnly(profileVariant);
    else await measureAll();
  } finally {
    for (const user of users) user.close();
    for (const app of Object.values(apps)) await app.stop();
    await stubs.stop();
  }
  if (profileVariant) {
    console.log(summarizeProfile(profileDir, root, profiled));
    return;
  }

  const dist = join(distDir, 'index.js');
  const report: BenchReport = {
    date: new Date().toISOString(),
    machine: {
      nproc: cpus().length,
      cpu: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    },
    config: { ...config, dist: relative(root, distDir) },
    ...summarize(measured, phases, pending),
    coldStartConnections,
    importTime: {
      'passport-itsme': importTime(pathToFileURL(dist).href, root, config.importRuns),
      got: importTime('got', root, config.importRuns),
      'passport-oauth2': importTime('passport-oauth2', root, config.importRuns),
    },
    footprint: {
      itsme: { ...ownFootprint(root), self: 0 },
      oauth2: packageFootprint(root, 'passport-oauth2'),
    },
    phases,
    pending,
    totalSeconds: 0,
    speedCheckMs: { before: 0, after: 0 },
  };
  report.footprint.itsme.self = ownDistBytes();
  report.totalSeconds = (performance.now() - began) / 1000;
  report.speedCheckMs = { before: speedBefore, after: calibrate() };
  console.log(`\n${render(report)}`);
  console.log(
    `\nMachine: ${report.machine.nproc} x ${report.machine.cpu}, Node ${report.machine.node}. Total ${report.totalSeconds.toFixed(0)} s.` +
      ` Speed check (a fixed JS loop, lower is faster): ${report.speedCheckMs.before.toFixed(0)} ms before, ${report.speedCheckMs.after.toFixed(0)} ms after.`,
  );
  console.log(`JSON: ${writeReport(resultsDir, report)}`);
  const errors = phases.reduce((n, p) => n + p.errors, 0) + pending.reduce((n, p) => n + p.errors, 0);
  if (errors > 0) {
    console.error(`${errors} logins failed: the figures above are not valid.`);
    process.exitCode = 1;
  }
}

function ownDistBytes(): number {
  let total = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (!entry.name.endsWith('.tsbuildinfo')) total += statSync(path).size;
    }
  };
  walk(distDir);
  return total;
}

await main();
