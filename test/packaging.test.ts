import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface PackResult {
  filename: string;
  files: { path: string }[];
}

async function pack(args: string[], cwd = ROOT): Promise<PackResult> {
  const { stdout } = await run(npm, ['pack', '--json', '--ignore-scripts', ...args], {
    cwd,
    maxBuffer: 32 * 1024 * 1024,
  });
  const parsed = JSON.parse(stdout) as PackResult[];
  const first = parsed[0];
  if (!first) throw new Error(`npm pack printed no result: ${stdout}`);
  return first;
}

/** Runs `node file` in `cwd`; resolves with its stdout parsed as JSON, and stderr. */
async function node(file: string, cwd: string): Promise<{ result: Record<string, unknown>; stderr: string }> {
  const { stdout, stderr } = await run(process.execPath, [file], { cwd, env: { ...process.env, NODE_OPTIONS: '' } });
  return { result: JSON.parse(stdout) as Record<string, unknown>, stderr };
}

const CHECK = `
  const s = new pkg.ItsMeStrategy({ apiKey: 'zs-pack-key', callbackURL: 'https://bank.example/cb' }, () => {});
  const out = {
    same: pkg.default === pkg.Strategy && pkg.Strategy === pkg.ItsMeStrategy,
    name: s.name,
    client: typeof pkg.ItsMeClient,
    error: new pkg.ItsMeError('ERR_ZIGNSEC_TIMEOUT', 'x').code,
    store: typeof new pkg.SessionRelayStateStore().take,
    authenticate: typeof s.authenticate,
  };
`;

describe('packaging', function () {
  this.timeout(180_000);
  let listing: string[];
  let sandbox: string;

  before(async () => {
    if (!existsSync(path.join(ROOT, 'dist/index.js')) || !existsSync(path.join(ROOT, 'dist/index.d.ts'))) {
      await run(npm, ['run', 'build'], { cwd: ROOT });
    }
    listing = (await pack(['--dry-run'])).files.map((f) => f.path).sort();
    sandbox = await mkdtemp(path.join(tmpdir(), 'passport-itsme-pack-'));
  });

  after(async () => {
    if (sandbox) await rm(sandbox, { recursive: true, force: true });
  });

  describe('package.json', () => {
    it('should be an ESM package with a types-first exports map, engines and one runtime dependency', async () => {
      const manifest = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'));
      expect(manifest.name).to.equal('passport-itsme');
      expect(manifest.type).to.equal('module');
      expect(Object.keys(manifest.exports['.'])[0]).to.equal('types');
      expect(manifest.exports['.']).to.deep.include({ types: './dist/index.d.ts', default: './dist/index.js' });
      expect(manifest.exports['./package.json']).to.equal('./package.json');
      expect(manifest.engines.node).to.equal('>=20.19');
      expect(Object.keys(manifest.dependencies)).to.deep.equal(['passport-strategy']);
    });
  });

  describe('npm pack', () => {
    it('should ship the built JavaScript with a declaration file beside each module', () => {
      const js = listing.filter((f) => f.startsWith('dist/') && f.endsWith('.js'));
      for (const core of ['index', 'strategy', 'client', 'profile', 'store', 'relaystate', 'errors', 'types']) {
        expect(listing).to.include(`dist/${core}.js`);
      }
      for (const file of js) expect(listing, `types for ${file}`).to.include(file.replace(/\.js$/, '.d.ts'));
    });

    it('should ship package.json and LICENSE', () => {
      expect(listing).to.include('package.json');
      expect(listing).to.include('LICENSE');
    });

    it('should ship README.md', () => {
      expect(listing).to.include('README.md');
    });

    it('should ship no source maps, which would point at sources the package does not include', () => {
      expect(listing.filter((f) => f.endsWith('.map'))).to.deep.equal([]);
    });

    it('should not ship tests, TypeScript sources, coverage, build info or the example app', () => {
      const unwanted = listing.filter(
        (f) =>
          /^(test|lib|coverage|example-app|bench|test-artifacts|node_modules)\//.test(f) ||
          (f.endsWith('.ts') && !f.endsWith('.d.ts')) ||
          f.endsWith('.tsbuildinfo') ||
          /\.test\.(js|d\.ts)$/.test(f) ||
          /(^|\/)\.(ci|env|git)/.test(f),
      );
      expect(unwanted).to.deep.equal([]);
    });
  });

  describe('installed from the tarball', () => {
    before(async () => {
      const { filename } = await pack(['--pack-destination', sandbox]);
      const target = path.join(sandbox, 'node_modules', 'passport-itsme');
      await mkdir(target, { recursive: true });
      await run('tar', ['-xzf', path.join(sandbox, path.basename(filename)), '-C', target, '--strip-components=1']);
      for (const dependency of ['passport-strategy']) {
        await symlink(
          path.join(ROOT, 'node_modules', dependency),
          path.join(sandbox, 'node_modules', dependency),
          'dir',
        );
      }
    });

    it('should load by import from an ES module', async () => {
      const file = path.join(sandbox, 'check.mjs');
      await writeFile(
        file,
        `import * as pkg from 'passport-itsme';\n${CHECK}\nprocess.stdout.write(JSON.stringify(out));\n`,
      );
      const { result } = await node(file, sandbox);
      expect(result).to.deep.equal({
        same: true,
        name: 'itsme',
        client: 'function',
        error: 'ERR_ZIGNSEC_TIMEOUT',
        store: 'function',
        authenticate: 'function',
      });
    });

    it('should load by require() from a CommonJS file', async () => {
      const file = path.join(sandbox, 'check.cjs');
      await writeFile(
        file,
        [
          "const pkg = require('passport-itsme');",
          CHECK,
          "out.version = require('passport-itsme/package.json').version;",
          'process.stdout.write(JSON.stringify(out));',
        ].join('\n'),
      );
      const { result, stderr } = await node(file, sandbox);
      const manifest = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'));
      expect(result).to.deep.include({ same: true, name: 'itsme', error: 'ERR_ZIGNSEC_TIMEOUT', store: 'function' });
      expect(result.version).to.equal(manifest.version);
      expect(stderr).to.not.match(/ERR_REQUIRE_ESM/);
    });
  });
});
