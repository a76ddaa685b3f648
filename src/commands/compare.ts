/**
 * `bnrun compare <dir>`, and the loading and figure writing that `bnrun plot
 * <dir>` (./plot.ts) shares with it.
 *
 * Both return the exit code instead of exiting: 0 when at least one run was
 * compared (or plotted), 1 when nothing could be (one line on stderr says
 * why) or the figures could not be written, 2 for an option naming nothing
 * (--baseline). The table goes to stdout (or --out); everything else, one
 * line each, goes to stderr, so `--format json | jq` stays clean.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { COMPARE_FORMATS, CompareFormat, formatComparison } from '../compare/format';
import { discoverRunDirs, loadRuns, LoadedRuns } from '../compare/runs';
import { buildComparison, Comparison, CompareSettings } from '../compare/table';
import { BnrunError } from '../errors';
import { sanitize, sanitizeLines } from '../text';
import { buildFigures } from '../plots/figures';
import { writeFigures } from '../plots/write';
import { targetArg } from './args';

export interface CompareOptions extends CompareSettings {
  /** Compare only these run directories under dir (`bnrun sweep`: its own runs); default every run found. */
  runDirs?: string[];
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

/** Where output goes; tests capture it. */
export interface Io {
  /** The table (already newline-terminated). */
  stdout(text: string): void;
  /** One diagnostic line (no newline). */
  stderr(line: string): void;
}

/** The terminal: whatever a run's files put into a line is shown escaped, never sent as control sequences. */
export const processIo: Io = {
  stdout: (text) => void process.stdout.write(sanitizeLines(text)),
  stderr: (line) => void process.stderr.write(`${sanitize(line)}\n`),
};

export type Prepared = { ok: true; loaded: LoadedRuns; comparison: Comparison } | { ok: false; code: number };

/** Loads and compares; reports problems and notes on stderr. */
export function prepare(dir: string, settings: CompareSettings, io: Io, runDirs?: string[]): Prepared {
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
  const loaded = loadRuns(dir, runDirs);
  for (const p of loaded.problems) io.stderr(p.message);
  if (loaded.runs.length === 0) {
    const found = (runDirs ?? discoverRunDirs(dir)).length;
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
export async function figures(loaded: LoadedRuns, comparison: Comparison, outDir: string, io: Io): Promise<boolean> {
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
  const prepared = prepare(dir, { baseline: opts.baseline, target: opts.target }, io, opts.runDirs);
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

export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description("print the paper's Figure 3 table for every run under a directory, beside the published numbers, and write the figures")
    .argument('<dir>', 'directory holding run directories (e.g. results/)')
    .addOption(new Option('--format <format>', 'output format').choices(COMPARE_FORMATS).default('text'))
    .option('--out <file>', 'write the table to a file instead of stdout')
    .option('--baseline <name>', "the run name whose best accuracy is the target (default: the config with paper 'inception' or 'mnist-baseline')")
    .option('--target <acc>', "accuracy to reach instead of the baseline's best, e.g. 0.722 or 72.2%", targetArg)
    .option('--plots <dir>', 'where the figures go (default: <dir>/figures)')
    .option('--no-plots', 'write no figures')
    .action(async (dir: string, flags: CompareOptions) => {
      process.exitCode = await compareCommand(dir, flags);
    });
}
