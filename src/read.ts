/**
 * Reading a file a user pointed at (a config, a data file, a run's files):
 * only regular files, and no more than a limit, so a FIFO, /dev/zero or a
 * huge file fails in one line instead of hanging or filling memory.
 */
import * as fs from 'node:fs';
import { errnoCode } from './errors';

/** Why a file could not be read, as a phrase to follow its name. */
export class UnreadableFile extends Error {
  constructor(
    readonly file: string,
    readonly why: string,
    /** The errno code, 'ENOTREG' or 'ETOOBIG'. */
    readonly code: string,
  ) {
    super(`${file}: ${why}`);
  }
}

function kind(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

export function describeSize(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(0)} MB` : `${bytes} bytes`;
}

/** Reads a regular file of at most `maxBytes`; throws UnreadableFile otherwise. */
export function readRegularFile(file: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    // Non-blocking, so opening a FIFO with no writer returns at once instead of waiting for one.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    const code = errnoCode(e) ?? 'EIO';
    throw new UnreadableFile(file, code === 'ENOENT' ? 'not found' : `unreadable (${code})`, code);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new UnreadableFile(file, `is ${kind(stat)}, not a regular file`, 'ENOTREG');
    if (stat.size > maxBytes)
      throw new UnreadableFile(file, `is ${describeSize(stat.size)}, more than the ${describeSize(maxBytes)} such a file can be`, 'ETOOBIG');
    const buf = Buffer.alloc(stat.size);
    let n = 0;
    while (n < buf.length) {
      const got = fs.readSync(fd, buf, n, buf.length - n, n);
      if (got === 0) break;
      n += got;
    }
    return n === buf.length ? buf : buf.subarray(0, n);
  } catch (e) {
    if (e instanceof UnreadableFile) throw e;
    const code = errnoCode(e) ?? 'EIO';
    throw new UnreadableFile(file, `unreadable (${code})`, code);
  } finally {
    fs.closeSync(fd);
  }
}
