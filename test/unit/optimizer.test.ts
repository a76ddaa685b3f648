/** SGD with momentum and L2 weight decay against a float64 reference of TensorFlow's update rule. */
import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { OptimizerSchema } from '../../src/config/schema';
import { hasSgdUpdate } from '../../src/kernels/sgd-update';
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
  assert.deepEqual(
    sgd.state.map((s) => s.name),
    ['W/velocity', 'b/velocity'],
  );
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

/**
 * On wasm the update runs as one fused kernel per parameter
 * (src/kernels/sgd-update.ts); it must give the op-built update (what the cpu
 * backend runs) to the last bit, over many steps, with and without momentum
 * and decay, on values of mixed magnitudes.
 */
it('the fused wasm update is bit-identical to the op-built update on cpu', async () => {
  await import('@tensorflow/tfjs-backend-wasm');
  let seed = 12345;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed / 2 ** 32 - 0.5) * 2 ** Math.round((seed % 17) - 8);
  };
  const shapes = [[37, 11], [5], [3, 3, 4, 6]];
  const init = shapes.map((s) => Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, rand));
  const gradsPerStep = Array.from({ length: 6 }, () => init.map((a) => Float32Array.from({ length: a.length }, rand)));
  for (const opt of [
    { momentum: 0.9, weightDecay: 4e-5 },
    { momentum: 0, weightDecay: 0 },
    { momentum: 0.5, weightDecay: 0 },
    { momentum: 0, weightDecay: 0.01 },
  ]) {
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const cfg = OptimizerSchema.parse({ learningRate: 0.05, ...opt });
      const params = init.map((a, i) => ({ name: `p${i}`, variable: tf.variable(tf.tensor(a, shapes[i])), decay: i !== 1 }));
      const sgd = new Sgd(cfg, params);
      for (const [k, gs] of gradsPerStep.entries()) {
        tf.tidy(() => sgd.apply(Object.fromEntries(params.map((p, i) => [p.variable.name, tf.tensor(gs[i], shapes[i])])), 0.05 * 0.96 ** k));
      }
      const out = [...params.map((p) => p.variable), ...sgd.state.map((s) => s.variable)].map(
        (v) => new Uint32Array((v.dataSync() as Float32Array).slice().buffer),
      );
      tf.dispose([...params.map((p) => p.variable), ...sgd.state.map((s) => s.variable)]);
      return out;
    };
    const cpu = await run('cpu');
    await tf.setBackend('wasm');
    assert.ok(hasSgdUpdate(), 'the fused kernel is registered for wasm');
    const wasm = await run('wasm');
    assert.equal(wasm.length, cpu.length);
    wasm.forEach((bits, i) => assert.deepEqual(bits, cpu[i], `${JSON.stringify(opt)}: tensor ${i} differs`));
  }
});
