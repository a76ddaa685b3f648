/**
 * The accuracy a run is racing to (the paper's Figure 3 measures steps to
 * Inception's best, 72.2%): a fixed number, or the best accuracy a baseline
 * run reached, read from its summary.json at the start of training.
 */
import * as path from 'node:path';
import { Config } from '../config/schema';
import { ConfigError } from '../errors';
import { isRecord, readJson } from '../json';

/** A summary.json is a few hundred bytes; anything near this is not one. */
const SUMMARY_MAX_BYTES = 16 * 1024 * 1024;

export interface ResolvedTarget {
  accuracy: number;
  /** "config" or the baseline run directory it came from. */
  source: string;
}

/** `source` names the config file in messages. */
export function resolveTarget(target: Config['target'], source: string): ResolvedTarget | null {
  if (target === undefined) return null;
  if (typeof target === 'number') return { accuracy: target, source: 'config' };
  const file = path.join(target.baselineMax, 'summary.json');
  const read = readJson(file, SUMMARY_MAX_BYTES);
  if (!read.ok) throw new ConfigError(`${source}: target.baselineMax: ${file} ${read.why}; train the baseline first or give target as a number`);
  const best = isRecord(read.value) ? read.value.maxAccuracy : undefined;
  const accuracy = isRecord(best) ? best.accuracy : undefined;
  if (typeof accuracy !== 'number') throw new ConfigError(`${source}: target.baselineMax: ${file} has no maxAccuracy; is the baseline run finished?`);
  return { accuracy, source: target.baselineMax };
}
