import { type ItsMeSimulator, startSimulator } from '../../lib/simulator/index.js';
import { realNetwork } from './guards.js';

/** The embedded simulator a `describe` block runs against, and what it was asked. */
export interface SimulatedZignSec {
  /** The running simulator (set once the block's `before` hook ran). */
  readonly sim: ItsMeSimulator;
  /** Every API call the simulator answered in the current test, as `METHOD /path status`. */
  readonly calls: string[];
  /** How many result reads (`GET /v3/eid/itsme/{id}`) the current test made. */
  resultReads(): number;
}

/**
 * Registers mocha hooks in the calling `describe`: real sockets on, one simulator with `apiKey` for
 * the block, its call log cleared after each test.
 */
export function useSimulator(apiKey: string): SimulatedZignSec {
  let restoreNock: () => void = () => {};
  let sim: ItsMeSimulator | undefined;
  const calls: string[] = [];
  before(async () => {
    restoreNock = realNetwork();
    sim = await startSimulator({ apiKey, log: (line) => calls.push(line) });
  });
  after(async () => {
    await sim?.close();
    restoreNock();
  });
  afterEach(() => {
    calls.length = 0;
  });
  return {
    get sim(): ItsMeSimulator {
      if (!sim) throw new Error('useSimulator: the simulator is not started yet (use it inside a test or hook)');
      return sim;
    },
    calls,
    resultReads: () => calls.filter((line) => /^GET \/v3\/eid\/itsme\/[^/]+ /.test(line)).length,
  };
}
