/**
 * What crosses the queue, and the checks on each side. A job carries data
 * only: the validated config as JSON, the seed and the run's name. Never a
 * path to write, a file to read on the sweep's machine, or code: the worker
 * validates the config with the same schema `bnrun train` uses, derives the
 * run directory from its own work directory and the run's name, and runs
 * `bnrun train` on it. A finished job returns the run's files as text
 * (config.json, metrics.csv, activations.csv, summary.json; never
 * checkpoints), which the sweep checks and writes under its --out.
 * Progress goes the other way as the sweep's own RunEvents (job progress).
 */
import { z } from 'zod';
import { Config } from '../config/schema';
import { RunEvent, RunOutcome } from '../sweep/events';

/** The one queue every sweep and worker on a Redis database share; a job's id names its sweep and run. */
export const QUEUE_NAME = 'bnrun-runs';
/** Bumped when the payload changes shape; a worker refuses jobs of another version. */
export const PAYLOAD_VERSION = 1;
/** The files a worker sends back, in the order the sweep writes them (summary.json last: it marks the run finished). */
export const RESULT_FILES = ['config.json', 'metrics.csv', 'activations.csv', 'summary.json'] as const;
export type ResultFile = (typeof RESULT_FILES)[number];
/** A config file's limit (src/config/load.ts) holds for a job's config too. */
export const CONFIG_MAX_CHARS = 1024 * 1024;
/** What one result file may hold; a long ImageNet run's activations.csv stays far below it. */
export const RESULT_FILE_MAX_CHARS = 256 * 1024 * 1024;

/** A run's name, as a run directory may be named (the config name, perhaps with -seed<k>). */
const RunName = z
  .string()
  .max(120)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);

export const JobPayloadSchema = z.strictObject({
  v: z.literal(PAYLOAD_VERSION),
  run: RunName,
  seed: z.number().int().nonnegative(),
  /** The resolved config (every default filled in), validated again by the worker. */
  config: z.record(z.string(), z.unknown()),
});
export type JobPayload = z.infer<typeof JobPayloadSchema>;

export function makePayload(run: string, seed: number, config: Config): JobPayload {
  return { v: PAYLOAD_VERSION, run, seed, config: JSON.parse(JSON.stringify(config)) as Record<string, unknown> };
}

const nullableNumber = z.number().finite().nullable();

export const RunOutcomeSchema = z.strictObject({
  status: z.enum(['completed', 'diverged', 'interrupted', 'failed']),
  ok: z.boolean(),
  step: nullableNumber,
  finalAccuracy: nullableNumber,
  best: z.strictObject({ accuracy: z.number().finite(), step: z.number().finite() }).nullable(),
  wallTimeS: nullableNumber,
  message: z.string().max(2000).nullable(),
}) satisfies z.ZodType<RunOutcome>;

export const JobResultSchema = z.strictObject({
  outcome: RunOutcomeSchema,
  files: z.partialRecord(z.enum(RESULT_FILES), z.string().max(RESULT_FILE_MAX_CHARS)),
  /** The worker that ran it (hostname and pid), for the sweep's log. */
  worker: z.string().max(300),
});
export type JobResult = z.infer<typeof JobResultSchema>;

const step = z.number().int().nonnegative();

/** A training run's phase (logging/progress.ts Phase), as the display shows it. */
const PhaseSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('starting'), detail: z.string().max(500) }),
  z.strictObject({ kind: z.literal('training') }),
  z.strictObject({ kind: z.literal('evaluating'), step, final: z.boolean(), statistics: z.enum(['moving', 'population', 'network']) }),
  z.strictObject({ kind: z.literal('population'), batch: step, batches: step }),
  z.strictObject({ kind: z.literal('writing-figures') }),
  z.strictObject({ kind: z.literal('done') }),
]);

/**
 * The events a worker may report through job progress: the sweep's RunEvents
 * (skipped and finished are the sweep's own, from a job's result), and
 * `requeued` when a stopped worker hands its run back.
 */
export const ProgressEventSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('launched'), run: RunName, resume: z.boolean() }),
  z.strictObject({ kind: z.literal('started'), run: RunName, fromStep: step, total: step }),
  z.strictObject({ kind: z.literal('progress'), run: RunName, step }),
  z.strictObject({ kind: z.literal('phase'), run: RunName, step, phase: PhaseSchema }),
  z.strictObject({
    kind: z.literal('evaluated'),
    run: RunName,
    step,
    accuracy: z.number().finite(),
    // NaN (a diverged evaluation) crosses JSON as null.
    testLoss: z
      .number()
      .nullable()
      .transform((v) => v ?? Number.NaN),
    trainLoss: z.number().nullable(),
  }),
  z.strictObject({ kind: z.literal('requeued'), run: RunName, why: z.string().max(500) }),
]) satisfies z.ZodType<RunEvent>;
export type ProgressEvent = z.infer<typeof ProgressEventSchema>;
