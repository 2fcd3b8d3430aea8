/** The example app's one stylesheet, served at `/assets/app.css`. */
export const STYLESHEET = `
:root{--ink:#14213d;--muted:#5b6475;--line:#e3e6ec;--bg:#f4f5f8;--card:#fff;--itsme:#c9380c;--itsme-dark:#a52d08;--focus:#1747c2;--accent:#14213d;--ok:#137a3f;--warn:#8a5a00}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg);min-height:100vh;display:flex;flex-direction:column}
a{color:var(--accent)}
header.top{background:var(--card);border-bottom:1px solid var(--line)}
header.top .inner{max-width:960px;margin:0 auto;padding:14px 20px;display:flex;align-items:center;justify-content:space-between;gap:12px}
.brand{display:flex;align-items:center;gap:10px;font-weight:700;font-size:18px;color:var(--ink);text-decoration:none}
.brand-mark{width:34px;height:34px;border-radius:9px;background:var(--ink);color:#fff;display:grid;place-items:center;font-size:14px;letter-spacing:.5px}
.top-note{color:var(--muted);font-size:14px}
.sim-banner{background:#fff3ed;border-bottom:1px solid #ffd2c2;color:#7a2a10;font-size:14px}
.sim-banner .inner{max-width:960px;margin:0 auto;padding:8px 20px}
main{flex:1;width:100%;max-width:960px;margin:0 auto;padding:40px 20px}
.card{background:var(--card);border:1px solid var(--line);border-radius:16px;box-shadow:0 6px 24px rgba(20,33,61,.06);padding:32px;max-width:440px;margin:0 auto}
.card.wide{max-width:640px}
.results{width:100%;border-collapse:collapse;margin:0 0 24px;font-size:14px;table-layout:fixed}
.results th,.results td{text-align:left;padding:8px 10px;border-bottom:1px solid var(--line);vertical-align:top}
.results th{color:var(--muted);font-weight:600}
.results code{word-break:break-all}
.results td{overflow-wrap:anywhere}
.visually-hidden{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
a:focus-visible,.btn:focus-visible{outline:3px solid var(--focus);outline-offset:3px}
h1{font-size:26px;line-height:1.25;margin:0 0 6px}
.lead{color:var(--muted);margin:0 0 24px}
.alert{border-radius:10px;padding:12px 14px;margin:0 0 20px;font-size:15px}
.alert.error{background:#fdecec;border:1px solid #f5c2c2;color:#8b1c1c}
.alert.info{background:#eaf6ef;border:1px solid #bfe3cd;color:#145c32}
.btn{display:flex;width:100%;align-items:center;justify-content:center;gap:10px;font:inherit;font-weight:600;font-size:16px;border-radius:999px;padding:13px 18px;cursor:pointer;text-decoration:none;border:2px solid transparent;min-height:50px}
.btn-itsme{background:var(--itsme);color:#fff}
.btn-itsme:hover,.btn-itsme:focus-visible{background:var(--itsme-dark)}
.btn-secondary{background:#fff;color:var(--ink);border-color:var(--ink)}
.btn-secondary:hover,.btn-secondary:focus-visible{background:var(--ink);color:#fff}
.itsme-mark{display:inline-grid;place-items:center;height:28px;padding:0 7px;border-radius:8px;background:#fff;color:var(--itsme);font-size:13px;font-weight:800;letter-spacing:-.3px}
.lang{display:flex;align-items:center;justify-content:space-between;gap:12px;margin-top:12px;color:var(--muted);font-size:14px}
select,input{font:inherit;color:var(--ink);border:1px solid #c9ced8;border-radius:10px;padding:10px 12px;background:#fff}
select{padding:6px 10px}
input{width:100%}
input:focus-visible,select:focus-visible{outline:3px solid var(--focus);outline-offset:1px;border-color:var(--focus)}
label.field{display:block;font-weight:600;font-size:14px;margin-bottom:14px}
label.field input{margin-top:6px;font-weight:400}
.divider{display:flex;align-items:center;gap:12px;color:var(--muted);font-size:14px;margin:28px 0 20px}
.divider::before,.divider::after{content:"";flex:1;height:1px;background:var(--line)}
.hint{color:var(--muted);font-size:14px;margin:16px 0 0;text-align:center}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em;background:#f0f2f6;border-radius:5px;padding:1px 5px}
.person{display:flex;align-items:center;gap:16px;margin-bottom:24px}
.avatar{flex:none;width:64px;height:64px;border-radius:50%;background:var(--itsme);color:#fff;display:grid;place-items:center;font-size:24px;font-weight:700}
.avatar.local{background:var(--ink)}
.verified{display:inline-flex;align-items:flex-start;gap:6px;color:var(--ok);font-size:14px;font-weight:600}
.verified::before{content:"";flex:none;width:8px;height:8px;margin-top:.5em;border-radius:50%;background:currentColor}
dl.facts{margin:0 0 28px;border-top:1px solid var(--line)}
dl.facts div{display:grid;grid-template-columns:minmax(120px,34%) 1fr;gap:12px;padding:12px 0;border-bottom:1px solid var(--line)}
dt{color:var(--muted);font-size:14px}
dd{margin:0;overflow-wrap:anywhere}
.badge{display:inline-block;font-size:12px;font-weight:600;border-radius:999px;padding:1px 8px;margin-left:6px;vertical-align:1px}
.badge.ok{background:#e4f4ea;color:var(--ok)}
.badge.warn{background:#fff4dc;color:var(--warn)}
.muted{color:var(--muted)}
[hidden]{display:none!important}
.app-label{margin:0 0 6px;font-size:13px;font-weight:700;letter-spacing:.4px;text-transform:uppercase;color:var(--itsme-dark)}
.app-label .muted{text-transform:none;letter-spacing:0;font-weight:400}
.spaced{margin-top:12px}
.person h2{font-size:22px;margin:0 0 4px}
.token{display:block;word-break:break-all;font-size:13px}
.token-label{font-size:14px;color:var(--muted);margin:0 0 6px}
footer{color:var(--muted);font-size:13px;text-align:center;padding:24px 20px}
@media (max-width:520px){
  main{padding:20px 12px}
  .card{padding:22px 18px;border-radius:14px}
  h1{font-size:22px}
  dl.facts div{grid-template-columns:1fr;gap:2px}
  .top-note{display:none}
  .results thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
  .results,.results tbody,.results tr,.results td{display:block;width:100%}
  .results tr{border:1px solid var(--line);border-radius:10px;padding:6px 10px;margin-bottom:10px}
  .results td{border:0;padding:3px 0;display:grid;grid-template-columns:90px 1fr;gap:8px}
  .results td::before{content:attr(data-label);color:var(--muted);font-weight:600}
}
`;
