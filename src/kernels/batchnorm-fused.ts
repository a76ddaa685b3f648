/**
 * BN's training transform (Algorithm 1) as two wasm kernels: one forward
 * launch (statistics, normalisation, scale and shift, and the moving
 * averages) and one backward launch (the compact chain rule). Built from tfjs
 * ops (src/layers/batchnorm.ts, the reference and the cpu path) a BN layer is
 * about 30 launches a step; the MNIST MLP's tensors are [60, 100], where the
 * launch is the cost, not the arithmetic.
 *
 * x is viewed as [m, C] (channel last, every other axis is the mini-batch),
 * the sums over the mini-batch are taken in float64 and every stored value is
 * rounded to float32. The JavaScript loops below are the specification; for
 * C a multiple of 4 the full-size loops run as WebAssembly SIMD
 * (src/kernels/simd/kernels.wat), which gives the same bits 2 to 4 lanes at a
 * time, and the per-channel work is shared. The op-built reference sums in
 * float32, so the two agree to the float32 rounding of an m-term sum (both
 * tested in test/unit/batchnorm-fused.test.ts).
 *
 * Backward, with dl/dxhat_i = dl/dy_i gamma and the two per-channel sums
 * dl/dbeta = sum dl/dy_i and dl/dgamma = sum dl/dy_i xhat_i, the paper's
 * chain rule for dl/dx_i collapses to
 *   dl/dx_i = gamma / sqrt(sigma2_B + eps) (dl/dy_i - dl/dbeta / m - xhat_i dl/dgamma / m).
 */
import * as tf from '@tensorflow/tfjs';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { simdKernels } from './simd/module';
import { float32s, float64s, pointer, withScratch } from './wasm-heap';

export const BN_FORWARD = 'BnrunBatchNormForward';
export const BN_BACKWARD = 'BnrunBatchNormBackward';

export interface BnForwardAttrs {
  epsilon: number;
  /** Moving averages: new = decay * old + (1 - decay) * batch. */
  decay: number;
}

export interface BnForwardOut {
  y: Float32Array;
  xhat: Float32Array;
  invStd: Float32Array;
  movingMean: Float32Array;
  movingVariance: Float32Array;
}

/**
 * From the per-channel sums of squared deviations (float64; mu_B already
 * rounded to float32), sigma2_B, 1/sqrt(sigma2_B + eps) and the moving
 * averages, per channel. Shared by the JavaScript loops and the SIMD path.
 */
function channelStatistics(
  o: BnForwardOut,
  sq: Float64Array,
  mu: Float64Array,
  m: number,
  movingMean: Float32Array,
  movingVariance: Float32Array,
  a: BnForwardAttrs,
): void {
  const fr = Math.fround;
  const keep = fr(a.decay);
  const blend = fr(1 - a.decay);
  for (let j = 0; j < mu.length; j++) {
    const sigma2 = fr(sq[j] / m); // sigma2_B = 1/m sum (x_i - mu_B)^2
    o.invStd[j] = 1 / Math.sqrt(sigma2 + a.epsilon); // 1 / sqrt(sigma2_B + eps)
    o.movingMean[j] = fr(movingMean[j] * keep) + fr(mu[j] * blend);
    o.movingVariance[j] = fr(movingVariance[j] * keep) + fr(sigma2 * blend);
  }
}

/** Algorithm 1 forward on plain arrays, x as [x.length / C, C] with C = gamma.length. */
export function bnForwardInto(
  o: BnForwardOut,
  x: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  movingMean: Float32Array,
  movingVariance: Float32Array,
  a: BnForwardAttrs,
): void {
  const c = gamma.length;
  const m = x.length / c;
  const fr = Math.fround;
  const mu = new Float64Array(c);
  const s2 = new Float64Array(c);
  for (let i = 0; i < x.length; i += c) for (let j = 0; j < c; j++) mu[j] += x[i + j];
  for (let j = 0; j < c; j++) mu[j] = fr(mu[j] / m); // mu_B = 1/m sum x_i
  for (let i = 0; i < x.length; i += c) {
    for (let j = 0; j < c; j++) {
      const d = x[i + j] - mu[j];
      s2[j] += d * d;
    }
  }
  channelStatistics(o, s2, mu, m, movingMean, movingVariance, a);
  const invStd = o.invStd;
  for (let i = 0; i < x.length; i += c) {
    for (let j = 0; j < c; j++) {
      const xhat = fr((x[i + j] - mu[j]) * invStd[j]); // xhat_i
      o.xhat[i + j] = xhat;
      o.y[i + j] = fr(xhat * gamma[j]) + beta[j]; // y_i = gamma xhat_i + beta
    }
  }
}

/**
 * From the per-channel sums sum dl/dy_i and sum dl/dy_i xhat_i (float64):
 * dl/dbeta and dl/dgamma, and the per-channel factors of dl/dx_i (the sums
 * become means in place). Shared by the JavaScript loops and the SIMD path.
 */
function channelGradients(
  dgamma: Float32Array,
  dbeta: Float32Array,
  scale: Float64Array,
  sb: Float64Array,
  sg: Float64Array,
  m: number,
  invStd: Float32Array,
  gamma: Float32Array,
): void {
  for (let j = 0; j < gamma.length; j++) {
    dbeta[j] = sb[j];
    dgamma[j] = sg[j];
    scale[j] = gamma[j] * invStd[j];
    sb[j] /= m;
    sg[j] /= m;
  }
}

/** The backward pass on plain arrays: dx (shape of dy), dgamma and dbeta ([C]). */
export function bnBackwardInto(
  dx: Float32Array,
  dgamma: Float32Array,
  dbeta: Float32Array,
  dy: Float32Array,
  xhat: Float32Array,
  invStd: Float32Array,
  gamma: Float32Array,
): void {
  const c = gamma.length;
  const m = dy.length / c;
  const sb = new Float64Array(c);
  const sg = new Float64Array(c);
  for (let i = 0; i < dy.length; i += c) {
    for (let j = 0; j < c; j++) {
      sb[j] += dy[i + j]; // dl/dbeta = sum dl/dy_i
      sg[j] += dy[i + j] * xhat[i + j]; // dl/dgamma = sum dl/dy_i xhat_i
    }
  }
  const scale = new Float64Array(c);
  channelGradients(dgamma, dbeta, scale, sb, sg, m, invStd, gamma);
  for (let i = 0; i < dy.length; i += c) {
    for (let j = 0; j < c; j++) dx[i + j] = scale[j] * (dy[i + j] - sb[j] - xhat[i + j] * sg[j]);
  }
}

/**
 * The same two passes with the full-size loops in SIMD (kernels.wat), for C a
 * multiple of 4 (every network bnrun ships); per-channel work stays here.
 * Gives bnForwardInto's and bnBackwardInto's results to the last bit
 * (test/unit/batchnorm-fused.test.ts).
 */
function bnForwardSimd(b: BackendWasm, x: tf.TensorInfo, ins: tf.TensorInfo[], outs: tf.TensorInfo[], a: BnForwardAttrs): void {
  const [gamma, beta, movingMean, movingVariance] = ins;
  const c = gamma.shape[0];
  const m = tf.util.sizeFromShape(x.shape) / c;
  const k = simdKernels(b);
  const p = (t: tf.TensorInfo) => pointer(b, t);
  const v = (t: tf.TensorInfo) => float32s(b, t);
  withScratch(b, 4 * 8 * c, true, (at) => {
    const [sum, sq, mu, inv] = [0, 1, 2, 3].map((i) => at + 8 * c * i);
    k.channelSum(p(x), m, c, sum);
    const muV = float64s(b, mu, c);
    float64s(b, sum, c).forEach((s, j) => (muV[j] = Math.fround(s / m))); // mu_B = 1/m sum x_i
    k.channelSquaredDeviation(p(x), m, c, mu, sq);
    const [y, xhat, invStd, mm, mv] = outs;
    const o = { y: v(y), xhat: v(xhat), invStd: v(invStd), movingMean: v(mm), movingVariance: v(mv) };
    channelStatistics(o, float64s(b, sq, c), muV, m, v(movingMean), v(movingVariance), a);
    float64s(b, inv, c).set(o.invStd);
    k.normalize(p(x), m, c, mu, inv, p(gamma), p(beta), p(xhat), p(y));
  });
}

function bnBackwardSimd(b: BackendWasm, dy: tf.TensorInfo, xhat: tf.TensorInfo, invStd: tf.TensorInfo, gamma: tf.TensorInfo, outs: tf.TensorInfo[]): void {
  const c = gamma.shape[0];
  const m = tf.util.sizeFromShape(dy.shape) / c;
  const k = simdKernels(b);
  const p = (t: tf.TensorInfo) => pointer(b, t);
  const v = (t: tf.TensorInfo) => float32s(b, t);
  withScratch(b, 3 * 8 * c, true, (at) => {
    const [sb, sg, scale] = [0, 1, 2].map((i) => at + 8 * c * i);
    k.gradientSums(p(dy), p(xhat), m, c, sb, sg);
    const [dx, dgamma, dbeta] = outs;
    channelGradients(v(dgamma), v(dbeta), float64s(b, scale, c), float64s(b, sb, c), float64s(b, sg, c), m, v(invStd), v(gamma));
    k.inputGradient(p(dy), p(xhat), m, c, scale, sb, sg, p(dx));
  });
}

/** The SIMD path needs whole 4-lane groups of channels in every row. */
function simdChannels(c: number): boolean {
  return c % 4 === 0;
}

function wasmBackend(backend: unknown, name: string): BackendWasm {
  if (!(backend instanceof BackendWasm)) throw new Error(`${name} is registered for the wasm backend only`);
  return backend;
}

/** The named inputs, each present and float32. */
function float32Inputs(name: string, inputs: tf.NamedTensorInfoMap, names: string[]): tf.TensorInfo[] {
  return names.map((n) => {
    const t = inputs[n];
    if (!t || t.dtype !== 'float32') throw new Error(`${name}: needs a float32 input ${n}`);
    return t;
  });
}

const forwardKernel: tf.KernelFunc = ({ inputs, attrs, backend }) => {
  const b = wasmBackend(backend, BN_FORWARD);
  const [x, gamma, beta, movingMean, movingVariance] = float32Inputs(BN_FORWARD, inputs, ['x', 'gamma', 'beta', 'movingMean', 'movingVariance']);
  const c = x.shape[x.shape.length - 1];
  if ([gamma, beta, movingMean, movingVariance].some((t) => t.shape.length !== 1 || t.shape[0] !== c))
    throw new Error(`${BN_FORWARD}: per-channel inputs of shape [${c}]`);
  // Allocate first: growing the wasm heap detaches views taken before it.
  const outs = [b.makeOutput(x.shape, 'float32'), b.makeOutput(x.shape, 'float32'), ...[0, 1, 2].map(() => b.makeOutput([c], 'float32'))];
  if (simdChannels(c)) {
    bnForwardSimd(b, x, [gamma, beta, movingMean, movingVariance], outs, attrs as unknown as BnForwardAttrs);
    return outs;
  }
  const v = (t: tf.TensorInfo) => float32s(b, t);
  const [y, xhat, invStd, mm, mv] = outs.map(v);
  bnForwardInto(
    { y, xhat, invStd, movingMean: mm, movingVariance: mv },
    v(x),
    v(gamma),
    v(beta),
    v(movingMean),
    v(movingVariance),
    attrs as unknown as BnForwardAttrs,
  );
  return outs;
};

const backwardKernel: tf.KernelFunc = ({ inputs, backend }) => {
  const b = wasmBackend(backend, BN_BACKWARD);
  const [dy, xhat, invStd, gamma] = float32Inputs(BN_BACKWARD, inputs, ['dy', 'xhat', 'invStd', 'gamma']);
  const c = gamma.shape[0];
  const outs = [b.makeOutput(dy.shape, 'float32'), b.makeOutput([c], 'float32'), b.makeOutput([c], 'float32')];
  if (simdChannels(c)) {
    bnBackwardSimd(b, dy, xhat, invStd, gamma, outs);
    return outs;
  }
  const v = (t: tf.TensorInfo) => float32s(b, t);
  const [dx, dgamma, dbeta] = outs.map(v);
  bnBackwardInto(dx, dgamma, dbeta, v(dy), v(xhat), v(invStd), v(gamma));
  return outs;
};

let registered = false;

export function registerBatchNormKernels(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({ kernelName: BN_FORWARD, backendName: 'wasm', kernelFunc: forwardKernel });
  tf.registerKernel({ kernelName: BN_BACKWARD, backendName: 'wasm', kernelFunc: backwardKernel });
}

/** Whether the current backend has the fused kernels. */
export function hasBatchNormKernels(): boolean {
  registerBatchNormKernels();
  return tf.getKernel(BN_FORWARD, tf.getBackend()) !== undefined;
}

type Transform = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor;

/**
 * The training transform y = BN(x) through the two kernels, with its gradient
 * (tf.customGrad); each call assigns the moving averages. Call inside a tidy.
 */
export function makeFusedBatchTransform(moving: { mean: tf.Variable; variance: tf.Variable }, a: BnForwardAttrs): Transform {
  const f = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, save: tf.GradSaveFunc) => {
    const inputs = { x, gamma, beta, movingMean: moving.mean, movingVariance: moving.variance };
    const [y, xhat, invStd, mm, mv] = tf.engine().runKernel(BN_FORWARD, inputs, a as unknown as tf.NamedAttrMap) as tf.Tensor[];
    moving.mean.assign(mm);
    moving.variance.assign(mv);
    save([xhat, invStd, gamma]);
    const gradFunc = (dy: tf.Tensor, [xhatS, invStdS, gammaS]: tf.Tensor[]): tf.Tensor[] =>
      tf.engine().runKernel(BN_BACKWARD, { dy, xhat: xhatS, invStd: invStdS, gamma: gammaS }) as tf.Tensor[];
    return { value: y, gradFunc };
  };
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as Transform;
}
