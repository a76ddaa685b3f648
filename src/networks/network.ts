/** What the training loop needs of any network. */
import * as tf from '@tensorflow/tfjs';
import { BatchNorm, BnMode } from '../layers/batchnorm';

export interface ForwardResult {
  logits: tf.Tensor2D;
  /** The input of each hidden layer's nonlinearity (the "sigmoid input" of Figure 1), in layer order. */
  preActivations: tf.Tensor2D[];
}

export interface Network {
  /** Parameters SGD updates, with names for checkpoints and reports. */
  readonly trainable: { name: string; variable: tf.Variable }[];
  readonly batchNorms: BatchNorm[];
  forward(x: tf.Tensor, mode: BnMode): ForwardResult;
}

export function parameterCount(net: Network): number {
  return net.trainable.reduce((n, p) => n + p.variable.size, 0);
}
