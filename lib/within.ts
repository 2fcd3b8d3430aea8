/**
 * `value` as a promise that rejects with `timedOut()` when it has not settled within `ms`; `late`
 * gets the value it settles to after that (its errors ignored). Rejections pass through.
 * @internal
 */
export function within<T>(
  value: T | PromiseLike<T>,
  ms: number,
  timedOut: () => Error,
  late?: (settled: T) => unknown,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      reject(timedOut());
    }, ms);
    Promise.resolve(value).then(
      (settled) => {
        clearTimeout(timer);
        if (!expired) resolve(settled);
        else if (late)
          Promise.resolve()
            .then(() => late(settled))
            .catch(ignore);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

function ignore(): void {}
