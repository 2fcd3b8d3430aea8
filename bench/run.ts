/**
 * `npm run bench`: full itsme logins per server-CPU-second against passport-oauth2 and a hand-written
 * baseline, in **paired** rounds: the two apps of a pair are under load at the same time, so they
 * share the machine's noise, and each round gives one ratio. Each app runs in its own child process,
 * the provider stubs in another, and the load comes from this process. See bench/README.md.
 *
 * Options: --rounds N (15), --seconds S per round (2), --vus N per app (16), --warmup S per app (2),
 * --pending N (2000), --import-runs N (7), --got (also pair itsme on got 14 with itsme),
 * --floor (also pair itsme with the same flow as a minimal strategy with no checks),
 * --before DIR (variant `before`: the package from another build, for pairs such as itsme/before),
 * --pairs a/b,c/d (instead of the four pairs of the targets),
 * --dist DIR (a build other than dist/), --profile A,B (CPU profiles of two apps under paired load
 * instead of the figures, then where A's time per login differs from B's), --profile-runs N (5).
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
import { type PhaseResult, runLogins, startPending, VirtualUser } from './load.js';
import { compareProfiles } from './profile.js';
import {
  type BenchReport,
  type PairRound,
  type PendingMeasure,
  type PhaseMeasure,
  render,
  type SteadyMeasure,
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
  type Variant,
} from './shared.js';
import { quantile } from './stats.js';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const here = join(root, 'bench');
const resultsDir = join(here, 'results');

const { values: args } = parseArgs({
  options: {
    vus: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '15' },
    seconds: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '2' },
    pending: { type: 'string', default: '2000' },
    'import-runs': { type: 'string', default: '7' },
    got: { type: 'boolean', default: false },
    floor: { type: 'boolean', default: false },
    pairs: { type: 'string' },
    dist: { type: 'string' },
    before: { type: 'string' },
    profile: { type: 'string' },
    'profile-runs': { type: 'string', default: '5' },
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
  rounds: Math.round(positive('rounds', args.rounds, 100)),
  seconds: positive('seconds', args.seconds, 60),
  warmup: positive('warmup', args.warmup, 60),
  pending: Math.round(positive('pending', args.pending, 100_000)),
  importRuns: Math.round(positive('import-runs', args['import-runs'], 50)),
  profileRuns: Math.round(positive('profile-runs', args['profile-runs'], 50)),
  /** Both apps of a pair are warmed again this long before each measured round. */
  rewarmMs: 300,
};

/** A pair `[a, b]` reports a's logins per server-CPU-second over b's. */
type Pair = readonly [Variant, Variant];

/** `a<separator>b` as a pair of two different variants. */
function parsePair(text: string, separator: string, option: string): Pair {
  const names = text.split(separator);
  const valid = (name: string | undefined): name is Variant => ALL_VARIANTS.includes(name as Variant);
  const [a, b] = names;
  if (names.length !== 2 || !valid(a) || !valid(b) || a === b) {
    throw new Error(
      `--${option} takes two different variants, as in itsme${separator}oauth2 (of ${ALL_VARIANTS.join(', ')})`,
    );
  }
  return [a, b];
}

/** The pairs the targets need (or `--pairs`); `--got` adds the transport comparison, `--floor` what the checks cost. */
const PAIRS: readonly Pair[] = unique([
  ...(args.pairs
    ? args.pairs.split(',').map((text) => parsePair(text, '/', 'pairs'))
    : ([
        ['itsme', 'oauth2'],
        ['itsme', 'baseline'],
        ['subs', 'oauth2'],
        ['subs', 'itsme'],
      ] as const)),
  ...(args.got ? ([['got', 'itsme']] as const) : []),
  ...(args.floor ? ([['itsme', 'floor']] as const) : []),
]);

function unique(pairs: readonly Pair[]): Pair[] {
  const seen = new Set<string>();
  return pairs.filter((pair) => !seen.has(pair.join('/')) && seen.add(pair.join('/')));
}
/**
 * Right after its warm-up, each app runs on alone this long while new upstream connections are
 * counted: steady state, with no idle gap (the package closes sockets idle for 4 s; in the paired
 * rounds an app can wait longer than that for its next pair).
 */
const STEADY_MS = 2000;
/** Variants whose pending logins are measured (the others store exactly what `itsme` stores). */
const PENDING_VARIANTS: readonly Variant[] = ['itsme', 'oauth2', 'baseline'];

const profiled = args.profile === undefined ? undefined : parsePair(args.profile || 'itsme,oauth2', ',', 'profile');
const variants: readonly Variant[] = profiled ?? [...new Set(PAIRS.flat())];

/**
 * The order of the pairs in each round: shuffled (a fixed seed, so every run uses the same orders),
 * so that no pair always follows the same other pair, with the same app kept warm from the pair
 * before and the other just back from waiting.
 */
function roundOrders(rounds: number, count: number): number[][] {
  let seed = 0x9e3779b9;
  const random = () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return Array.from({ length: rounds }, () => {
    const order = Array.from({ length: count }, (_, i) => i);
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    return order;
  });
}

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
/** The build the `before` variant loads (`--before DIR`). */
const beforeDir = args.before === undefined ? undefined : resolve(root, args.before);
if (variants.includes('before') && beforeDir === undefined)
  throw new Error('the before variant needs --before DIR (a build of the package)');

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

const cpuMs = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) => (b.user - a.user + b.system - a.system) / 1000;

async function main(): Promise<void> {
  const began = performance.now();
  ensureBuild();
  const speedBefore = calibrate();
  const stubs = await Remote.start<StubsInfo>(join(here, 'stubs.ts'), [JSON.stringify(variants)]);
  const apps = {} as Record<Variant, Remote<AppInfo>>;
  const users = {} as Record<Variant, VirtualUser[]>;
  for (const variant of variants) {
    apps[variant] = await Remote.start<AppInfo>(
      join(here, 'apps.ts'),
      [JSON.stringify(stubs.info), variant === 'before' ? (beforeDir ?? distDir) : distDir, variant],
      ['--expose-gc'],
    );
    users[variant] = Array.from({ length: config.vus }, () => new VirtualUser());
  }
  const load = (variant: Variant, ms: number) => runLogins(users[variant], apps[variant].info.url, ms);
  const phases: PhaseMeasure[] = [];
  const rounds: PairRound[] = [];
  const pending: PendingMeasure[] = [];
  const steady: SteadyMeasure[] = [];
  let coldStartConnections = 0;

  /** One round of one pair: both apps under load at once; `first` gets its users going first. */
  const measurePair = async (pair: Pair, round: number, first: Variant): Promise<void> => {
    const order = pair[0] === first ? pair : ([pair[1], pair[0]] as const);
    await Promise.all(order.map((variant) => load(variant, config.rewarmMs)));
    const begin = await Promise.all([
      ...order.map((variant) => apps[variant].call<AppsSnapshot>('begin')),
      stubs.call<StubsSnapshot>('snapshot'),
    ]);
    const p0 = process.cpuUsage();
    const m0 = machineCpuMs();
    const runs = await Promise.all(order.map((variant) => load(variant, config.seconds * 1000)));
    const loadCpu = cpuMs(p0, process.cpuUsage());
    const m1 = machineCpuMs();
    const end = await Promise.all([
      ...order.map((variant) => apps[variant].call<AppsSnapshot>('snapshot')),
      stubs.call<StubsSnapshot>('snapshot'),
    ]);
    const wall = Math.max(...runs.map((run) => run.elapsedMs));
    const [s0, s1] = [begin[2] as StubsSnapshot, end[2] as StubsSnapshot];
    const stubCpu = cpuMs(s0.cpu, s1.cpu);
    let appsCpu = 0;
    const measured = order.map((variant, i): PhaseMeasure => {
      const [a0, a1, run] = [begin[i] as AppsSnapshot, end[i] as AppsSnapshot, runs[i] as PhaseResult];
      const appCpu = cpuMs(a0.cpu, a1.cpu);
      appsCpu += appCpu;
      const count = (of: StubsSnapshot, what: 'connections' | 'requests') => of[what][variant] ?? 0;
      return {
        round,
        pair: `${pair[0]}/${pair[1]}`,
        variant,
        logins: run.logins,
        errors: run.errors,
        ...(run.firstError ? { firstError: run.firstError } : {}),
        elapsedMs: run.elapsedMs,
        loginsPerSec: (run.logins / run.elapsedMs) * 1000,
        p50Ms: quantile(run.latencies, 0.5),
        p99Ms: quantile(run.latencies, 0.99),
        appCpuMsPerLogin: appCpu / run.logins,
        appCpu: appCpu / run.elapsedMs,
        upstreamConnections: count(s1, 'connections') - count(s0, 'connections'),
        upstreamRequestsPerLogin: (count(s1, 'requests') - count(s0, 'requests')) / run.logins,
        eventsPerLogin: (a1.events - a0.events) / run.logins,
      };
    });
    phases.push(...measured);
    const of = (variant: Variant) => measured.find((p) => p.variant === variant) as PhaseMeasure;
    const [a, b] = [of(pair[0]), of(pair[1])];
    const other =
      m0 === undefined || m1 === undefined ? Number.NaN : Math.max(0, m1 - m0 - appsCpu - stubCpu - loadCpu);
    const entry: PairRound = {
      round,
      a: pair[0],
      b: pair[1],
      first,
      ratio: b.appCpuMsPerLogin / a.appCpuMsPerLogin,
      stubCpu: stubCpu / wall,
      loadCpu: loadCpu / wall,
      otherCpu: other / wall,
    };
    rounds.push(entry);
    const errors = a.errors + b.errors;
    console.log(
      `round ${String(round + 1).padStart(2)} ${`${LABELS[pair[0]]} / ${LABELS[pair[1]]}`.padEnd(42)}` +
        ` ${entry.ratio.toFixed(3)}x  (${a.appCpuMsPerLogin.toFixed(3)} / ${b.appCpuMsPerLogin.toFixed(3)} ms CPU per login,` +
        ` ${a.logins}+${b.logins} logins, other processes ${(entry.otherCpu * 100).toFixed(0)}% of a core)` +
        (errors ? `  ERRORS ${errors}: ${a.firstError ?? b.firstError}` : ''),
    );
  };

  const measureAll = async (): Promise<void> => {
    const connections = async (variant: Variant) =>
      (await stubs.call<StubsSnapshot>('snapshot')).connections[variant] ?? 0;
    for (const variant of variants) {
      const c0 = await connections(variant);
      const run = await load(variant, config.warmup * 1000);
      if (run.errors > 0) throw new Error(`${LABELS[variant]} fails during warm-up: ${run.firstError}`);
      const c1 = await connections(variant);
      const next = await load(variant, STEADY_MS);
      steady.push({ variant, logins: next.logins, connections: (await connections(variant)) - c1 });
      coldStartConnections += c1 - c0;
    }
    for (const [round, order] of roundOrders(config.rounds, PAIRS.length).entries()) {
      for (const index of order) {
        const pair = PAIRS[index] as Pair;
        await measurePair(pair, round, pair[round % 2] as Variant);
      }
    }
    for (const variant of PENDING_VARIANTS.filter((name) => variants.includes(name))) {
      await apps[variant].call('pendingBegin');
      const errors = await startPending(users[variant], apps[variant].info.url, config.pending);
      const report = await apps[variant].call<PendingReport>('pendingEnd');
      pending.push({ variant, started: config.pending, errors, ...report });
    }
  };

  /** `--profile a,b`: both under paired load, each profiled, `profileRuns` times; then the comparison. */
  const profileBoth = async (pair: Pair): Promise<void> => {
    const dir = join(resultsDir, 'profiles', new Date().toISOString().replace(/[:.]/g, '-'));
    mkdirSync(dir, { recursive: true });
    const seconds = config.seconds * 2;
    console.log(
      `profiling ${LABELS[pair[0]]} and ${LABELS[pair[1]]}: ${config.profileRuns} paired runs of ${seconds} s`,
    );
    await Promise.all(pair.map((variant) => load(variant, config.warmup * 1000)));
    const runs: Record<string, { logins: number; cpuMicros: number }> = {};
    const plain = pair.map(() => ({ logins: 0, cpuMicros: 0 }));
    for (let run = 0; run < config.profileRuns; run++) {
      // The same paired load without the profiler first, for the CPU per login the profiler hides.
      const before = await Promise.all(pair.map((variant) => apps[variant].call<AppsSnapshot>('begin')));
      const unprofiled = await Promise.all(pair.map((variant) => load(variant, seconds * 1000)));
      for (const [i, variant] of pair.entries()) {
        const after = await apps[variant].call<AppsSnapshot>('snapshot');
        (plain[i] as { logins: number }).logins += unprofiled[i]?.logins ?? 0;
        (plain[i] as { cpuMicros: number }).cpuMicros += cpuMs((before[i] as AppsSnapshot).cpu, after.cpu) * 1000;
      }
      const begin = await Promise.all(pair.map((variant) => apps[variant].call<AppsSnapshot>('begin')));
      await Promise.all(pair.map((variant) => apps[variant].call('profileStart')));
      const results = await Promise.all(pair.map((variant) => load(variant, seconds * 1000)));
      for (const [i, variant] of pair.entries()) {
        const file = `${variant}-${run + 1}.cpuprofile`;
        const end = await apps[variant].call<AppsSnapshot>('snapshot');
        await apps[variant].call('profileStop', join(dir, file));
        const cpuMicros = cpuMs((begin[i] as AppsSnapshot).cpu, end.cpu) * 1000;
        runs[file] = { logins: results[i]?.logins ?? 0, cpuMicros };
        if (results[i]?.errors) throw new Error(`${LABELS[variant]}: ${results[i]?.firstError}`);
      }
      console.log(`run ${run + 1}: ${results.map((r, i) => `${pair[i]} ${r.logins} logins`).join(', ')}`);
    }
    const perLogin = plain.map((p) => p.cpuMicros / p.logins) as [number, number];
    console.log(`\n${compareProfiles(dir, root, pair, runs, perLogin)}\nProfiles: ${relative(root, dir)}`);
  };

  try {
    if (profiled) await profileBoth(profiled);
    else await measureAll();
  } finally {
    for (const list of Object.values(users)) for (const user of list) user.close();
    for (const app of Object.values(apps)) await app.stop();
    await stubs.stop();
  }
  if (profiled) return;

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
    config: { ...config, dist: relative(root, distDir), pairs: PAIRS.map((pair) => pair.join('/')) },
    ...summarize(variants, phases, rounds, pending, steady),
    coldStartConnections,
    importTime: {
      'passport-itsme': importTime(pathToFileURL(dist).href, root, config.importRuns),
      'passport-oauth2': importTime('passport-oauth2', root, config.importRuns),
      ...(args.got ? { got: importTime('got', root, config.importRuns) } : {}),
    },
    footprint: {
      itsme: { ...ownFootprint(root), self: ownDistBytes() },
      oauth2: packageFootprint(root, 'passport-oauth2'),
      ...(args.got ? { got: packageFootprint(root, 'got') } : {}),
    },
    phases,
    rounds,
    pending,
    steady,
    totalSeconds: 0,
    speedCheckMs: { before: speedBefore, after: 0 },
  };
  report.speedCheckMs.after = calibrate();
  report.totalSeconds = (performance.now() - began) / 1000;
  console.log(`\n${render(report)}`);
  console.log(`JSON: ${relative(root, writeReport(resultsDir, report))}`);
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
