import type { ZignSecErrorEntry } from './errors.js';
import type { ItsMeLanguage } from './types.js';
import { LANGUAGES } from './types.js';

/**
 * The stable `info.code` of every `fail(info, status)` of {@link ItsMeStrategy}, and the `code` of its
 * `passport-itsme:login:failure` event. Branch on it, not on the message.
 *
 * - `invalid-callback` (400): the way back's `relaystate` is not one well-formed string.
 * - `no-session` (403): the request brought back no session holding a pending login (the session
 *   cookie did not come back, or its session is empty).
 * - `unknown-login` (403): the session is there but does not know this relaystate (another browser's
 *   link, a forged one, or a store that cannot tell expired or used apart).
 * - `expired-login` (403): the pending login outlived the store's time to live.
 * - `used-login` (403): the relaystate (or the ZignSec session) was already used: a replay.
 * - `cancelled` (401): the person cancelled at itsme.
 * - `itsme-expired` (401): itsme's transaction expired before the person confirmed it.
 * - `itsme-error` (401): ZignSec or itsme reported another error (see `zignsecCode`).
 * - `not-confirmed` (401): the result was still not final after `pendingTimeout`.
 * - `no-subject` (401): the result does not say who logged in.
 * - `verify-refused` (401): `verify` answered `false`/`null` (its `info` fields are kept).
 */
export type ItsMeFailureCode =
  | 'invalid-callback'
  | 'no-session'
  | 'unknown-login'
  | 'expired-login'
  | 'used-login'
  | 'cancelled'
  | 'itsme-expired'
  | 'itsme-error'
  | 'not-confirmed'
  | 'no-subject'
  | 'verify-refused';

/** Every {@link ItsMeFailureCode}, in the order of the documentation. @internal */
export const FAILURE_CODES: readonly ItsMeFailureCode[] = [
  'invalid-callback',
  'no-session',
  'unknown-login',
  'expired-login',
  'used-login',
  'cancelled',
  'itsme-expired',
  'itsme-error',
  'not-confirmed',
  'no-subject',
  'verify-refused',
];

/** The HTTP status of each failure code, as its documentation above says. @internal */
export const FAILURE_STATUS: Readonly<Record<ItsMeFailureCode, 400 | 401 | 403>> = {
  'invalid-callback': 400,
  'no-session': 403,
  'unknown-login': 403,
  'expired-login': 403,
  'used-login': 403,
  cancelled: 401,
  'itsme-expired': 401,
  'itsme-error': 401,
  'not-confirmed': 401,
  'no-subject': 401,
  'verify-refused': 401,
};

/** The `info` the strategy hands to Passport's `fail(info, status)`. */
export interface ItsMeFailureInfo {
  /** The stable failure code. */
  code: ItsMeFailureCode;
  /** A sentence for the person, in {@link ItsMeFailureInfo.language} (or the app's override). */
  message: string;
  /** The language the message was chosen for. */
  language: ItsMeLanguage;
  /** ZignSec's own error code(s), comma-separated, when the failure came from its `errors` list. */
  zignsecCode?: string;
  /** A note in English for the developer (`no-session`, `invalid-callback`); not meant for the person. */
  hint?: string;
}

/** What a message function of the `messages` option receives. */
export interface ItsMeMessageContext {
  /** The stable failure code. */
  code: ItsMeFailureCode;
  /** The language chosen for this login. */
  language: ItsMeLanguage;
  /** The built-in sentence for this code and language. */
  message: string;
  /** ZignSec's error code(s), when the failure came from its `errors` list. */
  zignsecCode?: string;
  /** `true` when the callback came over plain http (`no-session` then explains what to check). */
  insecure: boolean;
}

/**
 * One override of the `messages` option: a text for every language, a text per language (missing
 * languages keep the built-in one), or a function (returning `undefined` keeps the built-in one).
 * In texts, `{zignsecCode}` is replaced by ZignSec's error code(s).
 */
export type ItsMeMessage =
  | string
  | Partial<Record<ItsMeLanguage, string>>
  | ((context: ItsMeMessageContext) => string | undefined);

/** The `messages` option of {@link ItsMeStrategy}: overrides of the built-in sentences, by code. */
export type ItsMeMessages = Partial<Record<ItsMeFailureCode, ItsMeMessage>>;

type Texts = Record<ItsMeFailureCode | 'no-session-http', string>;

const FR_NBSP = '\u00a0';

const TEXTS: Record<ItsMeLanguage, Texts> = {
  en: {
    'invalid-callback': 'This itsme login link is not valid. Please start again.',
    'no-session':
      "The itsme login cannot be completed because your browser's session for this site was not found. Please allow cookies for this site and start again.",
    'no-session-http':
      "The itsme login cannot be completed because no session came back with the callback. If this happens every time, check that the session cookie is not marked Secure while the site runs on plain http (behind a TLS proxy, enable Express's trust proxy setting), that it is not SameSite=Strict, and that the login starts and comes back on the same host name.",
    'unknown-login': 'This itsme login is unknown, was already used or has expired. Please start again.',
    'expired-login': 'This itsme login has expired. Please start again.',
    'used-login': 'This itsme login has already been used. Please start again.',
    cancelled: 'The itsme login was cancelled.',
    'itsme-expired': 'The itsme login expired before it was confirmed. Please try again.',
    'itsme-error': 'The itsme login did not succeed ({zignsecCode}). Please try again later.',
    'not-confirmed': 'The itsme login was not confirmed in time. Please try again.',
    'no-subject': 'itsme did not return who logged in. Please try again.',
    'verify-refused': 'Login refused.',
  },
  fr: {
    'invalid-callback': 'Ce lien de connexion itsme n’est pas valide. Veuillez recommencer.',
    'no-session':
      'La connexion itsme ne peut pas aboutir, car la session de votre navigateur pour ce site est introuvable. Veuillez autoriser les cookies pour ce site et recommencer.',
    'no-session-http': `La connexion itsme ne peut pas aboutir, car aucune session n’a été retrouvée au retour d’itsme. Si cela se produit à chaque fois, vérifiez que le cookie de session n’est pas marqué Secure alors que le site fonctionne en HTTP simple (derrière un proxy TLS, activez le réglage «${FR_NBSP}trust proxy${FR_NBSP}» d’Express), qu’il n’est pas en SameSite=Strict, et que la connexion commence et revient sur le même nom d’hôte.`,
    'unknown-login': 'Cette connexion itsme est inconnue, a déjà été utilisée ou a expiré. Veuillez recommencer.',
    'expired-login': 'Cette connexion itsme a expiré. Veuillez recommencer.',
    'used-login': 'Cette connexion itsme a déjà été utilisée. Veuillez recommencer.',
    cancelled: 'La connexion itsme a été annulée.',
    'itsme-expired': 'La connexion itsme a expiré avant d’être confirmée. Veuillez réessayer.',
    'itsme-error': 'La connexion itsme n’a pas abouti ({zignsecCode}). Veuillez réessayer plus tard.',
    'not-confirmed': 'La connexion itsme n’a pas été confirmée à temps. Veuillez réessayer.',
    'no-subject': 'itsme n’a pas indiqué qui s’est connecté. Veuillez réessayer.',
    'verify-refused': 'Connexion refusée.',
  },
  nl: {
    'invalid-callback': 'Deze aanmeldlink van itsme is ongeldig. Begin opnieuw.',
    'no-session':
      'De aanmelding met itsme kan niet worden voltooid, omdat de sessie van uw browser voor deze site niet werd gevonden. Sta cookies toe voor deze site en begin opnieuw.',
    'no-session-http':
      'De aanmelding met itsme kan niet worden voltooid, omdat er geen sessie meekwam bij de terugkeer van itsme. Gebeurt dit telkens, controleer dan of het sessiecookie niet als Secure is gemarkeerd terwijl de site via gewone http draait (zet achter een TLS-proxy de instelling ‘trust proxy’ van Express aan), of het niet SameSite=Strict is, en of de aanmelding op dezelfde hostnaam begint en terugkomt.',
    'unknown-login': 'Deze aanmelding met itsme is onbekend, werd al gebruikt of is verlopen. Begin opnieuw.',
    'expired-login': 'Deze aanmelding met itsme is verlopen. Begin opnieuw.',
    'used-login': 'Deze aanmelding met itsme werd al gebruikt. Begin opnieuw.',
    cancelled: 'De aanmelding met itsme werd geannuleerd.',
    'itsme-expired': 'De aanmelding met itsme is verlopen voordat ze werd bevestigd. Probeer het opnieuw.',
    'itsme-error': 'De aanmelding met itsme is niet gelukt ({zignsecCode}). Probeer het later opnieuw.',
    'not-confirmed': 'De aanmelding met itsme werd niet op tijd bevestigd. Probeer het opnieuw.',
    'no-subject': 'itsme heeft niet doorgegeven wie zich heeft aangemeld. Probeer het opnieuw.',
    'verify-refused': 'Aanmelding geweigerd.',
  },
  de: {
    'invalid-callback': 'Dieser Anmeldelink von itsme ist ungültig. Bitte starten Sie die Anmeldung erneut.',
    'no-session':
      'Die Anmeldung mit itsme kann nicht abgeschlossen werden, weil die Sitzung Ihres Browsers für diese Website nicht gefunden wurde. Bitte erlauben Sie Cookies für diese Website und starten Sie die Anmeldung erneut.',
    'no-session-http':
      'Die Anmeldung mit itsme kann nicht abgeschlossen werden, weil bei der Rückkehr von itsme keine Sitzung mitkam. Wenn das jedes Mal passiert, prüfen Sie, ob das Sitzungscookie als Secure markiert ist, während die Website über einfaches http läuft (hinter einem TLS-Proxy die Express-Einstellung „trust proxy“ aktivieren), ob es SameSite=Strict ist und ob die Anmeldung auf demselben Hostnamen beginnt und zurückkehrt.',
    'unknown-login':
      'Diese Anmeldung mit itsme ist unbekannt, wurde bereits verwendet oder ist abgelaufen. Bitte starten Sie die Anmeldung erneut.',
    'expired-login': 'Diese Anmeldung mit itsme ist abgelaufen. Bitte starten Sie die Anmeldung erneut.',
    'used-login': 'Diese Anmeldung mit itsme wurde bereits verwendet. Bitte starten Sie die Anmeldung erneut.',
    cancelled: 'Die Anmeldung mit itsme wurde abgebrochen.',
    'itsme-expired':
      'Die Anmeldung mit itsme ist abgelaufen, bevor sie bestätigt wurde. Bitte versuchen Sie es erneut.',
    'itsme-error': 'Die Anmeldung mit itsme ist fehlgeschlagen ({zignsecCode}). Bitte versuchen Sie es später erneut.',
    'not-confirmed': 'Die Anmeldung mit itsme wurde nicht rechtzeitig bestätigt. Bitte versuchen Sie es erneut.',
    'no-subject': 'itsme hat nicht übermittelt, wer sich angemeldet hat. Bitte versuchen Sie es erneut.',
    'verify-refused': 'Anmeldung abgelehnt.',
  },
};

const HINTS: Partial<Record<ItsMeFailureCode, string>> = {
  'no-session':
    'The callback brought back no session holding a pending itsme login (or a session that has ended). Usual causes: a session cookie with secure: true served over plain http (or behind a TLS proxy without trust proxy), a SameSite=Strict cookie (the way back is a cross-site navigation), or a login started on one host name (localhost) and returning to another (127.0.0.1).',
};

/** ZignSec error codes with a failure code of their own; any other is `itsme-error`. */
const ZIGNSEC_CODES: Record<string, ItsMeFailureCode> = {
  USER_CANCEL: 'cancelled',
  USER_CANCELLED: 'cancelled',
  CANCELLED: 'cancelled',
  EXPIRED_TRANSACTION: 'itsme-expired',
  EXPIRED: 'itsme-expired',
  ALREADY_COLLECTED: 'used-login',
  SESSION_NOT_FOUND: 'unknown-login',
};

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const PLAIN_CODE = /^[^\u0000-\u001f\u007f-\u009f<>"'&`\\]{1,200}$/;

/**
 * The failure code and ZignSec's code(s) for a result's `errors` list.
 * @internal
 */
export function classifyErrors(errors: ZignSecErrorEntry[]): { code: ItsMeFailureCode; zignsecCode: string } {
  let code: ItsMeFailureCode = 'itsme-error';
  for (const entry of errors) {
    const known = ZIGNSEC_CODES[entry.code.toUpperCase()];
    if (known) {
      code = known;
      break;
    }
  }
  // Codes land in a message an app may render as HTML or write to a log: no markup, no control characters.
  const listed = errors.slice(0, 5).map((entry) => (PLAIN_CODE.test(entry.code) ? entry.code : 'UNKNOWN'));
  let zignsecCode = listed.join(', ') || 'unknown error';
  if (errors.length > listed.length) zignsecCode += ', ...';
  if (zignsecCode.length > 1000) zignsecCode = `${zignsecCode.slice(0, 997)}...`;
  return { code, zignsecCode };
}

/** Options of {@link failureInfo}. @internal */
export interface FailureDetails {
  language: ItsMeLanguage;
  insecure?: boolean;
  zignsecCode?: string;
  hint?: string;
  overrides?: ItsMeMessages | undefined;
}

/**
 * The `info` for a failure: the built-in sentence in the login's language, or the app's override.
 * @internal
 */
export function failureInfo(code: ItsMeFailureCode, details: FailureDetails): ItsMeFailureInfo {
  const { language, insecure = false, zignsecCode } = details;
  const texts = Object.hasOwn(TEXTS, language) ? TEXTS[language] : TEXTS.en;
  const builtIn = fill(code === 'no-session' && insecure ? texts['no-session-http'] : texts[code], zignsecCode);
  const message = override(details.overrides?.[code], { code, language, message: builtIn, insecure, zignsecCode });
  const info: ItsMeFailureInfo = { code, message, language };
  if (zignsecCode !== undefined) info.zignsecCode = zignsecCode;
  const hint = details.hint ?? HINTS[code];
  if (hint !== undefined) info.hint = hint;
  return info;
}

function override(
  value: ItsMeMessage | undefined,
  context: Omit<ItsMeMessageContext, 'zignsecCode'> & { zignsecCode: string | undefined },
): string {
  const fallback = context.message;
  let text: unknown;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'function') {
    const { zignsecCode, ...rest } = context;
    try {
      text = value(zignsecCode === undefined ? rest : { ...rest, zignsecCode });
    } catch {
      text = undefined;
    }
  } else if (value && typeof value === 'object') text = value[context.language];
  return typeof text === 'string' && text !== '' ? fill(text, context.zignsecCode) : fallback;
}

function fill(text: string, zignsecCode: string | undefined): string {
  return text.includes('{zignsecCode}') ? text.split('{zignsecCode}').join(zignsecCode ?? 'unknown error') : text;
}

/**
 * Throws a `TypeError` naming the option when `messages` is not a map of known codes to strings,
 * per-language maps or functions.
 * @internal
 */
export function checkMessages(owner: string, messages: unknown): void {
  if (messages === undefined) return;
  if (!messages || typeof messages !== 'object' || Array.isArray(messages)) {
    throw new TypeError(`${owner} messages option must be an object of failure code to message`);
  }
  for (const [code, value] of Object.entries(messages)) {
    if (!FAILURE_CODES.includes(code as ItsMeFailureCode)) {
      throw new TypeError(`${owner} messages option has an unknown failure code ${JSON.stringify(code)}`);
    }
    // `undefined`, as the types allow, keeps the built-in text (of that code, or of that language).
    if (value === undefined || typeof value === 'string' || typeof value === 'function') continue;
    const valid =
      value &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      Object.entries(value).every(
        ([lang, text]) => LANGUAGES.includes(lang as ItsMeLanguage) && (text === undefined || typeof text === 'string'),
      );
    if (!valid) {
      throw new TypeError(
        `${owner} messages option ${code} must be a string, a function, or an object of ${LANGUAGES.join(', ')} to string`,
      );
    }
  }
}
