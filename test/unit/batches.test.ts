/** The batcher's data order survives any number of checkpoint/restore cycles, across epoch boundaries. */
import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Batcher } from '../../src/data/batches';
import { Split } from '../../src/data/mnist';
import { Rng } from '../../src/rng';

// Ten one-pixel examples whose pixel is their index, so a batch shows which examples it took.
const split: Split = { images: Float32Array.from({ length: 10 }, (_, i) => i), labels: new Int32Array(10), n: 10 };

function take(b: Batcher, steps: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    const { x, y } = b.next();
    out.push(...Array.from(x.dataSync()));
    tf.dispose([x, y]);
  }
  return out;
}

it('restoring twice within an epoch and across epochs replays the uninterrupted order', async () => {
  await tf.setBackend('cpu');
  const reference = take(new Batcher(split, 2, new Rng(7), 1), 20);
  let b = new Batcher(split, 2, new Rng(7), 1);
  const got = take(b, 6);
  for (const steps of [1, 1, 4, 8]) {
    const state = b.state;
    b = new Batcher(split, 2, new Rng(999), 1);
    b.restore(state);
    got.push(...take(b, steps));
  }
  assert.deepEqual(got, reference);
});
