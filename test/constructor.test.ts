import { expect } from 'chai';
import passport from 'passport';
import {
  ItsMeStrategy,
  type ItsMeStrategyOptions,
  RedisRelayStateStore,
  type RelayStateStore,
  SessionRelayStateStore,
  type VerifyFunction,
} from '../lib/index.js';

const verify: VerifyFunction = (profile, done) => done(null, { id: profile.id });
const valid: ItsMeStrategyOptions = { apiKey: 'zs-key-0123456789', callbackURL: 'https://app.example/auth/itsme/cb' };

function build(overrides: Record<string, unknown>, fn: unknown = verify): ItsMeStrategy {
  return new ItsMeStrategy({ ...valid, ...overrides } as ItsMeStrategyOptions, fn as VerifyFunction);
}

describe('constructor', () => {
  describe('required options', () => {
    it('should throw a TypeError naming apiKey when it is missing', () => {
      const { apiKey: _unused, ...rest } = valid;
      expect(() => new ItsMeStrategy(rest as ItsMeStrategyOptions, verify)).to.throw(
        TypeError,
        /^ItsMeStrategy requires an apiKey option$/,
      );
    });

    for (const apiKey of ['', '   ', 42, null]) {
      it(`should reject apiKey ${JSON.stringify(apiKey)}`, () => {
        expect(() => build({ apiKey })).to.throw(TypeError, 'ItsMeStrategy requires an apiKey option');
      });
    }

    it('should reject an apiKey with a trailing newline without echoing the key', () => {
      const apiKey = 'zs-secret-value-from-a-file\n';
      let thrown: unknown;
      try {
        build({ apiKey });
      } catch (err) {
        thrown = err;
      }
      expect(thrown).to.be.instanceOf(TypeError);
      expect((thrown as Error).message).to.match(/apiKey/);
      expect((thrown as Error).message).not.to.include('zs-secret-value-from-a-file');
    });

    it('should throw a TypeError naming callbackURL when it is missing', () => {
      const { callbackURL: _unused, ...rest } = valid;
      expect(() => new ItsMeStrategy(rest as ItsMeStrategyOptions, verify)).to.throw(
        TypeError,
        'ItsMeStrategy requires a callbackURL option',
      );
    });

    it('should throw a TypeError when the verify function is missing or not a function', () => {
      expect(() => new ItsMeStrategy(valid, undefined as unknown as VerifyFunction)).to.throw(
        TypeError,
        'ItsMeStrategy requires a verify function',
      );
      expect(() => build({}, 'verify')).to.throw(TypeError, 'ItsMeStrategy requires a verify function');
    });

    it('should throw a TypeError when options are not an object', () => {
      expect(() => new ItsMeStrategy(undefined as unknown as ItsMeStrategyOptions, verify)).to.throw(
        TypeError,
        /options/,
      );
    });
  });

  describe('option validation', () => {
    const bad: [string, unknown][] = [
      ['callbackURL', '/auth/itsme/cb'],
      ['callbackURL', 'ftp://app.example/cb'],
      ['callbackURL', 'javascript:alert(1)'],
      ['callbackURL', ''],
      ['errorCallbackURL', 'not a url'],
      ['callbackURL', 'https://app.example@evil.example/auth/itsme/cb'],
      ['callbackURL', 'https://app.example/auth/itsme/cb#done'],
      ['callbackURL', 'https://app.example/auth/itsme/cb?relaystate=x'],
      ['callbackURL', `https://app.example/auth/itsme/cb?pad=${'a'.repeat(8192)}`],
      ['errorCallbackURL', 'https://user:pass@app.example/auth/itsme/error'],
      // What lib/relaystate.ts reads as a nested relaystate: every way back would be invalid-callback.
      ['callbackURL', 'https://app.example/auth/itsme/cb?relaystate[a]=1'],
      ['callbackURL', 'https://app.example/auth/itsme/cb?relaystate.a=1'],
      ['errorCallbackURL', 'https://app.example/auth/itsme/error?relaystate%5B%5D=1'],
      // An empty fragment is still a fragment (`new URL(...).hash` is '' for it).
      ['callbackURL', 'https://app.example/auth/itsme/cb#'],
      ['webhookURL', '/webhooks/zignsec'],
      ['baseURL', 'zignsec.local'],
      ['environment', 'staging'],
      ['environment', 'toString'],
      ['environment', 'constructor'],
      ['language', 'es'],
      ['language', 'FR'],
      ['passReqToCallback', 'yes'],
      ['store', {}],
      ['store', { save: async () => {} }],
      ['store', { save: async () => {}, take: async () => undefined, check: 'yes' }],
      ['timeout', 0],
      ['timeout', -5],
      ['timeout', 1.5],
      ['timeout', '1000'],
      ['timeout', Number.POSITIVE_INFINITY],
      ['pendingTimeout', 0],
      ['pendingTimeout', Number.NaN],
      ['pendingTimeout', 2 ** 31],
      ['timeout', 2 ** 31],
      ['maxResponseSize', -1],
      ['name', ''],
      ['name', 7],
    ];
    it('should throw a TypeError naming callbackURL or errorCallbackURL, not quoting it, when it holds the API key', () => {
      for (const option of ['callbackURL', 'errorCallbackURL']) {
        const url = `https://app.example/auth/itsme/cb?k=${encodeURIComponent(valid.apiKey)}`;
        expect(() => build({ [option]: url }))
          .to.throw(TypeError, `ItsMeStrategy ${option} option must not hold the API key`)
          .with.property('message')
          .that.does.not.include(valid.apiKey);
      }
    });

    it('should throw a TypeError naming webhookURL, not quoting it, when it holds the API key (every start would refuse it)', () => {
      const url = `https://app.example/webhooks/zignsec?k=${encodeURIComponent(valid.apiKey)}`;
      expect(() => build({ webhookURL: url }))
        .to.throw(TypeError, 'ItsMeStrategy webhookURL option must not hold the API key')
        .with.property('message')
        .that.does.not.include(valid.apiKey);
    });

    it('should accept return URLs real deployments use', () => {
      for (const url of [
        'http://[::1]:3000/auth/itsme/cb',
        'https://bücher.example/auth/itsme/cb',
        'https://app.example:8443/auth/itsme/cb?tenant=a&next=%2Fme',
        'https://app.example/auth/itsme/cb?',
        'https://app.example/auth/itsme/cb?RelayState=x',
        'https://app.example/auth/itsme/cb?relaystates=x',
      ]) {
        expect(() => build({ callbackURL: url, errorCallbackURL: url }), url).to.not.throw();
      }
    });

    it("should refuse plain http return and webhook URLs with ZignSec's production API, but for this machine", () => {
      const http = 'http://bank.example/auth/itsme/cb';
      for (const production of [{ environment: 'production' }, { baseURL: 'https://api.zignsec.com/' }]) {
        for (const option of ['callbackURL', 'errorCallbackURL', 'webhookURL']) {
          expect(() => build({ ...production, [option]: http }), option).to.throw(
            TypeError,
            `ItsMeStrategy ${option} option must be an https URL with ZignSec's production API`,
          );
        }
        for (const local of ['http://localhost:3000/cb', 'http://127.0.0.1:3000/cb', 'http://[::1]:3000/cb']) {
          expect(() => build({ ...production, callbackURL: local }), local).to.not.throw();
        }
      }
      // The test API and the simulator take http, as a laptop serves it.
      expect(() => build({ callbackURL: http, webhookURL: http })).to.not.throw();
      expect(() => build({ baseURL: 'http://127.0.0.1:4010', callbackURL: http })).to.not.throw();
    });

    for (const [option, value] of bad) {
      it(`should throw a TypeError naming ${option} for ${String(value).slice(0, 80) || 'an empty string'}`, () => {
        expect(() => build({ [option]: value })).to.throw(TypeError, new RegExp(`ItsMeStrategy ${option} option`));
      });
    }

    it('should accept every option with a valid value', () => {
      const store: RelayStateStore = { save: async () => {}, take: async () => undefined };
      const strategy = build({
        environment: 'production',
        baseURL: 'http://127.0.0.1:4000/',
        errorCallbackURL: 'https://app.example/auth/itsme/error',
        language: 'de',
        webhookURL: 'https://app.example/webhooks/zignsec',
        passReqToCallback: false,
        store,
        timeout: 2000,
        pendingTimeout: 3000,
        maxResponseSize: 4096,
        name: 'itsme-be',
      });
      expect(strategy.name).to.equal('itsme-be');
      expect(strategy.store).to.equal(store);
      expect(strategy.language).to.equal('de');
      expect(strategy.webhookURL).to.equal('https://app.example/webhooks/zignsec');
      expect(strategy.errorCallbackURL).to.equal('https://app.example/auth/itsme/error');
      expect(strategy.pendingTimeout).to.equal(3000);
      expect(strategy.client.timeout).to.equal(2000);
      expect(strategy.client.maxResponseSize).to.equal(4096);
    });
  });

  describe('store options', () => {
    it('should name RedisRelayStateStore, the class the app built, when its ttl or max option is wrong', () => {
      const client = { set: async () => 'OK', getDel: async () => null };
      expect(() => new RedisRelayStateStore({ client, ttl: 0 })).to.throw(
        TypeError,
        /^RedisRelayStateStore ttl option/,
      );
      expect(() => new RedisRelayStateStore({ client, max: 0 })).to.throw(
        TypeError,
        /^RedisRelayStateStore max option/,
      );
      expect(() => new SessionRelayStateStore({ ttl: 0 })).to.throw(TypeError, /^SessionRelayStateStore ttl option/);
    });
  });

  describe('defaults', () => {
    it('should be named itsme and register under that name with passport', () => {
      const strategy = build({});
      expect(strategy.name).to.equal('itsme');
      const instance = new passport.Passport();
      instance.use(strategy);
      expect((instance as unknown as { _strategy(name: string): unknown })._strategy('itsme')).to.equal(strategy);
    });

    it('should use the test host unless production is asked for', () => {
      expect(build({}).client.baseURL).to.equal('https://test.zignsec.com');
      expect(build({ environment: 'test' }).client.baseURL).to.equal('https://test.zignsec.com');
      expect(build({ environment: 'production' }).client.baseURL).to.equal('https://api.zignsec.com');
    });

    it('should let baseURL override the environment and drop trailing slashes', () => {
      expect(build({ environment: 'production', baseURL: 'http://127.0.0.1:4000/sim//' }).client.baseURL).to.equal(
        'http://127.0.0.1:4000/sim',
      );
    });

    it('should send errors back to callbackURL unless errorCallbackURL is given', () => {
      const strategy = build({});
      expect(strategy.callbackURL).to.equal(valid.callbackURL);
      expect(strategy.errorCallbackURL).to.equal(valid.callbackURL);
    });

    it('should time calls out after 10 s and wait a few seconds for a pending result', () => {
      const strategy = build({});
      expect(strategy.client.timeout).to.equal(10_000);
      expect(strategy.pendingTimeout).to.be.within(2000, 10_000);
    });

    it('should keep pending logins in the session for 10 minutes by default', () => {
      const { store } = build({});
      expect(store).to.be.instanceOf(SessionRelayStateStore);
      expect((store as SessionRelayStateStore).ttl).to.equal(600_000);
    });

    it('should send no language and no webhook by default', () => {
      const strategy = build({});
      expect(strategy.language).to.equal(undefined);
      expect(strategy.webhookURL).to.equal(undefined);
    });
  });
});
