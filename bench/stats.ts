/** Small statistics helpers. */

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

export function median(values: number[]): number {
  return quantile(values, 0.5);
}

/** Median, quartiles and range of a sample. */
export interface Spread {
  median: number;
  q1: number;
  q3: number;
  min: number;
  max: number;
}

export function spread(values: number[]): Spread {
  return {
    median: quantile(values, 0.5),
    q1: quantile(values, 0.25),
    q3: quantile(values, 0.75),
    min: quantile(values, 0),
    max: quantile(values, 1),
  };
}
