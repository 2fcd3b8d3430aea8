#!/usr/bin/env node
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startSimulator } from './server.js';

const USAGE = `Usage: passport-itsme-simulator [options]

An offline ZignSec itsme simulator (POST /v3/eid/itsme, GET /v3/eid/itsme/{id}, the itsme screen).

Options:
  --port <n>            port to listen on (default 4000; 0 for a free port)
  --host <address>      address to listen on (default 127.0.0.1)
  --api-key <key>       access token callers must send in Authorization
                        (default: $ZIGNSEC_API_KEY, else a random key, printed)
  --public-url <url>    base of the redirect URLs, when browsers reach the simulator by another address
  --ttl <seconds>       how long a session waits for the person (default 600)
  --pending-polls <n>   answer Pending n more times after the person acts (default 0)
  --cancel-code <code>  USER_CANCEL (default) or CANCELLED
  --quiet               do not log requests
  -h, --help            show this help
`;

/** Runs the command line; answers the exit code when it does not keep serving. @internal */
async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number | undefined> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'api-key': { type: 'string' },
        'public-url': { type: 'string' },
        ttl: { type: 'string' },
        'pending-polls': { type: 'string' },
        'cancel-code': { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const port = integer(values.port, 4000, 0, 65535, '--port');
  const ttl = integer(values.ttl, 600, 1, 86_400, '--ttl');
  const pendingPolls = integer(values['pending-polls'], 0, 0, 1000, '--pending-polls');
  const cancelCode = values['cancel-code'] ?? 'USER_CANCEL';
  if (port === undefined || ttl === undefined || pendingPolls === undefined) return 2;
  if (cancelCode !== 'USER_CANCEL' && cancelCode !== 'CANCELLED') {
    console.error('--cancel-code must be USER_CANCEL or CANCELLED');
    return 2;
  }
  const given = (values['api-key'] as string | undefined) ?? env.ZIGNSEC_API_KEY;
  const apiKey = given || `sim-${randomBytes(12).toString('base64url')}`;
  const sim = await startSimulator({
    apiKey,
    port,
    host: (values.host as string | undefined) || '127.0.0.1',
    ...(values['public-url'] ? { publicUrl: values['public-url'] as string } : {}),
    sessionTtl: ttl * 1000,
    session: { pendingPolls },
    cancelCode,
    ...(values.quiet ? {} : { log: (line: string) => console.log(`[simulator] ${line}`) }),
  });
  console.log(`ZignSec itsme simulator listening on ${sim.url}`);
  console.log(given ? 'API key: the one you gave' : `API key: ${apiKey}`);
  console.log(`Use baseURL: '${sim.url}' in ItsMeStrategy. Ctrl+C stops it.`);
  const stop = () => {
    void sim.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return undefined;
}

function integer(value: unknown, fallback: number, min: number, max: number, name: string): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (Number.isInteger(n) && n >= min && n <= max) return n;
  console.error(`${name} must be an integer from ${min} to ${max}`);
  return undefined;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`passport-itsme-simulator: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
