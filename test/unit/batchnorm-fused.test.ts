/**
 * The fused BN kernels (src/kernels/batchnorm-fused.ts) against the code they
 * replace: BatchNorm's op-built transform (src/layers/batchnorm.ts) run on the
 * cpu backend, the float32 reference. test/unit/batchnorm.test.ts checks both
 * against float64 Algorithm 1 on each backend; this file checks that wasm
 * really runs the two kernels, and that they agree with the op-built path
 * more tightly than float64 does.
 *
 * Tolerance: the fused kernels sum in float64, the op-built path sums m
 * float32 terms, so they differ by the float32 rounding of an m-term sum,
 * below m*u ~ 4e-6 relative for m <= 60 (u = 2^-24) and about sqrt(m)*u in
 * practice. Each output is compared normwise: max |fused - ops| <= 1e-5 *
 * max |ops| (m >= 8 here; at m = 2 dl/dx cancels to far below its terms).
 * Moving averages are one float32 multiply-add per channel: the same bound.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { BN_BACKWARD, BN_FORWARD, bnBackwardInto, bnForwardInto } from '../../src/kernels/batchnorm-fused';
import { registerKernels } from '../../src/kernels/register';
import { BatchNorm } from '../../src/layers/batchnorm';

const TOL = 1e-5;

/** A seeded input with a per-channel offset and spread, float32 values. */
function data(n: number, seed: number, offset = 0, spread = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, (_, k) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return offset * ((k % 7) - 3) + spread * (s / 2 ** 32 - 0.5) * (1 + (k % 5));
  });
}

function assertNormwise(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = TOL): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    assert.ok(Number.isFinite(got[i]), `${what}[${i}] = ${got[i]}`);
    err = Math.max(err, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  assert.ok(err <= tol * scale, `${what}: max error ${err.toExponential(2)} > ${tol} * ${scale.toExponential(2)}`);
}

interface Result {
  y: Float32Array;
  dx: Float32Array;
  dgamma: Float32Array;
  dbeta: Float32Array;
  movingMean: Float32Array;
  movingVariance: Float32Array;
  kernels: string[];
}

/** One training forward + backward of a BN layer on `backend`, with the kernels it launched. */
async function trainOnce(backend: string, shape: number[], seed: number): Promise<Result> {
  assert.ok(await tf.setBackend(backend));
  const c = shape[shape.length - 1];
  const size = shape.reduce((a, b) => a * b, 1);
  const bn = new BatchNorm('bn', c, 1e-3, 0.9);
  bn.gamma.assign(tf.tensor1d(data(c, seed + 1, 1, 0.5).map((v) => 1 + v)));
  bn.beta.assign(tf.tensor1d(data(c, seed + 2, 0.5)));
  bn.movingMean.assign(tf.tensor1d(data(c, seed + 3)));
  const x = tf.variable(tf.tensor(data(size, seed, 2, 3), shape), true);
  const r = tf.tensor(data(size, seed + 4), shape);
  let y: tf.Tensor | null = null;
  let grads: tf.NamedTensorMap = {};
  const profile = await tf.profile(() => {
    grads = tf.variableGrads(() => {
      y = tf.keep(bn.apply(x, 'train'));
      return tf.sum(tf.mul(y, r));
    }, [x, bn.gamma, bn.beta]).grads;
  });
  if (!y) throw new Error('no forward');
  const [dx, dgamma, dbeta] = [grads[x.name], grads[bn.gamma.name], grads[bn.beta.name]];
  const moving = [bn.movingMean.dataSync().slice() as Float32Array, bn.movingVariance.dataSync().slice() as Float32Array];
  const result: Result = {
    y: (y as tf.Tensor).dataSync().slice() as Float32Array,
    dx: dx.dataSync().slice() as Float32Array,
    dgamma: dgamma.dataSync().slice() as Float32Array,
    dbeta: dbeta.dataSync().slice() as Float32Array,
    movingMean: moving[0],
    movingVariance: moving[1],
    kernels: profile.kernels.map((k) => k.name),
  };
  tf.dispose([x, r, y, dx, dgamma, dbeta, bn.gamma, bn.beta, ...bn.statistics]);
  return result;
}

describe('fused BN kernels (wasm) against the op-built transform (cpu)', () => {
  for (const shape of [
    [60, 100],
    [8, 5],
    [16, 6, 6, 8],
    [3, 7, 7, 32],
  ]) {
    it(`${JSON.stringify(shape)}: y, dl/dx, dl/dgamma, dl/dbeta and the moving averages agree within ${TOL} normwise`, async () => {
      registerKernels();
      const ops = await trainOnce('cpu', shape, shape.length * 100 + shape[0]);
      const fused = await trainOnce('wasm', shape, shape.length * 100 + shape[0]);
      assert.ok(!ops.kernels.includes(BN_FORWARD), 'cpu runs the op-built transform');
      assert.equal(fused.kernels.filter((k) => k === BN_FORWARD).length, 1, 'wasm runs the forward kernel once');
      assert.equal(fused.kernels.filter((k) => k === BN_BACKWARD).length, 1, 'wasm runs the backward kernel once');
      for (const k of ['y', 'dx', 'dgamma', 'dbeta', 'movingMean', 'movingVariance'] as const) assertNormwise(fused[k], ops[k], k);
    });
  }
});

describe('the fused kernels on plain arrays', () => {
  it('forward: y = gamma xhat + beta with xhat standardised per channel (biased variance), moving averages blended', () => {
    const c = 3;
    const x = Float32Array.from([1, 10, -2, 3, 10, 2, 5, 10, 0, 7, 10, 4]); // m = 4; channel 1 is constant
    const gamma = Float32Array.from([2, 1, 0.5]);
    const beta = Float32Array.from([1, -1, 0]);
    const o = {
      y: new Float32Array(12),
      xhat: new Float32Array(12),
      invStd: new Float32Array(c),
      movingMean: new Float32Array(c),
      movingVariance: new Float32Array(c),
    };
    bnForwardInto(o, x, gamma, beta, Float32Array.from([0, 0, 0]), Float32Array.from([1, 1, 1]), { epsilon: 1e-3, decay: 0.9 });
    // channel 0: mu 4, sigma2 (9+1+1+9)/4 = 5; channel 2: mu 1, sigma2 (9+1+1+9)/4 = 5; channel 1: mu 10, sigma2 0
    const inv = 1 / Math.sqrt(5.001);
    assertNormwise(o.invStd, [inv, 1 / Math.sqrt(0.001), inv], 'invStd', 1e-7);
    assertNormwise(
      Array.from(o.xhat).filter((_, k) => k % c === 0),
      [-3, -1, 1, 3].map((d) => d * inv),
      'xhat',
      1e-7,
    );
    assertNormwise(
      Array.from(o.y).filter((_, k) => k % c === 1),
      [-1, -1, -1, -1],
      'y of the constant channel',
      1e-7,
    );
    assertNormwise(o.movingMean, [0.4, 1, 0.1], 'moving mean', 1e-6);
    assertNormwise(o.movingVariance, [0.9 + 0.5, 0.9, 0.9 + 0.5], 'moving variance', 1e-6);
  });

  it('backward: the compact formula equals the paper chain rule (float64) on a small case', () => {
    const c = 2;
    const m = 5;
    const xhat = Float32Array.from(data(m * c, 7));
    const dy = Float32Array.from(data(m * c, 8));
    const invStd = Float32Array.from([0.7, 2.5]);
    const gamma = Float32Array.from([1.5, -0.3]);
    const dx = new Float32Array(m * c);
    const dgamma = new Float32Array(c);
    const dbeta = new Float32Array(c);
    bnBackwardInto(dx, dgamma, dbeta, dy, xhat, invStd, gamma);
    for (let j = 0; j < c; j++) {
      // The paper: dl/dsigma2 = sum dxhat (x - mu) (-1/2) (s2+eps)^-3/2, dl/dmu = sum dxhat (-invStd), dl/dx = dxhat invStd + dsigma2 2(x - mu)/m + dmu/m.
      let dsigma2 = 0;
      let dmu = 0;
      let db = 0;
      let dg = 0;
      for (let i = 0; i < m; i++) {
        const k = i * c + j;
        const xc = xhat[k] / invStd[j];
        dsigma2 += dy[k] * gamma[j] * xc * -0.5 * invStd[j] ** 3;
        dmu += dy[k] * gamma[j] * -invStd[j];
        db += dy[k];
        dg += dy[k] * xhat[k];
      }
      const want = Array.from({ length: m }, (_, i) => dy[i * c + j] * gamma[j] * invStd[j] + (dsigma2 * 2 * xhat[i * c + j]) / invStd[j] / m + dmu / m);
      assertNormwise(
        Array.from({ length: m }, (_, i) => dx[i * c + j]),
        want,
        `dx channel ${j}`,
        1e-6,
      );
      assertNormwise([dgamma[j], dbeta[j]], [dg, db], `dgamma, dbeta channel ${j}`, 1e-6);
    }
  });
});

describe('the SIMD path (C a multiple of 4) against the JavaScript loops', () => {
  for (const shape of [
    [60, 100],
    [16, 6, 6, 8],
    [3, 7, 7, 32],
  ]) {
    it(`${JSON.stringify(shape)}: forward and backward outputs match to the last bit`, async () => {
      assert.ok(await tf.setBackend('wasm'));
      registerKernels();
      const c = shape[shape.length - 1];
      const size = shape.reduce((a, b) => a * b, 1);
      const x = data(size, 5, 2, 3);
      const gamma = Float32Array.from(data(c, 6, 1, 0.5), (v) => 1 + v);
      const beta = data(c, 7, 0.5);
      const mm = data(c, 8);
      const mv = Float32Array.from(data(c, 9), (v) => 1 + Math.abs(v));
      const dy = data(size, 10);
      const attrs = { epsilon: 1e-3, decay: 0.9 };
      const [simdFwd, simdBwd] = tf.tidy(() => {
        const outs = tf
          .engine()
          .runKernel(
            BN_FORWARD,
            { x: tf.tensor(x, shape), gamma: tf.tensor1d(gamma), beta: tf.tensor1d(beta), movingMean: tf.tensor1d(mm), movingVariance: tf.tensor1d(mv) },
            attrs as unknown as tf.NamedAttrMap,
          ) as tf.Tensor[];
        const grads = tf
          .engine()
          .runKernel(BN_BACKWARD, { dy: tf.tensor(dy, shape), xhat: outs[1], invStd: outs[2], gamma: tf.tensor1d(gamma) }) as tf.Tensor[];
        return [outs.map((t) => t.dataSync() as Float32Array), grads.map((t) => t.dataSync() as Float32Array)];
      });
      const o = {
        y: new Float32Array(size),
        xhat: new Float32Array(size),
        invStd: new Float32Array(c),
        movingMean: new Float32Array(c),
        movingVariance: new Float32Array(c),
      };
      bnForwardInto(o, x, gamma, beta, mm, mv, attrs);
      const bits = (a: Float32Array) => Array.from(new Uint32Array(Float32Array.from(a).buffer));
      [o.y, o.xhat, o.invStd, o.movingMean, o.movingVariance].forEach((want, i) => assert.deepEqual(bits(simdFwd[i]), bits(want), `forward output ${i}`));
      const dx = new Float32Array(size);
      const dgamma = new Float32Array(c);
      const dbeta = new Float32Array(c);
      bnBackwardInto(dx, dgamma, dbeta, dy, o.xhat, o.invStd, gamma);
      [dx, dgamma, dbeta].forEach((want, i) => assert.deepEqual(bits(simdBwd[i]), bits(want), `backward output ${i}`));
    });
  }
});
