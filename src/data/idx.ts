/**
 * The idx format of MNIST and Fashion-MNIST: a big-endian header
 * (0x00 0x00 type ndim, then ndim uint32 sizes) followed by the raw values.
 * Every check names the file, because a truncated download is the usual cause.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { DataError } from '../errors';
import { describeSize, readRegularFile, UnreadableFile } from '../read';

const UBYTE = 0x08;

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
  /** The file read (with .gz where it was compressed), for messages. */
  file: string;
}

export function parseIdx(buf: Buffer, file: string): IdxArray {
  if (buf.length < 4) throw new DataError(`${file}: file is ${buf.length} bytes, too short for an idx header; re-install or re-download it`);
  if (buf[0] !== 0 || buf[1] !== 0 || buf[2] !== UBYTE) {
    const magic = buf.readUInt32BE(0).toString(16).padStart(8, '0');
    throw new DataError(`${file}: not an unsigned-byte idx file (magic 0x${magic}); re-install or re-download it`);
  }
  const ndim = buf[3];
  const headerBytes = 4 + 4 * ndim;
  if (ndim === 0 || buf.length < headerBytes) throw new DataError(`${file}: truncated idx header; re-install or re-download it`);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(buf.readUInt32BE(4 + 4 * i));
  const count = dims.reduce((a, b) => a * b, 1);
  if (buf.length !== headerBytes + count) {
    throw new DataError(
      `${file}: header promises ${count} values (${dims.join('x')}) but the file holds ${buf.length - headerBytes}; the file is truncated or corrupt, re-install or re-download it`,
    );
  }
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + headerBytes, count), file };
}

/** Decompresses gzip data, refusing output beyond `maxBytes` (a gzip bomb stops there instead of filling memory). */
function gunzipAtMost(buf: Buffer, maxBytes: number, file: string): Buffer {
  try {
    return zlib.gunzipSync(buf, { maxOutputLength: maxBytes + 1 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
      throw new DataError(
        `${file}: decompresses to more than the ${describeSize(maxBytes)} its idx header allows; the file is corrupt, re-install or re-download it`,
      );
    }
    throw new DataError(`${file}: corrupt gzip (${(e as Error).message}); re-install or re-download it`);
  }
}

/** The bytes an idx file must have, from the header at the start of `head` (null when `head` is too short to say). */
function impliedSize(head: Buffer): number | null {
  if (head.length < 4 || head[0] !== 0 || head[1] !== 0) return null;
  const ndim = head[3];
  if (head.length < 4 + 4 * ndim) return null;
  let count = 1;
  for (let i = 0; i < ndim; i++) count *= head.readUInt32BE(4 + 4 * i);
  return 4 + 4 * ndim + count;
}

/**
 * Reads `name` or `name.gz` from a directory (gzip recognised by its magic
 * bytes): regular files only, at most `maxBytes` decompressed, and a gzip
 * file inflated no further than its idx header implies.
 */
export function readIdxFile(dir: string, name: string, maxBytes = 256 * 1024 * 1024): IdxArray {
  const candidates = [`${dir}/${name}`, `${dir}/${name}.gz`];
  const file = candidates.find((f) => fs.existsSync(f));
  if (file === undefined) throw new DataError(`${candidates[0]} not found (nor .gz); check data.path or install the dataset (see README)`);
  let buf: Buffer;
  try {
    buf = readRegularFile(file, maxBytes);
  } catch (e) {
    if (!(e instanceof UnreadableFile)) throw e;
    const hint =
      e.code === 'EACCES' ? '; check its permissions' : e.code === 'ENOTREG' || e.code === 'ETOOBIG' ? '; data files must be idx files (see README)' : '';
    throw new DataError(`${e.message}${hint}`);
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    // The header comes first: inflate just enough of it to learn how large the whole file may be.
    let head: Buffer;
    try {
      head = zlib.gunzipSync(buf.subarray(0, Math.min(buf.length, 4096)), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch (e) {
      throw new DataError(`${file}: corrupt gzip (${(e as Error).message}); re-install or re-download it`);
    }
    const implied = impliedSize(head);
    buf = gunzipAtMost(buf, implied === null ? 1024 * 1024 : Math.min(implied, maxBytes), file);
  }
  return parseIdx(buf, file);
}
