/**
 * Local response normalisation across channels, as in GoogLeNet (the
 * Inception baseline has it after the first conv stage and after the 3x3
 * conv; paper 4.2.1 removes it from the BN networks):
 *   y_c = x_c / (bias + alpha * sum_{c' = c-r..c+r} x_c'^2)^beta.
 * Caffe's LRN (local_size n, alpha a) is depthRadius (n-1)/2, alpha a/n.
 */
import * as tf from '@tensorflow/tfjs';

export interface LrnParams {
  depthRadius: number;
  bias: number;
  alpha: number;
  beta: number;
}

export function lrn(x: tf.Tensor4D, p: LrnParams): tf.Tensor4D {
  return tf.localResponseNormalization(x, p.depthRadius, p.bias, p.alpha, p.beta);
}
