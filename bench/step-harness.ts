/**
 * One training step of an MNIST-family config exactly as `bnrun train` runs
 * it: real batches from the seeded Batcher, trainStep at the config's
 * learning rate, each batch disposed. Shared by the bench, the kernel profiler
 * and the memory test, so all three measure the same code path.
 */
import * as tf from '@tensorflow/tfjs';
import { Config } from '../src/config/schema';
import { Batcher } from '../src/data/batches';
import { loadMnist } from '../src/data/mnist';
import { buildNetwork } from '../src/networks/build';
import { Network } from '../src/networks/network';
import { Rng } from '../src/rng';
import { Sgd } from '../src/train/optimizer';
import { trainStep } from '../src/train/step';

export interface StepHarness {
  net: Network;
  /** One SGD step on the next real batch; returns its loss. */
  step(): number;
  /** Frees the weights, BN statistics and momentum velocities, so timing several nets leaks nothing. */
  dispose(): void;
}

export function stepHarness(cfg: Config): StepHarness {
  // The small Inception analogs train on Fashion-MNIST through the same loader and Batcher as the MLPs.
  if (cfg.data.dataset === 'imagenet') throw new Error('the step harness runs the MNIST-family nets only');
  const data = loadMnist({ dataset: cfg.data.dataset, path: cfg.data.path });
  const rng = new Rng(cfg.seed);
  const net = buildNetwork(cfg.model, rng.fork('init'));
  const optimizer = new Sgd(cfg.optimizer, net.trainable);
  const batcher = new Batcher(data.train, cfg.training.batchSize, rng.fork('data'), data.classes);
  return {
    net,
    step() {
      const batch = batcher.next();
      const loss = trainStep(net, optimizer, batch, cfg.optimizer.learningRate);
      tf.dispose([batch.x, batch.y]);
      return loss;
    },
    dispose() {
      // gamma and beta are among net.trainable; the BN statistics and the velocities are not.
      tf.dispose([...net.trainable.map((p) => p.variable), ...net.batchNorms.flatMap((bn) => bn.statistics), ...optimizer.state.map((s) => s.variable)]);
    },
  };
}
