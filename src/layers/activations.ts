import * as tf from '@tensorflow/tfjs';

export type Activation = 'sigmoid' | 'relu';

export function activate(x: tf.Tensor, g: Activation): tf.Tensor {
  return g === 'sigmoid' ? tf.sigmoid(x) : tf.relu(x);
}
