import diagnostics_channel from 'node:diagnostics_channel';
import type {
  LoginFailureMessage,
  LoginStartMessage,
  LoginSuccessMessage,
  WebhookMessage,
  ZignSecCallContext,
} from '../lib/diagnostics.js';

/**
 * Prints one line per passport-itsme event: logins started, succeeded and failed, webhooks, and every
 * call to ZignSec. The channels are subscribed to by name (they are public API), and only ids, codes,
 * statuses and durations are printed, never a name or any other personal data.
 *
 * @returns a function that unsubscribes.
 */
export function logItsMeEvents(write: (line: string) => void): () => void {
  const line = (event: string, fields: Record<string, unknown>): void => {
    const parts = Object.entries(fields)
      .filter(([, value]) => value !== undefined && value !== null && value !== '')
      .map(([key, value]) => `${key}=${typeof value === 'number' ? Math.round(value) : sanitize(value)}`);
    write(`[itsme] ${event}${parts.length > 0 ? ` ${parts.join(' ')}` : ''}`);
  };
  const listeners: [string, (message: unknown) => void][] = [
    [
      'passport-itsme:login:start',
      (m) => {
        const { strategy, sessionId } = m as LoginStartMessage;
        line('login:start', { strategy, session: sessionId });
      },
    ],
    [
      'passport-itsme:login:success',
      (m) => {
        const { strategy, sessionId, duration } = m as LoginSuccessMessage;
        line('login:success', { strategy, session: sessionId, ms: duration });
      },
    ],
    [
      'passport-itsme:login:failure',
      (m) => {
        const { strategy, sessionId, code, status, duration } = m as LoginFailureMessage;
        line('login:failure', { strategy, session: sessionId, code, status, ms: duration });
      },
    ],
    [
      'passport-itsme:webhook',
      (m) => {
        const { sessionId, outcome, status } = m as WebhookMessage;
        line('webhook', { session: sessionId, outcome, status });
      },
    ],
  ];
  for (const [name, listener] of listeners) diagnostics_channel.subscribe(name, listener);
  const zignsec = diagnostics_channel.tracingChannel<unknown, ZignSecCallContext>('passport-itsme:zignsec');
  const ignore = (): void => {};
  const calls = {
    start: ignore,
    end: ignore,
    asyncStart: ignore,
    error: ignore,
    // One line per call: asyncEnd comes after a success and after a failure (with `error` set).
    asyncEnd: (context: ZignSecCallContext) => {
      const error = context.error as { code?: unknown } | undefined;
      line('zignsec', {
        method: context.method,
        path: context.path,
        session: context.sessionId,
        status: context.status,
        error: error ? (typeof error.code === 'string' ? error.code : 'error') : undefined,
        ms: context.duration,
      });
    },
  };
  zignsec.subscribe(calls);
  return () => {
    for (const [name, listener] of listeners) diagnostics_channel.unsubscribe(name, listener);
    zignsec.unsubscribe(calls);
  };
}

/** Ids and codes only: anything else (spaces, quotes, control characters) is dropped, and long values cut. */
function sanitize(value: unknown): string {
  return String(value)
    .replace(/[^\w.:/{}-]/g, '')
    .slice(0, 80);
}
