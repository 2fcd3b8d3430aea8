/// <reference types="node" preserve="true" />
/**
 * `passport-itsme`: the Passport strategy ({@link ItsMeStrategy}), the ZignSec client
 * ({@link ItsMeClient}), the webhook receiver ({@link createWebhookHandler}), the stores and the
 * diagnostics channel names. The offline simulator is `passport-itsme/simulator`.
 *
 * @packageDocumentation
 * @module passport-itsme
 */
export type { ItsMeClientOptions, WaitForResultOptions } from './client.js';
export { ItsMeClient, isFinal } from './client.js';
export type {
  LoginFailureCode,
  LoginFailureMessage,
  LoginStartMessage,
  LoginSuccessMessage,
  WebhookMessage,
  WebhookOutcome,
  ZignSecCallContext,
} from './diagnostics.js';
export { CHANNELS } from './diagnostics.js';
export type { ItsMeErrorCode, ItsMeErrorDetails, ZignSecErrorEntry } from './errors.js';
export { ItsMeError } from './errors.js';
export type {
  ItsMeFailureCode,
  ItsMeFailureInfo,
  ItsMeMessage,
  ItsMeMessageContext,
  ItsMeMessages,
} from './messages.js';
export type { ItsMeRequest, ItsMeUser, PassportStrategyBase } from './passport-base.js';
export { parseClaims, toProfile } from './profile.js';
export type { ProxyAgentOptions } from './proxy.js';
export { createProxyAgent } from './proxy.js';
export type { OneTimeKeyClient, RedisRelayStateStoreOptions } from './redis-store.js';
export { RedisRelayStateStore } from './redis-store.js';
export type { MissingLoginReason, PendingLogin, RelayStateStore, SessionRelayStateStoreOptions } from './store.js';
export { SessionRelayStateStore } from './store.js';
export { ItsMeStrategy, ItsMeStrategy as Strategy, ItsMeStrategy as default } from './strategy.js';
export type {
  ItsMeAuthenticateOptions,
  ItsMeStrategyOptions,
  ItsMeStrategyOptionsBase,
  ItsMeStrategyOptionsWithRequest,
  VerifyCallback,
  VerifyFunction,
  VerifyFunctionWithRequest,
  VerifyResult,
} from './strategy-options.js';
export type {
  ItsMeAddress,
  ItsMeAddressClaim,
  ItsMeClaims,
  ItsMeLanguage,
  ItsMeProfile,
  ItsMeResult,
  StartRequest,
  StartResponse,
  ZignSecEnvironment,
  ZignSecIdentity,
} from './types.js';
export { keepRawBody } from './webhook/body.js';
export { createWebhookHandler } from './webhook/handler.js';
export type { WebhookHandler, WebhookHandlerOptions, WebhookResultCallback } from './webhook/options.js';
export type { RedisSeenStoreOptions, SeenKeyClient, SeenSetOptions } from './webhook/redis-seen-store.js';
export { RedisSeenStore } from './webhook/redis-seen-store.js';
export type { MemorySeenStoreOptions, SeenClaim, SeenStore } from './webhook/seen-store.js';
export { MemorySeenStore } from './webhook/seen-store.js';
export type { SignatureCheck, SignatureFormat, VerifySignatureOptions } from './webhook/signature.js';
export { SIGNATURE_HEADER, signWebhook, verifyWebhookSignature } from './webhook/signature.js';
