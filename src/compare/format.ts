/**
 * Prints a Comparison: an aligned text table (the terminal default), CSV,
 * JSON or Markdown. Text and Markdown show "mean [min-max]" over seeds, one
 * table per dataset, with the published-number columns only where the paper
 * published numbers; CSV (one fixed set of columns) and JSON carry the
 * numbers themselves.
 */
import { stringify } from 'csv-stringify/sync';
import { csvSafe } from '../text';
import { PUBLISHED_TARGET } from './paper';
import { Problem } from './runs';
import { Comparison, GroupRow, Section, Spread, tidy } from './table';

export const COMPARE_FORMATS = ['text', 'csv', 'json', 'markdown'] as const;
export type CompareFormat = (typeof COMPARE_FORMATS)[number];

export function percent(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}

/** Steps in the paper's style from a million up (3 significant digits: 2.10e6, 31.0e6), plain integers below. */
export function formatSteps(x: number): string {
  return x >= 1e6 ? `${(x / 1e6).toFixed(x >= 1e7 ? 1 : 2)}e6` : String(Math.round(x));
}

/** "mean [min-max]" when the seeds differ; `range` formats the bounds (default as the mean). */
function withRange(s: Spread, f: (x: number) => string, range: (x: number) => string = f): string {
  return s.n > 1 && s.min !== s.max ? `${f(s.mean)} [${range(s.min)}-${range(s.max)}]` : f(s.mean);
}

const speedupText = (x: number) => `${x.toFixed(2)}x`;
const speedupBound = (x: number) => x.toFixed(2);
const accText = (x: number) => (x * 100).toFixed(2);

function stepsCell(section: Section, row: GroupRow): string {
  if (section.target === null) return '-';
  if (row.stepsToTarget === null) return 'never';
  const s = withRange(row.stepsToTarget, formatSteps);
  return row.reached < row.runs.length ? `${s} (${row.reached}/${row.runs.length} seeds)` : s;
}

/** The evaluation after the last step, over the seeds that have one (a killed or running run has none). */
function finalCell(row: GroupRow): string {
  if (row.finalAccuracy === null) return '-';
  const s = withRange(row.finalAccuracy, accText);
  return row.finalAccuracy.n < row.runs.length ? `${s} (${row.finalAccuracy.n}/${row.runs.length} seeds)` : s;
}

function paperSteps(row: GroupRow): string {
  const steps = row.published?.steps ?? null;
  if (steps === null) return '-';
  // As the paper prints them: 31.0e6, 2.1e6.
  return typeof steps === 'number' ? `${(steps / 1e6).toFixed(1)}e6` : steps;
}

function paperMax(row: GroupRow): string {
  const p = row.published;
  if (!p) return '-';
  if (p.maxText) return p.maxText;
  return p.maxAccuracy === null ? '-' : `${(p.maxAccuracy * 100).toFixed(1)}%`;
}

interface Column {
  header: string;
  right: boolean;
  /** A published-numbers column: left out of a section where no row has any. */
  paper?: boolean;
  /** A column about speed-ups over the baseline: left out of a section without one. */
  baseline?: boolean;
  cell: (section: Section, row: GroupRow) => string;
}

const COLUMNS: Column[] = [
  { header: 'network', right: false, cell: (_s, r) => r.label + (r.isBaseline ? ' *' : '') },
  { header: 'seeds', right: true, cell: (_s, r) => String(r.runs.length) },
  { header: 'seed list', right: false, cell: (_s, r) => r.seeds.join(',') },
  { header: 'steps to target', right: true, cell: stepsCell },
  { header: 'speed-up', right: true, cell: (_s, r) => (r.speedup ? withRange(r.speedup, speedupText, speedupBound) : '-') },
  { header: 'max acc %', right: true, cell: (_s, r) => withRange(r.maxAccuracy, accText) },
  { header: 'at step', right: true, cell: (_s, r) => withRange(r.maxAccuracyStep, formatSteps) },
  { header: 'final acc %', right: true, cell: (_s, r) => finalCell(r) },
  { header: 'status', right: false, cell: (_s, r) => r.status },
  { header: 'paper: steps to 72.2%', right: true, paper: true, cell: (_s, r) => paperSteps(r) },
  {
    header: 'paper: speed-up',
    right: true,
    paper: true,
    baseline: true,
    cell: (_s, r) => (r.publishedSpeedup === null ? '-' : speedupText(r.publishedSpeedup)),
  },
  { header: 'paper: max acc', right: true, paper: true, cell: (_s, r) => paperMax(r) },
];

/**
 * The columns of a section: the paper's only where it published a number
 * (MNIST has a footnote instead), and the paper's speed-ups only beside a
 * baseline of this comparison's own.
 */
function columnsOf(s: Section): Column[] {
  const published = s.rows.some((r) => r.published && (r.published.steps !== null || r.published.maxAccuracy !== null || r.published.maxText));
  return COLUMNS.filter((c) => (published || !c.paper) && (s.baseline !== null || !c.baseline));
}

/** The line above a dataset's table: what the baseline and the target are. */
export function sectionTitle(s: Section): string {
  const parts = [`dataset ${s.dataset}`];
  if (s.baseline !== null) parts.push(`baseline ${s.baseline}${s.baselineFrom === 'option' ? ' (--baseline)' : ''}`);
  else parts.push('no baseline');
  if (s.target !== null) {
    const why = s.targetFrom === 'option' ? '--target' : "the baseline's best test accuracy";
    parts.push(`target ${percent(s.target)} (${why})`);
  }
  return parts.join('; ');
}

/** Lines under a dataset's table: what the paper columns mean there. */
function sectionFootnotes(s: Section): string[] {
  const out: string[] = [];
  const papers = s.rows.filter((r) => r.published);
  const mnist = papers.filter((r) => r.paper === 'mnist-bn' || r.paper === 'mnist-baseline');
  if (mnist.length > 0) {
    out.push('paper, Figure 1(a) (MNIST): no numbers published; the BN net trains faster and reaches higher test accuracy than the baseline');
  }
  if (papers.length > mnist.length) {
    out.push(
      `paper, Figure 3 (ImageNet, single-crop validation accuracy): steps to ${(PUBLISHED_TARGET * 100).toFixed(1)}%, Inception's best${s.baseline !== null ? "; speed-up over Inception's 31.0e6 steps" : ''}`,
    );
    for (const r of papers) {
      if (r.paper === 'inception-x5' || r.paper === 'inception-sigmoid') out.push(`paper, ${r.published?.label}: ${r.published?.note}`);
    }
  }
  return out;
}

const LEGEND = [
  'mean [min-max] over seeds; * = baseline; speed-up = baseline steps to target / steps to target',
  'max acc = best test accuracy of the evaluations during training (BN nets: moving-average statistics)',
  'final acc = the evaluation after the last step (BN nets: Algorithm 2 population statistics; summary.json final.accuracy)',
].join('\n');

function cells(s: Section, columns: Column[]): string[][] {
  return s.rows.map((r) => columns.map((c) => c.cell(s, r)));
}

export function formatText(c: Comparison): string {
  const blocks: string[] = [];
  for (const s of c.sections) {
    const columns = columnsOf(s);
    const body = cells(s, columns);
    const widths = columns.map((col, i) => Math.max(col.header.length, ...body.map((row) => row[i].length)));
    const line = (row: string[]) =>
      row
        .map((cell, i) => (columns[i].right ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
        .join('  ')
        .trimEnd();
    const lines = [sectionTitle(s), line(columns.map((col) => col.header)), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)];
    lines.push(...sectionFootnotes(s));
    blocks.push(lines.join('\n'));
  }
  return `${blocks.join('\n\n')}\n\n${LEGEND}\n`;
}

export function formatMarkdown(c: Comparison): string {
  const esc = (t: string) => t.replace(/[|*]/g, (m) => `\\${m}`);
  const blocks: string[] = [];
  for (const s of c.sections) {
    const columns = columnsOf(s);
    const lines = [`### ${esc(s.dataset)}`, '', `${esc(sectionTitle(s))}.`, ''];
    lines.push(`| ${columns.map((col) => col.header).join(' | ')} |`);
    lines.push(`|${columns.map((col) => (col.right ? '---:' : '---')).join('|')}|`);
    for (const row of cells(s, columns)) lines.push(`| ${row.map(esc).join(' | ')} |`);
    const notes = sectionFootnotes(s);
    if (notes.length > 0) lines.push('', ...notes.map((n) => `- ${esc(n)}`));
    blocks.push(lines.join('\n'));
  }
  return `${blocks.join('\n\n')}\n\n${LEGEND.split('\n')
    .map((l) => `${esc(l)}.`)
    .join('\n\n')}\n`;
}

export const CSV_COLUMNS = [
  'dataset',
  'network',
  'name',
  'paper',
  'baseline',
  'is_baseline',
  'target',
  'seeds',
  'runs',
  'reached',
  'steps_to_target',
  'steps_to_target_min',
  'steps_to_target_max',
  'speedup',
  'speedup_min',
  'speedup_max',
  'max_accuracy',
  'max_accuracy_min',
  'max_accuracy_max',
  'max_accuracy_step',
  'max_accuracy_step_min',
  'max_accuracy_step_max',
  'final_accuracy',
  'final_accuracy_min',
  'final_accuracy_max',
  'final_statistics',
  'status',
  'paper_steps_to_target',
  'paper_target',
  'paper_speedup',
  'paper_max_accuracy',
] as const;

type CsvRow = Record<(typeof CSV_COLUMNS)[number], string | number | boolean | null>;

function csvRow(s: Section, r: GroupRow): CsvRow {
  const sp = (x: Spread | null, k: 'mean' | 'min' | 'max') => (x ? x[k] : null);
  const p = r.published;
  return {
    dataset: s.dataset,
    network: r.label,
    name: r.name,
    paper: r.paper,
    baseline: s.baseline,
    is_baseline: r.isBaseline,
    target: s.target,
    seeds: r.seeds.join(' '),
    runs: r.runs.length,
    reached: s.target === null ? null : r.reached,
    steps_to_target: sp(r.stepsToTarget, 'mean'),
    steps_to_target_min: sp(r.stepsToTarget, 'min'),
    steps_to_target_max: sp(r.stepsToTarget, 'max'),
    speedup: sp(r.speedup, 'mean'),
    speedup_min: sp(r.speedup, 'min'),
    speedup_max: sp(r.speedup, 'max'),
    max_accuracy: r.maxAccuracy.mean,
    max_accuracy_min: r.maxAccuracy.min,
    max_accuracy_max: r.maxAccuracy.max,
    max_accuracy_step: r.maxAccuracyStep.mean,
    max_accuracy_step_min: r.maxAccuracyStep.min,
    max_accuracy_step_max: r.maxAccuracyStep.max,
    final_accuracy: sp(r.finalAccuracy, 'mean'),
    final_accuracy_min: sp(r.finalAccuracy, 'min'),
    final_accuracy_max: sp(r.finalAccuracy, 'max'),
    final_statistics: r.finalStatistics,
    status: r.status,
    paper_steps_to_target: p ? p.steps : null,
    paper_target: p && p.steps !== null ? PUBLISHED_TARGET : null,
    paper_speedup: r.publishedSpeedup === null ? null : tidy(r.publishedSpeedup),
    paper_max_accuracy: p ? p.maxAccuracy : null,
  };
}

export function formatCsv(c: Comparison): string {
  const rows = c.sections.flatMap((s) => s.rows.map((r) => csvRow(s, r)));
  return stringify(rows, {
    header: true,
    columns: [...CSV_COLUMNS],
    // Names come from run files: a cell a spreadsheet would run as a formula is written as text.
    cast: { boolean: (v: boolean) => (v ? 'true' : 'false'), string: (v: string) => csvSafe(v) },
  });
}

export function formatJson(c: Comparison, problems: Problem[]): string {
  return `${JSON.stringify({ ...c, problems: problems.map((p) => p.message) }, null, 2)}\n`;
}

export function formatComparison(c: Comparison, format: CompareFormat, problems: Problem[] = []): string {
  switch (format) {
    case 'text':
      return formatText(c);
    case 'csv':
      return formatCsv(c);
    case 'json':
      return formatJson(c, problems);
    case 'markdown':
      return formatMarkdown(c);
  }
}
