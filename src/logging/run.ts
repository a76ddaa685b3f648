/**
 * A run's directory: config.json (the resolved config), metrics.csv,
 * activations.csv and summary.json. See the README for every column.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Config } from '../config/schema';
import { ConfigError } from '../errors';
import { CsvAppender, keepCompleteRows, writeJsonAtomic } from './files';
import { RunLock } from './lock';

export const METRICS_COLUMNS = ['step', 'lr', 'train_loss', 'test_loss', 'test_accuracy', 'elapsed_s', 'steps_per_s', 'event'];

export interface MetricsRow {
  step: number;
  lr: number;
  /** Mean mini-batch loss since the previous row; empty at step 0. */
  trainLoss: number | null;
  testLoss: number | null;
  testAccuracy: number | null;
  elapsedS: number;
  stepsPerS: number | null;
  event?: 'diverged';
}

export function activationColumns(percentiles: number[]): string[] {
  return ['step', 'layer', 'unit', ...percentiles.map((p) => `p${p}`)];
}

export class RunDir {
  private readonly metrics: CsvAppender;
  private readonly activations: CsvAppender;

  private constructor(
    readonly dir: string,
    private readonly percentiles: number[],
    private readonly lock: RunLock,
  ) {
    this.metrics = new CsvAppender(path.join(dir, 'metrics.csv'), METRICS_COLUMNS);
    this.activations = new CsvAppender(path.join(dir, 'activations.csv'), activationColumns(percentiles));
  }

  /** Starts a new run; an existing run is never overwritten. */
  static create(dir: string, config: Config): RunDir {
    fs.mkdirSync(dir, { recursive: true });
    return RunLock.holding(dir, (lock) => {
      if (['metrics.csv', 'summary.json', 'config.json'].some((f) => fs.existsSync(path.join(dir, f)))) {
        throw new ConfigError(`${dir} already holds a run; continue it with \`bnrun train --resume ${dir}\`, or choose another --out`);
      }
      writeJsonAtomic(path.join(dir, 'config.json'), config);
      return new RunDir(dir, config.tracking.percentiles, lock);
    });
  }

  /**
   * Reopens a run to continue after `step` (its last checkpoint, 0 for none):
   * rows logged after it are dropped, so every step appears exactly once.
   */
  static resume(dir: string, config: Config, step: number): { run: RunDir; rows: Record<string, string>[] } {
    return RunLock.holding(dir, (lock) => {
      const rows = keepCompleteRows(path.join(dir, 'metrics.csv'), METRICS_COLUMNS, (r) => Number(r.step) <= step);
      keepCompleteRows(path.join(dir, 'activations.csv'), activationColumns(config.tracking.percentiles), (r) => Number(r.step) <= step);
      return { run: new RunDir(dir, config.tracking.percentiles, lock), rows };
    });
  }

  /** The resolved config a run was started with. */
  static readConfig(dir: string): unknown {
    const file = path.join(dir, 'config.json');
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new ConfigError(`${file}: ${code === 'ENOENT' ? 'not found; is this a bnrun run directory?' : `unreadable (${(e as Error).message})`}`);
    }
  }

  logMetrics(r: MetricsRow): void {
    this.metrics.append({
      step: r.step,
      lr: r.lr,
      train_loss: r.trainLoss,
      test_loss: r.testLoss,
      test_accuracy: r.testAccuracy,
      elapsed_s: Number(r.elapsedS.toFixed(3)),
      steps_per_s: r.stepsPerS === null ? null : Number(r.stepsPerS.toFixed(1)),
      event: r.event ?? null,
    });
  }

  logActivations(step: number, layer: number, units: number[], unitPercentiles: number[][]): void {
    units.forEach((unit, i) => {
      const row: Record<string, number> = { step, layer, unit };
      this.percentiles.forEach((p, j) => (row[`p${p}`] = unitPercentiles[i][j]));
      this.activations.append(row);
    });
  }

  writeSummary(summary: object): void {
    writeJsonAtomic(path.join(this.dir, 'summary.json'), summary);
  }

  close(): void {
    this.metrics.close();
    this.activations.close();
    this.lock.release();
  }
}
