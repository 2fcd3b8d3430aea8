import { expect } from 'chai';
import nock from 'nock';
import { ItsMeClient, ItsMeError, type ItsMeResult, parseClaims, toProfile } from '../lib/index.js';
import { rejection } from './support/rejection.js';
import { sampleResult } from './support/zignsec-stub.js';

const SESSION_ID = '9dc96404-7c0f-4997-bf94-3cd7f9de41b0';
const SUB = '1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9';

/** The sample's claims as an object, to alter before sending. */
function sampleClaims(): Record<string, unknown> {
  return JSON.parse(String(sampleResult(SESSION_ID).providerData)) as Record<string, unknown>;
}

/** A result as the client builds it from a response body. */
function resultOf(body: Record<string, unknown>): ItsMeResult {
  const result: ItsMeResult = {
    id: String(body.id),
    state: String(body.state),
    errors: [],
    providerData: parseClaims(body.providerData),
    raw: JSON.stringify(body),
  };
  if (body.identity && typeof body.identity === 'object') result.identity = body.identity as ItsMeResult['identity'];
  return result;
}

function profileWith(overrides: Record<string, unknown>): ReturnType<typeof toProfile> {
  return toProfile(resultOf(sampleResult(SESSION_ID, overrides)));
}

function withClaims(change: (claims: Record<string, unknown>) => void, identity?: Record<string, unknown>) {
  const claims = sampleClaims();
  change(claims);
  const overrides: Record<string, unknown> = { providerData: JSON.stringify(claims) };
  if (identity) overrides.identity = { ...(sampleResult(SESSION_ID).identity as object), ...identity };
  return profileWith(overrides);
}

describe('profile', () => {
  describe("the document's sample", () => {
    it('should map every field of the sample', () => {
      const { _raw, _json, ...profile } = profileWith({});
      expect(profile).to.deep.equal({
        provider: 'itsme',
        id: SUB,
        displayName: 'Florent Verschueren',
        name: { givenName: 'Florent', familyName: 'Verschueren' },
        emails: [{ value: '[email protected]', verified: false }],
        phoneNumbers: [{ value: '+32 425009714', verified: true }],
        addresses: [
          {
            streetAddress: 'Havenlaan 2',
            locality: 'Brussel',
            postalCode: '1000',
            country: 'BE',
            formatted: 'Havenlaan 2, 1000 Brussel',
          },
        ],
        birthday: '1980-01-02',
        gender: 'male',
        locale: 'fr',
        countryCode: 'BE',
        sessionId: SESSION_ID,
      });
    });

    it("should not take the names from ZignSec's identity block, whose names are wrong", () => {
      const profile = profileWith({});
      expect(profile.name?.givenName).to.not.equal('Florent Verschueren');
      expect(profile.displayName).to.not.include('Verschueren Verschueren');
    });

    it('should keep the response text as _raw and the result with parsed providerData as _json', async () => {
      nock.disableNetConnect();
      try {
        const body = JSON.stringify(sampleResult(SESSION_ID));
        nock('https://zignsec.profile.test').get(`/v3/eid/itsme/${SESSION_ID}`).reply(200, body);
        const client = new ItsMeClient({ apiKey: 'zs-profile-key', baseURL: 'https://zignsec.profile.test' });
        const profile = client.toProfile(await client.getResult(SESSION_ID));
        expect(profile._raw).to.equal(body);
        expect(profile._json.id).to.equal(SESSION_ID);
        expect(profile._json.state).to.equal('Finished');
        expect(profile._json.providerData?.sub).to.equal(SUB);
        expect(profile._json.providerData?.ParsedAddress).to.deep.include({ locality: 'Brussel' });
        expect(profile._json.identity?.fullName).to.equal('Florent Verschueren Verschueren');
        expect(profile._json).to.not.have.property('raw');
      } finally {
        nock.cleanAll();
        nock.enableNetConnect();
      }
    });

    it('should leave out claims that are null in the sample', () => {
      const profile = profileWith({});
      for (const key of ['nationality', 'placeOfBirth', 'cityOfBirth', 'eid', 'photo', 'nationalRegisterNumber']) {
        expect(profile).to.not.have.property(key);
      }
    });
  });

  describe('claims', () => {
    it('should leave givenName out rather than use identity.firstName when given_name is missing', () => {
      const profile = withClaims((c) => {
        delete c.given_name;
      });
      expect(profile.name).to.deep.equal({ familyName: 'Verschueren' });
      expect(profile.displayName).to.equal('Florent Verschueren');
    });

    it('should build displayName from the claim names when the name claim is missing', () => {
      const profile = withClaims((c) => {
        delete c.name;
      });
      expect(profile.displayName).to.equal('Florent Verschueren');
    });

    it("should not fall back to identity's e-mail or phone when the claims have none", () => {
      const profile = withClaims((c) => {
        delete c.email;
        delete c.phone_number;
      });
      expect(profile).to.not.have.property('emails');
      expect(profile).to.not.have.property('phoneNumbers');
    });

    it('should carry the verified flags as itsme sent them', () => {
      const profile = withClaims((c) => {
        c.email_verified = true;
        c.phone_number_verified = false;
      });
      expect(profile.emails).to.deep.equal([{ value: '[email protected]', verified: true }]);
      expect(profile.phoneNumbers).to.deep.equal([{ value: '+32 425009714', verified: false }]);
    });

    it('should map extra claims under clear names', () => {
      const profile = withClaims((c) => {
        c.nationality = 'BE';
        c.place_of_birth = 'Liège';
        c.city_of_birth = 'Liège';
        c.photo = '/9j/4AAQSkZJRgABAQ';
        c.eid = '592123456789';
        c['http://itsme.services/v2/claim/BENationalNumber'] = '80010212345';
        c['http://itsme.services/v2/claim/BEeidSn'] = '592123456789';
      });
      expect(profile).to.deep.include({
        nationality: 'BE',
        placeOfBirth: 'Liège',
        cityOfBirth: 'Liège',
        photo: '/9j/4AAQSkZJRgABAQ',
        eid: '592123456789',
        nationalRegisterNumber: '80010212345',
        eidCardNumber: '592123456789',
      });
    });

    it('should read national register and card numbers from an eid object', () => {
      const profile = withClaims((c) => {
        c.eid = { national_number: '80010212345', card_number: '592000000001' };
      });
      expect(profile.nationalRegisterNumber).to.equal('80010212345');
      expect(profile.eidCardNumber).to.equal('592000000001');
      expect(profile).to.not.have.property('eid');
    });

    it('should accept providerData sent as an object instead of a string', () => {
      const profile = profileWith({ providerData: sampleClaims() });
      expect(profile.id).to.equal(SUB);
      expect(profile.name).to.deep.equal({ givenName: 'Florent', familyName: 'Verschueren' });
    });
  });

  describe('addresses', () => {
    it('should read the JSON-string address claim when ParsedAddress is missing', () => {
      const profile = withClaims(
        (c) => {
          delete c.ParsedAddress;
          c.address = JSON.stringify({
            street_address: 'Kerkstraat 1',
            locality: 'Gent',
            postal_code: '9000',
            country: 'BE',
          });
        },
        { addressInfoRaw: '' },
      );
      expect(profile.addresses).to.deep.equal([
        {
          streetAddress: 'Kerkstraat 1',
          locality: 'Gent',
          postalCode: '9000',
          country: 'BE',
          formatted: 'Kerkstraat 1, 9000 Gent',
        },
      ]);
    });

    it('should prefer ParsedAddress over the address claim', () => {
      const profile = withClaims((c) => {
        c.address = JSON.stringify({ street_address: 'Elsewhere 9', locality: 'Namur' });
      });
      expect(profile.addresses?.[0]?.locality).to.equal('Brussel');
    });

    it("should keep itsme's own formatted address over ZignSec's addressInfoRaw", () => {
      const profile = withClaims((c) => {
        (c.ParsedAddress as Record<string, unknown>).formatted = 'Havenlaan 2\n1000 Brussel\nBelgique';
      });
      expect(profile.addresses?.[0]?.formatted).to.equal('Havenlaan 2\n1000 Brussel\nBelgique');
    });

    it('should take the birth date from the claims only, not from the identity block, when there are claims', () => {
      const profile = withClaims(
        (c) => {
          delete c.birthdate;
        },
        { dateOfBirth: '02/01/1980' },
      );
      expect(profile).to.not.have.property('birthday');
    });

    it('should not throw on a broken address claim and keep identity.addressInfoRaw as formatted', () => {
      const profile = withClaims((c) => {
        delete c.ParsedAddress;
        c.address = '{"street_address": "Havenlaan 2"';
      });
      expect(profile.addresses).to.deep.equal([{ formatted: 'Havenlaan 2,Brussel,1000' }]);
    });

    it('should have no addresses when nothing is known', () => {
      const profile = withClaims(
        (c) => {
          delete c.ParsedAddress;
          delete c.address;
        },
        { addressInfoRaw: undefined },
      );
      expect(profile).to.not.have.property('addresses');
    });

    it('should take countryCode from the address when identity has none', () => {
      const profile = withClaims(
        (c) => {
          c.ParsedAddress = { country: 'NL', locality: 'Maastricht' };
        },
        { countryCode: undefined },
      );
      expect(profile.countryCode).to.equal('NL');
    });
  });

  describe('identity fallback', () => {
    const personalNumber = '80010212345';

    for (const [label, providerData] of [
      ['missing', undefined],
      ['the JSON null', null],
    ] as const) {
      it(`should use the identity block when providerData is ${label}, without throwing`, async () => {
        const body = sampleResult(SESSION_ID, {
          providerData,
          identity: { ...(sampleResult(SESSION_ID).identity as object), personalNumber },
        });
        const profile = toProfile(await fetched(body));
        expect(profile.id).to.equal(personalNumber);
        expect(profile.name).to.deep.equal({ givenName: 'Florent Verschueren', familyName: 'Verschueren' });
        expect(profile.displayName).to.be.a('string').and.not.equal('');
        expect(profile.emails).to.deep.equal([{ value: '[email protected]', verified: false }]);
        expect(profile.phoneNumbers).to.deep.equal([{ value: '+32 425009714', verified: false }]);
        expect(profile.birthday).to.equal('1980-01-02');
        expect(profile.countryCode).to.equal('BE');
        expect(profile._json.providerData).to.equal(null);
      });
    }

    it('should use the personal number as id when the claims have no sub key', () => {
      const profile = withClaims(
        (c) => {
          delete c.sub;
        },
        { personalNumber },
      );
      expect(profile.id).to.equal(personalNumber);
      expect(profile.name).to.deep.equal({ givenName: 'Florent', familyName: 'Verschueren' });
    });

    it('should prefer sub over the personal number', () => {
      expect(withClaims(() => {}, { personalNumber }).id).to.equal(SUB);
    });
  });

  describe('subject', () => {
    const personalNumber = '80010212345';
    const cases: [string, (c: Record<string, unknown>) => void, Record<string, unknown>][] = [
      ['no sub and an empty personal number', (c) => delete c.sub, { personalNumber: '' }],
      ['an empty sub', (c) => (c.sub = ''), { personalNumber: '' }],
      ['a blank sub and a blank personal number', (c) => (c.sub = '   '), { personalNumber: '  ' }],
      ['a sub that is not a string', (c) => (c.sub = 12345), { personalNumber: undefined }],
      // A sub that is there but unusable never switches the id to the national register number.
      ['an empty sub, even with a personal number', (c) => (c.sub = ''), { personalNumber }],
      ['a blank sub, even with a personal number', (c) => (c.sub = ' \t '), { personalNumber }],
      ['a numeric sub, even with a personal number', (c) => (c.sub = 12345), { personalNumber }],
      ['a null sub, even with a personal number', (c) => (c.sub = null), { personalNumber }],
      ['an object sub, even with a personal number', (c) => (c.sub = { id: SUB }), { personalNumber }],
      ['an array sub, even with a personal number', (c) => (c.sub = [SUB]), { personalNumber }],
      ['a sub of 256 characters, even with a personal number', (c) => (c.sub = 's'.repeat(256)), { personalNumber }],
    ];
    for (const [label, change, identity] of cases) {
      it(`should throw ERR_ITSME_NO_SUBJECT, never give an empty or other id, for ${label}`, () => {
        let thrown: unknown;
        try {
          withClaims(change, identity);
        } catch (err) {
          thrown = err;
        }
        expect(thrown).to.be.instanceOf(ItsMeError);
        expect((thrown as ItsMeError).code).to.equal('ERR_ITSME_NO_SUBJECT');
      });
    }

    it('should take a sub of 255 characters', () => {
      expect(withClaims((c) => (c.sub = 's'.repeat(255)), { personalNumber }).id).to.equal('s'.repeat(255));
    });

    for (const [label, providerData] of [
      ['not JSON', '{"sub": "1pjoxjq'],
      ['a JSON array', '["sub"]'],
      ['the string "null"', 'null'],
      ['a JSON string', '"1pjoxjq"'],
      ['a number', 42],
      ['an array', [{ sub: SUB }]],
    ] as const) {
      it(`should throw ERR_ITSME_NO_SUBJECT when providerData is ${label}, even with a personal number`, async () => {
        const body = sampleResult(SESSION_ID, {
          providerData,
          identity: { ...(sampleResult(SESSION_ID).identity as object), personalNumber },
        });
        const result = await fetched(body);
        expect(result.providerData).to.equal(null);
        expect(result.providerDataInvalid).to.equal(true);
        expect(() => toProfile(result))
          .to.throw(ItsMeError, /providerData that is not a JSON object/)
          .with.property('code', 'ERR_ITSME_NO_SUBJECT');
      });
    }

    it('should throw ERR_ITSME_NO_SUBJECT when neither providerData nor identity is there', () => {
      expect(() => toProfile(resultOf({ id: SESSION_ID, state: 'Finished', errors: [] })))
        .to.throw(ItsMeError)
        .with.property('code', 'ERR_ITSME_NO_SUBJECT');
    });
  });

  describe('hostile claims', () => {
    it('should refuse claims nested 5,000 deep with ERR_ZIGNSEC_BAD_RESPONSE, never a profile that cannot be serialised', async () => {
      const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
      const error = await rejection(
        fetched(sampleResult(SESSION_ID, { providerData: `{"sub":"${SUB}","x":${deep}}` })),
      );
      expect(error.code).to.equal('ERR_ZIGNSEC_BAD_RESPONSE');
      expect(error.message).to.match(/nested deeper than 16 levels/);
      expect(parseClaims(`{"sub":"${SUB}","x":${deep}}`)).to.equal(null);
    });

    it('should refuse 70,000 claim keys with ERR_ZIGNSEC_BAD_RESPONSE', async () => {
      const many: Record<string, unknown> = sampleClaims();
      for (let i = 0; i < 70_000; i++) many[`claim${i}`] = 'v';
      const error = await rejection(fetched(sampleResult(SESSION_ID, { providerData: JSON.stringify(many) })));
      expect(error.code).to.equal('ERR_ZIGNSEC_BAD_RESPONSE');
      expect(error.message).to.match(/more than 1000 values/);
    });

    it('should keep claims within the limits, and the profile should serialise', async () => {
      const claims = sampleClaims();
      claims.device = JSON.parse(`${'{"a":'.repeat(14)}1${'}'.repeat(14)}`);
      const profile = toProfile(await fetched(sampleResult(SESSION_ID, { providerData: JSON.stringify(claims) })));
      expect(profile.id).to.equal(SUB);
      expect(JSON.parse(JSON.stringify(profile))._json.providerData.device).to.deep.equal(claims.device);
    });

    it('should leave out text claims that are not strings or are too long', () => {
      const profile = withClaims((c) => {
        c.family_name = 'F'.repeat(2049);
        c.locale = { lang: 'fr' };
        c.nationality = ['BE'];
        c.place_of_birth = 'P'.repeat(2048);
        c.photo = 'A'.repeat(300_000);
      });
      expect(profile.name).to.deep.equal({ givenName: 'Florent' });
      expect(profile).to.not.have.property('locale');
      expect(profile).to.not.have.property('nationality');
      expect(profile.placeOfBirth).to.have.length(2048);
      expect(profile.photo).to.have.length(300_000);
      expect(() => JSON.stringify(profile)).to.not.throw();
    });

    it('should keep at most 10 of a long error list, each cut to length', async () => {
      const errors = Array.from({ length: 1000 }, (_, i) => ({
        code: `E${i}${'x'.repeat(500)}`,
        description: 'd'.repeat(2000),
      }));
      const result = await fetched({ id: SESSION_ID, state: 'Failed', errors });
      expect(result.errors).to.have.length(10);
      expect(result.errors[0]?.code).to.have.length(200);
      expect(result.errors[0]?.description).to.have.length(1000);
    });
  });
});

/** The result the client builds from `body`, through a real `getResult` (nock answers it). */
async function fetched(body: unknown): Promise<ItsMeResult> {
  nock.disableNetConnect();
  try {
    nock('https://zignsec.profile.test').get(`/v3/eid/itsme/${SESSION_ID}`).reply(200, JSON.stringify(body));
    const client = new ItsMeClient({
      apiKey: 'zs-profile-key',
      baseURL: 'https://zignsec.profile.test',
      maxResponseSize: 16 << 20,
    });
    return await client.getResult(SESSION_ID);
  } finally {
    nock.cleanAll();
    nock.enableNetConnect();
  }
}
