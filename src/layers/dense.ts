/**
 * A fully-connected layer u -> Wu (+ b). The bias is optional because a layer
 * followed by BN drops it: BN's beta takes its role (paper 3.2).
 */
import * as tf from '@tensorflow/tfjs';

export class Dense {
  readonly w: tf.Variable<tf.Rank.R2>;
  readonly b: tf.Variable<tf.Rank.R1> | null;

  constructor(
    readonly name: string,
    weights: tf.Tensor2D,
    useBias: boolean,
  ) {
    this.w = tf.variable(weights, true);
    this.b = useBias ? tf.variable(tf.zeros([weights.shape[1]]), true) : null;
  }

  get trainable(): tf.Variable[] {
    return this.b ? [this.w, this.b] : [this.w];
  }

  apply(u: tf.Tensor2D): tf.Tensor2D {
    const wu = tf.matMul(u, this.w) as tf.Tensor2D;
    return this.b ? (tf.add(wu, this.b) as tf.Tensor2D) : wu;
  }
}
