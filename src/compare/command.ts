/**
 * `bnrun compare <dir>` and `bnrun plot <dir>`.
 *
 * Both return the exit code instead of exiting: 0 when at least one run was
 * compared (or plotted), 1 when nothing could be (one line on stderr says
 * why) or the figures could not be written, 2 for an option naming nothing
 * (--baseline). The table goes to stdout (or --out); everything else, one
 * line each, goes to stderr, so `--format json | jq` stays clean.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BnrunError } from '../errors';
import { buildFigures } from '../plots/figures';
import { writeFigures } from '../plots/write';
import { CompareFormat, formatComparison } from './format';
import { discoverRunDirs, loadRuns, LoadedRuns } from './runs';
import { buildComparison, Comparison, CompareSettings } from './table';

export { COMPARE_FORMATS, CompareFormat } from './format';

export interface CompareOptions extends CompareSettings {
  /** Default 'text': an aligned table. */
  format?: CompareFormat;
  /** Write the table to this file instead of stdout. */
  out?: string;
  /**
   * Where the figures go: a directory; true or undefined: <dir>/figures;
   * false: none (commander's `--plots <dir>` / `--no-plots` give exactly these).
   */
  plots?: string | boolean;
}

export interface PlotOptions extends CompareSettings {
  /** Directory for the figures (default <dir>/figures). */
  out?: string;
}

/** Where output goes; tests capture it. */
export interface Io {
  /** The table (already newline-terminated). */
  stdout(text: string): void;
  /** One diagnostic line (no newline). */
  stderr(line: string): void;
}

export const processIo: Io = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (line) => void process.stderr.write(`${line}\n`),
};

/** Parses --target: a fraction (0.722) or a percentage (72.2% or 72.2). */
export function parseTarget(value: string): number {
  const s = value.trim();
  const pct = s.endsWith('%');
  const n = Number(pct ? s.slice(0, -1) : s);
  if (s === '' || !Number.isFinite(n)) throw new Error(`--target expects an accuracy such as 0.722 or 72.2%, got "${value}"`);
  const frac = pct || n > 1 ? n / 100 : n;
  if (!(frac > 0 && frac <= 1)) throw new Error(`--target must be in (0, 1] (or (0%, 100%]), got "${value}"`);
  return frac;
}

type Prepared = { ok: true; loaded: LoadedRuns; comparison: Comparison } | { ok: false; code: number };

/** Loads and compares; reports problems and notes on stderr. */
function prepare(dir: string, settings: CompareSettings, io: Io): Prepared {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    io.stderr(`bnrun: ${dir}: not found`);
    return { ok: false, code: 1 };
  }
  if (!stat.isDirectory()) {
    io.stderr(`bnrun: ${dir}: not a directory; give the directory holding the run directories`);
    return { ok: false, code: 1 };
  }
  const loaded = loadRuns(dir);
  for (const p of loaded.problems) io.stderr(p.message);
  if (loaded.runs.length === 0) {
    const found = discoverRunDirs(dir).length;
    io.stderr(
      found === 0
        ? `bnrun: ${dir}: no runs found (a run directory holds config.json and metrics.csv); nothing to compare`
        : `bnrun: ${dir}: none of the ${found} run director${found === 1 ? 'y' : 'ies'} could be read (see above); nothing to compare`,
    );
    return { ok: false, code: 1 };
  }
  let comparison: Comparison;
  try {
    comparison = buildComparison(loaded.runs, settings);
  } catch (e) {
    if (e instanceof BnrunError) {
      io.stderr(`bnrun: ${e.message}`);
      return { ok: false, code: e.exitCode };
    }
    throw e;
  }
  for (const n of comparison.notes) io.stderr(n);
  for (const s of comparison.sections) for (const n of s.notes) io.stderr(n);
  return { ok: true, loaded, comparison };
}

/** Renders and writes the figures; returns false (after one line) if that failed. */
async function figures(loaded: LoadedRuns, comparison: Comparison, outDir: string, io: Io): Promise<boolean> {
  const figs = buildFigures(loaded.runs, comparison);
  if (figs.length === 0) {
    io.stderr('figures: none (no run has evaluations to draw)');
    return true;
  }
  try {
    const { written, notes } = await writeFigures(figs, outDir);
    for (const n of notes) io.stderr(n);
    io.stderr(`figures: ${written.map((w) => path.basename(w.svg, '.svg')).join(', ')} (.svg, .png) in ${outDir}`);
    return true;
  } catch (e) {
    io.stderr(`bnrun: figures: could not write to ${outDir}: ${(e as Error).message.split('\n')[0]}`);
    return false;
  }
}

export async function compareCommand(dir: string, opts: CompareOptions = {}, io: Io = processIo): Promise<number> {
  const prepared = prepare(dir, { baseline: opts.baseline, target: opts.target }, io);
  if (!prepared.ok) return prepared.code;
  const { loaded, comparison } = prepared;
  const text = formatComparison(comparison, opts.format ?? 'text', loaded.problems);
  if (opts.out !== undefined) {
    try {
      fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
      fs.writeFileSync(opts.out, text);
    } catch (e) {
      io.stderr(`bnrun: ${opts.out}: could not write the table (${(e as Error).message.split('\n')[0]})`);
      return 1;
    }
    io.stderr(`table: ${opts.out}`);
  } else {
    io.stdout(text);
  }
  if (opts.plots === false) return 0;
  const outDir = typeof opts.plots === 'string' ? opts.plots : path.join(dir, 'figures');
  const ok = await figures(loaded, comparison, outDir, io);
  return ok ? 0 : 1;
}

export async function plotCommand(dir: string, opts: PlotOptions = {}, io: Io = processIo): Promise<number> {
  const prepared = prepare(dir, { baseline: opts.baseline, target: opts.target }, io);
  if (!prepared.ok) return prepared.code;
  const ok = await figures(prepared.loaded, prepared.comparison, opts.out ?? path.join(dir, 'figures'), io);
  return ok ? 0 : 1;
}
