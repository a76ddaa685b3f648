/**
 * A sweep's runs, decided before anything starts: the config files named on
 * the command line (a directory stands for the .json/.yaml/.yml files
 * directly in it), each loaded and validated at every seed, and the run
 * directory of each. Every problem is a ConfigError (exit 2) naming the file
 * and field, so a sweep with one bad config starts nothing.
 *
 * Run directories. The run of a config at its own seed (the `seed` field,
 * 0 unless set; the only run without --seeds) is `<out>/<name>`, as
 * `bnrun train` names it; the run at any other seed k is `<out>/<name>-seed<k>`.
 * A run's directory never depends on which other seeds a sweep asks for, so
 * `--seeds 0,1,2` after a one-seed sweep reuses its run and adds two.
 * `bnrun compare` finds every run directory under <out> and groups runs by
 * config name and config (seed aside), so the seeds of a config are one row.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../config/load';
import { Config } from '../config/schema';
import { ConfigError } from '../errors';
import { isRecord, readJson } from '../json';
import { RunSpec } from './events';

/** A run's config.json is a few KB; anything near this is not one. */
const CONFIG_JSON_MAX_BYTES = 1024 * 1024;

const CONFIG_EXTENSIONS = new Set(['.json', '.yaml', '.yml']);

/** Config files from the command line's files and directories, in the order given (a directory's sorted). */
export function findConfigFiles(inputs: string[]): string[] {
  const files: string[] = [];
  for (const input of inputs) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(input);
    } catch {
      throw new ConfigError(`${input}: not found; give config files or directories holding them`);
    }
    if (!stat.isDirectory()) {
      files.push(input);
      continue;
    }
    const found = fs
      .readdirSync(input, { withFileTypes: true })
      .filter((e) => (e.isFile() || e.isSymbolicLink()) && CONFIG_EXTENSIONS.has(path.extname(e.name).toLowerCase()) && !e.name.startsWith('.'))
      .map((e) => path.join(input, e.name))
      .sort();
    if (found.length === 0) throw new ConfigError(`${input}: no config files (.json, .yaml, .yml) in this directory`);
    files.push(...found);
  }
  // The same file named twice (a file and its directory) is one config.
  const seen = new Set<string>();
  return files.filter((f) => {
    const abs = path.resolve(f);
    if (seen.has(abs)) return false;
    seen.add(abs);
    return true;
  });
}

/** The directory of a config's run at `seed`; see the header. */
export function runDirName(config: Config, seed: number, ownSeed: number): string {
  return seed === ownSeed ? config.name : `${config.name}-seed${seed}`;
}

/** Fields that may differ between a run directory's config.json and the config without making it another run. */
const UNCHECKED = new Set(['description', 'expect']);

function flatten(value: unknown, prefix: string, out: Map<string, string>): Map<string, string> {
  if (UNCHECKED.has(prefix)) return out;
  if (isRecord(value)) for (const k of Object.keys(value).sort()) flatten(value[k], prefix === '' ? k : `${prefix}.${k}`, out);
  else out.set(prefix, JSON.stringify(value));
  return out;
}

/** The first field where the run directory's config differs from the one asked for, or null. */
function firstDifference(there: unknown, here: Config): string | null {
  const a = flatten(there, '', new Map());
  const b = flatten(here, '', new Map());
  for (const key of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    if (a.get(key) !== b.get(key)) return `${key}: ${a.get(key) ?? 'absent'} there, ${b.get(key) ?? 'absent'} here`;
  }
  return null;
}

/** Refuses a run directory that holds a run of a different config: skipping or resuming it would report the wrong run. */
function checkExisting(spec: RunSpec, config: Config): void {
  const file = path.join(spec.dir, 'config.json');
  const read = readJson(file, CONFIG_JSON_MAX_BYTES);
  if (!read.ok && read.missing) return;
  if (!read.ok) throw new ConfigError(`${file}: ${read.why}; remove ${spec.dir} or choose another --out`);
  const diff = firstDifference(read.value, config);
  if (diff !== null) {
    throw new ConfigError(
      `${spec.dir} holds a run of a different config than ${spec.configFile} at seed ${spec.seed} (${diff}); remove that directory or choose another --out`,
    );
  }
}

/** The run of a loaded config at `seed` under `out` (`ownSeed`: the seed the config file itself gives). */
export function makeRunSpec(configFile: string, config: Config, seed: number, ownSeed: number, out: string): RunSpec {
  const id = runDirName(config, seed, ownSeed);
  return { id, name: config.name, seed, configFile, dir: path.join(out, id), steps: config.training.steps, expect: config.expect ?? 'train' };
}

export interface SweepPlan {
  configFiles: string[];
  runs: RunSpec[];
}

export function planSweep(inputs: string[], opts: { seeds?: number[]; out: string }): SweepPlan {
  if (inputs.length === 0) throw new ConfigError('sweep needs config files or directories, e.g. `bnrun sweep configs/small/`');
  if (fs.existsSync(opts.out) && !fs.statSync(opts.out).isDirectory()) {
    throw new ConfigError(`--out ${opts.out} is a file; give a directory for the run directories`);
  }
  const configFiles = findConfigFiles(inputs);
  const runs: RunSpec[] = [];
  const byDir = new Map<string, RunSpec>();
  for (const file of configFiles) {
    const own = loadConfig(file);
    for (const seed of opts.seeds ?? [own.seed]) {
      const config = seed === own.seed ? own : loadConfig(file, { seed });
      const spec = makeRunSpec(file, config, seed, own.seed, opts.out);
      const clash = byDir.get(spec.id);
      if (clash) {
        throw new ConfigError(
          `${clash.configFile} and ${file} both make the run ${spec.dir}${clash.name === config.name ? ` (both are named "${config.name}")` : ''}; give each config its own name`,
        );
      }
      checkExisting(spec, config);
      byDir.set(spec.id, spec);
      runs.push(spec);
    }
  }
  return { configFiles, runs };
}
