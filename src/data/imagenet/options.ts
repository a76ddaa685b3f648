/**
 * ImageNet (ILSVRC2012) streamed from JPEG files for the Inception experiment
 * (paper section 4.2): what a stream is asked for and what it hands out.
 * Nothing but the file list stays in memory: batches are decoded by sharp
 * (libvips) and augmented in a worker thread (decoder.ts), `prefetch`
 * batches ahead of the consumer, and each batch is dropped as soon as the
 * consumer lets go of it.
 *
 *   tree.ts           scanning and verifying train/ and val/ into a file table
 *   labels.ts         the label-file formats of a flat val/
 *   augment.ts        one image: crop geometry, decode, distortion, normalisation
 *   decoder.ts        decoding a batch on the main thread or in worker threads
 *   decode-worker.ts  the worker thread's entry file
 *   stream.ts         file order per epoch, prefetching, positions: openImageNet
 */
import { ConfigError } from '../../errors';

export type Rgb = [number, number, number];

export const IMAGENET_MEAN_RGB: Rgb = [123.68, 116.78, 103.94];
/** Per-channel standard deviation of ImageNet pixels on the 0..255 scale. */
export const IMAGENET_STD_RGB: Rgb = [58.393, 57.12, 57.375];

export interface ImageNetOptions {
  /** Dataset root holding train/ and val/. */
  path: string;
  split: 'train' | 'val';
  batchSize: number;
  /** Output height and width. Default 224. */
  size?: number;
  /** Seeds file order and augmentation. Default 0. */
  seed?: number;
  /** Batches kept decoding or decoded ahead of the consumer. Default 2. */
  prefetch?: number;
  /** Worker threads that decode and augment (0 = on the main thread's event loop). Default 1. */
  decodeThreads?: number;
  /** Images decoding at once in each decode thread. Default 2. */
  imagesInFlight?: number;
  /** libvips threads per image, sharp.concurrency() (process-wide). Default 1. */
  vipsThreads?: number;
  /** Random crops, flips and photometric distortion (training pipeline). Default: split === 'train'. */
  augment?: boolean;
  /** Photometric distortion strength in [0, 1]; 0 = none. Default 1. */
  distortion?: number;
  /** Smallest crop area as a fraction of the image, in (0, 1]. Default 0.08. */
  areaMin?: number;
  /** Aspect-ratio range (width / height) of random crops. Default [3/4, 4/3]. */
  aspectRange?: [number, number];
  /** Random horizontal flips when augmenting. Default true. */
  flip?: boolean;
  /** Subtracted per channel (0..255 scale). Default IMAGENET_MEAN_RGB. */
  meanRgb?: Rgb;
  /** Divides per channel after the mean. Default IMAGENET_STD_RGB; [1, 1, 1] keeps the 0..255 scale. */
  stdRgb?: Rgb;
  /** Evaluation: the centre crop's share of the resized shorter side. Default 0.875 (224 of 256). */
  evalCropFraction?: number;
  /** 'full' = a fresh global permutation per epoch; n = a fixed seeded order read through an n-slot shuffle buffer redrawn per epoch; 'none' = sorted. Default 'full' for train, 'none' for val. */
  shuffle?: 'full' | 'none' | number;
  /** Passes over the data before next() returns null. Default Infinity for train, 1 for val. */
  epochs?: number;
  /** Drop an epoch's last incomplete batch. Default true for train, false for val. */
  dropRemainder?: boolean;
  /** Resume here: a `position` saved from an earlier stream with the same options. Default {epoch: 0, index: 0}. */
  start?: StreamPosition;
  /** Use only the first n classes (sorted wnid order); other classes' images are left out. Default all. */
  numClasses?: number;
  /** Use only the first n images of each class (sorted file names). Default all. */
  perClass?: number;
  /** Label file for a flat val/ (absolute, or relative to `path`). */
  valLabels?: string;
  /** For one-id-per-line val labels: the wnid of each 1-based id, one per line in id order or "<wnid> <id> ..." lines (map_clsloc.txt); absolute or relative to `path`. Default: id k = k-th sorted wnid. */
  valSynsets?: string;
}

/** The next example the consumer will receive: epoch, and offset into that epoch's order. */
export interface StreamPosition {
  epoch: number;
  index: number;
}

export interface ImageNetBatch {
  /** n x size x size x 3, NHWC, normalised. */
  x: Float32Array;
  labels: Int32Array;
  /** Which images: indices into the split's file list (see ImageNetStream.file). */
  ids: Int32Array;
  n: number;
  /** Where this batch starts. */
  epoch: number;
  index: number;
}

export interface ImageNetStream extends AsyncIterable<ImageNetBatch> {
  readonly classes: readonly string[];
  /** Images in the split (after numClasses / perClass). */
  readonly count: number;
  readonly size: number;
  readonly batchSize: number;
  readonly batchesPerEpoch: number;
  /** Where the next batch starts; save it with a checkpoint and pass it back as `start`. */
  readonly position: StreamPosition;
  /** Batches decoded or decoding ahead of the consumer now, and the most ever. */
  readonly ahead: number;
  readonly maxAhead: number;
  /** The most images ever decoding at once in one decode thread (bounded by imagesInFlight). */
  readonly maxDecoding: number;
  /** Images decoded so far. */
  readonly decoded: number;
  /** The path of image `id` (ImageNetBatch.ids), e.g. to log what a batch held. */
  file(id: number): string;
  /** The next batch, or null after the last epoch. Throws DataError naming an unreadable image. */
  next(): Promise<ImageNetBatch | null>;
  /** Stops prefetching and waits for decodes in flight. */
  close(): Promise<void>;
}

/** Throws the one-line ConfigError when an option is out of range. */
export function check(ok: boolean, message: string): void {
  if (!ok) throw new ConfigError(message);
}

/** Every option with its default filled in, checked. */
export function resolveOptions(o: ImageNetOptions) {
  const train = o.split === 'train';
  const r = {
    size: o.size ?? 224,
    seed: o.seed ?? 0,
    prefetch: o.prefetch ?? 2,
    decodeThreads: o.decodeThreads ?? 1,
    imagesInFlight: o.imagesInFlight ?? 2,
    vipsThreads: o.vipsThreads ?? 1,
    augment: o.augment ?? train,
    distortion: o.distortion ?? 1,
    areaMin: o.areaMin ?? 0.08,
    aspect: o.aspectRange ?? ([3 / 4, 4 / 3] as [number, number]),
    flip: o.flip ?? true,
    mean: o.meanRgb ?? IMAGENET_MEAN_RGB,
    std: o.stdRgb ?? IMAGENET_STD_RGB,
    evalFraction: o.evalCropFraction ?? 0.875,
    shuffle: o.shuffle ?? (train ? 'full' : 'none'),
    epochs: o.epochs ?? (train ? Infinity : 1),
    dropRemainder: o.dropRemainder ?? train,
    start: o.start ?? { epoch: 0, index: 0 },
    numClasses: o.numClasses ?? Infinity,
    perClass: o.perClass ?? Infinity,
  };
  const int = (v: number, min: number) => Number.isInteger(v) && v >= min;
  check(o.split === 'train' || o.split === 'val', `imagenet split must be 'train' or 'val', got '${o.split}'`);
  check(int(o.batchSize, 1), `imagenet batchSize must be an integer >= 1, got ${o.batchSize}`);
  check(int(r.size, 1), `imagenet size must be an integer >= 1, got ${r.size}`);
  check(int(r.seed, 0), `imagenet seed must be an integer >= 0, got ${r.seed}`);
  check(int(r.prefetch, 0), `imagenet prefetch must be an integer >= 0, got ${r.prefetch}`);
  check(int(r.decodeThreads, 0), `imagenet decodeThreads must be an integer >= 0, got ${r.decodeThreads}`);
  check(int(r.imagesInFlight, 1), `imagenet imagesInFlight must be an integer >= 1, got ${r.imagesInFlight}`);
  check(int(r.vipsThreads, 1), `imagenet vipsThreads must be an integer >= 1, got ${r.vipsThreads}`);
  check(r.distortion >= 0 && r.distortion <= 1, `imagenet distortion must be in [0, 1], got ${r.distortion}`);
  check(r.areaMin > 0 && r.areaMin <= 1, `imagenet areaMin must be in (0, 1], got ${r.areaMin}`);
  check(r.aspect[0] > 0 && r.aspect[0] <= r.aspect[1], `imagenet aspectRange must be [lo, hi] with 0 < lo <= hi, got [${r.aspect.join(', ')}]`);
  check(r.evalFraction > 0 && r.evalFraction <= 1, `imagenet evalCropFraction must be in (0, 1], got ${r.evalFraction}`);
  check(r.std.every((s) => s > 0) && r.std.length === 3 && r.mean.length === 3, 'imagenet meanRgb and stdRgb must be three numbers, stdRgb positive');
  check(
    r.shuffle === 'full' || r.shuffle === 'none' || int(r.shuffle as number, 1),
    `imagenet shuffle must be 'full', 'none' or a buffer size >= 1, got ${r.shuffle}`,
  );
  check(r.epochs === Infinity || int(r.epochs, 1), `imagenet epochs must be an integer >= 1, got ${r.epochs}`);
  check(r.numClasses === Infinity || int(r.numClasses, 1), `imagenet numClasses must be an integer >= 1, got ${r.numClasses}`);
  check(r.perClass === Infinity || int(r.perClass, 1), `imagenet perClass must be an integer >= 1, got ${r.perClass}`);
  check(int(r.start.epoch, 0) && int(r.start.index, 0), `imagenet start must be {epoch, index} with integers >= 0`);
  return r;
}

export type ResolvedOptions = ReturnType<typeof resolveOptions>;
