// `npm run docs`: TypeDoc with its own TypeScript 6, installed in this workspace by `npm ci`/`npm install`
// at the repository root (the project builds with TypeScript 7, which has no JavaScript API for TypeDoc).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('node_modules/typedoc/bin/typedoc', import.meta.url));
if (!existsSync(bin)) {
  console.error('npm run docs: TypeDoc is not installed; run `npm install` (or `npm ci`) at the repository root.');
  process.exit(1);
}
const root = fileURLToPath(new URL('../..', import.meta.url));
const { status } = spawnSync(process.execPath, [bin, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(status ?? 1);
