import diagnostics_channel from 'node:diagnostics_channel';
import type { ItsMeErrorCode } from './errors.js';
import type { ItsMeFailureCode } from './messages.js';

/**
 * Names of the `node:diagnostics_channel` channels this package publishes on. They are public API:
 * subscribe with `diagnostics_channel.subscribe(name, fn)` (or `tracingChannel(name)` for `zignsec`).
 * Nothing is built or published while a channel has no subscriber.
 */
export const CHANNELS = {
  /** {@link LoginStartMessage}: a login was started. */
  loginStart: 'passport-itsme:login:start',
  /** {@link LoginSuccessMessage}: verify accepted a user. */
  loginSuccess: 'passport-itsme:login:success',
  /** {@link LoginFailureMessage}: any `fail()` or `error()` of the strategy. */
  loginFailure: 'passport-itsme:login:failure',
  /** {@link WebhookMessage}: a webhook was handled or refused. */
  webhook: 'passport-itsme:webhook',
  /** A `TracingChannel` of {@link ZignSecCallContext} around every ZignSec call. */
  zignsec: 'passport-itsme:zignsec',
} as const;

/** Published on `passport-itsme:login:start`. */
export interface LoginStartMessage {
  /** The strategy's name (`'itsme'` unless the `name` option says otherwise). */
  strategy: string;
  /** ZignSec's session id. */
  sessionId: string;
}

/** Published on `passport-itsme:login:success`. */
export interface LoginSuccessMessage {
  /** The strategy's name (`'itsme'` unless the `name` option says otherwise). */
  strategy: string;
  /** The ZignSec session id of the login. */
  sessionId: string;
  /** Milliseconds from the start of the login (the start call) to verify's answer. */
  duration: number;
}

/**
 * The `code` of a `passport-itsme:login:failure` event: an {@link ItsMeFailureCode} for a `fail()`, the
 * {@link ItsMeErrorCode} of an `error()` with an `ItsMeError`, or `ERR_UNEXPECTED` for any other error
 * (thrown by `verify`, the store, an overridden hook, or a `TypeError` for a bad per-request option).
 */
export type LoginFailureCode = ItsMeFailureCode | ItsMeErrorCode | 'ERR_UNEXPECTED';

/** Published on `passport-itsme:login:failure`. */
export interface LoginFailureMessage {
  /** The strategy's name (`'itsme'` unless the `name` option says otherwise). */
  strategy: string;
  /** ZignSec's session id, when known. */
  sessionId?: string;
  /** What went wrong, see {@link LoginFailureCode}. */
  code: LoginFailureCode;
  /** HTTP status the strategy failed with (`fail`) or 500 (`error`). */
  status: number;
  /** Milliseconds since the login started, when known, else since this request reached the strategy. */
  duration: number;
}

/**
 * What the webhook receiver did with one POST, with the status it answered:
 * - `handled` (200): `onResult` ran for a final result;
 * - `duplicate` (200): that session was handled already, `onResult` was not called again;
 * - `pending` (202): the session is not final yet;
 * - `unknown-session` (404): ZignSec does not know the id;
 * - `rate-limited` (429): too many reads of this id within a minute, ZignSec was not asked;
 * - `busy` (409): another delivery of the same session is being handled;
 * - `bad-signature` (401), `bad-body` (400), `too-large` (413), `unsupported-encoding` (415),
 *   `method-not-allowed` (405): refused before ZignSec was asked;
 * - `zignsec-error` (502): the result could not be read from ZignSec;
 * - `result-failed` (500): `onResult` threw or rejected;
 * - `store-unavailable` (503): the seen store failed;
 * - `internal-error` (500): anything else (a body already read by another middleware, say).
 */
export type WebhookOutcome =
  | 'handled'
  | 'duplicate'
  | 'pending'
  | 'unknown-session'
  | 'rate-limited'
  | 'busy'
  | 'bad-signature'
  | 'bad-body'
  | 'too-large'
  | 'unsupported-encoding'
  | 'method-not-allowed'
  | 'zignsec-error'
  | 'result-failed'
  | 'store-unavailable'
  | 'internal-error';

/** Published on `passport-itsme:webhook`. */
export interface WebhookMessage {
  /** ZignSec's session id, when the body named a valid one. */
  sessionId?: string;
  /** What the receiver did, see {@link WebhookOutcome}. */
  outcome: WebhookOutcome;
  /** HTTP status answered. */
  status: number;
}

/** The context object of the `passport-itsme:zignsec` tracing channel, one per ZignSec call. */
export interface ZignSecCallContext {
  /** `POST` for the start call, `GET` for a result read. */
  method: 'GET' | 'POST';
  /** `/v3/eid/itsme` (start) or `/v3/eid/itsme/{id}` (result): a template, never the id itself. */
  path: '/v3/eid/itsme' | '/v3/eid/itsme/{id}';
  /** ZignSec's session id for a result call. */
  sessionId?: string;
  /** HTTP status, set before `asyncEnd` when ZignSec answered. */
  status?: number;
  /** Milliseconds the call took, set before `asyncEnd`/`error`. */
  duration?: number;
  /** Set by Node on the `error` event. */
  error?: unknown;
}

/** @internal */
export const loginStartChannel = diagnostics_channel.channel(CHANNELS.loginStart);
/** @internal */
export const loginSuccessChannel = diagnostics_channel.channel(CHANNELS.loginSuccess);
/** @internal */
export const loginFailureChannel = diagnostics_channel.channel(CHANNELS.loginFailure);
/** @internal */
export const webhookChannel = diagnostics_channel.channel(CHANNELS.webhook);
/** @internal */
export const zignsecChannel = diagnostics_channel.tracingChannel<unknown, ZignSecCallContext>(CHANNELS.zignsec);
