/**
 * Mini-batches drawn from one resident tensor: the whole training set lives on
 * the backend once, and each step gathers its rows by index, so no batch is
 * copied through JavaScript. The order is reshuffled every epoch from the seed.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng';
import { Split } from './mnist';

export interface Batch {
  x: tf.Tensor2D;
  /** One-hot labels. */
  y: tf.Tensor2D;
}

/** A split uploaded to the backend once: pixels, one-hot labels, and the labels on the host for scoring. */
export interface ResidentSplit extends Batch {
  labels: Int32Array;
  n: number;
}

export function upload(split: Split, classes: number): ResidentSplit {
  return tf.tidy(() => ({
    x: tf.tensor2d(split.images, [split.n, split.images.length / split.n]),
    y: tf.oneHot(tf.tensor1d(split.labels, 'int32'), classes).toFloat() as tf.Tensor2D,
    labels: split.labels,
    n: split.n,
  }));
}

/** Where the batcher is in its data order: enough to resume it exactly. */
export interface BatcherState {
  epoch: number;
  position: number;
  rng: number;
}

export class Batcher {
  private order: Int32Array;
  private epoch = 0;
  private position = 0;
  /** The generator as it was before this epoch's shuffle, so the order can be rebuilt. */
  private epochRng: number;

  constructor(
    private readonly data: ResidentSplit,
    private readonly batchSize: number,
    private rng: Rng,
  ) {
    if (batchSize > data.n) throw new RangeError(`batch size ${batchSize} exceeds the ${data.n} training examples`);
    this.epochRng = rng.snapshot;
    this.order = rng.permutation(data.n);
  }

  /** The next batch; an epoch ends when fewer than batchSize examples are left (they are dropped). */
  next(): Batch {
    if (this.position + this.batchSize > this.order.length) {
      this.epoch += 1;
      this.position = 0;
      this.epochRng = this.rng.snapshot;
      this.order = this.rng.permutation(this.order.length);
    }
    const idx = this.order.subarray(this.position, this.position + this.batchSize);
    this.position += this.batchSize;
    return tf.tidy(() => {
      const i = tf.tensor1d(idx, 'int32');
      return { x: tf.gather(this.data.x, i), y: tf.gather(this.data.y, i) };
    });
  }

  get state(): BatcherState {
    return { epoch: this.epoch, position: this.position, rng: this.epochRng };
  }

  restore(s: BatcherState): void {
    this.rng = Rng.restore(s.rng);
    this.order = this.rng.permutation(this.order.length);
    this.epoch = s.epoch;
    this.position = s.position;
  }
}
