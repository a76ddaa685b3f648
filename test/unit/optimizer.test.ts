/** SGD with momentum and L2 weight decay against a float64 reference of TensorFlow's update rule. */
import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { OptimizerSchema } from '../../src/config/schema';
import { Sgd } from '../../src/train/optimizer';

it('momentum and weight decay follow v = mu v + g + lambda w; w -= lr v (decay on weights only)', async () => {
  await tf.setBackend('cpu');
  const cfg = OptimizerSchema.parse({ learningRate: 0.1, momentum: 0.9, weightDecay: 0.01 });
  const w = tf.variable(tf.tensor1d([1, -2, 3]));
  const b = tf.variable(tf.tensor1d([0.5, -0.5]));
  const sgd = new Sgd(cfg, [
    { name: 'W', variable: w, decay: true },
    { name: 'b', variable: b, decay: false },
  ]);
  const grads = [
    { w: [0.1, 0.2, -0.3], b: [1, 2] },
    { w: [-0.4, 0.0, 0.25], b: [-1, 0.5] },
    { w: [0.3, -0.1, 0.05], b: [0.2, 0.2] },
  ];
  // float64 reference
  let rw = [1, -2, 3];
  let rb = [0.5, -0.5];
  let vw = [0, 0, 0];
  let vb = [0, 0];
  for (const g of grads) {
    tf.tidy(() => sgd.apply({ [w.name]: tf.tensor1d(g.w), [b.name]: tf.tensor1d(g.b) }, 0.1));
    vw = vw.map((v, i) => 0.9 * v + g.w[i] + 0.01 * rw[i]);
    vb = vb.map((v, i) => 0.9 * v + g.b[i]);
    rw = rw.map((x, i) => x - 0.1 * vw[i]);
    rb = rb.map((x, i) => x - 0.1 * vb[i]);
  }
  const close = (a: number[], e: number[]) => e.forEach((x, i) => assert.ok(Math.abs(a[i] - x) < 1e-6, `${a[i]} vs ${x}`));
  close(Array.from(w.dataSync()), rw);
  close(Array.from(b.dataSync()), rb);
  assert.deepEqual(sgd.state.map((s) => s.name), ['W/velocity', 'b/velocity']);
  close(Array.from(sgd.state[0].variable.dataSync()), vw);
});

it('momentum 0 keeps no velocity state and is plain SGD', async () => {
  await tf.setBackend('cpu');
  const w = tf.variable(tf.tensor1d([1, 2]));
  const sgd = new Sgd(OptimizerSchema.parse({ learningRate: 0.5 }), [{ name: 'W', variable: w, decay: true }]);
  tf.tidy(() => sgd.apply({ [w.name]: tf.tensor1d([0.2, -0.4]) }, 0.5));
  assert.deepEqual(Array.from(w.dataSync()), [Math.fround(1 - 0.5 * 0.2), Math.fround(2 + 0.5 * 0.4)]);
  assert.equal(sgd.state.length, 0);
});
