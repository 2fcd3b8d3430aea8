import { type ZignSecCallContext, zignsecChannel } from './diagnostics.js';

/** `true` when someone listens on the `passport-itsme:zignsec` tracing channel. */
export function tracing(): boolean {
  return (zignsecChannel as unknown as { hasSubscribers: boolean }).hasSubscribers;
}

/**
 * Runs one ZignSec call inside the tracing channel: `start`, `end`, then `asyncStart`/`asyncEnd`
 * (after `error` on failure), with `duration` set before them. The resolved value is not put in the
 * context: it holds the person's data.
 */
export function traced<T>(context: ZignSecCallContext, run: () => Promise<T>): Promise<T> {
  const began = performance.now();
  const finish = (): void => {
    context.duration = performance.now() - began;
  };
  return zignsecChannel.start.runStores(context, () => {
    let promise: Promise<T>;
    try {
      promise = run();
    } catch (err) {
      finish();
      context.error = err;
      zignsecChannel.error.publish(context);
      throw err;
    } finally {
      zignsecChannel.end.publish(context);
    }
    return promise.then(
      (value) => {
        finish();
        zignsecChannel.asyncStart.publish(context);
        zignsecChannel.asyncEnd.publish(context);
        return value;
      },
      (err: unknown) => {
        finish();
        context.error = err;
        zignsecChannel.error.publish(context);
        zignsecChannel.asyncStart.publish(context);
        zignsecChannel.asyncEnd.publish(context);
        throw err;
      },
    );
  });
}
