/** Turns the raw measurements into the summary, the printed table and the JSON file. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Footprint, ImportTime } from './footprint.js';
import { LABELS, type PendingReport, type Variant } from './shared.js';
import { max, median, min, quantile } from './stats.js';

/** One variant measured in one round. */
export interface PhaseMeasure {
  round: number;
  variant: Variant;
  logins: number;
  errors: number;
  firstError?: string;
  elapsedMs: number;
  loginsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time (user + system) of the apps process per login, ms. */
  appCpuMsPerLogin: number;
  /** Apps process CPU time / wall time (1 = one core busy). */
  appCpu: number;
  /** Apps process event loop utilization (1 = never idle: the app is the bottleneck). */
  appElu: number;
  /** Stubs process CPU time / wall time. */
  stubCpu: number;
  /** Load generator (this process) CPU time / wall time. */
  loadCpu: number;
  /** CPU time of every other process on the machine / wall time (Linux `/proc/stat`): noise. */
  otherCpu: number;
  /** New TCP connections accepted by the upstream API stubs during the phase. */
  upstreamConnections: number;
  /** Requests the upstream API stubs answered during the phase, per login (2 expected). */
  upstreamRequestsPerLogin: number;
}

export interface PendingMeasure extends PendingReport {
  variant: Variant;
  /** Logins started and left pending. */
  started: number;
  errors: number;
}

export interface VariantSummary {
  variant: Variant;
  label: string;
  loginsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  appCpuMsPerLogin: number;
  upstreamConnectionsPerLogin: number;
  upstreamRequestsPerLogin: number;
  appElu: number;
  appCpu: number;
  stubCpu: number;
  loadCpu: number;
  otherCpu: number;
  sessionBytesPerPending: number;
  stateBytesPerPending: number;
  heapBytesPerPending: number;
}

export interface Ratio {
  /** Median over rounds of the ratio within each round. */
  median: number;
  min: number;
  max: number;
}

export interface BenchReport {
  date: string;
  machine: { nproc: number; cpu: string; node: string; platform: string; memoryGiB: number };
  config: Record<string, unknown>;
  summary: VariantSummary[];
  ratios: {
    loginsPerSec: { itsmeVsOAuth2: Ratio; itsmeVsBaseline: Ratio; itsmeVsNoGot?: Ratio };
    cpuPerLogin: { itsmeVsOAuth2: Ratio; itsmeVsBaseline: Ratio; itsmeVsNoGot?: Ratio };
  };
  coldStartConnections: number;
  importTime: Record<string, ImportTime>;
  footprint: { itsme: Footprint & { self: number }; oauth2: Footprint & { self: number } };
  phases: PhaseMeasure[];
  pending: PendingMeasure[];
  totalSeconds: number;
  /** A fixed JavaScript loop timed at the start and the end of the run (host speed check). */
  speedCheckMs: { before: number; after: number };
}

function ratio(phases: PhaseMeasure[], field: 'loginsPerSec' | 'appCpuMsPerLogin', other: Variant): Ratio {
  const values: number[] = [];
  for (const round of new Set(phases.map((p) => p.round))) {
    const mine = phases.find((p) => p.round === round && p.variant === 'itsme');
    const theirs = phases.find((p) => p.round === round && p.variant === other);
    if (mine && theirs) values.push(mine[field] / theirs[field]);
  }
  return { median: median(values), min: min(values), max: max(values) };
}

export function summarize(
  variants: readonly Variant[],
  phases: PhaseMeasure[],
  pending: PendingMeasure[],
): Pick<BenchReport, 'summary' | 'ratios'> {
  const summary = variants.map((variant): VariantSummary => {
    const mine = phases.filter((p) => p.variant === variant);
    const of = (pick: (p: PhaseMeasure) => number) => median(mine.map(pick));
    const held = pending.find((p) => p.variant === variant);
    const n = held?.started ?? Number.NaN;
    return {
      variant,
      label: LABELS[variant],
      loginsPerSec: of((p) => p.loginsPerSec),
      p50Ms: of((p) => p.p50Ms),
      p99Ms: of((p) => p.p99Ms),
      appCpuMsPerLogin: of((p) => p.appCpuMsPerLogin),
      upstreamConnectionsPerLogin: of((p) => p.upstreamConnections / p.logins),
      upstreamRequestsPerLogin: of((p) => p.upstreamRequestsPerLogin),
      appElu: of((p) => p.appElu),
      appCpu: of((p) => p.appCpu),
      stubCpu: of((p) => p.stubCpu),
      loadCpu: of((p) => p.loadCpu),
      otherCpu: of((p) => p.otherCpu),
      sessionBytesPerPending: held ? held.sessionBytes / n : Number.NaN,
      stateBytesPerPending: held ? held.stateBytes / n : Number.NaN,
      heapBytesPerPending: held ? (held.heapWith - held.heapWithout) / n : Number.NaN,
    };
  });
  return {
    summary,
    ratios: {
      loginsPerSec: {
        itsmeVsOAuth2: ratio(phases, 'loginsPerSec', 'oauth2'),
        itsmeVsBaseline: ratio(phases, 'loginsPerSec', 'baseline'),
        ...(variants.includes('nogot') ? { itsmeVsNoGot: ratio(phases, 'loginsPerSec', 'nogot') } : {}),
      },
      cpuPerLogin: {
        itsmeVsOAuth2: ratio(phases, 'appCpuMsPerLogin', 'oauth2'),
        itsmeVsBaseline: ratio(phases, 'appCpuMsPerLogin', 'baseline'),
        ...(variants.includes('nogot') ? { itsmeVsNoGot: ratio(phases, 'appCpuMsPerLogin', 'nogot') } : {}),
      },
    },
  };
}

/** Latency quantiles of one phase. */
export function latencyQuantiles(latencies: number[]): { p50Ms: number; p99Ms: number } {
  return { p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99) };
}

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  const line = (row: string[]) =>
    `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  const [head, ...body] = rows;
  return [line(head ?? []), rule, ...body.map(line)].join('\n');
}

const ratioText = (r: Ratio) => `${fixed(r.median, 2)}x (rounds ${fixed(r.min, 2)}-${fixed(r.max, 2)})`;

/** Says whether the apps process was the bottleneck, as it must be for the figures to mean anything. */
function bottleneck(report: BenchReport): string {
  const busy = Math.min(...report.summary.map((s) => s.appElu));
  const load = Math.max(...report.summary.map((s) => s.loadCpu));
  const other = Math.max(...report.summary.map((s) => s.otherCpu));
  const lines = [
    `Bottleneck check: the apps process's event loop was at least ${fixed(busy * 100, 0)}% busy (median per variant) while the load generator used at most ${fixed(load * 100, 0)}% of a core.`,
  ];
  if (busy < 0.9)
    lines.push('WARNING: the apps process was not saturated: the load generator or the stubs limit these figures.');
  if (other > 0.1)
    lines.push('WARNING: other processes used the CPU during the run: expect noise; run again on a quiet machine.');
  return lines.join('\n');
}

/** The Markdown tables printed at the end of a run (also used for the README). */
export function render(report: BenchReport): string {
  const { config } = report;
  const main = table([
    [
      'variant',
      'logins/s',
      'p50 ms',
      'p99 ms',
      'CPU ms/login',
      'new upstream conns/login',
      'session B/pending',
      'heap B/pending',
    ],
    ...report.summary.map((s) => [
      s.label,
      fixed(s.loginsPerSec, 0),
      fixed(s.p50Ms, 1),
      fixed(s.p99Ms, 1),
      fixed(s.appCpuMsPerLogin, 3),
      fixed(s.upstreamConnectionsPerLogin, 4),
      `${fixed(s.sessionBytesPerPending, 0)} (${fixed(s.stateBytesPerPending, 0)})`,
      fixed(s.heapBytesPerPending, 0),
    ]),
  ]);
  const checks = table([
    [
      'variant',
      'upstream calls/login',
      'app event loop busy',
      'app CPU',
      'stubs CPU',
      'load generator CPU',
      'other processes CPU',
    ],
    ...report.summary.map((s) => [
      s.label,
      fixed(s.upstreamRequestsPerLogin, 2),
      `${fixed(s.appElu * 100, 0)}%`,
      `${fixed(s.appCpu * 100, 0)}%`,
      `${fixed(s.stubCpu * 100, 0)}%`,
      `${fixed(s.loadCpu * 100, 0)}%`,
      `${fixed(s.otherCpu * 100, 0)}%`,
    ]),
  ]);
  const { loginsPerSec, cpuPerLogin } = report.ratios;
  const imports = Object.entries(report.importTime)
    .map(([name, t]) => `${name} ${fixed(t.medianMs, 1)} ms`)
    .join(', ');
  const { itsme, oauth2 } = report.footprint;
  return [
    `${config.vus} virtual users, ${config.rounds} interleaved rounds of ${config.seconds} s per variant; medians over rounds.`,
    '',
    main,
    '',
    `ItsMe / passport-oauth2 logins/s: ${ratioText(loginsPerSec.itsmeVsOAuth2)}; CPU per login: ${ratioText(cpuPerLogin.itsmeVsOAuth2)}`,
    `ItsMe / baseline        logins/s: ${ratioText(loginsPerSec.itsmeVsBaseline)}; CPU per login: ${ratioText(cpuPerLogin.itsmeVsBaseline)}`,
    ...(loginsPerSec.itsmeVsNoGot && cpuPerLogin.itsmeVsNoGot
      ? [
          `ItsMe / same with a node:http client (diagnostic) logins/s: ${ratioText(loginsPerSec.itsmeVsNoGot)}; CPU per login: ${ratioText(cpuPerLogin.itsmeVsNoGot)}`,
        ]
      : []),
    '',
    'Session B/pending: serialized session per started-but-unfinished login (in brackets: the login',
    `state's own share). Heap: heap the session store holds per pending login (full GC), ${config.pending} pending logins.`,
    `Upstream connections opened while warming up from cold: ${report.coldStartConnections}.`,
    '',
    checks,
    '',
    bottleneck(report),
    '',
    `Cold import (fresh process, median of ${config.importRuns}): ${imports}`,
    `Install footprint: passport-itsme ${itsme.count} runtime packages, ${kib(itsme.bytes)} (+ ${kib(itsme.self)} own dist); ` +
      `passport-oauth2 ${oauth2.count} runtime packages, ${kib(oauth2.bytes)} (+ ${kib(oauth2.self)} own)`,
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
