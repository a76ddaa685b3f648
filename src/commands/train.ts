/** `bnrun train <config>` and `bnrun train --resume <run-dir>`. */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { BACKEND_HELP, BACKENDS, BackendRequest, selectBackend } from '../backend';
import { loadConfig, Overrides, validateConfig } from '../config/load';
import { Config } from '../config/schema';
import { ConfigError } from '../errors';
import { completedSummary, RunDir } from '../logging/run';
import { IpcTrainEvents } from '../train/events';
import { StopSignal } from '../train/signals';
import { RunSummary, train } from '../train/train';
import { numberArg } from './args';

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
      throw new ConfigError(
        `--resume continues a run exactly as it was configured; drop ${configFile !== undefined ? 'the config argument' : `--${fixed[0].replace('evalEvery', 'eval-every')}`}`,
      );
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
  // A completed run stays as it is: its population pass and summary.json are not redone.
  if (flags.resume !== undefined && completedSummary(outDir)) {
    console.log(`${outDir}: run ${config.name} has already completed (see its summary.json); nothing to do`);
    return;
  }
  // From here a signal stops the run in order: even during the backend's start, it is seen before anything is written.
  const stop = new StopSignal();
  // Forked by `bnrun sweep`: live progress goes to the parent too.
  const events = IpcTrainEvents.open();
  let s: RunSummary;
  try {
    // Said before the backend starts (a second or more): the user sees at once what is being run.
    const what = flags.resume !== undefined ? 'resuming' : 'run';
    console.log(`${what}: ${config.name} -> ${outDir} (${config.training.steps} steps, batch ${config.training.batchSize})`);
    const backend = await selectBackend(flags.backend);
    console.log(`backend: ${backend.name} (${backend.reason})`);
    s = await train({ config, configSource, outDir, backend, resume: flags.resume !== undefined, tty: flags.progress ? undefined : false, events, stop });
  } finally {
    events?.close();
    stop.dispose();
  }
  const final = s.final;
  // BN nets: the final number uses Algorithm 2's population statistics, the evaluations during training the moving averages.
  const exact = final
    ? `final test accuracy ${(final.accuracy * 100).toFixed(2)}%${final.statistics === 'population' ? ' (population statistics)' : ''}`
    : 'no final evaluation';
  const best = s.maxAccuracy ? `, best during training ${(s.maxAccuracy.accuracy * 100).toFixed(2)}% at step ${s.maxAccuracy.step}` : '';
  console.log(`done: ${exact}${best}; ${s.wallTimeS.toFixed(1)} s wall, ${s.trainMsPerStep.toFixed(2)} ms/step on ${s.backend.name}; results in ${outDir}`);
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train the network a config describes and log metrics to a run directory')
    .argument('[config]', 'config file (.json, .yaml or .yml)')
    .option('--resume <run-dir>', 'continue an interrupted run from its last checkpoint')
    .option('--steps <n>', 'override training.steps', numberArg('--steps'))
    .option('--seed <n>', 'override seed', numberArg('--seed'))
    .option('--eval-every <n>', 'override training.evalEvery', numberArg('--eval-every'))
    .option('--out <dir>', 'run directory (default: results/<name>)')
    .addOption(new Option('--backend <name>', BACKEND_HELP).choices(BACKENDS).default('auto'))
    .option('--no-progress', 'one line per evaluation instead of a progress bar')
    .action(trainCommand);
}
