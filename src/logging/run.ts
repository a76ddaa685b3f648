/**
 * A run's directory: config.json (the resolved config), metrics.csv,
 * activations.csv and summary.json. See the README for every column.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CorruptCsv, readCsv } from './csv';
import { Config } from '../config/schema';
import { ConfigError, DataError, errnoCode, fileError } from '../errors';
import { isRecord, readJson } from '../json';
import { UnreadableFile } from '../read';
import { CsvAppender, keepCompleteRows, removeLeftovers, writeJsonAtomic } from './files';
import { removeLockLeftovers, RunLock } from './lock';

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

/** Every file a run writes; a new run refuses a directory holding any of them. */
export const RUN_FILES = ['config.json', 'metrics.csv', 'activations.csv', 'summary.json', 'checkpoint.bin', 'checkpoint.prev.bin'] as const;

const CONFIG_JSON_MAX_BYTES = 1024 * 1024;
/** A summary.json is a few KB; anything near this is not one. */
const SUMMARY_JSON_MAX_BYTES = 16 * 1024 * 1024;

/** How users run the CLI after `npm ci` (it also works when bnrun is installed globally). */
export const CLI = 'npx bnrun';

/** The run's summary.json when it says the run completed, else null (missing, unreadable or another status). */
export function completedSummary(dir: string): Record<string, unknown> | null {
  const read = readJson(path.join(dir, 'summary.json'), SUMMARY_JSON_MAX_BYTES);
  return read.ok && isRecord(read.value) && read.value.status === 'completed' ? read.value : null;
}

/**
 * The directories to create for `dir`, outermost first, after checking that
 * nothing in the way is a file; each problem is one line naming --out (a
 * file in the way or a too-long path is a usage error, anything else I/O).
 */
function missingDirs(dir: string): string[] {
  const missing: string[] = [];
  let at = path.resolve(dir);
  for (;;) {
    let stat: fs.Stats | null = null;
    try {
      stat = fs.statSync(at);
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'ENAMETOOLONG') throw new ConfigError(`--out ${dir}: the path is too long; choose a shorter --out or name`);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw fileError(at, e, 'cannot use as --out');
    }
    if (stat) {
      if (!stat.isDirectory()) {
        throw new ConfigError(`--out ${dir}: ${at === path.resolve(dir) ? 'is' : `${at} is`} a file, not a directory; choose another --out`);
      }
      return missing;
    }
    const parent = path.dirname(at);
    if (parent === at) return missing;
    missing.unshift(at);
    at = parent;
  }
}

/** Creates `dir` one level at a time (fs.mkdirSync's recursive mode spins forever under /proc). */
function makeRunDir(dir: string): void {
  for (const d of missingDirs(dir)) {
    try {
      fs.mkdirSync(d);
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'EEXIST' && fs.statSync(d).isDirectory()) continue;
      if (code === 'ENAMETOOLONG') throw new ConfigError(`--out ${dir}: the path is too long; choose a shorter --out or name`);
      throw fileError(d, e, 'could not create the run directory');
    }
  }
}

/** Removes what killed writes left behind; runs holding the lock, so no live writer's files are among them. */
function cleanUp(dir: string): void {
  removeLeftovers(dir, RUN_FILES);
  removeLockLeftovers(dir);
}

/** Evaluation steps a run must have logged up to `step`: 0, every evalEvery, and the last step. */
function evaluatedSteps(config: Config, step: number): number[] {
  const out = [0];
  for (let s = config.training.evalEvery; s <= step; s += config.training.evalEvery) out.push(s);
  if (step === config.training.steps && out[out.length - 1] !== step) out.push(step);
  return out;
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
    RunDir.checkNew(dir);
    makeRunDir(dir);
    return RunLock.holding(dir, (lock) => {
      RunDir.checkNew(dir);
      cleanUp(dir);
      writeJsonAtomic(path.join(dir, 'config.json'), config);
      return new RunDir(dir, config.tracking.percentiles, lock);
    });
  }

  /**
   * Refuses a directory that holds any run file (a checkpoint alone included:
   * a later --resume would adopt it), saying what to do.
   */
  static checkNew(dir: string): void {
    missingDirs(dir);
    const found = RUN_FILES.filter((f) => fs.existsSync(path.join(dir, f)));
    if (found.length === 0) return;
    if (completedSummary(dir)) throw new ConfigError(`${dir} holds a run that has already completed; choose another --out`);
    if (found.includes('config.json')) {
      throw new ConfigError(`${dir} already holds a run; continue it with \`${CLI} train --resume ${dir}\`, or choose another --out`);
    }
    throw new ConfigError(
      `${dir} holds ${found.join(', ')} but no config.json (left by another run?); choose another --out, or remove ${found.length === 1 ? 'it' : 'them'}`,
    );
  }

  /**
   * Reopens a run to continue after `step` (its last checkpoint, 0 for none):
   * rows logged after it are dropped, so every step appears exactly once.
   * A metrics.csv that lost evaluated rows the checkpoint says were logged is
   * refused before anything is changed: the run's milestones would be wrong.
   */
  static resume(dir: string, config: Config, step: number): { run: RunDir; rows: Record<string, string>[] } {
    return RunLock.holding(dir, (lock) => {
      const metrics = path.join(dir, 'metrics.csv');
      if (step > 0 && !fs.existsSync(metrics)) {
        throw new DataError(`${metrics} is missing, so the evaluations up to step ${step} are lost; restore it, or start a new run with another --out`);
      }
      if (fs.existsSync(metrics)) {
        const logged = new Set(
          RunDir.readRows(metrics)
            .filter((r) => r.test_accuracy !== '')
            .map((r) => Number(r.step)),
        );
        // Without a checkpoint (step 0) the run restarts from scratch and owes no rows.
        const lost = step === 0 ? [] : evaluatedSteps(config, step).filter((s) => !logged.has(s));
        if (lost.length > 0) {
          throw new DataError(
            `${metrics} lacks the evaluation${lost.length === 1 ? '' : 's'} at step ${lost.slice(0, 5).join(', ')}${lost.length > 5 ? ', ...' : ''} that the checkpoint (step ${step}) follows; restore it, or start a new run with another --out`,
          );
        }
      }
      // Both CSVs are checked before either is rewritten.
      const activations = path.join(dir, 'activations.csv');
      if (fs.existsSync(activations)) RunDir.readRows(activations);
      cleanUp(dir);
      const rows = keepCompleteRows(path.join(dir, 'metrics.csv'), METRICS_COLUMNS, (r) => Number(r.step) <= step);
      keepCompleteRows(path.join(dir, 'activations.csv'), activationColumns(config.tracking.percentiles), (r) => Number(r.step) <= step);
      return { run: new RunDir(dir, config.tracking.percentiles, lock), rows };
    });
  }

  /** A run CSV's rows; a file that is not one (corrupt, a FIFO, unreadable) is refused naming it. */
  private static readRows(file: string): Record<string, string>[] {
    try {
      return readCsv(file)?.rows ?? [];
    } catch (e) {
      if (e instanceof UnreadableFile) throw new DataError(`${e.message}; restore it, or start a new run with another --out`);
      if (e instanceof CorruptCsv) throw new DataError(`${file}: ${e.message}; restore it, or start a new run with another --out`);
      throw fileError(file, e, 'could not read');
    }
  }

  /** The resolved config a run was started with. */
  static readConfig(dir: string): unknown {
    const file = path.join(dir, 'config.json');
    const read = readJson(file, CONFIG_JSON_MAX_BYTES);
    if (!read.ok) throw new ConfigError(read.missing ? `${file}: not found; is this a bnrun run directory?` : `${file}: ${read.why}`);
    return read.value;
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

  /** Flushes and closes the CSVs and releases the lock, whatever fails on the way. */
  close(): void {
    try {
      this.metrics.close();
    } finally {
      try {
        this.activations.close();
      } finally {
        this.lock.release();
      }
    }
  }
}
