/**
 * bnrun's BatchMatMul on wasm (src/kernels/wasm-matmul.ts, the `gemm` of
 * src/kernels/simd/kernels.wat) against its exact float32 specification:
 * C(i, j) = (((0 + A(i,0) B(0,j)) + A(i,1) B(1,j)) + ...) with every product
 * and sum rounded to float32. That order is the same in the 4x8 tiles and in
 * the edge rows and columns, so the result must match to the last bit for
 * every shape (tiles, edges, both) and every transpose flag. The cpu
 * backend's product (float64 sums) agrees to float32 rounding.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerKernels } from '../../src/kernels/register';

function data(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 4;
  });
}

/** The specification, on op(a) [m, k] and op(b) [k, n] given as element getters. */
function reference(m: number, k: number, n: number, a: (i: number, p: number) => number, b: (p: number, j: number) => number): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s = Math.fround(s + Math.fround(a(i, p) * b(p, j)));
      c[i * n + j] = s;
    }
  }
  return c;
}

describe('BatchMatMul on wasm: bnrun GEMM, bit-exact against sequential float32 sums', () => {
  // [m, k, n]: whole 4x8 tiles, edge rows and columns, a single element, the MLP's and a conv gradient's shapes.
  const shapes = [
    [8, 16, 16],
    [5, 3, 7],
    [9, 13, 17],
    [1, 1, 1],
    [3, 5, 2],
    [60, 784, 100],
    [100, 60, 10],
    [200, 37, 12],
  ];
  for (const [m, k, n] of shapes) {
    it(`[${m}, ${k}] x [${k}, ${n}], all four transpose flags`, async () => {
      await tf.setBackend('wasm');
      registerKernels();
      for (const ta of [false, true]) {
        for (const tb of [false, true]) {
          const av = data(m * k, m * 7 + k);
          const bv = data(k * n, n * 11 + k);
          const want = reference(
            m,
            k,
            n,
            (i, p) => (ta ? av[p * m + i] : av[i * k + p]),
            (p, j) => (tb ? bv[j * k + p] : bv[p * n + j]),
          );
          const got = tf.tidy(() => tf.matMul(tf.tensor2d(av, ta ? [k, m] : [m, k]), tf.tensor2d(bv, tb ? [n, k] : [k, n]), ta, tb).dataSync());
          assert.deepEqual(new Uint32Array(Float32Array.from(got).buffer), new Uint32Array(want.buffer), `transposeA=${ta} transposeB=${tb}`);
        }
      }
    });
  }

  it('a batch of one matrix keeps its rank; larger batches go to the stock kernel and agree', async () => {
    await tf.setBackend('wasm');
    registerKernels();
    const a = data(2 * 6 * 5, 1);
    const b = data(2 * 5 * 9, 2);
    const one = tf.tidy(() => tf.matMul(tf.tensor3d(a.slice(0, 30), [1, 6, 5]), tf.tensor3d(b.slice(0, 45), [1, 5, 9])));
    assert.deepEqual(one.shape, [1, 6, 9]);
    const want = reference(
      6,
      5,
      9,
      (i, p) => a[i * 5 + p],
      (p, j) => b[p * 9 + j],
    );
    assert.deepEqual(Array.from(one.dataSync()), Array.from(want));
    one.dispose();
    const two = tf.tidy(() => tf.matMul(tf.tensor3d(a, [2, 6, 5]), tf.tensor3d(b, [2, 5, 9])).dataSync());
    for (let batch = 0; batch < 2; batch++) {
      const ref = reference(
        6,
        5,
        9,
        (i, p) => a[batch * 30 + i * 5 + p],
        (p, j) => b[batch * 45 + p * 9 + j],
      );
      ref.forEach((v, i) => assert.ok(Math.abs(two[batch * 54 + i] - v) <= 1e-5 * (1 + Math.abs(v)), `batch ${batch}[${i}]`));
    }
  });
});
