import { expect } from 'chai';
import { Strategy as PassportStrategy } from 'passport-strategy';
import * as pkg from '../lib/index.js';
import ItsMeDefault, {
  ItsMeClient,
  ItsMeError,
  ItsMeStrategy,
  SessionRelayStateStore,
  Strategy,
} from '../lib/index.js';

/** Internal helpers that must stay out of the public entry point. */
const INTERNAL = [
  'checkClientOptions',
  'isHttpUrl',
  'sanitizeCause',
  'redact',
  'normalizeErrors',
  'describeErrors',
  'createRelayState',
  'readRelayState',
  'digestRelayState',
  'sameDigest',
  'LANGUAGES',
];

describe('exports', () => {
  it('should export the strategy as ItsMeStrategy, as Strategy and as the default export', () => {
    expect(ItsMeStrategy).to.be.a('function');
    expect(Strategy).to.equal(ItsMeStrategy);
    expect(ItsMeDefault).to.equal(ItsMeStrategy);
    expect(pkg.default).to.equal(ItsMeStrategy);
  });

  it('should export a strategy that is a passport-strategy Strategy', () => {
    const strategy = new ItsMeStrategy({ apiKey: 'k-0123', callbackURL: 'https://bank.example/cb' }, () => {});
    expect(strategy).to.be.instanceOf(PassportStrategy);
    expect(strategy.authenticate).to.be.a('function');
  });

  it('should export the client, the default store and the error class', () => {
    expect(new ItsMeClient({ apiKey: 'k-0123' })).to.be.instanceOf(ItsMeClient);
    const store = new SessionRelayStateStore();
    expect(store.save).to.be.a('function');
    expect(store.take).to.be.a('function');
    const error = new ItsMeError('ERR_ZIGNSEC_TIMEOUT', 'late', { status: 504 });
    expect(error).to.be.instanceOf(Error);
    expect(error).to.include({ name: 'ItsMeError', code: 'ERR_ZIGNSEC_TIMEOUT', status: 504, message: 'late' });
  });

  it('should export the Redis stores for several instances', () => {
    expect(pkg.RedisRelayStateStore).to.be.a('function');
    expect(pkg.RedisSeenStore).to.be.a('function');
  });

  it('should export the profile mapping used by the strategy, for server-side flows', () => {
    expect(pkg.toProfile).to.be.a('function');
    expect(pkg.parseClaims).to.be.a('function');
    expect(pkg.isFinal).to.be.a('function');
  });

  it('should export the egress proxy agent for corporate networks', () => {
    expect(pkg.createProxyAgent).to.be.a('function');
  });

  it('should not export internal helpers', () => {
    const names = Object.keys(pkg);
    for (const name of INTERNAL) expect(names, name).to.not.include(name);
  });

  it('should have no runtime export that is undefined', () => {
    for (const [name, value] of Object.entries(pkg)) expect(value, name).to.not.equal(undefined);
  });
});
