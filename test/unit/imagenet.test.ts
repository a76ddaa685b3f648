/**
 * The streamed ImageNet loader (src/data/imagenet/, src/data/prefetch.ts) on
 * small trees of real JPEGs that this file writes with sharp into os.tmpdir().
 *
 * Class c's images have channel c constant at 220, channel c+1 a horizontal
 * ramp 0..80 and channel c+2 a vertical ramp 0..80 (mod 3), so the label of an
 * output example can be read off its colours (the brightest channel), crops
 * and flips change its pixels visibly, and "colours unchanged" is checkable
 * (the constant channel stays 220).
 *
 * Tolerances: images are stored as JPEG quality 100 with 4:4:4 chroma, which
 * reproduces these smooth images to about 1 level; resampling a constant is
 * exact and a linear ramp nearly so away from the borders. TOL = 4 levels
 * (of 255) is well below every effect checked (distortion moves the constant
 * channel by up to 32 levels, a wrong crop offset of 3 px moves the gradient
 * check by more than 4 levels).
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { DataError } from '../../src/errors';
import { Rng } from '../../src/rng';
import { distortColours, evalGeometry, sampleCrop } from '../../src/data/imagenet/augment';
import { IMAGENET_MEAN_RGB, IMAGENET_STD_RGB, ImageNetBatch, ImageNetOptions, ImageNetStream } from '../../src/data/imagenet/options';
import { openImageNet } from '../../src/data/imagenet/stream';
import { describeImageNet } from '../../src/data/imagenet/tree';
import { Limiter, Prefetcher } from '../../src/data/prefetch';

const TOL = 4;
const CONST = 220;
const RAMP = 80;
const WNIDS = ['n01000001', 'n02000002', 'n03000003'];
const TRAIN_SIZES: [number, number][] = [
  [96, 64],
  [64, 96],
  [80, 80],
  [120, 72],
];
const VAL_SIZES: [number, number][] = [
  [70, 50],
  [50, 70],
];
/** Classes of the flat val images ILSVRC2012_val_00000001..6. */
const FLAT_CLASSES = [2, 0, 1, 1, 2, 0];
/** Raw pixels: no mean, no scaling, so outputs read as 0..255. */
const RAW = { meanRgb: [0, 0, 0] as [number, number, number], stdRgb: [1, 1, 1] as [number, number, number] };

let tmp = '';
let A = ''; // train/ + val/ as class folders
let FLAT = ''; // train -> A/train, val/ flat + label files
let GRAD = ''; // one gradient image
let ODD = ''; // CMYK, greyscale, PNG with alpha

function classPixels(c: number, w: number, h: number): Buffer {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      px[i + c] = CONST;
      px[i + ((c + 1) % 3)] = Math.round((RAMP * x) / (w - 1));
      px[i + ((c + 2) % 3)] = Math.round((RAMP * y) / (h - 1));
    }
  }
  return px;
}

async function writeJpeg(file: string, px: Buffer, w: number, h: number): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(px, { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
    .toFile(file);
}

/** 160 x 120: R = 255 x / 159, G = 255 y / 119, B = 128. */
function gradientPixels(): Buffer {
  const w = 160;
  const h = 120;
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      px[i] = Math.round((255 * x) / (w - 1));
      px[i + 1] = Math.round((255 * y) / (h - 1));
      px[i + 2] = 128;
    }
  }
  return px;
}

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-imagenet-'));
  A = path.join(tmp, 'a');
  const jobs: Promise<void>[] = [];
  WNIDS.forEach((wnid, c) => {
    TRAIN_SIZES.forEach((_, k) => {
      // Rotate the sizes per class so no size identifies a class.
      const [ww, hh] = TRAIN_SIZES[(k + c) % TRAIN_SIZES.length];
      jobs.push(writeJpeg(path.join(A, 'train', wnid, `${wnid}_${k}.JPEG`), classPixels(c, ww, hh), ww, hh));
    });
    VAL_SIZES.forEach(([w, h], k) => {
      jobs.push(writeJpeg(path.join(A, 'val', wnid, `val_${c}_${k}.JPEG`), classPixels(c, w, h), w, h));
    });
  });

  FLAT = path.join(tmp, 'flat');
  fs.mkdirSync(path.join(FLAT, 'val'), { recursive: true });
  fs.symlinkSync(path.join(A, 'train'), path.join(FLAT, 'train'));
  const flatNames = FLAT_CLASSES.map((_, i) => `ILSVRC2012_val_${String(i + 1).padStart(8, '0')}.JPEG`);
  FLAT_CLASSES.forEach((c, i) => {
    const [w, h] = VAL_SIZES[i % 2];
    jobs.push(writeJpeg(path.join(FLAT, 'val', flatNames[i]), classPixels(c, w, h), w, h));
  });
  const write = (name: string, lines: string[]) => fs.writeFileSync(path.join(FLAT, name), lines.join('\n') + '\n');
  write('pairs-wnid.txt', flatNames.map((n, i) => `${n} ${WNIDS[FLAT_CLASSES[i]]}`).reverse());
  write(
    'pairs-index.txt',
    flatNames.map((n, i) => `${n} ${FLAT_CLASSES[i]}`),
  );
  write('kaggle.csv', ['ImageId,PredictionString', ...flatNames.map((n, i) => `${n.replace('.JPEG', '')},${WNIDS[FLAT_CLASSES[i]]} 1 2 30 40`)]);
  write(
    'gt-sorted.txt',
    FLAT_CLASSES.map((c) => String(c + 1)),
  );
  // Devkit-style ids: id k is the k-th line of the synset list, not the k-th sorted wnid.
  const synsets = [WNIDS[2], WNIDS[0], WNIDS[1]];
  write('synsets.txt', synsets);
  write('map_clsloc.txt', synsets.map((w, i) => `${w} ${i + 1} name_${i}`).reverse());
  write(
    'gt-devkit.txt',
    FLAT_CLASSES.map((c) => String(synsets.indexOf(WNIDS[c]) + 1)),
  );
  write(
    'unknown-wnid.txt',
    flatNames.map((n, i) => `${n} ${i === 3 ? 'n09999999' : WNIDS[FLAT_CLASSES[i]]}`),
  );
  write(
    'bad-index.txt',
    flatNames.map((n, i) => `${n} ${i === 2 ? 7 : FLAT_CLASSES[i]}`),
  );
  write(
    'gt-short.txt',
    FLAT_CLASSES.slice(1).map((c) => String(c + 1)),
  );
  write(
    'gt-zero.txt',
    FLAT_CLASSES.map((c, i) => String(i === 4 ? 0 : c + 1)),
  );

  GRAD = path.join(tmp, 'grad');
  jobs.push(writeJpeg(path.join(GRAD, 'train', WNIDS[0], 'g.JPEG'), gradientPixels(), 160, 120));
  jobs.push(writeJpeg(path.join(GRAD, 'val', WNIDS[0], 'g.JPEG'), gradientPixels(), 160, 120));

  ODD = path.join(tmp, 'odd');
  const odd = path.join(ODD, 'train', WNIDS[0]);
  fs.mkdirSync(odd, { recursive: true });
  const solid = (r: number, g: number, b: number) => {
    const px = Buffer.alloc(40 * 30 * 3);
    for (let i = 0; i < px.length; i += 3) [px[i], px[i + 1], px[i + 2]] = [r, g, b];
    return sharp(px, { raw: { width: 40, height: 30, channels: 3 } });
  };
  jobs.push(
    solid(200, 40, 60)
      .toColourspace('cmyk')
      .jpeg({ quality: 100 })
      .toFile(path.join(odd, 'a-cmyk.JPEG'))
      .then(() => undefined),
  );
  jobs.push(
    solid(90, 90, 90)
      .toColourspace('b-w')
      .jpeg({ quality: 100 })
      .toFile(path.join(odd, 'b-grey.JPEG'))
      .then(() => undefined),
  );
  jobs.push(
    solid(30, 160, 220)
      .ensureAlpha(0.5)
      .png()
      .toFile(path.join(odd, 'c-alpha.png'))
      .then(() => undefined),
  );
  await Promise.all(jobs);
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------
// Helpers.

function open(opts: Partial<ImageNetOptions> & Pick<ImageNetOptions, 'path' | 'split'>): Promise<ImageNetStream> {
  return openImageNet({ batchSize: 4, size: 32, seed: 1, ...opts });
}

/** Example k of a batch (size x size x 3). */
function example(b: ImageNetBatch, k: number, size: number): Float32Array {
  const per = size * size * 3;
  return b.x.subarray(k * per, (k + 1) * per);
}

function channelMeans(px: Float32Array): number[] {
  const m = [0, 0, 0];
  for (let i = 0; i < px.length; i += 3) for (let c = 0; c < 3; c++) m[c] += px[i + c];
  return m.map((v) => v / (px.length / 3));
}

function argmax(v: number[]): number {
  return v.indexOf(Math.max(...v));
}

async function take(s: ImageNetStream, count: number): Promise<ImageNetBatch[]> {
  const out: ImageNetBatch[] = [];
  for (let i = 0; i < count; i++) {
    const b = await s.next();
    assert.ok(b, `stream ended after ${i} batches`);
    out.push(b);
  }
  return out;
}

async function all(s: ImageNetStream): Promise<ImageNetBatch[]> {
  const out: ImageNetBatch[] = [];
  for await (const b of s) out.push(b);
  return out;
}

function bytes(b: ImageNetBatch): Buffer {
  return Buffer.from(b.x.buffer, b.x.byteOffset, b.x.byteLength);
}

/** Each example's label is the brightest channel of its mean colour (raw 0..255 values). */
function assertLabelsMatchColours(batches: ImageNetBatch[], size: number): void {
  for (const b of batches) {
    for (let k = 0; k < b.n; k++) {
      const m = channelMeans(example(b, k, size));
      assert.equal(
        argmax(m),
        b.labels[k],
        `example ${k} of batch at ${b.epoch}:${b.index}: mean colour ${m.map((v) => v.toFixed(1))} but label ${b.labels[k]}`,
      );
    }
  }
}

async function expectDataError(p: Promise<unknown>, names: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof DataError, `expected a DataError, got ${String(e)}`);
    assert.equal(e.exitCode, 1);
    assert.ok(!/[\r\n]/.test(e.message), `message is not one line: ${JSON.stringify(e.message)}`);
    assert.ok(e.message.includes(names), `message does not name ${names}: ${e.message}`);
    return true;
  });
}

// ---------------------------------------------------------------------------

describe('ImageNet tree', () => {
  it('describeImageNet lists sorted classes and per-class counts of both splits', async () => {
    const info = await describeImageNet(A);
    assert.deepEqual(info.classes, WNIDS);
    assert.deepEqual(info.train.perClass, [4, 4, 4]);
    assert.equal(info.train.total, 12);
    assert.ok(info.val);
    assert.equal(info.val.layout, 'folders');
    assert.deepEqual(info.val.perClass, [2, 2, 2]);
    const flat = await describeImageNet(FLAT, { valLabels: 'pairs-wnid.txt' });
    assert.equal(flat.train.total, 12, 'a symlinked train/ is followed');
    assert.equal(flat.val?.layout, 'labels');
    assert.deepEqual(flat.val?.perClass, [2, 2, 2]);
  });

  it('sampleCrop stays inside the image with area and aspect in range, and falls back to a centre crop', () => {
    const rng = new Rng(3);
    for (let i = 0; i < 2000; i++) {
      const w = 20 + rng.int(400);
      const h = 20 + rng.int(400);
      const c = sampleCrop(w, h, rng, 0.08, [3 / 4, 4 / 3]);
      assert.ok(c.left >= 0 && c.top >= 0 && c.left + c.width <= w && c.top + c.height <= h, JSON.stringify({ w, h, c }));
      const frac = (c.width * c.height) / (w * h);
      const ratio = c.width / c.height;
      // Rounding to whole pixels moves area and ratio slightly; a fallback crop is the largest in-range centre crop.
      assert.ok(frac >= 0.08 * 0.8 && frac <= 1.0001, `area fraction ${frac}`);
      assert.ok(ratio >= (3 / 4) * 0.9 && ratio <= (4 / 3) * 1.1, `aspect ratio ${ratio}`);
    }
    assert.deepEqual(sampleCrop(1000, 10, new Rng(1), 0.08, [3 / 4, 4 / 3]), { left: 493, top: 0, width: 13, height: 10 });
    assert.deepEqual(sampleCrop(10, 10, new Rng(1), 1, [1, 1]), { left: 0, top: 0, width: 10, height: 10 });
    assert.deepEqual(evalGeometry(160, 120, 224, 0.875), { rw: 341, rh: 256, crop: { left: 58, top: 16, width: 224, height: 224 } });
  });
});

describe('evaluation pipeline', () => {
  it('val batches are NHWC float32 with int32 labels matching each image, normalised by the ImageNet mean and std', async () => {
    const s = await open({ path: A, split: 'val' });
    assert.deepEqual(s.classes, WNIDS);
    assert.equal(s.count, 6);
    assert.equal(s.batchesPerEpoch, 2);
    const batches = await all(s);
    assert.deepEqual(
      batches.map((b) => b.n),
      [4, 2],
      'one pass, last batch partial',
    );
    assert.equal(await s.next(), null);
    assert.deepEqual(s.position, { epoch: 1, index: 0 });
    for (const b of batches) {
      assert.ok(b.x instanceof Float32Array);
      assert.ok(b.labels instanceof Int32Array);
      assert.equal(b.x.length, b.n * 32 * 32 * 3);
      assert.equal(b.labels.length, b.n);
    }
    assert.deepEqual([...batches[0].labels, ...batches[1].labels], [0, 0, 1, 1, 2, 2], 'val in sorted order');
    // Undo (v - mean) / std and check the colours.
    const raw = batches.map((b) => {
      const x = new Float32Array(b.x.length);
      for (let i = 0; i < x.length; i++) x[i] = b.x[i] * IMAGENET_STD_RGB[i % 3] + IMAGENET_MEAN_RGB[i % 3];
      return { ...b, x };
    });
    assertLabelsMatchColours(raw, 32);
    for (const b of raw) {
      for (let k = 0; k < b.n; k++) {
        const m = channelMeans(example(b, k, 32));
        assert.ok(Math.abs(m[b.labels[k]] - CONST) < TOL, `constant channel ${m[b.labels[k]]}`);
      }
    }
    await s.close();
  });

  it('the centre crop is deterministic and matches a known gradient', async () => {
    const size = 64;
    const run = async () => {
      const s = await open({ path: GRAD, split: 'val', size, batchSize: 1, ...RAW });
      const [b] = await all(s);
      return b;
    };
    const b1 = await run();
    const b2 = await run();
    assert.ok(bytes(b1).equals(bytes(b2)), 'same bytes twice');
    // Shorter side 120 -> round(64 / 0.875) = 73, so 160 x 120 -> 97 x 73; centre crop at (16, 4).
    const g = evalGeometry(160, 120, size, 0.875);
    assert.deepEqual(g, { rw: 97, rh: 73, crop: { left: 16, top: 4, width: 64, height: 64 } });
    // Every pixel within TOL of the resampled ramp, and no systematic offset: the mean signed error
    // stays below 1 level, where a crop one pixel off would shift it by 2.6 (R) or 3.5 (G) levels.
    const bias = [0, 0, 0];
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        const ox = (g.crop.left + j + 0.5) * (160 / g.rw) - 0.5;
        const oy = (g.crop.top + i + 0.5) * (120 / g.rh) - 0.5;
        const want = [(255 * ox) / 159, (255 * oy) / 119, 128];
        for (let c = 0; c < 3; c++) {
          const got = b1.x[(i * size + j) * 3 + c];
          assert.ok(Math.abs(got - want[c]) <= TOL, `pixel (${i}, ${j}) channel ${c}: ${got} vs ${want[c].toFixed(1)}`);
          bias[c] += (got - want[c]) / (size * size);
        }
      }
    }
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(bias[c]) < 1, `channel ${c}: mean error ${bias[c].toFixed(2)}`);
    // Spot checks on the 0..255 scale: top-left and bottom-right of the crop.
    assert.ok(Math.abs(b1.x[0] - 42.8) < TOL && Math.abs(b1.x[1] - 14.8) < TOL, `top-left ${b1.x[0]}, ${b1.x[1]}`);
  });

  it('decodes CMYK and greyscale JPEGs and PNGs with alpha to RGB', async () => {
    const s = await open({ path: ODD, split: 'train', augment: false, shuffle: 'none', batchSize: 3, size: 16, ...RAW });
    const [b] = await take(s, 1);
    await s.close();
    const want = [
      [200, 40, 60], // through a CMYK profile round trip: loose
      [90, 90, 90],
      [30, 160, 220],
    ];
    const tol = [25, TOL, TOL];
    for (let k = 0; k < 3; k++) {
      const m = channelMeans(example(b, k, 16));
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(m[c] - want[k][c]) <= tol[k], `${s.file(b.ids[k])}: mean ${m.map((v) => v.toFixed(1))}`);
    }
  });
});

describe('training pipeline', () => {
  it('train batches have the right shapes, labels match colours, every image once per epoch', async () => {
    const s = await open({ path: A, split: 'train', ...RAW });
    assert.equal(s.batchesPerEpoch, 3);
    const batches = await take(s, 6);
    await s.close();
    for (const b of batches) {
      assert.equal(b.n, 4);
      assert.equal(b.x.length, 4 * 32 * 32 * 3);
      assert.ok(b.labels instanceof Int32Array && b.ids instanceof Int32Array);
      for (let k = 0; k < b.n; k++) assert.ok(s.file(b.ids[k]).includes(`/${WNIDS[b.labels[k]]}/`), 'label is the folder of the file');
    }
    assertLabelsMatchColours(batches, 32);
    for (const epoch of [0, 1]) {
      const ids = batches.filter((b) => b.epoch === epoch).flatMap((b) => [...b.ids]);
      assert.deepEqual(
        [...ids].sort((a, b) => a - b),
        [...Array(12).keys()],
        `epoch ${epoch} covers every image once`,
      );
    }
    const order = (e: number) =>
      batches
        .filter((b) => b.epoch === e)
        .flatMap((b) => [...b.ids])
        .join();
    assert.notEqual(order(0), order(1), 'reshuffled every epoch');
  });

  it('train crops are reproducible from the seed, differ between epochs and between seeds', async () => {
    const run = async (seed: number, shuffle: 'full' | 'none') => {
      const s = await open({ path: A, split: 'train', seed, shuffle, distortion: 0 });
      const b = await take(s, 6);
      await s.close();
      return b;
    };
    const a = await run(5, 'full');
    const b = await run(5, 'full');
    a.forEach((x, i) => {
      assert.ok(bytes(x).equals(bytes(b[i])), `batch ${i} reproduced`);
      assert.deepEqual(x.labels, b[i].labels);
    });
    const c = await run(6, 'full');
    assert.ok(!bytes(a[0]).equals(bytes(c[0])), 'another seed, other batches');
    // Same file order in both epochs: the same images, other crops.
    const d = await run(5, 'none');
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(d[i].ids, d[i + 3].ids);
      let differ = 0;
      for (let k = 0; k < 4; k++) {
        const e0 = example(d[i], k, 32);
        const e1 = example(d[i + 3], k, 32);
        if (e0.some((v, j) => v !== e1[j])) differ += 1;
      }
      assert.equal(differ, 4, `batch ${i}: every image cropped differently in epoch 1`);
    }
  });

  it('flip mirrors the image left-right', async () => {
    // areaMin 1 and aspect [1, 1] make every crop the centred square, so only the flip is random.
    const common = {
      path: A,
      split: 'train' as const,
      shuffle: 'none' as const,
      distortion: 0,
      areaMin: 1,
      aspectRange: [1, 1] as [number, number],
      batchSize: 12,
      ...RAW,
    };
    const s1 = await open({ ...common, flip: false });
    const s2 = await open({ ...common, flip: true });
    const plain = await take(s1, 2);
    const flipped = await take(s2, 2);
    await s1.close();
    await s2.close();
    const S = 32;
    let mirrored = 0;
    let same = 0;
    for (let e = 0; e < 2; e++) {
      for (let k = 0; k < 12; k++) {
        const p = example(plain[e], k, S);
        const f = example(flipped[e], k, S);
        const c = plain[e].labels[k];
        // Unflipped: channel c+1 ramps up left to right.
        const h = (c + 1) % 3;
        assert.ok(p[(S / 2) * S * 3 + (S - 1) * 3 + h] > p[(S / 2) * S * 3 + h] + 20, 'ramp rises to the right');
        let isSame = true;
        let isMirror = true;
        for (let y = 0; y < S; y++) {
          for (let x = 0; x < S; x++) {
            for (let ch = 0; ch < 3; ch++) {
              const v = f[(y * S + x) * 3 + ch];
              if (v !== p[(y * S + x) * 3 + ch]) isSame = false;
              if (v !== p[(y * S + (S - 1 - x)) * 3 + ch]) isMirror = false;
            }
          }
        }
        assert.ok(isSame !== isMirror, `example ${k}: exactly one of same / mirrored`);
        if (isMirror) mirrored += 1;
        else same += 1;
      }
    }
    assert.ok(mirrored >= 3 && same >= 3, `flips ${mirrored} of 24`);
  });

  it('distortion 0 leaves colours exact; distortion 1 changes them, more than distortion 0.2', async () => {
    const run = async (distortion: number) => {
      const s = await open({ path: A, split: 'train', seed: 9, distortion, batchSize: 12, ...RAW });
      const [b] = await take(s, 1);
      await s.close();
      return b;
    };
    const b0 = await run(0);
    for (let k = 0; k < 12; k++) {
      const px = example(b0, k, 32);
      const c = b0.labels[k];
      for (let i = 0; i < px.length; i += 3) {
        assert.ok(Math.abs(px[i + c] - CONST) <= TOL, `constant channel ${px[i + c]}`);
        for (const o of [1, 2]) {
          const v = px[i + ((c + o) % 3)];
          assert.ok(v >= -TOL && v <= RAMP + TOL, `ramp channel ${v}`);
        }
      }
    }
    const b1 = await run(1);
    const bSmall = await run(0.2);
    assert.deepEqual(b1.ids, b0.ids, 'the same images and crops: only colours differ');
    const meanAbsDiff = (b: ImageNetBatch) => {
      let s = 0;
      for (let i = 0; i < b.x.length; i++) s += Math.abs(b.x[i] - b0.x[i]);
      return s / b.x.length;
    };
    let changed = 0;
    for (let k = 0; k < 12; k++) {
      const m = channelMeans(example(b1, k, 32));
      if (Math.abs(m[b1.labels[k]] - CONST) > TOL) changed += 1;
    }
    assert.ok(changed >= 8, `distortion 1 moved the constant channel in ${changed} of 12 images`);
    const d1 = meanAbsDiff(b1);
    const dSmall = meanAbsDiff(bSmall);
    assert.ok(d1 > 5 && dSmall > 0.2 && dSmall < d1, `mean |change| ${dSmall.toFixed(2)} at 0.2, ${d1.toFixed(2)} at 1`);
  });
});

describe('photometric distortion', () => {
  it('distortColours scales every jitter with the strength and keeps pixels in 0..255', () => {
    const base = new Float32Array(16 * 16 * 3);
    const r = new Rng(4);
    for (let i = 0; i < base.length; i++) base[i] = r.int(256);
    const meanChange = (strength: number) => {
      let total = 0;
      for (let seed = 0; seed < 200; seed++) {
        const px = base.slice();
        distortColours(px, new Rng(seed), strength);
        for (let i = 0; i < px.length; i++) {
          assert.ok(px[i] >= 0 && px[i] <= 255);
          total += Math.abs(px[i] - base[i]);
        }
      }
      return total / (200 * base.length);
    };
    assert.equal(meanChange(0), 0);
    const full = meanChange(1);
    const tenth = meanChange(0.1);
    // Brightness, contrast and saturation all scale linearly in the strength (clipping aside).
    assert.ok(full > 15, `mean change ${full.toFixed(2)} at strength 1`);
    assert.ok(tenth / full > 0.07 && tenth / full < 0.14, `strength 0.1 changes ${(tenth / full).toFixed(3)} as much as strength 1`);
  });
});

describe('flat val with a label file', () => {
  const labelsOf = async (extra: Partial<ImageNetOptions>) => {
    const s = await open({ path: FLAT, split: 'val', batchSize: 6, ...RAW, ...extra });
    const [b] = await all(s);
    assertLabelsMatchColours([b], 32);
    return [...b.labels];
  };

  it('reads "<filename> <wnid>", "<filename> <0-based index>" and a Kaggle csv with a header', async () => {
    assert.deepEqual(await labelsOf({ valLabels: 'pairs-wnid.txt' }), FLAT_CLASSES);
    assert.deepEqual(await labelsOf({ valLabels: path.join(FLAT, 'pairs-index.txt') }), FLAT_CLASSES);
    assert.deepEqual(await labelsOf({ valLabels: 'kaggle.csv' }), FLAT_CLASSES);
  });

  it('reads one 1-based id per line in sorted file order, mapped by valSynsets when given', async () => {
    assert.deepEqual(await labelsOf({ valLabels: 'gt-sorted.txt' }), FLAT_CLASSES);
    assert.deepEqual(await labelsOf({ valLabels: 'gt-devkit.txt', valSynsets: 'synsets.txt' }), FLAT_CLASSES);
    assert.deepEqual(await labelsOf({ valLabels: 'gt-devkit.txt', valSynsets: 'map_clsloc.txt' }), FLAT_CLASSES, '"<wnid> <id> <name>" lines in any order');
  });
});

describe('bad inputs give a one-line DataError naming the path', () => {
  const mk = (name: string) => {
    const d = path.join(tmp, 'bad', name);
    fs.mkdirSync(d, { recursive: true });
    return d;
  };

  it('missing root, missing train/, no class folders, an empty class folder', async () => {
    const missing = path.join(tmp, 'no-such-dir');
    await expectDataError(open({ path: missing, split: 'train' }), missing);
    const noTrain = mk('no-train');
    await expectDataError(open({ path: noTrain, split: 'train' }), path.join(noTrain, 'train'));
    const noClasses = mk('no-classes');
    fs.mkdirSync(path.join(noClasses, 'train'));
    fs.writeFileSync(path.join(noClasses, 'train', 'stray.JPEG'), 'x');
    await expectDataError(open({ path: noClasses, split: 'train' }), path.join(noClasses, 'train'));
    const emptyClass = mk('empty-class');
    fs.mkdirSync(path.join(emptyClass, 'train', WNIDS[0]), { recursive: true });
    await expectDataError(open({ path: emptyClass, split: 'train' }), path.join(emptyClass, 'train', WNIDS[0]));
    const noVal = mk('no-val');
    fs.symlinkSync(path.join(A, 'train'), path.join(noVal, 'train'));
    await expectDataError(open({ path: noVal, split: 'val' }), path.join(noVal, 'val'));
  });

  it('an unknown class in val (folder or label file), a bad index, a wrong line count, no label file', async () => {
    const unknownFolder = mk('unknown-folder');
    fs.symlinkSync(path.join(A, 'train'), path.join(unknownFolder, 'train'));
    fs.mkdirSync(path.join(unknownFolder, 'val', 'n09999999'), { recursive: true });
    await expectDataError(open({ path: unknownFolder, split: 'val' }), path.join(unknownFolder, 'val', 'n09999999'));
    await expectDataError(open({ path: FLAT, split: 'val', valLabels: 'unknown-wnid.txt' }), `${path.join(FLAT, 'unknown-wnid.txt')}:4`);
    await expectDataError(open({ path: FLAT, split: 'val', valLabels: 'bad-index.txt' }), `${path.join(FLAT, 'bad-index.txt')}:3`);
    await expectDataError(open({ path: FLAT, split: 'val', valLabels: 'gt-short.txt' }), path.join(FLAT, 'gt-short.txt'));
    await expectDataError(open({ path: FLAT, split: 'val', valLabels: 'gt-zero.txt' }), `${path.join(FLAT, 'gt-zero.txt')}:5`);
    await expectDataError(open({ path: FLAT, split: 'val', valLabels: 'missing.txt' }), path.join(FLAT, 'missing.txt'));
    await expectDataError(open({ path: FLAT, split: 'val' }), path.join(FLAT, 'val'));
  });

  it('a truncated JPEG and a non-image .JPEG fail at the batch that holds them, naming the file', async () => {
    const good = fs.readFileSync(path.join(A, 'train', WNIDS[1], `${WNIDS[1]}_0.JPEG`));
    for (const [name, content] of [
      ['truncated', good.subarray(0, good.length >> 1)],
      ['garbage', Buffer.from('this is not a JPEG at all\n')],
    ] as const) {
      const root = mk(`corrupt-${name}`);
      for (const w of WNIDS) {
        fs.mkdirSync(path.join(root, 'train', w), { recursive: true });
        for (let k = 0; k < 2; k++) fs.copyFileSync(path.join(A, 'train', w, `${w}_${k}.JPEG`), path.join(root, 'train', w, `${w}_${k}.JPEG`));
      }
      const bad = path.join(root, 'train', WNIDS[2], `${WNIDS[2]}_9.JPEG`);
      fs.writeFileSync(bad, content);
      // Sorted order, batches of 3: the bad file (7th of 7) is alone in the third batch.
      for (const decodeThreads of [0, 1]) {
        const s = await open({ path: root, split: 'train', shuffle: 'none', batchSize: 3, dropRemainder: false, decodeThreads });
        await take(s, 2);
        await expectDataError(s.next(), bad);
        await expectDataError(s.next(), bad); // and it stays failed
        await s.close();
      }
    }
  });
});

describe('streaming', () => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('the prefetch queue holds at most K batches and at most imagesInFlight images decode at once', async () => {
    for (const [K, decodeThreads] of [
      [0, 0],
      [1, 0],
      [3, 0],
      [0, 1],
      [3, 1],
      [3, 2],
    ]) {
      const s = await open({ path: A, split: 'train', prefetch: K, decodeThreads, imagesInFlight: 2, batchSize: 2, size: 16 });
      await sleep(200);
      assert.equal(s.ahead, K, `K=${K}: the queue fills up to K while nobody consumes`);
      for (let i = 0; i < 10; i++) {
        await s.next();
        assert.ok(s.ahead <= Math.max(K, 1));
        if (i % 3 === 0) await sleep(20);
      }
      assert.ok(s.maxAhead <= Math.max(K, 1), `K=${K}: max ahead ${s.maxAhead}`);
      assert.ok(s.maxDecoding <= 2 && s.maxDecoding >= 1, `max decoding ${s.maxDecoding}`);
      await s.close();
      assert.ok(s.decoded <= 2 * (10 + Math.max(K, 1)), `decoded ${s.decoded}: nothing decoded beyond the queue`);
    }
  });

  it('decoding in worker threads and on the main thread gives the same bytes', async () => {
    for (const split of ['train', 'val'] as const) {
      const run = async (decodeThreads: number) => {
        const s = await open({ path: A, split, decodeThreads, seed: 4 });
        const out = await take(s, 2);
        await s.close();
        return out;
      };
      const inline = await run(0);
      const threaded = await run(2);
      inline.forEach((b, i) => assert.ok(bytes(b).equals(bytes(threaded[i])), `${split} batch ${i}`));
    }
  });

  it('consumed batches are not retained by the stream', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const s = await open({ path: A, split: 'train', prefetch: 2, batchSize: 4, size: 32 });
    const refs: WeakRef<Float32Array>[] = [];
    for (let i = 0; i < 30; i++) {
      const b = await s.next();
      assert.ok(b);
      refs.push(new WeakRef(b.x));
    }
    await new Promise((r) => setImmediate(r));
    gc();
    await new Promise((r) => setImmediate(r));
    gc();
    const alive = refs.filter((r) => r.deref() !== undefined).length;
    assert.ok(alive <= 1, `${alive} of 30 consumed batches still reachable`);
    await s.close();
  });

  it('position resumes the stream exactly, for full shuffle and a shuffle buffer', async () => {
    for (const shuffle of ['full', 5] as const) {
      const opts = { path: A, split: 'train' as const, seed: 11, shuffle };
      const s = await open(opts);
      const first = await take(s, 4); // crosses into epoch 1 (3 batches per epoch)
      const pos = s.position;
      assert.deepEqual(pos, { epoch: 1, index: 4 });
      const rest = await take(s, 3);
      await s.close();
      const r = await open({ ...opts, start: pos });
      const resumed = await take(r, 3);
      await r.close();
      assert.equal(first.length, 4);
      resumed.forEach((b, i) => {
        assert.deepEqual([b.epoch, b.index], [rest[i].epoch, rest[i].index]);
        assert.deepEqual(b.ids, rest[i].ids);
        assert.ok(bytes(b).equals(bytes(rest[i])), `${shuffle}: batch ${i} after resuming`);
      });
    }
  });

  it('shuffle: full reorders every epoch; a buffer of 1 keeps one fixed order; a buffer permutes within reach', async () => {
    const orders = async (shuffle: 'full' | 'none' | number) => {
      const s = await open({ path: A, split: 'train', shuffle, batchSize: 12, size: 8, seed: 2 });
      const out = (await take(s, 3)).map((b) => [...b.ids]);
      await s.close();
      for (const o of out)
        assert.deepEqual(
          [...o].sort((a, b) => a - b),
          [...Array(12).keys()],
        );
      return out;
    };
    const full = await orders('full');
    assert.notDeepEqual(full[0], full[1]);
    const one = await orders(1);
    assert.deepEqual(one[0], one[1]);
    assert.deepEqual(one[1], one[2]);
    assert.notDeepEqual(one[0], [...Array(12).keys()], 'the fixed order is a seeded permutation, not the sorted class order');
    const buf = await orders(3);
    assert.notDeepEqual(buf[0], buf[1]);
    // With 3 slots the k-th output is one of the first k + 3 of the fixed order.
    for (const o of buf) o.forEach((id, k) => assert.ok(one[0].indexOf(id) < k + 3, `id ${id} at ${k}`));
    assert.deepEqual((await orders('none'))[0], [...Array(12).keys()]);
  });

  it('numClasses and perClass select a subset', async () => {
    const s = await open({ path: A, split: 'train', numClasses: 2, perClass: 3, batchSize: 6, size: 8 });
    assert.deepEqual(s.classes, WNIDS.slice(0, 2));
    assert.equal(s.count, 6);
    const [b] = await take(s, 1);
    await s.close();
    assert.deepEqual([...b.labels].sort(), [0, 0, 0, 1, 1, 1]);
    const v = await open({ path: FLAT, split: 'val', valLabels: 'pairs-wnid.txt', numClasses: 1, batchSize: 2, size: 8 });
    assert.equal(v.count, 2);
    await v.close();
  });
});

describe('prefetch building blocks', () => {
  it('Limiter runs tasks in order, never more than its limit', async () => {
    const lim = new Limiter(2);
    const started: number[] = [];
    let running = 0;
    let peak = 0;
    await Promise.all(
      [...Array(8).keys()].map((i) =>
        lim.run(async () => {
          started.push(i);
          running += 1;
          peak = Math.max(peak, running);
          await new Promise((r) => setTimeout(r, 5));
          running -= 1;
        }),
      ),
    );
    assert.deepEqual(started, [...Array(8).keys()]);
    assert.equal(peak, 2);
    assert.equal(lim.maxActive, 2);
    await lim.idle();
  });

  it('Prefetcher delivers in order, rethrows a failure where it occurred, and ends with null', async () => {
    let i = 0;
    const p = new Prefetcher<number>(2, () => {
      const k = i++;
      if (k === 5) return null;
      return new Promise<number>((resolve, reject) => setTimeout(() => (k === 3 ? reject(new Error('boom')) : resolve(k)), 10 - 2 * k));
    });
    p.start();
    assert.equal(p.ahead, 2);
    assert.deepEqual([await p.next(), await p.next(), await p.next()], [0, 1, 2]);
    await assert.rejects(p.next(), /boom/);
    await assert.rejects(p.next(), /boom/);
    const q = new Prefetcher<number>(
      1,
      (() => {
        let n = 0;
        return () => (n < 2 ? Promise.resolve(n++) : null);
      })(),
    );
    assert.deepEqual([await q.next(), await q.next(), await q.next()], [0, 1, null]);
  });
});
