/**
 * Reading a config file: JSON or YAML, `extends` resolved, command-line
 * overrides applied, then validated by the schema. Overrides go in before
 * validation so that a bad `--steps` is reported like a bad field.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors';
import { isRecord } from '../json';
import { Config, ConfigSchema } from './schema';

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
    return doc.toJS();
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

/** Reads a file and everything it extends, child fields over parent fields. */
export function readRawConfig(file: string, chain: string[] = []): Plain {
  const abs = path.resolve(file);
  if (chain.includes(abs)) {
    const loop = [...chain, abs].map((f) => path.relative(process.cwd(), f)).join(' -> ');
    throw new ConfigError(`extends: loop ${loop}; remove one of these extends`);
  }
  let text: string;
  try {
    text = fs.readFileSync(abs, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'not found' : `unreadable (${code})`;
    const via = chain.length > 0 ? ` (extended by ${path.relative(process.cwd(), chain[chain.length - 1])})` : '';
    throw new ConfigError(`config file ${file} ${what}${via}`);
  }
  const raw = parseText(text, file);
  if (!isRecord(raw)) throw new ConfigError(`${file}: a config must be an object of fields`);
  const own: Plain = deepMerge({}, raw);
  const parent = own.extends;
  delete own.extends;
  if (parent === undefined) return own;
  if (typeof parent !== 'string') throw new ConfigError(`${file}: extends: expected a path to another config`);
  const base = readRawConfig(path.resolve(path.dirname(abs), parent), [...chain, abs]);
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

/** One line per problem, each naming the field's path. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}

export function validateConfig(raw: unknown, source: string): Config {
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`${source}: ${formatIssues(parsed.error.issues)}`);
  return parsed.data;
}

export function loadConfig(file: string, overrides: Overrides = {}): Config {
  return validateConfig(applyOverrides(readRawConfig(file), overrides), file);
}
