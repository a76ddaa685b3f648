/**
 * The config loader (src/config/load.ts) against the schema (src/config/schema.ts):
 * shipped configs, JSON/YAML equivalence, `extends`, dotted overrides, and a
 * table of malformed configs that must each fail as a one-line ConfigError
 * (exit 2) naming the offending field, without writing anything.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, Overrides } from '../../src/config/load';
import { InitSchema, OptimizerSchema } from '../../src/config/schema';
import { ConfigError } from '../../src/errors';
import { expectError } from '../expect-error';

/** dist/test/unit -> the repository root. */
const ROOT = path.resolve(__dirname, '..', '..', '..');
const CONFIGS = path.join(ROOT, 'configs');

type Plain = { [key: string]: unknown };

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The test's own deep merge (independent of the loader's), arrays replaced. */
function merge(base: Plain, patch: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(patch)) {
    const b = out[k];
    out[k] = isPlain(v) && isPlain(b) ? merge(b, v) : v;
  }
  return out;
}

/** A minimal valid config: everything else comes from the schema's defaults. */
const BASE: Plain = {
  name: 'unit',
  data: { dataset: 'mnist' },
  model: { type: 'mlp', hidden: [100, 100, 100] },
};

const withPatch = (patch: Plain): string => JSON.stringify(merge(BASE, patch));

/** A base config with one field deleted (dotted path). */
function without(dotted: string): string {
  const out = merge(BASE, {});
  const keys = dotted.split('.');
  let node: Plain = out;
  for (const k of keys.slice(0, -1)) {
    const next = node[k];
    assert.ok(isPlain(next));
    const copy: Plain = { ...next };
    node[k] = copy;
    node = copy;
  }
  delete node[keys[keys.length - 1]];
  return JSON.stringify(out);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The message names `dotted` as a field path: "<file>: <path>: ..." or "...; <path>: ...". */
const at = (dotted: string): RegExp => new RegExp(`(?:^|: |; )${escapeRe(dotted)}: `);

function listing(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true }).map(String).sort();
}

/** Runs `fn`, which must throw a ConfigError (exit 2) whose one-line message mentions everything in `mentions`. */
function expectConfigError(fn: () => unknown, mentions: (string | RegExp)[]): ConfigError {
  return expectError(fn, ConfigError, 2, mentions);
}

let tmp: string;

function write(name: string, body: string): string {
  const file = path.join(tmp, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, body);
  return file;
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-config-test-'));
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('shipped configs', () => {
  for (const name of ['mnist-bn', 'mnist-baseline']) {
    it(`configs/${name}.json validates and gets the schema defaults`, () => {
      const cfg = loadConfig(path.join(CONFIGS, `${name}.json`));
      assert.equal(cfg.name, name);
      assert.equal(cfg.paper, name);
      assert.equal(cfg.seed, 1);
      assert.deepEqual(cfg.data, { dataset: 'mnist', shuffle: 'full', distortion: 0 });
      assert.equal(cfg.model.type, 'mlp');
      assert.deepEqual(cfg.model.hidden, [100, 100, 100]);
      assert.equal(cfg.model.activation, 'sigmoid');
      assert.equal(cfg.model.batchNorm, name === 'mnist-bn');
      // Defaults filled in by the schema.
      assert.equal(cfg.model.inputSize, 784);
      assert.equal(cfg.model.classes, 10);
      assert.equal(cfg.model.epsilon, 0.001);
      assert.equal(cfg.model.movingAverageDecay, 0.99);
      assert.equal(cfg.model.init.distribution, 'normal');
      assert.equal(cfg.model.init.std, InitSchema.parse({}).std);
      assert.ok(cfg.model.init.std > 0);
      assert.equal(cfg.optimizer.type, 'sgd');
      assert.equal(cfg.optimizer.learningRate, OptimizerSchema.parse({}).learningRate);
      assert.equal(cfg.optimizer.momentum, 0);
      assert.equal(cfg.optimizer.weightDecay, 0);
      assert.equal(cfg.optimizer.decay, undefined);
      assert.deepEqual(cfg.training, {
        steps: 50000,
        batchSize: 60,
        evalEvery: 500,
        populationBatches: 1000,
        checkpointEvery: 'auto',
      });
      assert.deepEqual(cfg.tracking, {
        layer: 'last',
        units: [0, 1, 2],
        percentiles: [15, 50, 85],
        accuracyThresholds: [0.9, 0.95, 0.97, 0.98],
      });
    });
  }

  it('the two shipped configs differ only in name, description, paper and batchNorm', () => {
    const bn = loadConfig(path.join(CONFIGS, 'mnist-bn.json'));
    const base = loadConfig(path.join(CONFIGS, 'mnist-baseline.json'));
    const strip = (c: typeof bn): Plain => ({ ...c, name: null, description: null, paper: null, model: { ...c.model, batchNorm: null } });
    assert.deepEqual(strip(bn), strip(base));
  });

  it('a minimal config gets training.batchSize 60 and tracking.percentiles [15, 50, 85]', () => {
    const cfg = loadConfig(write('minimal.json', JSON.stringify(BASE)));
    assert.equal(cfg.training.batchSize, 60);
    assert.deepEqual(cfg.tracking.percentiles, [15, 50, 85]);
    assert.equal(cfg.seed, 0);
    assert.equal(cfg.paper, undefined);
    assert.equal(cfg.description, undefined);
  });
});

describe('JSON and YAML', () => {
  it('the YAML (.yaml and .yml) form of configs/mnist-bn.json loads deep-equal to the JSON', () => {
    const jsonFile = path.join(CONFIGS, 'mnist-bn.json');
    const raw: unknown = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
    assert.ok(isPlain(raw) && typeof raw.description === 'string');
    const yaml = [
      '# the same run as configs/mnist-bn.json',
      'name: mnist-bn',
      `description: ${JSON.stringify(raw.description)}`,
      'paper: mnist-bn',
      'seed: 1',
      'data:',
      '  dataset: mnist',
      'model:',
      '  type: mlp',
      '  hidden:',
      '    - 100',
      '    - 100',
      '    - 100',
      '  activation: sigmoid',
      '  batchNorm: true',
      'optimizer: { type: sgd }',
      'training:',
      '  steps: 50000',
      '  batchSize: 60',
      '  evalEvery: 500',
      '',
    ].join('\n');
    const fromJson = loadConfig(jsonFile);
    assert.deepEqual(loadConfig(write('mnist-bn.yaml', yaml)), fromJson);
    assert.deepEqual(loadConfig(write('mnist-bn.yml', yaml)), fromJson);
    // The extension decides the parser, case-insensitively.
    assert.deepEqual(loadConfig(write('MNIST-BN.YAML', yaml)), fromJson);
  });

  it('a YAML file can extend a JSON file and vice versa', () => {
    write('mixed/base.json', JSON.stringify(BASE));
    const y = loadConfig(write('mixed/child.yaml', 'extends: base.json\ntraining:\n  steps: 12\n'));
    assert.equal(y.training.steps, 12);
    write('mixed/base2.yaml', 'name: unit\ndata: { dataset: fashion-mnist }\nmodel: { type: mlp, hidden: [5] }\n');
    const j = loadConfig(write('mixed/child2.json', JSON.stringify({ extends: './base2.yaml', seed: 3 })));
    assert.equal(j.data.dataset, 'fashion-mnist');
    assert.ok(j.model.type === 'mlp');
    assert.deepEqual(j.model.hidden, [5]);
    assert.equal(j.seed, 3);
  });
});

describe('extends', () => {
  it('the child overrides the parent deeply; arrays replace; the chain resolves relative to each file', () => {
    write(
      'ext/grand.json',
      JSON.stringify({
        name: 'grand',
        description: 'grandparent',
        data: { dataset: 'mnist' },
        model: { type: 'mlp', hidden: [100, 100, 100], activation: 'sigmoid', init: { std: 0.5, distribution: 'truncated-normal' } },
        optimizer: { learningRate: 0.1, momentum: 0.5 },
        tracking: { units: [0, 1, 2], percentiles: [10, 90] },
      }),
    );
    write(
      'ext/sub/parent.json',
      JSON.stringify({
        extends: '../grand.json',
        name: 'parent',
        model: { batchNorm: true, init: { std: 0.25 } },
        optimizer: { decay: { factor: 0.5, every: 100 } },
      }),
    );
    const child = write(
      'ext/sub/deeper/child.json',
      JSON.stringify({
        extends: '../parent.json',
        name: 'child',
        model: { hidden: [50, 20] },
        optimizer: { momentum: 0.9, decay: { every: 200 } },
        tracking: { percentiles: [50] },
      }),
    );
    const cfg = loadConfig(child);
    assert.equal(cfg.name, 'child');
    assert.equal(cfg.description, 'grandparent');
    // Arrays replace, not concatenate or merge element-wise.
    assert.ok(cfg.model.type === 'mlp');
    assert.deepEqual(cfg.model.hidden, [50, 20]);
    assert.deepEqual(cfg.tracking.percentiles, [50]);
    assert.deepEqual(cfg.tracking.units, [0, 1, 2]);
    // Objects merge key by key at every depth.
    assert.equal(cfg.model.activation, 'sigmoid');
    assert.equal(cfg.model.batchNorm, true);
    assert.deepEqual(cfg.model.init, { std: 0.25, distribution: 'truncated-normal' });
    assert.equal(cfg.optimizer.learningRate, 0.1);
    assert.equal(cfg.optimizer.momentum, 0.9);
    assert.deepEqual(cfg.optimizer.decay, { factor: 0.5, every: 200, staircase: true });
    // `extends` itself is not a field of the result.
    assert.ok(!('extends' in cfg));
  });

  it('an extends loop a -> b -> a is a ConfigError naming the loop', () => {
    const a = write('loop/a.json', JSON.stringify({ extends: 'b.json', name: 'a' }));
    write('loop/b.json', JSON.stringify({ extends: 'a.json', name: 'b' }));
    expectConfigError(() => loadConfig(a), ['extends', 'loop', 'a.json', 'b.json']);
  });

  it('a file extending itself is a loop', () => {
    const self = write('loop/self.yaml', 'extends: self.yaml\nname: s\n');
    expectConfigError(() => loadConfig(self), ['extends', 'loop', 'self.yaml']);
  });

  it('a longer loop a -> b -> c -> b is caught too', () => {
    const a = write('loop3/a.json', JSON.stringify({ extends: 'b.json' }));
    write('loop3/b.json', JSON.stringify({ extends: 'c.json' }));
    write('loop3/c.json', JSON.stringify({ extends: 'b.json' }));
    expectConfigError(() => loadConfig(a), ['extends', 'loop', 'b.json', 'c.json']);
  });

  it('a chain that reuses a parent without a cycle is not a loop', () => {
    write('twice/p.json', JSON.stringify(BASE));
    const c1 = write('twice/c1.json', JSON.stringify({ extends: 'p.json', seed: 1 }));
    const c2 = write('twice/c2.json', JSON.stringify({ extends: 'c1.json', seed: 2 }));
    assert.equal(loadConfig(c1).seed, 1);
    assert.equal(loadConfig(c2).seed, 2);
  });

  it('a missing parent is a ConfigError naming the parent file, the child and the directory extends is relative to', () => {
    const child = write('orphan/child.json', JSON.stringify({ extends: 'no-such-parent.json', name: 'x' }));
    const dir = path.dirname(child);
    expectConfigError(
      () => loadConfig(child),
      [
        'no-such-parent.json',
        'not found',
        'child.json',
        'relative to',
        path.relative(process.cwd(), dir).startsWith('..') ? dir : path.relative(process.cwd(), dir),
      ],
    );
  });

  it('a parent path written relative to the working directory is resolved against the config and says so', () => {
    // The shipped configs live in <root>/configs; a child in another directory that writes "configs/mnist-bn.json" misses it.
    const child = write('elsewhere/child.yaml', 'extends: configs/mnist-bn.json\nname: x\n');
    const err = expectConfigError(() => loadConfig(child), ['extends "configs/mnist-bn.json"', 'not found', "relative to the config's own directory"]);
    assert.ok(err.message.includes(path.join('elsewhere', 'configs', 'mnist-bn.json')), err.message);
  });

  it('a parent with invalid JSON is a ConfigError naming the parent', () => {
    write('badparent/parent.json', '{"name": ');
    const child = write('badparent/child.json', JSON.stringify({ extends: 'parent.json' }));
    expectConfigError(() => loadConfig(child), ['parent.json', 'invalid JSON']);
  });

  it('a bad field inherited from the parent is reported by its path', () => {
    write('inherit/parent.json', withPatch({ training: { batchSize: 1 } }));
    const child = write('inherit/child.json', JSON.stringify({ extends: 'parent.json', seed: 4 }));
    expectConfigError(() => loadConfig(child), [at('training.batchSize'), 'child.json']);
  });

  it('the child can fix a bad field of the parent', () => {
    write('fix/parent.json', withPatch({ training: { batchSize: 1 } }));
    const child = write('fix/child.json', JSON.stringify({ extends: 'parent.json', training: { batchSize: 32 } }));
    assert.equal(loadConfig(child).training.batchSize, 32);
  });
});

describe('overrides', () => {
  it("{'training.steps': 7} is applied", () => {
    const file = path.join(CONFIGS, 'mnist-bn.json');
    const cfg = loadConfig(file, { 'training.steps': 7 });
    assert.equal(cfg.training.steps, 7);
    // Everything else in the section stays.
    assert.equal(cfg.training.batchSize, 60);
    assert.equal(cfg.training.evalEvery, 500);
    // The file itself is untouched and a fresh load does not see the override.
    assert.equal(loadConfig(file).training.steps, 50000);
  });

  it('overrides create missing sections, replace arrays, and skip undefined values', () => {
    const file = write('ovr.json', JSON.stringify(BASE));
    const overrides: Overrides = {
      'optimizer.learningRate': 0.05,
      'optimizer.decay.factor': 0.5,
      'optimizer.decay.every': 10,
      'model.hidden': [10, 10],
      'tracking.units': [9],
      seed: 42,
      'training.evalEvery': undefined,
    };
    const cfg = loadConfig(file, overrides);
    assert.equal(cfg.optimizer.learningRate, 0.05);
    assert.deepEqual(cfg.optimizer.decay, { factor: 0.5, every: 10, staircase: true });
    assert.ok(cfg.model.type === 'mlp');
    assert.deepEqual(cfg.model.hidden, [10, 10]);
    assert.deepEqual(cfg.tracking.units, [9]);
    assert.equal(cfg.seed, 42);
    assert.equal(cfg.training.evalEvery, 500);
  });

  it('overrides win over extends', () => {
    write('ovr-ext/parent.json', withPatch({ training: { steps: 100 } }));
    const child = write('ovr-ext/child.json', JSON.stringify({ extends: 'parent.json', training: { steps: 200 } }));
    assert.equal(loadConfig(child, { 'training.steps': 300 }).training.steps, 300);
  });

  const BAD_OVERRIDES: [Overrides, string][] = [
    [{ 'training.steps': 0 }, 'training.steps'],
    [{ 'training.steps': 2.5 }, 'training.steps'],
    [{ 'training.steps': '7' }, 'training.steps'],
    [{ 'training.batchSize': 1 }, 'training.batchSize'],
    [{ 'optimizer.learningRate': -1 }, 'optimizer.learningRate'],
    [{ 'data.dataset': 'cifar10' }, 'data.dataset'],
    [{ 'training.stepz': 5 }, 'stepz'],
  ];
  for (const [overrides, field] of BAD_OVERRIDES) {
    it(`${JSON.stringify(overrides)} fails naming ${field}`, () => {
      expectConfigError(() => loadConfig(path.join(CONFIGS, 'mnist-bn.json'), overrides), [field, 'mnist-bn.json']);
    });
  }
});

interface BadCase {
  /** File name in the temp dir; the extension picks the parser. */
  file: string;
  body: string;
  /** What the one-line message must contain: field paths (via `at`), key names, file names. */
  mentions: (string | RegExp)[];
}

/** Each malformed config and what its error must name. The file name is always required too. */
const BAD: BadCase[] = [
  // name
  { file: 'name-number.json', body: withPatch({ name: 7 }), mentions: [at('name')] },
  { file: 'name-spaces.json', body: withPatch({ name: 'my run' }), mentions: [at('name')] },
  { file: 'name-slash.json', body: withPatch({ name: '../escape' }), mentions: [at('name')] },
  { file: 'name-empty.json', body: withPatch({ name: '' }), mentions: [at('name')] },
  { file: 'name-missing.json', body: without('name'), mentions: [at('name')] },
  // top-level scalars
  { file: 'seed-negative.json', body: withPatch({ seed: -1 }), mentions: [at('seed')] },
  { file: 'seed-fraction.json', body: withPatch({ seed: 1.5 }), mentions: [at('seed')] },
  { file: 'seed-string.json', body: withPatch({ seed: 'one' }), mentions: [at('seed')] },
  { file: 'description-number.json', body: withPatch({ description: 3 }), mentions: [at('description')] },
  { file: 'paper-unknown.json', body: withPatch({ paper: 'resnet' }), mentions: [at('paper')] },
  // unknown keys
  { file: 'unknown-top.json', body: withPatch({ learnigRate: 0.1 }), mentions: ['learnigRate'] },
  { file: 'unknown-training.json', body: withPatch({ training: { stepz: 10 } }), mentions: ['stepz', at('training')] },
  { file: 'unknown-model.json', body: withPatch({ model: { hiddden: [5] } }), mentions: ['hiddden', at('model')] },
  { file: 'unknown-init.json', body: withPatch({ model: { init: { mean: 0 } } }), mentions: ['mean', at('model.init')] },
  { file: 'unknown-decay.json', body: withPatch({ optimizer: { decay: { factor: 0.5, every: 10, rate: 1 } } }), mentions: ['rate', at('optimizer.decay')] },
  { file: 'unknown-data.json', body: withPatch({ data: { dataset: 'mnist', dir: '/x' } }), mentions: ['dir', at('data')] },
  // data
  { file: 'data-missing.json', body: without('data'), mentions: [at('data')] },
  { file: 'dataset-missing.json', body: JSON.stringify({ ...BASE, data: {} }), mentions: [at('data.dataset')] },
  { file: 'dataset-unknown.json', body: withPatch({ data: { dataset: 'cifar10' } }), mentions: [at('data.dataset')] },
  { file: 'dataset-number.json', body: withPatch({ data: { dataset: 10 } }), mentions: [at('data.dataset')] },
  { file: 'data-path-empty.json', body: withPatch({ data: { path: '' } }), mentions: [at('data.path')] },
  { file: 'data-string.json', body: withPatch({ data: 'mnist' }), mentions: [at('data')] },
  // model
  { file: 'model-missing.json', body: without('model'), mentions: [at('model')] },
  { file: 'model-type-unknown.json', body: withPatch({ model: { type: 'transformer' } }), mentions: [at('model.type')] },
  { file: 'model-type-missing.json', body: without('model.type'), mentions: [at('model.type')] },
  { file: 'hidden-empty.json', body: withPatch({ model: { hidden: [] } }), mentions: [at('model.hidden')] },
  { file: 'hidden-zero.json', body: withPatch({ model: { hidden: [100, 0, 100] } }), mentions: [at('model.hidden.1')] },
  { file: 'hidden-negative.json', body: withPatch({ model: { hidden: [100, 100, -5] } }), mentions: [at('model.hidden.2')] },
  { file: 'hidden-fraction.json', body: withPatch({ model: { hidden: [100.5] } }), mentions: [at('model.hidden.0')] },
  { file: 'hidden-string.json', body: withPatch({ model: { hidden: '100,100' } }), mentions: [at('model.hidden')] },
  { file: 'input-size-zero.json', body: withPatch({ model: { inputSize: 0 } }), mentions: [at('model.inputSize')] },
  { file: 'classes-negative.json', body: withPatch({ model: { classes: -10 } }), mentions: [at('model.classes')] },
  { file: 'activation-tanh.json', body: withPatch({ model: { activation: 'tanh' } }), mentions: [at('model.activation')] },
  { file: 'batchnorm-string.json', body: withPatch({ model: { batchNorm: 'yes' } }), mentions: [at('model.batchNorm')] },
  { file: 'epsilon-zero.json', body: withPatch({ model: { epsilon: 0 } }), mentions: [at('model.epsilon')] },
  { file: 'moving-decay-one.json', body: withPatch({ model: { movingAverageDecay: 1 } }), mentions: [at('model.movingAverageDecay')] },
  { file: 'moving-decay-negative.json', body: withPatch({ model: { movingAverageDecay: -0.1 } }), mentions: [at('model.movingAverageDecay')] },
  { file: 'init-std-zero.json', body: withPatch({ model: { init: { std: 0 } } }), mentions: [at('model.init.std')] },
  { file: 'init-uniform.json', body: withPatch({ model: { init: { distribution: 'uniform' } } }), mentions: [at('model.init.distribution')] },
  // optimizer
  { file: 'lr-zero.json', body: withPatch({ optimizer: { learningRate: 0 } }), mentions: [at('optimizer.learningRate')] },
  { file: 'lr-negative.json', body: withPatch({ optimizer: { learningRate: -0.1 } }), mentions: [at('optimizer.learningRate')] },
  { file: 'lr-string.json', body: withPatch({ optimizer: { learningRate: '0.1' } }), mentions: [at('optimizer.learningRate')] },
  { file: 'momentum-one.json', body: withPatch({ optimizer: { momentum: 1 } }), mentions: [at('optimizer.momentum')] },
  { file: 'weight-decay-negative.json', body: withPatch({ optimizer: { weightDecay: -1e-4 } }), mentions: [at('optimizer.weightDecay')] },
  { file: 'optimizer-adam.json', body: withPatch({ optimizer: { type: 'adam' } }), mentions: [at('optimizer.type')] },
  { file: 'decay-factor-big.json', body: withPatch({ optimizer: { decay: { factor: 1.5, every: 100 } } }), mentions: [at('optimizer.decay.factor')] },
  { file: 'decay-factor-zero.json', body: withPatch({ optimizer: { decay: { factor: 0, every: 100 } } }), mentions: [at('optimizer.decay.factor')] },
  { file: 'decay-every-missing.json', body: withPatch({ optimizer: { decay: { factor: 0.9 } } }), mentions: [at('optimizer.decay.every')] },
  {
    file: 'decay-staircase-string.json',
    body: withPatch({ optimizer: { decay: { factor: 0.9, every: 5, staircase: 'no' } } }),
    mentions: [at('optimizer.decay.staircase')],
  },
  // training
  { file: 'steps-zero.json', body: withPatch({ training: { steps: 0 } }), mentions: [at('training.steps')] },
  { file: 'steps-negative.json', body: withPatch({ training: { steps: -5 } }), mentions: [at('training.steps')] },
  { file: 'steps-fraction.json', body: withPatch({ training: { steps: 10.5 } }), mentions: [at('training.steps')] },
  { file: 'steps-string.json', body: withPatch({ training: { steps: 'many' } }), mentions: [at('training.steps')] },
  { file: 'steps-null.json', body: withPatch({ training: { steps: null } }), mentions: [at('training.steps')] },
  { file: 'batch-one.json', body: withPatch({ training: { batchSize: 1 } }), mentions: [at('training.batchSize')] },
  { file: 'batch-zero.json', body: withPatch({ training: { batchSize: 0 } }), mentions: [at('training.batchSize')] },
  { file: 'eval-zero.json', body: withPatch({ training: { evalEvery: 0 } }), mentions: [at('training.evalEvery')] },
  { file: 'population-negative.json', body: withPatch({ training: { populationBatches: -1 } }), mentions: [at('training.populationBatches')] },
  { file: 'checkpoint-often.json', body: withPatch({ training: { checkpointEvery: 'often' } }), mentions: [at('training.checkpointEvery')] },
  { file: 'training-array.json', body: withPatch({ training: [1, 2] }), mentions: [at('training')] },
  // tracking
  { file: 'percentile-101.json', body: withPatch({ tracking: { percentiles: [15, 50, 101] } }), mentions: [at('tracking.percentiles.2')] },
  { file: 'percentile-negative.json', body: withPatch({ tracking: { percentiles: [-1] } }), mentions: [at('tracking.percentiles.0')] },
  { file: 'percentiles-empty.json', body: withPatch({ tracking: { percentiles: [] } }), mentions: [at('tracking.percentiles')] },
  { file: 'tracking-layer-3.json', body: withPatch({ tracking: { layer: 3 } }), mentions: [at('tracking.layer')] },
  { file: 'tracking-layer-negative.json', body: withPatch({ tracking: { layer: -1 } }), mentions: [at('tracking.layer')] },
  { file: 'tracking-layer-first.json', body: withPatch({ tracking: { layer: 'first' } }), mentions: [at('tracking.layer')] },
  { file: 'tracking-unit-1.json', body: withPatch({ tracking: { units: [0, 100] } }), mentions: [at('tracking.units.1')] },
  {
    file: 'tracking-unit-narrow.json',
    body: withPatch({ model: { hidden: [100, 10, 100] }, tracking: { layer: 1, units: [10, 3] } }),
    mentions: [at('tracking.units.0')],
  },
  { file: 'tracking-unit-last.json', body: withPatch({ model: { hidden: [100, 5] }, tracking: { units: [5] } }), mentions: [at('tracking.units.0')] },
  { file: 'tracking-units-empty.json', body: withPatch({ tracking: { units: [] } }), mentions: [at('tracking.units')] },
  { file: 'tracking-unit-negative.json', body: withPatch({ tracking: { units: [0, -1] } }), mentions: [at('tracking.units.1')] },
  { file: 'threshold-zero.json', body: withPatch({ tracking: { accuracyThresholds: [0] } }), mentions: [at('tracking.accuracyThresholds.0')] },
  { file: 'threshold-big.json', body: withPatch({ tracking: { accuracyThresholds: [0.9, 1.5] } }), mentions: [at('tracking.accuracyThresholds.1')] },
  // YAML bodies: field errors are reported the same way
  { file: 'yaml-steps.yaml', body: 'name: y\ndata: { dataset: mnist }\nmodel: { type: mlp }\ntraining:\n  steps: 0\n', mentions: [at('training.steps')] },
  { file: 'yaml-hidden.yml', body: 'name: y\ndata: { dataset: mnist }\nmodel:\n  type: mlp\n  hidden: [100, zero]\n', mentions: [at('model.hidden.1')] },
  // Whole-file problems
  { file: 'syntax.yaml', body: 'name: x\ndata:\n  dataset: mnist\n  - oops\n', mentions: ['invalid YAML', /line 4\b/] },
  { file: 'syntax-indent.yml', body: 'name: x\nmodel:\n  type: mlp\n hidden: [1]\n', mentions: ['invalid YAML', /line \d+/] },
  { file: 'syntax-unclosed.yaml', body: 'name: x\nmodel: { type: mlp, hidden: [1, 2\n', mentions: ['invalid YAML', /line \d+/] },
  { file: 'syntax-dup.yaml', body: 'name: x\nname: y\ndata: { dataset: mnist }\nmodel: { type: mlp }\n', mentions: ['invalid YAML', /line 2\b/] },
  { file: 'syntax.json', body: '{"name": "x", "data": {', mentions: ['invalid JSON'] },
  { file: 'trailing-comma.json', body: '{"name": "x",}', mentions: ['invalid JSON'] },
  { file: 'empty.json', body: '', mentions: ['invalid JSON'] },
  { file: 'top-array.json', body: '[1, 2, 3]', mentions: ['object'] },
  { file: 'top-null.json', body: 'null', mentions: ['object'] },
  { file: 'top-string.yaml', body: 'just some text\n', mentions: ['object'] },
  { file: 'top-list.yaml', body: '- name: x\n- name: y\n', mentions: ['object'] },
  { file: 'empty.yaml', body: '', mentions: ['object'] },
  { file: 'format.toml', body: 'name = "x"', mentions: ['unknown config format', '.toml'] },
  { file: 'no-extension', body: JSON.stringify(BASE), mentions: ['unknown config format'] },
  { file: 'extends-number.json', body: JSON.stringify({ ...BASE, extends: 7 }), mentions: ['extends'] },
  { file: 'extends-array.yaml', body: 'extends: [a.json, b.json]\nname: x\n', mentions: ['extends'] },
  { file: 'extends-missing.json', body: JSON.stringify({ ...BASE, extends: 'nowhere.json' }), mentions: ['nowhere.json', 'not found'] },
];

describe('malformed configs: one-line ConfigError naming the field', () => {
  it('the table has at least 30 cases with distinct file names', () => {
    assert.ok(BAD.length >= 30, `only ${BAD.length} cases`);
    assert.equal(new Set(BAD.map((c) => c.file)).size, BAD.length);
  });

  for (const { file, body, mentions } of BAD) {
    it(`${file}`, () => {
      const dir = path.join(tmp, 'bad', path.basename(file).replace(/\W/g, '_'));
      fs.mkdirSync(dir, { recursive: true });
      const full = path.join(dir, file);
      fs.writeFileSync(full, body);
      const beforeList = listing(dir);
      const beforeBody = fs.readFileSync(full, 'utf8');
      expectConfigError(() => loadConfig(full), [file, ...mentions]);
      assert.deepEqual(listing(dir), beforeList, 'the failed load wrote something');
      assert.equal(fs.readFileSync(full, 'utf8'), beforeBody, 'the failed load changed the config');
    });
  }

  it('a missing file is a ConfigError naming it', () => {
    const missing = path.join(tmp, 'bad', 'absent.json');
    expectConfigError(() => loadConfig(missing), ['absent.json', 'not found']);
    assert.ok(!fs.existsSync(missing));
  });

  it('a directory given as the config file is a ConfigError naming it', () => {
    const dir = path.join(tmp, 'bad', 'dir.json');
    fs.mkdirSync(dir, { recursive: true });
    expectConfigError(() => loadConfig(dir), ['dir.json']);
  });

  // JSON.parse keeps "__proto__" as an own key; merging it by assignment would set the prototype,
  // and zod would read its fields as if they were the config's.
  it('a "__proto__" key is rejected like any unknown key', () => {
    const file = write('bad/proto.json', JSON.stringify(BASE).replace(/^\{/, '{"__proto__": {"seed": 5},'));
    expectConfigError(() => loadConfig(file), ['__proto__']);
  });

  it('several problems at once are all named on the one line', () => {
    const file = write('bad/multi.json', withPatch({ training: { steps: 0, batchSize: 1 }, optimizer: { learningRate: 0 } }));
    expectConfigError(() => loadConfig(file), [at('training.steps'), at('training.batchSize'), at('optimizer.learningRate')]);
  });
});

describe('the loader writes nothing', () => {
  it('the temp dir listing is unchanged after failing and succeeding loads', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'nowrite-'));
    const good = path.join(dir, 'good.yaml');
    const bad = path.join(dir, 'bad.json');
    const loopA = path.join(dir, 'la.json');
    fs.writeFileSync(good, 'name: g\ndata: { dataset: mnist }\nmodel: { type: mlp }\n');
    fs.writeFileSync(bad, JSON.stringify({ extends: 'good.yaml', training: { steps: -1 } }));
    fs.writeFileSync(loopA, JSON.stringify({ extends: 'lb.json' }));
    fs.writeFileSync(path.join(dir, 'lb.json'), JSON.stringify({ extends: 'la.json' }));
    const stat = (f: string): [number, number] => {
      const s = fs.statSync(path.join(dir, f));
      return [s.size, s.mtimeMs];
    };
    const beforeList = listing(dir);
    const beforeStats = beforeList.map(stat);
    expectConfigError(() => loadConfig(bad), [at('training.steps')]);
    expectConfigError(() => loadConfig(loopA), ['loop']);
    expectConfigError(() => loadConfig(path.join(dir, 'missing.yaml')), ['missing.yaml']);
    expectConfigError(() => loadConfig(bad, { 'training.steps': 0 }), [at('training.steps')]);
    loadConfig(good, { 'training.steps': 3 });
    assert.deepEqual(listing(dir), beforeList);
    assert.deepEqual(beforeList.map(stat), beforeStats);
  });
});
