/** `bnrun plot <dir>`: only the figures; loads and compares the runs exactly as `bnrun compare` does. */
import * as path from 'node:path';
import { Command } from 'commander';
import { CompareSettings } from '../compare/table';
import { targetArg } from './args';
import { figures, Io, prepare, processIo } from './compare';

export interface PlotOptions extends CompareSettings {
  /** Directory for the figures (default <dir>/figures). */
  out?: string;
}

/** 0 when figures were written for at least one run, 1 when nothing could be plotted or written. */
export async function plotCommand(dir: string, opts: PlotOptions = {}, io: Io = processIo): Promise<number> {
  const prepared = prepare(dir, { baseline: opts.baseline, target: opts.target }, io);
  if (!prepared.ok) return prepared.code;
  const ok = await figures(prepared.loaded, prepared.comparison, opts.out ?? path.join(dir, 'figures'), io);
  return ok ? 0 : 1;
}

export function registerPlot(program: Command): void {
  program
    .command('plot')
    .description('write Figures 1 (a, b, c) and 2 as SVG and PNG for the runs under a directory')
    .argument('<dir>', 'directory holding run directories (e.g. results/)')
    .option('--out <dir>', 'where the figures go (default: <dir>/figures)')
    .option('--baseline <name>', 'the baseline run name (sets the target line of Figure 2)')
    .option('--target <acc>', 'accuracy of the target line of Figure 2, e.g. 0.722 or 72.2%', targetArg)
    .action(async (dir: string, flags: PlotOptions) => {
      process.exitCode = await plotCommand(dir, flags);
    });
}
