/**
 * The layout rules of the project brief that a reviewer would otherwise check
 * by hand: no file under src/ over 500 lines, and no import cycle between
 * files under src/, `import type` and re-exports included (a type-only cycle
 * still ties two modules into one idea).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { it } from 'node:test';

const SRC = path.resolve(__dirname, '..', '..', '..', 'src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return sourceFiles(p);
    return d.name.endsWith('.ts') ? [p] : [];
  });
}

/** Relative specifiers of every static import, `import type`, `export ... from` and `import('...')` in a file. */
export function relativeImports(text: string): string[] {
  const out: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\b[^'";]*?\bfrom\s*['"](\.[^'"]+)['"]/gm,
    /^\s*import\s*['"](\.[^'"]+)['"]/gm,
    /\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of text.matchAll(re)) out.push(m[1]);
  return out;
}

function resolveImport(from: string, spec: string): string | null {
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts')]) if (fs.existsSync(candidate)) return candidate;
  return null;
}

/** Every cycle's files in order (strongly connected components with more than one file, or a file importing itself). */
export function importCycles(files: string[]): string[][] {
  const edges = new Map<string, string[]>();
  for (const f of files) {
    const text = fs.readFileSync(f, 'utf8');
    edges.set(
      f,
      relativeImports(text).flatMap((s) => resolveImport(f, s) ?? []),
    );
  }
  // Tarjan's strongly connected components.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (edges.get(v) ?? []).includes(v)) cycles.push(component.reverse());
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return cycles;
}

it('no import cycle between files under src/ (import type included)', () => {
  const cycles = importCycles(sourceFiles(SRC)).map((c) => c.map((f) => path.relative(SRC, f)).join(' <-> '));
  assert.deepEqual(cycles, [], `import cycles: ${cycles.join('; ')}`);
});

it('the cycle check sees type-only imports and re-exports', () => {
  const text = "import type { A } from './a';\nexport { B } from '../b';\nimport './c';\nimport * as fs from 'node:fs';\nconst m = import('./d');";
  assert.deepEqual(relativeImports(text).sort(), ['../b', './a', './c', './d']);
});

it('no file under src/ is over 500 lines', () => {
  const long = sourceFiles(SRC)
    .map((f) => ({ file: path.relative(SRC, f), lines: fs.readFileSync(f, 'utf8').split('\n').length - 1 }))
    .filter((f) => f.lines > 500);
  assert.deepEqual(long, [], long.map((f) => `${f.file}: ${f.lines} lines`).join('; '));
});
