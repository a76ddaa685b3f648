/**
 * The sigmoid's gradient as one wasm kernel (src/kernels/sigmoid-grad.ts)
 * must equal tfjs's dy * (y * (1 - y)) on the cpu backend to the last bit.
 */
import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerKernels } from '../../src/kernels/register';
import { SIGMOID_GRAD } from '../../src/kernels/sigmoid-grad';

it('the fused sigmoid gradient on wasm is bit-identical to the op-built gradient on cpu', async () => {
  registerKernels();
  let s = 99;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5) * 2 ** ((s % 13) - 4);
  const x = Float32Array.from({ length: 60 * 100 }, rand);
  const dy = Float32Array.from({ length: 60 * 100 }, rand);
  const run = async (backend: string) => {
    assert.ok(await tf.setBackend(backend));
    const profile = await tf.profile(() => {
      tf.tidy(() => {
        const g = tf.grad((t: tf.Tensor) => tf.sigmoid(t))(tf.tensor2d(x, [60, 100]), tf.tensor2d(dy, [60, 100]));
        out = g.dataSync().slice() as Float32Array;
      });
    });
    return { grad: out, kernels: profile.kernels.map((k) => k.name) };
  };
  let out: Float32Array = new Float32Array(0);
  const cpu = await run('cpu');
  // The wasm sigmoid itself may differ from cpu's in the last bit; the gradient is a function of y,
  // so compare it with the formula applied to wasm's own y on cpu.
  const wasm = await run('wasm');
  assert.ok(wasm.kernels.includes(SIGMOID_GRAD) && !cpu.kernels.includes(SIGMOID_GRAD));
  await tf.setBackend('wasm');
  const yWasm = tf.tidy(() =>
    tf
      .sigmoid(tf.tensor2d(x, [60, 100]))
      .dataSync()
      .slice(),
  );
  await tf.setBackend('cpu');
  const want = tf.tidy(() => {
    const y = tf.tensor2d(yWasm, [60, 100]);
    return tf
      .mul(tf.tensor2d(dy, [60, 100]), tf.mul(y, tf.sub(tf.scalar(1), y)))
      .dataSync()
      .slice();
  });
  let differ = 0;
  for (let i = 0; i < want.length; i++) if (!Object.is(want[i], wasm.grad[i])) differ++;
  assert.equal(differ, 0, `${differ} of ${want.length} entries differ`);
});
