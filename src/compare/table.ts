/**
 * The paper's Figure 3 table for a set of runs: runs grouped by config,
 * steps to a target accuracy, speed-up over a baseline, max accuracy.
 *
 * Grouping. Runs are compared within their dataset (data.dataset) only. Within
 * a dataset, runs belong to one group when their configs have the same name
 * and are equal apart from fields that do not change the training curve:
 * seed, description, expect, data.path, training.checkpointEvery,
 * training.populationBatches (it changes only the final Algorithm-2
 * evaluation, not the curve) and tracking. So the seeds of one config form a
 * group; two runs sharing a name but, say, a learning rate are kept apart and
 * labelled with the differing fields (`mnist-bn {optimizer.learningRate=2}`).
 *
 * Baseline. Per dataset: the group named by `--baseline NAME` if that dataset
 * has it, else the group whose config.paper is 'inception' or
 * 'mnist-baseline' (the first by label if there are several, with a note),
 * else none: without a baseline and without `--target`, only max accuracy is
 * shown.
 *
 * Target. `--target ACC`, else the baseline's best test accuracy: the mean
 * over its seeds of each seed's max accuracy (the paper's "steps to reach the
 * baseline's best accuracy", Figure 3). A run's steps to target is the first
 * evaluated step whose test accuracy is >= target (1e-9 tolerance for float
 * noise); a run that never gets there says 'never'.
 *
 * Warnings (section notes): a baseline that has not completed (its best,
 * and so the target and the speed-ups, may still move), and runs that cover
 * different numbers of steps. A run whose lock is held by a live process is
 * 'running (pid N)', not incomplete.
 *
 * Final accuracy: summary.json final.accuracy, the evaluation after the last
 * step (Algorithm 2 population statistics for BN nets), mean over the seeds
 * that have one; the max accuracy (moving averages for BN nets, during
 * training) is kept beside it.
 *
 * Spread. Every group value is the mean over seeds with the min-max range
 * (with a handful of seeds a range says more than a standard deviation).
 * Steps to target averages the seeds that reached the target, and says how
 * many did when not all. Speed-up = baseline steps / steps, where baseline
 * steps is the baseline group's mean steps to target: the group value is the
 * ratio of the two means and the range is that of the per-seed ratios.
 */
import { PaperNetwork, PAPER_NETWORKS } from '../config/schema';
import { ConfigError } from '../errors';
import { isRecord } from '../json';
import { firstStepReaching } from '../metrics';
import { BASELINE_NETWORKS, Published, PUBLISHED, publishedSpeedup } from './paper';
import { Run, RunStatus } from './runs';

export interface Spread {
  mean: number;
  min: number;
  max: number;
  /** Number of values (seeds) behind it. */
  n: number;
}

export interface RunResult {
  id: string;
  seed: number;
  status: RunStatus;
  statusText: string;
  stepsToTarget: number | null;
  speedup: number | null;
  maxAccuracy: number;
  maxAccuracyStep: number;
  lastStep: number;
  finalAccuracy: number | null;
  finalStatistics: 'population' | 'none' | null;
}

export interface GroupRow {
  dataset: string;
  /** Unique across the comparison: the config name, qualified when it must be. */
  label: string;
  name: string;
  paper: PaperNetwork | null;
  modelType: string;
  isBaseline: boolean;
  seeds: number[];
  runs: RunResult[];
  /** Runs that reached the target (0 without a target). */
  reached: number;
  /** Over the runs that reached the target; null if none did or there is no target. */
  stepsToTarget: Spread | null;
  /** mean = baseline steps / mean steps; min, max over seeds. */
  speedup: Spread | null;
  maxAccuracy: Spread;
  maxAccuracyStep: Spread;
  /** summary.json final.accuracy over the seeds that have one (Algorithm 2 population statistics for BN nets); null if none has. */
  finalAccuracy: Spread | null;
  /** Which statistics the final evaluations used: one value, 'mixed', or null when none is recorded. */
  finalStatistics: 'population' | 'none' | 'mixed' | null;
  status: string;
  published: Published | null;
  publishedSpeedup: number | null;
}

export interface Section {
  dataset: string;
  /** The baseline group's label, or null. */
  baseline: string | null;
  baselineFrom: 'paper' | 'option' | null;
  target: number | null;
  targetFrom: 'baseline' | 'option' | null;
  /** The baseline's mean steps to the target, the numerator of every speed-up. */
  baselineSteps: number | null;
  rows: GroupRow[];
  /** One-line remarks about this dataset's comparison. */
  notes: string[];
}

export interface Comparison {
  sections: Section[];
  /** One-line remarks about the whole comparison. */
  notes: string[];
}

export interface CompareSettings {
  /** A group name or label to use as the baseline wherever that group exists. */
  baseline?: string;
  /** A fixed target accuracy (a fraction) instead of the baseline's best. */
  target?: number;
}

/** Rounds away float noise (0.9550000000000001 -> 0.955) for printing and JSON. */
export function tidy(x: number): number {
  return Number(x.toPrecision(12));
}

function tidyOrNull(x: number | null): number | null {
  return x === null ? null : tidy(x);
}

export function spread(values: number[]): Spread | null {
  if (values.length === 0) return null;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { mean: tidy(mean), min: Math.min(...values), max: Math.max(...values), n: values.length };
}

const IGNORED_FIELDS = ['name', 'seed', 'description', 'expect', 'data.path', 'training.checkpointEvery', 'training.populationBatches', 'tracking'];

/** Leaf fields of a config as dotted paths with JSON values, ignored fields left out. */
function flatten(value: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (IGNORED_FIELDS.includes(prefix)) return out;
  if (isRecord(value)) {
    for (const k of Object.keys(value).sort()) flatten(value[k], prefix === '' ? k : `${prefix}.${k}`, out);
  } else {
    out.set(prefix, JSON.stringify(value));
  }
  return out;
}

function groupKey(run: Run): string {
  const fields = [...flatten(run.info.config).entries()].map(([k, v]) => `${k}=${v}`);
  return JSON.stringify([run.info.dataset, run.info.name, ...fields]);
}

function runStatusText(run: Run): string {
  switch (run.status) {
    case 'completed':
      return 'completed';
    case 'diverged':
      return `diverged at step ${run.divergedAt ?? run.lastStep}`;
    case 'interrupted':
      return `interrupted at step ${run.lastStep}`;
    case 'incomplete':
      return `incomplete at step ${run.lastStep} (no summary.json)`;
    case 'running':
      return `running (pid ${run.writerPid}) at step ${run.lastStep}`;
  }
}

function groupStatusText(runs: RunResult[]): string {
  if (runs.length === 1) return runs[0].statusText;
  if (runs.every((r) => r.status === 'completed')) return 'completed';
  const counts = new Map<string, number>();
  for (const r of runs) {
    const kind = r.status === 'completed' ? 'completed' : r.statusText;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return [...counts.entries()].map(([kind, n]) => `${n} ${kind}`).join(', ');
}

interface Group {
  dataset: string;
  name: string;
  label: string;
  runs: Run[];
}

/** Groups runs; labels are the config names, qualified where two groups would share one. */
function groupRuns(runs: Run[], notes: string[]): Group[] {
  const byKey = new Map<string, Group>();
  for (const run of runs) {
    const key = groupKey(run);
    let g = byKey.get(key);
    if (!g) {
      g = { dataset: run.info.dataset, name: run.info.name, label: run.info.name, runs: [] };
      byKey.set(key, g);
    }
    g.runs.push(run);
  }
  const groups = [...byKey.values()];
  for (const g of groups) g.runs.sort((a, b) => a.info.seed - b.info.seed || a.id.localeCompare(b.id));

  // Same dataset and name, different configs: name the fields that differ.
  const byName = new Map<string, Group[]>();
  for (const g of groups) {
    const k = `${g.dataset}\0${g.name}`;
    byName.set(k, [...(byName.get(k) ?? []), g]);
  }
  for (const variants of byName.values()) {
    if (variants.length < 2) continue;
    const flats = variants.map((g) => flatten(g.runs[0].info.config));
    const fields = [...new Set(flats.flatMap((f) => [...f.keys()]))].sort();
    const differing = fields.filter((f) => new Set(flats.map((m) => m.get(f) ?? 'absent')).size > 1);
    variants.forEach((g, i) => {
      const shown = differing.slice(0, 2).map((f) => `${f}=${flats[i].get(f) ?? 'absent'}`);
      if (differing.length > 2) shown.push('...');
      g.label = `${g.name} {${shown.join(', ')}}`;
    });
    notes.push(`${variants[0].dataset}: runs named ${variants[0].name} differ in ${differing.join(', ')}: compared as ${variants.length} groups`);
  }

  // A name used on two datasets: qualify it with the dataset so figure legends stay unambiguous.
  const datasetsOf = new Map<string, Set<string>>();
  for (const g of groups) datasetsOf.set(g.label, (datasetsOf.get(g.label) ?? new Set()).add(g.dataset));
  for (const g of groups) if ((datasetsOf.get(g.label)?.size ?? 0) > 1) g.label = `${g.label} (${g.dataset})`;

  for (const g of groups) {
    const seeds = g.runs.map((r) => r.info.seed);
    const dup = seeds.filter((s, i) => seeds.indexOf(s) !== i);
    if (dup.length > 0) {
      notes.push(`${g.label}: ${g.runs.length} runs share seed ${[...new Set(dup)].join(', ')} (${g.runs.map((r) => r.id).join(', ')}); all are averaged`);
    }
  }
  return groups;
}

function rowOrder(a: GroupRow, b: GroupRow): number {
  if (a.isBaseline !== b.isBaseline) return a.isBaseline ? -1 : 1;
  const pa = a.paper === null ? PAPER_NETWORKS.length : PAPER_NETWORKS.indexOf(a.paper);
  const pb = b.paper === null ? PAPER_NETWORKS.length : PAPER_NETWORKS.indexOf(b.paper);
  return pa - pb || a.label.localeCompare(b.label);
}

function chooseBaseline(dataset: string, groups: Group[], settings: CompareSettings, notes: string[]): { group: Group | null; from: Section['baselineFrom'] } {
  if (settings.baseline !== undefined) {
    const named = groups.filter((g) => g.label === settings.baseline || g.name === settings.baseline);
    if (named.length > 1) {
      throw new ConfigError(
        `--baseline ${settings.baseline} matches ${named.length} groups on ${dataset} (${named.map((g) => g.label).join('; ')}); give one label`,
      );
    }
    if (named.length === 1) return { group: named[0], from: 'option' };
  }
  const candidates = groups
    .filter((g) => g.runs[0].info.paper !== null && BASELINE_NETWORKS.includes(g.runs[0].info.paper))
    .sort((a, b) => a.label.localeCompare(b.label));
  if (candidates.length > 1) {
    notes.push(
      `${dataset}: ${candidates.length} baseline candidates (${candidates.map((g) => g.label).join(', ')}); using ${candidates[0].label} (choose with --baseline NAME)`,
    );
  }
  if (candidates.length > 0) return { group: candidates[0], from: 'paper' };
  return { group: null, from: null };
}

/** The steps a run was meant to cover: a diverged run's configured length (its divergence is its result), else its last logged step. */
function runLength(run: Run): number {
  const training = run.info.config.training;
  const configured = isRecord(training) && typeof training.steps === 'number' ? training.steps : null;
  return run.status === 'diverged' && configured !== null ? configured : run.lastStep;
}

/**
 * A warning when the compared runs cover different numbers of steps, so that
 * their max and final accuracies are not like for like: the runs off the
 * common length (the one most runs share; the longest on a tie) are named.
 */
function lengthNote(dataset: string, groups: Group[]): string | null {
  const runs = groups.flatMap((g) => g.runs.map((r) => ({ r, who: g.runs.length > 1 ? `${g.label} seed ${r.info.seed}` : g.label, n: runLength(r) })));
  const counts = new Map<number, number>();
  for (const { n } of runs) counts.set(n, (counts.get(n) ?? 0) + 1);
  if (counts.size < 2) return null;
  const common = [...counts.entries()].sort((a, b) => b[1] - a[1] || b[0] - a[0])[0][0];
  const odd = runs.filter((x) => x.n !== common).map((x) => `${x.who} ${x.n} steps${x.r.status === 'completed' ? '' : ` (${x.r.status})`}`);
  return `${dataset}: runs of unequal length: ${odd.join(', ')}; the others ${common}: max and final accuracy cover different spans`;
}

function buildSection(dataset: string, groups: Group[], settings: CompareSettings): Section {
  const notes: string[] = [];
  const { group: baseline, from: baselineFrom } = chooseBaseline(dataset, groups, settings, notes);
  const unfinished = baseline ? baseline.runs.filter((r) => r.status !== 'completed') : [];
  if (baseline && unfinished.length > 0) {
    const what = unfinished.map((r) => runStatusText(r)).join('; ');
    const moves = settings.target === undefined ? 'its best accuracy (the target) and its steps to it' : 'its steps to the target';
    notes.push(`${dataset}: the baseline ${baseline.label} is not complete (${what}): ${moves}, and so every speed-up, may still change`);
  }
  const unequal = lengthNote(dataset, groups);
  if (unequal) notes.push(unequal);
  let target: number | null = null;
  let targetFrom: Section['targetFrom'] = null;
  if (settings.target !== undefined) {
    target = settings.target;
    targetFrom = 'option';
  } else if (baseline) {
    target = tidy(baseline.runs.reduce((s, r) => s + r.best.accuracy, 0) / baseline.runs.length);
    targetFrom = 'baseline';
  }
  if (!baseline && target === null) {
    notes.push(`${dataset}: no baseline (no run with paper inception or mnist-baseline; choose one with --baseline NAME): max and final accuracy only`);
  }

  const stepsOf = (run: Run) => (target === null ? null : firstStepReaching(run.evals, target));
  let baselineSteps: number | null = null;
  if (baseline && target !== null) {
    const s = spread(baseline.runs.map(stepsOf).filter((x): x is number => x !== null));
    baselineSteps = s ? s.mean : null;
    if (baselineSteps === null) notes.push(`${dataset}: the baseline ${baseline.label} never reached the target: no speed-ups`);
    else if (baselineSteps === 0) notes.push(`${dataset}: the baseline reached the target at step 0: no speed-ups`);
  }
  const speedupOf = (steps: number | null) => (baselineSteps && steps ? tidy(baselineSteps / steps) : null);

  const rows: GroupRow[] = groups.map((g) => {
    const runs: RunResult[] = g.runs.map((run) => {
      const { best } = run;
      const steps = stepsOf(run);
      return {
        id: run.id,
        seed: run.info.seed,
        status: run.status,
        statusText: runStatusText(run),
        stepsToTarget: steps,
        speedup: speedupOf(steps),
        maxAccuracy: best.accuracy,
        maxAccuracyStep: best.step,
        lastStep: run.lastStep,
        finalAccuracy: run.finalAccuracy,
        finalStatistics: run.finalStatistics,
      };
    });
    const finals = runs.filter((r) => r.finalAccuracy !== null);
    const finalKinds = new Set(finals.map((r) => r.finalStatistics).filter((k) => k !== null));
    const reachedSteps = runs.map((r) => r.stepsToTarget).filter((x): x is number => x !== null);
    const stepsToTarget = spread(reachedSteps);
    const perSeed = runs.map((r) => r.speedup).filter((x): x is number => x !== null);
    const mean = stepsToTarget ? speedupOf(stepsToTarget.mean) : null;
    const paper = g.runs[0].info.paper;
    const published = paper ? PUBLISHED[paper] : null;
    return {
      dataset,
      label: g.label,
      name: g.name,
      paper,
      modelType: g.runs[0].info.modelType,
      isBaseline: g === baseline,
      seeds: runs.map((r) => r.seed),
      runs,
      reached: reachedSteps.length,
      stepsToTarget,
      speedup: mean !== null && perSeed.length > 0 ? { mean, min: Math.min(...perSeed), max: Math.max(...perSeed), n: perSeed.length } : null,
      maxAccuracy: spread(runs.map((r) => r.maxAccuracy)) as Spread,
      maxAccuracyStep: spread(runs.map((r) => r.maxAccuracyStep)) as Spread,
      finalAccuracy: spread(finals.map((r) => r.finalAccuracy as number)),
      finalStatistics: finalKinds.size > 1 ? 'mixed' : finalKinds.size === 1 ? [...finalKinds][0] : null,
      status: groupStatusText(runs),
      published,
      // The paper's speed-ups are over its baseline; beside runs that have none they would read as this comparison's.
      publishedSpeedup: published && baseline ? tidyOrNull(publishedSpeedup(published)) : null,
    };
  });
  rows.sort(rowOrder);
  return {
    dataset,
    baseline: baseline ? baseline.label : null,
    baselineFrom,
    target,
    targetFrom,
    baselineSteps,
    rows,
    notes,
  };
}

/**
 * Builds the comparison of loaded runs. Throws ConfigError when `--baseline`
 * names no group at all (a usage error: nothing sensible to print).
 */
export function buildComparison(runs: Run[], settings: CompareSettings = {}): Comparison {
  const notes: string[] = [];
  const groups = groupRuns(runs, notes);
  const datasets = [...new Set(groups.map((g) => g.dataset))].sort();
  if (settings.baseline !== undefined && !groups.some((g) => g.label === settings.baseline || g.name === settings.baseline)) {
    const names = [...new Set(groups.map((g) => g.label))].join(', ');
    throw new ConfigError(`--baseline ${settings.baseline}: no run group has that name (groups: ${names})`);
  }
  if (datasets.length > 1) {
    notes.push(`runs on ${datasets.length} datasets (${datasets.join(', ')}): each dataset is compared separately`);
  }
  const sections = datasets.map((d) =>
    buildSection(
      d,
      groups.filter((g) => g.dataset === d),
      settings,
    ),
  );
  return { sections, notes };
}
