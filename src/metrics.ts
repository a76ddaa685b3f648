/** Plain-number statistics computed on the host after a read-back. */

/** Percentile p (0-100) of ascending-sorted values, linear interpolation between ranks (numpy's default). */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const rank = (p / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (rank - lo) * (sorted[hi] - sorted[lo]);
}

/** Percentiles of each column of a row-major [rows, cols] matrix. */
export function columnPercentiles(values: Float32Array, rows: number, cols: number, ps: number[]): number[][] {
  const column = new Float32Array(rows);
  const out: number[][] = [];
  for (let c = 0; c < cols; c++) {
    for (let r = 0; r < rows; r++) column[r] = values[r * cols + c];
    column.sort();
    out.push(ps.map((p) => percentileSorted(column, p)));
  }
  return out;
}

/** The first step whose accuracy reached the threshold, or null. */
export function firstStepReaching(history: { step: number; accuracy: number }[], threshold: number): number | null {
  return history.find((h) => h.accuracy >= threshold)?.step ?? null;
}

export function maxAccuracy(history: { step: number; accuracy: number }[]): { accuracy: number; step: number } | null {
  let best: { accuracy: number; step: number } | null = null;
  for (const h of history) if (best === null || h.accuracy > best.accuracy) best = { accuracy: h.accuracy, step: h.step };
  return best;
}
