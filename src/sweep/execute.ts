/**
 * Runs one config x seed to its end as a `bnrun train` child process: skips
 * it when its run directory holds a finished run, resumes it when it holds an
 * unfinished one, starts it otherwise; reports RunEvents while it runs and
 * returns how it ended. Used by `bnrun sweep` for each of its runs; a queue
 * worker can call it the same way with its own listener and abort signal.
 *
 * Stopping: aborting `signal` sends the child the signal named by the abort
 * reason ('SIGINT' or 'SIGTERM'; default SIGTERM). The child stops at the
 * next step boundary, checkpoints and exits 130/143, and the run ends as
 * 'interrupted', to be resumed by the next call. Children run in their own
 * process group, so a Ctrl-C at the terminal reaches them once, through the
 * sweep, never twice (a second signal makes `bnrun train` exit at once).
 */
import { ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import { isRecord } from '../json';
import { TrainEvent } from '../train/events';
import { RunEventListener, RunOutcome, RunSpec } from './events';
import { inspectRunDir, outcomeFromSummary, readSummary } from './state';

/** bin/bnrun.js, from dist/src/sweep/. */
export const BNRUN_BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'bnrun.js');

export interface ExecuteOptions {
  /** --backend for the child (default auto). */
  backend?: string;
  onEvent: RunEventListener;
  /** Abort to stop the run cleanly; the reason may name the signal to send. */
  signal?: AbortSignal;
  /** Abort after `signal` to make the child exit at once, without its checkpoint (what it logged stays). */
  force?: AbortSignal;
}

const SIGNAL_EXIT: Record<number, string> = { 130: 'SIGINT', 143: 'SIGTERM' };
const STDERR_LINES_KEPT = 20;

function isTrainEvent(m: unknown): m is TrainEvent {
  return (
    isRecord(m) && (m.type === 'start' || m.type === 'step' || m.type === 'eval' || (m.type === 'phase' && isRecord(m.phase))) && typeof m.step === 'number'
  );
}

/** The child's last error line ("bnrun: ..."), or its last line of any kind. */
function lastErrorLine(lines: string[]): string | null {
  const err = [...lines].reverse().find((l) => l.startsWith('bnrun:'));
  return err ?? lines[lines.length - 1] ?? null;
}

/** The arguments of `bnrun train` for this run: a new run, or a resume of its directory. */
export function trainArgs(spec: RunSpec, resume: boolean, backend = 'auto'): string[] {
  const common = ['--no-progress', '--backend', backend];
  return resume ? ['train', '--resume', spec.dir, ...common] : ['train', spec.configFile, '--seed', String(spec.seed), '--out', spec.dir, ...common];
}

export async function executeRun(spec: RunSpec, opts: ExecuteOptions): Promise<RunOutcome> {
  const state = inspectRunDir(spec);
  if (state.kind === 'finished') {
    opts.onEvent({ kind: 'skipped', run: spec.id, outcome: state.outcome });
    return state.outcome;
  }
  const resume = state.kind === 'unfinished';
  if (opts.signal?.aborted) return outcomeFromSummary(spec, readSummary(spec.dir), 'interrupted');

  const child: ChildProcess = fork(BNRUN_BIN, trainArgs(spec, resume, opts.backend), {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    detached: true,
  });
  opts.onEvent({ kind: 'launched', run: spec.id, resume });

  let lastStep: number | null = null;
  child.on('message', (m: unknown) => {
    if (!isTrainEvent(m)) return;
    lastStep = m.step;
    if (m.type === 'start' && typeof m.total === 'number') opts.onEvent({ kind: 'started', run: spec.id, fromStep: m.step, total: m.total });
    else if (m.type === 'step') opts.onEvent({ kind: 'progress', run: spec.id, step: m.step });
    else if (m.type === 'phase') opts.onEvent({ kind: 'phase', run: spec.id, step: m.step, phase: m.phase });
    else if (m.type === 'eval')
      opts.onEvent({ kind: 'evaluated', run: spec.id, step: m.step, accuracy: m.accuracy, testLoss: m.testLoss, trainLoss: m.trainLoss });
  });

  const stderr: string[] = [];
  let partial = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    stderr.push(...parts.filter((l) => l.trim() !== ''));
    stderr.splice(0, Math.max(0, stderr.length - STDERR_LINES_KEPT));
  });

  const signalChild = (by: AbortSignal | undefined) => () => {
    const reason: unknown = by?.reason;
    const sig: NodeJS.Signals = reason === 'SIGINT' || reason === 'SIGTERM' ? reason : 'SIGTERM';
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  const stop = signalChild(opts.signal);
  const force = signalChild(opts.force);
  opts.signal?.addEventListener('abort', stop);
  opts.force?.addEventListener('abort', force);

  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error: Error | null }>((resolve) => {
    let error: Error | null = null;
    child.on('error', (e) => (error = e));
    child.on('close', (code, signal) => resolve({ code, signal, error }));
  });
  opts.signal?.removeEventListener('abort', stop);
  opts.force?.removeEventListener('abort', force);
  if (partial.trim() !== '') stderr.push(partial);

  const summary = readSummary(spec.dir);
  let outcome: RunOutcome;
  if (exit.code === 0 && summary?.status === 'completed') {
    outcome = outcomeFromSummary(spec, summary, 'completed');
  } else if (exit.code === 1 && summary?.status === 'diverged') {
    outcome = outcomeFromSummary(spec, summary, 'diverged');
  } else if ((exit.code !== null && SIGNAL_EXIT[exit.code]) || exit.signal === 'SIGINT' || exit.signal === 'SIGTERM') {
    outcome = { ...outcomeFromSummary(spec, summary, 'interrupted'), step: lastStep };
  } else {
    const why = exit.error ? `could not start bnrun train (${exit.error.message})` : (lastErrorLine(stderr) ?? 'no output');
    const how = exit.signal ? `killed by ${exit.signal}` : `exit ${exit.code}`;
    outcome = { ...outcomeFromSummary(spec, summary, 'failed'), step: lastStep, message: `${how}: ${why}` };
  }
  opts.onEvent({ kind: 'finished', run: spec.id, outcome });
  return outcome;
}
