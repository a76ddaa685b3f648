/**
 * Vega-Lite specs for the paper's figures, from loaded runs:
 *
 * - Figure 1(a): test accuracy vs training steps of the MNIST nets (model.type
 *   'mlp'), one colour per run group, one line per seed.
 * - Figure 1(b, c): one panel per MNIST net (the group's first seed): the
 *   15th-85th percentile band of the tracked sigmoid input (the first tracked
 *   unit of the last tracked layer) with the 15th, 50th and 85th percentile
 *   lines, panels sharing the y scale so the baseline's drift and the BN
 *   net's stability compare directly; the baseline first, as in the paper.
 * - Figure 2: validation accuracy vs steps of every Inception-family run
 *   (model.type other than 'mlp', or config.paper an Inception variant), with
 *   a dashed horizontal rule at the comparison's target accuracy.
 *
 * Each spec carries its data inline, so it renders without files or network.
 */
import type { TopLevelSpec } from 'vega-lite' with { 'resolution-mode': 'import' };
import { INCEPTION_FAMILY } from '../compare/paper';
import { Run } from '../compare/runs';
import { Comparison, GroupRow } from '../compare/table';
import { percent } from '../compare/format';

export type FigureName = 'figure1a' | 'figure1bc' | 'figure2';

export interface Figure {
  name: FigureName;
  spec: TopLevelSpec;
  /** The series the figure shows (legend entries or panel titles), in order. */
  series: string[];
}

/** Fonts: DejaVu Sans first (common on Linux, what resvg finds there), then the usual sans fonts. */
export const FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif';

const CONFIG = {
  font: FONT,
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 320, symbolLimit: 50 },
  title: { fontSize: 14, subtitleFontSize: 11, anchor: 'start' as const, subtitleColor: '#555' },
  header: { labelFontSize: 12, titleFontSize: 12 },
};

/** Steps as 0, 500, 1k, 2.5k, 1M: short, and never "0k". */
const STEP_AXIS = {
  title: 'training steps',
  tickCount: 6,
  labelExpr: "datum.value >= 1e6 ? format(datum.value / 1e6, '~g') + 'M' : datum.value >= 1e3 ? format(datum.value / 1e3, '~g') + 'k' : format(datum.value, '~g')",
};
const ACCURACY_AXIS = { format: '.0%' };

interface Placed {
  run: Run;
  row: GroupRow;
  /** Position of its group in the comparison (sections, then rows), for ordering. */
  order: number;
}

/** Each run with its group row, in table order (baseline first within a dataset). */
function place(runs: Run[], comparison: Comparison): Placed[] {
  const rowOf = new Map<string, { row: GroupRow; order: number }>();
  let order = 0;
  for (const s of comparison.sections) {
    for (const row of s.rows) {
      for (const r of row.runs) rowOf.set(r.id, { row, order });
      order += 1;
    }
  }
  const placed: Placed[] = [];
  for (const run of runs) {
    const at = rowOf.get(run.id);
    if (at) placed.push({ run, ...at });
  }
  return placed.sort((a, b) => a.order - b.order || a.run.info.seed - b.run.info.seed || a.run.id.localeCompare(b.run.id));
}

export function isInceptionFamily(run: Run): boolean {
  return run.info.modelType !== 'mlp' || (run.info.paper !== null && INCEPTION_FAMILY.includes(run.info.paper));
}

/** A run's series name: its group label, with the dataset when the figure mixes datasets. */
function seriesName(placed: Placed[]): (p: Placed) => string {
  const mixed = new Set(placed.map((p) => p.row.dataset)).size > 1;
  return (p) => (mixed ? `${p.row.label} [${p.row.dataset}]` : p.row.label);
}

function uniqueLabels(placed: Placed[]): string[] {
  return [...new Set(placed.map(seriesName(placed)))];
}

function curves(placed: Placed[]): { network: string; run: string; step: number; accuracy: number }[] {
  const name = seriesName(placed);
  return placed.flatMap((p) => p.run.evals.map((e) => ({ network: name(p), run: p.run.id, step: e.step, accuracy: e.accuracy })));
}

/** Points on the lines when they are few enough to tell apart. */
function showPoints(placed: Placed[]): boolean {
  return Math.max(...placed.map((p) => p.run.evals.length)) <= 30;
}

export function figure1a(runs: Run[], comparison: Comparison): Figure | null {
  const placed = place(runs, comparison).filter((p) => !isInceptionFamily(p.run));
  if (placed.length === 0) return null;
  const series = uniqueLabels(placed);
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Figure 1(a): MNIST nets, test accuracy vs training steps',
      subtitle: 'one line per run; seeds of one config share a colour; y axis from 70% as in the paper (lower values drawn at 70%)',
    },
    config: CONFIG,
    width: 520,
    height: 320,
    data: { values: curves(placed) },
    mark: { type: 'line', point: showPoints(placed), strokeWidth: 2 },
    encoding: {
      x: { field: 'step', type: 'quantitative', axis: STEP_AXIS },
      // The paper's panel spans 0.7-1.0: the early steps are off-scale, the differences that matter are visible.
      y: { field: 'accuracy', type: 'quantitative', title: 'test accuracy', axis: ACCURACY_AXIS, scale: { domain: [0.7, 1], clamp: true } },
      color: { field: 'network', type: 'nominal', title: 'network', sort: series },
      detail: { field: 'run', type: 'nominal' },
    },
  };
  return { name: 'figure1a', spec, series };
}

/** The percentiles to draw: 15/50/85 when tracked, else the lowest, middle and highest tracked. */
function bandPercentiles(tracked: number[]): [number, number, number] {
  const ps = [...tracked].sort((a, b) => a - b);
  const pick = (want: number, fallback: number) => (ps.includes(want) ? want : fallback);
  const lo = pick(15, ps[0]);
  const hi = pick(85, ps[ps.length - 1]);
  const mid = pick(50, ps.reduce((best, p) => (Math.abs(p - 50) < Math.abs(best - 50) ? p : best), ps[0]));
  return [lo, mid, hi];
}

const ordinal = (p: number) => `${p}th`;

export function figure1bc(runs: Run[], comparison: Comparison): Figure | null {
  const firstSeeds = new Map<string, Placed>();
  for (const p of place(runs, comparison)) {
    if (isInceptionFamily(p.run) || p.run.activations.length === 0) continue;
    if (!firstSeeds.has(p.row.label)) firstSeeds.set(p.row.label, p);
  }
  const name = seriesName([...firstSeeds.values()]);
  const values: Record<string, number | string>[] = [];
  const series: string[] = [];
  const used = new Set<number>();
  for (const p of firstSeeds.values()) {
    const acts = p.run.activations;
    const layer = Math.max(...acts.map((a) => a.layer));
    const unit = Math.min(...acts.filter((a) => a.layer === layer).map((a) => a.unit));
    const points = acts.filter((a) => a.layer === layer && a.unit === unit).sort((a, b) => a.step - b.step);
    const [lo, mid, hi] = bandPercentiles([...points[0].values.keys()]);
    const panel = `${name(p)}: layer ${layer}, unit ${unit}`;
    let drawn = false;
    for (const a of points) {
      const l = a.values.get(lo);
      const m = a.values.get(mid);
      const h = a.values.get(hi);
      if (l === undefined || m === undefined || h === undefined) continue;
      values.push({ panel, step: a.step, low: l, high: h, [ordinal(lo)]: l, [ordinal(mid)]: m, [ordinal(hi)]: h });
      drawn = true;
    }
    if (drawn) {
      series.push(panel);
      for (const q of [lo, mid, hi]) used.add(q);
    }
  }
  if (series.length === 0) return null;
  const lines = [...used].sort((a, b) => a - b).map(ordinal);
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Figure 1(b, c): MNIST nets, a last-layer sigmoid input over training',
      subtitle: `percentiles over the test set, shaded between ${lines[0]} and ${lines[lines.length - 1]}; paper: drifts without BN, stable with it`,
    },
    config: CONFIG,
    data: { values },
    columns: Math.min(2, series.length),
    facet: { field: 'panel', type: 'nominal', title: null, sort: series, header: { labelLimit: 400 } },
    spec: {
      width: 320,
      height: 220,
      layer: [
        {
          mark: { type: 'area', opacity: 0.2, color: '#4c78a8' },
          encoding: {
            x: { field: 'step', type: 'quantitative', axis: STEP_AXIS },
            y: { field: 'low', type: 'quantitative', title: 'sigmoid input' },
            y2: { field: 'high' },
          },
        },
        {
          transform: [{ fold: lines, as: ['percentile', 'value'] }],
          mark: { type: 'line', strokeWidth: 2 },
          encoding: {
            x: { field: 'step', type: 'quantitative', axis: STEP_AXIS },
            y: { field: 'value', type: 'quantitative', title: 'sigmoid input' },
            color: {
              field: 'percentile',
              type: 'nominal',
              title: 'percentile',
              sort: lines,
              scale: { domain: lines, range: lines.map((_, i) => (i === Math.floor(lines.length / 2) ? '#1f3b73' : '#7aa6d6')) },
            },
            strokeDash: {
              field: 'percentile',
              type: 'nominal',
              sort: lines,
              title: 'percentile',
              scale: { domain: lines, range: lines.map((_, i) => (i === Math.floor(lines.length / 2) ? [1, 0] : [4, 3])) },
            },
          },
        },
      ],
    },
    resolve: { scale: { y: 'shared', x: 'shared' } },
  };
  return { name: 'figure1bc', spec, series };
}

export function figure2(runs: Run[], comparison: Comparison): Figure | null {
  const placed = place(runs, comparison).filter((p) => isInceptionFamily(p.run));
  if (placed.length === 0) return null;
  const series = uniqueLabels(placed);
  const datasets = new Set(placed.map((p) => p.row.dataset));
  const targets = comparison.sections
    .filter((s) => datasets.has(s.dataset) && s.target !== null)
    .map((s) => {
      const t = s.target as number;
      const why = s.targetFrom === 'option' ? '--target' : `${s.baseline}'s best`;
      return { target: t, text: `target ${percent(t)} (${why}${datasets.size > 1 ? `, ${s.dataset}` : ''})` };
    });
  const x = { field: 'step', type: 'quantitative' as const, axis: STEP_AXIS };
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Figure 2: Inception and its BN variants, validation accuracy vs training steps', subtitle: 'dashed: the target accuracy of the steps-to-target column' },
    config: CONFIG,
    width: 560,
    height: 340,
    layer: [
      {
        data: { values: curves(placed) },
        mark: { type: 'line', point: showPoints(placed), strokeWidth: 2 },
        encoding: {
          x,
          y: { field: 'accuracy', type: 'quantitative', title: 'validation accuracy', axis: ACCURACY_AXIS },
          color: { field: 'network', type: 'nominal', title: 'network', sort: series },
          detail: { field: 'run', type: 'nominal' },
        },
      },
      ...(targets.length === 0
        ? []
        : [
            {
              data: { values: targets },
              mark: { type: 'rule' as const, color: '#333', strokeDash: [6, 4], strokeWidth: 1.5 },
              encoding: { y: { field: 'target', type: 'quantitative' as const } },
            },
            {
              data: { values: targets },
              mark: { type: 'text' as const, align: 'left' as const, baseline: 'bottom' as const, dx: 4, dy: -3, fontSize: 11, color: '#333' },
              encoding: { x: { value: 0 }, y: { field: 'target', type: 'quantitative' as const }, text: { field: 'text', type: 'nominal' as const } },
            },
          ]),
    ],
  };
  return { name: 'figure2', spec, series };
}

/** Every figure the runs allow, in file order. */
export function buildFigures(runs: Run[], comparison: Comparison): Figure[] {
  return [figure1a(runs, comparison), figure1bc(runs, comparison), figure2(runs, comparison)].filter((f): f is Figure => f !== null);
}
