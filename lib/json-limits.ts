/**
 * Limits on the JSON read from ZignSec, so a hostile or broken upstream cannot hand the app a value it
 * cannot serialise (a 5,000-deep nest makes `JSON.stringify` throw) or one that costs milliseconds per
 * callback to walk. @internal
 */
export const JSON_LIMITS = {
  /** Containers nested in a response body, `identity` and `errors` included. */
  responseDepth: 32,
  /** Values (object members and array items) in a response body. */
  responseValues: 10_000,
  /** Containers nested in the itsme claims of `providerData`. */
  claimsDepth: 16,
  /** Values (object members and array items) in the itsme claims. */
  claimsValues: 1_000,
} as const;

/**
 * `true` when `value` holds at most `maxDepth` nested objects/arrays and at most `maxValues` members
 * and items in all. Stops at the first excess, so its cost is bounded by the limits, not the input.
 * @internal
 */
export function withinLimits(value: unknown, maxDepth: number, maxValues: number): boolean {
  let budget = maxValues;
  const visit = (node: unknown, depth: number): boolean => {
    if (typeof node !== 'object' || node === null) return true;
    if (depth >= maxDepth) return false;
    if (Array.isArray(node)) {
      budget -= node.length;
      if (budget < 0) return false;
      for (const item of node) if (!visit(item, depth + 1)) return false;
      return true;
    }
    for (const key in node) {
      if (--budget < 0) return false;
      if (!visit((node as Record<string, unknown>)[key], depth + 1)) return false;
    }
    return true;
  };
  return visit(value, 0);
}
