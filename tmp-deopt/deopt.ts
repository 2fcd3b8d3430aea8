import { join } from 'node:path';
import { Remote } from '../bench/ipc.js';
import { runLogins, VirtualUser } from '../bench/load.js';

const here = join(import.meta.dirname, '..', 'bench');
const variant = process.argv[2] ?? 'itsme';
const seconds = Number(process.argv[3] ?? 30);
const flags = (process.argv[4] ?? '--trace-deopt').split(' ').filter(Boolean);
const stubs = await Remote.start<Record<string, unknown>>(join(here, 'stubs.ts'), [JSON.stringify([variant])]);
const app = await Remote.start<{ url: string }>(
  join(here, 'apps.ts'),
  [JSON.stringify(stubs.info), join(import.meta.dirname, '..', 'dist'), variant],
  ['--expose-gc', ...flags],
);
const users = Array.from({ length: 16 }, () => new VirtualUser());
for (let i = 0; i < seconds; i++) {
  const r = await runLogins(users, app.info.url, 1000);
  console.error(`[t=${i + 1}s] logins=${r.logins}`);
}
await app.stop();
await stubs.stop();
