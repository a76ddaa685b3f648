/**
 * The label file of a flat val/ folder. One of, per line:
 *
 *   "<filename> <wnid|index>"  index 0-based in sorted-wnid order, as in
 *                              Caffe's val.txt; commas also separate, so
 *                              Kaggle's LOC_val_solution.csv works
 *   "<index>"                  1-based, in sorted filename order
 *                              (ILSVRC2012_validation_ground_truth.txt)
 *
 * The devkit's 1-based ids are NOT positions in sorted-wnid order (id 1 is
 * n02119789, sorted position 1 is n01440764): for the devkit ground truth pass
 * `valSynsets`: a file with the wnid of id k on line k (as exported from the
 * 2012 devkit's meta.mat), or "<wnid> <id> ..." lines in any order (the 2014
 * devkit's map_clsloc.txt). Without it, id k means the k-th sorted wnid.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError, errorLine } from '../../errors';

async function readLines(file: string, what: string): Promise<string[]> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError(`${file}: ${what} not found; check the path`);
    throw new DataError(`${file}: cannot read ${what} (${errorLine(e)})`);
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

export interface FlatVal {
  /** The dataset root: `labels` and `synsets` are relative to it. */
  root: string;
  /** The flat val/ folder, for messages. */
  dir: string;
  /** Its image file names, sorted by code point. */
  images: string[];
  /** The class wnids in sorted order. */
  classes: string[];
  /** data.valLabels and data.valSynsets. */
  labels: string;
  synsets: string | undefined;
}

/** The class index of every image in a flat val/, from its label file; a DataError naming the line otherwise. */
export async function flatValLabels(v: FlatVal): Promise<Map<string, number>> {
  const { root, dir, images, classes } = v;
  const labelFile = path.resolve(root, v.labels);
  const synsetsOpt = v.synsets;
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
      throw new DataError(
        `${labelFile}: ${lines.length} labels for ${images.length} images in ${dir}; the label file must have one line per image, in sorted file-name order`,
      );
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
        if (id >= classes.length)
          throw new DataError(
            `${labelFile}:${l.line}: class index ${id} is out of range 0..${classes.length - 1} (0-based, sorted wnid order); fix the label file`,
          );
        cls = id;
      } else {
        cls = index.get(lab);
        if (cls === undefined)
          throw new DataError(
            `${labelFile}:${l.line}: unknown class '${lab}' (not a folder in ${path.join(root, 'train')}); fix the label file or the class folders`,
          );
      }
      if (labelOf.has(name)) throw new DataError(`${labelFile}:${l.line}: image '${name}' is labelled twice; keep one line per image`);
      labelOf.set(name, cls);
    });
    for (const img of images) {
      if (!labelOf.has(img)) throw new DataError(`${path.join(dir, img)}: has no line in ${labelFile}; add its label or remove the image`);
    }
  }
  return labelOf;
}
