/**
 * The accuracy a run is racing to (the paper's Figure 3 measures steps to
 * Inception's best, 72.2%): a fixed number, or the best accuracy a baseline
 * run reached, read from its summary.json at the start of training.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Config } from '../config/schema';
import { ConfigError } from '../errors';

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
  let summary: { maxAccuracy?: { accuracy?: unknown } | null };
  try {
    summary = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof summary;
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : 'unreadable';
    throw new ConfigError(`${source}: target.baselineMax: ${file} ${why}; train the baseline first or give target as a number`);
  }
  const accuracy = summary.maxAccuracy?.accuracy;
  if (typeof accuracy !== 'number') throw new ConfigError(`${source}: target.baselineMax: ${file} has no maxAccuracy; is the baseline run finished?`);
  return { accuracy, source: target.baselineMax };
}
