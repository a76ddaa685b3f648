/** What the training loop needs of any network. */
import * as tf from '@tensorflow/tfjs';
import { BatchNorm, BnMode } from '../layers/batchnorm';
import type { Parameter } from '../layers/parameter';

export interface ForwardResult {
  logits: tf.Tensor2D;
  /**
   * The input of each hidden layer's nonlinearity (the "sigmoid input" of
   * Figure 1), in layer order; units (or feature maps) on the last axis.
   */
  preActivations: tf.Tensor[];
}

export interface Network {
  readonly trainable: Parameter[];
  readonly batchNorms: BatchNorm[];
  forward(x: tf.Tensor, mode: BnMode): ForwardResult;
  /** A network that draws random numbers while training (dropout masks) exposes its generator state for checkpoints. */
  readonly dropout?: { rngState: number };
}

export function parameterCount(net: Network): number {
  return net.trainable.reduce((n, p) => n + p.variable.size, 0);
}
