/**
 * `bnrun sweep --queue`: the sweep's executor that hands its runs to
 * `bnrun worker`s through BullMQ instead of starting them here. One job per
 * run that --out does not already hold finished; the workers' progress comes
 * back as the same RunEvents a local sweep shows, and each finished job's
 * files are written into --out (src/queue/results.ts), after which the job is
 * removed from Redis.
 *
 * A job's id is `<run>.<hash>` with the hash over this machine, the absolute
 * --out and the run's config, so a rerun of the same sweep finds its jobs
 * again (still queued, running, or finished while no sweep was watching)
 * instead of adding them twice, and a changed config is a new job.
 *
 * Faults. Job states are polled, not only heard as events, so nothing is
 * missed across a Redis outage: while Redis is away the sweep waits (the
 * connection watch says so, with its backoff); a job that vanished (Redis
 * restarted without its data) is added again; a job that failed in an
 * earlier sweep is retried once more. A job that fails for good (a refused
 * config, or failed on every attempt) ends as a failed run with its reason.
 * Ctrl-C stops following: the jobs stay queued and the workers keep running
 * them; the same command collects them later.
 */
import { createHash } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { Job, Queue, QueueEvents } from 'bullmq';
import { loadConfig } from '../config/load';
import { RunOutcome, RunSpec } from '../sweep/events';
import { inspectRunDir, outcomeFromSummary, readSummary } from '../sweep/state';
import { ExecutorContext, SweepExecutor } from '../sweep/sweep';
import { bullConnection, ConnectionWatch, errorText, probe } from './connection';
import { JobResultSchema, makePayload, ProgressEventSchema, QUEUE_NAME } from './jobs';
import { checkResult, writeResult } from './results';
import { QueueTarget } from './url';

/** Attempts per job: a run that fails on one worker (its data missing there, a crash) gets two more, with backoff. */
const ATTEMPTS = 3;
const RETRY_DELAY_MS = 5000;
/** How often job states are checked besides when an event says one changed. */
const POLL_MS = 1000;

function jobId(spec: RunSpec, payloadJson: string, out: string): string {
  const hash = createHash('sha256')
    .update(`${os.hostname()}\0${path.resolve(out)}\0${payloadJson}`)
    .digest('hex')
    .slice(0, 16);
  return `${spec.id}.${hash}`;
}

interface Tracked {
  spec: RunSpec;
  id: string;
  payload: ReturnType<typeof makePayload>;
  /** Failed attempts already reported, to say once when a failed attempt is being retried. */
  seen: number;
}

const failedOutcome = (spec: RunSpec, message: string): RunOutcome => ({ ...outcomeFromSummary(spec, null, 'failed'), message });

export function queueExecutor(target: QueueTarget, out: string): SweepExecutor {
  return {
    prepare: () => probe(target),
    where: () => `on the queue at ${target.shown}`,
    stopping: 'no longer following the queue; the jobs stay queued and the workers keep running them',
    stoppedNote: 'their jobs stay queued; the workers keep running them',
    run: (runs, ctx) => follow(target, out, runs, ctx),
  };
}

async function follow(target: QueueTarget, out: string, runs: RunSpec[], ctx: ExecutorContext): Promise<Map<string, RunOutcome>> {
  const outcomes = new Map<string, RunOutcome>();
  const tracked = new Map<string, Tracked>();
  const finish = (t: Tracked, outcome: RunOutcome) => {
    tracked.delete(t.id);
    outcomes.set(t.spec.id, outcome);
    ctx.onEvent({ kind: 'finished', run: t.spec.id, outcome });
  };
  for (const spec of runs) {
    const state = inspectRunDir(spec);
    if (state.kind === 'finished') {
      ctx.onEvent({ kind: 'skipped', run: spec.id, outcome: state.outcome });
      outcomes.set(spec.id, state.outcome);
      continue;
    }
    const payload = makePayload(spec.id, spec.seed, loadConfig(spec.configFile, { seed: spec.seed }));
    const id = jobId(spec, JSON.stringify(payload), out);
    tracked.set(id, { spec, id, payload, seen: 0 });
  }
  if (tracked.size === 0) return outcomes;

  const connection = bullConnection(target);
  // Job data and results are checked where they are read (jobs.ts schemas): unknown until then.
  const queue = new Queue<unknown, unknown>(QUEUE_NAME, { connection });
  const events = new QueueEvents(QUEUE_NAME, { connection });
  const watch = new ConnectionWatch(target, ctx.say);
  let lastError = '';
  const onError = (e: unknown) => {
    const text = errorText(e, target);
    // Connection trouble is the watch's to report; say anything else once.
    if (watch.down || text === lastError || /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Connection is closed/i.test(text)) return;
    lastError = text;
    ctx.say(`queue: ${text}`);
  };
  queue.on('error', onError);
  events.on('error', onError);

  let wake: (() => void) | null = null;
  const nudge = () => wake?.();
  events.on('progress', ({ jobId: id, data }: { jobId: string; data: unknown }) => {
    const t = tracked.get(id);
    const e = ProgressEventSchema.safeParse(data);
    if (t && e.success && e.data.run === t.spec.id) ctx.onEvent(e.data);
  });
  events.on('stalled', ({ jobId: id }: { jobId: string }) => {
    const t = tracked.get(id);
    if (t)
      ctx.onEvent({
        kind: 'requeued',
        run: t.spec.id,
        why: 'its worker stopped answering (killed or cut off); the next worker resumes it if it has the checkpoint, else restarts it',
      });
  });
  events.on('completed', nudge);
  events.on('failed', nudge);

  const add = (t: Tracked) =>
    queue.add(t.spec.id, t.payload, {
      jobId: t.id,
      attempts: ATTEMPTS,
      backoff: { type: 'exponential', delay: RETRY_DELAY_MS },
      removeOnComplete: false,
      removeOnFail: false,
    });

  const collect = async (t: Tracked, job: Job<unknown, unknown>) => {
    const parsed = JobResultSchema.safeParse(job.returnvalue);
    if (!parsed.success) return finish(t, failedOutcome(t.spec, `job ${t.id}: the worker sent back a result this sweep cannot read`));
    const bad = checkResult(t.spec, parsed.data);
    if (bad !== null) return finish(t, failedOutcome(t.spec, `job ${t.id}: ${bad}`));
    writeResult(t.spec, parsed.data.files);
    const status = parsed.data.outcome.status;
    // The numbers come from the files as written here, the verdict from this sweep's config (expect).
    finish(t, outcomeFromSummary(t.spec, readSummary(t.spec.dir), status));
    await job.remove().catch(() => undefined);
  };

  /** One look at every tracked job; returns when done or when Redis does not answer (the next call tries again). */
  const check = async () => {
    for (const t of [...tracked.values()]) {
      if (ctx.stop.aborted) return;
      const job = await queue.getJob(t.id);
      if (!job) {
        ctx.say(`${t.spec.id}: its job is no longer in the queue (Redis restarted without its data?); queued again`);
        t.seen = 0;
        await add(t);
        continue;
      }
      const state = await job.getState();
      if (state === 'completed') {
        await collect(t, job);
      } else if (state === 'failed') {
        finish(
          t,
          failedOutcome(
            t.spec,
            `${target.redact(job.failedReason || 'failed')} (job ${t.id}, ${job.attemptsMade} attempt${job.attemptsMade === 1 ? '' : 's'})`,
          ),
        );
      } else if ((state === 'delayed' || state === 'waiting') && job.attemptsMade > t.seen && job.failedReason) {
        t.seen = job.attemptsMade;
        ctx.onEvent({
          kind: 'requeued',
          run: t.spec.id,
          why: `failed on a worker (${target.redact(job.failedReason)}); retrying (attempt ${job.attemptsMade + 1} of ${ATTEMPTS})`,
        });
      }
    }
  };

  try {
    await events.waitUntilReady();
    // Jobs a failed earlier sweep left are retried; the others are found again or added.
    for (const t of tracked.values()) {
      const old = await queue.getJob(t.id);
      const state = old ? await old.getState() : null;
      if (old && state === 'failed') {
        ctx.say(`${t.spec.id}: failed in an earlier sweep (${target.redact(old.failedReason)}); queued again`);
        await old.remove();
      }
      if (!old || state === 'failed') await add(t);
      else t.seen = old.attemptsMade;
    }
    while (tracked.size > 0 && !ctx.stop.aborted) {
      try {
        await check();
      } catch (e) {
        onError(e);
      }
      if (tracked.size === 0 || ctx.stop.aborted) break;
      // Until the next poll, an event that a job finished, or Ctrl-C.
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          wake = null;
          ctx.stop.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, POLL_MS);
        wake = done;
        ctx.stop.addEventListener('abort', done);
      });
    }
  } finally {
    watch.close();
    await Promise.allSettled([events.close(), queue.close()]);
  }
  return outcomes;
}
