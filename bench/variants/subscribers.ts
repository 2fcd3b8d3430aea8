import diagnostics_channel from 'node:diagnostics_channel';

/**
 * The channels of `lib/diagnostics.ts`, by name (public API), so the `subs` variant listens to
 * whatever the build under test publishes, before and after each channel gains its publisher.
 */
const CHANNELS = [
  'passport-itsme:login:start',
  'passport-itsme:login:success',
  'passport-itsme:login:failure',
  'passport-itsme:webhook',
] as const;
const TRACING_CHANNEL = 'passport-itsme:zignsec';

/**
 * Subscribes to every channel as a metrics exporter would: a counter per channel and the durations
 * summed, reading the payload's fields. Returns how many messages arrived so far.
 */
export function subscribeAll(): () => number {
  let events = 0;
  const counters = new Map<string, number>();
  let durations = 0;
  const record = (name: string, message: unknown) => {
    events++;
    counters.set(name, (counters.get(name) ?? 0) + 1);
    const duration = (message as { duration?: unknown } | undefined)?.duration;
    if (typeof duration === 'number') durations += duration;
  };
  for (const name of CHANNELS) diagnostics_channel.subscribe(name, (message) => record(name, message));
  diagnostics_channel.tracingChannel(TRACING_CHANNEL).subscribe({
    start: (context) => record('zignsec:start', context),
    end: (context) => record('zignsec:end', context),
    asyncStart: (context) => record('zignsec:asyncStart', context),
    asyncEnd: (context) => record('zignsec:asyncEnd', context),
    error: (context) => record('zignsec:error', context),
  });
  return () => (durations < 0 ? -1 : events);
}
