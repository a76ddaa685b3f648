/**
 * Text widths for Vega's layout without a canvas.
 *
 * Vega measures text (for axis, legend and title layout and the SVG's own
 * size) with a canvas when one is installed; under plain Node it falls back to
 * 0.8 x font size per character, about a third more than real sans-serif text,
 * which leaves wide empty margins. Vega lets a host supply the measurement
 * (`textMetrics.width`, as vl-convert does); this one uses the advance widths
 * of DejaVu Sans, the first font of the figures' font list and the font
 * resvg finds on most Linux systems. Helvetica and Arial are narrower, so text
 * set in them fits too.
 *
 * The tables are DejaVu Sans and DejaVu Sans Bold advance widths in 1/1000 em
 * for the printable ASCII characters 32..126, measured with resvg; other
 * characters count as 0.7 em.
 */

// prettier-ignore
const REGULAR = [318,401,460,838,636,950,780,275,390,390,500,838,318,361,300,337,636,636,636,636,636,636,636,636,636,636,337,337,838,838,838,531,1000,684,686,698,770,632,575,775,752,295,295,656,557,863,748,787,603,787,695,635,611,732,684,989,685,611,685,390,337,390,838,500,500,613,635,550,635,615,352,635,634,278,278,579,278,974,634,612,635,635,411,521,392,634,592,818,592,592,525,636,337,636,838];
// prettier-ignore
const BOLD = [348,456,521,838,696,1002,872,306,457,457,523,838,380,415,380,365,696,696,696,696,696,696,696,696,696,696,400,400,838,838,838,580,1000,774,762,734,830,683,683,821,837,372,372,775,637,995,837,850,733,850,770,720,682,812,774,1103,771,724,725,457,365,457,838,500,500,675,716,593,716,678,435,716,712,343,343,665,343,1042,712,687,716,716,493,595,478,712,652,924,645,652,582,712,365,712,838];
const OTHER = 700;

/** The text-mark properties Vega's measurement reads. */
export interface TextItem {
  fontSize?: number | string;
  fontWeight?: number | string;
  text?: unknown;
}

function isBold(weight: TextItem['fontWeight']): boolean {
  if (weight === undefined) return false;
  if (typeof weight === 'number') return weight >= 600;
  return weight === 'bold' || weight === 'bolder' || Number(weight) >= 600;
}

/** Width in pixels of `text` set in DejaVu Sans at the item's font size (default 11, as Vega). */
export function textWidth(item: TextItem, text?: unknown): number {
  const s = String(text ?? item.text ?? '').trim();
  const size = item.fontSize === undefined ? 11 : Number(item.fontSize) || 0;
  const table = isBold(item.fontWeight) ? BOLD : REGULAR;
  let units = 0;
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    units += code >= 32 && code < 127 ? table[code - 32] : OTHER;
  }
  return (units / 1000) * size;
}

interface TextMetrics {
  width: (item: TextItem, text?: unknown) => number;
}

function isTextMetrics(x: unknown): x is TextMetrics {
  return typeof x === 'object' && x !== null && typeof (x as { width?: unknown }).width === 'function';
}

/**
 * Installs `textWidth` as Vega's text measurement (process-wide; Vega reads it
 * from its exported `textMetrics` object, absent from its typings). Returns
 * false if this Vega has no such hook, in which case its estimate stays.
 */
export function installTextMetrics(vega: object): boolean {
  const tm: unknown = (vega as Record<string, unknown>).textMetrics;
  if (!isTextMetrics(tm)) return false;
  tm.width = textWidth;
  return true;
}
