import { expect } from 'chai';
import {
  type ItsMeFailureCode,
  type ItsMeLanguage,
  type ItsMeMessageContext,
  type ItsMeMessages,
  ItsMeStrategy,
  type ItsMeStrategyOptions,
} from '../lib/index.js';
import { FAILURE_CODES, failureInfo } from '../lib/messages.js';
import { ExplainingStore, type FailureApp, startFailureApp } from './support/failure-app.js';
import { realNetwork } from './support/guards.js';
import { CookieJar } from './support/http.js';
import { ZignSecStub } from './support/zignsec-stub.js';

const LANGS: ItsMeLanguage[] = ['en', 'fr', 'nl', 'de'];

/** A few words each built-in sentence must hold, per language: proof it is really in that language. */
const CANCELLED: Record<ItsMeLanguage, string> = {
  en: 'The itsme login was cancelled.',
  fr: 'La connexion itsme a été annulée.',
  nl: 'De aanmelding met itsme werd geannuleerd.',
  de: 'Die Anmeldung mit itsme wurde abgebrochen.',
};
const MARKERS: Record<ItsMeLanguage, RegExp> = {
  en: /\b(the|this|your|itsme did|login)\b/i,
  fr: /\b(la|cette|ce|votre|connexion|itsme n’a)\b/i,
  nl: /\b(de|deze|je|aanmelding|itsme heeft)\b/i,
  de: /\b(die|diese|dieser|ihr|anmeldung|itsme hat)\b/i,
};

describe('messages', () => {
  describe('built-in sentences', () => {
    for (const language of LANGS) {
      it(`should have a sentence for every code in ${language}, with nothing left to fill`, () => {
        for (const code of FAILURE_CODES) {
          for (const insecure of [false, true]) {
            const { message } = failureInfo(code, { language, insecure, zignsecCode: 'X_CODE' });
            expect(message, `${language} ${code}`).to.match(MARKERS[language]);
            expect(message, `${language} ${code}`).to.match(/[.!]$/);
            expect(message, `${language} ${code}`).to.not.match(/[{}]/);
            if (code === 'itsme-error') expect(message).to.include('(X_CODE)');
          }
        }
      });
    }

    it('should say something different in each language for each code', () => {
      for (const code of FAILURE_CODES) {
        const texts = LANGS.map((language) => failureInfo(code, { language }).message);
        expect(new Set(texts).size, code).to.equal(4);
      }
    });

    it('should follow French typography: non-breaking spaces inside guillemets and before : ; ! ?, curly apostrophes', () => {
      for (const code of FAILURE_CODES) {
        for (const insecure of [false, true]) {
          const { message } = failureInfo(code, { language: 'fr', insecure });
          expect(message, code).to.not.match(/[^\u00a0\u202f][:;!?»]/u);
          expect(message, code).to.not.match(/«[^\u00a0\u202f]/u);
          expect(message, code).to.not.include("'");
        }
      }
      expect(failureInfo('no-session', { language: 'fr', insecure: true }).message).to.include(
        '«\u00a0trust proxy\u00a0»',
      );
    });

    it('should use German quotation marks and no straight quotes in German', () => {
      const { message } = failureInfo('no-session', { language: 'de', insecure: true });
      expect(message).to.include('„trust proxy“');
      expect(message).to.not.match(/["']/);
    });
  });

  describe('language of a login', () => {
    let restore: () => void;
    let stub: ZignSecStub;
    const apps: FailureApp[] = [];
    const cancel = (id: string) => [{ body: { id, state: 'Finished', errors: [{ code: 'USER_CANCEL' }] } }];

    async function cancelled(
      strategy: Partial<ItsMeStrategyOptions>,
      at: { start?: ItsMeLanguage; callback?: ItsMeLanguage } = {},
    ) {
      const target = await startFailureApp({ stub, strategy });
      apps.push(target);
      const jar = new CookieJar();
      const { relayState, sessionId } = await target.start(jar, at.start);
      stub.results.set(sessionId, cancel(sessionId));
      return target.callback(jar, relayState, at.callback);
    }

    before(() => {
      restore = realNetwork();
    });
    after(() => restore());
    beforeEach(async () => {
      stub = await new ZignSecStub().start();
    });
    afterEach(async () => {
      for (const started of apps.splice(0)) await started.close();
      await stub.close();
    });
    it('should refuse an unknown language at the callback with the same error, whatever the relaystate', async () => {
      const target = await startFailureApp({ stub });
      apps.push(target);
      for (const language of ['es', '__proto__', 'constructor', 'toString']) {
        for (const relayState of ['short', 'A'.repeat(43)]) {
          const outcome = await target.callback(new CookieJar(), relayState, language as ItsMeLanguage);
          expect(outcome.kind, `${language} ${relayState}`).to.equal('error');
          expect(outcome.error?.message, language).to.match(
            /^ItsMeStrategy authenticate option language must be one of fr, nl, en, de/,
          );
        }
      }
    });

    it('should answer in English when nothing chooses a language', async () => {
      const outcome = await cancelled({});
      expect(outcome.info).to.include({ code: 'cancelled', language: 'en', message: CANCELLED.en });
    });

    for (const language of LANGS) {
      it(`should answer in the strategy's language option (${language})`, async () => {
        const outcome = await cancelled({ language });
        expect(outcome.info).to.include({ language, message: CANCELLED[language] });
      });
    }

    it('should answer in the language the login was started in, kept with the pending login', async () => {
      const outcome = await cancelled({ language: 'fr', store: new ExplainingStore() }, { start: 'nl' });
      expect(stub.starts[0]?.body.language).to.equal('nl');
      expect(outcome.info).to.include({ language: 'nl', message: CANCELLED.nl });
    });

    it('should answer in the language the login was started in with the built-in session store', async () => {
      const outcome = await cancelled({ language: 'fr' }, { start: 'de' });
      expect(outcome.info).to.include({ language: 'de', message: CANCELLED.de });
    });

    it("should prefer the callback's language option over the login's and the strategy's", async () => {
      const outcome = await cancelled(
        { language: 'fr', store: new ExplainingStore() },
        { start: 'nl', callback: 'de' },
      );
      expect(outcome.info).to.include({ language: 'de', message: CANCELLED.de });
    });

    it('should answer a failure before any pending login is found in the callback language', async () => {
      const target = await startFailureApp({ stub, strategy: { language: 'nl' } });
      apps.push(target);
      const { relayState } = await target.start(new CookieJar());
      const outcome = await target.callback(new CookieJar(), relayState, 'fr');
      expect(outcome.info?.code).to.equal('no-session');
      expect(outcome.info?.language).to.equal('fr');
      expect(outcome.info?.message).to.match(/^La connexion itsme ne peut pas aboutir/);
    });

    it('should refuse an unknown language at the callback with an error, not a silent English page', async () => {
      const target = await startFailureApp({ stub });
      apps.push(target);
      const jar = new CookieJar();
      const { relayState } = await target.start(jar);
      const outcome = await target.callback(jar, relayState, 'es' as ItsMeLanguage);
      expect(outcome.kind).to.equal('error');
      expect(outcome.error?.message).to.match(/language must be one of fr, nl, en, de/);
      expect(stub.gets).to.deep.equal([]);
    });

    describe('overrides', () => {
      it('should use a plain text override in every language, filling {zignsecCode}', async () => {
        const messages = { cancelled: 'Stopped ({zignsecCode}).' };
        expect((await cancelled({ messages })).info?.message).to.equal('Stopped (USER_CANCEL).');
        expect((await cancelled({ messages, language: 'fr' })).info?.message).to.equal('Stopped (USER_CANCEL).');
      });

      it('should use a per-language override and keep the built-in sentence for the other languages', async () => {
        const messages = { cancelled: { fr: 'Vous avez annulé la connexion.' } };
        expect((await cancelled({ messages, language: 'fr' })).info?.message).to.equal(
          'Vous avez annulé la connexion.',
        );
        expect((await cancelled({ messages, language: 'nl' })).info?.message).to.equal(CANCELLED.nl);
      });

      it('should call a function override with the code, language, built-in sentence and ZignSec code', async () => {
        const seen: ItsMeMessageContext[] = [];
        const messages = {
          cancelled: (context: ItsMeMessageContext) => {
            seen.push(context);
            return `[${context.language}] ${context.message}`;
          },
        };
        const outcome = await cancelled({ messages, language: 'de' });
        expect(outcome.info?.message).to.equal(`[de] ${CANCELLED.de}`);
        expect(seen).to.deep.equal([
          { code: 'cancelled', language: 'de', message: CANCELLED.de, insecure: true, zignsecCode: 'USER_CANCEL' },
        ]);
      });

      it('should keep the built-in sentence when a function override returns nothing or throws', async () => {
        const nothing = { cancelled: () => undefined };
        expect((await cancelled({ messages: nothing })).info?.message).to.equal(CANCELLED.en);
        const broken = {
          cancelled: () => {
            throw new Error('bug in the message function');
          },
        };
        const outcome = await cancelled({ messages: broken });
        expect(outcome.kind).to.equal('fail');
        expect(outcome.info?.message).to.equal(CANCELLED.en);
      });

      it('should override the message of a failure before ZignSec is asked too', async () => {
        const target = await startFailureApp({
          stub,
          strategy: { messages: { 'no-session': { en: 'Please enable cookies.' } } },
        });
        apps.push(target);
        const { relayState } = await target.start(new CookieJar());
        expect((await target.callback(new CookieJar(), relayState)).info).to.include({
          code: 'no-session',
          message: 'Please enable cookies.',
        });
      });

      it('should use an override of verify-refused when verify gives no message of its own', async () => {
        const target = await startFailureApp({
          stub,
          strategy: { messages: { 'verify-refused': 'Not allowed here.' } },
          verify: (_profile, done) => done(null, false),
        });
        apps.push(target);
        const jar = new CookieJar();
        const { relayState } = await target.start(jar);
        expect((await target.callback(jar, relayState)).info).to.include({
          code: 'verify-refused',
          message: 'Not allowed here.',
        });
      });
    });
  });

  describe('messages option checks', () => {
    const base = { apiKey: 'k-0123', callbackURL: 'https://bank.example/cb' };
    const make = (messages: unknown) => () =>
      new ItsMeStrategy({ ...base, messages } as unknown as ItsMeStrategyOptions, () => {});

    for (const [label, value, pattern] of [
      ['an array', [], /messages option must be an object/],
      ['a string', 'x', /messages option must be an object/],
      ['an unknown code', { nope: 'x' }, /unknown failure code "nope"/],
      ['a number as message', { cancelled: 3 }, /messages option cancelled must be a string, a function, or an object/],
      ['an unknown language', { cancelled: { es: 'x' } }, /messages option cancelled must be/],
      ['a non-string text', { cancelled: { fr: 1 } }, /messages option cancelled must be/],
    ] as const) {
      it(`should throw a TypeError naming messages for ${label}`, () => {
        expect(make(value)).to.throw(TypeError, pattern);
      });
    }

    it('should accept an override left undefined, as the types allow, and keep the built-in text for it', () => {
      const nl: string | undefined = undefined;
      const messages: ItsMeMessages = { cancelled: { en: 'You cancelled.', nl }, 'verify-refused': undefined };
      expect(make(messages)).to.not.throw();
      expect(failureInfo('cancelled', { language: 'nl', overrides: messages }).message).to.equal(
        failureInfo('cancelled', { language: 'nl' }).message,
      );
      expect(failureInfo('cancelled', { language: 'en', overrides: messages }).message).to.equal('You cancelled.');
      expect(failureInfo('verify-refused', { language: 'en', overrides: messages }).message).to.equal(
        failureInfo('verify-refused', { language: 'en' }).message,
      );
    });

    it('should accept every form of override', () => {
      const messages: Record<ItsMeFailureCode, unknown> = Object.fromEntries(
        FAILURE_CODES.map((code, i) => [code, [`text ${i}`, { nl: 'tekst' }, () => 'x'][i % 3]]),
      ) as Record<ItsMeFailureCode, unknown>;
      expect(make(messages)).to.not.throw();
    });
  });
});
