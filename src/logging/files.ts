/**
 * Run output that survives a crash: CSV rows are appended and flushed one at
 * a time, so a killed run leaves every complete row readable; JSON files are
 * replaced atomically (write, fsync, rename), so they are old or new, never half.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import { fileError } from '../errors';
import { readCsv } from './csv';

/** The temporary file writeFileAtomic writes `file` through: `.<name>.<pid>.tmp`. */
const TEMP_NAME = /^\.(.+)\.(\d+)\.tmp$/;

/**
 * Writes a file so that it is the old or the new version, never half: a
 * temporary file, fsync, rename; `beforeRename` runs just before the rename.
 * A failure (a full disk) removes the temporary file and names `file`.
 */
export function writeFileAtomic(file: string, write: (fd: number) => void, beforeRename?: () => void): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      write(fd);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    beforeRename?.();
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw fileError(file, e);
  }
}

/**
 * Removes the temporary files of `names` left in `dir` by writes that were
 * killed (`.checkpoint.bin.<pid>.tmp` and the like); call it holding the run
 * lock, so no live writer's file is among them. Returns the names removed.
 */
export function removeLeftovers(dir: string, names: readonly string[]): string[] {
  const removed: string[] = [];
  for (const entry of fs.readdirSync(dir)) {
    const m = TEMP_NAME.exec(entry);
    if (!m || !names.includes(m[1]) || Number(m[2]) === process.pid) continue;
    fs.rmSync(path.join(dir, entry), { force: true });
    removed.push(entry);
  }
  return removed;
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
    try {
      const exists = fs.existsSync(file) && fs.statSync(file).size > 0;
      this.fd = fs.openSync(file, 'a');
      if (!exists) fs.writeSync(this.fd, stringify([columns]));
    } catch (e) {
      throw fileError(file, e);
    }
  }

  append(row: Record<string, Cell>): void {
    const cells = this.columns.map((c) => formatCell(row[c] ?? null));
    try {
      fs.writeSync(this.fd, stringify([cells]));
    } catch (e) {
      throw fileError(this.file, e);
    }
  }

  close(): void {
    try {
      fs.fsyncSync(this.fd);
    } catch (e) {
      throw fileError(this.file, e);
    } finally {
      fs.closeSync(this.fd);
    }
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
