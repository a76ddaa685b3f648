/**
 * Evaluation on the test set in inference mode, and Algorithm 2's exact
 * population pass over training mini-batches.
 */
import * as tf from '@tensorflow/tfjs';
import { Batcher, ResidentSplit } from '../data/batches';
import { BnMode } from '../layers/batchnorm';
import { columnPercentiles } from '../metrics';
import { Network } from '../networks/network';
import { crossEntropy } from './step';

export interface Evaluation {
  loss: number;
  accuracy: number;
  /** For each tracked unit, its input's percentiles over the test set. */
  unitPercentiles: number[][];
}

export interface TrackSpec {
  layer: number;
  units: number[];
  percentiles: number[];
}

/** The test set is evaluated in one forward pass: 10k x 784 fits easily and avoids per-chunk overhead. */
export function evaluate(net: Network, test: ResidentSplit, mode: Exclude<BnMode, 'train' | 'collect'>, track: TrackSpec): Evaluation {
  const [lossT, predT, unitsT] = tf.tidy(() => {
    const { logits, preActivations } = net.forward(test.x, mode);
    const tracked = tf.gather(preActivations[track.layer], tf.tensor1d(track.units, 'int32'), 1);
    return [crossEntropy(logits, test.y), tf.argMax(logits, 1), tracked];
  });
  const loss = lossT.dataSync()[0];
  const pred = predT.dataSync();
  const units = unitsT.dataSync() as Float32Array;
  tf.dispose([lossT, predT, unitsT]);
  let correct = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === test.labels[i]) correct++;
  return {
    loss,
    accuracy: correct / pred.length,
    unitPercentiles: columnPercentiles(units, pred.length, track.units.length, track.percentiles),
  };
}

/**
 * Algorithm 2: with the parameters frozen, run `batches` training mini-batches
 * through the training network and set each BN's population statistics to
 * E[x] = E_B[mu_B], Var[x] = m/(m-1) E_B[sigma2_B]. Returns the batch count and m.
 */
export function computePopulationStatistics(net: Network, batcher: Batcher, batches: number): { batches: number; m: number } | null {
  if (net.batchNorms.length === 0) return null;
  for (const bn of net.batchNorms) bn.beginPopulation();
  for (let i = 0; i < batches; i++) {
    const batch = batcher.next();
    tf.tidy(() => {
      net.forward(batch.x, 'collect');
    });
    tf.dispose([batch.x, batch.y]);
  }
  const counts = net.batchNorms.map((bn) => bn.endPopulation());
  return counts[0];
}
