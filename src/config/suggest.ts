/**
 * "Did you mean" for unknown config keys: the known field at the same place
 * in the schema that is closest to the typo by edit distance. The known
 * fields come from the schema itself (as JSON Schema), so a new field is
 * suggested without a list to keep up to date.
 */
import { z } from 'zod';
import { isRecord } from '../json';
import { ConfigSchema } from './schema';

interface Node {
  type?: string | string[];
  properties?: Record<string, Node>;
  items?: Node | Node[];
  prefixItems?: Node[];
  anyOf?: Node[];
  oneOf?: Node[];
  const?: unknown;
}

/** Levenshtein distance: insertions, deletions and substitutions each cost 1. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/**
 * The candidate closest to `word`, or null when none is close enough to be a
 * likely typo. Case is ignored when measuring (learningrate is learningRate),
 * and a candidate may differ in at most a third of its letters (at least 2).
 */
export function closest(word: string, candidates: readonly string[]): string | null {
  let best: { name: string; d: number } | null = null;
  for (const name of candidates) {
    const d = editDistance(word.toLowerCase(), name.toLowerCase());
    if (best === null || d < best.d) best = { name, d };
  }
  if (best === null) return null;
  return best.d <= Math.max(2, Math.floor(best.name.length / 3)) ? best.name : null;
}

let cached: Node | null = null;
function rootNode(): Node {
  cached ??= z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as Node;
  return cached;
}

/** The alternatives a node stands for: a union's members, the node itself otherwise. */
function alternatives(node: Node, raw: unknown): Node[] {
  const alts = node.oneOf ?? node.anyOf;
  if (!alts) return [node];
  const all = alts.flatMap((a) => alternatives(a, raw));
  // A tagged union (model.type, stem layers): the member the value's own tag selects, when it names one.
  const tag = isRecord(raw) ? raw.type : undefined;
  const tagged = all.filter((a) => a.properties?.type?.const !== undefined && a.properties.type.const === tag);
  return tagged.length > 0 ? tagged : all;
}

/** The fields the schema knows for the object at `path` of the raw config (empty if none). */
export function knownKeys(path: readonly PropertyKey[], raw: unknown): string[] {
  let nodes = alternatives(rootNode(), raw);
  let value = raw;
  for (const key of path) {
    value = isRecord(value) || Array.isArray(value) ? (value as Record<PropertyKey, unknown>)[key] : undefined;
    const next: Node[] = [];
    for (const n of nodes) {
      if (typeof key === 'number') {
        const item = n.prefixItems?.[key] ?? (Array.isArray(n.items) ? n.items[key] : n.items);
        if (item) next.push(item);
      } else if (typeof key === 'string' && n.properties?.[key]) {
        next.push(n.properties[key]);
      }
    }
    nodes = next.flatMap((n) => alternatives(n, value));
  }
  return [...new Set(nodes.flatMap((n) => Object.keys(n.properties ?? {})))];
}

/** " (did you mean "learningRate"?)" for each unknown key that has a close known field; '' otherwise. */
export function suggestKeys(keys: readonly string[], path: readonly PropertyKey[], raw: unknown): string {
  const known = knownKeys(path, raw);
  const hints = keys.flatMap((k) => {
    const near = closest(
      k,
      known.filter((f) => f !== k),
    );
    return near === null ? [] : [keys.length > 1 ? `"${near}" for "${k}"` : `"${near}"`];
  });
  return hints.length > 0 ? ` (did you mean ${hints.join(', ')}?)` : '';
}
