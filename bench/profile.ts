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

function idleId(profile: CpuProfile): number | undefined {
  return profile.nodes.find((node) => node.callFrame.functionName === '(idle)')?.id;
}

const add = (map: Map<string, number>, key: string, value: number) => map.set(key, (map.get(key) ?? 0) + value);

/**
 * Adds one profile to `totals`, scaled so that its busy samples add up to `cpuMicros` (the process's
 * measured CPU time): on a busy machine the sampler's wall-clock deltas also count the time the
 * process waited for a core.
 */
function accumulate(totals: Totals, profile: CpuProfile, root: string, cpuMicros: number): void {
  let sampled = 0;
  profile.samples.forEach((id, i) => {
    if (id !== idleId(profile)) sampled += profile.timeDeltas[i] ?? 0;
  });
  const scale = sampled > 0 && cpuMicros > 0 ? cpuMicros / sampled : 1;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  profile.samples.forEach((id, i) => {
    const delta = (profile.timeDeltas[i] ?? 0) * scale;
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === '(idle)') return;
    totals.busy += delta;
    add(totals.selfByFunction, where(node.callFrame, root), delta);
    add(totals.selfByOwner, owner(node.callFrame, root), delta);
    const owners = new Set<string>();
    const own = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at);
      if (!frame) continue;
      const name = owner(frame.callFrame, root);
      owners.add(name);
      if (name === 'passport-itsme (dist)') own.add(where(frame.callFrame, root));
    }
    for (const name of owners) add(totals.inclusiveByOwner, name, delta);
    for (const name of own) add(totals.inclusiveOwn, name, delta);
  });
}

/**
 * Compares the profiles of `a` and `b` in `dir` (files `<variant>-<n>.cpuprofile`; logins and CPU
 * time per file in `runs`): µs of CPU per login by owner and by function, and where a spends more
 * than b. `(idle)` samples are left out; the rest is scaled to the process's measured CPU time.
 */
export function compareProfiles(
  dir: string,
  root: string,
  [a, b]: readonly [Variant, Variant],
  runs: Record<string, { logins: number; cpuMicros: number }>,
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
  const us = (value: number, of: Totals) => (of.logins > 0 ? value / of.logins : Number.NaN);
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
  return [
    `${LABELS[a]}: ${ta.logins} logins, ${us(ta.busy, ta).toFixed(1)} µs/login (the process's CPU time, spread over the samples)`,
    `${LABELS[b]}: ${tb.logins} logins, ${us(tb.busy, tb).toFixed(1)} µs/login`,
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
    `${LABELS[a]}'s own functions (dist/) by inclusive time, callees included (top ${top}):`,
    ...own.map(([key, value]) => `${cell(us(value, ta))}  ${key}`),
  ].join('\n');
}
