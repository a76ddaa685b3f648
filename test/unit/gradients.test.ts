/**
 * The matMul gradient override (src/kernels/gradients.ts) gives the same
 * gradients as the stock formula, for every transpose combination, on wasm
 * (bnrun's GEMM, src/kernels/wasm-matmul.ts) and cpu, against a float64 reference.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerKernels } from '../../src/kernels/register';
import { Rng } from '../../src/rng';

registerKernels();

type Mat = number[][];
const T = (a: Mat): Mat => a[0].map((_, j) => a.map((row) => row[j]));
const mul = (a: Mat, b: Mat): Mat => a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
const random = (rng: Rng, r: number, c: number): Mat => Array.from({ length: r }, () => Array.from({ length: c }, () => rng.normal()));

function close(actual: Mat, expected: Mat, what: string): void {
  expected.forEach((row, i) =>
    row.forEach((e, j) => {
      // float32 products of ~10 terms of unit size: relative 1e-5 is ample.
      assert.ok(Math.abs(actual[i][j] - e) <= 1e-4 * (1 + Math.abs(e)), `${what}[${i}][${j}]: ${actual[i][j]} vs ${e}`);
    }),
  );
}

for (const backend of ['wasm', 'cpu']) {
  describe(`matMul gradient on ${backend}`, () => {
    for (const [ta, tb] of [
      [false, false],
      [false, true],
      [true, false],
      [true, true],
    ]) {
      it(`transposeA=${ta} transposeB=${tb}`, async () => {
        await tf.setBackend(backend);
        const rng = new Rng(ta ? (tb ? 4 : 3) : tb ? 2 : 1);
        const [m, k, n] = [5, 7, 3];
        // op(a) is m x k, op(b) is k x n.
        const A = random(rng, m, k);
        const B = random(rng, k, n);
        const R = random(rng, m, n); // loss = sum(C * R), so dL/dC = R
        const a = tf.tensor2d(ta ? T(A) : A);
        const b = tf.tensor2d(tb ? T(B) : B);
        const r = tf.tensor2d(R);
        const [da, db] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D, ta, tb), r)))([a, b]);
        const dA = mul(R, T(B)); // dL/d op(a)
        const dB = mul(T(A), R); // dL/d op(b)
        close(da.arraySync() as Mat, ta ? T(dA) : dA, 'dL/da');
        close(db.arraySync() as Mat, tb ? T(dB) : dB, 'dL/db');
        tf.dispose([a, b, r, da, db]);
      });
    }
  });
}
