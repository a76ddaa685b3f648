/**
 * The command line: parses arguments and calls into the library. Every error
 * ends as one line on stderr and an exit code: 0 ok, 1 runtime or data error,
 * 2 usage or config error.
 */
import * as path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { BACKENDS, BackendRequest, selectBackend } from './backend';
import { COMPARE_FORMATS, compareCommand, CompareOptions, parseTarget, plotCommand, PlotOptions } from './compare/command';
import { loadConfig, Overrides, validateConfig } from './config/load';
import { Config } from './config/schema';
import { BnrunError, ConfigError } from './errors';
import { RunDir } from './logging/run';
import { describeModel } from './networks/info';
import { train } from './train/train';

function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} expects a positive integer, got "${value}"`);
    return n;
  };
}

function nonNegativeInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${flag} expects a non-negative integer, got "${value}"`);
    return n;
  };
}

interface TrainFlags {
  resume?: string;
  steps?: number;
  seed?: number;
  evalEvery?: number;
  out?: string;
  backend: BackendRequest;
  progress: boolean;
}

/** The config and run directory of a new run, or of the run to resume. */
function resolveRun(configFile: string | undefined, flags: TrainFlags): { config: Config; configSource: string; outDir: string } {
  if (flags.resume !== undefined) {
    const fixed = (['steps', 'seed', 'evalEvery', 'out'] as const).filter((k) => flags[k] !== undefined);
    if (configFile !== undefined || fixed.length > 0) {
      throw new ConfigError(`--resume continues a run exactly as it was configured; drop ${configFile !== undefined ? 'the config argument' : `--${fixed[0].replace('evalEvery', 'eval-every')}`}`);
    }
    const configSource = path.join(flags.resume, 'config.json');
    return { config: validateConfig(RunDir.readConfig(flags.resume), configSource), configSource, outDir: flags.resume };
  }
  if (configFile === undefined) throw new ConfigError('train needs a config file, or --resume <run-dir>');
  const overrides: Overrides = { 'training.steps': flags.steps, seed: flags.seed, 'training.evalEvery': flags.evalEvery };
  const config = loadConfig(configFile, overrides);
  return { config, configSource: configFile, outDir: flags.out ?? path.join('results', config.name) };
}

async function trainCommand(configFile: string | undefined, flags: TrainFlags): Promise<void> {
  const { config, configSource, outDir } = resolveRun(configFile, flags);
  const backend = await selectBackend(flags.backend);
  console.log(`backend: ${backend.name} (${backend.reason})`);
  const what = flags.resume !== undefined ? 'resuming' : 'run';
  console.log(`${what}: ${config.name} -> ${outDir} (${config.training.steps} steps, batch ${config.training.batchSize})`);
  const s = await train({ config, configSource, outDir, backend, resume: flags.resume !== undefined, tty: flags.progress ? undefined : false });
  const final = s.final;
  // BN nets: the final number uses Algorithm 2's population statistics, the evaluations during training the moving averages.
  const exact = final ? `final test accuracy ${(final.accuracy * 100).toFixed(2)}%${final.statistics === 'population' ? ' (population statistics)' : ''}` : 'no final evaluation';
  const best = s.maxAccuracy ? `, best during training ${(s.maxAccuracy.accuracy * 100).toFixed(2)}% at step ${s.maxAccuracy.step}` : '';
  console.log(`done: ${exact}${best}; ${s.wallTimeS.toFixed(1)} s wall, ${s.trainMsPerStep.toFixed(2)} ms/step on ${backend.name}; results in ${outDir}`);
}

function targetArg(value: string): number {
  try {
    return parseTarget(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

function validateCommand(configFile: string, flags: { print: boolean }): void {
  const config = loadConfig(configFile);
  if (flags.print) console.log(JSON.stringify(config, null, 2));
  else console.log(`${configFile}: ok (${config.name}: ${config.model.type}, ${config.training.steps} steps)`);
}

function infoCommand(configFile: string): void {
  const config = loadConfig(configFile);
  const info = describeModel(config.model);
  const rows = info.layers.map((l) => [l.name, l.kind, l.outputShape.join('x'), l.parameters.toLocaleString('en-US')]);
  const header = ['layer', 'kind', 'output', 'parameters'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  console.log(`${config.name}: ${info.type}`);
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  console.log(`total parameters: ${info.totalParameters.toLocaleString('en-US')}`);
}

export function buildProgram(): Command {
  const program = new Command('bnrun')
    .description('Reproduce the Batch Normalization paper (Ioffe & Szegedy 2015): train, validate and compare runs')
    .exitOverride();

  program
    .command('train')
    .description('train the network a config describes and log metrics to a run directory')
    .argument('[config]', 'config file (.json, .yaml or .yml)')
    .option('--resume <run-dir>', 'continue an interrupted run from its last checkpoint')
    .option('--steps <n>', 'override training.steps', positiveInt('--steps'))
    .option('--seed <n>', 'override seed', nonNegativeInt('--seed'))
    .option('--eval-every <n>', 'override training.evalEvery', positiveInt('--eval-every'))
    .option('--out <dir>', 'run directory (default: results/<name>)')
    .addOption(new Option('--backend <name>', 'tfjs backend; auto: tensorflow if installed, else wasm, else cpu').choices(BACKENDS).default('auto'))
    .option('--no-progress', 'one line per evaluation instead of a progress bar')
    .action(trainCommand);

  program
    .command('validate')
    .description('check a config against the schema without training')
    .argument('<config>', 'config file (.json, .yaml or .yml)')
    .option('--print', 'print the resolved config with every default filled in', false)
    .action(validateCommand);

  program
    .command('info')
    .description("print each layer's output shape and parameter count, and the total")
    .argument('<config>', 'config file (.json, .yaml or .yml)')
    .action(infoCommand);

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

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    // compare and plot report their own exit code (0 when anything was compared).
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof BnrunError) {
      console.error(`bnrun: ${e.message}`);
      return e.exitCode;
    }
    // An unexpected failure is a bug or a resource limit: one line, the stack on request.
    const err = e as Error;
    console.error(process.env.BNRUN_DEBUG ? `bnrun: ${err.stack ?? String(e)}` : `bnrun: internal error: ${(err.message ?? String(e)).split('\n')[0]} (BNRUN_DEBUG=1 shows the stack; what the run logged so far is kept)`);
    return 1;
  }
}
