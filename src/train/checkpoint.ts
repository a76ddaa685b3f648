/**
 * Checkpoints: everything needed to continue a run as if it had never
 * stopped, in one file replaced atomically (temporary file, fsync, rename),
 * so a crash at any moment leaves either the previous checkpoint or the new one.
 * The one it replaces is kept as checkpoint.prev.bin, the fallback when the
 * newest does not verify.
 *
 * Layout (format 2): "BNCK" | uint32 header length | JSON header | float32
 * values of every tensor in header order | sha256 of every byte before it.
 * The header is checked by a zod schema and names the run it belongs to (a
 * hash of the resolved config), so a checkpoint is never adopted by another
 * run, and nothing in it is trusted before it verifies.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { DataPosition } from '../data/source';
import { DataError } from '../errors';
import { isRecord } from '../json';
import { writeFileAtomic } from '../logging/files';
import { readValues } from '../tensor-read';

const MAGIC = 'BNCK';
const DIGEST_BYTES = 32;
export const CHECKPOINT_FILE = 'checkpoint.bin';
/** The checkpoint before the newest, kept as a fallback. */
export const PREVIOUS_CHECKPOINT_FILE = 'checkpoint.prev.bin';

const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const uint32 = z.number().int().min(0).max(0xffffffff);
const seconds = z.number().finite().nonnegative();

const LoopSchema = z.strictObject({
  step: count,
  lossSum: z.number().finite(),
  lossCount: count,
  trainSeconds: seconds,
  sinceEvalSeconds: seconds,
  elapsedSeconds: seconds,
  resumedAt: z.array(count),
  dropoutRng: uint32.optional(),
});

/** The loop's own bookkeeping, restored exactly so logged numbers match an uninterrupted run. */
export type LoopState = z.infer<typeof LoopSchema>;

const TensorSchema = z.strictObject({ name: z.string().min(1), shape: z.array(count) });
const BatcherSchema = z.strictObject({ epoch: count, position: count, rng: uint32 });
const StreamSchema = z.strictObject({ epoch: count, index: count });

const HeaderFields = {
  loop: LoopSchema,
  tensors: z.array(TensorSchema),
  batcher: BatcherSchema.optional(),
  stream: StreamSchema.optional(),
};

/** Format 2: verified by its digest and bound to a run. */
const HeaderSchema = z.strictObject({ version: z.literal(2), run: z.string().regex(/^[0-9a-f]{64}$/), ...HeaderFields });
/** Format 1, written before checksums: read (its shape checked) so older runs still resume, with a warning. */
const LegacyHeaderSchema = z.strictObject({ version: z.literal(1), ...HeaderFields });

/** The data order's position sits beside the loop state: `batcher` (MNIST family) or `stream` (ImageNet). */
export type CheckpointHeader = {
  version: 1 | 2;
  run?: string;
  loop: LoopState;
  tensors: { name: string; shape: number[] }[];
} & DataPosition;

export interface NamedVariable {
  name: string;
  variable: tf.Variable;
}

/** JSON with object keys sorted at every level, so equal values hash equally whatever order they were written in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isRecord(v)) {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** The id of a run: sha256 of its resolved config (config.json) in canonical form. */
export function runIdOf(config: unknown): string {
  return createHash('sha256')
    .update(canonical(JSON.parse(JSON.stringify(config))))
    .digest('hex');
}

export async function saveCheckpoint(dir: string, run: string, loop: LoopState, data: DataPosition, vars: NamedVariable[]): Promise<void> {
  // Every value is read before the file is opened: on webgpu the reads are asynchronous.
  const values: Float32Array[] = [];
  for (const { variable } of vars) values.push((await readValues(variable)) as Float32Array);
  const header: CheckpointHeader = { version: 2, run, loop, ...data, tensors: vars.map((v) => ({ name: v.name, shape: v.variable.shape })) };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const lead = Buffer.alloc(8);
  lead.write(MAGIC, 0, 'ascii');
  lead.writeUInt32LE(json.length, 4);
  const file = path.join(dir, CHECKPOINT_FILE);
  const hash = createHash('sha256');
  const write = (fd: number, bytes: Uint8Array) => {
    hash.update(bytes);
    fs.writeSync(fd, bytes);
  };
  writeFileAtomic(
    file,
    (fd) => {
      write(fd, lead);
      write(fd, json);
      for (const v of values) write(fd, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      fs.writeSync(fd, hash.digest());
    },
    // The newest checkpoint becomes the fallback just before the new one takes its name.
    () => {
      if (fs.existsSync(file)) fs.renameSync(file, path.join(dir, PREVIOUS_CHECKPOINT_FILE));
    },
  );
}

export interface LoadedCheckpoint {
  header: CheckpointHeader;
  values: Map<string, Float32Array>;
  /** The file the values came from. */
  file: string;
  /** Warnings to show: a fallback used, or an unverified older format. */
  notes: string[];
}

/** What the resuming run expects of its checkpoint; anything else is refused. */
export interface CheckpointExpectation {
  /** runIdOf the run's config.json. */
  run: string;
  /** The run's training.steps. */
  steps: number;
  /** The network and optimiser variables, names and sizes to match. */
  vars: NamedVariable[];
}

class Rejected extends Error {}

/** Parses and verifies one checkpoint file; throws Rejected saying why it cannot be used. */
function parseCheckpoint(file: string, expect: CheckpointExpectation | undefined): LoadedCheckpoint {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new Rejected(`unreadable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (buf.length < 8 || buf.toString('ascii', 0, 4) !== MAGIC) throw new Rejected('not a bnrun checkpoint (bad magic)');
  const len = buf.readUInt32LE(4);
  if (buf.length < 8 + len) throw new Rejected('truncated header');
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString('utf8', 8, 8 + len));
  } catch {
    throw new Rejected('unreadable header');
  }
  const legacy = isRecord(raw) && raw.version === 1;
  const parsed = (legacy ? LegacyHeaderSchema : HeaderSchema).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Rejected(`bad header: ${issue.path.length > 0 ? issue.path.join('.') : 'version'}: ${issue.message}`);
  }
  const h = parsed.data;
  if ((h.batcher === undefined) === (h.stream === undefined)) throw new Rejected('bad header: needs exactly one of batcher and stream');
  const notes: string[] = [];
  let end = buf.length;
  if (h.version === 2) {
    end = buf.length - DIGEST_BYTES;
    if (end < 8 + len) throw new Rejected('truncated');
    const digest = createHash('sha256').update(buf.subarray(0, end)).digest();
    if (!digest.equals(buf.subarray(end))) throw new Rejected('checksum mismatch (damaged or truncated)');
    if (expect && h.run !== expect.run) throw new Rejected("belongs to another run (its config differs from this run directory's config.json)");
  } else {
    notes.push(`${file}: format 1 has no checksum and no run id, so it was used unverified`);
  }
  if (expect) {
    if (h.loop.step > expect.steps) throw new Rejected(`step ${h.loop.step} is beyond the run's ${expect.steps} steps`);
    if (h.loop.resumedAt.some((s) => s > h.loop.step)) throw new Rejected('bad header: loop.resumedAt lists a step after loop.step');
  }
  const values = new Map<string, Float32Array>();
  let offset = 8 + len;
  for (const t of h.tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (offset + 4 * n > end) throw new Rejected(`truncated at ${t.name}`);
    if (values.has(t.name)) throw new Rejected(`bad header: tensor ${t.name} listed twice`);
    // Copy into an aligned buffer: the tensor data may start at any byte offset.
    values.set(t.name, new Float32Array(buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + offset + 4 * n)));
    offset += 4 * n;
  }
  if (offset !== end) throw new Rejected(`${end - offset} bytes after the last tensor`);
  if (expect) {
    for (const { name, variable } of expect.vars) {
      const v = values.get(name);
      if (!v || v.length !== variable.size) throw new Rejected(`no matching values for ${name}; it belongs to another network`);
    }
    if (values.size !== expect.vars.length)
      throw new Rejected(`holds ${values.size} tensors, the network ${expect.vars.length}; it belongs to another network`);
  }
  return { header: h as CheckpointHeader, values, file, notes };
}

/**
 * Reads a run's checkpoint, or null when the run stopped before its first
 * one. With `expect`, a checkpoint that does not verify or belongs to another
 * run or network is refused; the previous one is used instead when it
 * verifies (a note says so), and otherwise the DataError names both.
 */
export function loadCheckpoint(dir: string, expect?: CheckpointExpectation): LoadedCheckpoint | null {
  const newest = path.join(dir, CHECKPOINT_FILE);
  const previous = path.join(dir, PREVIOUS_CHECKPOINT_FILE);
  if (!fs.existsSync(newest) && !fs.existsSync(previous)) return null;
  let why = 'missing';
  if (fs.existsSync(newest)) {
    try {
      return parseCheckpoint(newest, expect);
    } catch (e) {
      if (!(e instanceof Rejected)) throw e;
      why = e.message;
    }
  }
  const refuse = (extra: string) =>
    new DataError(`${newest}: ${why}${extra}; nothing was changed. Restore the run's own checkpoint, or start a new run with another --out`);
  if (!fs.existsSync(previous)) throw refuse('');
  try {
    const ckpt = parseCheckpoint(previous, expect);
    ckpt.notes.unshift(`${newest}: ${why}; resumed from the previous checkpoint ${PREVIOUS_CHECKPOINT_FILE} (step ${ckpt.header.loop.step})`);
    return ckpt;
  } catch (e) {
    if (!(e instanceof Rejected)) throw e;
    throw refuse(`, and ${PREVIOUS_CHECKPOINT_FILE} too: ${e.message}`);
  }
}

/** Assigns the verified values (loadCheckpoint with the same variables) to the network's variables. */
export function restoreVariables(ckpt: LoadedCheckpoint, vars: NamedVariable[]): void {
  for (const { name, variable } of vars) {
    const values = ckpt.values.get(name);
    if (!values || values.length !== variable.size)
      throw new DataError(`${ckpt.file}: no matching values for ${name}; the checkpoint belongs to another network`);
    tf.tidy(() => variable.assign(tf.tensor(values, variable.shape)));
  }
}
