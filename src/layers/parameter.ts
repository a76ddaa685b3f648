/** What a layer trains, as the optimiser, checkpoints and reports see it. */
import type * as tf from '@tensorflow/tfjs';

/** A trained variable, named for checkpoints and reports. */
export interface Parameter {
  name: string;
  variable: tf.Variable;
  /** Subject to L2 weight decay: weight matrices and kernels, not biases or BN's gamma and beta. */
  decay: boolean;
}

/** A layer with a weight matrix or kernel and an optional bias (Dense, Conv2D). */
interface Weighted {
  readonly name: string;
  readonly w: tf.Variable;
  readonly b: tf.Variable | null;
}

/** BN's trained scale and shift. */
interface Normalised {
  readonly name: string;
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;
}

/**
 * A layer's parameters in checkpoint order: W (decayed), b, then its BN's
 * gamma and beta (not decayed). The names are what checkpoints store, so they
 * never change.
 */
export function layerParameters(layer: Weighted, bn: Normalised | null = null): Parameter[] {
  const params: Parameter[] = [{ name: `${layer.name}/W`, variable: layer.w, decay: true }];
  if (layer.b) params.push({ name: `${layer.name}/b`, variable: layer.b, decay: false });
  if (bn) params.push({ name: `${bn.name}/gamma`, variable: bn.gamma, decay: false }, { name: `${bn.name}/beta`, variable: bn.beta, decay: false });
  return params;
}
