/**
 * Checkpoints: everything needed to continue a run as if it had never
 * stopped, in one file replaced atomically (temporary file, fsync, rename),
 * so a crash at any moment leaves either the previous checkpoint or the new one.
 *
 * Layout: "BNCK" | uint32 header length | JSON header | float32 values of
 * every tensor in header order.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { DataPosition } from '../data/source';
import { DataError } from '../errors';
import { writeFileAtomic } from '../logging/files';

const MAGIC = 'BNCK';
export const CHECKPOINT_FILE = 'checkpoint.bin';

/** The loop's own bookkeeping, restored exactly so logged numbers match an uninterrupted run. */
export interface LoopState {
  step: number;
  lossSum: number;
  lossCount: number;
  trainSeconds: number;
  sinceEvalSeconds: number;
  elapsedSeconds: number;
  /** Steps this run was resumed from, oldest first. */
  resumedAt: number[];
  /** The dropout generator's state, for networks with dropout. */
  dropoutRng?: number;
}

/** The data order's position sits beside the loop state: `batcher` (MNIST family) or `stream` (ImageNet). */
export type CheckpointHeader = {
  version: 1;
  loop: LoopState;
  tensors: { name: string; shape: number[] }[];
} & DataPosition;

export interface NamedVariable {
  name: string;
  variable: tf.Variable;
}

export function saveCheckpoint(dir: string, loop: LoopState, data: DataPosition, vars: NamedVariable[]): void {
  // Key order as before the ImageNet position existed, so MNIST checkpoints stay byte-identical.
  const header: CheckpointHeader = { version: 1, loop, ...data, tensors: vars.map((v) => ({ name: v.name, shape: v.variable.shape })) };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const lead = Buffer.alloc(8);
  lead.write(MAGIC, 0, 'ascii');
  lead.writeUInt32LE(json.length, 4);
  const file = path.join(dir, CHECKPOINT_FILE);
  writeFileAtomic(file, (fd) => {
    fs.writeSync(fd, lead);
    fs.writeSync(fd, json);
    for (const { variable } of vars) {
      const values = variable.dataSync() as Float32Array;
      fs.writeSync(fd, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    }
  });
}

export interface LoadedCheckpoint {
  header: CheckpointHeader;
  values: Map<string, Float32Array>;
}

/** Reads a run's checkpoint, or null when the run stopped before its first one. */
export function loadCheckpoint(dir: string): LoadedCheckpoint | null {
  const file = path.join(dir, CHECKPOINT_FILE);
  if (!fs.existsSync(file)) return null;
  const buf = fs.readFileSync(file);
  const corrupt = (why: string) => new DataError(`${file}: corrupt checkpoint (${why}); delete it to restart the run from step 0`);
  if (buf.length < 8 || buf.toString('ascii', 0, 4) !== MAGIC) throw corrupt('bad magic');
  const len = buf.readUInt32LE(4);
  if (buf.length < 8 + len) throw corrupt('truncated header');
  let header: CheckpointHeader;
  try {
    header = JSON.parse(buf.toString('utf8', 8, 8 + len)) as CheckpointHeader;
  } catch {
    throw corrupt('unreadable header');
  }
  const values = new Map<string, Float32Array>();
  let offset = 8 + len;
  for (const t of header.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (offset + 4 * n > buf.length) throw corrupt(`truncated at ${t.name}`);
    // Copy into an aligned buffer: the tensor data may start at any byte offset.
    values.set(t.name, new Float32Array(buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + offset + 4 * n)));
    offset += 4 * n;
  }
  return { header, values };
}

/** Assigns the saved values to the network's variables; names and shapes must match. */
export function restoreVariables(ckpt: LoadedCheckpoint, vars: NamedVariable[], file: string): void {
  for (const { name, variable } of vars) {
    const values = ckpt.values.get(name);
    if (!values || values.length !== variable.size) {
      throw new DataError(`${file}: no matching values for ${name}; the checkpoint belongs to another network`);
    }
    tf.tidy(() => variable.assign(tf.tensor(values, variable.shape)));
  }
}
