/**
 * Reads the CSV files of a run directory (metrics.csv, activations.csv): for
 * `bnrun compare`, and for a resumed run to keep only its complete rows.
 *
 * They are written by csv-stringify one flushed row at a time, and no field
 * bnrun writes contains a comma, a quote or a newline, so a line is split on
 * commas. A run killed mid-write leaves a last line without its newline (or
 * with too few cells): that row is dropped and said so, never half-read.
 */
import { readRegularFile } from '../read';

export interface CsvTable {
  columns: string[];
  rows: Record<string, string>[];
  /** One short phrase per kind of dropped line, e.g. "last line truncated (dropped)". */
  dropped: string[];
}

/** Parses CSV text; `null` when there is not even a header line. */
export function parseCsv(text: string): CsvTable | null {
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  // A complete file ends with a newline, so the last element is ''; anything
  // else there is a line cut short by a crash.
  const tail = lines.pop() ?? '';
  if (lines.length === 0) return null; // no complete header line
  const columns = lines[0].split(',');
  if (columns.length === 0 || columns[0] === '') return null;
  const body = lines.slice(1);
  const rows: Record<string, string>[] = [];
  let truncated = tail !== '';
  let malformed = 0;
  body.forEach((line, i) => {
    if (line === '') return; // blank lines carry nothing
    const cells = line.split(',');
    if (cells.length === columns.length) {
      rows.push(Object.fromEntries(columns.map((c, j) => [c, cells[j]])));
    } else if (i === body.length - 1) {
      truncated = true; // too few cells on the last line: cut short
    } else {
      malformed += 1;
    }
  });
  const dropped: string[] = [];
  if (truncated) dropped.push('last line truncated (dropped)');
  if (malformed > 0) dropped.push(`${malformed} malformed line${malformed === 1 ? '' : 's'} (dropped)`);
  return { columns, rows, dropped };
}

/** The largest run CSV read (a long ImageNet run's activations.csv is a few MB). */
const CSV_MAX_BYTES = 512 * 1024 * 1024;

/** A CSV bnrun did not write: bytes no text file holds, e.g. the zeros a crash can leave in a file. */
export class CorruptCsv extends Error {}

/**
 * Reads and parses a CSV file (a regular file only); `null` when it is empty
 * or has no header. A file holding NUL bytes is corrupt, not empty.
 */
export function readCsv(file: string): CsvTable | null {
  const buf = readRegularFile(file, CSV_MAX_BYTES);
  const nul = buf.indexOf(0);
  if (nul >= 0) throw new CorruptCsv(`corrupt: a NUL byte at offset ${nul}`);
  return parseCsv(buf.toString('utf8'));
}

/** A cell as a finite number, or null for '' and anything else. */
export function numberCell(cell: string | undefined): number | null {
  if (cell === undefined || cell.trim() === '') return null;
  const n = Number(cell);
  return Number.isFinite(n) ? n : null;
}
