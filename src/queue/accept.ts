/**
 * What a worker accepts from the queue. Anything on the queue is treated as
 * untrusted: a job must be a payload of this bnrun version, its config must
 * pass the schema `bnrun train` uses, its run name must be the config's name
 * (or `<name>-seed<k>` for its seed), and the job id must be a plain name,
 * because the worker's run directory is `<work>/<job id>/<run>`. A config may
 * name files to read (a dataset directory, ImageNet's label files); the worker
 * reads them only under the directories its operator allowed with
 * --data-root, and refuses `target.baselineMax` (a run directory on the
 * sweep's machine, which the worker cannot see). A refused job is a
 * JobRefused: it fails once and is not retried.
 */
import * as path from 'node:path';
import { formatIssues, validateConfig } from '../config/load';
import { Config } from '../config/schema';
import { BnrunError } from '../errors';
import { CONFIG_MAX_CHARS, JobPayload, JobPayloadSchema, PAYLOAD_VERSION } from './jobs';

export class JobRefused extends Error {}

const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export interface AcceptedJob {
  payload: JobPayload;
  config: Config;
  /** The job's directory under the work directory. */
  jobDir: string;
}

function within(file: string, roots: string[]): boolean {
  const abs = path.resolve(file);
  return roots.some((root) => {
    const rel = path.relative(path.resolve(root), abs);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  });
}

/** The config's files to read, by field. */
function namedFiles(config: Config): [string, string][] {
  const d = config.data;
  const files: [string, string][] = [];
  if (d.path !== undefined) files.push(['data.path', d.path]);
  // Relative label files are relative to data.path (src/data/imagenet.ts); absolute ones stand alone.
  const under = (f: string) => (path.isAbsolute(f) || d.path === undefined ? f : path.join(d.path, f));
  if (d.valLabels !== undefined) files.push(['data.valLabels', under(d.valLabels)]);
  if (d.valSynsets !== undefined) files.push(['data.valSynsets', under(d.valSynsets)]);
  return files;
}

export function acceptJob(id: string | undefined, data: unknown, work: string, dataRoots: string[]): AcceptedJob {
  if (id === undefined || !JOB_ID.test(id)) throw new JobRefused(`job id ${JSON.stringify(id)?.slice(0, 80)} is not a bnrun job id`);
  if (JSON.stringify(data ?? null).length > CONFIG_MAX_CHARS) throw new JobRefused(`job ${id}: the payload is larger than a config may be (1 MB)`);
  const parsed = JobPayloadSchema.safeParse(data);
  if (!parsed.success)
    throw new JobRefused(
      `job ${id}: not a bnrun ${PAYLOAD_VERSION} job (${formatIssues(parsed.error.issues)}); are the sweep and the worker the same bnrun version?`,
    );
  const payload = parsed.data;
  let config: Config;
  try {
    config = validateConfig(payload.config, `job ${id} config`);
  } catch (e) {
    if (e instanceof BnrunError) throw new JobRefused(e.message);
    throw e;
  }
  if (config.seed !== payload.seed) throw new JobRefused(`job ${id}: the config's seed ${config.seed} is not the job's seed ${payload.seed}`);
  if (payload.run !== config.name && payload.run !== `${config.name}-seed${payload.seed}`) {
    throw new JobRefused(`job ${id}: run name "${payload.run}" is neither the config's name "${config.name}" nor "${config.name}-seed${payload.seed}"`);
  }
  if (config.target !== undefined && typeof config.target !== 'number') {
    throw new JobRefused(
      `job ${id} config: target.baselineMax names a run directory on the sweep's machine, which a worker cannot read; give target as a number`,
    );
  }
  for (const [field, file] of namedFiles(config)) {
    if (!within(file, dataRoots)) {
      const allowed = dataRoots.length === 0 ? 'this worker allows no data directories' : `this worker reads data only under ${dataRoots.join(', ')}`;
      throw new JobRefused(`job ${id} config: ${field} ${file}: ${allowed}; start the worker with --data-root <dir> to allow it`);
    }
  }
  return { payload, config, jobDir: path.join(work, id) };
}
