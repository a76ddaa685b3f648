/**
 * The fused loss kernel (src/kernels/softmax-xent.ts) against what it
 * replaces, tf.losses.softmaxCrossEntropy on the cpu backend, and against a
 * float64 reference. The kernel works in float64 and rounds once, so it is
 * closer to float64 than tfjs's float32 op: the fused loss within 1e-6
 * relative and its gradient within 1e-6 of max |gradient| of float64; tfjs's
 * op within 1e-5 (its float32 log-sum-exp, subtracted from logits of up to
 * +-40 and exponentiated, loses about 2e-6 of max |gradient| here), and the
 * two within 1e-5 of each other.
 */
import { strict as assert } from 'node:assert';
import { it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerKernels } from '../../src/kernels/register';
import { SOFTMAX_XENT } from '../../src/kernels/softmax-xent';
import { crossEntropy } from '../../src/train/step';

function maxError(a: ArrayLike<number>, b: ArrayLike<number>): { err: number; scale: number } {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { err, scale };
}

/** Logits of mixed magnitudes (up to +-40: exp would overflow float32 without the max shift) and one-hot labels. */
function batch(m: number, k: number, seed: number): { logits: Float32Array; labels: Float32Array } {
  let s = seed;
  const rand = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const logits = Float32Array.from({ length: m * k }, (_, i) => (rand() - 0.5) * (i % 3 === 0 ? 80 : 6));
  const labels = new Float32Array(m * k);
  for (let r = 0; r < m; r++) labels[r * k + Math.floor(rand() * k)] = 1;
  return { logits, labels };
}

/** Loss and gradient in float64. */
function reference64(logits: Float32Array, labels: Float32Array, k: number): { loss: number; grad: number[] } {
  const m = logits.length / k;
  let loss = 0;
  const grad: number[] = [];
  for (let r = 0; r < m; r++) {
    const row = Array.from(logits.subarray(r * k, r * k + k));
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    row.forEach((v, j) => {
      loss += labels[r * k + j] * (lse - v);
      grad.push((Math.exp(v - lse) - labels[r * k + j]) / m);
    });
  }
  return { loss: loss / m, grad };
}

async function lossAndGrad(backend: string, logits: Float32Array, labels: Float32Array, shape: [number, number]) {
  assert.ok(await tf.setBackend(backend));
  const l = tf.tensor2d(logits, shape);
  const y = tf.tensor2d(labels, shape);
  let out: { loss: number; grad: Float32Array } = { loss: 0, grad: new Float32Array(0) };
  const profile = await tf.profile(() => {
    const { value, grad } = tf.tidy(() => {
      const g = tf.valueAndGrad((x: tf.Tensor) => crossEntropy(x as tf.Tensor2D, y))(l);
      return { value: g.value.dataSync()[0], grad: g.grad.dataSync().slice() as Float32Array };
    });
    out = { loss: value, grad };
  });
  const kernels = profile.kernels.map((k) => k.name);
  tf.dispose([l, y]);
  return { ...out, kernels };
}

it('the fused softmax cross-entropy (wasm) matches tf.losses.softmaxCrossEntropy (cpu) and float64: loss and dloss/dlogits', async () => {
  registerKernels();
  for (const [m, k] of [
    [60, 10],
    [7, 3],
    [1, 10],
  ] as [number, number][]) {
    const { logits, labels } = batch(m, k, m * 31 + k);
    const ops = await lossAndGrad('cpu', logits, labels, [m, k]);
    const fused = await lossAndGrad('wasm', logits, labels, [m, k]);
    const ref = reference64(logits, labels, k);
    assert.ok(!ops.kernels.includes(SOFTMAX_XENT) && fused.kernels.includes(SOFTMAX_XENT), 'wasm runs the fused kernel, cpu the op');
    for (const [name, got, tol] of [
      ['fused', fused, 1e-6],
      ['tfjs op', ops, 1e-5],
    ] as const) {
      assert.ok(Math.abs(got.loss - ref.loss) <= tol * ref.loss, `[${m}, ${k}] ${name} loss ${got.loss} vs float64 ${ref.loss}`);
      const { err, scale } = maxError(got.grad, ref.grad);
      assert.ok(err <= tol * scale, `[${m}, ${k}] ${name} gradient error ${err} > ${tol} * ${scale}`);
    }
    const { err, scale } = maxError(fused.grad, ops.grad);
    assert.ok(err <= 1e-5 * scale, `[${m}, ${k}] fused vs op gradient ${err}`);
  }
});
