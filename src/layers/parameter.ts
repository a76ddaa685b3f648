/** What a layer trains, as the optimiser, checkpoints and reports see it. */
import type * as tf from '@tensorflow/tfjs';

/** A trained variable, named for checkpoints and reports. */
export interface Parameter {
  name: string;
  variable: tf.Variable;
  /** Subject to L2 weight decay: weight matrices and kernels, not biases or BN's gamma and beta. */
  decay: boolean;
}
