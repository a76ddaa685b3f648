/**
 * Every failure a user can cause or meet ends in one of these, so the CLI can
 * print one line and pick the exit code without knowing where it came from.
 */
export class BnrunError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A config or command-line problem: nothing was run. Exit 2. */
export class ConfigError extends BnrunError {
  constructor(message: string) {
    super(message, 2);
  }
}

/**
 * A config field that does not fit the data on disk, found only when the data
 * is opened (e.g. model.classes against ImageNet's class folders). The message
 * starts with the field's path; train() puts the config file in front, so it
 * reads like the problems validateConfig finds. Exit 2.
 */
export class ConfigMismatchError extends ConfigError {}

/** A missing, unreadable or corrupt data file. Exit 1. */
export class DataError extends BnrunError {
  constructor(message: string) {
    super(message, 1);
  }
}

/** Loss or weights became NaN/Inf; what was logged up to then stays valid. Exit 1. */
export class DivergedError extends BnrunError {
  constructor(message: string) {
    super(message, 1);
  }
}

/** The machine lacks what a requested backend needs (a driver, a system library, a package). Exit 1. */
export class BackendError extends BnrunError {
  constructor(message: string) {
    super(message, 1);
  }
}

/** A filesystem operation failed (disk full, permissions, not a directory...). Exit 1; the message names the file. */
export class FileError extends BnrunError {
  constructor(message: string) {
    super(message, 1);
  }
}

const ERRNO_TEXT: Record<string, string> = {
  ENOSPC: 'no space left on the device; free some space',
  EDQUOT: 'disk quota exceeded; free some space',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EISDIR: 'is a directory',
  EEXIST: 'already exists',
  ENOENT: 'not found',
  ENAMETOOLONG: 'name too long; choose a shorter name or --out',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ELOOP: 'too many symbolic links',
};

/** The errno code of a Node filesystem error, or undefined for anything else. */
export function errnoCode(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : undefined;
}

/** A filesystem error as one line naming `file` and what went wrong; other errors pass through unchanged. */
export function fileError(file: string, e: unknown, doing = 'could not write'): unknown {
  const code = errnoCode(e);
  if (code === undefined || e instanceof BnrunError) return e;
  return new FileError(`${file}: ${doing}: ${ERRNO_TEXT[code] ?? code} (${code})`);
}

/** An error's message as one line, for messages that quote a library's error. */
export function errorLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
