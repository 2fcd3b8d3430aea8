import { inspect } from 'node:util';

/** Getters that only print a deprecation warning; what they return is reachable elsewhere. */
const DEPRECATED = new Set<PropertyKey>(['_headers', '_headerNames', 'connection']);

/**
 * Where `secret` can be found from `root`: own properties (enumerable or not, symbols too), getters
 * along the prototype chain, `cause`, Map/Set entries and byte buffers, up to `maxDepth` objects deep.
 * Returns the paths where it was found; empty when it is nowhere.
 */
export function findSecret(root: unknown, secret: string, maxDepth = 8): string[] {
  const found: string[] = [];
  const seen = new Set<unknown>();
  const visit = (value: unknown, path: string, depth: number): void => {
    if (typeof value === 'string') {
      if (value.includes(secret)) found.push(path);
      return;
    }
    if (value instanceof Uint8Array) {
      if (Buffer.from(value).toString('latin1').includes(secret)) found.push(path);
      return;
    }
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return;
    if (seen.has(value) || depth > maxDepth) return;
    seen.add(value);
    if (value instanceof Map) {
      for (const [k, v] of value) {
        visit(k, `${path}<key>`, depth + 1);
        visit(v, `${path}<${String(k)}>`, depth + 1);
      }
    }
    if (value instanceof Set) for (const v of value) visit(v, `${path}<item>`, depth + 1);
    const names = new Set<PropertyKey>();
    for (
      let owner: object | null = value;
      owner !== null && owner !== Object.prototype && owner !== Function.prototype;
      owner = Object.getPrototypeOf(owner) as object | null
    ) {
      for (const key of Reflect.ownKeys(owner)) {
        if (names.has(key) || DEPRECATED.has(key)) continue;
        names.add(key);
        const descriptor = Object.getOwnPropertyDescriptor(owner, key);
        if (!descriptor) continue;
        let child: unknown;
        if ('value' in descriptor) {
          if (owner !== value) continue;
          child = descriptor.value;
        } else if (descriptor.get) {
          try {
            child = descriptor.get.call(value);
          } catch {
            continue;
          }
        }
        visit(child, `${path}.${String(key)}`, depth + 1);
      }
    }
  };
  visit(root, '$', 0);
  return found;
}

/** Every way an error is usually turned into text: message, stack, String(), inspect(), JSON. */
export function renderings(value: unknown): Record<string, string> {
  const out: Record<string, string> = {
    inspect: inspect(value, { showHidden: true, depth: Number.POSITIVE_INFINITY }),
    string: String(value),
  };
  try {
    out.json = JSON.stringify(value) ?? '';
  } catch (err) {
    out.json = `JSON.stringify threw ${(err as Error).message}`;
  }
  if (value instanceof Error) {
    out.message = value.message;
    out.stack = value.stack ?? '';
    let cause: unknown = value.cause;
    for (let i = 0; cause !== undefined && i < 10; i += 1) {
      out[`cause${i}`] = inspect(cause, { showHidden: true, depth: Number.POSITIVE_INFINITY });
      cause = cause instanceof Error ? cause.cause : undefined;
    }
  }
  return out;
}
