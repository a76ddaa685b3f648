/**
 * A finished job's files, written into the sweep's run directory as one
 * step: the files go into a fresh directory beside it, which then takes the
 * run directory's place by rename. A run directory therefore holds either
 * what it held before (nothing, or a partial run an earlier local sweep left)
 * or the whole finished run, never a mix: a run that a worker restarted
 * replaces the partial one, and each of its steps appears once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileError } from '../errors';
import { isRecord } from '../json';
import { RunSpec } from '../sweep/events';
import { JobResult, RESULT_FILES } from './jobs';

/** Why a result cannot be the run asked for, or null when it can. */
export function checkResult(spec: RunSpec, result: JobResult): string | null {
  for (const name of ['config.json', 'metrics.csv', 'summary.json'] as const) {
    if (result.files[name] === undefined) return `the worker sent no ${name}`;
  }
  let config: unknown;
  let summary: unknown;
  try {
    config = JSON.parse(result.files['config.json'] ?? '');
    summary = JSON.parse(result.files['summary.json'] ?? '');
  } catch {
    return 'the worker sent a config.json or summary.json that is not JSON';
  }
  if (!isRecord(config) || config.name !== spec.name || config.seed !== spec.seed) return `the worker sent another run than ${spec.id} (seed ${spec.seed})`;
  if (!isRecord(summary) || summary.status !== result.outcome.status) return `the worker's summary.json does not say ${result.outcome.status}`;
  return null;
}

function writeFileSynced(file: string, text: string): void {
  const fd = fs.openSync(file, 'wx');
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Replaces spec.dir by a directory holding exactly the result's files. */
export function writeResult(spec: RunSpec, files: JobResult['files']): void {
  const parent = path.dirname(spec.dir);
  const base = path.basename(spec.dir);
  const incoming = path.join(parent, `.${base}.incoming.${process.pid}`);
  const replaced = path.join(parent, `.${base}.replaced.${process.pid}`);
  try {
    fs.mkdirSync(parent, { recursive: true });
    fs.rmSync(incoming, { recursive: true, force: true });
    fs.mkdirSync(incoming);
    for (const name of RESULT_FILES) {
      const text = files[name];
      if (text !== undefined) writeFileSynced(path.join(incoming, name), text);
    }
    // Two renames: the old directory aside, the new one in; a crash between them leaves the old one beside, not lost.
    fs.rmSync(replaced, { recursive: true, force: true });
    if (fs.existsSync(spec.dir)) fs.renameSync(spec.dir, replaced);
    fs.renameSync(incoming, spec.dir);
    fs.rmSync(replaced, { recursive: true, force: true });
  } catch (e) {
    fs.rmSync(incoming, { recursive: true, force: true });
    throw fileError(spec.dir, e);
  }
}
