/** Small statistics helpers. */

export function median(values: number[]): number {
  return quantile(values, 0.5);
}

/** Quantile with linear interpolation between closest ranks; NaN for no values. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const low = Math.floor(pos);
  const high = Math.ceil(pos);
  const a = sorted[low] as number;
  const b = sorted[high] as number;
  return a + (b - a) * (pos - low);
}

export function min(values: number[]): number {
  return values.reduce((m, v) => Math.min(m, v), Number.POSITIVE_INFINITY);
}

export function max(values: number[]): number {
  return values.reduce((m, v) => Math.max(m, v), Number.NEGATIVE_INFINITY);
}
