/** Weight initialisation from the run's own generator, so a seed means the same weights on every backend. */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng';

export type InitDistribution = 'normal' | 'truncated-normal';

export function gaussianWeights(shape: number[], std: number, distribution: InitDistribution, rng: Rng): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let z = rng.normal();
    // Truncated normal redraws beyond 2 std, as TensorFlow's truncated_normal does.
    while (distribution === 'truncated-normal' && Math.abs(z) > 2) z = rng.normal();
    values[i] = z * std;
  }
  return tf.tensor(values, shape);
}
