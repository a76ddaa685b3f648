/**
 * The Inception networks (src/networks/inception.ts, src/layers/*,
 * src/config/model-plan.ts) against the paper's layer table (paper section 4.2,
 * appendix), and the layers they are made of.
 *
 * Shapes: the table's output column says 14x14x576 for 4c and 4d and 7x7x1024
 * for 4e, but its own branch widths concatenate to 608 (160 + 160 + 160 + 128)
 * and 1056 (0 + 192 + 256 + 608 passed through). The network follows the
 * branch widths, so those three are asserted as 608, 608 and 1056.
 *
 * Parameters: the paper says Inception has 13.6M parameters. The table as
 * printed gives 11,275,208 (conv weights 10,240,192 + conv biases 10,016 +
 * the 1024x1000 softmax layer with biases 1,025,000), or 11,285,224 with BN
 * (gamma and beta instead of the biases). The 2.3M difference is not in the
 * table: GoogLeNet's auxiliary classifiers, which the paper never mentions,
 * would add 3.2M each (1x1 conv 128, FC 2048->1024, FC 1024->1000), and the
 * widths the text promises ("two 3x3 with up to 128 filters") contradict the
 * table. Nothing printed yields 13.6M, so the tests pin the exact count of
 * the table as printed.
 *
 * Runtime: the full-size network is built (11.3M weights) and run forward and
 * backward on wasm with batch 2 (about 3.5 s a pass on one core), plus two
 * SGD steps; everything else uses the small analog (configs/small).
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { selectBackend } from '../../src/backend';
import { loadConfig, validateConfig } from '../../src/config/load';
import { InceptionConfig, InceptionSchema } from '../../src/config/schema';
import { ConfigError } from '../../src/errors';
import { BatchNorm } from '../../src/layers/batchnorm';
import { Conv2D, ConvUnit } from '../../src/layers/conv';
import { Dropout } from '../../src/layers/dropout';
import { InceptionBlock } from '../../src/layers/inception-block';
import { lrn } from '../../src/layers/lrn';
import { concatChannels, globalAvgPool, pool2d } from '../../src/layers/pool';
import { buildNetwork } from '../../src/networks/build';
import { Inception } from '../../src/networks/inception';
import { describeModel, preActivationWidths } from '../../src/config/model-plan';
import { parameterCount } from '../../src/networks/network';
import { Rng } from '../../src/rng';
import { crossEntropy } from '../../src/train/step';
import { Sgd } from '../../src/train/optimizer';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const config = (file: string) => loadConfig(path.join(ROOT, 'configs', file));
const inceptionModel = (file: string): InceptionConfig => {
  const m = config(file).model;
  assert.equal(m.type, 'inception');
  return m as InceptionConfig;
};

before(async () => {
  // As `bnrun train --backend wasm` does: the wasm kernel fixes registered, then the backend set.
  await selectBackend('wasm');
});

/** Every trainable value finite, and the gradient non-zero for each variable. */
function gradientsFlow(net: Inception, x: tf.Tensor, y: tf.Tensor2D): { loss: number; zero: string[] } {
  return tf.tidy(() => {
    const params = net.trainable;
    const { value, grads } = tf.variableGrads(
      () => crossEntropy(net.forward(x, 'train').logits, y),
      params.map((p) => p.variable),
    );
    const zero: string[] = [];
    for (const p of params) {
      const g = grads[p.variable.name];
      const [sumSq] = tf.sum(tf.square(g)).dataSync();
      assert.ok(Number.isFinite(sumSq), `${p.name}: gradient not finite`);
      if (sumSq === 0) zero.push(p.name);
    }
    return { loss: value.dataSync()[0], zero };
  });
}

function oneHot(labels: number[], classes: number): tf.Tensor2D {
  return tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), classes).toFloat() as tf.Tensor2D);
}

describe('the paper layer table (configs/imagenet/inception.json)', () => {
  const expected: Record<string, [number, number, number]> = {
    'stem0-conv7x7': [112, 112, 64],
    'stem1-maxpool3x3': [56, 56, 64],
    'stem4-conv3x3': [56, 56, 192],
    'stem6-maxpool3x3': [28, 28, 192],
    '3a': [28, 28, 256],
    '3b': [28, 28, 320],
    '3c': [14, 14, 576],
    '4a': [14, 14, 576],
    '4b': [14, 14, 576],
    '4c': [14, 14, 608], // table: 576; 160 + 160 + 160 + 128 = 608
    '4d': [14, 14, 608], // table: 576; 96 + 192 + 192 + 128 = 608
    '4e': [7, 7, 1056], // table: 1024; 0 + 192 + 256 + 608 (pass through) = 1056
    '5a': [7, 7, 1024],
    '5b': [7, 7, 1024],
  };

  it('every stem layer and block has the table output shape (following the concatenations)', () => {
    const info = describeModel(inceptionModel('imagenet/inception.json'));
    const byName = new Map(info.layers.map((l) => [l.name, l]));
    for (const [name, shape] of Object.entries(expected)) assert.deepEqual(byName.get(name)?.outputShape, shape, name);
    assert.deepEqual(byName.get('global-avgpool')?.outputShape, [1024]);
    assert.deepEqual(byName.get('logits')?.outputShape, [1000]);
  });

  it('Inception has 11,275,208 parameters, BN-Inception 11,285,224 (the paper says 13.6M; see the header)', () => {
    const inception = describeModel(inceptionModel('imagenet/inception.json'));
    assert.equal(inception.totalParameters, 11_275_208);
    assert.equal(inception.layers.find((l) => l.name === 'logits')?.parameters, 1_025_000);
    const bn = describeModel(inceptionModel('imagenet/bn-baseline.json'));
    assert.equal(bn.totalParameters, 11_285_224);
    // Per block, e.g. 3a without BN: 1x1 192*64 + 64; 3x3 192*64 + 64 + 9*64*64 + 64;
    // double 192*64 + 64 + 9*64*96 + 96 + 9*96*96 + 96; proj 192*32 + 32.
    assert.equal(inception.layers.find((l) => l.name === '3a')?.parameters, 12352 + 12352 + 36928 + 12352 + 55392 + 83040 + 6176);
  });

  it('the built networks have exactly the counted parameters, uniquely named, with biases only without BN', () => {
    for (const file of ['imagenet/inception.json', 'imagenet/bn-x5.json']) {
      const cfg = inceptionModel(file);
      const net = new Inception(cfg, new Rng(1));
      assert.equal(parameterCount(net), describeModel(cfg).totalParameters, file);
      const names = net.trainable.map((p) => p.name);
      assert.equal(new Set(names).size, names.length, `${file}: duplicate parameter names`);
      const biases = names.filter((n) => n.endsWith('/b'));
      if (cfg.batchNorm) assert.deepEqual(biases, ['logits/b'], file);
      else assert.equal(biases.length, preActivationWidths(cfg).length + 1, file);
      assert.equal(net.batchNorms.length, cfg.batchNorm ? preActivationWidths(cfg).length : 0);
      // Weight decay applies to kernels and the softmax matrix only.
      for (const p of net.trainable) assert.equal(p.decay, p.name.endsWith('/W'), p.name);
      tf.dispose(net.trainable.map((p) => p.variable));
      for (const bn of net.batchNorms) tf.dispose(bn.statistics);
    }
  });

  it('full size on wasm, batch 2: every layer output has the counted shape, gradients reach every variable, SGD steps lower the loss', () => {
    const cfg = inceptionModel('imagenet/bn-baseline.json'); // BN + LRN + dropout: every kind of layer
    const net = new Inception(cfg, new Rng(2));
    const info = describeModel(cfg);
    const rng = new Rng(3);
    const x = tf.tidy(() =>
      tf.tensor4d(
        Float32Array.from({ length: 2 * 224 * 224 * 3 }, () => rng.normal()),
        [2, 224, 224, 3],
      ),
    );
    const y = oneHot([3, 997], 1000);

    const outputs = tf.tidy(() => {
      const taps: tf.Tensor[] = [];
      const { logits, preActivations } = net.forward(x, 'train', taps);
      assert.deepEqual(logits.shape, [2, 1000]);
      assert.deepEqual(
        preActivations.map((p) => p.shape[3]),
        preActivationWidths(cfg),
      );
      return taps.map((t) => t.shape);
    });
    assert.deepEqual(
      outputs,
      info.layers.slice(1).map((l) => [2, ...l.outputShape]),
    );

    const first = gradientsFlow(net, x, y);
    assert.deepEqual(first.zero, []);
    const sgd = new Sgd({ type: 'sgd', learningRate: 0.05, momentum: 0, weightDecay: 0 }, net.trainable);
    const losses = [first.loss];
    for (let step = 0; step < 2; step++) {
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(
          () => crossEntropy(net.forward(x, 'train').logits, y),
          net.trainable.map((p) => p.variable),
        );
        sgd.apply(grads, 0.05);
        losses.push(value.dataSync()[0]);
      });
    }
    // Dropout makes each loss noisy; two steps on one batch still lower it clearly.
    assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
    assert.ok(losses[2] < losses[0] - 0.1, `losses ${losses.join(', ')}`);
    tf.dispose([x, y]);
  });

  it('the no-BN Inception trains too (forward + backward at full size)', () => {
    const cfg = inceptionModel('imagenet/inception.json');
    const net = new Inception(cfg, new Rng(4));
    const rng = new Rng(5);
    const x = tf.tidy(() =>
      tf.tensor4d(
        Float32Array.from({ length: 2 * 224 * 224 * 3 }, () => rng.normal()),
        [2, 224, 224, 3],
      ),
    );
    const y = oneHot([0, 1], 1000);
    const { loss, zero } = gradientsFlow(net, x, y);
    assert.ok(Number.isFinite(loss) && loss > 0);
    assert.deepEqual(zero, []);
    tf.dispose([x, y]);
  });
});

describe('the small analogs (configs/small)', () => {
  it('every small config validates and builds the analog of its paper network', () => {
    const pairs: [string, Partial<InceptionConfig>][] = [
      ['inception', { batchNorm: false, activation: 'relu', lrn: true, dropout: 0.4 }],
      ['bn-baseline', { batchNorm: true, activation: 'relu', lrn: true, dropout: 0.4 }],
      ['bn-x5', { batchNorm: true, activation: 'relu', lrn: false, dropout: 0 }],
      ['bn-x30', { batchNorm: true, activation: 'relu', lrn: false, dropout: 0 }],
      ['bn-x5-sigmoid', { batchNorm: true, activation: 'sigmoid', lrn: false, dropout: 0 }],
      ['inception-x5', { batchNorm: false, activation: 'relu', lrn: true, dropout: 0.4 }],
      ['inception-sigmoid', { batchNorm: false, activation: 'sigmoid', lrn: true, dropout: 0.4 }],
    ];
    for (const scale of ['small', 'imagenet']) {
      const lr = (n: string) => config(`${scale}/${n}.json`).optimizer.learningRate;
      for (const [name, switches] of pairs) {
        const cfg = config(`${scale}/${name}.json`);
        assert.equal(cfg.paper, name);
        const m = cfg.model as InceptionConfig;
        for (const [k, v] of Object.entries(switches)) assert.equal(m[k as keyof InceptionConfig], v, `${scale}/${name}: ${k}`);
        // Same table within a scale.
        assert.deepEqual(m.blocks, inceptionModel(`${scale}/inception.json`).blocks);
      }
      assert.ok(Math.abs(lr('bn-x5') / lr('inception') - 5) < 1e-9, scale);
      assert.ok(Math.abs(lr('bn-x30') / lr('inception') - 30) < 1e-9, scale);
      assert.ok(Math.abs(lr('inception-x5') / lr('inception') - 5) < 1e-9, scale);
      const base = config(`${scale}/inception.json`).optimizer;
      const x5 = config(`${scale}/bn-x5.json`).optimizer;
      assert.ok(Math.abs(x5.weightDecay * 5 - base.weightDecay) < 1e-12, `${scale}: weight decay / 5`);
      assert.ok(base.decay && x5.decay && Math.abs(base.decay.every / x5.decay.every / 6 - 1) < 1e-3, `${scale}: decay 6x faster`);
    }
    const small = inceptionModel('small/inception.json');
    assert.deepEqual(small.inputShape, [28, 28, 1]);
    assert.equal(small.classes, 10);
    assert.equal(config('small/inception.json').data.dataset, 'fashion-mnist');
    assert.equal(config('imagenet/inception.json').data.dataset, 'imagenet');
  });

  it('flat 784-pixel input: shapes as counted, and a few SGD steps lower the loss (BN, relu)', () => {
    const cfg = inceptionModel('small/bn-x5.json');
    const net = buildNetwork(cfg, new Rng(6)) as Inception;
    const info = describeModel(cfg);
    assert.equal(parameterCount(net), info.totalParameters);
    const rng = new Rng(7);
    const labels = Array.from({ length: 16 }, (_, i) => i % 10);
    // Class-dependent images, so that there is something to learn.
    const x = tf.tensor2d(
      Float32Array.from({ length: 16 * 784 }, (_, i) => (Math.floor(i / 784) % 10 === (i % 784) % 10 ? 1 : 0) + 0.1 * rng.normal()),
      [16, 784],
    );
    const y = oneHot(labels, 10);
    const shapes = tf.tidy(() => {
      const taps: tf.Tensor[] = [];
      net.forward(x, 'train', taps);
      return taps.map((t) => t.shape);
    });
    assert.deepEqual(
      shapes,
      info.layers.slice(1).map((l) => [16, ...l.outputShape]),
    );
    const sgd = new Sgd({ type: 'sgd', learningRate: 0.05, momentum: 0.9, weightDecay: 0 }, net.trainable);
    const losses: number[] = [];
    for (let step = 0; step < 12; step++) {
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(
          () => crossEntropy(net.forward(x, 'train').logits, y),
          net.trainable.map((p) => p.variable),
        );
        sgd.apply(grads, 0.05);
        losses.push(value.dataSync()[0]);
      });
    }
    assert.ok(losses[11] < losses[0] * 0.7, `losses ${losses.join(', ')}`);
    tf.dispose([x, y]);
  });

  it('sigmoid without BN: gradients reach every variable', () => {
    const cfg = inceptionModel('small/inception-sigmoid.json');
    const net = new Inception(cfg, new Rng(8));
    const rng = new Rng(9);
    const x = tf.tensor4d(
      Float32Array.from({ length: 4 * 784 }, () => rng.next()),
      [4, 28, 28, 1],
    );
    const y = oneHot([1, 2, 3, 4], 10);
    const { zero } = gradientsFlow(net, x, y);
    assert.deepEqual(zero, []);
    tf.dispose([x, y]);
  });

  it('BN modes: moving and population are deterministic inference, collect feeds Algorithm 2, dropout only in train', () => {
    const cfg = inceptionModel('small/bn-baseline.json'); // dropout 0.4
    const net = new Inception(cfg, new Rng(10));
    const rng = new Rng(11);
    const x = tf.tensor4d(
      Float32Array.from({ length: 8 * 784 }, () => rng.next()),
      [8, 28, 28, 1],
    );
    const logits = (mode: 'train' | 'moving' | 'collect' | 'population') => tf.tidy(() => net.forward(x, mode).logits.dataSync() as Float32Array);
    const a = logits('train');
    const b = logits('train');
    assert.notDeepEqual(a, b, 'dropout masks differ between training steps');
    assert.deepEqual(logits('moving'), logits('moving'));
    for (const bn of net.batchNorms) bn.beginPopulation();
    logits('collect');
    logits('collect');
    const counts = net.batchNorms.map((bn) => bn.endPopulation());
    // Conv BN statistics are over batch and positions: m' = m*h*w (paper 3.2); the first BN sees the stem conv's output map.
    const [h, w] = describeModel(cfg).layers[1].outputShape;
    assert.deepEqual(counts[0], { batches: 2, m: 8 * h * w });
    const p1 = logits('population');
    assert.deepEqual(logits('population'), p1);
    assert.ok(p1.every(Number.isFinite));
    tf.dispose(x);
  });

  it('lrn: false removes the LRN layers; batchNorm: false keeps conv biases', () => {
    const on = describeModel(inceptionModel('small/bn-baseline.json'));
    const off = describeModel(inceptionModel('small/bn-x5.json'));
    assert.equal(on.layers.filter((l) => l.kind === 'lrn').length, 2);
    assert.equal(off.layers.filter((l) => l.kind === 'lrn').length, 0);
    assert.equal(off.layers.filter((l) => l.kind === 'dropout').length, 0);
    const plain = new Inception(inceptionModel('small/inception.json'), new Rng(12));
    const biases = plain.trainable.filter((p) => p.name.endsWith('/b')).length;
    assert.equal(biases, preActivationWidths(inceptionModel('small/inception.json')).length + 1);
  });

  it('init: fan-in scaling gives He-like weights; the seed fixes them', () => {
    const cfg = inceptionModel('small/inception.json');
    const w = (seed: number) => new Inception(cfg, new Rng(seed)).trainable.find((p) => p.name === '3a/3x3/W')!.variable.dataSync() as Float32Array;
    const v = w(1);
    assert.deepEqual(w(1), v);
    assert.notDeepEqual(w(2), v);
    const std = Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
    // 3x3 over 16 channels: sqrt(2/144) = 0.118, times 0.88 for the truncation at 2 std.
    assert.ok(Math.abs(std - 0.88 * Math.sqrt(2 / 144)) < 0.01, `std ${std}`);
  });
});

describe('layers', () => {
  it('Conv2D: same/valid padding, stride, optional bias', () => {
    tf.tidy(() => {
      const x = tf.ones([2, 7, 7, 3]) as tf.Tensor4D;
      const w = tf.ones([3, 3, 3, 4]) as tf.Tensor4D;
      const same = new Conv2D('c1', w, true, 2, 'same');
      const valid = new Conv2D('c2', w, false, 1, 'valid');
      assert.deepEqual(same.apply(x).shape, [2, 4, 4, 4]);
      assert.deepEqual(valid.apply(x).shape, [2, 5, 5, 4]);
      assert.equal(same.trainable.length, 2);
      assert.equal(valid.trainable.length, 1);
      // Interior of a same conv of ones: 3*3*3 = 27.
      assert.equal(valid.apply(x).dataSync()[0], 27);
      tf.dispose([...same.trainable, ...valid.trainable]);
    });
  });

  it('ConvUnit: BN per feature map before the nonlinearity, no bias; the pre-activation is recorded', () => {
    tf.tidy(() => {
      const rng = new Rng(13);
      const x = tf.tensor4d(
        Float32Array.from({ length: 4 * 5 * 5 * 2 }, () => rng.normal()),
        [4, 5, 5, 2],
      );
      const w = tf.tensor4d(
        Float32Array.from({ length: 3 * 3 * 2 * 3 }, () => rng.normal()),
        [3, 3, 2, 3],
      );
      const unit = new ConvUnit('u', w, 1, 'same', { batchNorm: true, activation: 'relu', epsilon: 1e-3, movingAverageDecay: 0.9 });
      assert.equal(unit.conv.b, null);
      assert.ok(unit.bn instanceof BatchNorm);
      const pre: tf.Tensor[] = [];
      const z = unit.apply(x, 'train', pre);
      assert.equal(pre.length, 1);
      // BN output: each feature map has mean 0 and variance 1 - eps/(var + eps) over batch and positions.
      const mean = tf.mean(pre[0], [0, 1, 2]).dataSync();
      for (const m of mean) assert.ok(Math.abs(m) < 1e-5);
      assert.deepEqual(z.dataSync(), tf.relu(pre[0]).dataSync());
      assert.deepEqual(
        unit.parameters.map((p) => p.name),
        ['u/W', 'u/bn/gamma', 'u/bn/beta'],
      );
    });
  });

  it('pools, global average pool and channel concatenation', () => {
    tf.tidy(() => {
      const x = tf.tensor4d(
        Float32Array.from({ length: 1 * 4 * 4 * 2 }, (_, i) => i),
        [1, 4, 4, 2],
      );
      assert.deepEqual(pool2d(x, 'max', 3, 2, 'same').shape, [1, 2, 2, 2]);
      assert.deepEqual(pool2d(x, 'avg', 3, 1, 'same').shape, [1, 4, 4, 2]);
      // Same-padded average pooling divides by the in-image count: the corner window holds 4 values.
      assert.equal(pool2d(x, 'avg', 3, 1, 'same').dataSync()[0], (0 + 2 + 8 + 10) / 4);
      assert.deepEqual(Array.from(globalAvgPool(x).dataSync()), [15, 16]);
      assert.deepEqual(concatChannels([x, pool2d(x, 'max', 3, 1, 'same')]).shape, [1, 4, 4, 4]);
    });
  });

  it('LRN follows y = x / (bias + alpha * sum of squares over 2r+1 channels)^beta', () => {
    tf.tidy(() => {
      const v = [1, -2, 3, 0.5, 4];
      const p = { depthRadius: 1, bias: 2, alpha: 0.1, beta: 0.75 };
      const y = lrn(tf.tensor4d(v, [1, 1, 1, 5]), p).dataSync();
      v.forEach((xc, c) => {
        let s = 0;
        for (let d = Math.max(0, c - 1); d <= Math.min(4, c + 1); d++) s += v[d] * v[d];
        assert.ok(Math.abs(y[c] - xc / Math.pow(p.bias + p.alpha * s, p.beta)) < 1e-6, `channel ${c}`);
      });
    });
  });

  it('Dropout: identity at inference, inverted scaling and the rate in training, seeded masks', () => {
    tf.tidy(() => {
      const x = tf.ones([100, 100]);
      const d = new Dropout(0.4, new Rng(14));
      assert.equal(d.apply(x, false), x);
      const y = d.apply(x, true).dataSync();
      const kept = y.filter((v) => v !== 0);
      assert.ok(kept.every((v) => Math.abs(v - 1 / 0.6) < 1e-6));
      assert.ok(Math.abs(kept.length / y.length - 0.6) < 0.02, `kept ${kept.length / y.length}`);
      assert.deepEqual(new Dropout(0.4, new Rng(14)).apply(x, true).dataSync(), y);
      assert.equal(new Dropout(0, new Rng(1)).apply(x, true), x);
    });
  });

  it('a stride-2 block: no 1x1, max pool passes the input through, 3x3 and the second double-3x3 have stride 2', () => {
    tf.tidy(() => {
      const rng = new Rng(15);
      const weights = (shape: [number, number, number, number]) =>
        tf.tensor4d(
          Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => 0.1 * rng.normal()),
          shape,
        );
      const spec = { name: 'r', conv1x1: 0, reduce3x3: 4, conv3x3: 6, reduceDouble3x3: 3, double3x3: 5, pool: 'max' as const, poolProj: 0, stride: 2 };
      const block = new InceptionBlock('r', spec, 8, weights, { batchNorm: false, activation: 'relu', epsilon: 1e-3, movingAverageDecay: 0.9 });
      assert.deepEqual(
        block.parameters.filter((p) => p.name.endsWith('/W')).map((p) => [p.name, p.variable.shape]),
        [
          ['r/3x3_reduce/W', [1, 1, 8, 4]],
          ['r/3x3/W', [3, 3, 4, 6]],
          ['r/double3x3_reduce/W', [1, 1, 8, 3]],
          ['r/double3x3a/W', [3, 3, 3, 5]],
          ['r/double3x3b/W', [3, 3, 5, 5]],
        ],
      );
      const x = tf.tensor4d(
        Float32Array.from({ length: 2 * 7 * 7 * 8 }, () => rng.normal()),
        [2, 7, 7, 8],
      );
      const pre: tf.Tensor[] = [];
      const y = block.apply(x, 'train', pre);
      assert.deepEqual(y.shape, [2, 4, 4, 6 + 5 + 8]);
      assert.deepEqual(
        pre.map((p) => p.shape),
        [
          [2, 7, 7, 4],
          [2, 4, 4, 6],
          [2, 7, 7, 3],
          [2, 7, 7, 5],
          [2, 4, 4, 5],
        ],
      );
      // The last 8 channels are the max-pooled input itself.
      assert.deepEqual(tf.slice(y, [0, 0, 0, 11], [2, 4, 4, 8]).dataSync(), tf.maxPool(x, 3, 2, 'same').dataSync());
    });
  });
});

describe('config schema', () => {
  const base = () => ({
    name: 't',
    data: { dataset: 'imagenet', path: '/nonexistent/imagenet' },
    model: { ...InceptionSchema.parse({ type: 'inception', stem: [{ type: 'conv', filters: 8, size: 3 }], blocks: [] }) },
  });

  it('defaults: ReLU, no BN, LRN, dropout 0.4, 224x224x3, 1000 classes, He init', () => {
    const m = InceptionSchema.parse({ type: 'inception', stem: [{ type: 'conv', filters: 8, size: 3 }], blocks: [] });
    assert.deepEqual(
      { a: m.activation, bn: m.batchNorm, lrn: m.lrn, d: m.dropout, s: m.inputShape, c: m.classes, i: m.init },
      { a: 'relu', bn: false, lrn: true, d: 0.4, s: [224, 224, 3], c: 1000, i: { distribution: 'truncated-normal', std: Math.SQRT2, scaling: 'fan-in' } },
    );
  });

  it('rejects a reduce without its conv, duplicate block names, a stem that shrinks to nothing, and tracking past the last conv', () => {
    const block = { name: 'a', conv1x1: 4, reduce3x3: 4, conv3x3: 0, reduceDouble3x3: 0, double3x3: 0, pool: 'avg', poolProj: 0 };
    const cases: [unknown, RegExp][] = [
      [{ ...base(), model: { ...base().model, blocks: [block] } }, /reduce3x3/],
      [
        {
          ...base(),
          model: {
            ...base().model,
            blocks: [
              { ...block, reduce3x3: 0 },
              { ...block, reduce3x3: 0 },
            ],
          },
        },
        /unique/,
      ],
      [{ ...base(), model: { ...base().model, inputShape: [4, 4, 3], stem: [{ type: 'conv', filters: 8, size: 5, padding: 'valid' }] } }, /shrinks/],
      [{ ...base(), tracking: { layer: 1 } }, /1 hidden layers/],
      [{ ...base(), tracking: { units: [8] } }, /8 units/],
    ];
    // The schema's field rules and the checks after parsing (geometry, tracking) alike, through the one gate.
    for (const [raw, message] of cases)
      assert.throws(
        () => validateConfig(raw, 'test.json'),
        (e: Error) => e instanceof ConfigError && message.test(e.message),
      );
    assert.equal(validateConfig(base(), 'test.json').name, 't');
  });
});
