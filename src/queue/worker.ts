/**
 * `bnrun worker`: takes runs from the queue, N at a time, and runs each as a
 * `bnrun train` child in its own work directory (src/sweep/execute.ts, the
 * same code a local sweep uses), reporting progress through the job and
 * sending the run's files back as the job's result.
 *
 * Where a run lives: `<work>/<job id>/<run>`. A job picked up again (after
 * this worker was stopped or killed, or after a failure) resumes from a
 * checkpoint only when that directory holds one, i.e. on the worker that ran
 * it before, or on any worker sharing the same work directory; anywhere else
 * it starts over. Either way the sweep receives one complete run.
 *
 * Stopping: SIGINT or SIGTERM stops each current run at its next step with a
 * checkpoint, hands its job back to the queue (not counted as a failed
 * attempt), and exits 0 once every run is back; a second signal a second or
 * more later stops the runs at once. A SIGKILLed worker hands nothing back:
 * its jobs' locks expire and BullMQ's stalled-job check moves them back to the
 * queue for another worker (the runs it started see their parent vanish,
 * checkpoint and exit).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Job, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import { LineDisplay } from '../sweep/display';
import { RunEvent, RunSpec } from '../sweep/events';
import { executeRun } from '../sweep/execute';
import { acceptJob, JobRefused } from './accept';
import { bullConnection, ConnectionWatch, errorText, probe } from './connection';
import { JobResult, ProgressEvent, QUEUE_NAME, RESULT_FILES } from './jobs';
import { QueueTarget } from './url';

export interface WorkerOptions {
  target: QueueTarget;
  /** Runs at a time. */
  jobs: number;
  backend: string;
  /** Where run directories go: `<work>/<job id>/<run>`. */
  work: string;
  /** Directories a job's config may name data files under. */
  dataRoots: string[];
  /** One line of output (no newline). */
  say(line: string): void;
}

/** How long a job's lock lasts without renewal (renewed every half of it): a killed worker's job is back in the queue after about this plus STALLED_CHECK_MS. */
const LOCK_MS = 30_000;
const STALLED_CHECK_MS = 15_000;
/** A job whose worker dies this many times fails for good (a run that kills its machine should not take down every worker). */
const MAX_STALLED = 5;
const SAME_PRESS_MS = 1000;

type StopName = 'SIGINT' | 'SIGTERM';

/** The run's files as text; the sweep writes them under its --out. Checkpoints stay here. */
function readResultFiles(dir: string): JobResult['files'] {
  const files: JobResult['files'] = {};
  for (const name of RESULT_FILES) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) files[name] = fs.readFileSync(file, 'utf8');
  }
  return files;
}

/** What a worker forwards to the sweep: live events only; how the run ended travels as the job's result. */
function forwarded(e: RunEvent): ProgressEvent | null {
  return e.kind === 'launched' || e.kind === 'started' || e.kind === 'progress' || e.kind === 'phase' || e.kind === 'evaluated' || e.kind === 'requeued'
    ? e
    : null;
}

export async function runWorker(opts: WorkerOptions): Promise<number> {
  const { target, say } = opts;
  await probe(target);
  fs.mkdirSync(opts.work, { recursive: true });
  const me = `${os.hostname()} pid ${process.pid}`;
  const stop = new AbortController();
  const force = new AbortController();

  const processJob = async (job: Job<unknown, JobResult>, token?: string): Promise<JobResult> => {
    let accepted;
    try {
      accepted = acceptJob(job.id, job.data, opts.work, opts.dataRoots);
    } catch (e) {
      if (e instanceof JobRefused) {
        say(`job ${job.id ?? '?'}: refused: ${e.message}`);
        throw new UnrecoverableError(e.message);
      }
      throw e;
    }
    const { payload, config, jobDir } = accepted;
    fs.mkdirSync(jobDir, { recursive: true });
    // The config `bnrun train` reads: the validated one, written by this worker (the job names no file).
    const configFile = path.join(jobDir, 'job-config.json');
    fs.writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
    const spec: RunSpec = {
      id: payload.run,
      name: config.name,
      seed: payload.seed,
      configFile,
      dir: path.join(jobDir, payload.run),
      steps: config.training.steps,
      expect: config.expect ?? 'train',
    };
    const log = new LineDisplay([spec], (line) => say(line));
    // Progress updates in order, one at a time; a lost one only delays the sweep's display.
    let sent: Promise<void> = Promise.resolve();
    const send = (e: ProgressEvent) => {
      sent = sent.then(() => job.updateProgress(e)).catch(() => undefined);
    };
    const outcome = await executeRun(spec, {
      backend: opts.backend,
      signal: stop.signal,
      force: force.signal,
      onEvent: (e) => {
        log.event(e);
        const f = forwarded(e);
        if (f) send(f);
      },
    });
    await sent;

    if (outcome.status === 'completed' || outcome.status === 'diverged') {
      return { outcome, files: readResultFiles(spec.dir), worker: me };
    }
    if (outcome.status === 'interrupted' && stop.signal.aborted) {
      const at = outcome.step !== null ? ` at step ${outcome.step}` : '';
      send({ kind: 'requeued', run: spec.id, why: `worker ${me} stopped (${String(stop.signal.reason)})${at}; its checkpoint stays on that worker` });
      await sent;
      // Back to the queue without counting an attempt: this run did nothing wrong.
      await job.moveToWait(token);
      say(`${spec.id}: back in the queue`);
      throw new WaitingError();
    }
    const why = outcome.message ?? outcome.status;
    // `bnrun train` exits 2 for a config it refuses: no other worker would take it either.
    if (/^exit 2:/.test(why)) throw new UnrecoverableError(why);
    throw new Error(why);
  };

  const worker = new Worker<unknown, JobResult>(QUEUE_NAME, processJob, {
    connection: bullConnection(target),
    concurrency: opts.jobs,
    lockDuration: LOCK_MS,
    stalledInterval: STALLED_CHECK_MS,
    maxStalledCount: MAX_STALLED,
    autorun: false,
  });
  // Connection errors are reported once per retry by the watch; anything else is said once.
  let lastError = '';
  worker.on('error', (e: unknown) => {
    const text = errorText(e, target);
    if (text === lastError || /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Connection is closed|connect/i.test(text)) return;
    lastError = text;
    say(`worker: ${text}`);
  });
  worker.on('failed', (job: Job<unknown, JobResult> | undefined, e: Error) => {
    if (job && !(e instanceof WaitingError)) say(`${String(job.name)}: failed on this worker: ${target.redact(e.message)}`);
  });
  const watch = new ConnectionWatch(target, say);

  let first = 0;
  const handlers = (['SIGINT', 'SIGTERM'] as StopName[]).map((name) => {
    const handler = () => {
      if (!stop.signal.aborted) {
        say(`${name}: stopping: each current run checkpoints and goes back to the queue (${name} again: stop at once)`);
        first = performance.now();
        stop.abort(name);
        // Takes no new job; resolves once the current ones are handed back.
        void worker.close();
      } else if (performance.now() - first >= SAME_PRESS_MS) {
        force.abort(name);
      }
    };
    process.on(name, handler);
    return [name, handler] as const;
  });

  say(`worker ${me}: ${opts.jobs} run${opts.jobs === 1 ? '' : 's'} at a time from ${target.shown}, work directory ${opts.work}`);
  try {
    await worker.run();
  } finally {
    handlers.forEach(([name, handler]) => process.off(name, handler));
    watch.close();
    await worker.close();
  }
  say(`worker ${me}: stopped`);
  return 0;
}
