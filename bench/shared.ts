/** Constants and message shapes shared by the bench's parent and its two child processes. */

export const ZIGNSEC_KEY = 'bench-zignsec-api-key-0123456789';
export const OAUTH_CLIENT = { id: 'bench-client', secret: 'bench-client-secret' };
/** The itsme `sub` of the document's sample: every variant must show it in `/me`. */
export const SUBJECT = '1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9';

/** Every app the apps child serves; `nogot` is a diagnostic, measured only with `--diagnose`. */
export const ALL_VARIANTS = ['itsme', 'oauth2', 'baseline', 'nogot'] as const;
export type Variant = (typeof ALL_VARIANTS)[number];
/** The variants a normal run measures. */
export const VARIANTS: readonly Variant[] = ['itsme', 'oauth2', 'baseline'];

export const LABELS: Record<Variant, string> = {
  itsme: 'passport-itsme',
  oauth2: 'passport-oauth2',
  baseline: 'baseline (node:http)',
  nogot: 'itsme, node:http client',
};

/** What the stubs child tells the parent when it is ready. */
export interface StubsInfo {
  /** ZignSec API stand-in (server to server). */
  zignsecUrl: string;
  /** OAuth 2.0 token + userinfo API stand-in (server to server). */
  oauthUrl: string;
  /** Where browsers are redirected (the itsme and OAuth authorize pages). */
  providerUrl: string;
}

export interface StubsSnapshot {
  cpu: NodeJS.CpuUsage;
  connections: { zignsec: number; oauth: number };
  requests: { zignsec: number; oauth: number; provider: number };
}

/** What an apps child tells the parent when it is ready. */
export interface AppInfo {
  /** `http://127.0.0.1:<port>` of its app. */
  url: string;
}

export interface AppsSnapshot {
  cpu: NodeJS.CpuUsage;
  /** Event loop utilization since the process started (use deltas). */
  elu: { idle: number; active: number; utilization: number };
  heapUsed: number;
}

export interface PendingReport {
  /** Sessions in the variant's store. */
  sessions: number;
  /** Bytes of all serialized sessions in the store. */
  sessionBytes: number;
  /** Bytes of the login-state part (`"key":{...}`) of those sessions. */
  stateBytes: number;
  /** Heap used after a full GC, with the pending sessions in the store. */
  heapWith: number;
  /** Heap used after a full GC once the store was emptied: the difference is what it held. */
  heapWithout: number;
}
