/**
 * Finds and loads the runs under a directory for `bnrun compare` / `bnrun plot`.
 *
 * A run is any directory holding a config.json or a metrics.csv (see the
 * README, Outputs); directories below a run are not searched. Loading never
 * throws for a bad run: each run with something wrong gets exactly one line
 * in `problems`, saying whether it was skipped or what was made of it, and the
 * rest are loaded.
 *
 * config.json is read loosely (not through the current zod schema), so runs
 * written by older or newer bnrun versions, or for networks this version does
 * not build, can still be compared: only name, seed, data.dataset, model.type
 * and paper are needed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PAPER_NETWORKS, PaperNetwork } from '../config/schema';
import { isRecord, readJson } from '../json';
import { liveWriter } from '../logging/lock';
import { EvalPoint, maxAccuracy } from '../metrics';
import { sanitize } from '../text';
import { UnreadableFile } from '../read';
import { CorruptCsv, CsvTable, numberCell, readCsv } from '../logging/csv';

export type { EvalPoint };

export interface ActivationPoint {
  step: number;
  layer: number;
  unit: number;
  /** Percentile value by percentile (15, 50, 85, or whatever the run tracked). */
  values: Map<number, number>;
}

/** 'running': a live process holds the run's lock (see src/logging/lock.ts); 'incomplete': no summary and no writer (killed). */
export type RunStatus = 'completed' | 'diverged' | 'interrupted' | 'incomplete' | 'running';

export interface RunInfo {
  name: string;
  seed: number;
  dataset: string;
  modelType: string;
  paper: PaperNetwork | null;
  /** The whole config.json, for grouping by everything but the seed. */
  config: Record<string, unknown>;
}

export interface Run {
  /** The run directory. */
  dir: string;
  /** The run directory relative to the compared directory ('.' for itself). */
  id: string;
  info: RunInfo;
  /** Evaluations with a test accuracy, in step order (at least one). */
  evals: EvalPoint[];
  /** The best of them (the first step reaching the highest accuracy). */
  best: EvalPoint;
  /** The last step metrics.csv mentions (an evaluation or the diverged step). */
  lastStep: number;
  status: RunStatus;
  /** Step whose loss became NaN/Inf, if the run diverged. */
  divergedAt: number | null;
  /** summary.json final.accuracy (Algorithm 2 population statistics), if any. */
  finalAccuracy: number | null;
  /** summary.json final.statistics: 'population' for a BN net's Algorithm 2 evaluation, 'none' without BN; null if not recorded. */
  finalStatistics: 'population' | 'none' | null;
  /** The pid of the live process writing this run (status 'running'), else null. */
  writerPid: number | null;
  /** activations.csv rows (empty if there is none). */
  activations: ActivationPoint[];
}

export interface Problem {
  /** The run directory relative to the compared directory, or the directory itself. */
  id: string;
  /** True when the run was left out of the comparison. */
  skipped: boolean;
  /** One line: "<run directory>: <what>". */
  message: string;
}

export interface LoadedRuns {
  runs: Run[];
  problems: Problem[];
}

const SKIP_DIRS = new Set(['node_modules']);

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Every run directory at or below `root`, sorted. Symbolic links are followed
 * once (a loop is not walked twice); hidden directories and node_modules are
 * not searched.
 */
export function discoverRunDirs(root: string): string[] {
  const found: string[] = [];
  const seen = new Set<string>();
  const walk = (dir: string): void => {
    let real: string;
    try {
      real = fs.realpathSync(dir);
    } catch {
      return;
    }
    if (seen.has(real)) return;
    seen.add(real);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    if (entries.some((e) => e.name === 'config.json' || e.name === 'metrics.csv')) {
      found.push(dir);
      return;
    }
    const subdirs = entries
      .filter((e) => !e.name.startsWith('.') && !SKIP_DIRS.has(e.name))
      .filter((e) => e.isDirectory() || (e.isSymbolicLink() && isDir(path.join(dir, e.name))))
      .map((e) => e.name)
      .sort();
    for (const name of subdirs) walk(path.join(dir, name));
  };
  walk(root);
  return found.sort();
}

function isPaperNetwork(v: unknown): v is PaperNetwork {
  return typeof v === 'string' && (PAPER_NETWORKS as readonly string[]).includes(v);
}

type Loaded<T> = { ok: true; value: T; notes: string[] } | { ok: false; why: string };

/** Why a run file could not be read, as a phrase after its name. */
function unreadable(e: unknown): string {
  if (e instanceof UnreadableFile) return e.why;
  if (e instanceof CorruptCsv) return `is ${e.message}`;
  return `unreadable (${(e as Error).message.split('\n')[0]})`;
}

const JSON_MAX_BYTES = 16 * 1024 * 1024;

/** A run's JSON file as an object, or why not (missing, unparsable, not an object). */
function readJsonObject(dir: string, name: string): Loaded<Record<string, unknown>> {
  const read = readJson(path.join(dir, name), JSON_MAX_BYTES);
  if (!read.ok) return { ok: false, why: read.missing ? `no ${name}` : `${name} ${read.why}` };
  if (!isRecord(read.value)) return { ok: false, why: `${name} is not an object` };
  return { ok: true, value: read.value, notes: [] };
}

function readInfo(dir: string): Loaded<RunInfo> {
  const json = readJsonObject(dir, 'config.json');
  if (!json.ok) return json;
  const raw = json.value;
  const data = raw.data;
  const dataset = isRecord(data) && typeof data.dataset === 'string' ? sanitize(data.dataset) : null;
  if (dataset === null) return { ok: false, why: 'config.json has no data.dataset' };
  const notes: string[] = [];
  // Names reach terminals and figures: control characters are shown as escapes, never sent.
  const name = sanitize(typeof raw.name === 'string' && raw.name !== '' ? raw.name : path.basename(path.resolve(dir)));
  if (typeof raw.name !== 'string') notes.push(`config.json has no name (named ${name} after its directory)`);
  const model = raw.model;
  const modelType = isRecord(model) && typeof model.type === 'string' ? sanitize(model.type) : 'unknown';
  let paper: PaperNetwork | null = null;
  if (isPaperNetwork(raw.paper)) paper = raw.paper;
  else if (raw.paper !== undefined) notes.push(`unknown paper network ${JSON.stringify(raw.paper)} (ignored)`);
  const seed = typeof raw.seed === 'number' ? raw.seed : 0;
  return { ok: true, value: { name, seed, dataset, modelType, paper, config: raw }, notes };
}

interface Metrics {
  evals: EvalPoint[];
  lastStep: number;
  divergedAt: number | null;
}

function readMetrics(dir: string): Loaded<Metrics> {
  const file = path.join(dir, 'metrics.csv');
  if (!fs.existsSync(file)) return { ok: false, why: 'no metrics.csv' };
  let table: CsvTable | null;
  try {
    table = readCsv(file);
  } catch (e) {
    return { ok: false, why: `metrics.csv ${unreadable(e)}` };
  }
  if (table === null) return { ok: false, why: 'metrics.csv is empty' };
  for (const c of ['step', 'test_accuracy']) {
    if (!table.columns.includes(c)) return { ok: false, why: `metrics.csv has no ${c} column` };
  }
  const evals: EvalPoint[] = [];
  let lastStep = -1;
  let divergedAt: number | null = null;
  for (const row of table.rows) {
    const step = numberCell(row.step);
    if (step === null) continue;
    // Values no run can log mean the file is not what bnrun wrote: the run is left out rather than drawn wrong.
    if (!Number.isInteger(step) || step < 0) return { ok: false, why: `metrics.csv is corrupt: step ${row.step} is not a step count` };
    lastStep = Math.max(lastStep, step);
    if (row.event === 'diverged') divergedAt = divergedAt ?? step;
    const accuracy = numberCell(row.test_accuracy);
    if (accuracy !== null && !(accuracy >= 0 && accuracy <= 1)) {
      return { ok: false, why: `metrics.csv is corrupt: test_accuracy ${row.test_accuracy} at step ${step} is not in [0, 1]` };
    }
    if (accuracy !== null) evals.push({ step, accuracy });
  }
  evals.sort((a, b) => a.step - b.step);
  const notes = table.dropped.map((d) => `metrics.csv ${d}`);
  if (evals.length === 0) {
    return { ok: false, why: ['metrics.csv has no evaluated rows', ...notes].join('; ') };
  }
  return { ok: true, value: { evals, lastStep, divergedAt }, notes };
}

function readActivations(dir: string): Loaded<ActivationPoint[]> {
  const file = path.join(dir, 'activations.csv');
  if (!fs.existsSync(file)) return { ok: true, value: [], notes: [] };
  let table: CsvTable | null;
  try {
    table = readCsv(file);
  } catch (e) {
    return { ok: true, value: [], notes: [`activations.csv ${unreadable(e)} (not drawn)`] };
  }
  if (table === null) return { ok: true, value: [], notes: [] };
  const pcols = table.columns.filter((c) => /^p\d+(\.\d+)?$/.test(c)).map((c) => ({ column: c, p: Number(c.slice(1)) }));
  const points: ActivationPoint[] = [];
  for (const row of table.rows) {
    const step = numberCell(row.step);
    const layer = numberCell(row.layer);
    const unit = numberCell(row.unit);
    if (step === null || layer === null || unit === null) continue;
    const values = new Map<number, number>();
    for (const { column, p } of pcols) {
      const v = numberCell(row[column]);
      if (v !== null) values.set(p, v);
    }
    points.push({ step, layer, unit, values });
  }
  return { ok: true, value: points, notes: table.dropped.map((d) => `activations.csv ${d}`) };
}

interface SummaryInfo {
  status: RunStatus;
  divergedAt: number | null;
  finalAccuracy: number | null;
  finalStatistics: 'population' | 'none' | null;
}

function readSummary(dir: string): Loaded<SummaryInfo> {
  const json = readJsonObject(dir, 'summary.json');
  if (!json.ok) return json;
  const raw = json.value;
  const status = raw.status === 'completed' || raw.status === 'diverged' || raw.status === 'interrupted' ? raw.status : null;
  if (status === null) return { ok: false, why: `summary.json has an unknown status ${JSON.stringify(raw.status)}` };
  const diverged = isRecord(raw.diverged) && typeof raw.diverged.step === 'number' ? raw.diverged.step : null;
  const final = isRecord(raw.final) && typeof raw.final.accuracy === 'number' ? raw.final.accuracy : null;
  const stats = isRecord(raw.final) && (raw.final.statistics === 'population' || raw.final.statistics === 'none') ? raw.final.statistics : null;
  if (final !== null && !(final >= 0 && final <= 1)) {
    return {
      ok: true,
      value: { status, divergedAt: diverged, finalAccuracy: null, finalStatistics: null },
      notes: [`summary.json final.accuracy ${final} is not in [0, 1] (ignored)`],
    };
  }
  return { ok: true, value: { status, divergedAt: diverged, finalAccuracy: final, finalStatistics: stats }, notes: [] };
}

function relativeId(root: string, dir: string): string {
  const rel = path.relative(root, dir);
  return rel === '' ? '.' : rel.split(path.sep).join('/');
}

/** Loads one run directory: the run, or why it was skipped, plus notes for one line. */
export function loadRun(root: string, dir: string): { run: Run | null; problem: Problem | null } {
  const id = sanitize(relativeId(root, dir));
  const shown = sanitize(dir);
  const skip = (why: string) => ({ run: null, problem: { id, skipped: true, message: sanitize(`${shown}: skipped: ${why}`) } });
  const info = readInfo(dir);
  if (!info.ok) return skip(info.why);
  const metrics = readMetrics(dir);
  if (!metrics.ok) return skip(metrics.why);
  const activations = readActivations(dir);
  const summary = readSummary(dir);
  const best = maxAccuracy(metrics.value.evals);
  if (!best) return skip('metrics.csv has no evaluated step');
  const notes = [...info.notes, ...metrics.notes, ...(activations.ok ? activations.notes : [])];

  let status: RunStatus;
  let divergedAt = metrics.value.divergedAt;
  let finalAccuracy: number | null = null;
  let finalStatistics: Run['finalStatistics'] = null;
  const lastStep = metrics.value.lastStep;
  // A live writer outranks whatever summary.json says: a resumed run still has its interrupted summary.
  const writerPid = liveWriter(dir);
  if (writerPid !== null) {
    status = 'running';
    notes.unshift(`running (pid ${writerPid}): compared up to step ${lastStep} so far`);
  } else if (summary.ok) {
    status = summary.value.status;
    divergedAt = summary.value.divergedAt ?? divergedAt;
    finalAccuracy = summary.value.finalAccuracy;
    finalStatistics = summary.value.finalStatistics;
  } else if (divergedAt !== null) {
    status = 'diverged';
    notes.unshift(`${summary.why}; metrics.csv says it diverged at step ${divergedAt}`);
  } else {
    status = 'incomplete';
    notes.unshift(`incomplete: ${summary.why} (killed?); compared up to step ${lastStep} from metrics.csv`);
  }
  const run: Run = {
    dir,
    id,
    info: info.value,
    evals: metrics.value.evals,
    best,
    lastStep,
    status,
    divergedAt,
    finalAccuracy,
    finalStatistics,
    writerPid,
    activations: activations.ok ? activations.value : [],
  };
  const problem = notes.length > 0 ? { id, skipped: false, message: sanitize(`${shown}: ${notes.join('; ')}`) } : null;
  return { run, problem };
}

/** Loads every run under `root` (or only the run directories `dirs`); bad runs become one problem line each. */
export function loadRuns(root: string, dirs: string[] = discoverRunDirs(root)): LoadedRuns {
  const runs: Run[] = [];
  const problems: Problem[] = [];
  for (const dir of dirs) {
    const { run, problem } = loadRun(root, dir);
    if (run) runs.push(run);
    if (problem) problems.push(problem);
  }
  return { runs, problems };
}
