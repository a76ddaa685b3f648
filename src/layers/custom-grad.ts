/**
 * A typed front for tf.customGrad: an op with a hand-written gradient. The
 * forward runs inside a tidy, so tensors the gradient needs go through `save`.
 */
import * as tf from '@tensorflow/tfjs';

export type Saver = (tensors: tf.Tensor[]) => void;

export interface WithGradient {
  value: tf.Tensor;
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[];
}

export function customGrad<A extends tf.Tensor[]>(f: (...args: [...A, Saver]) => WithGradient): (...args: A) => tf.Tensor {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...args: A) => tf.Tensor;
}
