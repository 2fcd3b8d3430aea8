import { html } from '../lib/simulator/html.js';
import { languageOptions, layout, type PageContext } from './views.js';

/**
 * `/app`: a native banking app, played in the browser. It does what the iOS or Android app would do
 * with the JSON API: start a login, open the itsme screen (here a new tab; on a phone the itsme app),
 * poll until it is answered, keep the app token and show the person. The script is /assets/app.js.
 */
export function appPage(ctx: PageContext): string {
  const body = html`<section class="card phone" aria-labelledby="title">
<p class="app-label">Demo Bank app <span class="muted">(a native app, played in the browser)</span></p>
<h1 id="title">Log in to the app</h1>
<p id="status" class="alert" role="status" aria-live="polite" hidden></p>
<div id="view-start">
<p class="lead">The app asks its server to start an itsme login, then opens itsme. You confirm there and come back.</p>
<button type="button" id="start" class="btn btn-itsme"><span class="itsme-mark" aria-hidden="true">itsme</span>Log in with itsme</button>
<label class="lang">Language of the itsme screen
<select id="language">${languageOptions()}</select></label>
</div>
<div id="view-waiting" hidden>
<p class="lead">Confirm in itsme. On a phone the itsme app opens; here it opens in a new tab. This screen waits for the answer.</p>
<a id="open" class="btn btn-itsme" href="/app" target="_blank" rel="noopener"><span class="itsme-mark" aria-hidden="true">itsme</span>Open itsme</a>
<button type="button" id="abandon" class="btn btn-secondary spaced">Stop waiting</button>
</div>
<div id="view-done" hidden>
<div class="person"><div class="avatar" aria-hidden="true" id="initials"></div><div><h2 id="name"></h2><span class="verified">Identity verified with itsme</span></div></div>
<dl class="facts" id="facts"></dl>
<p class="token-label">App token (the app keeps it and sends it as <code>Authorization: Bearer</code>):</p>
<p><code id="token" class="token"></code></p>
<button type="button" id="logout" class="btn btn-secondary">Log out of the app</button>
</div>
</section>
<p class="hint"><a href="/">Back to the website</a></p>`;
  return layout(ctx, 'App', body, '/assets/app.js');
}

/**
 * `/app/return`: where itsme sends the person after the app-to-app login. A real app registers this
 * address as its universal link (iOS) or verified app link (Android), so the system opens the app; when
 * it shows this page instead, the button opens the app (automatic redirect chains often fail to).
 */
export function returnPage(ctx: PageContext): string {
  const body = html`<section class="card" aria-labelledby="title">
<h1 id="title">Done in itsme</h1>
<p class="lead">Go back to the Demo Bank app to continue. If it did not open by itself, use the button.</p>
<a class="btn btn-itsme" href="/app">Open the Demo Bank app</a>
<p class="hint">On a phone this address opens the app directly (universal link); this page is the fallback.</p>
</section>`;
  return layout(ctx, 'Back to the app', body);
}

/** The script of `/app`, served at `/assets/app.js` (plain browser JavaScript). */
export const APP_SCRIPT = String.raw`'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  // localStorage plays the app's secure storage: the device key made once, the login in progress, the token.
  const STORAGE = 'demo-bank-app';
  const load = () => { try { return JSON.parse(localStorage.getItem(STORAGE) || '{}'); } catch { return {}; } };
  const save = (state) => localStorage.setItem(STORAGE, JSON.stringify(state));
  const update = (changes) => { const state = Object.assign(load(), changes); for (const k of Object.keys(changes)) if (changes[k] === undefined) delete state[k]; save(state); return state; };
  function deviceKey() {
    const state = load();
    if (state.deviceKey) return state.deviceKey;
    const bytes = crypto.getRandomValues(new Uint8Array(24));
    const key = btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    update({ deviceKey: key });
    return key;
  }
  async function call(method, path, body, token) {
    const headers = { accept: 'application/json', 'x-device-key': deviceKey() };
    if (body) headers['content-type'] = 'application/json';
    if (token) headers.authorization = 'Bearer ' + token;
    const res = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined, credentials: 'omit' });
    let json = {};
    if (res.status !== 204) { try { json = await res.json(); } catch { json = {}; } }
    return { status: res.status, json };
  }
  function view(name) { for (const v of ['start', 'waiting', 'done']) $('view-' + v).hidden = v !== name; }
  function say(text, kind) { const el = $('status'); el.textContent = text || ''; el.className = 'alert ' + (kind || 'info'); el.hidden = !text; }
  const LABELS = [['birthday', 'Date of birth'], ['placeOfBirth', 'Place of birth']];
  const longDate = (iso) => { const d = new Date(iso + 'T00:00:00Z'); return Number.isNaN(d.getTime()) ? iso : d.toLocaleDateString('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' }); };
  function showPerson(person, token) {
    $('name').textContent = person.displayName;
    $('initials').textContent = person.displayName.split(/\s+/).filter(Boolean).map((p) => p[0]).slice(0, 2).join('').toUpperCase();
    const facts = $('facts');
    facts.replaceChildren();
    const rows = LABELS.filter(([k]) => person[k]).map(([k, label]) => [label, k === 'birthday' ? longDate(person[k]) : String(person[k])]);
    if (person.email) rows.push(['E-mail', person.email.value]);
    if (person.address && person.address.locality) rows.push(['City', person.address.locality]);
    for (const [label, value] of rows) {
      const div = document.createElement('div');
      const dt = document.createElement('dt'); dt.textContent = label;
      const dd = document.createElement('dd'); dd.textContent = value;
      div.append(dt, dd); facts.append(div);
    }
    $('token').textContent = token;
    view('done');
  }
  let polling = 0;
  async function poll(id, round) {
    if (round !== polling) return;
    let answer;
    try { answer = await call('GET', '/api/app/logins/' + encodeURIComponent(id)); }
    catch { say('No connection to the bank. Trying again…', 'error'); setTimeout(() => poll(id, round), 2000); return; }
    if (round !== polling) return;
    const { status, json } = answer;
    if (status === 200 && json.status === 'pending') { setTimeout(() => poll(id, round), 1000); return; }
    if (status === 200 && json.status === 'approved') {
      update({ login: undefined, token: json.token, person: json.person });
      say('You are logged in.', 'info');
      showPerson(json.person, json.token);
      return;
    }
    if (status === 502) { say(json.message, 'error'); setTimeout(() => poll(id, round), 2000); return; }
    const state = update({ login: undefined });
    if (state.token && state.person) { say(''); showPerson(state.person, state.token); return; }
    say(json.message || 'The login did not succeed. Please start again.', 'error');
    view('start');
  }
  function wait(login) {
    $('open').href = login.redirectUrl;
    view('waiting');
    poll(login.id, ++polling);
  }
  $('start').addEventListener('click', async () => {
    $('start').disabled = true;
    say('');
    try {
      const { status, json } = await call('POST', '/api/app/logins', { language: $('language').value });
      if (status !== 201) { say(json.message || 'itsme is not available right now.', 'error'); return; }
      update({ login: { id: json.id, redirectUrl: json.redirectUrl } });
      wait(json);
      $('open').focus();
    } catch { say('No connection to the bank. Please try again.', 'error'); }
    finally { $('start').disabled = false; }
  });
  $('abandon').addEventListener('click', () => { polling++; update({ login: undefined }); say(''); view('start'); });
  $('logout').addEventListener('click', async () => {
    const { token } = load();
    update({ token: undefined, person: undefined });
    polling++;
    if (token) await call('POST', '/api/app/logout', undefined, token).catch(() => {});
    say('You are logged out of the app.', 'info');
    view('start');
  });
  window.addEventListener('storage', (event) => {
    if (event.key !== STORAGE) return;
    const state = load();
    if (state.token && state.person) { polling++; say(''); showPerson(state.person, state.token); }
  });
  async function resume() {
    const state = load();
    if (state.token) {
      const { status, json } = await call('GET', '/api/app/me', undefined, state.token).catch(() => ({ status: 0, json: {} }));
      if (status === 200) { showPerson(json.person, state.token); return; }
      update({ token: undefined, person: undefined });
    }
    if (state.login) { wait(state.login); return; }
    view('start');
  }
  resume();
})();
`;
