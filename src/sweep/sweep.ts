/**
 * `bnrun sweep`: every config x seed as its own `bnrun train` process, `jobs`
 * at a time; a live display; on SIGINT/SIGTERM every run checkpoints and the
 * sweep exits 130/143 with the command that continues it; at the end the
 * Figure 3 table of the sweep's runs and the figures, as `bnrun compare`
 * prints them. A rerun skips finished runs and resumes unfinished ones.
 *
 * Exit code: 0 when every run completed or diverged as its config expects
 * (`expect: "diverge"`), 1 when any run failed or diverged unexpectedly (or the
 * table could not be made), 2 for bad input (nothing is started).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compareCommand, Io, processIo } from '../commands/compare';
import { BnrunError } from '../errors';
import { LineDisplay, LiveDisplay, SweepDisplay, clock, describeOutcome } from './display';
import { RunEventListener, RunOutcome, RunSpec } from './events';
import { executeRun } from './execute';
import { planSweep } from './plan';

export interface SweepOptions {
  /** Seeds to run every config at (default: each config's own seed). */
  seeds?: number[];
  /** Runs at a time. */
  jobs: number;
  /** Where the run directories go. */
  out: string;
  backend: string;
  /** A live table on a terminal; false: one line per event. */
  progress: boolean;
  /** The command line to repeat in the hint after an interruption (without `npx bnrun`). */
  rerun: string;
  io?: Io;
  /** Who runs the runs (default: local `bnrun train` processes, `jobs` at a time). */
  executor?: SweepExecutor;
}

/** What an executor gets: where events go, the two stop signals, a line for the user. */
export interface ExecutorContext {
  onEvent: RunEventListener;
  /** Aborted by the first SIGINT/SIGTERM: stop cleanly (runs checkpoint). */
  stop: AbortSignal;
  /** Aborted by a second signal: stop at once. */
  force: AbortSignal;
  /** A diagnostic line, shown without breaking the live table. */
  say(line: string): void;
}

/**
 * Runs a sweep's runs and says how each ended: local processes (below) or a
 * job queue (src/queue/follow.ts). Every run the sweep plans gets an outcome
 * unless the sweep was stopped.
 */
export interface SweepExecutor {
  /** How the first line describes where the runs go, e.g. "2 at a time". */
  where(runs: RunSpec[]): string;
  run(runs: RunSpec[], ctx: ExecutorContext): Promise<Map<string, RunOutcome>>;
  /** Checks before anything is printed or started (a queue: that Redis answers). */
  prepare?(): Promise<void>;
  /** What the first signal's line says happens now (default: every run stops at its next step with a checkpoint). */
  stopping?: string;
  /** What the interruption line says the stopped runs are doing (default: checkpointed where started). */
  stoppedNote?: string;
}

/** The local executor: `jobs` `bnrun train` children at a time, longest runs first. */
export function localExecutor(jobs: number, backend: string): SweepExecutor {
  return {
    where: (runs) => `${Math.min(jobs, runs.length)} at a time`,
    run: async (runs, ctx) => {
      const outcomes = new Map<string, RunOutcome>();
      // Longest first (by steps): the last runs to start are short, so the slots do not idle at the end behind one long run.
      const order = [...runs].sort((a, b) => b.steps - a.steps);
      await pool(
        order,
        jobs,
        async (spec: RunSpec) => {
          outcomes.set(spec.id, await executeRun(spec, { backend, onEvent: ctx.onEvent, signal: ctx.stop, force: ctx.force }));
        },
        () => ctx.stop.aborted,
      );
      return outcomes;
    },
  };
}

type StopName = 'SIGINT' | 'SIGTERM';
const STOP_EXIT: Record<StopName, number> = { SIGINT: 130, SIGTERM: 143 };

/** Runs `work` over items, at most `jobs` at once, starting no new item once `stopped()`. */
async function pool<T>(items: T[], jobs: number, work: (item: T) => Promise<void>, stopped: () => boolean): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stopped()) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
}

/**
 * A signal this soon after the first is the same Ctrl-C arriving twice:
 * `npx` forwards the terminal's SIGINT to bnrun, which got it from the
 * terminal already.
 */
const SAME_PRESS_MS = 1000;

/** Stops the sweep on SIGINT/SIGTERM: the first aborts `stop` (each run checkpoints), a later second one aborts `force` (runs exit at once). */
function trapSignals(stop: AbortController, force: AbortController, say: (line: string) => void, stopping?: string): () => void {
  let first = 0;
  const handlers = (['SIGINT', 'SIGTERM'] as StopName[]).map((name) => {
    const handler = () => {
      if (!stop.signal.aborted) {
        say(`${name}: ${stopping ?? `stopping every run at its next step; each saves a checkpoint (${name} again: stop at once)`}`);
        first = performance.now();
        stop.abort(name);
      } else if (performance.now() - first >= SAME_PRESS_MS) {
        force.abort(name);
      }
    };
    process.on(name, handler);
    return [name, handler] as const;
  });
  return () => handlers.forEach(([name, handler]) => process.off(name, handler));
}

function tally(outcomes: Map<string, RunOutcome>): string {
  const counts = new Map<string, number>();
  for (const o of outcomes.values()) counts.set(o.status, (counts.get(o.status) ?? 0) + 1);
  return [...counts.entries()].map(([s, n]) => `${n} ${s}`).join(', ');
}

export async function runSweep(inputs: string[], opts: SweepOptions): Promise<number> {
  const io = opts.io ?? processIo;
  const plan = planSweep(inputs, { seeds: opts.seeds, out: opts.out });
  const runs = plan.runs;
  const executor = opts.executor ?? localExecutor(opts.jobs, opts.backend);
  await executor.prepare?.();
  const seeds = opts.seeds ? `${opts.seeds.length} seed${opts.seeds.length === 1 ? '' : 's'}` : "each config's own seed";
  io.stdout(
    `sweep: ${runs.length} run${runs.length === 1 ? '' : 's'} (${plan.configFiles.length} config${plan.configFiles.length === 1 ? '' : 's'} x ${seeds}), ${executor.where(runs)} -> ${opts.out}\n`,
  );

  const display: SweepDisplay =
    opts.progress && process.stderr.isTTY ? new LiveDisplay(runs, process.stderr) : new LineDisplay(runs, (line) => io.stdout(`${line}\n`));
  const stop = new AbortController();
  const force = new AbortController();
  // While the live table is drawn, a message goes below it when it closes.
  const held: string[] = [];
  const say = (line: string) => (display instanceof LineDisplay ? io.stderr(line) : held.push(line));
  const untrap = trapSignals(stop, force, say, executor.stopping);
  let outcomes = new Map<string, RunOutcome>();
  const t0 = performance.now();
  try {
    outcomes = await executor.run(runs, { onEvent: (e) => display.event(e), stop: stop.signal, force: force.signal, say });
  } finally {
    display.close();
    untrap();
    held.forEach((line) => io.stderr(line));
  }
  const wall = clock((performance.now() - t0) / 1000);

  if (stop.signal.aborted) {
    const name = stop.signal.reason as StopName;
    const left = runs.filter((r) => outcomes.get(r.id)?.status !== 'completed' && outcomes.get(r.id)?.status !== 'diverged').length;
    throw new BnrunError(
      `${name}: sweep stopped after ${wall}; ${left} run${left === 1 ? '' : 's'} left unfinished (${executor.stoppedNote ?? 'checkpointed where started'}); rerun \`npx bnrun ${opts.rerun}\` to continue`,
      STOP_EXIT[name],
    );
  }

  const bad = runs.filter((r) => !outcomes.get(r.id)?.ok);
  io.stdout(`sweep: ${tally(outcomes)} in ${wall}\n`);
  for (const r of bad) {
    const o = outcomes.get(r.id);
    // A failed or interrupted run is retried (resumed where it has a checkpoint) by the same command; a diverged one is final.
    const retry = o?.status === 'diverged' ? '' : `; rerun \`npx bnrun ${opts.rerun}\` to retry it`;
    io.stderr(`bnrun: ${r.id}: ${o ? describeOutcome(o) : 'not run'} (${r.dir})${retry}`);
  }
  // The table covers this sweep's runs only; `bnrun compare <out>` covers everything under --out.
  const dirs = runs.map((r) => r.dir).filter((d) => fs.existsSync(path.join(d, 'metrics.csv')));
  let compared = 1;
  if (dirs.length > 0) compared = await compareCommand(opts.out, { runDirs: dirs, plots: true }, io);
  else io.stderr('bnrun: no run logged an evaluation; no table');
  return bad.length > 0 || compared !== 0 ? 1 : 0;
}
