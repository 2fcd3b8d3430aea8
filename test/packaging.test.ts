import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { realNetwork } from './support/guards.js';
import { CookieJar } from './support/http.js';

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

/** The `npm install` lines of the README's Install section, each as its list of arguments. */
async function readmeInstallCommands(): Promise<string[][]> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Install'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .map((line) => line.replace(/#.*$/, '').trim())
    .filter((line) => line.startsWith('npm install '))
    .map((line) => line.split(/\s+/).slice(1));
}

/** The README's quick start: the first ```ts block after its heading, as it is. */
async function readmeQuickStart(): Promise<string> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## Quick start'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) throw new Error('README.md has no ```ts block under "## Quick start"');
  return code;
}

const TSC = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'tsc.cmd' : 'tsc');
/** What an app's tsconfig has: strict, Node's types, and no skipLibCheck, so our .d.ts are checked. */
const APP_OPTIONS = { target: 'es2022', strict: true, skipLibCheck: false, noEmit: true, types: ['node'] };

/** Runs tsc on a tsconfig written into `dir`; resolves with its output (empty when it passed). */
async function typecheck(dir: string, name: string, compilerOptions: object, files: string[]): Promise<string> {
  await writeFile(path.join(dir, name), JSON.stringify({ compilerOptions, files }, null, 2));
  return run(TSC, ['-p', name, '--pretty', 'false'], { cwd: dir }).then(
    (r) => r.stdout,
    (err: { stdout?: string; message: string }) => err.stdout || err.message,
  );
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const CJS_APP = `import type { Request } from 'express';
import passport from 'passport';
import { ItsMeStrategy, type ItsMeProfile } from 'passport-itsme';
import { startSimulator } from 'passport-itsme/simulator';

passport.use(
  new ItsMeStrategy(
    { apiKey: 'k', callbackURL: 'http://localhost:3000/cb', passReqToCallback: true },
    async (req: Request, profile: ItsMeProfile) => ({ id: profile.id, ip: req.ip }),
  ),
);
export const simulator = startSimulator;
`;

const BARE_APP = `import express, { type Request } from 'express';
import { createWebhookHandler, ItsMeClient, ItsMeStrategy, type VerifyFunctionWithRequest } from 'passport-itsme';
import { DEFAULT_PERSONAS, startSimulator } from 'passport-itsme/simulator';

const verify: VerifyFunctionWithRequest<Request> = (req, profile, done) => done(null, { id: profile.id, ip: req.ip });
const strategy = new ItsMeStrategy({ apiKey: 'k', callbackURL: 'http://localhost/cb', passReqToCallback: true }, verify);
const app = express();
app.post('/webhook', createWebhookHandler({ apiKey: 'k', onResult: () => undefined }));
export const used = [strategy, new ItsMeClient({ apiKey: 'k' }), DEFAULT_PERSONAS, startSimulator];
`;

describe('packaging: a TypeScript app', function () {
  this.timeout(240_000);
  let app: string;
  let tarball: string;

  before(async () => {
    if (!existsSync(path.join(ROOT, 'dist/index.d.ts'))) await run(npm, ['run', 'build'], { cwd: ROOT });
    app = await mkdtemp(path.join(tmpdir(), 'passport-itsme-ts-app-'));
    tarball = path.join(app, path.basename((await pack(['--pack-destination', app])).filename));
    // An existing Express TypeScript app (TypeScript itself is this repository's).
    await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    await run(
      npm,
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        'express',
        '@types/express',
        '@types/node@20',
        tarball,
      ],
      { cwd: app },
    );
  });

  after(async () => {
    if (app) await rm(app, { recursive: true, force: true });
  });

  it('should compile against the package types with no @types/passport, no passport-strategy types, no skipLibCheck', async () => {
    await writeFile(path.join(app, 'bare.ts'), BARE_APP);
    expect(existsSync(path.join(app, 'node_modules/@types/passport'))).to.equal(false);
    expect(existsSync(path.join(app, 'node_modules/@types/passport-strategy'))).to.equal(false);
    const options = { ...APP_OPTIONS, module: 'nodenext' };
    expect(await typecheck(app, 'tsconfig.bare.json', options, ['bare.ts'])).to.equal('');
  });

  it("should compile an app that imports only the package under TypeScript's default of no global types", async () => {
    // TypeScript 6 and later load no @types package unless asked (`types: []`): the .d.ts name Node's.
    await writeFile(
      path.join(app, 'only.ts'),
      [
        "import { ItsMeClient, verifyWebhookSignature } from 'passport-itsme';",
        "import { startSimulator } from 'passport-itsme/simulator';",
        "const client = new ItsMeClient({ apiKey: 'k', baseURL: 'http://127.0.0.1:1' });",
        "export const checked: boolean = verifyWebhookSignature('', Buffer.from(''), 'k').ok;",
        'export { client, startSimulator };',
        '',
      ].join('\n'),
    );
    const options = { ...APP_OPTIONS, module: 'nodenext', types: [] };
    expect(await typecheck(app, 'tsconfig.only.json', options, ['only.ts'])).to.equal('');
  });

  describe('after the README install commands', () => {
    let quickStart: string;

    before(async () => {
      const commands = await readmeInstallCommands();
      expect(commands.length, 'npm install lines in the README').to.be.greaterThan(0);
      for (const args of commands) {
        const local = args.map((a) => (a === 'passport-itsme' ? tarball : a));
        await run(npm, ['install', ...local, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app });
      }
      quickStart = await readmeQuickStart();
      await writeFile(path.join(app, 'server.ts'), quickStart);
      await mkdir(path.join(app, 'cjs'));
      await writeFile(path.join(app, 'cjs', 'package.json'), JSON.stringify({ type: 'commonjs' }));
      await writeFile(path.join(app, 'cjs', 'app.ts'), CJS_APP);
    });

    it('should have installed the package from the tarball, with passport-strategy its only dependency', async () => {
      const installed = JSON.parse(await readFile(path.join(app, 'node_modules/passport-itsme/package.json'), 'utf8'));
      expect(Object.keys(installed.dependencies)).to.deep.equal(['passport-strategy']);
      const manifest = JSON.parse(await readFile(path.join(app, 'package.json'), 'utf8'));
      expect(manifest.dependencies['passport-itsme']).to.match(/^file:/);
    });

    it('should type-check the quick start pasted as it is, strict and without skipLibCheck', async () => {
      const options = { ...APP_OPTIONS, module: 'nodenext' };
      expect(await typecheck(app, 'tsconfig.json', options, ['server.ts'])).to.equal('');
    });

    for (const module of ['nodenext', 'node20', 'commonjs']) {
      it(`should type-check a CommonJS TypeScript file with module ${module}`, async () => {
        const options = { ...APP_OPTIONS, module, esModuleInterop: true };
        expect(await typecheck(app, `tsconfig.${module}.json`, options, ['cjs/app.ts'])).to.equal('');
      });
    }

    it('should refuse module node16 from CommonJS with TS1479, the setting the README says to change', async () => {
      const options = { ...APP_OPTIONS, module: 'node16', esModuleInterop: true };
      const output = await typecheck(app, 'tsconfig.node16.json', options, ['cjs/app.ts']);
      expect(output).to.match(/error TS1479/);
      const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
      expect(readme).to.match(/"node16"[^\n]*TS1479|TS1479[^\n]*"node16"/);
    });

    it('should log a person in over plain http when the quick start runs as pasted', async () => {
      const restore = realNetwork();
      const port = await freePort();
      // The one change: a free port instead of 3000, which may be taken on this machine.
      expect(quickStart.match(/3000/g)?.length).to.equal(3);
      await writeFile(path.join(app, 'run.ts'), quickStart.replaceAll('3000', String(port)));
      const options = { ...APP_OPTIONS, module: 'nodenext', noEmit: false, outDir: 'out' };
      expect(await typecheck(app, 'tsconfig.run.json', options, ['run.ts'])).to.equal('');
      const child = spawn(process.execPath, ['out/run.js'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk) => {
        stderr += chunk;
      });
      try {
        const [line] = (await once(child.stdout, 'data')) as [Buffer];
        expect(line.toString()).to.include(`http://localhost:${port}`);
        const base = `http://localhost:${port}`;
        const jar = new CookieJar();
        const get = async (url: string) => {
          const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
          jar.store(res);
          return res;
        };
        expect(await (await get(`${base}/`)).text()).to.include('href="/auth/itsme"');
        const start = await get(`${base}/auth/itsme`);
        expect(start.status).to.equal(302);
        const screenUrl = start.headers.get('location') ?? '';
        const screen = await (await fetch(screenUrl)).text();
        const action = /<form method="post" action="([^"]+)"/.exec(screen)?.[1] ?? '';
        const token = /name="token" value="([^"]+)"/.exec(screen)?.[1] ?? '';
        const approved = await fetch(new URL(action, screenUrl), {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token, persona: 'anneleen', action: 'approve' }),
        });
        const callback = approved.headers.get('location') ?? '';
        expect(callback).to.match(new RegExp(`^${base}/auth/itsme/callback\\?relaystate=`));
        const back = await get(callback);
        expect(back.status).to.equal(302);
        expect(back.headers.get('location')).to.equal('/');
        expect(await (await get(`${base}/`)).text()).to.match(/^Logged in: .*Anneleen Peeters/);
      } finally {
        child.kill();
        restore();
      }
      expect(stderr).to.equal('');
    });
  });
});
