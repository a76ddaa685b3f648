/**
 * Headless rendering: Vega-Lite spec -> Vega spec -> SVG (a Vega View with
 * the 'none' renderer; no browser, no canvas) -> PNG (@resvg/resvg-js).
 *
 * vega and vega-lite are ESM-only; this CommonJS module loads them with a real
 * `import()` (tsconfig module node16 keeps it), once. Text is measured with
 * DejaVu Sans metrics (./text-metrics.ts) instead of Vega's rough estimate.
 *
 * Text in the PNG needs a font on the system: resvg loads the system fonts,
 * and without any it draws no text at all. `systemFontDirs()` finds out so the
 * caller can say so (the SVGs are unaffected).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { installTextMetrics } from './text-metrics';
import type { TopLevelSpec } from 'vega-lite' with { 'resolution-mode': 'import' };

type VegaModule = typeof import('vega', { with: { 'resolution-mode': 'import' } });
type VegaLiteModule = typeof import('vega-lite', { with: { 'resolution-mode': 'import' } });

let libraries: Promise<{ vega: VegaModule; vegaLite: VegaLiteModule }> | null = null;

function load(): Promise<{ vega: VegaModule; vegaLite: VegaLiteModule }> {
  libraries ??= Promise.all([import('vega'), import('vega-lite')]).then(([vega, vegaLite]) => {
    installTextMetrics(vega);
    return { vega, vegaLite };
  });
  return libraries;
}

/** Compiles a Vega-Lite spec to Vega and renders it to an SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { vega, vegaLite } = await load();
  const compiled = vegaLite.compile(spec, { logger: vega.logger(vega.Error) }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The width and height attributes of an SVG document's root element. */
export function svgSize(svg: string): { width: number; height: number } {
  const root = /<svg\b[^>]*>/.exec(svg);
  const attr = (name: string) => {
    const m = root ? new RegExp(`\\s${name}="([0-9.]+)"`).exec(root[0]) : null;
    if (!m) throw new Error(`SVG has no ${name} attribute`);
    return Number(m[1]);
  };
  return { width: attr('width'), height: attr('height') };
}

/** PNG pixels per SVG unit: 2 gives crisp figures on screens and in documents. */
export const PNG_SCALE = 2;

/** Rasterises an SVG to PNG at `scale` pixels per SVG unit, on white. */
export function renderPng(svg: string, scale: number = PNG_SCALE): { png: Buffer; width: number; height: number } {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: true, sansSerifFamily: 'DejaVu Sans' },
    logLevel: 'off',
  });
  const image = resvg.render();
  return { png: image.asPng(), width: image.width, height: image.height };
}

export interface Rendered {
  svg: string;
  png: Buffer;
  /** PNG size in pixels. */
  width: number;
  height: number;
}

export async function render(spec: TopLevelSpec, scale: number = PNG_SCALE): Promise<Rendered> {
  const svg = await renderSvg(spec);
  return { svg, ...renderPng(svg, scale) };
}

const FONT_FILE = /\.(ttf|otf|ttc|otc|pfb|woff2?)$/i;

/** Whether a directory holds a font file within a few levels. */
function holdsFonts(dir: string, depth = 4): boolean {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return false;
  }
  if (entries.some((e) => !e.isDirectory() && FONT_FILE.test(e.name))) return true;
  return depth > 0 && entries.some((e) => e.isDirectory() && holdsFonts(path.join(dir, e.name), depth - 1));
}

/** System font directories that hold fonts (where resvg's loadSystemFonts looks). */
export function systemFontDirs(): string[] {
  const home = os.homedir();
  const candidates = [
    '/usr/share/fonts',
    '/usr/local/share/fonts',
    path.join(home, '.local/share/fonts'),
    path.join(home, '.fonts'),
    '/Library/Fonts',
    '/System/Library/Fonts',
    path.join(home, 'Library/Fonts'),
    path.join(process.env.WINDIR ?? 'C:\\Windows', 'Fonts'),
  ];
  return candidates.filter((d) => holdsFonts(d));
}
