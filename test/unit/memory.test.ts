/**
 * No tensor leaks from a training step: after a few warm-up steps,
 * tf.memory().numTensors and numBytes stay exactly flat over further steps of
 * trainStep (forward, the custom gradients and wasm kernels, the fused SGD
 * update with momentum and weight decay, BN's moving averages), for the MNIST
 * MLPs and the small Inception analogs with and without BN, on real batches.
 * A leak of even one tensor per step fails here; in a 4,000-step run it
 * would grow the heap without bound.
 */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { loadConfig } from '../../src/config/load';
import { ROOT } from '../cli';
import { stepHarness } from '../../bench/step-harness';

// Small batches keep the Inception steps short; the code path is the training loop's.
const CASES: { config: string; batchSize: number }[] = [
  { config: 'configs/mnist-bn.json', batchSize: 60 },
  { config: 'configs/mnist-baseline.json', batchSize: 60 },
  { config: 'configs/small/bn-x5.json', batchSize: 4 },
  { config: 'configs/small/inception.json', batchSize: 4 },
];

describe('tf.memory() stays flat over training steps (wasm)', () => {
  before(async () => {
    await selectBackend('wasm');
  });

  for (const c of CASES) {
    it(c.config, async () => {
      const cfg = loadConfig(path.join(ROOT, c.config), { 'training.batchSize': c.batchSize });
      const harness = stepHarness(cfg);
      const step = async () => {
        assert.ok(Number.isFinite(await harness.step()));
      };
      for (let i = 0; i < 2; i++) await step();
      const before = tf.memory();
      const counts: number[] = [];
      for (let i = 0; i < 4; i++) {
        await step();
        counts.push(tf.memory().numTensors);
      }
      const after = tf.memory();
      assert.deepEqual(
        counts,
        counts.map(() => before.numTensors),
        `numTensors per step: ${counts.join(', ')} (before: ${before.numTensors})`,
      );
      assert.equal(after.numBytes, before.numBytes, 'numBytes');
      harness.dispose();
    });
  }
});
