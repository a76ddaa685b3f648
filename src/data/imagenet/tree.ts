/**
 * Scanning and verifying an ImageNet tree into a packed file table. Layout
 * under the dataset root:
 *
 *   train/<wnid>/*.JPEG          one folder per class; classes = sorted wnids,
 *                                class index = position in that order
 *   val/<wnid>/*.JPEG            either class folders like train,
 *   val/*.JPEG + a label file    or a flat folder plus `valLabels` (labels.ts)
 *
 * Every problem is a DataError naming the path and what to do.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError, errorLine } from '../../errors';
import { Limiter } from '../prefetch';
import { flatValLabels } from './labels';

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

export class FileTable {
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

async function readDir(dir: string, what: string): Promise<fs.Dirent[]> {
  try {
    return await fs.promises.readdir(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError(`${dir}: directory not found; ${what}`);
    if (code === 'ENOTDIR') throw new DataError(`${dir}: not a directory; ${what}`);
    throw new DataError(`${dir}: cannot read directory (${errorLine(e)}); check its permissions`);
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
export async function listClasses(root: string): Promise<string[]> {
  await readDir(root, 'set the ImageNet data path to the folder holding train/ and val/');
  const trainDir = path.join(root, 'train');
  const classes = await subdirs(trainDir, await readDir(trainDir, 'the ImageNet root must hold train/<wnid>/ class folders'));
  if (classes.length === 0) {
    throw new DataError(`${trainDir}: no class folders; expected one folder per class (train/<wnid>/*.JPEG)`);
  }
  return classes;
}

export interface ScanLimits {
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
      throw new DataError(
        `${path.join(dir, f)}: class '${f}' is not among the ${classes.length} classes in train/; remove the folder or add the class to train/`,
      );
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

/** A flat val/ plus a label file (labels.ts has the formats). */
async function scanFlatVal(
  root: string,
  dir: string,
  classes: string[],
  limits: ScanLimits,
  labelsOpt: string | undefined,
  synsetsOpt: string | undefined,
): Promise<FileTable> {
  if (labelsOpt === undefined) {
    throw new DataError(
      `${dir}: has no class folders and no label file was given; set valLabels to the validation label file or sort val/ into <wnid>/ folders`,
    );
  }
  const images = await imageFiles(dir, await readDir(dir, 'expected validation images'));
  if (images.length === 0) throw new DataError(`${dir}: no images (.JPEG/.jpg/.png) and no class folders; restore the validation images`);
  const labelOf = await flatValLabels({ root, dir, images, classes, labels: labelsOpt, synsets: synsetsOpt });
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

export async function scanSplit(
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
