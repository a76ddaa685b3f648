/**
 * `bnrun validate` refuses every config that `bnrun train` refuses for its
 * content, with the same line and exit 2, and `train` creates nothing for it.
 * Every check that runs after the schema (src/config/checks.ts) has a config
 * here that fails it, and a test fails when a check is added without one; a
 * few schema rules stand for the rest (both commands parse with the same
 * schema). What depends on the data on disk (ImageNet's class folders, a
 * target's baseline run) is checked only by `train` and is not listed.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CHECKS } from '../../src/config/checks';
import { bnrun } from '../cli';

const mlp = { type: 'mlp' };
const mnist = { dataset: 'mnist' };
/** A small Inception that fits a 32x32x3 or 28x28x1 input. */
const inception = (inputShape: number[], classes: number) => ({
  type: 'inception',
  inputShape,
  classes,
  stem: [{ type: 'conv', filters: 4, size: 3, stride: 2 }],
  blocks: [],
});

// check id (or schema rule), the config, what the one line must name
const CASES: [string, Record<string, unknown>, RegExp][] = [
  ['mnist-shuffle', { data: { ...mnist, shuffle: 'none' }, model: mlp }, /data\.shuffle: mnist batches always shuffle fully/],
  ['mnist-distortion', { data: { ...mnist, distortion: 0.5 }, model: mlp }, /data\.distortion: mnist has no photometric distortion/],
  [
    'mnist-batch-size',
    { data: mnist, model: mlp, training: { batchSize: 60001 } },
    /training\.batchSize: 60001 is larger than mnist's 60000 training examples/,
  ],
  ['mnist-input-size', { data: mnist, model: { ...mlp, inputSize: 100 } }, /model\.inputSize: mnist images are 28x28x1/],
  ['mnist-classes', { data: { dataset: 'fashion-mnist' }, model: inception([28, 28, 1], 5) }, /model\.classes: fashion-mnist has 10 classes/],
  // The issue's example: validate said ok, train refused it at data time.
  ['imagenet-model-type', { data: { dataset: 'imagenet' }, model: mlp }, /model\.type: imagenet trains a convolutional network/],
  [
    'imagenet-square-input',
    { data: { dataset: 'imagenet', path: '/nonexistent' }, model: inception([32, 24, 3], 3) },
    /model\.inputShape: ImageNet crops are square/,
  ],
  [
    'imagenet-rgb-input',
    { data: { dataset: 'imagenet', path: '/nonexistent' }, model: inception([32, 32, 1], 3) },
    /model\.inputShape: ImageNet images are RGB/,
  ],
  ['imagenet-path', { data: { dataset: 'imagenet' }, model: inception([32, 32, 3], 3) }, /data\.path: set it to the ImageNet root/],
  [
    'inception-geometry',
    { data: { dataset: 'fashion-mnist' }, model: { ...inception([28, 28, 1], 10), stem: [{ type: 'conv', filters: 4, size: 29, padding: 'valid' }] } },
    /model\.stem: .*shrinks/,
  ],
  ['tracking-layer', { data: mnist, model: mlp, tracking: { layer: 3 } }, /tracking\.layer: the model has 3 hidden layers/],
  ['tracking-units', { data: mnist, model: mlp, tracking: { units: [0, 100] } }, /tracking\.units\.1: hidden layer 2 has 100 units/],
  ['schema: unknown key', { data: mnist, model: { ...mlp, widht: 3 } }, /model: Unrecognized key/],
  ['schema: batch of one', { data: mnist, model: mlp, training: { batchSize: 1 } }, /training\.batchSize/],
  ['schema: val labels on mnist', { data: { ...mnist, valLabels: 'val.txt' }, model: mlp }, /data\.valLabels: .*applies to imagenet/],
];

let tmp = '';
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-validate-train-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('validate refuses what train refuses for content', () => {
  it('every check after the schema has a case here', () => {
    const covered = new Set(CASES.map(([id]) => id));
    assert.deepEqual(
      CHECKS.map((c) => c.id).filter((id) => !covered.has(id)),
      [],
    );
  });

  CASES.forEach(([id, body, message], k) => {
    it(`${id}: validate and train exit 2 with the same line`, () => {
      const file = path.join(tmp, `case${k}.json`);
      fs.writeFileSync(file, JSON.stringify({ name: `case${k}`, ...body }));
      const v = bnrun(['validate', file]);
      assert.equal(v.status, 2, `validate: exit ${v.status}: ${v.stdout}${v.stderr}`);
      const line = v.stderr.trim();
      assert.equal(line.split('\n').length, 1, v.stderr);
      assert.match(line, message);
      assert.ok(line.startsWith(`bnrun: ${file}: `), line);
      const out = path.join(tmp, `run${k}`);
      const t = bnrun(['train', file, '--out', out, '--no-progress']);
      assert.equal(t.status, 2, `train: exit ${t.status}: ${t.stderr}`);
      assert.equal(t.stderr.trim(), line);
      assert.ok(!fs.existsSync(out), 'train created a run directory');
    });
  });
});
