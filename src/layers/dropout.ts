/**
 * Inverted dropout: in training each unit is kept with probability 1 - rate
 * and scaled by 1/(1 - rate), so inference is the identity. The mask comes
 * from the run's own generator (src/rng.ts), so a seed gives the same masks on
 * every backend.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng';

export class Dropout {
  constructor(
    readonly rate: number,
    private rng: Rng,
  ) {
    if (!(rate >= 0 && rate < 1)) throw new Error(`dropout rate must be in [0, 1), got ${rate}`);
  }

  apply(x: tf.Tensor, training: boolean): tf.Tensor {
    if (!training || this.rate === 0) return x;
    const keep = 1 - this.rate;
    const mask = new Float32Array(x.size);
    for (let i = 0; i < mask.length; i++) mask[i] = this.rng.next() < keep ? 1 / keep : 0;
    return tf.mul(x, tf.tensor(mask, x.shape));
  }

  /** The generator state, for checkpoints. */
  get rngState(): number {
    return this.rng.snapshot;
  }

  set rngState(state: number) {
    this.rng = Rng.restore(state);
  }
}
