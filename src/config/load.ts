/**
 * Reading a config file: JSON or YAML, `extends` resolved, command-line
 * overrides applied, then validated by the schema and the checks after it. Overrides go in before
 * validation so that a bad `--steps` is reported like a bad field.
 */
import * as path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors';
import { isRecord } from '../json';
import { readRegularFile, UnreadableFile } from '../read';
import { ConfigIssue, configIssues } from './checks';
import { Config, ConfigSchema } from './schema';
import { suggestKeys } from './suggest';

/** Limits that turn hostile or broken configs into one-line errors instead of exhausted memory or stack. */
const CONFIG_MAX_BYTES = 1024 * 1024;
const EXTENDS_MAX = 32;
const NESTING_MAX = 64;
/** YAML aliases a config may expand (the shipped configs use none); more is an alias bomb. */
const YAML_ALIASES_MAX = 100;

type Plain = Record<string, unknown>;

/** Command-line overrides, as dotted config paths to values. */
export type Overrides = Record<string, unknown>;

function parseText(text: string, file: string): unknown {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.json') {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new ConfigError(`${file}: invalid JSON: ${(e as Error).message}`);
    }
  }
  if (ext === '.yaml' || ext === '.yml') {
    const doc = YAML.parseDocument(text);
    if (doc.errors.length > 0) {
      const err = doc.errors[0];
      const where = err.linePos ? ` at line ${err.linePos[0].line}, column ${err.linePos[0].col}` : '';
      // The message's first line ends with its own " at line ..:"; the position is given once, above.
      const what = err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
      throw new ConfigError(`${file}: invalid YAML${where}: ${what}`);
    }
    try {
      return doc.toJS({ maxAliasCount: YAML_ALIASES_MAX });
    } catch (e) {
      // The yaml package refuses an alias bomb ("billion laughs") while expanding it.
      throw new ConfigError(
        `${file}: invalid YAML: ${(e as Error).message.split('\n')[0]} (more than ${YAML_ALIASES_MAX} alias expansions); write the values out`,
      );
    }
  }
  throw new ConfigError(`${file}: unknown config format "${ext}"; use .json, .yaml or .yml`);
}

/**
 * Sets an own property even for keys like "__proto__", which plain assignment
 * would turn into the object's prototype: the schema must see every key a
 * file holds to reject the unknown ones.
 */
function setOwn(obj: Plain, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Objects merge key by key; arrays and scalars of the child replace the parent's. */
export function deepMerge(base: Plain, child: Plain): Plain {
  const out: Plain = {};
  for (const [k, v] of Object.entries(base)) setOwn(out, k, v);
  for (const [k, v] of Object.entries(child)) {
    const inherited = Object.prototype.hasOwnProperty.call(base, k) ? base[k] : undefined;
    setOwn(out, k, isRecord(v) && isRecord(inherited) ? deepMerge(inherited, v) : v);
  }
  return out;
}

/** The dotted path of the first value nested deeper than `max` levels, or null; iterative, so depth cannot overflow the stack. */
function tooDeep(value: unknown, max: number): string | null {
  const stack: { v: unknown; path: string[] }[] = [{ v: value, path: [] }];
  while (stack.length > 0) {
    const { v, path: at } = stack.pop() as { v: unknown; path: string[] };
    if (typeof v !== 'object' || v === null) continue;
    if (at.length >= max) return at.slice(0, 3).join('.') + '...';
    for (const [k, child] of Object.entries(v)) stack.push({ v: child, path: [...at, k] });
  }
  return null;
}

/** Reads a file and everything it extends, child fields over parent fields. */
export function readRawConfig(file: string, chain: string[] = [], via?: string): Plain {
  const abs = path.resolve(file);
  if (chain.includes(abs)) {
    const loop = [...chain, abs].map((f) => path.relative(process.cwd(), f)).join(' -> ');
    throw new ConfigError(`extends: loop ${loop}; remove one of these extends`);
  }
  if (chain.length >= EXTENDS_MAX) {
    throw new ConfigError(`${path.relative(process.cwd(), chain[0])}: extends: a chain more than ${EXTENDS_MAX} files deep (at ${file}); flatten it`);
  }
  let text: string;
  try {
    text = readRegularFile(abs, CONFIG_MAX_BYTES).toString('utf8');
  } catch (e) {
    if (!(e instanceof UnreadableFile)) throw e;
    const what = e.why;
    if (via !== undefined) {
      // The path was written relative to the extending file, not to where bnrun runs: say both.
      const parent = chain[chain.length - 1];
      const shown = (f: string) => {
        const rel = path.relative(process.cwd(), f);
        return rel === '' ? '.' : rel.startsWith('..') ? f : rel;
      };
      throw new ConfigError(
        `${shown(parent)}: extends "${via}": ${shown(abs)} ${what} (extends paths are relative to the config's own directory, ${shown(path.dirname(parent))})`,
      );
    }
    throw new ConfigError(`config file ${file} ${what}`);
  }
  const raw = parseText(text, file);
  if (!isRecord(raw)) throw new ConfigError(`${file}: a config must be an object of fields`);
  const deep = tooDeep(raw, NESTING_MAX);
  if (deep !== null) throw new ConfigError(`${file}: ${deep}: nested more than ${NESTING_MAX} levels deep; a config is a few levels of sections`);
  const own: Plain = deepMerge({}, raw);
  const parent = own.extends;
  delete own.extends;
  if (parent === undefined) return own;
  if (typeof parent !== 'string') throw new ConfigError(`${file}: extends: expected a path to another config`);
  const base = readRawConfig(path.resolve(path.dirname(abs), parent), [...chain, abs], parent);
  return deepMerge(base, own);
}

/** Sets `a.b.c` in a plain object, creating sections on the way. */
export function applyOverrides(raw: Plain, overrides: Overrides): Plain {
  const out = deepMerge({}, raw);
  for (const [dotted, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    const keys = dotted.split('.');
    let node = out;
    for (const k of keys.slice(0, -1)) {
      if (!isRecord(node[k])) node[k] = {};
      node[k] = { ...(node[k] as Plain) };
      node = node[k] as Plain;
    }
    node[keys[keys.length - 1]] = value;
  }
  return out;
}

/** One line per problem, each naming the field's path; an unknown key gets the closest known field of `raw`'s schema. */
export function formatIssues(issues: readonly (z.core.$ZodIssue | ConfigIssue)[], raw?: unknown): string {
  return issues
    .map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
      const hint = 'code' in issue && issue.code === 'unrecognized_keys' ? suggestKeys(issue.keys, issue.path, raw) : '';
      return `${where}: ${issue.message}${hint}`;
    })
    .join('; ');
}

/** The schema, then the checks after parsing (checks.ts): the one gate for `validate`, `info` and `train`. */
export function validateConfig(raw: unknown, source: string): Config {
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`${source}: ${formatIssues(parsed.error.issues, raw)}`);
  const issues = configIssues(parsed.data);
  if (issues.length > 0) throw new ConfigError(`${source}: ${formatIssues(issues)}`);
  return parsed.data;
}

export function loadConfig(file: string, overrides: Overrides = {}): Config {
  return validateConfig(applyOverrides(readRawConfig(file), overrides), file);
}
