/**
 * One training step of a config exactly as `bnrun train` runs it: real
 * batches from the seeded Batcher (for an ImageNet config, seeded synthetic
 * pixels: a step's time does not depend on them), trainStep at the config's
 * learning rate, each batch disposed. Shared by the bench, the kernel profiler
 * and the memory test, so all three measure the same code path.
 */
import * as tf from '@tensorflow/tfjs';
import { Config } from '../src/config/schema';
import { Batcher } from '../src/data/batches';
import { loadMnist, Split } from '../src/data/mnist';
import { buildNetwork } from '../src/networks/build';
import { Network } from '../src/networks/network';
import { Rng } from '../src/rng';
import { Sgd } from '../src/train/optimizer';
import { trainStep } from '../src/train/step';

export interface StepHarness {
  net: Network;
  /** One SGD step on the next batch; returns its loss (awaited: on webgpu the read is asynchronous). */
  step(): Promise<number>;
  /** Frees the weights, BN statistics and momentum velocities, so timing several nets leaks nothing. */
  dispose(): void;
}

/**
 * A stand-in for ImageNet's training split: 2 batches of seeded uniform
 * pixels at the config's input shape. A step's time does not depend on the
 * pixel values, and the Batcher gathers and uploads them as it does real data.
 */
function syntheticSplit(cfg: Config): { train: Split; classes: number } {
  if (cfg.model.type !== 'inception') throw new Error(`${cfg.name}: synthetic batches are for Inception nets`);
  const width = cfg.model.inputShape.reduce((a, b) => a * b, 1);
  const n = 2 * cfg.training.batchSize;
  const rng = new Rng(cfg.seed).fork('synthetic');
  const images = new Float32Array(n * width);
  for (let i = 0; i < images.length; i++) images[i] = rng.next();
  const labels = Int32Array.from({ length: n }, () => rng.int(cfg.model.classes));
  return { train: { images, labels, n }, classes: cfg.model.classes };
}

export function stepHarness(cfg: Config): StepHarness {
  // The small Inception analogs train on Fashion-MNIST through the same loader and Batcher as the MLPs.
  const data = cfg.data.dataset === 'imagenet' ? syntheticSplit(cfg) : loadMnist({ dataset: cfg.data.dataset, path: cfg.data.path });
  const rng = new Rng(cfg.seed);
  const net = buildNetwork(cfg.model, rng.fork('init'));
  const optimizer = new Sgd(cfg.optimizer, net.trainable);
  const batcher = new Batcher(data.train, cfg.training.batchSize, rng.fork('data'), data.classes);
  return {
    net,
    async step() {
      const batch = batcher.next();
      const loss = await trainStep(net, optimizer, batch, cfg.optimizer.learningRate);
      tf.dispose([batch.x, batch.y]);
      return loss;
    },
    dispose() {
      // gamma and beta are among net.trainable; the BN statistics and the velocities are not.
      tf.dispose([...net.trainable.map((p) => p.variable), ...net.batchNorms.flatMap((bn) => bn.statistics), ...optimizer.state.map((s) => s.variable)]);
    },
  };
}
