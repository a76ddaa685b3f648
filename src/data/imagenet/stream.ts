/**
 * An ImageNet split as a stream of batches: the order of each epoch,
 * decoding `prefetch` batches ahead, and the position a checkpoint saves.
 *
 * Randomness: every draw comes from the seed through Rng.fork with a label
 * naming the epoch (file order) or the epoch and position (one example's
 * augmentation), so batches do not depend on decode timing or concurrency and a
 * stream reopened at a saved position continues exactly.
 */
import * as path from 'node:path';
import sharp from 'sharp';
import { DataError } from '../../errors';
import { Rng } from '../../rng';
import { Prefetcher } from '../prefetch';
import { Pipeline } from './augment';
import { Decoder, InlineDecoder, ThreadDecoder } from './decoder';
import { check, ImageNetBatch, ImageNetOptions, ImageNetStream, resolveOptions, ResolvedOptions, StreamPosition } from './options';
import { FileTable, listClasses, scanSplit } from './tree';

/** The epoch's order of file indices: see ImageNetOptions.shuffle. */
function epochOrder(n: number, shuffle: 'full' | 'none' | number, base: Rng, epoch: number, fixed: () => Int32Array): Int32Array {
  if (shuffle === 'none') {
    const o = new Int32Array(n);
    for (let i = 0; i < n; i++) o[i] = i;
    return o;
  }
  if (shuffle === 'full') return base.fork(`order:${epoch}`).permutation(n);
  const src = fixed();
  const rng = base.fork(`buffer:${epoch}`);
  const cap = Math.min(shuffle, n);
  const buf = src.slice(0, cap);
  let len = cap;
  let next = cap;
  const out = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const j = rng.int(len);
    out[k] = buf[j];
    if (next < n) buf[j] = src[next++];
    else buf[j] = buf[--len];
  }
  return out;
}

class Stream implements ImageNetStream {
  private readonly decoder: Decoder;
  private readonly prefetcher: Prefetcher<ImageNetBatch>;
  private readonly base: Rng;
  private readonly pipeline: Pipeline;
  private cursor: StreamPosition;
  private consumed: StreamPosition;
  private orderCache: { epoch: number; order: Int32Array } | null = null;
  private fixedOrder: Int32Array | null = null;
  decoded = 0;

  constructor(
    private readonly table: FileTable,
    readonly classes: readonly string[],
    readonly batchSize: number,
    private readonly o: ResolvedOptions,
  ) {
    this.base = new Rng(o.seed);
    this.pipeline = {
      size: o.size,
      augment: o.augment,
      distortion: o.distortion,
      areaMin: o.areaMin,
      aspect: o.aspect,
      flip: o.flip,
      mean: o.mean,
      invStd: [1 / o.std[0], 1 / o.std[1], 1 / o.std[2]],
      evalFraction: o.evalFraction,
    };
    // Worker threads need the worker's entry as a .js file (not under a TS loader).
    const threads = __filename.endsWith('.js') ? o.decodeThreads : 0;
    this.decoder =
      threads > 0 ? new ThreadDecoder(this.pipeline, threads, o.imagesInFlight, o.vipsThreads) : new InlineDecoder(this.pipeline, o.imagesInFlight);
    this.cursor = { ...o.start };
    this.consumed = { ...o.start };
    this.prefetcher = new Prefetcher(o.prefetch, () => this.produce());
    this.prefetcher.start();
  }

  get count(): number {
    return this.table.length;
  }
  get size(): number {
    return this.o.size;
  }
  get batchesPerEpoch(): number {
    return this.o.dropRemainder ? Math.floor(this.count / this.batchSize) : Math.ceil(this.count / this.batchSize);
  }
  file(id: number): string {
    return this.table.file(id);
  }
  get position(): StreamPosition {
    return { ...this.consumed };
  }
  get ahead(): number {
    return this.prefetcher.ahead;
  }
  get maxAhead(): number {
    return this.prefetcher.maxAhead;
  }
  get maxDecoding(): number {
    return this.decoder.maxActive;
  }

  /** The position after a batch starting at p. */
  private advance(p: StreamPosition): StreamPosition {
    const n = this.count;
    const B = this.batchSize;
    const index = Math.min(p.index + B, n);
    if (index >= n || (this.o.dropRemainder && index + B > n)) return { epoch: p.epoch + 1, index: 0 };
    return { epoch: p.epoch, index };
  }

  private orderFor(epoch: number): Int32Array {
    if (this.orderCache?.epoch !== epoch) {
      const fixed = () => (this.fixedOrder ??= this.base.fork('order:fixed').permutation(this.count));
      this.orderCache = { epoch, order: epochOrder(this.count, this.o.shuffle, this.base, epoch, fixed) };
    }
    return this.orderCache.order;
  }

  private produce(): Promise<ImageNetBatch> | null {
    const { epoch, index } = this.cursor;
    if (epoch >= this.o.epochs) return null;
    const order = this.orderFor(epoch);
    const n = Math.min(this.batchSize, this.count - index);
    const labels = new Int32Array(n);
    const ids = new Int32Array(n);
    const files: string[] = [];
    const rngs: number[] | null = this.pipeline.augment ? [] : null;
    for (let k = 0; k < n; k++) {
      const fileIdx = order[index + k];
      labels[k] = this.table.labels[fileIdx];
      ids[k] = fileIdx;
      files.push(this.table.file(fileIdx));
      // Per example, from the seed and its place in the epoch: independent of decode timing.
      rngs?.push(this.base.fork(`aug:${epoch}:${index + k}`).snapshot);
    }
    this.cursor = this.advance(this.cursor);
    return this.decoder.decode({ files, rngs }).then((x) => {
      this.decoded += n;
      return { x, labels, ids, n, epoch, index };
    });
  }

  async next(): Promise<ImageNetBatch | null> {
    const b = await this.prefetcher.next();
    if (b) this.consumed = this.advance({ epoch: b.epoch, index: b.index });
    return b;
  }

  async close(): Promise<void> {
    this.prefetcher.close();
    await this.decoder.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ImageNetBatch> {
    for (;;) {
      const b = await this.next();
      if (!b) return;
      yield b;
    }
  }
}

/**
 * Opens one split: verifies the tree (DataError naming the path on a missing
 * folder, no classes, an empty class folder, an unknown class in val, a bad
 * label file) and starts decoding the first `prefetch` batches.
 */
export async function openImageNet(opts: ImageNetOptions): Promise<ImageNetStream> {
  const o = resolveOptions(opts);
  const root = opts.path;
  const all = await listClasses(root);
  const classes = all.slice(0, Math.min(all.length, o.numClasses));
  const limits = { numClasses: o.numClasses, perClass: o.perClass };
  const { table } = await scanSplit(root, opts.split, all, limits, opts.valLabels, opts.valSynsets);
  const dir = path.join(root, opts.split);
  if (table.length === 0) throw new DataError(`${dir}: no images for the selected classes; check the folder and numClasses`);
  if (o.dropRemainder && table.length < opts.batchSize) {
    throw new DataError(`${dir}: ${table.length} images, fewer than one batch of ${opts.batchSize}; lower the batch size or use more images`);
  }
  check(o.start.index < table.length, `imagenet start index ${o.start.index} is beyond the ${table.length} images of ${dir}`);
  sharp.concurrency(o.vipsThreads);
  sharp.cache(false); // every file is read once per epoch: libvips's operation cache would only hold memory
  return new Stream(table, classes, opts.batchSize, o);
}
