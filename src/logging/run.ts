/**
 * A run's directory: config.json (the resolved config), metrics.csv,
 * activations.csv and summary.json. See the README for every column.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Config } from '../config/schema';
import { ConfigError } from '../errors';
import { CsvAppender, writeJsonAtomic } from './files';

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
  event?: 'diverged' | 'interrupted';
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
  ) {
    this.metrics = new CsvAppender(path.join(dir, 'metrics.csv'), METRICS_COLUMNS);
    this.activations = new CsvAppender(path.join(dir, 'activations.csv'), activationColumns(percentiles));
  }

  /** Starts a new run; an existing run is never overwritten. */
  static create(dir: string, config: Config): RunDir {
    if (fs.existsSync(path.join(dir, 'metrics.csv')) || fs.existsSync(path.join(dir, 'summary.json'))) {
      throw new ConfigError(`${dir} already holds a run; choose another --out, or delete that directory to start over`);
    }
    fs.mkdirSync(dir, { recursive: true });
    writeJsonAtomic(path.join(dir, 'config.json'), config);
    return new RunDir(dir, config.tracking.percentiles);
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
  }
}
