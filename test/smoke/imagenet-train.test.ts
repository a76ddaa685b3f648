/**
 * Training on ImageNet through the real CLI, on a tiny tree of real JPEGs this
 * file writes with sharp into os.tmpdir() (3 classes, 8 training and 4
 * validation images each, of assorted sizes, cropped to 32x32), with a tiny
 * BN-Inception: the run directory, Algorithm 2 at the end, a SIGINT and a
 * resume that continues the same data order, a flat val/ with a label file,
 * and configs that do not fit the tree.
 *
 * Class c's images have channel c constant at 220 and ramps in the other two
 * (as in test/unit/imagenet.test.ts), so the classes are learnable.
 */
import { strict as assert } from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { ConfigSchema } from '../../src/config/schema';
import { CHECKPOINT_FILE, loadCheckpoint } from '../../src/train/checkpoint';
import { BIN, bnrun, readCsv, ROOT } from '../cli';

const WNIDS = ['n01000001', 'n02000002', 'n03000003'];
const SIZES: [number, number][] = [
  [48, 40],
  [40, 56],
  [44, 44],
  [64, 36],
];
const TRAIN_PER_CLASS = 8;
const VAL_PER_CLASS = 4;
const BATCH = 4;
/** 24 training images in batches of 4, the last incomplete batch dropped. */
const BATCHES_PER_EPOCH = (WNIDS.length * TRAIN_PER_CLASS) / BATCH;
const STEPS = 40;
// Timing columns differ between runs by nature; everything else must be identical.
const TIMING = new Set(['elapsed_s', 'steps_per_s']);

function classPixels(c: number, w: number, h: number): Buffer {
  const px = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      px[i + c] = 220;
      px[i + ((c + 1) % 3)] = Math.round((80 * x) / (w - 1));
      px[i + ((c + 2) % 3)] = Math.round((80 * y) / (h - 1));
    }
  }
  return px;
}

async function writeJpeg(file: string, c: number, k: number): Promise<void> {
  // Rotate the sizes per class so no size identifies a class.
  const [w, h] = SIZES[(k + c) % SIZES.length];
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await sharp(classPixels(c, w, h), { raw: { width: w, height: h, channels: 3 } })
    .jpeg({ quality: 95 })
    .toFile(file);
}

let tmp = '';
let tree = ''; // train/ and val/ as class folders
let flat = ''; // the same train/, val/ flat plus a label file

function config(name: string, over: Record<string, unknown> = {}, model: Record<string, unknown> = {}): string {
  const cfg = {
    name,
    seed: 3,
    data: { dataset: 'imagenet', path: tree, shuffle: 'full', distortion: 0.5 },
    model: {
      type: 'inception',
      inputShape: [32, 32, 3],
      classes: 3,
      batchNorm: true,
      dropout: 0,
      lrn: false,
      stem: [
        { type: 'conv', filters: 8, size: 3, stride: 2 },
        { type: 'maxpool', size: 3, stride: 2 },
      ],
      blocks: [{ name: '3a', conv1x1: 4, reduce3x3: 4, conv3x3: 4, reduceDouble3x3: 4, double3x3: 4, pool: 'avg', poolProj: 4 }],
      ...model,
    },
    optimizer: { learningRate: 0.05, momentum: 0.9 },
    training: { steps: STEPS, batchSize: BATCH, evalEvery: 4, checkpointEvery: 2, populationBatches: 3 },
    tracking: { units: [0, 1], accuracyThresholds: [0.5] },
    ...over,
  };
  const file = path.join(tmp, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(cfg));
  return file;
}

function train(args: string[]) {
  return bnrun([...args, '--no-progress']);
}

/** A run's CSV without the timing columns. */
function rows(dir: string, file: string): Record<string, string>[] {
  return readCsv(path.join(dir, file)).map((r) => Object.fromEntries(Object.entries(r).filter(([c]) => !TIMING.has(c))));
}

interface Summary {
  status: string;
  dataset: string;
  steps: number;
  resumedAt: number[];
  final: {
    accuracy: number;
    loss: number;
    statistics: string;
    populationBatches: number;
    movingAverage: { accuracy: number } | null;
    unitPercentiles: { layer: number; unit: number; percentiles: Record<string, number> }[];
  } | null;
}

const summaryOf = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as Summary;
/** Evaluation covered all 12 val images exactly once: accuracy is a whole number of them (the CSV keeps 7 digits). */
const wholeValImages = (acc: number) => Math.abs(acc * 12 - Math.round(acc * 12)) < 1e-5;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-imagenet-train-'));
  tree = path.join(tmp, 'tree');
  flat = path.join(tmp, 'flat');
  const jobs: Promise<void>[] = [];
  const labels: string[] = [];
  WNIDS.forEach((wnid, c) => {
    for (let k = 0; k < TRAIN_PER_CLASS; k++) jobs.push(writeJpeg(path.join(tree, 'train', wnid, `${wnid}_${k}.JPEG`), c, k));
    for (let k = 0; k < VAL_PER_CLASS; k++) {
      jobs.push(writeJpeg(path.join(tree, 'val', wnid, `val_${c}_${k}.JPEG`), c, k + 1));
      const name = `ILSVRC2012_val_${String(c * VAL_PER_CLASS + k + 1).padStart(8, '0')}.JPEG`;
      jobs.push(writeJpeg(path.join(flat, 'val', name), c, k + 1));
      labels.push(`${name} ${wnid}`);
    }
  });
  await Promise.all(jobs);
  fs.symlinkSync(path.join(tree, 'train'), path.join(flat, 'train'));
  fs.writeFileSync(path.join(flat, 'val.txt'), labels.join('\n') + '\n');
});

after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('training on ImageNet (a tiny tree of real JPEGs)', () => {
  let reference = '';

  before(() => {
    reference = path.join(tmp, 'reference');
    const r = train(['train', config('tiny'), '--out', reference]);
    assert.equal(r.status, 0, r.stderr);
  });

  it('logs every evaluation on val, the tracked units, and ends with Algorithm 2', () => {
    const metrics = rows(reference, 'metrics.csv');
    const evalSteps = Array.from({ length: STEPS / 4 + 1 }, (_, i) => i * 4);
    assert.deepEqual(
      metrics.map((r) => Number(r.step)),
      evalSteps,
    );
    for (const r of metrics) {
      const acc = Number(r.test_accuracy);
      assert.ok(acc >= 0 && acc <= 1, JSON.stringify(r));
      assert.ok(wholeValImages(acc), JSON.stringify(r));
      assert.ok(Number.isFinite(Number(r.test_loss)) && Number(r.test_loss) > 0, JSON.stringify(r));
    }
    for (const r of metrics.slice(1)) assert.ok(Number(r.train_loss) > 0, JSON.stringify(r));

    const acts = rows(reference, 'activations.csv');
    assert.deepEqual(Object.keys(acts[0]), ['step', 'layer', 'unit', 'p15', 'p50', 'p85']);
    assert.equal(acts.length, evalSteps.length * 2);
    for (const r of acts) assert.ok(Number(r.p15) <= Number(r.p50) && Number(r.p50) <= Number(r.p85), JSON.stringify(r));

    const s = summaryOf(reference);
    assert.equal(s.status, 'completed');
    assert.equal(s.dataset, 'imagenet');
    assert.equal(s.steps, STEPS);
    assert.ok(s.final);
    assert.equal(s.final.statistics, 'population');
    assert.equal(s.final.populationBatches, 3);
    assert.ok(s.final.accuracy >= 0 && s.final.accuracy <= 1);
    assert.ok(s.final.movingAverage && s.final.movingAverage.accuracy >= 0 && s.final.movingAverage.accuracy <= 1);
    assert.equal(s.final.unitPercentiles.length, 2);
  });

  it('the checkpoint holds the training stream position after the last step', () => {
    const ckpt = loadCheckpoint(reference);
    assert.ok(ckpt && 'stream' in ckpt.header);
    assert.equal(ckpt.header.loop.step, STEPS);
    assert.deepEqual(ckpt.header.stream, { epoch: Math.floor(STEPS / BATCHES_PER_EPOCH), index: (STEPS % BATCHES_PER_EPOCH) * BATCH });
  });

  it('SIGINT mid-run saves the stream position; the resumed run continues the same data order', async () => {
    const dir = path.join(tmp, 'interrupted');
    const child: ChildProcess = spawn(process.execPath, [BIN, 'train', config('tiny'), '--out', dir, '--no-progress'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout?.resume();
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // The first checkpoint (step 2) shows training is under way, with most of the run still to go.
    for (let i = 0; i < 2400 && !fs.existsSync(path.join(dir, CHECKPOINT_FILE)); i++) await sleep(25);
    child.kill('SIGINT');
    assert.equal(await exited, 130, `the run should stop on SIGINT: ${stderr}`);

    const ckpt = loadCheckpoint(dir);
    assert.ok(ckpt && 'stream' in ckpt.header);
    const k = ckpt.header.loop.step;
    assert.ok(k >= 2 && k < STEPS, `stopped at step ${k}`);
    assert.deepEqual(ckpt.header.stream, { epoch: Math.floor(k / BATCHES_PER_EPOCH), index: (k % BATCHES_PER_EPOCH) * BATCH });

    const resumed = train(['train', '--resume', dir]);
    assert.equal(resumed.status, 0, resumed.stderr);
    // Losses depend on every batch's images and augmentation: equal rows mean the same batches, in the same order.
    for (const file of ['metrics.csv', 'activations.csv'])
      assert.deepEqual(rows(dir, file), rows(reference, file), `${file} differs from the uninterrupted run`);
    const s = summaryOf(dir);
    assert.equal(s.status, 'completed');
    assert.deepEqual(s.resumedAt, [k]);
    assert.equal(s.final?.accuracy, summaryOf(reference).final?.accuracy);
  });

  it('a flat val/ with data.valLabels evaluates every labelled image', () => {
    const dir = path.join(tmp, 'flat-run');
    const cfg = config('flat', {
      data: { dataset: 'imagenet', path: flat, valLabels: 'val.txt' },
      training: { steps: 2, batchSize: BATCH, evalEvery: 1, populationBatches: 1 },
    });
    const r = train(['train', cfg, '--out', dir]);
    assert.equal(r.status, 0, r.stderr);
    const metrics = rows(dir, 'metrics.csv');
    assert.deepEqual(
      metrics.map((m) => Number(m.step)),
      [0, 1, 2],
    );
    // The same 12 images in the same order with the same labels, and the same initial weights: the same step-0 evaluation.
    const first = (rs: Record<string, string>[]) => ({ loss: rs[0].test_loss, accuracy: rs[0].test_accuracy });
    assert.deepEqual(first(metrics), first(rows(reference, 'metrics.csv')));
    assert.equal(summaryOf(dir).status, 'completed');
  });
});

describe('ImageNet configs and trees', () => {
  // The tree paths exist only once `before` has run, so the data overrides are functions.
  const refused: [string, () => Record<string, unknown>, Record<string, unknown>, number, RegExp][] = [
    ['wrong-classes', () => ({}), { classes: 5 }, 2, /model\.classes is 5 but .*train has 3 class folders/],
    ['not-square', () => ({}), { inputShape: [32, 24, 3] }, 2, /model\.inputShape: .*square/],
    ['flat-val-without-labels', () => ({ data: { dataset: 'imagenet', path: flat } }), {}, 1, /valLabels/],
  ];
  it('data.valLabels and data.valSynsets are refused for the MNIST family, naming the field', () => {
    for (const key of ['valLabels', 'valSynsets']) {
      const r = ConfigSchema.safeParse({ name: 'm', data: { dataset: 'mnist', [key]: 'val.txt' }, model: { type: 'mlp' } });
      assert.ok(!r.success, key);
      assert.deepEqual(
        r.error.issues.map((i) => i.path.join('.')),
        [`data.${key}`],
      );
      assert.match(r.error.issues[0].message, /applies to imagenet/);
    }
  });

  for (const [name, over, model, code, message] of refused) {
    it(`${name}: exit ${code}, one line naming the field, no run directory`, () => {
      const dir = path.join(tmp, name);
      const r = train(['train', config(name, over(), model), '--out', dir]);
      assert.equal(r.status, code, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.ok(!fs.existsSync(dir), 'a run directory was created');
    });
  }
});
