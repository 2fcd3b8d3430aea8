/// <reference types="node" preserve="true" />
/**
 * `passport-itsme/simulator`: an offline stand-in for ZignSec's itsme API and the itsme screen, for
 * development and for integration tests of apps that use `passport-itsme`.
 *
 * @packageDocumentation
 * @module passport-itsme/simulator
 */
export type { CallFault, QueuedFaultOptions, SimulatorEndpoint } from './faults.js';
export type { SimulatorOptions } from './options.js';
export type { PersonaAddress, SimulatorPersona } from './personas.js';
export { DEFAULT_PERSONAS } from './personas.js';
export type { SimulatorAction } from './server.js';
export { ItsMeSimulator, startSimulator } from './server.js';
export type {
  SessionBehaviour,
  SessionStatus,
  SimulatorSessionInfo,
  SimulatorStartRequest,
} from './sessions.js';
export type { WebhookAttempt, WebhookSignatureFormat } from './webhook.js';
