import type { ItsMeLanguage } from '../types.js';
import { html, SafeHtml } from './html.js';
import { personaName, type SimulatorPersona } from './personas.js';

/** The texts of the stand-in itsme screen. @internal */
export interface PageLabels {
  title: string;
  asks: string;
  choose: string;
  shared: string;
  sharedList: string;
  approve: string;
  cancel: string;
  /** Heading of the simulator-only outcomes. */
  other: string;
  expire: string;
  fail: string;
  notice: string;
  expired: string;
  finished: string;
  back: string;
  close: string;
  born: string;
  noEmail: string;
  noGivenName: string;
  aWebsite: string;
}

/** The stand-in itsme screen's texts in the four itsme languages. @internal */
export const LABELS: Record<ItsMeLanguage, PageLabels> = {
  en: {
    title: 'Confirm with itsme',
    asks: '{rp} asks you to share your identity.',
    choose: 'Choose a test person',
    shared: 'Data to be shared:',
    sharedList: 'Name, date of birth, gender, address, e-mail address, phone number',
    approve: 'Confirm',
    cancel: 'Cancel',
    other: 'Or simulate another outcome:',
    expire: 'Let it expire',
    fail: 'ZignSec error',
    notice: 'Simulator: no real identity is checked. Choose a test person to continue.',
    expired: 'This itsme request has expired.',
    finished: 'This itsme request has already been answered.',
    back: 'Back to the website',
    close: 'You can close this window.',
    born: 'born in',
    noEmail: 'no e-mail address',
    noGivenName: 'no first name',
    aWebsite: 'A website',
  },
  fr: {
    title: 'Confirmer avec itsme',
    asks: '{rp} vous demande de partager votre identité.',
    choose: 'Choisissez une personne de test',
    shared: 'Données partagées\u202f:',
    sharedList: 'Nom, date de naissance, genre, adresse, adresse e-mail, numéro de téléphone',
    approve: 'Confirmer',
    cancel: 'Annuler',
    other: 'Ou simulez une autre issue\u202f:',
    expire: 'Laisser expirer',
    fail: 'Erreur ZignSec',
    notice: "Simulateur\u202f: aucune identité réelle n'est vérifiée. Choisissez une personne de test pour continuer.",
    expired: 'Cette demande itsme a expiré.',
    finished: 'Cette demande itsme a déjà reçu une réponse.',
    back: 'Retour au site',
    close: 'Vous pouvez fermer cette fenêtre.',
    born: 'né(e) en',
    noEmail: "pas d'adresse e-mail",
    noGivenName: 'pas de prénom',
    aWebsite: 'Un site web',
  },
  nl: {
    title: 'Bevestigen met itsme',
    asks: '{rp} vraagt je om je identiteit te delen.',
    choose: 'Kies een testpersoon',
    shared: 'Gedeelde gegevens:',
    sharedList: 'Naam, geboortedatum, geslacht, adres, e-mailadres, telefoonnummer',
    approve: 'Bevestigen',
    cancel: 'Annuleren',
    other: 'Of simuleer een andere uitkomst:',
    expire: 'Laten verlopen',
    fail: 'ZignSec-fout',
    notice: 'Simulator: er wordt geen echte identiteit gecontroleerd. Kies een testpersoon om verder te gaan.',
    expired: 'Deze itsme-aanvraag is verlopen.',
    finished: 'Deze itsme-aanvraag werd al beantwoord.',
    back: 'Terug naar de website',
    close: 'Je mag dit venster sluiten.',
    born: 'geboren in',
    noEmail: 'geen e-mailadres',
    noGivenName: 'geen voornaam',
    aWebsite: 'Een website',
  },
  de: {
    title: 'Mit itsme bestätigen',
    asks: '{rp} bittet Sie, Ihre Identität zu teilen.',
    choose: 'Wählen Sie eine Testperson',
    shared: 'Geteilte Daten:',
    sharedList: 'Name, Geburtsdatum, Geschlecht, Adresse, E-Mail-Adresse, Telefonnummer',
    approve: 'Bestätigen',
    cancel: 'Abbrechen',
    other: 'Oder simulieren Sie ein anderes Ergebnis:',
    expire: 'Ablaufen lassen',
    fail: 'ZignSec-Fehler',
    notice: 'Simulator: Es wird keine echte Identität geprüft. Wählen Sie eine Testperson, um fortzufahren.',
    expired: 'Diese itsme-Anfrage ist abgelaufen.',
    finished: 'Diese itsme-Anfrage wurde bereits beantwortet.',
    back: 'Zurück zur Website',
    close: 'Sie können dieses Fenster schließen.',
    born: 'geboren',
    noEmail: 'keine E-Mail-Adresse',
    noGivenName: 'kein Vorname',
    aWebsite: 'Eine Website',
  },
};

const STYLE = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f4f4;color:#1d1d1b}
main{max-width:440px;margin:0 auto;padding:24px 16px}
.card{background:#fff;border-radius:16px;box-shadow:0 2px 12px rgba(0,0,0,.08);padding:24px}
.brand{display:flex;align-items:center;gap:10px;margin-bottom:16px;font-weight:700;font-size:20px}
.logo{height:40px;padding:0 8px;border-radius:10px;background:#c9380c;color:#fff;display:grid;place-items:center;font-size:15px;letter-spacing:-.3px}
h1{font-size:22px;margin:0 0 8px}
.notice{background:#fff4ef;border:1px solid #ffc7b3;border-radius:10px;padding:10px 12px;font-size:14px;margin:16px 0}
fieldset{border:0;padding:0;margin:16px 0}
legend{font-weight:600;margin-bottom:8px}
label.persona{display:flex;gap:12px;align-items:flex-start;border:1px solid #ccc;border-radius:12px;padding:10px 12px;margin-bottom:8px;cursor:pointer}
label.persona:has(input:checked){border-color:#c9380c;background:#fff8f5}
input[type=radio]{accent-color:#c9380c;margin-top:5px;flex:none}
.who{font-weight:600}.meta{color:#595959;font-size:14px}.tag{display:inline-block;background:#eee;border-radius:6px;padding:0 6px;font-size:12px;margin-left:4px}
.shared{font-size:14px;color:#4a4a4a}
.actions{display:flex;gap:12px;margin-top:20px}
form .actions{position:sticky;bottom:0;background:#fff;padding:12px 0;margin-bottom:-12px;z-index:1}
html{scroll-padding-bottom:96px}
button,.button{flex:1;font:inherit;font-weight:600;border-radius:24px;padding:12px 16px;border:2px solid #c9380c;cursor:pointer;text-align:center;text-decoration:none;min-height:48px}
.approve{background:#c9380c;color:#fff}.cancel{background:#fff;color:#a52d08}
.approve:hover{background:#a52d08}
.other{margin-top:24px;padding-top:12px;border-top:1px solid #ddd;font-size:14px;color:#4a4a4a}
.other .actions{margin-top:8px}
.other button{font-size:14px;padding:8px 12px;min-height:40px;border-color:#4a4a4a;background:#fff;color:#1d1d1b}
:focus-visible{outline:3px solid #1747c2;outline-offset:2px}
input[type=radio]:focus-visible{outline-offset:1px}
a{color:#1747c2}
@media (max-width:420px){main{padding:12px 8px}.card{padding:16px}.brand{margin-bottom:10px}h1{font-size:20px}.notice{margin:10px 0}fieldset{margin:10px 0}}
`;

function layout(lang: string, title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex">
<title>${title}</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<style>${new SafeHtml(STYLE)}</style>
</head>
<body><main><div class="card">
<div class="brand"><span class="logo" aria-hidden="true">itsme</span><span>ZignSec simulator</span></div>
${body}
</div></main></body>
</html>`.value;
}

/** The itsme screen: pick a test person, confirm or cancel. @internal */
export function authorizePage(options: {
  lang: ItsMeLanguage;
  action: string;
  token: string;
  target: string | undefined;
  personas: readonly SimulatorPersona[];
}): string {
  const t = LABELS[options.lang];
  const rp = hostOf(options.target) ?? t.aWebsite;
  const [before, after] = t.asks.split('{rp}');
  const people = options.personas.map((p, i) => {
    const tags = [!p.givenName && t.noGivenName, !p.email && t.noEmail].filter(Boolean);
    const year = p.birthdate?.slice(0, 4);
    return html`<label class="persona"><input type="radio" name="persona" value="${p.id}"${i === 0 ? html` checked` : ''}>
<span><span class="who">${personaName(p)}</span>${tags.map((tag) => html`<span class="tag">${tag}</span>`)}<br>
<span class="meta">${[year && `${t.born} ${year}`, p.address.locality].filter(Boolean).join(' · ')}</span></span></label>`;
  });
  const body = html`<h1>${t.title}</h1>
<p>${before}<strong>${rp}</strong>${after}</p>
<p class="notice" role="note">${t.notice}</p>
<form method="post" action="${options.action}">
<input type="hidden" name="token" value="${options.token}">
<fieldset><legend>${t.choose}</legend>
${people}
</fieldset>
<p class="shared"><strong>${t.shared}</strong> ${t.sharedList}</p>
<div class="actions">
<button type="submit" name="action" value="cancel" class="cancel">${t.cancel}</button>
<button type="submit" name="action" value="approve" class="approve">${t.approve}</button>
</div>
<div class="other" role="group" aria-labelledby="other">
<span id="other">${t.other}</span>
<div class="actions">
<button type="submit" name="action" value="expire">${t.expire}</button>
<button type="submit" name="action" value="error">${t.fail}</button>
</div>
</div>
</form>`;
  return layout(options.lang, t.title, body);
}

/**
 * A page saying the request is over (expired or already answered), with a way back: for an expired
 * request the error return (so the site can say it expired), otherwise the site's home page.
 * @internal
 */
export function endedPage(lang: ItsMeLanguage, reason: 'expired' | 'finished', back: string | undefined): string {
  const t = LABELS[lang];
  const body = html`<h1>${t[reason]}</h1>
${back ? html`<div class="actions"><a class="button approve" href="${back}">${t.back}</a></div>` : html`<p>${t.close}</p>`}`;
  return layout(lang, t[reason], body);
}

/** What the simulator shows at `/`. @internal */
export function indexPage(personas: readonly SimulatorPersona[]): string {
  const body = html`<h1>ZignSec itsme simulator</h1>
<p>An offline stand-in for ZignSec's itsme API (v3): <code>POST /v3/eid/itsme</code> and
<code>GET /v3/eid/itsme/{id}</code>, with the <code>Authorization</code> header holding the API key.</p>
<p>Test persons: ${personas.map(personaName).join(', ')}.</p>`;
  return layout('en', 'ZignSec itsme simulator', body);
}

/** The closest of the four languages in an `Accept-Language` header; English by default. @internal */
export function pickLanguage(header: string | undefined): ItsMeLanguage {
  for (const part of (header ?? '').split(',')) {
    const code = part.trim().slice(0, 2).toLowerCase();
    if (code === 'fr' || code === 'nl' || code === 'en' || code === 'de') return code;
  }
  return 'en';
}

function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}
