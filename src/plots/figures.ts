/**
 * Vega-Lite specs for the paper's figures, from loaded runs:
 *
 * - Figure 1(a): test accuracy vs training steps of the MNIST nets (model.type
 *   'mlp'), one colour per run group, one line per seed.
 * - Figure 1(b, c): one row per baseline/BN pair of MNIST nets (each group's
 *   first seed), the baseline on the left as in the paper: the 15th-85th
 *   percentile band of the tracked sigmoid input (the first tracked unit of
 *   the last tracked layer) with the 15th, 50th and 85th percentile lines in
 *   three styles, every panel on one y scale so drift compares directly. A BN
 *   net is paired with the net without BN whose config is otherwise the same,
 *   else with its dataset's baseline; a net without BN left over gets a row
 *   of its own, so no cell is ever empty.
 * - Figure 2: validation accuracy vs steps of every Inception-family run
 *   (model.type other than 'mlp', or config.paper an Inception variant), with
 *   a dashed horizontal rule at the comparison's target accuracy when there is
 *   one.
 *
 * Each run name keeps its colour from one figure (and one compare) to the
 * next: see ./colors.ts.
 *
 * Each spec carries its data inline, so it renders without files or network.
 */
import type { TopLevelSpec } from 'vega-lite' with { 'resolution-mode': 'import' };
import { INCEPTION_FAMILY } from '../compare/paper';
import { Run } from '../compare/runs';
import { Comparison, GroupRow } from '../compare/table';
import { percent } from '../compare/format';
import { isRecord } from '../json';
import { stableColors } from './colors';

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
  labelExpr:
    "datum.value >= 1e6 ? format(datum.value / 1e6, '~g') + 'M' : datum.value >= 1e3 ? format(datum.value / 1e3, '~g') + 'k' : format(datum.value, '~g')",
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

/** The colour encoding of a line figure: each series in the colour of its group's name (not of its place in the legend). */
function colorEncoding(placed: Placed[], series: string[]) {
  const name = seriesName(placed);
  const labelOf = new Map(placed.map((p) => [name(p), p.row.label]));
  return {
    field: 'network',
    type: 'nominal' as const,
    title: 'network',
    sort: series,
    scale: { domain: series, range: stableColors(series.map((s) => labelOf.get(s) ?? s)) },
  };
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
      color: colorEncoding(placed, series),
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
  const mid = pick(
    50,
    ps.reduce((best, p) => (Math.abs(p - 50) < Math.abs(best - 50) ? p : best), ps[0]),
  );
  return [lo, mid, hi];
}

const ordinal = (p: number) => `${p}th`;

/** Whether a run's config puts BN in its network (read loosely, like the rest of config.json). */
function usesBatchNorm(run: Run): boolean {
  const model = run.info.config.model;
  return isRecord(model) && model.batchNorm === true;
}

/** A config's training-relevant fields without the name, the paper tag and BN: equal for a BN net and its plain twin. */
function twinKey(run: Run): string {
  const strip = (v: unknown, path: string): unknown => {
    if (!isRecord(v)) return v;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const at = path === '' ? k : `${path}.${k}`;
      if (['name', 'paper', 'description', 'seed', 'model.batchNorm', 'data.path', 'tracking', 'target'].includes(at)) continue;
      out[k] = strip(v[k], at);
    }
    return out;
  };
  return JSON.stringify([run.info.dataset, strip(run.info.config, '')]);
}

interface Panel {
  placed: Placed;
  title: string;
  values: Record<string, number | string>[];
  percentiles: number[];
}

/** The tracked unit's percentile rows of a run, as one panel (null if it has none to draw). */
function percentilePanel(p: Placed, name: string): Panel | null {
  const acts = p.run.activations;
  const layer = Math.max(...acts.map((a) => a.layer));
  const unit = Math.min(...acts.filter((a) => a.layer === layer).map((a) => a.unit));
  const points = acts.filter((a) => a.layer === layer && a.unit === unit).sort((a, b) => a.step - b.step);
  const [lo, mid, hi] = bandPercentiles([...points[0].values.keys()]);
  const title = `${name}: layer ${layer}, unit ${unit}`;
  const values: Record<string, number | string>[] = [];
  for (const a of points) {
    const l = a.values.get(lo);
    const m = a.values.get(mid);
    const h = a.values.get(hi);
    if (l === undefined || m === undefined || h === undefined) continue;
    values.push({ panel: title, step: a.step, low: l, high: h, [ordinal(lo)]: l, [ordinal(mid)]: m, [ordinal(hi)]: h });
  }
  return values.length > 0 ? { placed: p, title, values, percentiles: [lo, mid, hi] } : null;
}

/** Rows of panels: each BN net beside its plain twin or its dataset's baseline; plain nets left over alone. */
function pairRows(panels: Panel[], comparison: Comparison): Panel[][] {
  const plain = panels.filter((p) => !usesBatchNorm(p.placed.run));
  const bn = panels.filter((p) => usesBatchNorm(p.placed.run));
  const baselineOf = (dataset: string) => {
    const label = comparison.sections.find((s) => s.dataset === dataset)?.baseline;
    return plain.find((p) => p.placed.row.dataset === dataset && p.placed.row.label === label) ?? plain.find((p) => p.placed.row.dataset === dataset) ?? null;
  };
  const rows: Panel[][] = [];
  const paired = new Set<Panel>();
  for (const b of bn) {
    const partner = plain.find((p) => twinKey(p.placed.run) === twinKey(b.placed.run)) ?? baselineOf(b.placed.row.dataset);
    if (partner) paired.add(partner);
    rows.push(partner ? [partner, b] : [b]);
  }
  const alone = plain.filter((p) => !paired.has(p)).map((p) => [p]);
  return [...alone, ...rows];
}

/** Each percentile's line style: the median solid and dark, the 15th dashed, the 85th dotted in another hue. */
function percentileStyles(lines: string[]): { color: string[]; dash: number[][] } {
  const mid = Math.floor(lines.length / 2);
  return {
    color: lines.map((_, i) => (i === mid ? '#1f3b73' : i < mid ? '#3a7dc9' : '#9b4dca')),
    dash: lines.map((_, i) => (i === mid ? [1, 0] : i < mid ? [7, 3] : [1.5, 2.5])),
  };
}

export function figure1bc(runs: Run[], comparison: Comparison): Figure | null {
  const firstSeeds = new Map<string, Placed>();
  for (const p of place(runs, comparison)) {
    if (isInceptionFamily(p.run) || p.run.activations.length === 0) continue;
    if (!firstSeeds.has(p.row.label)) firstSeeds.set(p.row.label, p);
  }
  const name = seriesName([...firstSeeds.values()]);
  const panels = [...firstSeeds.values()].map((p) => percentilePanel(p, name(p))).filter((p): p is Panel => p !== null);
  if (panels.length === 0) return null;
  const rows = pairRows(panels, comparison);
  const series = [...new Set(rows.flat().map((p) => p.title))];
  const lines = [...new Set(panels.flatMap((p) => p.percentiles))].sort((a, b) => a - b).map(ordinal);
  const style = percentileStyles(lines);
  const x = { field: 'step', type: 'quantitative' as const, axis: STEP_AXIS };
  const panelSpec = (panel: Panel) => ({
    title: { text: panel.title, fontSize: 12, fontWeight: 'normal' as const },
    width: 320,
    height: 200,
    transform: [{ filter: { field: 'panel', equal: panel.title } }],
    layer: [
      {
        mark: { type: 'area' as const, opacity: 0.15, color: '#4c78a8' },
        encoding: { x, y: { field: 'low', type: 'quantitative' as const, title: 'sigmoid input' }, y2: { field: 'high' } },
      },
      {
        transform: [{ fold: lines, as: ['percentile', 'value'] as [string, string] }],
        mark: { type: 'line' as const, strokeWidth: 2 },
        encoding: {
          x,
          y: { field: 'value', type: 'quantitative' as const, title: 'sigmoid input' },
          color: { field: 'percentile', type: 'nominal' as const, title: 'percentile', sort: lines, scale: { domain: lines, range: style.color } },
          strokeDash: { field: 'percentile', type: 'nominal' as const, title: 'percentile', sort: lines, scale: { domain: lines, range: style.dash } },
        },
      },
    ],
  });
  const shared = { scale: { x: 'shared' as const, y: 'shared' as const, color: 'shared' as const, strokeDash: 'shared' as const } };
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Figure 1(b, c): MNIST nets, one sigmoid input of the last hidden layer over training',
      // What is drawn, and what it means for BN: not a promise of stability.
      subtitle: [
        `${lines.join(', ')} percentiles over the test set (shaded: ${lines[0]} to ${lines[lines.length - 1]}); one row per baseline / BN pair, one y axis for all`,
        "the paper: the baseline's distribution drifts, BN's stays steadier. A BN net's sigmoid input is \u03b3\u00b7x\u0302 + \u03b2: BN holds x\u0302 at mean 0",
        'and variance 1, while the learned \u03b3 and \u03b2 scale and shift it, so its band can widen as \u03b3 grows',
      ],
    },
    config: CONFIG,
    data: { values: panels.flatMap((p) => p.values) },
    vconcat: rows.map((row) => ({ hconcat: row.map(panelSpec), resolve: shared })),
    resolve: shared,
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
    title: {
      text: 'Figure 2: Inception and its BN variants, validation accuracy vs training steps',
      // The dashed line is drawn only when the comparison has a target (a baseline, or --target).
      subtitle:
        targets.length > 0
          ? 'one line per run, seeds of one config in one colour; dashed: the target accuracy of the steps-to-target column'
          : 'one line per run, seeds of one config in one colour; no target (no baseline and no --target), so no target line',
    },
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
          color: colorEncoding(placed, series),
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
