import type { ItsMeLanguage } from '../lib/index.js';
import { html, type SafeHtml } from '../lib/simulator/html.js';
import type { AppUser, VerifiedIdentity } from './users.js';

/** Shared bits every page needs. */
export interface PageContext {
  /** Show the banner saying itsme is simulated. */
  simulated: boolean;
}

const LANGUAGE_NAMES: Record<ItsMeLanguage, string> = {
  en: 'English',
  fr: 'Français',
  nl: 'Nederlands',
  de: 'Deutsch',
};

/** The languages the example app offers, in the order of its language menus. */
export const LANGUAGES = Object.keys(LANGUAGE_NAMES) as readonly ItsMeLanguage[];

/** The `<option>`s of a language menu, `selected` marked. */
export function languageOptions(selected?: ItsMeLanguage): SafeHtml[] {
  return LANGUAGES.map(
    (code) =>
      html`<option value="${code}" lang="${code}"${code === selected ? html` selected` : ''}>${LANGUAGE_NAMES[code]}</option>`,
  );
}

/** The page around `body`; `script` is the address of a same-origin script to load (the CSP allows no inline one). */
export function layout(ctx: PageContext, title: string, body: SafeHtml, script?: string): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} · Demo Bank</title>
<link rel="stylesheet" href="/assets/app.css">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
${script ? html`<script src="${script}" defer></script>` : ''}
</head>
<body>
<header class="top"><div class="inner">
<a class="brand" href="/"><span class="brand-mark" aria-hidden="true">DB</span>Demo Bank</a>
<span class="top-note">passport-itsme example</span>
</div></header>
${
  ctx.simulated
    ? html`<div class="sim-banner" role="note"><div class="inner">Offline mode: itsme is played by the built-in ZignSec simulator. No real identity is checked.</div></div>`
    : ''
}
<main>
${body}
</main>
<footer>An example of <code>passport-itsme</code>. itsme® is a trademark of Belgian Mobile ID; this demo is not affiliated with it.</footer>
</body>
</html>`.value;
}

/** The login page: itsme with a language choice, and the username/password form. */
export function loginPage(
  ctx: PageContext,
  options: {
    /** Failure messages, each with the language it is written in (the page itself is English). */
    errors: { text: string; language: ItsMeLanguage }[];
    notice?: string;
    language: ItsMeLanguage;
    /** The password form, when the app has the demo account; `username` fills it again after a wrong password. */
    password?: { demoHint: string; username?: string | undefined };
  },
): string {
  const password = options.password;
  const alerts = [
    ...options.errors.map(
      ({ text, language }) =>
        html`<p class="alert error" role="alert"${language === 'en' ? '' : html` lang="${language}"`}>${text}</p>`,
    ),
    options.notice ? html`<p class="alert info" role="status">${options.notice}</p>` : '',
  ];
  const body = html`<section class="card" aria-labelledby="title">
<h1 id="title">Log in</h1>
<p class="lead">Welcome to Demo Bank. Choose how you want to log in.</p>
${alerts}
<form method="get" action="/auth/itsme">
<button type="submit" class="btn btn-itsme"><span class="itsme-mark" aria-hidden="true">itsme</span>Log in with itsme</button>
<label class="lang">Language of the itsme screen
<select name="language">${languageOptions(options.language)}</select></label>
</form>
${
  password
    ? html`<div class="divider">or with your password</div>
<form method="post" action="/login">
<label class="field">Username<input name="username" autocomplete="username" autocapitalize="none" required${password.username ? html` value="${password.username}"` : ''}></label>
<label class="field">Password<input name="password" type="password" autocomplete="current-password" required${password.username ? html` autofocus` : ''}></label>
<button type="submit" class="btn btn-secondary">Log in</button>
</form>
<p class="hint">${password.demoHint}</p>`
    : ''
}
</section>`;
  return layout(ctx, 'Log in', body);
}

/** The profile page: who is logged in, as a person would want to read it. */
export function profilePage(ctx: PageContext, user: AppUser): string {
  const identity = user.itsme;
  const initials = initialsOf(user.displayName);
  const rows: [string, SafeHtml | string][] = identity
    ? identityRows(identity)
    : [
        ['Username', user.username ?? ''],
        ['Login method', 'Username and password'],
      ];
  const body = html`<section class="card wide" aria-labelledby="title">
<div class="person">
<div class="avatar${identity ? '' : ' local'}" aria-hidden="true">${initials}</div>
<div>
<h1 id="title">${user.displayName}</h1>
${
  identity
    ? html`<span class="verified">Identity verified with itsme on ${formatDateTime(identity.verifiedAt)}</span>`
    : html`<span class="muted">Logged in with a password: identity not verified</span>`
}
</div>
</div>
<dl class="facts">
${rows.map(([label, value]) => html`<div><dt>${label}</dt><dd>${value}</dd></div>`)}
</dl>
<p><a href="/webhooks">Your results received by the ZignSec webhook</a></p>
<form method="post" action="/logout"><button type="submit" class="btn btn-secondary">Log out</button></form>
</section>`;
  return layout(ctx, user.displayName, body);
}

/** One result delivered by ZignSec's webhook, as the example app keeps it (in memory, last 20). */
export interface ReceivedWebhook {
  at: string;
  sessionId: string;
  /** `Finished`, or ZignSec's error codes (`USER_CANCEL`, ...). */
  outcome: string;
  /** The person's name from the result read back from ZignSec; `null` for a cancel or no subject. */
  name: string | null;
}

/**
 * The results ZignSec's webhook delivered for the person logged in, newest first. `itsme` is `false` for
 * a password login, which has no itsme results.
 */
export function webhooksPage(ctx: PageContext, received: readonly ReceivedWebhook[], itsme: boolean): string {
  const rows = received.map(
    (r) =>
      html`<tr><td data-label="Received">${formatDateTime(r.at)}</td><td data-label="Session"><code>${r.sessionId}</code></td><td data-label="Outcome">${r.outcome}</td><td data-label="Person">${r.name ?? '-'}</td></tr>`,
  );
  const body = html`<section class="card wide" aria-labelledby="title">
<h1 id="title">Your webhook results</h1>
<p class="lead">What ZignSec posted to <code>/webhooks/zignsec</code> about your own itsme logins, each result read back from ZignSec by its session id before it is shown. Newest first; other people's results are never shown here.</p>
${
  !itsme
    ? html`<p class="muted">You logged in with a password: there are no itsme results for you. Log in with itsme to see yours.</p>`
    : received.length === 0
      ? html`<p class="muted">Nothing received for you yet. It can take a moment after a login.</p>`
      : html`<table class="results"><caption class="visually-hidden">Webhook results, newest first</caption><thead><tr><th scope="col">Received</th><th scope="col">Session</th><th scope="col">Outcome</th><th scope="col">Person</th></tr></thead><tbody>${rows}</tbody></table>`
}
<a class="btn btn-secondary" href="/profile">Back</a>
</section>`;
  return layout(ctx, 'Webhook results', body);
}

/** A short page for errors that are not about logging in. */
export function errorPage(ctx: PageContext, title: string, message: string): string {
  return layout(
    ctx,
    title,
    html`<section class="card"><h1>${title}</h1><p class="lead">${message}</p><a class="btn btn-secondary" href="/">Back to the start</a></section>`,
  );
}

function identityRows(id: VerifiedIdentity): [string, SafeHtml | string][] {
  const rows: [string, SafeHtml | string][] = [];
  if (id.givenName) rows.push(['First name', id.givenName]);
  if (id.familyName) rows.push(['Last name', id.familyName]);
  if (id.birthday) {
    const age = ageOf(id.birthday);
    rows.push(['Date of birth', `${formatDate(id.birthday)}${age === undefined ? '' : ` (age ${age})`}`]);
  }
  if (id.placeOfBirth) rows.push(['Place of birth', id.placeOfBirth]);
  if (id.gender) rows.push(['Gender', id.gender === 'male' ? 'Male' : id.gender === 'female' ? 'Female' : id.gender]);
  if (id.nationality) rows.push(['Nationality', nationalityOf(id.nationality)]);
  if (id.email) rows.push(['E-mail', withBadge(id.email.value, id.email.verified)]);
  if (id.phone) rows.push(['Phone', withBadge(id.phone.value, id.phone.verified)]);
  if (id.address) {
    const a = id.address;
    const lines = [
      a.streetAddress,
      [a.postalCode, a.locality].filter(Boolean).join(' '),
      a.country && regionName(a.country),
    ]
      .filter((line): line is string => !!line)
      .map((line, i) => (i === 0 ? html`${line}` : html`<br>${line}`));
    rows.push(['Address', lines.length > 0 ? html`${lines}` : (a.formatted ?? '')]);
  }
  if (id.locale) rows.push(['itsme language', LANGUAGE_NAMES[id.locale as ItsMeLanguage] ?? id.locale]);
  rows.push(['itsme ID', html`<code>${id.sub}</code>`]);
  return rows;
}

function withBadge(value: string, verified: boolean): SafeHtml {
  return html`${value}<span class="badge ${verified ? 'ok' : 'warn'}">${verified ? 'verified' : 'not verified'}</span>`;
}

function initialsOf(name: string): string {
  const parts = name.split(/\s+/).filter((p) => /^\p{Lu}/u.test(p));
  const letters = (parts.length > 0 ? parts : name.split(/\s+/)).map((p) => p[0] ?? '');
  return (letters.length > 1 ? `${letters[0]}${letters.at(-1)}` : (letters[0] ?? '?')).toUpperCase();
}

function formatDate(iso: string): string {
  const date = new Date(`${iso}T00:00:00Z`);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }).format(
    date,
  );
}

function formatDateTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat('en-GB', {
    day: 'numeric',
    month: 'long',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
  }).format(date);
}

function ageOf(iso: string): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso);
  if (!match) return undefined;
  const now = new Date();
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const before = now.getUTCMonth() + 1 < m || (now.getUTCMonth() + 1 === m && now.getUTCDate() < d);
  return now.getUTCFullYear() - y - (before ? 1 : 0);
}

const NATIONALITIES: Record<string, string> = {
  BE: 'Belgian',
  NL: 'Dutch',
  FR: 'French',
  DE: 'German',
  LU: 'Luxembourgish',
  IT: 'Italian',
  ES: 'Spanish',
  PT: 'Portuguese',
  PL: 'Polish',
  RO: 'Romanian',
  MA: 'Moroccan',
  TR: 'Turkish',
  GB: 'British',
  US: 'American',
};

/** "Belgian" for `BE`: a nationality reads as an adjective; other codes fall back to "of <country>". */
function nationalityOf(code: string): string {
  const known = NATIONALITIES[code.toUpperCase()];
  if (known) return known;
  const country = regionName(code);
  return country === code ? code : `Citizen of ${country}`;
}

function regionName(code: string): string {
  try {
    return new Intl.DisplayNames(['en'], { type: 'region' }).of(code.toUpperCase()) ?? code;
  } catch {
    return code;
  }
}
