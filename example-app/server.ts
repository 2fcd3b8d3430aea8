// `npm start`: the example app, with the embedded ZignSec itsme simulator unless ZIGNSEC_API_KEY is set.
import { loadConfig } from './config.js';
import { startExampleApp } from './start.js';

async function main(): Promise<void> {
  const { config, warnings } = loadConfig(process.env);
  for (const warning of warnings) console.warn(`warning: ${warning}`);
  // One line per login, webhook and ZignSec call on the console: ids, codes and durations, no personal data.
  const running = await startExampleApp(config, { eventLog: (line) => console.log(line) });
  if (running.simulator) {
    console.log(`No ZIGNSEC_API_KEY set: itsme is played by the embedded simulator at ${running.simulator.url}`);
    console.log('(no ZignSec account or internet needed; set ZIGNSEC_API_KEY and ZIGNSEC_ENV=test to use ZignSec)');
  } else if (config.zignsec.mode === 'zignsec') {
    const where = config.zignsec.baseURL ?? `ZignSec ${config.zignsec.environment}`;
    console.log(`itsme through ${where}`);
  }
  console.log(`\nExample app ready: open ${running.url}\n`);
  const stop = (signal: string) => {
    console.log(`${signal}: stopping`);
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error(`The example app could not start: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
