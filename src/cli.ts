/**
 * The command line: registers one command per file under src/commands/.
 * Every error ends as one line on stderr and an exit code: 0 ok, 1 runtime
 * or data error, 2 usage or config error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { registerCompare } from './commands/compare';
import { registerInfo } from './commands/info';
import { registerPlot } from './commands/plot';
import { registerSweep } from './commands/sweep';
import { registerTrain } from './commands/train';
import { registerValidate } from './commands/validate';
import { registerWorker } from './commands/worker';
import { BnrunError, fileError } from './errors';
import { sanitize } from './text';

/** The version in package.json (dist/src/cli.js sits two levels below it). */
export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

export function buildProgram(): Command {
  const program = new Command('bnrun')
    .description('Reproduce the Batch Normalization paper (Ioffe & Szegedy 2015): train, validate and compare runs')
    .version(packageVersion(), '-V, --version', 'print the bnrun version')
    .exitOverride();
  registerTrain(program);
  registerValidate(program);
  registerInfo(program);
  registerCompare(program);
  registerPlot(program);
  registerSweep(program);
  registerWorker(program);
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
      console.error(`bnrun: ${sanitize(e.message)}`);
      return e.exitCode;
    }
    // A filesystem error that no caller named: still one line naming its file, exit 1.
    const file = (e as NodeJS.ErrnoException).path;
    const named = typeof file === 'string' ? fileError(file, e, 'failed') : e;
    if (named instanceof BnrunError) {
      console.error(`bnrun: ${sanitize(named.message)}`);
      return named.exitCode;
    }
    // An unexpected failure is a bug or a resource limit: one line, the stack on request.
    const err = e as Error;
    console.error(
      process.env.BNRUN_DEBUG
        ? `bnrun: ${err.stack ?? String(e)}`
        : `bnrun: internal error: ${sanitize((err.message ?? String(e)).split('\n')[0])} (BNRUN_DEBUG=1 shows the stack; what the run logged so far is kept)`,
    );
    return 1;
  }
}
