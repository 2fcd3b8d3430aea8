import { expect } from 'chai';
import type { Request } from 'express';
import fc from 'fast-check';
import {
  ItsMeClient,
  ItsMeError,
  type ItsMeErrorCode,
  type ItsMeProfile,
  type ItsMeResult,
  ItsMeStrategy,
  parseClaims,
  toProfile,
  type ZignSecIdentity,
} from '../lib/index.js';
import { readRelayState } from '../lib/relaystate.js';
import { guardProcess, type ProcessGuard, realNetwork } from './support/guards.js';
import { type Listening, listen } from './support/http.js';

const API_KEY = 'prop-KEY-never-in-errors-2d9f';
const SESSION_ID = 'c3a5e0f2-6c1b-4c59-9a77-0c1d2e3f4a5b';
const RELAYSTATE = /^[A-Za-z0-9_-]{16,256}$/;
const CODES = [
  'ERR_ZIGNSEC_HTTP_STATUS',
  'ERR_ZIGNSEC_ERRORS',
  'ERR_ZIGNSEC_BAD_RESPONSE',
  'ERR_ZIGNSEC_TIMEOUT',
  'ERR_ZIGNSEC_NETWORK',
  'ERR_ITSME_PENDING_TIMEOUT',
  'ERR_ITSME_ABORTED',
  'ERR_ITSME_ID_MISMATCH',
  'ERR_ITSME_NO_SUBJECT',
  'ERR_ITSME_SESSION_REQUIRED',
  'ERR_ITSME_SESSION_UNSAFE',
  'ERR_ITSME_STORE_TIMEOUT',
  'ERR_ITSME_VERIFY_TIMEOUT',
] as const satisfies readonly ItsMeErrorCode[];
// The list must name every code of the union: a new code that is left out fails the type-check.
const everyCode: [Exclude<ItsMeErrorCode, (typeof CODES)[number]>] extends [never] ? true : never = true;
void everyCode;

// --- arbitraries -----------------------------------------------------------------------------------

/** Strings a claim may hold, blanks and odd Unicode included. */
const text = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('', ' ', '\t\n', 'Florent', '  padded  ', '1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9'),
);
const claimValue = fc.oneof(text, fc.jsonValue({ maxDepth: 2 }), fc.constant(null));
const addressObject = fc.record(
  {
    country: claimValue,
    street_address: claimValue,
    locality: claimValue,
    postal_code: claimValue,
    region: claimValue,
    formatted: claimValue,
  },
  { requiredKeys: [] },
);
const claims = fc
  .tuple(
    fc.record(
      {
        sub: fc.oneof({ weight: 3, arbitrary: fc.string({ minLength: 1 }) }, claimValue),
        name: claimValue,
        given_name: claimValue,
        family_name: claimValue,
        email: claimValue,
        email_verified: fc.oneof(fc.boolean(), claimValue),
        phone_number: claimValue,
        phone_number_verified: fc.oneof(fc.boolean(), claimValue),
        address: fc.oneof(
          claimValue,
          addressObject,
          addressObject.map((a) => JSON.stringify(a)),
          fc.json(),
        ),
        ParsedAddress: fc.oneof(addressObject, claimValue),
        birthdate: claimValue,
        gender: claimValue,
        locale: claimValue,
        nationality: claimValue,
        place_of_birth: claimValue,
        city_of_birth: claimValue,
        photo: claimValue,
        eid: fc.oneof(
          claimValue,
          fc.dictionary(fc.constantFrom('national_number', 'nationalNumber', 'eid', 'card_number'), claimValue),
        ),
        'http://itsme.services/v2/claim/BENationalNumber': claimValue,
        'http://itsme.services/v2/claim/BEeidSn': claimValue,
      },
      { requiredKeys: [] },
    ),
    fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
  )
  .map(([known, extra]) => JSON.parse(JSON.stringify({ ...extra, ...known })) as Record<string, unknown>);
const identity = fc.oneof(
  fc.record(
    {
      countryCode: claimValue,
      firstName: claimValue,
      lastName: claimValue,
      fullName: claimValue,
      personalNumber: claimValue,
      dateOfBirth: claimValue,
      gender: claimValue,
      phone: claimValue,
      email: claimValue,
      addressInfoRaw: claimValue,
    },
    { requiredKeys: [] },
  ),
  fc.jsonValue({ maxDepth: 2 }),
);
/** `providerData` as ZignSec sends it (a JSON string), as an object, or anything else. */
const providerData = fc.oneof(
  claims.map((c) => JSON.stringify(c)),
  claims,
  fc.jsonValue({ maxDepth: 2 }),
  text,
);
const errorsList = fc.oneof(
  fc.constant([]),
  fc.array(fc.oneof(text, fc.record({ code: claimValue, description: claimValue }, { requiredKeys: [] }))),
  fc.jsonValue({ maxDepth: 2 }),
);
/** A result body as JSON: mostly shaped like ZignSec's, sometimes anything at all. */
const resultBody = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .record(
        {
          id: fc.oneof({ weight: 5, arbitrary: fc.constant(SESSION_ID) }, fc.jsonValue({ maxDepth: 1 })),
          state: fc.oneof(fc.constantFrom('Finished', 'finished', 'FINISHED', 'Pending', 'Failed'), claimValue),
          errors: errorsList,
          identity,
          providerData,
        },
        { requiredKeys: [] },
      )
      .map((body) => JSON.stringify(body)),
  },
  fc.json(),
  fc.string(),
);

/** Query or body objects around `relaystate`: repeated, nested, odd keys, odd values. */
const relayStateValue = fc.oneof(
  fc.stringMatching(RELAYSTATE),
  text,
  fc.array(fc.stringMatching(RELAYSTATE), { maxLength: 3 }),
  fc.jsonValue({ maxDepth: 2 }),
  fc.anything({ maxDepth: 2, withNullPrototype: true, withBoxedValues: true, withMap: true, withSet: true }),
);
const relayStateKey = fc.oneof(
  fc.constantFrom('relaystate', 'relaystate[a]', 'relaystate[]', 'relaystate.a', 'RelayState', '__proto__'),
  fc.string(),
);
const queryLike = fc.oneof(
  fc.dictionary(relayStateKey, relayStateValue, { maxKeys: 4 }),
  fc.dictionary(relayStateKey, relayStateValue, { maxKeys: 4, noNullPrototype: false }),
  fc.anything({ maxDepth: 3, withNullPrototype: true, withBoxedValues: true, withMap: true, withSet: true }),
);

// --- checks ----------------------------------------------------------------------------------------

function assertValidProfile(profile: ItsMeProfile, sessionId: string): void {
  expect(profile.provider).to.equal('itsme');
  expect(profile.id).to.be.a('string').and.not.equal('');
  expect(profile.id.trim()).to.equal(profile.id);
  expect(profile.displayName).to.be.a('string');
  expect(profile.sessionId).to.equal(sessionId);
  for (const list of [profile.emails, profile.phoneNumbers]) {
    if (list === undefined) continue;
    expect(list).to.be.an('array').with.length(1);
    expect(list[0]?.value).to.be.a('string').and.not.equal('');
    expect(list[0]?.verified).to.be.a('boolean');
  }
  if (profile.name !== undefined) {
    for (const value of Object.values(profile.name)) expect(value).to.be.a('string').and.not.equal('');
  }
  for (const address of profile.addresses ?? []) {
    for (const value of Object.values(address)) expect(value).to.be.a('string');
  }
  for (const key of [
    'birthday',
    'gender',
    'locale',
    'countryCode',
    'nationality',
    'placeOfBirth',
    'cityOfBirth',
    'eid',
    'nationalRegisterNumber',
    'eidCardNumber',
    'photo',
  ] as const) {
    if (profile[key] !== undefined) expect(profile[key], key).to.be.a('string').and.not.equal('');
  }
  // Apps put the profile (or parts of it) in the session: it must serialise.
  expect(() => JSON.stringify(profile)).to.not.throw();
}

/** A profile, or `ERR_ITSME_NO_SUBJECT`; any other throw fails the property. */
function profileOrNoSubject(result: ItsMeResult): ItsMeProfile | undefined {
  try {
    const profile = toProfile(result);
    assertValidProfile(profile, result.id);
    return profile;
  } catch (err) {
    if (err instanceof ItsMeError && err.code === 'ERR_ITSME_NO_SUBJECT') return undefined;
    throw err;
  }
}

function blankToUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

describe('properties', () => {
  let guard: ProcessGuard;
  let restoreNock: () => void;
  before(() => {
    restoreNock = realNetwork();
    guard = guardProcess();
  });
  after(() => {
    guard.dispose();
    restoreNock();
  });
  afterEach(() => guard.assertClean());

  describe('profile mapper', () => {
    it('should map any claims and identity to a valid profile or a clean ERR_ITSME_NO_SUBJECT', () => {
      fc.assert(
        fc.property(providerData, identity, fc.string(), (data, ident, state) => {
          const parsed = parseClaims(data);
          const result: ItsMeResult = {
            id: SESSION_ID,
            state,
            errors: [],
            providerData: parsed,
            raw: '{}',
            ...(ident && typeof ident === 'object' && !Array.isArray(ident)
              ? { identity: ident as ZignSecIdentity }
              : {}),
          };
          const profile = profileOrNoSubject(result);
          const personalNumber = blankToUndefined((result.identity as { personalNumber?: unknown })?.personalNumber);
          // A sub key, whatever its value, rules out the personal number.
          const expected =
            parsed !== null && Object.hasOwn(parsed, 'sub') ? blankToUndefined(parsed.sub) : personalNumber;
          expect(profile?.id).to.equal(expected);
        }),
        { numRuns: 500 },
      );
    });

    it('should never throw anything but ItsMeError for results of any shape passed by hand', () => {
      fc.assert(
        fc.property(fc.anything({ maxDepth: 2, withNullPrototype: true }), fc.jsonValue(), (data, ident) => {
          const result = {
            id: SESSION_ID,
            state: 'Finished',
            errors: [],
            providerData: data,
            identity: ident,
            raw: '',
          };
          profileOrNoSubject(result as unknown as ItsMeResult);
        }),
        { numRuns: 300 },
      );
    });

    it('should parse providerData to an object or null, never throwing', () => {
      fc.assert(
        fc.property(fc.oneof(providerData, fc.anything({ withNullPrototype: true })), (data) => {
          const parsed = parseClaims(data);
          if (parsed !== null) expect(parsed).to.be.an('object').and.not.be.an('array');
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('result body from the wire', () => {
    let server: Listening;
    let reply = { status: 200, body: '{}' };
    let client: ItsMeClient;
    before(async () => {
      server = await listen((_req, res) => {
        res.writeHead(reply.status, { 'content-type': 'application/json' });
        res.end(reply.body);
      });
      client = new ItsMeClient({ apiKey: API_KEY, baseURL: server.url, timeout: 2000 });
    });
    after(() => server.close());

    it('should turn any body into a result and then a profile, or a clean ItsMeError', async function () {
      this.timeout(60_000);
      const seen = { profile: 0, noSubject: 0, error: 0 };
      await fc.assert(
        fc.asyncProperty(
          resultBody,
          fc.oneof({ weight: 6, arbitrary: fc.constant(200) }, fc.constantFrom(201, 400, 404, 500)),
          async (body, status) => {
            reply = { status, body };
            let result: ItsMeResult;
            try {
              result = await client.getResult(SESSION_ID);
            } catch (err) {
              expect(err).to.be.instanceOf(ItsMeError);
              expect(CODES).to.include((err as ItsMeError).code);
              expect(JSON.stringify(err) + String(err) + String((err as Error).cause)).to.not.include(API_KEY);
              seen.error += 1;
              return;
            }
            expect(status).to.be.within(200, 299);
            expect(result.id).to.equal(SESSION_ID);
            expect(result.state).to.be.a('string');
            expect(result.raw).to.equal(body);
            for (const e of result.errors) expect(e.code).to.be.a('string').and.not.equal('');
            if (result.providerData !== null) expect(result.providerData).to.be.an('object');
            if (profileOrNoSubject(result)) seen.profile += 1;
            else seen.noSubject += 1;
          },
        ),
        { numRuns: 300 },
      );
      // The generator reaches every branch, so the property says something about each.
      expect(seen.profile, JSON.stringify(seen)).to.be.greaterThan(15);
      expect(seen.noSubject, JSON.stringify(seen)).to.be.greaterThan(10);
      expect(seen.error, JSON.stringify(seen)).to.be.greaterThan(30);
    });
  });

  describe('relaystate parsing', () => {
    it('should never throw for any query, body and url, and accept only one well-formed string', () => {
      fc.assert(
        fc.property(fc.option(queryLike), fc.option(queryLike), fc.option(fc.string()), (query, body, url) => {
          const req = { query, body, ...(url === null ? {} : { url }) };
          const input = readRelayState(req);
          expect(['absent', 'invalid', 'valid']).to.include(input.kind);
          if (input.kind === 'valid') expect(input.value).to.match(RELAYSTATE);
          if (input.kind === 'invalid') expect(input.reason).to.be.a('string');
        }),
        { numRuns: 1000 },
      );
    });

    it('should read exactly the one plain relaystate a query or body holds', () => {
      fc.assert(
        fc.property(
          fc.stringMatching(RELAYSTATE),
          fc.boolean(),
          fc.dictionary(fc.string(), fc.string()),
          (rs, inBody, rest) => {
            const others = Object.fromEntries(Object.entries(rest).filter(([k]) => !/^relaystate([[.]|$)/.test(k)));
            const container = { ...others, relaystate: rs };
            const req = inBody ? { query: {}, body: container } : { query: container };
            expect(readRelayState(req)).to.deep.equal({ kind: 'valid', value: rs });
          },
        ),
        { numRuns: 300 },
      );
    });

    it('should refuse a relaystate that is repeated, nested or not one well-formed string', () => {
      fc.assert(
        fc.property(
          fc.stringMatching(RELAYSTATE),
          relayStateValue,
          fc.constantFrom('list', 'nested', 'value'),
          (rs, value, how) => {
            const query: Record<string, unknown> =
              how === 'list'
                ? { relaystate: [rs, rs] }
                : how === 'nested'
                  ? { relaystate: rs, 'relaystate[x]': rs }
                  : { relaystate: value };
            const input = readRelayState({ query });
            if (how === 'value' && typeof value === 'string' && RELAYSTATE.test(value)) {
              expect(input).to.deep.equal({ kind: 'valid', value });
            } else {
              expect(input.kind).to.equal('invalid');
            }
          },
        ),
        { numRuns: 500 },
      );
    });

    it('should read only the own keys of a query, whatever another package put on Object.prototype', () => {
      const proto = Object.prototype as Record<string, unknown>;
      proto['relaystate[x]'] = 'polluted';
      try {
        const rs = 'A'.repeat(43);
        expect(readRelayState({ query: { relaystate: rs }, url: `/cb?relaystate=${rs}` })).to.deep.equal({
          kind: 'valid',
          value: rs,
        });
        expect(readRelayState({ query: { foo: '1' }, url: '/cb?foo=1' })).to.deep.equal({ kind: 'absent' });
      } finally {
        delete proto['relaystate[x]'];
      }
    });

    it('should read the relaystate from the url when there is no parsed query', () => {
      fc.assert(
        fc.property(fc.stringMatching(RELAYSTATE), fc.string(), (rs, noise) => {
          const url = `/cb?${new URLSearchParams({ x: noise, relaystate: rs })}`;
          expect(readRelayState({ url })).to.deep.equal({ kind: 'valid', value: rs });
          const twice = `/cb?relaystate=${rs}&relaystate=${rs}`;
          expect(readRelayState({ url: twice }).kind).to.equal('invalid');
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('strategy with any callback input', () => {
    let server: Listening;
    let strategy: ItsMeStrategy;
    let verified = 0;
    before(async () => {
      server = await listen((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: SESSION_ID, redirectUrl: 'https://itsme.example/authorize', errors: [] }));
      });
      strategy = new ItsMeStrategy(
        { apiKey: API_KEY, callbackURL: 'https://bank.example/cb', baseURL: server.url, timeout: 2000 },
        (_profile, done) => {
          verified += 1;
          done(null, { id: 'x' });
        },
      );
    });
    after(() => server.close());

    it('should answer any query and body with one Passport action: start, 400 or 403, never verify or error', async function () {
      this.timeout(60_000);
      await fc.assert(
        fc.asyncProperty(fc.option(queryLike), fc.option(queryLike), async (query, body) => {
          const req = { method: 'GET', url: '/cb', headers: {}, query, body, session: {} } as unknown as Request;
          const actions: { kind: string; status?: number | undefined }[] = [];
          await new Promise<void>((resolve) => {
            const run = Object.create(strategy) as ItsMeStrategy & Record<string, unknown>;
            const record = (kind: string, status?: number) => {
              actions.push({ kind, status });
              resolve();
            };
            run.redirect = () => record('redirect');
            run.fail = (_challenge: unknown, status?: number) => record('fail', status);
            run.error = (err: Error) => record(`error: ${err.message}`);
            run.success = () => record('success');
            run.pass = () => record('pass');
            run.authenticate(req, {});
          });
          await new Promise((resolve) => setImmediate(resolve));
          expect(actions).to.have.length(1);
          const [action] = actions;
          const input = readRelayState(req);
          if (input.kind === 'absent') expect(action).to.deep.equal({ kind: 'redirect', status: undefined });
          else if (input.kind === 'invalid') expect(action).to.deep.equal({ kind: 'fail', status: 400 });
          else expect(action).to.deep.equal({ kind: 'fail', status: 403 });
        }),
        { numRuns: 300 },
      );
      expect(verified).to.equal(0);
    });
  });
});
