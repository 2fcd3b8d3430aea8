/** Constants and message shapes shared by the bench's parent and its child processes. */

export const ZIGNSEC_KEY = 'bench-zignsec-api-key-0123456789';
export const OAUTH_CLIENT = { id: 'bench-client', secret: 'bench-client-secret' };
/** The itsme `sub` of the document's sample: every variant must show it in `/me`. */
export const SUBJECT = '1pjoxjqmuxdswhdqiarsxwsekxrwf1hfdvw9';

/**
 * Every app the bench can serve, one child process each:
 * - `itsme`: passport-itsme as a user wires it, nobody subscribed to its diagnostics channels;
 * - `subs`: the same with a subscriber on every channel;
 * - `oauth2`: passport-oauth2 with a session `state`, its token POST and a userinfo GET;
 * - `baseline`: the same two ZignSec calls and session writes by hand, no strategy;
 * - `got`: passport-itsme with its HTTP layer swapped for got 14 (tuned), only with `--got`;
 * - `before`: passport-itsme from another build (`--before DIR`), to measure a change as a pair;
 * - `floor`: the same flow as a minimal Passport strategy with none of the package's checks, only with `--floor`.
 */
export const ALL_VARIANTS = ['itsme', 'subs', 'oauth2', 'baseline', 'got', 'before', 'floor'] as const;
export type Variant = (typeof ALL_VARIANTS)[number];

export const LABELS: Record<Variant, string> = {
  itsme: 'passport-itsme',
  subs: 'itsme + subscribers',
  oauth2: 'passport-oauth2',
  baseline: 'baseline (node:http)',
  got: 'itsme on got 14',
  before: 'itsme (--before build)',
  floor: 'floor (no checks)',
};

/** What the stubs child tells the parent when it is ready. */
export interface StubsInfo {
  /** Per variant, the upstream API stand-in it calls (ZignSec and OAuth routes; server to server). */
  upstream: Partial<Record<Variant, string>>;
  /** Where browsers are redirected (the itsme and OAuth authorize pages). */
  providerUrl: string;
}

export interface StubsSnapshot {
  cpu: NodeJS.CpuUsage;
  /** Per variant: TCP connections accepted and requests answered by its upstream server so far. */
  connections: Partial<Record<Variant, number>>;
  requests: Partial<Record<Variant, number>>;
}

/** What an apps child tells the parent when it is ready. */
export interface AppInfo {
  /** `http://127.0.0.1:<port>` of its app. */
  url: string;
}

export interface AppsSnapshot {
  cpu: NodeJS.CpuUsage;
  /** Diagnostics messages the `subs` variant's subscribers received so far (0 elsewhere). */
  events: number;
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
