/** Cold import time (a fresh Node process per sample) and install footprint of runtime dependencies. */
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { median } from './stats.js';

export interface ImportTime {
  /** Median ms for `await import(...)` in a fresh process (disk cache warm). */
  medianMs: number;
  samples: number[];
}

/** `await import(specifier)` timed inside `runs` fresh Node processes started in `cwd`. */
export function importTime(specifier: string, cwd: string, runs: number): ImportTime {
  const script = `const t0 = performance.now(); await import(${JSON.stringify(specifier)}); process.stdout.write(String(performance.now() - t0));`;
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd, encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`importing ${specifier} failed: ${child.stderr}`);
    samples.push(Number(child.stdout));
  }
  return { medianMs: median(samples), samples };
}

/** Apparent size in bytes of a directory tree, without nested `node_modules` (counted on their own). */
export function treeBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += treeBytes(path);
    else total += lstatSync(path).size;
  }
  return total;
}

export interface Footprint {
  /** Runtime packages installed with the package (transitively), not counting itself. */
  count: number;
  /** Their size on disk (apparent bytes), without the package itself. */
  bytes: number;
  packages: { name: string; bytes: number }[];
}

function packageName(dir: string): string {
  const at = dir.lastIndexOf(`${sep}node_modules${sep}`);
  return dir
    .slice(at + '/node_modules/'.length)
    .split(sep)
    .join('/');
}

function summarize(dirs: string[]): Footprint {
  const packages = [...new Set(dirs)].map((dir) => ({ name: packageName(dir), bytes: treeBytes(dir) }));
  packages.sort((a, b) => b.bytes - a.bytes);
  return { count: packages.length, bytes: packages.reduce((sum, p) => sum + p.bytes, 0), packages };
}

/** Directory an installed dependency resolves to from `fromDir`, Node-style. */
function resolvePackage(name: string, fromDir: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The runtime dependencies of the package in `dir`, transitively, by walking the `dependencies` of
 * each package.json (not devDependencies, not workspaces).
 */
function dependencies(dir: string): Footprint {
  const seen = new Set<string>();
  const walk = (from: string) => {
    const manifest = JSON.parse(readFileSync(join(from, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    for (const dep of Object.keys(manifest.dependencies ?? {})) {
      const found = resolvePackage(dep, from);
      if (found && !seen.has(found)) {
        seen.add(found);
        walk(found);
      }
    }
  };
  walk(dir);
  return summarize([...seen]);
}

/** This package's runtime dependencies. */
export function ownFootprint(root: string): Footprint {
  return dependencies(root);
}

/** Another installed package's runtime dependencies and its own size (for comparison). */
export function packageFootprint(root: string, name: string): Footprint & { self: number } {
  const start = resolvePackage(name, root);
  if (!start) throw new Error(`${name} is not installed`);
  return { ...dependencies(start), self: treeBytes(start) };
}
