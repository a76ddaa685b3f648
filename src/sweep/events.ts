/**
 * The vocabulary of a sweep: one run (a config at one seed) and what it
 * reports while it runs. The executor (execute.ts) produces these events, the
 * display (display.ts) and the exit code consume them; nothing else passes
 * between the two, so the events could as well arrive from a job queue.
 * Everything here is plain JSON.
 */
import type { Phase } from '../logging/progress';

/** What a config says its runs should show (schema field `expect`). */
export type Expectation = 'train' | 'diverge';

/** One config x seed: a run of its own, in a run directory of its own. */
export interface RunSpec {
  /** Unique within the sweep: the run directory's name under --out. */
  id: string;
  /** The config's name (what `bnrun compare` groups seeds by). */
  name: string;
  seed: number;
  /** The config file as given; the run trains `bnrun train <configFile> --seed <seed> --out <dir>`. */
  configFile: string;
  dir: string;
  /** training.steps of the resolved config. */
  steps: number;
  expect: Expectation;
}

/** How a run ended (or how an earlier sweep left it, for a skipped run). */
export type RunStatus = 'completed' | 'diverged' | 'interrupted' | 'failed';

export interface RunOutcome {
  status: RunStatus;
  /** True when this outcome is what the config asks for: completed, or diverged with `expect: "diverge"`. */
  ok: boolean;
  /** The last step the run reached (its divergence step if it diverged). */
  step: number | null;
  /** summary.json: the final accuracy (Algorithm 2 statistics for BN nets) and the best evaluation. */
  finalAccuracy: number | null;
  best: { accuracy: number; step: number } | null;
  /** Wall time of the whole run, over all its resumes (summary.json), when known. */
  wallTimeS: number | null;
  /** One line for a failure: the run's own error line, or why it could not start. */
  message: string | null;
}

export type RunEvent =
  /** Its process was started; `resume` when it continues a run directory an earlier sweep left. */
  | { kind: 'launched'; run: string; resume: boolean }
  /** Training begins at `fromStep` (non-zero: resumed from a checkpoint). */
  | { kind: 'started'; run: string; fromStep: number; total: number }
  | { kind: 'progress'; run: string; step: number }
  /** What the run is doing now: training, evaluating, Algorithm 2's population pass k/N. */
  | { kind: 'phase'; run: string; step: number; phase: Phase }
  | { kind: 'evaluated'; run: string; step: number; accuracy: number; testLoss: number; trainLoss: number | null }
  /** Finished in an earlier sweep; not run again. */
  | { kind: 'skipped'; run: string; outcome: RunOutcome }
  | { kind: 'finished'; run: string; outcome: RunOutcome }
  /** Queue sweeps: the run went back to the queue (its worker stopped or died, or failed with retries left). */
  | { kind: 'requeued'; run: string; why: string };

export type RunEventListener = (event: RunEvent) => void;
