/**
 * Run output that survives a crash: CSV rows are appended and flushed one at
 * a time, so a killed run leaves every complete row readable; JSON files are
 * replaced atomically (write, fsync, rename), so they are old or new, never half.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { readCsv } from '../compare/csv';

/** Writes a file so that it is the old or the new version, never half: a temporary file, fsync, rename. */
export function writeFileAtomic(file: string, write: (fd: number) => void): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w');
  try {
    write(fd);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, (fd) => fs.writeSync(fd, JSON.stringify(value, null, 2) + '\n'));
}

export type Cell = string | number | null;

export class CsvAppender {
  private readonly fd: number;

  constructor(
    readonly file: string,
    readonly columns: string[],
  ) {
    const exists = fs.existsSync(file) && fs.statSync(file).size > 0;
    this.fd = fs.openSync(file, 'a');
    if (!exists) fs.writeSync(this.fd, stringify([columns]));
  }

  append(row: Record<string, Cell>): void {
    const cells = this.columns.map((c) => formatCell(row[c] ?? null));
    fs.writeSync(this.fd, stringify([cells]));
  }

  close(): void {
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
  }
}

/** Numbers keep full float32 precision without float64 noise; NaN/Inf are written as such. */
function formatCell(v: Cell): string {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return String(v);
  if (!Number.isFinite(v)) return String(v);
  return String(Number(v.toPrecision(7)));
}

/**
 * Rewrites a CSV keeping the header and the complete rows that pass `keep`
 * (a row cut short by a crash is dropped); returns the kept rows. Atomic.
 */
export function keepCompleteRows(file: string, columns: string[], keep: (row: Record<string, string>) => boolean): Record<string, string>[] {
  const table = fs.existsSync(file) ? readCsv(file) : null;
  const kept = (table?.rows ?? []).filter(keep);
  writeFileAtomic(file, (fd) => fs.writeSync(fd, stringify([columns, ...kept.map((r) => columns.map((c) => r[c] ?? ''))])));
  return kept;
}
