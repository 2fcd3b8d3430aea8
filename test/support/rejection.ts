import { expect } from 'chai';
import { ItsMeError } from '../../lib/index.js';

/** The `ItsMeError` that `promise` rejects with; fails the test if it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<ItsMeError> {
  try {
    await promise;
  } catch (err) {
    expect(err).to.be.instanceOf(ItsMeError);
    return err as ItsMeError;
  }
  throw new Error('expected a rejection');
}
