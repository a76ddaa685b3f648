/** Pooling and branch concatenation over NHWC feature maps. */
import * as tf from '@tensorflow/tfjs';

export type PoolType = 'max' | 'avg';

/** Max or average pooling; average pooling with same padding divides by the in-image count, as TensorFlow does. */
export function pool2d(x: tf.Tensor4D, type: PoolType, size: number, stride: number, padding: 'same' | 'valid' = 'same'): tf.Tensor4D {
  return type === 'max' ? tf.maxPool(x, size, stride, padding) : tf.avgPool(x, size, stride, padding);
}

/** Mean of each feature map over all positions: [m, h, w, c] -> [m, c]. */
export function globalAvgPool(x: tf.Tensor4D): tf.Tensor2D {
  return tf.mean(x, [1, 2]) as tf.Tensor2D;
}

/** The outputs of an inception block's branches, stacked along channels in branch order. */
export function concatChannels(branches: tf.Tensor4D[]): tf.Tensor4D {
  return branches.length === 1 ? branches[0] : tf.concat4d(branches, 3);
}
