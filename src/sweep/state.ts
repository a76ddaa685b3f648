/**
 * What an earlier sweep (or `bnrun train`) left in a run directory, read from
 * its files alone so any process can decide: start it, resume it, or skip it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isRecord, readJson } from '../json';
import { RunOutcome, RunSpec } from './events';

export type DirState =
  /** Nothing there yet (or only a stale lock): start a new run. */
  | { kind: 'new' }
  /** A run was started and not finished (interrupted or killed): `bnrun train --resume`. */
  | { kind: 'unfinished' }
  /** Finished: completed or diverged, as summary.json says. */
  | { kind: 'finished'; outcome: RunOutcome };

/** A summary.json is a few KB; anything near this is not one. */
const SUMMARY_MAX_BYTES = 16 * 1024 * 1024;

/** summary.json as an object, or null when there is none or it cannot be read (a killed run). */
export function readSummary(dir: string): Record<string, unknown> | null {
  const read = readJson(path.join(dir, 'summary.json'), SUMMARY_MAX_BYTES);
  return read.ok && isRecord(read.value) ? read.value : null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The numbers of a finished run's summary, with the status given. */
export function outcomeFromSummary(
  spec: RunSpec,
  summary: Record<string, unknown> | null,
  status: RunOutcome['status'],
  message: string | null = null,
): RunOutcome {
  const s = summary ?? {};
  const best =
    isRecord(s.maxAccuracy) && num(s.maxAccuracy.accuracy) !== null && num(s.maxAccuracy.step) !== null
      ? { accuracy: num(s.maxAccuracy.accuracy) as number, step: num(s.maxAccuracy.step) as number }
      : null;
  const diverged = isRecord(s.diverged) ? num(s.diverged.step) : null;
  return {
    status,
    ok: status === 'completed' || (status === 'diverged' && spec.expect === 'diverge'),
    step: diverged ?? num(s.steps),
    finalAccuracy: isRecord(s.final) ? num(s.final.accuracy) : null,
    best,
    wallTimeS: num(s.wallTimeS),
    message,
  };
}

export function inspectRunDir(spec: RunSpec): DirState {
  const summary = readSummary(spec.dir);
  if (summary?.status === 'completed' || summary?.status === 'diverged') {
    return { kind: 'finished', outcome: outcomeFromSummary(spec, summary, summary.status) };
  }
  // config.json is the first file a run writes; without it nothing was logged.
  return fs.existsSync(path.join(spec.dir, 'config.json')) ? { kind: 'unfinished' } : { kind: 'new' };
}
