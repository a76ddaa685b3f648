/**
 * `bnrun worker --queue <url>`: the command-line face of src/queue/worker.ts
 * (argument parsing only).
 */
import * as os from 'node:os';
import { Command, Option } from 'commander';
import { BACKENDS } from '../backend';
import { ConfigError } from '../errors';
import { runWorker } from '../queue/worker';
import { parseQueueUrl } from '../queue/url';
import { sanitize } from '../text';
import { parseJobs } from './sweep';

interface WorkerFlags {
  queue?: string;
  jobs?: number;
  backend: string;
  work: string;
  dataRoot: string[];
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description(
      'take runs from a `bnrun sweep --queue` and train them here, N at a time, until stopped (Ctrl-C or SIGTERM: the runs checkpoint and go back to the queue)',
    )
    .addOption(new Option('--queue <url>', 'Redis of the queue: redis://[:password@]host:port[/db], rediss:// for TLS').env('BNRUN_QUEUE'))
    .option('--jobs <n>', 'runs at a time (default: the number of CPU cores)', parseJobs)
    .addOption(new Option('--backend <name>', 'tfjs backend of every run').choices(BACKENDS).default('auto'))
    .option('--work <dir>', "where the runs' directories and checkpoints go: <work>/<job id>/<run>", 'results/.worker')
    .option(
      '--data-root <dir>',
      "a directory a job's config may name data files under (data.path, data.valLabels); repeatable; default: none, only the datasets' default locations",
      collect,
      [],
    )
    .action(async (flags: WorkerFlags) => {
      if (flags.queue === undefined) throw new ConfigError('worker needs --queue redis://host:port (or BNRUN_QUEUE)');
      const target = parseQueueUrl(flags.queue);
      process.exitCode = await runWorker({
        target,
        jobs: flags.jobs ?? os.availableParallelism(),
        backend: flags.backend,
        work: flags.work,
        dataRoots: flags.dataRoot,
        say: (line) => void process.stdout.write(`${sanitize(target.redact(line))}\n`),
      });
    });
}
