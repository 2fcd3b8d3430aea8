import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** A redis-server of our own on a loopback port, with a temporary directory and no persistence. */
export interface RedisServer {
  url: string;
  port: number;
  /** Everything the server printed, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** The path of `redis-server`, or `undefined` when it is not installed. */
export function findRedisServer(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin', '/usr/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts redis-server on a free 127.0.0.1 port (`--save '' --appendonly no`, a fresh temporary `--dir`)
 * and resolves once it accepts connections. Retries on a port taken in the meantime.
 */
export async function startRedisServer(binary = findRedisServer()): Promise<RedisServer> {
  if (!binary) throw new Error('redis-server is not installed');
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'passport-itsme-redis-'));
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'];
    const child = spawn(binary, [...args, '--protected-mode', 'yes', '--logfile', ''], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const cleanup = () => rmSync(dir, { recursive: true, force: true });
    try {
      await ready(child, () => output);
    } catch (err) {
      child.kill('SIGKILL');
      cleanup();
      lastError = err as Error;
      continue;
    }
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      output: () => output,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = once(child, 'exit');
          child.kill('SIGTERM');
          await exited;
        }
        cleanup();
      },
    };
  }
  throw lastError ?? new Error('redis-server did not start');
}

/** Resolves when the server says it accepts connections; rejects when it exits or takes over 10 s. */
function ready(child: ChildProcess, output: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`redis-server did not start in time:\n${output()}`)), 10_000);
    const onData = () => {
      if (output().includes('Ready to accept connections')) finish();
    };
    const onExit = () => finish(new Error(`redis-server exited:\n${output()}`));
    function finish(err?: Error) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve();
    }
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', (err) => finish(err));
  });
}
