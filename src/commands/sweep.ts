/**
 * `bnrun sweep <configs or directories...>`: the command-line face of
 * src/sweep/ (argument parsing only).
 */
import * as os from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BACKENDS } from '../backend';
import { ConfigError } from '../errors';
import { queueExecutor } from '../queue/follow';
import { parseQueueUrl, QueueTarget } from '../queue/url';
import { runSweep } from '../sweep/sweep';

/** "0,1,2" -> [0, 1, 2]: distinct non-negative integers. */
export function parseSeeds(value: string): number[] {
  const seeds = value.split(',').map((s) => s.trim());
  const bad = seeds.find((s) => !/^\d+$/.test(s) || !Number.isSafeInteger(Number(s)));
  if (bad !== undefined) throw new InvalidArgumentError(`--seeds expects non-negative integers separated by commas, e.g. 0,1,2; got "${bad}"`);
  const nums = seeds.map(Number);
  const dup = nums.find((n, i) => nums.indexOf(n) !== i);
  if (dup !== undefined) throw new InvalidArgumentError(`--seeds lists ${dup} twice`);
  return nums;
}

export function parseJobs(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`--jobs expects a positive integer, got "${value}"`);
  return n;
}

/** The argument as a shell would need it, for the rerun hint. */
function shellWord(arg: string): string {
  return /^[A-Za-z0-9_./:=,@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

interface SweepFlags {
  seeds?: number[];
  jobs?: number;
  out: string;
  backend: string;
  progress: boolean;
  queue?: string;
}

/** With --queue the workers decide how many runs at a time and on which backend: the sweep's own flags would do nothing. */
function queueTarget(flags: SweepFlags, cmd: Command): QueueTarget | undefined {
  if (flags.queue === undefined) return undefined;
  const target = parseQueueUrl(flags.queue);
  for (const [key, flag] of [
    ['jobs', '--jobs'],
    ['backend', '--backend'],
  ] as const) {
    if (cmd.getOptionValueSource(key) === 'cli') throw new ConfigError(`${flag} applies to local runs; with --queue, give it to each \`bnrun worker\``);
  }
  return target;
}

export function registerSweep(program: Command): void {
  program
    .command('sweep')
    .description(
      'train every config x seed, each run in its own process, N at a time; skip finished runs and resume unfinished ones; print the Figure 3 table and write the figures',
    )
    .argument('<configs...>', 'config files, or directories whose .json/.yaml/.yml files are configs')
    .option('--seeds <list>', "seeds to run every config at, e.g. 0,1,2 (default: each config's own seed)", parseSeeds)
    .option('--jobs <n>', 'runs at a time (default: the number of CPU cores)', parseJobs)
    .option('--out <dir>', 'where the run directories go', 'results')
    .addOption(new Option('--backend <name>', 'tfjs backend of every run').choices(BACKENDS).default('auto'))
    .option('--no-progress', 'one line per event instead of the live table')
    .addOption(
      new Option(
        '--queue <url>',
        'run on `bnrun worker`s through the Redis at redis://[:password@]host:port[/db] (rediss:// for TLS) instead of here; results still land in --out',
      ).env('BNRUN_QUEUE'),
    )
    .action(async (inputs: string[], flags: SweepFlags, cmd: Command) => {
      const target = queueTarget(flags, cmd);
      const start = process.argv.indexOf('sweep');
      // The hint repeats the command line; a password in it is masked (BNRUN_QUEUE keeps it off the command line).
      const words = (start >= 0 ? process.argv.slice(start) : ['sweep', ...inputs]).map((w) => (target ? target.redact(w) : w));
      const rerun = words.map(shellWord).join(' ');
      process.exitCode = await runSweep(inputs, {
        seeds: flags.seeds,
        jobs: flags.jobs ?? os.availableParallelism(),
        out: flags.out,
        backend: flags.backend,
        progress: flags.progress,
        rerun,
        executor: target ? queueExecutor(target, flags.out) : undefined,
      });
    });
}
