/**
 * The idx format of MNIST and Fashion-MNIST: a big-endian header
 * (0x00 0x00 type ndim, then ndim uint32 sizes) followed by the raw values.
 * Every check names the file, because a truncated download is the usual cause.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { DataError } from '../errors';

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

/** Reads `name` or `name.gz` from a directory; gzip is recognised by its magic bytes. */
export function readIdxFile(dir: string, name: string): IdxArray {
  const candidates = [`${dir}/${name}`, `${dir}/${name}.gz`];
  const file = candidates.find((f) => fs.existsSync(f));
  if (file === undefined) throw new DataError(`${candidates[0]} not found (nor .gz); check data.path or install the dataset (see README)`);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new DataError(`${file}: unreadable (${(e as NodeJS.ErrnoException).code}); check its permissions`);
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = zlib.gunzipSync(buf);
    } catch (e) {
      throw new DataError(`${file}: corrupt gzip (${(e as Error).message}); re-install or re-download it`);
    }
  }
  return parseIdx(buf, file);
}
