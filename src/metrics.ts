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

export interface EvalPoint {
  step: number;
  accuracy: number;
}

/**
 * The first evaluated step whose accuracy reached the threshold, or null.
 * The tolerance lets a target read back from text (a baseline's best, printed
 * to CSV) count as reached by the very evaluation it came from.
 */
export function firstStepReaching(history: readonly EvalPoint[], threshold: number): number | null {
  return history.find((h) => h.accuracy >= threshold - 1e-9)?.step ?? null;
}

/** The highest accuracy and the first evaluated step reaching it; null without evaluations. */
export function maxAccuracy(history: readonly EvalPoint[]): EvalPoint | null {
  let best: EvalPoint | null = null;
  for (const h of history) if (best === null || h.accuracy > best.accuracy) best = { step: h.step, accuracy: h.accuracy };
  return best;
}
