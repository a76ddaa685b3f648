/**
 * Writes figures as <name>.svg and <name>.png into a directory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Figure } from './figures';
import { render, systemFontDirs } from './render';

export interface Written {
  figure: Figure;
  svg: string;
  png: string;
  width: number;
  height: number;
}

export interface WriteResult {
  written: Written[];
  /** One-line remarks, e.g. missing fonts. */
  notes: string[];
}

export async function writeFigures(figures: Figure[], outDir: string): Promise<WriteResult> {
  const notes: string[] = [];
  if (figures.length > 0 && systemFontDirs().length === 0) {
    notes.push('no system fonts found: the PNG figures have no text (install one, e.g. apt-get install fonts-dejavu-core); the SVGs are complete');
  }
  fs.mkdirSync(outDir, { recursive: true });
  const written: Written[] = [];
  for (const figure of figures) {
    const r = await render(figure.spec);
    const svg = path.join(outDir, `${figure.name}.svg`);
    const png = path.join(outDir, `${figure.name}.png`);
    fs.writeFileSync(svg, r.svg);
    fs.writeFileSync(png, r.png);
    written.push({ figure, svg, png, width: r.width, height: r.height });
  }
  return { written, notes };
}
