/** Turns the raw measurements into the summary, the printed tables and the JSON file. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Footprint, ImportTime } from './footprint.js';
import { LABELS, type PendingReport, type Variant } from './shared.js';
import { median, type Spread, spread } from './stats.js';

/** One variant in one round of one pair. */
export interface PhaseMeasure {
  round: number;
  /** `a/b`: the pair this phase ran in. */
  pair: string;
  variant: Variant;
  logins: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  loginsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time (user + system, all threads) of the app's process per login, ms. */
  appCpuMsPerLogin: number;
  /** App process CPU time / wall time (1 = one core busy). */
  appCpu: number;
  /** New TCP connections accepted by the variant's upstream API stub during the phase. */
  upstreamConnections: number;
  /** Requests the variant's upstream API stub answered during the phase, per login (2 expected). */
  upstreamRequestsPerLogin: number;
  /** Diagnostics messages received per login (the `subs` variant; 0 elsewhere). */
  eventsPerLogin: number;
}

/** One round of one pair: both apps under load at the same time. */
export interface PairRound {
  round: number;
  a: Variant;
  b: Variant;
  /** The app whose users started first this round (alternates). */
  first: Variant;
  /** a's logins per server-CPU-second over b's (= b's CPU per login over a's). */
  ratio: number;
  /** Stubs process CPU time / wall time. */
  stubCpu: number;
  /** Load generator (the parent process) CPU time / wall time. */
  loadCpu: number;
  /** CPU of every other process on the machine / wall time (Linux `/proc/stat`): noise. */
  otherCpu: number;
}

export interface PendingMeasure extends PendingReport {
  variant: Variant;
  /** Logins started and left pending. */
  started: number;
  errors: number;
}

/** New upstream connections while an app ran on, right after its warm-up. */
export interface SteadyMeasure {
  variant: Variant;
  logins: number;
  connections: number;
}

export interface VariantSummary {
  variant: Variant;
  label: string;
  appCpuMsPerLogin: number;
  loginsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  appCpu: number;
  upstreamRequestsPerLogin: number;
  /** New upstream connections per login at steady state ({@link SteadyMeasure}). */
  steadyConnectionsPerLogin: number;
  eventsPerLogin: number;
  sessionBytesPerPending: number;
  stateBytesPerPending: number;
  heapBytesPerPending: number;
}

export interface PairSummary extends Spread {
  a: Variant;
  b: Variant;
  rounds: number[];
}

export interface Target {
  target: string;
  measured: string;
  verdict: 'met' | 'not met' | 'not judged: noisy run' | 'not judged: too few rounds';
}

export interface BenchReport {
  date: string;
  machine: { nproc: number; cpu: string; node: string; platform: string; memoryGiB: number };
  config: Record<string, unknown>;
  summary: VariantSummary[];
  pairs: PairSummary[];
  noise: { otherCpu: Spread; loadCpu: number; stubCpu: number };
  coldStartConnections: number;
  importTime: Record<string, ImportTime>;
  footprint: Record<string, Footprint & { self: number }>;
  phases: PhaseMeasure[];
  rounds: PairRound[];
  pending: PendingMeasure[];
  steady: SteadyMeasure[];
  totalSeconds: number;
  /** A fixed JavaScript loop timed at the start and the end of the run (host speed check). */
  speedCheckMs: { before: number; after: number };
}

export function summarize(
  variants: readonly Variant[],
  phases: PhaseMeasure[],
  rounds: PairRound[],
  pending: PendingMeasure[],
  steady: SteadyMeasure[],
): Pick<BenchReport, 'summary' | 'pairs' | 'noise'> {
  const summary = variants.map((variant): VariantSummary => {
    const mine = phases.filter((p) => p.variant === variant);
    const of = (pick: (p: PhaseMeasure) => number) => median(mine.map(pick));
    const held = pending.find((p) => p.variant === variant);
    const n = held?.started ?? Number.NaN;
    const still = steady.find((p) => p.variant === variant);
    return {
      variant,
      label: LABELS[variant],
      appCpuMsPerLogin: of((p) => p.appCpuMsPerLogin),
      loginsPerSec: of((p) => p.loginsPerSec),
      p50Ms: of((p) => p.p50Ms),
      p99Ms: of((p) => p.p99Ms),
      appCpu: of((p) => p.appCpu),
      upstreamRequestsPerLogin: of((p) => p.upstreamRequestsPerLogin),
      steadyConnectionsPerLogin: still ? still.connections / still.logins : Number.NaN,
      eventsPerLogin: of((p) => p.eventsPerLogin),
      sessionBytesPerPending: held ? held.sessionBytes / n : Number.NaN,
      stateBytesPerPending: held ? held.stateBytes / n : Number.NaN,
      heapBytesPerPending: held ? (held.heapWith - held.heapWithout) / n : Number.NaN,
    };
  });
  const keys = [...new Set(rounds.map((r) => `${r.a}/${r.b}`))];
  const pairs = keys.map((key): PairSummary => {
    const mine = rounds.filter((r) => `${r.a}/${r.b}` === key);
    const ratios = mine.map((r) => r.ratio);
    const first = mine[0] as PairRound;
    return { a: first.a, b: first.b, ...spread(ratios), rounds: ratios };
  });
  return {
    summary,
    pairs,
    noise: {
      otherCpu: spread(rounds.map((r) => r.otherCpu)),
      loadCpu: median(rounds.map((r) => r.loadCpu)),
      stubCpu: median(rounds.map((r) => r.stubCpu)),
    },
  };
}

/** Other processes above this share of a core (median over rounds) make a run too noisy to judge. */
const NOISY_OTHER_CPU = 0.1;
/** Fewer rounds than this give no verdict on a ratio target. */
const MIN_ROUNDS = 10;
/** A speed check that moved more than this between the start and the end also does. */
const NOISY_SPEED_DRIFT = 0.1;

/** Why the run is too noisy to judge a ratio target, or `undefined` when it is quiet enough. */
export function noisy(report: BenchReport): string | undefined {
  const other = report.noise.otherCpu.median;
  if (!(other <= NOISY_OTHER_CPU)) {
    return `other processes used ${fixed(other * 100, 0)}% of a core (median over rounds; quiet is under ${NOISY_OTHER_CPU * 100}%)`;
  }
  const { before, after } = report.speedCheckMs;
  if (Math.abs(after - before) / before > NOISY_SPEED_DRIFT) {
    return `the speed check moved from ${fixed(before, 0)} to ${fixed(after, 0)} ms during the run`;
  }
  return undefined;
}

function targets(report: BenchReport): Target[] {
  const noise = noisy(report);
  const out: Target[] = [];
  const ratioTarget = (a: Variant, b: Variant, at: number) => {
    const pair = report.pairs.find((p) => p.a === a && p.b === b);
    if (!pair) return;
    out.push({
      target: `${LABELS[a]} / ${LABELS[b]} >= ${at.toFixed(2)}x`,
      measured: `${fixed(pair.median, 3)}x (IQR ${fixed(pair.q1, 3)}-${fixed(pair.q3, 3)})`,
      verdict: noise
        ? 'not judged: noisy run'
        : pair.rounds.length < MIN_ROUNDS
          ? 'not judged: too few rounds'
          : pair.median >= at
            ? 'met'
            : 'not met',
    });
  };
  ratioTarget('itsme', 'oauth2', 1);
  ratioTarget('itsme', 'baseline', 1);
  ratioTarget('subs', 'oauth2', 0.97);
  const itsme = report.steady.filter((s) => s.variant === 'itsme' || s.variant === 'subs');
  const connections = itsme.reduce((sum, s) => sum + s.connections, 0);
  const logins = itsme.reduce((sum, s) => sum + s.logins, 0);
  out.push({
    target: '0 new upstream connections per login at steady state',
    measured: `${connections} in ${logins} logins`,
    verdict: connections === 0 && logins > 0 ? 'met' : 'not met',
  });
  const session = report.summary.find((s) => s.variant === 'itsme')?.sessionBytesPerPending ?? Number.NaN;
  if (Number.isFinite(session))
    out.push({
      target: '< 256 B of session per pending login',
      measured: `${fixed(session, 0)} B`,
      verdict: session < 256 ? 'met' : 'not met',
    });
  return out;
}

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
const percent = (value: number) => `${fixed(value * 100, 0)}%`;

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  const line = (row: string[]) =>
    `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  const [head, ...body] = rows;
  return [line(head ?? []), rule, ...body.map(line)].join('\n');
}

/** The Markdown tables printed at the end of a run (also pasted into bench/README.md). */
export function render(report: BenchReport): string {
  const { config, machine, noise } = report;
  const pairs = table([
    ['A / B (logins per server-CPU-second)', 'median', 'IQR', 'range', 'rounds'],
    ...report.pairs.map((p) => [
      `${LABELS[p.a]} / ${LABELS[p.b]}`,
      `${fixed(p.median, 3)}x`,
      `${fixed(p.q1, 3)}-${fixed(p.q3, 3)}`,
      `${fixed(p.min, 3)}-${fixed(p.max, 3)}`,
      String(p.rounds.length),
    ]),
  ]);
  const goals = table([
    ['target', 'measured', 'verdict'],
    ...targets(report).map((t) => [t.target, t.measured, t.verdict]),
  ]);
  const variants = table([
    [
      'variant',
      'CPU ms/login',
      'logins/s',
      'p50 ms',
      'p99 ms',
      'app CPU',
      'upstream calls/login',
      'new upstream conns/login',
      'events/login',
      'session B/pending',
      'heap B/pending',
    ],
    ...report.summary.map((s) => [
      s.label,
      fixed(s.appCpuMsPerLogin, 3),
      fixed(s.loginsPerSec, 0),
      fixed(s.p50Ms, 1),
      fixed(s.p99Ms, 1),
      percent(s.appCpu),
      fixed(s.upstreamRequestsPerLogin, 2),
      fixed(s.steadyConnectionsPerLogin, 4),
      fixed(s.eventsPerLogin, 1),
      Number.isFinite(s.sessionBytesPerPending)
        ? `${fixed(s.sessionBytesPerPending, 0)} (${fixed(s.stateBytesPerPending, 0)})`
        : '-',
      Number.isFinite(s.heapBytesPerPending) ? fixed(s.heapBytesPerPending, 0) : '-',
    ]),
  ]);
  const imports = Object.entries(report.importTime)
    .map(([name, t]) => `${name} ${fixed(t.medianMs, 1)} ms`)
    .join(', ');
  const footprint = Object.entries(report.footprint)
    .map(([name, f]) => `${name} ${f.count} runtime packages, ${kib(f.bytes)} (+ ${kib(f.self)} own)`)
    .join('; ');
  const noiseReason = noisy(report);
  return [
    `Paired: ${config.rounds} rounds of ${config.seconds} s per pair, ${config.vus} virtual users per app;` +
      ' both apps of a pair under load at once, pair order shuffled each round, which app starts first alternating.',
    '',
    pairs,
    '',
    goals,
    ...(noiseReason
      ? ['', `NOISY RUN: ${noiseReason}. Ratio targets are not judged; run again on a quiet machine.`]
      : []),
    '',
    'Per variant, medians over every round it ran in (while paired with another app):',
    '',
    variants,
    '',
    `Session B/pending: serialized session per started-but-unfinished login (in brackets: the login state's own share); heap: what the store holds per pending login after a full GC (${config.pending} pending logins).`,
    `New upstream conns/login: while each app ran on alone for 2 s right after its warm-up (steady state). Upstream connections opened while warming up from cold: ${report.coldStartConnections}.`,
    `Noise: other processes ${percent(noise.otherCpu.median)} of a core (median over rounds, max ${percent(noise.otherCpu.max)}); load generator ${percent(noise.loadCpu)}, stubs ${percent(noise.stubCpu)}.` +
      ` Speed check (a fixed JS loop, lower is faster): ${fixed(report.speedCheckMs.before, 0)} ms before, ${fixed(report.speedCheckMs.after, 0)} ms after.`,
    `Cold import (fresh process, median of ${config.importRuns}): ${imports}.`,
    `Install footprint: ${footprint}.`,
    `Machine: ${machine.nproc} x ${machine.cpu}, ${machine.memoryGiB} GiB, ${machine.platform}, Node ${machine.node}. Total ${fixed(report.totalSeconds, 0)} s.`,
  ].join('\n');
}

/** Writes `bench/results/bench-<date>.json` and `bench/results/latest.json`; returns the first path. */
export function writeReport(dir: string, report: BenchReport): string {
  mkdirSync(dir, { recursive: true });
  const text = `${JSON.stringify(report, null, 2)}\n`;
  const path = join(dir, `bench-${report.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(path, text);
  writeFileSync(join(dir, 'latest.json'), text);
  return path;
}
