/**
 * ImageNet (ILSVRC2012) streamed from JPEG files for the Inception experiment
 * (paper section 4.2). Nothing but the file list stays in memory: batches are
 * decoded by sharp (libvips) and augmented in a worker thread, `prefetch`
 * batches ahead of the consumer, and each batch is dropped as soon as the
 * consumer lets go of it. See "Decoding a batch" below for why a thread.
 *
 * Layout under the dataset root:
 *
 *   train/<wnid>/*.JPEG          one folder per class; classes = sorted wnids,
 *                                class index = position in that order
 *   val/<wnid>/*.JPEG            either class folders like train,
 *   val/*.JPEG + a label file    or a flat folder plus `valLabels`, one of
 *     "<filename> <wnid|index>"  per line (index 0-based in sorted-wnid order,
 *                                as in Caffe's val.txt; commas also separate,
 *                                so Kaggle's LOC_val_solution.csv works), or
 *     "<index>"                  per line, 1-based, in sorted filename order
 *                                (ILSVRC2012_validation_ground_truth.txt).
 *
 * The devkit's 1-based ids are NOT positions in sorted-wnid order (id 1 is
 * n02119789, sorted position 1 is n01440764): for the devkit ground truth pass
 * `valSynsets`: a file with the wnid of id k on line k (as exported from the
 * 2012 devkit's meta.mat), or "<wnid> <id> ..." lines in any order (the 2014
 * devkit's map_clsloc.txt). Without it, id k means the k-th sorted wnid.
 *
 * Training examples: Inception-style random resized crop (area fraction in
 * [areaMin, 1], aspect ratio log-uniform in [3/4, 4/3], 10 tries, then a centre
 * crop), resized to size x size, random horizontal flip, photometric
 * distortion (brightness, contrast, saturation in random order, ranges scaled
 * by `distortion` in [0, 1]; 0 = none). Evaluation examples: shorter side
 * resized to round(size / 0.875), then the centre size x size crop. Both end
 * with (pixel - meanRgb) / stdRgb per channel, pixels in 0..255.
 *
 * Randomness: every draw comes from the seed through Rng.fork with a label
 * naming the epoch (file order) or the epoch and position (one example's
 * augmentation), so batches do not depend on decode timing or concurrency and a
 * stream reopened at a saved position continues exactly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { ConfigError, DataError } from '../errors';
import { Rng } from '../rng';
import { Limiter, Prefetcher } from './prefetch';

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

export interface SplitInfo {
  dir: string;
  layout: 'folders' | 'labels';
  total: number;
  /** Images per class index. */
  perClass: number[];
}

export interface ImageNetInfo {
  root: string;
  classes: string[];
  train: SplitInfo;
  /** Null if val/ does not exist. */
  val: SplitInfo | null;
}

// ---------------------------------------------------------------------------
// The file list, packed: one Buffer of names instead of a million strings.

class FileTable {
  readonly dirs: string[] = [];
  private names = Buffer.alloc(1 << 12);
  private used = 0;
  private offsets: number[] = [0];
  private dirList: number[] = [];
  private labelList: number[] = [];
  private frozen: { offsets: Uint32Array; dirOf: Uint32Array; labels: Int32Array } | null = null;

  add(dir: number, name: string, label: number): void {
    const len = Buffer.byteLength(name);
    if (this.used + len > this.names.length) {
      const grown = Buffer.alloc(Math.max(this.names.length * 2, this.used + len));
      this.names.copy(grown, 0, 0, this.used);
      this.names = grown;
    }
    this.used += this.names.write(name, this.used);
    this.offsets.push(this.used);
    this.dirList.push(dir);
    this.labelList.push(label);
  }

  freeze(): this {
    this.frozen = {
      offsets: Uint32Array.from(this.offsets),
      dirOf: Uint32Array.from(this.dirList),
      labels: Int32Array.from(this.labelList),
    };
    this.names = this.names.subarray(0, this.used);
    this.offsets = [];
    this.dirList = [];
    this.labelList = [];
    return this;
  }

  private get f(): { offsets: Uint32Array; dirOf: Uint32Array; labels: Int32Array } {
    if (!this.frozen) throw new Error('FileTable used before freeze()');
    return this.frozen;
  }

  get length(): number {
    return this.f.labels.length;
  }

  get labels(): Int32Array {
    return this.f.labels;
  }

  file(i: number): string {
    const { offsets, dirOf } = this.f;
    return path.join(this.dirs[dirOf[i]], this.names.toString('utf8', offsets[i], offsets[i + 1]));
  }
}

// ---------------------------------------------------------------------------
// Scanning and verifying the tree.

const IMAGE_EXT = /\.(jpe?g|png)$/i;

function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

function errMsg(e: unknown): string {
  return oneLine(e instanceof Error ? e.message : String(e));
}

async function readDir(dir: string, what: string): Promise<fs.Dirent[]> {
  try {
    return await fs.promises.readdir(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError(`${dir}: directory not found; ${what}`);
    if (code === 'ENOTDIR') throw new DataError(`${dir}: not a directory; ${what}`);
    throw new DataError(`${dir}: cannot read directory (${errMsg(e)}); check its permissions`);
  }
}

async function entryIs(dir: string, d: fs.Dirent, kind: 'dir' | 'file'): Promise<boolean> {
  if (d.name.startsWith('.')) return false;
  if (d.isSymbolicLink()) {
    try {
      const st = await fs.promises.stat(path.join(dir, d.name));
      return kind === 'dir' ? st.isDirectory() : st.isFile();
    } catch {
      return false; // a dangling link is not an entry
    }
  }
  return kind === 'dir' ? d.isDirectory() : d.isFile();
}

async function subdirs(dir: string, entries: fs.Dirent[]): Promise<string[]> {
  const out: string[] = [];
  for (const d of entries) if (await entryIs(dir, d, 'dir')) out.push(d.name);
  return out.sort(byCodePoint);
}

async function imageFiles(dir: string, entries: fs.Dirent[]): Promise<string[]> {
  const out: string[] = [];
  for (const d of entries) if (IMAGE_EXT.test(d.name) && (await entryIs(dir, d, 'file'))) out.push(d.name);
  return out.sort(byCodePoint);
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The class wnids: sorted subfolders of train/. */
async function listClasses(root: string): Promise<string[]> {
  await readDir(root, 'set the ImageNet data path to the folder holding train/ and val/');
  const trainDir = path.join(root, 'train');
  const classes = await subdirs(trainDir, await readDir(trainDir, 'the ImageNet root must hold train/<wnid>/ class folders'));
  if (classes.length === 0) {
    throw new DataError(`${trainDir}: no class folders; expected one folder per class (train/<wnid>/*.JPEG)`);
  }
  return classes;
}

interface ScanLimits {
  numClasses: number;
  perClass: number;
}

/** One file list from class folders under dir; a folder not in `classes` is an error. */
async function scanFolders(dir: string, classes: string[], limits: ScanLimits, allowEmpty: boolean): Promise<FileTable> {
  const index = new Map(classes.map((c, i) => [c, i]));
  const folders = await subdirs(dir, await readDir(dir, 'expected class folders <wnid>/*.JPEG'));
  if (folders.length === 0) throw new DataError(`${dir}: no class folders; expected one folder per class (<wnid>/*.JPEG)`);
  for (const f of folders) {
    if (!index.has(f)) {
      throw new DataError(`${path.join(dir, f)}: class '${f}' is not among the ${classes.length} classes in train/; remove the folder or add the class to train/`);
    }
  }
  const used = folders.filter((f) => (index.get(f) as number) < limits.numClasses);
  const limiter = new Limiter(16);
  const lists = await Promise.all(
    used.map((f) =>
      limiter.run(async () => {
        const d = path.join(dir, f);
        const files = await imageFiles(d, await readDir(d, 'expected a class folder'));
        if (files.length === 0 && !allowEmpty) {
          throw new DataError(`${d}: class folder holds no images (.JPEG/.jpg/.png); restore its files or remove the folder`);
        }
        return files.slice(0, limits.perClass);
      }),
    ),
  );
  const table = new FileTable();
  used.forEach((f, k) => {
    table.dirs.push(path.join(dir, f));
    for (const name of lists[k]) table.add(k, name, index.get(f) as number);
  });
  return table.freeze();
}

async function readLines(file: string, what: string): Promise<string[]> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError(`${file}: ${what} not found; check the path`);
    throw new DataError(`${file}: cannot read ${what} (${errMsg(e)})`);
  }
  return text.split(/\r?\n/);
}

interface LabelLine {
  line: number;
  tokens: string[];
}

function parseIndex(tok: string): number | null {
  return /^\d+$/.test(tok) ? Number(tok) : null;
}

/**
 * The wnid of each 1-based id: one wnid per line in id order, or lines
 * "<wnid> <id> ..." in any order (the ILSVRC2014 devkit's map_clsloc.txt).
 */
async function readSynsets(file: string, index: Map<string, number>, trainDir: string): Promise<string[]> {
  const ids: string[] = [];
  let k = 0;
  for (const [i, raw] of (await readLines(file, 'synset list')).entries()) {
    const t = raw.trim().split(/[\s,]+/);
    if (t[0] === '' || t[0].startsWith('#')) continue;
    const wnid = t[0];
    const explicit = t.length >= 2 ? parseIndex(t[1]) : null;
    const id = explicit ?? k + 1;
    k += 1;
    if (!index.has(wnid)) throw new DataError(`${file}:${i + 1}: unknown class '${wnid}' (not a folder in ${trainDir}); fix the synset list`);
    if (id < 1 || ids[id - 1] !== undefined) throw new DataError(`${file}:${i + 1}: id ${id} is out of range or repeated; fix the synset list`);
    ids[id - 1] = wnid;
  }
  for (let j = 0; j < ids.length; j++) {
    if (ids[j] === undefined) throw new DataError(`${file}: no wnid for id ${j + 1}; the synset list must cover ids 1..${ids.length}`);
  }
  return ids;
}

/** A flat val/ plus a label file (see the header for the formats). */
async function scanFlatVal(
  root: string,
  dir: string,
  classes: string[],
  limits: ScanLimits,
  labelsOpt: string | undefined,
  synsetsOpt: string | undefined,
): Promise<FileTable> {
  if (labelsOpt === undefined) {
    throw new DataError(`${dir}: has no class folders and no label file was given; set valLabels to the validation label file or sort val/ into <wnid>/ folders`);
  }
  const labelFile = path.resolve(root, labelsOpt);
  const images = await imageFiles(dir, await readDir(dir, 'expected validation images'));
  if (images.length === 0) throw new DataError(`${dir}: no images (.JPEG/.jpg/.png) and no class folders; restore the validation images`);
  const index = new Map(classes.map((c, i) => [c, i]));
  const lines: LabelLine[] = [];
  (await readLines(labelFile, 'validation label file')).forEach((raw, i) => {
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) return;
    lines.push({ line: i + 1, tokens: t.split(/[\s,]+/) });
  });
  if (lines.length === 0) throw new DataError(`${labelFile}: validation label file has no labels`);
  const perLine = lines[0].tokens.length >= 2 ? 2 : 1;
  for (const l of lines) {
    if ((l.tokens.length >= 2 ? 2 : 1) !== perLine) {
      throw new DataError(`${labelFile}:${l.line}: mixes '<filename> <label>' lines with one-label lines; use one format throughout`);
    }
  }
  const labelOf = new Map<string, number>();
  if (perLine === 1) {
    // One 1-based id per line, for the sorted image file names.
    let ids: string[] | null = null;
    if (synsetsOpt !== undefined) {
      const synFile = path.resolve(root, synsetsOpt);
      ids = await readSynsets(synFile, index, path.join(root, 'train'));
    }
    if (lines.length !== images.length) {
      throw new DataError(`${labelFile}: ${lines.length} labels for ${images.length} images in ${dir}; the label file must have one line per image, in sorted file-name order`);
    }
    lines.forEach((l, k) => {
      const id = parseIndex(l.tokens[0]);
      const count = ids ? ids.length : classes.length;
      if (id === null || id < 1 || id > count) {
        throw new DataError(`${labelFile}:${l.line}: label '${l.tokens[0]}' is not a class id 1..${count}; fix the label file`);
      }
      labelOf.set(images[k], ids ? (index.get(ids[id - 1]) as number) : id - 1);
    });
  } else {
    const present = new Set(images);
    lines.forEach((l, k) => {
      const base = path.basename(l.tokens[0]);
      const name = present.has(base) ? base : ['.JPEG', '.jpg', '.jpeg', '.png'].map((e) => base + e).find((n) => present.has(n));
      if (name === undefined) {
        if (k === 0) return; // a header line such as "ImageId,PredictionString"
        throw new DataError(`${labelFile}:${l.line}: image '${l.tokens[0]}' not found in ${dir}; fix the label file or restore the image`);
      }
      const lab = l.tokens[1];
      const id = parseIndex(lab);
      let cls: number | undefined;
      if (id !== null) {
        if (id >= classes.length) throw new DataError(`${labelFile}:${l.line}: class index ${id} is out of range 0..${classes.length - 1} (0-based, sorted wnid order); fix the label file`);
        cls = id;
      } else {
        cls = index.get(lab);
        if (cls === undefined) throw new DataError(`${labelFile}:${l.line}: unknown class '${lab}' (not a folder in ${path.join(root, 'train')}); fix the label file or the class folders`);
      }
      if (labelOf.has(name)) throw new DataError(`${labelFile}:${l.line}: image '${name}' is labelled twice; keep one line per image`);
      labelOf.set(name, cls);
    });
    for (const img of images) {
      if (!labelOf.has(img)) throw new DataError(`${path.join(dir, img)}: has no line in ${labelFile}; add its label or remove the image`);
    }
  }
  const table = new FileTable();
  table.dirs.push(dir);
  const taken = new Array<number>(classes.length).fill(0);
  for (const img of images) {
    const cls = labelOf.get(img) as number;
    if (cls >= limits.numClasses || taken[cls] >= limits.perClass) continue;
    taken[cls] += 1;
    table.add(0, img, cls);
  }
  return table.freeze();
}

async function scanSplit(
  root: string,
  split: 'train' | 'val',
  classes: string[],
  limits: ScanLimits,
  valLabels: string | undefined,
  valSynsets: string | undefined,
): Promise<{ table: FileTable; layout: 'folders' | 'labels' }> {
  const dir = path.join(root, split);
  if (split === 'train') return { table: await scanFolders(dir, classes, limits, false), layout: 'folders' };
  const entries = await readDir(dir, 'the ImageNet root must hold val/ (class folders, or images plus a label file)');
  if ((await subdirs(dir, entries)).length > 0) return { table: await scanFolders(dir, classes, limits, true), layout: 'folders' };
  return { table: await scanFlatVal(root, dir, classes, limits, valLabels, valSynsets), layout: 'labels' };
}

function splitInfo(dir: string, layout: 'folders' | 'labels', table: FileTable, classes: number): SplitInfo {
  const perClass = new Array<number>(classes).fill(0);
  for (const l of table.labels) perClass[l] += 1;
  return { dir, layout, total: table.length, perClass };
}

/** Classes and image counts of both splits, verifying the tree like openImageNet does. */
export async function describeImageNet(root: string, opts: { valLabels?: string; valSynsets?: string } = {}): Promise<ImageNetInfo> {
  const classes = await listClasses(root);
  const all = { numClasses: Infinity, perClass: Infinity };
  const train = await scanSplit(root, 'train', classes, all, undefined, undefined);
  let val: SplitInfo | null = null;
  if (fs.existsSync(path.join(root, 'val'))) {
    const v = await scanSplit(root, 'val', classes, all, opts.valLabels, opts.valSynsets);
    val = splitInfo(path.join(root, 'val'), v.layout, v.table, classes.length);
  }
  return { root, classes, train: splitInfo(path.join(root, 'train'), 'folders', train.table, classes.length), val };
}

// ---------------------------------------------------------------------------
// One image: crop geometry, decode, augmentation, normalisation.

export interface Crop {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Inception's random resized crop (as torchvision's RandomResizedCrop), in pixels of a w x h image. */
export function sampleCrop(w: number, h: number, rng: Rng, areaMin: number, aspect: [number, number]): Crop {
  const area = w * h;
  const logLo = Math.log(aspect[0]);
  const logHi = Math.log(aspect[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (areaMin + (1 - areaMin) * rng.next());
    const ratio = Math.exp(logLo + (logHi - logLo) * rng.next());
    const cw = Math.round(Math.sqrt(target * ratio));
    const ch = Math.round(Math.sqrt(target / ratio));
    if (cw > 0 && ch > 0 && cw <= w && ch <= h) {
      return { left: rng.int(w - cw + 1), top: rng.int(h - ch + 1), width: cw, height: ch };
    }
  }
  // Fallback: the largest centred crop whose aspect ratio is within range.
  let cw = w;
  let ch = h;
  if (w / h < aspect[0]) ch = Math.max(1, Math.min(h, Math.round(w / aspect[0])));
  else if (w / h > aspect[1]) cw = Math.max(1, Math.min(w, Math.round(h * aspect[1])));
  return { left: Math.floor((w - cw) / 2), top: Math.floor((h - ch) / 2), width: cw, height: ch };
}

/** Evaluation geometry: resize to (rw, rh) with the shorter side round(size / fraction), then crop. */
export function evalGeometry(w: number, h: number, size: number, fraction: number): { rw: number; rh: number; crop: Crop } {
  const s = Math.max(size, Math.round(size / fraction));
  const rw = w <= h ? s : Math.max(s, Math.round((w * s) / h));
  const rh = w <= h ? Math.max(s, Math.round((h * s) / w)) : s;
  return { rw, rh, crop: { left: Math.floor((rw - size) / 2), top: Math.floor((rh - size) / 2), width: size, height: size } };
}

interface Pipeline {
  size: number;
  augment: boolean;
  distortion: number;
  areaMin: number;
  aspect: [number, number];
  flip: boolean;
  mean: Rgb;
  invStd: Rgb;
  evalFraction: number;
}

/**
 * Brightness (+-32 levels), contrast and saturation (factor 1 +- 0.5), each
 * range times `strength`, applied in a random order with clipping to 0..255
 * after each, on an interleaved RGB slice. Contrast scales each channel about
 * its mean over the image (as TF's adjust_contrast); saturation blends with
 * the luma 0.299 R + 0.587 G + 0.114 B. The draws are made whatever the
 * strength, so strength does not shift later draws. (Hand-inlined: this runs
 * on the main thread for every training image.)
 */
export function distortColours(px: Float32Array, rng: Rng, strength: number): void {
  const order = rng.permutation(3);
  const delta = (2 * rng.next() - 1) * 32 * strength;
  const contrast = 1 + (2 * rng.next() - 1) * 0.5 * strength;
  const saturation = 1 + (2 * rng.next() - 1) * 0.5 * strength;
  if (strength === 0) return;
  const n = px.length;
  for (const op of order) {
    if (op === 0) {
      for (let i = 0; i < n; i++) {
        const v = px[i] + delta;
        px[i] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    } else if (op === 1) {
      let m0 = 0;
      let m1 = 0;
      let m2 = 0;
      for (let i = 0; i < n; i += 3) {
        m0 += px[i];
        m1 += px[i + 1];
        m2 += px[i + 2];
      }
      const k = (3 / n) * (1 - contrast);
      const b0 = m0 * k;
      const b1 = m1 * k;
      const b2 = m2 * k;
      for (let i = 0; i < n; i += 3) {
        const v0 = px[i] * contrast + b0;
        const v1 = px[i + 1] * contrast + b1;
        const v2 = px[i + 2] * contrast + b2;
        px[i] = v0 < 0 ? 0 : v0 > 255 ? 255 : v0;
        px[i + 1] = v1 < 0 ? 0 : v1 > 255 ? 255 : v1;
        px[i + 2] = v2 < 0 ? 0 : v2 > 255 ? 255 : v2;
      }
    } else {
      const f = saturation;
      const g = 1 - f;
      for (let i = 0; i < n; i += 3) {
        const r0 = px[i];
        const r1 = px[i + 1];
        const r2 = px[i + 2];
        const l = (0.299 * r0 + 0.587 * r1 + 0.114 * r2) * g;
        const v0 = r0 * f + l;
        const v1 = r1 * f + l;
        const v2 = r2 * f + l;
        px[i] = v0 < 0 ? 0 : v0 > 255 ? 255 : v0;
        px[i + 1] = v1 < 0 ? 0 : v1 > 255 ? 255 : v1;
        px[i + 2] = v2 < 0 ? 0 : v2 > 255 ? 255 : v2;
      }
    }
  }
}

/** Decodes one file into out (size*size*3 floats, normalised). rng null = evaluation pipeline. */
async function decodeInto(file: string, out: Float32Array, p: Pipeline, rng: Rng | null): Promise<void> {
  const size = p.size;
  let flip = false;
  let data: Buffer;
  let channels: number;
  try {
    // sharp opens the file itself, on a libuv thread.
    const img = sharp(file, { failOn: 'error' });
    const meta = await img.metadata();
    const w = meta.width;
    const h = meta.height;
    if (!w || !h) throw new Error('no image dimensions');
    if (rng) {
      img.extract(sampleCrop(w, h, rng, p.areaMin, p.aspect)).resize(size, size, { fit: 'fill' });
      flip = p.flip && rng.next() < 0.5;
    } else {
      const g = evalGeometry(w, h, size, p.evalFraction);
      img.resize(g.rw, g.rh, { fit: 'fill' }).extract(g.crop);
    }
    const r = await img.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    data = r.data;
    channels = r.info.channels;
    if (r.info.width !== size || r.info.height !== size || data.length !== size * size * channels) {
      throw new Error(`decoded to ${r.info.width}x${r.info.height}x${channels}, expected ${size}x${size}`);
    }
  } catch (e) {
    throw new DataError(`${file}: not a readable image (${errMsg(e)}); replace or delete the file`);
  }
  // Interleaved RGB on the 0..255 scale, mirrored if flipped.
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const s = (y * size + x) * channels;
      const d = (y * size + (flip ? size - 1 - x : x)) * 3;
      if (channels >= 3) {
        out[d] = data[s];
        out[d + 1] = data[s + 1];
        out[d + 2] = data[s + 2];
      } else {
        out[d] = out[d + 1] = out[d + 2] = data[s];
      }
    }
  }
  if (rng) distortColours(out, rng, p.distortion);
  const [m0, m1, m2] = p.mean;
  const [s0, s1, s2] = p.invStd;
  for (let i = 0; i < out.length; i += 3) {
    out[i] = (out[i] - m0) * s0;
    out[i + 1] = (out[i + 1] - m1) * s1;
    out[i + 2] = (out[i + 2] - m2) * s2;
  }
}

// ---------------------------------------------------------------------------
// Decoding a batch: on the main thread's event loop, or in worker threads.
//
// On the main thread libvips already runs off-thread, but starting each image
// (sharp's pipeline set-up, ~0.5 ms) and the JS post-processing (flip,
// distortion, normalisation, ~1 ms at 224) wait for the event loop, which a
// synchronous tfjs training step holds for the whole step. In a worker thread
// decoding goes on during the step, so the default is one decode thread.

interface DecodeJob {
  files: string[];
  /** Rng state per image (training pipeline), or null (evaluation). */
  rngs: number[] | null;
}

interface Decoder {
  decode(job: DecodeJob): Promise<Float32Array>;
  readonly maxActive: number;
  close(): Promise<void>;
}

async function decodeBatch(job: DecodeJob, p: Pipeline, limiter: Limiter, isClosed: () => boolean): Promise<Float32Array> {
  const per = p.size * p.size * 3;
  const x = new Float32Array(job.files.length * per);
  await Promise.all(
    job.files.map((file, k) =>
      limiter.run(async () => {
        if (isClosed()) return;
        await decodeInto(file, x.subarray(k * per, (k + 1) * per), p, job.rngs ? Rng.restore(job.rngs[k]) : null);
      }),
    ),
  );
  return x;
}

class InlineDecoder implements Decoder {
  private readonly limiter: Limiter;
  private closed = false;

  constructor(
    private readonly p: Pipeline,
    inFlight: number,
  ) {
    this.limiter = new Limiter(inFlight);
  }

  get maxActive(): number {
    return this.limiter.maxActive;
  }

  decode(job: DecodeJob): Promise<Float32Array> {
    return decodeBatch(job, this.p, this.limiter, () => this.closed);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.limiter.idle();
  }
}

const WORKER_TAG = 'bnrun-imagenet-decoder';

interface WorkerSetup {
  tag: typeof WORKER_TAG;
  pipeline: Pipeline;
  inFlight: number;
  vipsThreads: number;
}

type WorkerRequest = ({ id: number } & DecodeJob) | { close: true };
type WorkerReply = { id: number; maxActive: number } & ({ ok: true; x: Float32Array } | { ok: false; message: string; dataError: boolean });

interface Pending {
  resolve: (x: Float32Array) => void;
  reject: (e: Error) => void;
}

class ThreadDecoder implements Decoder {
  private readonly threads: { worker: Worker; pending: Map<number, Pending>; exited: Promise<void> }[] = [];
  private nextId = 0;
  private closing = false;
  maxActive = 0;

  constructor(p: Pipeline, count: number, inFlight: number, vipsThreads: number) {
    const setup: WorkerSetup = { tag: WORKER_TAG, pipeline: p, inFlight, vipsThreads };
    for (let i = 0; i < count; i++) {
      const worker = new Worker(__filename, { workerData: setup });
      const pending = new Map<number, Pending>();
      const failAll = (e: Error) => {
        for (const q of pending.values()) q.reject(e);
        pending.clear();
      };
      worker.on('message', (m: WorkerReply) => {
        this.maxActive = Math.max(this.maxActive, m.maxActive);
        const q = pending.get(m.id);
        pending.delete(m.id);
        if (pending.size === 0 && !this.closing) worker.unref(); // idle: do not keep the process alive
        if (!q) return;
        if (m.ok) q.resolve(m.x);
        else q.reject(m.dataError ? new DataError(m.message) : new Error(m.message));
      });
      worker.on('error', (e) => failAll(new Error(`imagenet decode thread failed: ${errMsg(e)}`)));
      const exited = new Promise<void>((resolve) =>
        worker.on('exit', (code) => {
          if (!this.closing) failAll(new Error(`imagenet decode thread exited unexpectedly (code ${code})`));
          resolve();
        }),
      );
      worker.unref();
      this.threads.push({ worker, pending, exited });
    }
  }

  decode(job: DecodeJob): Promise<Float32Array> {
    if (this.closing) return Promise.reject(new Error('the decoder is closed'));
    // The thread with the least work queued.
    let t = this.threads[0];
    for (const u of this.threads) if (u.pending.size < t.pending.size) t = u;
    const id = this.nextId++;
    return new Promise<Float32Array>((resolve, reject) => {
      t.pending.set(id, { resolve, reject });
      t.worker.ref();
      const msg: WorkerRequest = { id, ...job };
      t.worker.postMessage(msg);
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const t of this.threads) {
      for (const q of t.pending.values()) q.reject(new Error('the decoder is closed'));
      t.pending.clear();
      t.worker.ref();
      const msg: WorkerRequest = { close: true };
      t.worker.postMessage(msg);
    }
    // Each thread finishes the images it is decoding, then exits; one that hangs is terminated.
    await Promise.all(
      this.threads.map(async (t) => {
        const timer = setTimeout(() => void t.worker.terminate(), 10_000);
        await t.exited;
        clearTimeout(timer);
      }),
    );
  }
}

/** The body of a decode thread. */
function runDecodeThread(setup: WorkerSetup): void {
  const port = parentPort;
  if (!port) return;
  sharp.concurrency(setup.vipsThreads);
  sharp.cache(false);
  const limiter = new Limiter(setup.inFlight);
  let closed = false;
  port.on('message', (m: WorkerRequest) => {
    if ('close' in m) {
      closed = true;
      void limiter.idle().then(() => port.close());
      return;
    }
    decodeBatch(m, setup.pipeline, limiter, () => closed).then(
      (x) => {
        const reply: WorkerReply = { id: m.id, maxActive: limiter.maxActive, ok: true, x };
        port.postMessage(reply, [x.buffer as ArrayBuffer]);
      },
      (e: unknown) => {
        const reply: WorkerReply = { id: m.id, maxActive: limiter.maxActive, ok: false, message: errMsg(e), dataError: e instanceof DataError };
        port.postMessage(reply);
      },
    );
  });
}

if (!isMainThread && (workerData as Partial<WorkerSetup> | null)?.tag === WORKER_TAG) runDecodeThread(workerData as WorkerSetup);

// ---------------------------------------------------------------------------
// File order per epoch.

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

// ---------------------------------------------------------------------------
// The stream.

function check(ok: boolean, message: string): void {
  if (!ok) throw new ConfigError(message);
}

function resolveOptions(o: ImageNetOptions) {
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
  check(r.shuffle === 'full' || r.shuffle === 'none' || int(r.shuffle as number, 1), `imagenet shuffle must be 'full', 'none' or a buffer size >= 1, got ${r.shuffle}`);
  check(r.epochs === Infinity || int(r.epochs, 1), `imagenet epochs must be an integer >= 1, got ${r.epochs}`);
  check(r.numClasses === Infinity || int(r.numClasses, 1), `imagenet numClasses must be an integer >= 1, got ${r.numClasses}`);
  check(r.perClass === Infinity || int(r.perClass, 1), `imagenet perClass must be an integer >= 1, got ${r.perClass}`);
  check(int(r.start.epoch, 0) && int(r.start.index, 0), `imagenet start must be {epoch, index} with integers >= 0`);
  return r;
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
    private readonly o: ReturnType<typeof resolveOptions>,
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
    // Worker threads need this module as a .js file (not under a TS loader).
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
