/**
 * Numerical tests of the BN layer (src/layers/batchnorm.ts) against an
 * independent float64 reference written in this file with plain number arrays
 * (no tfjs): the transform and its chain rule (paper section 1, Algorithm 1),
 * the population statistics and the inference map (Algorithm 2), the moving
 * averages, and the scale invariance of section 3.3 through a bias-free Dense.
 *
 * Every tfjs check runs on 'cpu' (the float32 reference backend) and on
 * 'wasm' (the production backend).
 *
 * Tolerances. tfjs computes in float32, unit roundoff u = 2^-24 ~ 6e-8. The
 * inputs handed to tfjs are float32-rounded first (Math.fround) and the
 * reference works on exactly those values in float64, so the only difference
 * is float32 arithmetic inside tfjs. A mean or variance over m' <= 60 values
 * summed naively has a relative error below m'*u ~ 4e-6 (worst case; about
 * sqrt(m')*u in practice), and the remaining steps (rsqrt, mul, add) add a few
 * u. So rel 1e-4 leaves a margin of > 20x over the worst case while still being
 * ~1000x tighter than any real error (a wrong eps, a biased/unbiased swap at
 * m = 60 is 1.7e-2, a missing term in the chain rule is O(1)). abs 1e-5 covers
 * entries whose true value is ~0 (y = gamma*xhat + beta near zero).
 * Where the result is a sum of terms that cancel (dl/dx is three terms that
 * cancel almost exactly for m = 2; x*s + t at inference), float32 error is
 * relative to the largest term, not to the result, so those checks pass that
 * term's magnitude as `scale`: |a - e| <= abs + rel * max(|e|, scale).
 */
import { strict as assert } from 'node:assert';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { BatchNorm } from '../../src/layers/batchnorm';
import { Dense } from '../../src/layers/dense';
import { registerKernels } from '../../src/kernels/register';
import { TestRng } from '../rng';

// As selectBackend does for a run: the layers below then take the gradients training takes.
registerKernels();

const REL = 1e-4;
const ABS = 1e-5;
const EPS = 1e-3; // the config default (src/config/schema.ts)

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/**
 * A BN input: each channel c gets its own offset and spread, so per-channel
 * statistics matter and the mean subtraction really cancels something.
 * Stored row-major with the channel last: element (i, c) is x[i*C + c].
 */
function randomInput(rng: TestRng, shape: readonly number[]): number[] {
  const C = shape[shape.length - 1];
  const offset = Array.from({ length: C }, () => rng.uniform(-3, 3));
  const spread = Array.from({ length: C }, () => rng.uniform(0.3, 3));
  return Array.from({ length: size(shape) }, (_, k) => Math.fround(offset[k % C] + spread[k % C] * rng.normal()));
}

// ---------------------------------------------------------------------------
// The float64 reference: Algorithm 1 and the paper's chain rule, literally.

interface Forward64 {
  y: number[];
  xhat: number[];
  mu: number[];
  sigma2: number[];
}

/** mu_B and the biased sigma2_B per channel over every axis but the last. */
function moments64(x: readonly number[], C: number): { mu: number[]; sigma2: number[] } {
  const m = x.length / C;
  const mu = new Array<number>(C).fill(0);
  const sigma2 = new Array<number>(C).fill(0);
  for (let k = 0; k < x.length; k++) mu[k % C] += x[k];
  for (let c = 0; c < C; c++) mu[c] /= m;
  for (let k = 0; k < x.length; k++) sigma2[k % C] += (x[k] - mu[k % C]) ** 2;
  for (let c = 0; c < C; c++) sigma2[c] /= m;
  return { mu, sigma2 };
}

function bnForward64(x: readonly number[], C: number, gamma: readonly number[], beta: readonly number[], eps: number): Forward64 {
  const { mu, sigma2 } = moments64(x, C);
  const xhat = x.map((v, k) => (v - mu[k % C]) / Math.sqrt(sigma2[k % C] + eps));
  const y = xhat.map((v, k) => gamma[k % C] * v + beta[k % C]);
  return { y, xhat, mu, sigma2 };
}

interface Backward64 {
  dx: number[];
  dgamma: number[];
  dbeta: number[];
  /** Per element, the magnitude of dl/dx_i's largest term, dl/dxhat_i / sqrt(sigma2_B + eps). */
  dxScale: number[];
}

/** The paper's chain rule (section 3 of the paper, paper.md section 1), channel by channel. */
function bnBackward64(x: readonly number[], C: number, gamma: readonly number[], eps: number, dy: readonly number[]): Backward64 {
  const m = x.length / C;
  const { mu, sigma2, xhat } = bnForward64(x, C, gamma, new Array<number>(C).fill(0), eps);
  const dxhat = dy.map((g, k) => g * gamma[k % C]);
  const dsigma2 = new Array<number>(C).fill(0);
  const dmu = new Array<number>(C).fill(0);
  const dgamma = new Array<number>(C).fill(0);
  const dbeta = new Array<number>(C).fill(0);
  const sumCentred = new Array<number>(C).fill(0);
  for (let k = 0; k < x.length; k++) {
    const c = k % C;
    dsigma2[c] += dxhat[k] * (x[k] - mu[c]) * -0.5 * (sigma2[c] + eps) ** -1.5;
    dmu[c] += dxhat[k] * (-1 / Math.sqrt(sigma2[c] + eps));
    sumCentred[c] += -2 * (x[k] - mu[c]);
    dgamma[c] += dy[k] * xhat[k];
    dbeta[c] += dy[k];
  }
  // The original paper's dl/dmu_B also has dl/dsigma2_B * sum_i -2(x_i - mu_B) / m (zero analytically); kept here.
  for (let c = 0; c < C; c++) dmu[c] += (dsigma2[c] * sumCentred[c]) / m;
  const dx = x.map((v, k) => {
    const c = k % C;
    return dxhat[k] / Math.sqrt(sigma2[c] + eps) + (dsigma2[c] * 2 * (v - mu[c])) / m + dmu[c] / m;
  });
  const dxScale = dxhat.map((g, k) => Math.abs(g) / Math.sqrt(sigma2[k % C] + eps));
  return { dx, dgamma, dbeta, dxScale };
}

/** y_i = gamma xhat_i + beta can cancel: its float32 error is relative to |gamma xhat_i| + |beta|. */
function yScale(f: Forward64, C: number, gamma: readonly number[], beta: readonly number[]): number[] {
  return f.xhat.map((v, k) => Math.abs(gamma[k % C] * v) + Math.abs(beta[k % C]));
}

function loss64(x: readonly number[], C: number, gamma: readonly number[], beta: readonly number[], eps: number, r: readonly number[]): number {
  return bnForward64(x, C, gamma, beta, eps).y.reduce((s, v, k) => s + v * r[k], 0);
}

/** Row-major [n, k] x [k, p] in float64. */
function matMul64(a: readonly number[], b: readonly number[], n: number, k: number, p: number): number[] {
  const out = new Array<number>(n * p).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) for (let l = 0; l < p; l++) out[i * p + l] += a[i * k + j] * b[j * p + l];
  return out;
}

function transpose64(a: readonly number[], rows: number, cols: number): number[] {
  const out = new Array<number>(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j];
  return out;
}

// ---------------------------------------------------------------------------
// Comparison.

interface Tolerance {
  rel: number;
  abs: number;
  /** Magnitude the error is relative to, when it is larger than |expected| (cancellation). */
  scale?: number | readonly number[];
}

function assertClose(actual: ArrayLike<number>, expected: readonly number[], what: string, tol: Tolerance = { rel: REL, abs: ABS }): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < expected.length; i++) {
    const s = tol.scale === undefined ? 0 : typeof tol.scale === 'number' ? tol.scale : tol.scale[i];
    const allowed = tol.abs + tol.rel * Math.max(Math.abs(expected[i]), s);
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= allowed) && (worst < 0 || err / allowed > worstRatio || Number.isNaN(err))) {
      worst = i;
      worstRatio = err / allowed;
    }
  }
  if (worst >= 0) {
    assert.fail(
      `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (error ${Math.abs(actual[worst] - expected[worst]).toExponential(2)}, ${worstRatio.toFixed(1)}x the tolerance)`,
    );
  }
}

const read = (t: tf.Tensor): number[] => Array.from(t.dataSync());

function setVar(v: tf.Variable, values: readonly number[]): void {
  tf.tidy(() => v.assign(tf.tensor(values as number[], v.shape)));
}

/** A BN layer with random gamma (either sign, away from 0) and beta. */
function randomBn(rng: TestRng, C: number, eps = EPS, decay = 0.9): { bn: BatchNorm; gamma: number[]; beta: number[] } {
  const bn = new BatchNorm('bn-test', C, eps, decay);
  const gamma = rng.uniforms(C, 0.5, 2).map((g) => (rng.uniform() < 0.5 ? -g : g));
  const beta = rng.uniforms(C, -2, 2);
  setVar(bn.gamma, gamma);
  setVar(bn.beta, beta);
  return { bn, gamma, beta };
}

function disposeBn(bn: BatchNorm): void {
  tf.dispose([...bn.trainable, ...bn.statistics]);
}

/** [m, C] with m = 2 and 60, and [m, h, w, C] cases (effective m' = m*h*w). */
const SHAPES: readonly (readonly number[])[] = [
  [2, 3],
  [2, 1],
  [60, 7],
  [5, 4, 3, 6],
  [2, 3, 3, 4],
];

// ---------------------------------------------------------------------------
// The reference checked against itself (backend independent).

describe('float64 reference (sanity)', () => {
  it('chain-rule gradients match central finite differences of the float64 forward', () => {
    const rng = new TestRng(101);
    for (const shape of SHAPES) {
      const C = shape[shape.length - 1];
      const n = size(shape);
      const x = randomInput(rng, shape);
      const gamma = rng.uniforms(C, 0.5, 2);
      const beta = rng.uniforms(C, -2, 2);
      const r = rng.normals(n);
      const { dx, dgamma, dbeta } = bnBackward64(x, C, gamma, EPS, r);
      // h = 1e-5: truncation error O(h^2 f''') ~ 1e-9, rounding ~ 1e-16 * |loss| / h ~ 1e-9.
      const h = 1e-5;
      const fd = (f: (d: number) => number): number => (f(h) - f(-h)) / (2 * h);
      const bump = (a: readonly number[], j: number, d: number): number[] => a.map((v, k) => (k === j ? v + d : v));
      const close = (got: number, want: number, what: string) =>
        assert.ok(Math.abs(got - want) <= 1e-6 + 1e-6 * Math.abs(want), `${JSON.stringify(shape)} ${what}: chain rule ${want}, finite difference ${got}`);
      const xEntries = n <= 6 ? Array.from({ length: n }, (_, k) => k) : [0, n - 1, rng.int(n), rng.int(n)];
      for (const j of xEntries)
        close(
          fd((d) => loss64(bump(x, j, d), C, gamma, beta, EPS, r)),
          dx[j],
          `dl/dx[${j}]`,
        );
      for (const c of [0, C - 1]) {
        close(
          fd((d) => loss64(x, C, bump(gamma, c, d), beta, EPS, r)),
          dgamma[c],
          `dl/dgamma[${c}]`,
        );
        close(
          fd((d) => loss64(x, C, gamma, bump(beta, c, d), EPS, r)),
          dbeta[c],
          `dl/dbeta[${c}]`,
        );
      }
    }
  });

  it('the reference forward standardises: per-channel mean 0, biased variance sigma2/(sigma2+eps)', () => {
    const rng = new TestRng(102);
    const x = randomInput(rng, [60, 7]);
    const { xhat, sigma2 } = bnForward64(x, 7, new Array<number>(7).fill(1), new Array<number>(7).fill(0), EPS);
    const m = moments64(xhat, 7);
    for (let c = 0; c < 7; c++) {
      assert.ok(Math.abs(m.mu[c]) < 1e-12);
      assert.ok(Math.abs(m.sigma2[c] - sigma2[c] / (sigma2[c] + EPS)) < 1e-12);
    }
  });
});

// ---------------------------------------------------------------------------
// The layer, on both backends.

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`BatchNorm on the ${backend} backend`, () => {
    before(async () => {
      assert.ok(await tf.setBackend(backend), `tf.setBackend('${backend}') failed`);
      await tf.ready();
      assert.equal(tf.getBackend(), backend);
    });

    it('forward (train) is gamma*(x - mu_B)/sqrt(sigma2_B + eps) + beta with the biased variance', () => {
      const rng = new TestRng(1);
      for (const shape of SHAPES) {
        const C = shape[shape.length - 1];
        const { bn, gamma, beta } = randomBn(rng, C);
        const xData = randomInput(rng, shape);
        const y = tf.tidy(() => read(bn.apply(tf.tensor(xData, shape as number[]), 'train')));
        const f64 = bnForward64(xData, C, gamma, beta, EPS);
        assertClose(y, f64.y, `${JSON.stringify(shape)} y`, { rel: REL, abs: ABS, scale: yScale(f64, C, gamma, beta) });
        disposeBn(bn);
      }
    });

    it('forward (train) uses the biased 1/m variance, not 1/(m-1) (m = 2 and eps large enough to tell)', () => {
      // With m = 2 the two estimates differ by 2x; eps = 1 makes the normaliser depend on it.
      const bn = new BatchNorm('bn-test', 1, 1, 0.9);
      const y = tf.tidy(() => read(bn.apply(tf.tensor2d([[0], [2]]), 'train')));
      // mu = 1, biased sigma2 = 1: xhat = -+1/sqrt(2). The unbiased 2 would give -+1/sqrt(3).
      assertClose(y, [-1 / Math.SQRT2, 1 / Math.SQRT2], 'y');
      disposeBn(bn);
    });

    it('gradients dl/dx, dl/dgamma, dl/dbeta (tf.variableGrads) match the paper chain rule in float64', () => {
      const rng = new TestRng(2);
      for (const shape of SHAPES) {
        const C = shape[shape.length - 1];
        const { bn, gamma, beta } = randomBn(rng, C);
        const xData = randomInput(rng, shape);
        const rData = rng.normals(size(shape));
        const xVar = tf.variable(tf.tensor(xData, shape as number[]), true);
        const got = tf.tidy(() => {
          const r = tf.tensor(rData, shape as number[]);
          const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(bn.apply(xVar, 'train'), r)) as tf.Scalar, [xVar, bn.gamma, bn.beta]);
          return { loss: read(value)[0], dx: read(grads[xVar.name]), dgamma: read(grads[bn.gamma.name]), dbeta: read(grads[bn.beta.name]) };
        });
        const ref = bnBackward64(xData, C, gamma, EPS, rData);
        const tag = JSON.stringify(shape);
        const f64 = bnForward64(xData, C, gamma, beta, EPS);
        const lossRef = loss64(xData, C, gamma, beta, EPS, rData);
        // The loss sums n terms of either sign: its error is relative to sum |y_i r_i|.
        const lossScale = f64.y.reduce((s, v, k) => s + Math.abs(v * rData[k]), 0);
        assertClose([got.loss], [lossRef], `${tag} loss`, { rel: REL, abs: ABS, scale: lossScale });
        assertClose(got.dx, ref.dx, `${tag} dl/dx`, { rel: REL, abs: ABS, scale: ref.dxScale });
        // dl/dgamma and dl/dbeta are sums of m' terms of either sign: relative to sum_i |dl/dy_i| (1 + |xhat_i|).
        const gScale = new Array<number>(C).fill(0);
        for (let k = 0; k < xData.length; k++) gScale[k % C] += Math.abs(rData[k]) * (1 + Math.abs(f64.xhat[k]));
        assertClose(got.dgamma, ref.dgamma, `${tag} dl/dgamma`, { rel: REL, abs: ABS, scale: gScale });
        assertClose(got.dbeta, ref.dbeta, `${tag} dl/dbeta`, { rel: REL, abs: ABS, scale: gScale });
        xVar.dispose();
        disposeBn(bn);
      }
    });

    it('gradient wrt a plain (non-variable) input through tf.grad matches the reference', () => {
      const rng = new TestRng(3);
      const shape = [60, 5];
      const { bn, gamma } = randomBn(rng, 5);
      const xData = randomInput(rng, shape);
      const rData = rng.normals(size(shape));
      const dx = tf.tidy(() => {
        const r = tf.tensor2d(rData, [60, 5]);
        const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(bn.apply(x, 'train'), r)));
        return read(g(tf.tensor2d(xData, [60, 5])));
      });
      const ref = bnBackward64(xData, 5, gamma, EPS, rData);
      assertClose(dx, ref.dx, 'dl/dx', { rel: REL, abs: ABS, scale: ref.dxScale });
      disposeBn(bn);
    });

    describe('scale invariance through a bias-free Dense (paper 3.3)', () => {
      // BN(Wu) = BN((aW)u) holds exactly for eps = 0; with eps the normaliser
      // sqrt(a^2 sigma2 + eps) deviates by a relative eps/(2 a^2 sigma2). Here
      // sigma2 of Wu is ~ n = 10 and eps = 1e-8, so the deviation is <= 5e-8 for
      // a = 0.1: below float32 rounding, and the identity is tested exactly.
      const eps = 1e-8;
      const m = 60;
      const n = 10;
      const C = 6;

      for (const a of [0.1, 3, 17]) {
        it(`a = ${a}: BN(Wu) == BN((aW)u), dL/du unchanged, dL/d(aW) == dL/dW / a`, () => {
          const rng = new TestRng(4 + a * 100);
          const uData = rng.normals(m * n);
          const wData = rng.normals(n * C);
          const awData = wData.map((v) => Math.fround(a * v));
          const rData = rng.normals(m * C);
          const { bn, gamma, beta } = randomBn(rng, C, eps);
          const d1 = new Dense('d1', tf.tensor2d(wData, [n, C]), false);
          const d2 = new Dense('d2', tf.tensor2d(awData, [n, C]), false);
          const run = (d: Dense) =>
            tf.tidy(() => {
              const u = tf.tensor2d(uData, [m, n]);
              const r = tf.tensor2d(rData, [m, C]);
              const loss = (uu: tf.Tensor2D) => tf.sum(tf.mul(bn.apply(d.apply(uu), 'train'), r)) as tf.Scalar;
              const y = read(bn.apply(d.apply(u), 'train'));
              const du = read(tf.grad((uu: tf.Tensor) => loss(uu as tf.Tensor2D))(u));
              const { grads } = tf.variableGrads(() => loss(u), [d.w]);
              return { y, du, dw: read(grads[d.w.name]) };
            });
          const g1 = run(d1);
          const g2 = run(d2);

          // The float64 reference for Dense + BN: x = uW, dL/du = dL/dx W^T, dL/dW = u^T dL/dx.
          const x64 = matMul64(uData, wData, m, n, C);
          const f64 = bnForward64(x64, C, gamma, beta, eps);
          const b64 = bnBackward64(x64, C, gamma, eps, rData);
          const du64 = matMul64(b64.dx, transpose64(wData, n, C), m, C, n);
          const dw64 = matMul64(transpose64(uData, m, n), b64.dx, n, m, C);
          // Products over cancelling dl/dx: the error is relative to the sizes of the terms.
          const duScale = matMul64(b64.dxScale, transpose64(wData.map(Math.abs), n, C), m, C, n);
          const dwScale = matMul64(transpose64(uData.map(Math.abs), m, n), b64.dxScale, n, m, C);

          const ys = yScale(f64, C, gamma, beta);
          assertClose(g1.y, f64.y, 'BN(Wu) vs float64', { rel: REL, abs: ABS, scale: ys });
          assertClose(g2.y, g1.y, `BN((${a}W)u) vs BN(Wu)`, { rel: REL, abs: ABS, scale: ys });
          assertClose(g1.du, du64, 'dL/du vs float64', { rel: REL, abs: ABS, scale: duScale });
          assertClose(g2.du, g1.du, `dL/du with ${a}W vs with W`, { rel: REL, abs: ABS, scale: duScale });
          assertClose(g1.dw, dw64, 'dL/dW vs float64', { rel: REL, abs: ABS, scale: dwScale });
          assertClose(
            g2.dw,
            g1.dw.map((v) => v / a),
            `dL/d(${a}W) vs dL/dW / ${a}`,
            { rel: REL, abs: ABS / a, scale: dwScale.map((s) => s / a) },
          );
          tf.dispose([d1.w, d2.w]);
          disposeBn(bn);
        });
      }
    });

    describe('inference is one affine map per activation (Algorithm 2, step 11)', () => {
      for (const mode of ['population', 'moving'] as const) {
        for (const shape of [
          [60, 7],
          [4, 3, 5, 6],
        ]) {
          it(`${mode}, ${JSON.stringify(shape)}: y = x*s + t, s = gamma/sqrt(Var+eps), t = beta - s*E[x]; per-example deterministic`, () => {
            const rng = new TestRng(5 + shape.length + (mode === 'moving' ? 10 : 0));
            const C = shape[shape.length - 1];
            const { bn, gamma, beta } = randomBn(rng, C);
            const mean = rng.uniforms(C, -3, 3);
            const variance = rng.uniforms(C, 0.05, 4);
            setVar(mode === 'population' ? bn.populationMean : bn.movingMean, mean);
            setVar(mode === 'population' ? bn.populationVariance : bn.movingVariance, variance);
            const xData = randomInput(rng, shape);
            const y = tf.tidy(() => read(bn.apply(tf.tensor(xData, shape), mode)));

            const s = gamma.map((g, c) => g / Math.sqrt(variance[c] + EPS));
            const t = beta.map((b, c) => b - s[c] * mean[c]);
            const want = xData.map((v, k) => v * s[k % C] + t[k % C]);
            const scale = xData.map((v, k) => Math.abs(v * s[k % C]) + Math.abs(t[k % C]));
            assertClose(y, want, 'y', { rel: REL, abs: ABS, scale });

            // Deterministic per example: each example alone, and inside a
            // reversed batch, gives bit-identical outputs.
            const per = size(shape.slice(1));
            const batch = shape[0];
            for (const i of [0, batch - 1, 1]) {
              const alone = tf.tidy(() => read(bn.apply(tf.tensor(xData.slice(i * per, (i + 1) * per), [1, ...shape.slice(1)]), mode)));
              assert.deepEqual(alone, y.slice(i * per, (i + 1) * per), `example ${i} alone`);
            }
            const reversed: number[] = [];
            for (let i = batch - 1; i >= 0; i--) reversed.push(...xData.slice(i * per, (i + 1) * per));
            const yRev = tf.tidy(() => read(bn.apply(tf.tensor(reversed, shape), mode)));
            for (let i = 0; i < batch; i++) {
              const j = batch - 1 - i;
              assert.deepEqual(yRev.slice(j * per, (j + 1) * per), y.slice(i * per, (i + 1) * per), `example ${i} in a reversed batch`);
            }
            disposeBn(bn);
          });
        }
      }
    });

    describe('Algorithm 2: population statistics with the unbiased m/(m-1) factor', () => {
      const cases: { shape: number[]; K: number }[] = [
        { shape: [2, 3], K: 5 },
        { shape: [60, 7], K: 4 },
        { shape: [3, 4, 5, 6], K: 3 },
        { shape: [2, 2, 2, 3], K: 7 },
      ];
      for (const { shape, K } of cases) {
        const m = size(shape.slice(0, -1));
        it(`${JSON.stringify(shape)} (m = ${m}), K = ${K}: E[x] = mean of mu_B, Var[x] = m/(m-1) mean of sigma2_B`, () => {
          const rng = new TestRng(6 + K);
          const C = shape[shape.length - 1];
          const { bn, gamma, beta } = randomBn(rng, C);

          // A first, discarded round: beginPopulation must clear it.
          bn.beginPopulation();
          tf.tidy(() => {
            bn.apply(tf.tensor(randomInput(rng, shape), shape), 'collect');
          });

          bn.beginPopulation();
          const means: number[][] = [];
          const variances: number[][] = [];
          for (let k = 0; k < K; k++) {
            const xData = randomInput(rng, shape);
            const y = tf.tidy(() => read(bn.apply(tf.tensor(xData, shape), 'collect')));
            // collect normalises with the mini-batch statistics, like train.
            const f64 = bnForward64(xData, C, gamma, beta, EPS);
            assertClose(y, f64.y, `batch ${k}: collect output`, { rel: REL, abs: ABS, scale: yScale(f64, C, gamma, beta) });
            const mo = moments64(xData, C);
            means.push(mo.mu);
            variances.push(mo.sigma2);
          }
          assert.deepEqual(bn.endPopulation(), { batches: K, m });

          const eMean = Array.from({ length: C }, (_, c) => means.reduce((s, mu) => s + mu[c], 0) / K);
          const eVar = Array.from({ length: C }, (_, c) => ((m / (m - 1)) * variances.reduce((s, v) => s + v[c], 0)) / K);
          // The means are offsets of up to 3 averaged over batches: error relative to their magnitude.
          const meanScale = Array.from({ length: C }, (_, c) => means.reduce((s, mu) => s + Math.abs(mu[c]), 0) / K + 1);
          assertClose(read(bn.populationMean), eMean, 'populationMean', { rel: REL, abs: ABS, scale: meanScale });
          assertClose(read(bn.populationVariance), eVar, 'populationVariance');
          disposeBn(bn);
        });
      }

      it('endPopulation without a collected mini-batch of size > 1 throws', () => {
        const bn = new BatchNorm('bn-test', 2, EPS, 0.9);
        bn.beginPopulation();
        assert.throws(() => bn.endPopulation());
        bn.beginPopulation();
        tf.tidy(() => {
          bn.apply(tf.tensor2d([[1, 2]]), 'collect');
        });
        assert.throws(() => bn.endPopulation());
        bn.beginPopulation();
        disposeBn(bn);
      });
    });

    describe('moving averages', () => {
      for (const shape of [
        [60, 7],
        [2, 3],
        [5, 4, 3, 6],
      ]) {
        for (const decay of [0.9, 0.99]) {
          it(`${JSON.stringify(shape)}, decay ${decay}: after one train forward, mean = (1-d) mu_B, variance = d + (1-d) sigma2_B`, () => {
            const rng = new TestRng(7 + shape.length + decay * 100);
            const C = shape[shape.length - 1];
            const { bn } = randomBn(rng, C, EPS, decay);
            const x1 = randomInput(rng, shape);
            tf.tidy(() => {
              bn.apply(tf.tensor(x1, shape), 'train');
            });
            const m1 = moments64(x1, C);
            const mean1 = m1.mu.map((mu) => decay * 0 + (1 - decay) * mu);
            const var1 = m1.sigma2.map((s2) => decay * 1 + (1 - decay) * s2);
            assertClose(read(bn.movingMean), mean1, 'movingMean after 1 step');
            assertClose(read(bn.movingVariance), var1, 'movingVariance after 1 step (biased sigma2_B)');

            // A second step inside tf.variableGrads, as in training: exactly one more update.
            const x2 = randomInput(rng, shape);
            tf.tidy(() => {
              const x = tf.tensor(x2, shape);
              tf.variableGrads(() => tf.sum(bn.apply(x, 'train')) as tf.Scalar, bn.trainable);
            });
            const m2 = moments64(x2, C);
            assertClose(
              read(bn.movingMean),
              mean1.map((v, c) => decay * v + (1 - decay) * m2.mu[c]),
              'movingMean after 2 steps',
            );
            assertClose(
              read(bn.movingVariance),
              var1.map((v, c) => decay * v + (1 - decay) * m2.sigma2[c]),
              'movingVariance after 2 steps',
            );
            disposeBn(bn);
          });
        }
      }

      it('inference modes do not touch the moving averages', () => {
        const rng = new TestRng(8);
        const { bn } = randomBn(rng, 4);
        tf.tidy(() => {
          bn.apply(tf.tensor2d(randomInput(rng, [60, 4]), [60, 4]), 'train');
        });
        const before = [read(bn.movingMean), read(bn.movingVariance)];
        tf.tidy(() => {
          const x = tf.tensor2d(randomInput(rng, [60, 4]), [60, 4]);
          bn.apply(x, 'moving');
          bn.apply(x, 'population');
        });
        assert.deepEqual([read(bn.movingMean), read(bn.movingVariance)], before);
        disposeBn(bn);
      });
    });

    describe('no tensor leak', () => {
      it('a tf.tidy-wrapped training forward + backward (Dense + BN, [m, C] and [m, h, w, C]) leaves numTensors unchanged', () => {
        const rng = new TestRng(9);
        const { bn } = randomBn(rng, 6);
        const dense = new Dense('d', tf.tensor2d(rng.normals(10 * 6), [10, 6]), false);
        const u = tf.tensor2d(rng.normals(60 * 10), [60, 10]);
        const x4 = tf.tensor(randomInput(rng, [3, 4, 5, 6]), [3, 4, 5, 6]);
        const step = () =>
          tf.tidy(() => {
            const vars = [...dense.trainable, ...bn.trainable];
            const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(bn.apply(dense.apply(u), 'train'))) as tf.Scalar, vars);
            for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name], 1e-3)));
            const g4 = tf.variableGrads(() => tf.sum(tf.square(bn.apply(x4, 'train'))) as tf.Scalar, bn.trainable);
            return read(value)[0] + read(g4.value)[0];
          });
        step(); // warm-up
        const before = tf.memory().numTensors;
        for (let i = 0; i < 3; i++) step();
        assert.equal(tf.memory().numTensors, before);
        tf.dispose([u, x4, dense.w]);
        disposeBn(bn);
      });

      it('a tf.tidy-wrapped Algorithm-2 pass and inference leave numTensors unchanged', () => {
        const rng = new TestRng(10);
        const { bn } = randomBn(rng, 6);
        const x = tf.tensor(randomInput(rng, [3, 4, 5, 6]), [3, 4, 5, 6]);
        const before = tf.memory().numTensors;
        bn.beginPopulation();
        for (let k = 0; k < 3; k++) {
          tf.tidy(() => {
            bn.apply(x, 'collect');
          });
        }
        bn.endPopulation();
        tf.tidy(() => {
          bn.apply(x, 'population');
          bn.apply(x, 'moving');
        });
        assert.equal(tf.memory().numTensors, before);
        x.dispose();
        disposeBn(bn);
      });
    });
  });
}
