/** Reads a `.cpuprofile` of the apps process and prints where the time went, per login. */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

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

/** Where a frame's code lives: an npm package, Node's internals, this package, GC, or V8 itself. */
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

/**
 * Self time by owner and by function, and inclusive time by owner (time with any frame of that
 * owner on the stack), of each profile in `dir`, in µs per login.
 */
export function summarizeProfile(dir: string, root: string, logins: number, top = 30): string {
  const out: string[] = [];
  const per = (micros: number) => `${(micros / logins).toFixed(1).padStart(8)} µs/login`;
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const parent = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    const selfByFunction = new Map<string, number>();
    const selfByOwner = new Map<string, number>();
    const inclusiveByOwner = new Map<string, number>();
    const add = (map: Map<string, number>, key: string, value: number) => map.set(key, (map.get(key) ?? 0) + value);
    let busy = 0;
    profile.samples.forEach((id, i) => {
      const delta = profile.timeDeltas[i] ?? 0;
      const node = byId.get(id);
      if (!node || node.callFrame.functionName === '(idle)') return;
      busy += delta;
      const { functionName, url, lineNumber } = node.callFrame;
      const where = owner(node.callFrame, root);
      add(selfByFunction, `${functionName || '(anonymous)'} ${where}${url ? `:${lineNumber + 1}` : ''}`, delta);
      add(selfByOwner, where, delta);
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const frame = byId.get(at);
        if (frame) seen.add(owner(frame.callFrame, root));
      }
      for (const name of seen) add(inclusiveByOwner, name, delta);
    });
    const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]);
    out.push(`${file}: ${logins} logins, ${per(busy)} on the main thread (sampled)`);
    out.push('', 'self time by owner:');
    for (const [name, time] of sorted(selfByOwner).slice(0, 20)) out.push(`${per(time)}  ${name}`);
    out.push('', 'inclusive time by owner (any frame of it on the stack):');
    for (const [name, time] of sorted(inclusiveByOwner).slice(0, 20)) out.push(`${per(time)}  ${name}`);
    out.push('', `top ${top} functions by self time:`);
    for (const [name, time] of sorted(selfByFunction).slice(0, top)) out.push(`${per(time)}  ${name}`);
  }
  return out.join('\n');
}
