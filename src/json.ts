/**
 * JSON read from users' files is `unknown` until checked; these are the one
 * read (through read.ts: regular files only, size-capped) and the one check
 * for "an object".
 */
import { errorLine } from './errors';
import { readRegularFile, UnreadableFile } from './read';

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A JSON file's value, or why it could not be read: `missing` (ENOENT) told
 * apart, since callers say different things then; `why` is a phrase to
 * follow the file's name ("not found", "is a directory, not a regular file",
 * "unreadable (<the parse error>)").
 */
export type JsonRead = { ok: true; value: unknown } | { ok: false; missing: boolean; why: string };

/** Reads and parses a JSON file of at most `maxBytes` without throwing for a bad file. */
export function readJson(file: string, maxBytes: number): JsonRead {
  let text: string;
  try {
    text = readRegularFile(file, maxBytes).toString('utf8');
  } catch (e) {
    if (!(e instanceof UnreadableFile)) throw e;
    return { ok: false, missing: e.code === 'ENOENT', why: e.why };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, missing: false, why: `unreadable (${errorLine(e)})` };
  }
}
