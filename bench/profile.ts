/** Reads `.cpuprofile` files of two apps profiled under the same paired load, and compares them per login. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LABELS, type Variant } from './shared.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: an npm package, Node's internals, this package's dist/, GC, or V8. */
function owner(frame: ProfileNode['callFrame'], root: string): string {
  const { url, functionName } = frame;
  if (functionName === '(garbage collector)') return '(garbage collector)';
  if (url === '') return '(native)';
  if (url.startsWith('node:')) return 'node:internal';
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  const at = path.lastIndexOf('/node_modules/');
  if (at >= 0) {
    const parts = path.slice(at + '/node_modules/'.length).split('/');
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? path);
  }
  const local = relative(root, path);
  return local.startsWith('dist/') ? 'passport-itsme (dist)' : local.split('/').slice(0, 2).join('/');
}

/** `file:line function`, the file relative to the package or to node_modules. */
function where(frame: ProfileNode['callFrame'], root: string): string {
  const name = frame.functionName || '(anonymous)';
  if (frame.url === '') return name;
  let path = frame.url.startsWith('file://') ? new URL(frame.url).pathname : frame.url;
  const at = path.lastIndexOf('/node_modules/');
  if (at >= 0) path = path.slice(at + '/node_modules/'.length);
  else if (path.startsWith('/')) path = relative(root, path);
  return `${path}:${frame.lineNumber + 1} ${name}`;
}

/** Sampled time of one variant, summed over its profiles, in µs. */
interface Totals {
  logins: number;
  busy: number;
  selfByFunction: Map<string, number>;
  selfByOwner: Map<string, number>;
  inclusiveByOwner: Map<string, number>;
  /** Inclusive time of each function of this package (its callees in Node or npm packages included). */
  inclusiveOwn: Map<string, number>;
}

const add = (map: Map<string, number>, key: string, value: number) => map.set(key, (map.get(key) ?? 0) + value);

/** Owners of the bench's own harness in an app process (IPC handlers, the profiler's own stop). */
const HARNESS = new Set(['bench/apps.ts', 'bench/ipc.ts']);

/**
 * Adds one profile to `totals`, scaled so that its busy samples add up to `cpuMicros` (the process's
 * measured CPU time): on a busy machine the sampler's wall-clock deltas also count the time the
 * process waited for a core. Idle samples and the harness's own are left out.
 */
function accumulate(totals: Totals, profile: CpuProfile, root: string, cpuMicros: number): void {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const kept: { node: ProfileNode; delta: number; owners: Set<string>; own: Set<string> }[] = [];
  let sampled = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === '(idle)') return;
    const owners = new Set<string>();
    const own = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at);
      if (!frame) continue;
      const name = owner(frame.callFrame, root);
      owners.add(name);
      if (name === 'passport-itsme (dist)') own.add(where(frame.callFrame, root));
    }
    if ([...owners].some((name) => HARNESS.has(name))) return;
    const delta = profile.timeDeltas[i] ?? 0;
    sampled += delta;
    kept.push({ node, delta, owners, own });
  });
  const scale = sampled > 0 && cpuMicros > 0 ? cpuMicros / sampled : 1;
  for (const { node, delta: raw, owners, own } of kept) {
    const delta = raw * scale;
    totals.busy += delta;
    add(totals.selfByFunction, where(node.callFrame, root), delta);
    add(totals.selfByOwner, owner(node.callFrame, root), delta);
    for (const name of owners) add(totals.inclusiveByOwner, name, delta);
    for (const name of own) add(totals.inclusiveOwn, name, delta);
  }
}

/**
 * Compares the profiles of `a` and `b` in `dir` (files `<variant>-<n>.cpuprofile`; logins and CPU
 * time per file in `runs`): µs of CPU per login by owner and by function, and where a spends more
 * than b. `(idle)` samples and the harness's are left out; the rest is scaled to the process's
 * measured CPU time, then to the CPU per login measured without the profiler (`unprofiled`, µs, for
 * a and b).
 */
export function compareProfiles(
  dir: string,
  root: string,
  [a, b]: readonly [Variant, Variant],
  runs: Record<string, { logins: number; cpuMicros: number }>,
  unprofiled: readonly [number, number],
  top = 25,
): string {
  const totals = new Map<Variant, Totals>();
  for (const variant of [a, b]) {
    const sum: Totals = {
      logins: 0,
      busy: 0,
      selfByFunction: new Map(),
      selfByOwner: new Map(),
      inclusiveByOwner: new Map(),
      inclusiveOwn: new Map(),
    };
    for (const file of readdirSync(dir).filter(
      (name) => name.startsWith(`${variant}-`) && name.endsWith('.cpuprofile'),
    )) {
      const run = runs[file] ?? { logins: 0, cpuMicros: 0 };
      accumulate(sum, JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile, root, run.cpuMicros);
      sum.logins += run.logins;
    }
    totals.set(variant, sum);
  }
  const ta = totals.get(a) as Totals;
  const tb = totals.get(b) as Totals;
  /** µs per login, scaled from the profiled CPU per login to the unprofiled one. */
  const factor = new Map([
    [ta, unprofiled[0] / (ta.busy / ta.logins)],
    [tb, unprofiled[1] / (tb.busy / tb.logins)],
  ]);
  const us = (value: number, of: Totals) => (of.logins > 0 ? (value / of.logins) * (factor.get(of) ?? 1) : Number.NaN);
  const raw = (of: Totals) => (of.busy / of.logins).toFixed(0);
  const cell = (value: number) => value.toFixed(1).padStart(8);
  const compare = (pick: (t: Totals) => Map<string, number>, limit: number) => {
    const keys = new Set([...pick(ta).keys(), ...pick(tb).keys()]);
    const rows = [...keys].map((key) => {
      const x = us(pick(ta).get(key) ?? 0, ta);
      const y = us(pick(tb).get(key) ?? 0, tb);
      return { key, x, y, diff: x - y };
    });
    rows.sort((p, q) => Math.abs(q.diff) - Math.abs(p.diff));
    return rows.slice(0, limit).map((r) => `${cell(r.x)} ${cell(r.y)} ${cell(r.diff)}  ${r.key}`);
  };
  const head = `${a.padStart(8)} ${b.padStart(8)} ${'diff'.padStart(8)}  (µs per login)`;
  const own = [...ta.inclusiveOwn].sort((p, q) => q[1] - p[1]).slice(0, top);
  const ownSelf = [...ta.selfByFunction]
    .filter(([key]) => key.startsWith('dist/'))
    .sort((p, q) => q[1] - p[1])
    .slice(0, top);
  return [
    `${LABELS[a]}: ${ta.logins} logins profiled, ${raw(ta)} µs of CPU per login under the profiler, ${us(ta.busy, ta).toFixed(0)} without`,
    `${LABELS[b]}: ${tb.logins} logins profiled, ${raw(tb)} µs of CPU per login under the profiler, ${us(tb.busy, tb).toFixed(0)} without`,
    'Below: µs of CPU per login, the samples scaled to the CPU per login measured without the profiler',
    `(the same paired load, just before each profiled run); a-b gap ${(us(ta.busy, ta) - us(tb.busy, tb)).toFixed(0)} µs/login.`,
    '',
    'self time by owner:',
    head,
    ...compare((t) => t.selfByOwner, 20),
    '',
    'inclusive time by owner (any frame of it on the stack):',
    head,
    ...compare((t) => t.inclusiveByOwner, 20),
    '',
    `functions whose self time differs most (top ${top}):`,
    head,
    ...compare((t) => t.selfByFunction, top),
    '',
    `${LABELS[a]}'s own functions (dist/) by self time (top ${top}):`,
    ...ownSelf.map(([key, value]) => `${cell(us(value, ta))}  ${key}`),
    '',
    `${LABELS[a]}'s own functions (dist/) by inclusive time, callees included (top ${top}):`,
    ...own.map(([key, value]) => `${cell(us(value, ta))}  ${key}`),
  ].join('\n');
}
