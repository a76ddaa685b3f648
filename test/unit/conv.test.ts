/**
 * The wasm convolution fixes (src/kernels/wasm-conv.ts) against the cpu
 * backend's stock kernels, on seeded random inputs.
 *
 * First the two gaps of stock tfjs-backend-wasm 4.22 are shown (this file
 * runs in its own process and imports no layer, so nothing has registered the
 * fixes yet): Conv2DBackpropFilter is missing, and MaxPoolGrad loses the
 * gradient of windows whose maximum is <= 0. If a tfjs upgrade fixes either,
 * that test fails and says so; the fix can then go.
 *
 * Tolerances. Every gradient entry is a float32 sum of at most a few hundred
 * products of O(1) values. Backends sum in different orders, so entries
 * differ by a few ulps of the largest partial sum: relative to the tensor's
 * largest entry, about K*u with K <= 500 terms and u = 6e-8, i.e. < 3e-5 worst
 * case and ~1e-7 measured. The checks use 1e-4 of the largest reference entry:
 * > 3x the worst case, and far below a real error (a wrong tap or padding
 * offset moves whole O(1) products). Max-pool gradients route dy values, they
 * do not multiply them: they must agree to the last bit up to the order in
 * which overlapping windows add into one input (1e-6 absolute for O(1) dy),
 * including ties, which both send to the first maximum of a window.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { conv2dFilterGradient, conv2dInputGradient, maxPoolGradientInto, registerWasmConvFixes } from '../../src/kernels/wasm-conv';

class TestRng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  uniform(lo = -1, hi = 1): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }

  array(n: number, lo = -1, hi = 1): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.uniform(lo, hi);
    return a;
  }
}

type T4 = tf.Tensor4D;
type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/**
 * The wasm MaxPoolGrad kernel as first written, from ~120 tfjs ops per call,
 * kept as the reference the loop that replaced it must match bit for bit (so
 * that training runs did not change). dL/dx of y = maxPool(x) from dy = dL/dy,
 * any backend: each window's dy goes to the first position (row-major within
 * the window) holding its maximum. Strided windows are handled on the s x s
 * phase grids of the input padded with -Infinity; for each window offset
 * (i, j) in row-major order, the positions with x == y that no earlier offset
 * claimed receive dy, added into one accumulator per phase.
 */
function maxPoolGradByOps(dy: T4, x: T4, y: T4, info: Conv2DInfo): T4 {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) throw new Error('maxPoolGradient: dilated pooling is not supported');
  const { top, left } = info.padInfo;
  // Phase grids of hq x wq; the padded canvas is (hq*sh) x (wq*sw).
  const hq = Math.max(oh + Math.floor((fh - 1) / sh), Math.ceil((top + h) / sh));
  const wq = Math.max(ow + Math.floor((fw - 1) / sw), Math.ceil((left + w) / sw));
  const hc = hq * sh;
  const wc = wq * sw;
  const phasesH = Math.min(sh, fh);
  const phasesW = Math.min(sw, fw);

  // phase[a][b][r, q] = xpad[r*sh + a, q*sw + b]
  const phase: T4[][] = tf.tidy(() => {
    const xp = tf.pad(x, [[0, 0], [top, hc - top - h], [left, wc - left - w], [0, 0]], -Infinity) as T4;
    if (sh === 1 && sw === 1) return [[xp]];
    const grid: T4[][] = [];
    const rows = tf.reshape(xp, [n * hq, sh * wc * c]);
    for (let a = 0; a < phasesH; a++) {
      const ra = tf.reshape(tf.slice(rows, [0, a * wc * c], [n * hq, wc * c]), [n * hq * wq, sw * c]);
      grid.push([]);
      for (let b = 0; b < phasesW; b++) grid[a].push(tf.reshape(tf.slice(ra, [0, b * c], [n * hq * wq, c]), [n, hq, wq, c]) as T4);
    }
    return grid;
  });

  const zeros = tf.zerosLike(dy);
  let remaining: tf.Tensor = dy;
  const acc: (tf.Tensor | null)[][] = Array.from({ length: phasesH }, () => new Array<tf.Tensor | null>(phasesW).fill(null));
  for (let i = 0; i < fh; i++) {
    for (let j = 0; j < fw; j++) {
      const [a, qi, b, qj] = [i % sh, Math.floor(i / sh), j % sw, Math.floor(j / sw)];
      const last = i === fh - 1 && j === fw - 1;
      const prevAcc = acc[a][b];
      const prevRemaining = remaining;
      [remaining, acc[a][b]] = tf.tidy(() => {
        const hit = tf.equal(tf.slice(phase[a][b], [0, qi, qj, 0], [n, oh, ow, c]), y);
        const g = tf.where(hit, prevRemaining, zeros);
        const placed = tf.pad(g, [[0, 0], [qi, hq - qi - oh], [qj, wq - qj - ow], [0, 0]]);
        return [last ? zeros : tf.where(hit, zeros, prevRemaining), prevAcc ? tf.add(prevAcc, placed) : placed];
      });
      if (prevRemaining !== dy) prevRemaining.dispose();
      prevAcc?.dispose();
    }
  }
  tf.dispose(phase.flat());

  return tf.tidy(() => {
    // Phases no window offset reaches (a window smaller than its stride) stay 0.
    const empty = phasesH < sh || phasesW < sw ? tf.zeros([n, hq, wq, c]) : null;
    const part = (a: number, b: number): tf.Tensor => (a < phasesH && b < phasesW ? (acc[a][b] as tf.Tensor) : (empty as tf.Tensor));
    let canvas: tf.Tensor;
    if (sh === 1 && sw === 1) {
      canvas = part(0, 0);
    } else {
      const rowsOfPhase = Array.from({ length: sh }, (_, a) =>
        tf.reshape(tf.stack(Array.from({ length: sw }, (_, b) => part(a, b)), 3), [n, hq, wc, c]),
      );
      canvas = tf.reshape(tf.stack(rowsOfPhase, 2), [n, hc, wc, c]);
    }
    const dx = tf.slice(canvas, [0, top, left, 0], [n, h, w, c]) as T4;
    tf.dispose(acc.flat().filter((t): t is tf.Tensor => t !== null));
    zeros.dispose();
    return dx;
  });
}

type Shape4 = [number, number, number, number];
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

async function onBackend<T>(name: string, f: () => T): Promise<T> {
  await tf.setBackend(name);
  return f();
}

/** Gradients of sum(f(x, w) * dy) with respect to each input, as arrays. */
function gradsOf(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: { values: Float32Array; shape: number[] }[], dy: { values: Float32Array; shape: number[] }): Float32Array[] {
  return tf.tidy(() => {
    const ts = inputs.map((i) => tf.tensor(i.values, i.shape));
    const dyT = tf.tensor(dy.values, dy.shape);
    const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), dyT)));
    return g(ts).map((t) => t.dataSync() as Float32Array);
  });
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

function assertClose(actual: Float32Array, expected: Float32Array, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= worst)) [worst, at] = [d, i];
  }
  assert.ok(worst <= tol, `${what}: |diff| ${worst} at ${at} (got ${actual[at]}, expected ${expected[at]}) > ${tol}`);
}

const sum = (a: Float32Array) => a.reduce((s, v) => s + v, 0);

describe('stock tfjs-backend-wasm 4.22 (before registerWasmConvFixes)', () => {
  it('has no Conv2DBackpropFilter kernel: the filter gradient of conv2d throws', async () => {
    await tf.setBackend('wasm');
    assert.equal(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm'), undefined);
    const x = tf.ones([1, 4, 4, 1]);
    const w = tf.ones([3, 3, 1, 1]);
    assert.throws(() => tf.grad((f: tf.Tensor) => tf.sum(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same')))(w), /Conv2DBackpropFilter.*not registered/);
    tf.dispose([x, w]);
  });

  it('MaxPoolGrad loses the gradient of windows whose maximum is <= 0', async () => {
    const rng = new TestRng(7);
    const x = rng.array(2 * 5 * 5 * 3, -3, -0.1); // every window all-negative
    const dy = rng.array(2 * 3 * 3 * 3, 0.5, 1);
    const f = (t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, 3, 2, 'same');
    const [wasm] = await onBackend('wasm', () => gradsOf(f, [{ values: x, shape: [2, 5, 5, 3] }], { values: dy, shape: [2, 3, 3, 3] }));
    const [cpu] = await onBackend('cpu', () => gradsOf(f, [{ values: x, shape: [2, 5, 5, 3] }], { values: dy, shape: [2, 3, 3, 3] }));
    // Each window's dy lands on exactly one input on cpu; the stock wasm kernel drops or misplaces most.
    assert.ok(Math.abs(sum(cpu) - sum(dy)) < 1e-4);
    assert.ok(Math.abs(sum(wasm) - sum(dy)) > 1, `stock wasm kept ${sum(wasm)} of ${sum(dy)}`);
  });
});

interface ConvCase {
  x: Shape4;
  k: [number, number];
  out: number;
  stride: number | [number, number];
  pad: 'same' | 'valid';
}

const CONV_CASES: ConvCase[] = [
  { x: [2, 7, 7, 3], k: [3, 3], out: 4, stride: 1, pad: 'same' },
  { x: [2, 7, 7, 3], k: [3, 3], out: 4, stride: 2, pad: 'same' },
  { x: [2, 8, 8, 3], k: [3, 3], out: 4, stride: 2, pad: 'same' },
  { x: [2, 8, 8, 3], k: [3, 3], out: 4, stride: 2, pad: 'valid' },
  { x: [2, 4, 4, 5], k: [3, 3], out: 2, stride: 1, pad: 'valid' },
  { x: [1, 9, 7, 2], k: [5, 5], out: 3, stride: 3, pad: 'valid' },
  { x: [2, 6, 6, 4], k: [1, 1], out: 5, stride: 1, pad: 'same' },
  { x: [2, 6, 6, 4], k: [1, 1], out: 5, stride: 2, pad: 'same' },
  { x: [3, 11, 11, 3], k: [7, 7], out: 4, stride: 2, pad: 'same' },
  { x: [2, 5, 6, 3], k: [2, 2], out: 4, stride: 2, pad: 'same' },
  { x: [2, 14, 14, 8], k: [3, 3], out: 6, stride: 2, pad: 'same' },
  { x: [2, 6, 9, 3], k: [3, 1], out: 4, stride: [1, 2], pad: 'same' },
];

const label = (c: ConvCase) => `x ${c.x.join('x')}, ${c.k.join('x')}/${String(c.stride)} ${c.pad}, ${c.out} filters`;

describe('wasm conv2d gradients after registerWasmConvFixes match cpu', () => {
  it('registerWasmConvFixes is idempotent and registers the kernels', () => {
    registerWasmConvFixes();
    registerWasmConvFixes();
    assert.ok(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm'));
    assert.ok(tf.getKernel(tf.Conv2DBackpropInput, 'wasm'));
    assert.ok(tf.getKernel(tf.MaxPoolGrad, 'wasm'));
  });

  CONV_CASES.forEach((c, i) => {
    it(`dx and dW: ${label(c)}`, async () => {
      registerWasmConvFixes();
      const rng = new TestRng(100 + i);
      const wShape = [c.k[0], c.k[1], c.x[3], c.out];
      const x = { values: rng.array(size(c.x)), shape: c.x };
      const w = { values: rng.array(size(wShape)), shape: wShape };
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad);
      const yShape = await onBackend('cpu', () => tf.tidy(() => f(tf.tensor(x.values, x.shape), tf.tensor(w.values, w.shape)).shape));
      const dy = { values: rng.array(size(yShape)), shape: yShape };
      const [dxW, dwW] = await onBackend('wasm', () => gradsOf(f, [x, w], dy));
      const [dxC, dwC] = await onBackend('cpu', () => gradsOf(f, [x, w], dy));
      assertClose(dxW, dxC, 1e-4 * maxAbs(dxC), `dx ${label(c)}`);
      assertClose(dwW, dwC, 1e-4 * maxAbs(dwC), `dW ${label(c)}`);
    });
  });

  it('the formulas also match the stock kernels on cpu (any backend)', async () => {
    await tf.setBackend('cpu');
    const rng = new TestRng(3);
    for (const c of CONV_CASES) {
      tf.tidy(() => {
        const wShape: Shape4 = [c.k[0], c.k[1], c.x[3], c.out];
        const x = tf.tensor(rng.array(size(c.x)), c.x) as tf.Tensor4D;
        const w = tf.tensor(rng.array(size(wShape)), wShape) as tf.Tensor4D;
        const y = tf.conv2d(x, w, c.stride, c.pad);
        const dy = tf.tensor(rng.array(y.size), y.shape) as tf.Tensor4D;
        const info = tf.backend_util.computeConv2DInfo(c.x, wShape, c.stride, 1, c.pad);
        const [dxRef, dwRef] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), dy)))([x, w]);
        const dw = conv2dFilterGradient(x, dy, info).dataSync() as Float32Array;
        const dx = conv2dInputGradient(dy, w, info).dataSync() as Float32Array;
        assertClose(dw, dwRef.dataSync() as Float32Array, 1e-4 * maxAbs(dwRef.dataSync() as Float32Array), `cpu dW ${label(c)}`);
        assertClose(dx, dxRef.dataSync() as Float32Array, 1e-4 * maxAbs(dxRef.dataSync() as Float32Array), `cpu dx ${label(c)}`);
      });
    }
  });

  it('leaves no tensors behind', async () => {
    registerWasmConvFixes();
    await tf.setBackend('wasm');
    const x = tf.randomNormal([2, 9, 9, 3]) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 3, 4]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    for (const [s, p] of [[1, 'same'], [2, 'same'], [2, 'valid']] as const) {
      const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.maxPool(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, p), 3, s, p)))([x, w]);
      tf.dispose(g);
    }
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([x, w]);
  });
});

interface PoolCase {
  x: Shape4;
  size: number;
  stride: number;
  pad: 'same' | 'valid';
  /** Added to uniform(-1, 1) inputs: -2 makes every window all-negative. */
  shift: number;
  /** 'relu': max(0, .), so many windows are all zero (ties at 0); 'plateau': values rounded to 0.5 steps (ties everywhere). */
  kind?: 'relu' | 'plateau';
}

const POOL_CASES: PoolCase[] = [
  { x: [2, 7, 7, 3], size: 3, stride: 1, pad: 'same', shift: 0 },
  { x: [2, 7, 7, 3], size: 3, stride: 1, pad: 'same', shift: -2 },
  { x: [2, 7, 7, 3], size: 3, stride: 2, pad: 'same', shift: -2 },
  { x: [2, 8, 8, 3], size: 3, stride: 2, pad: 'same', shift: -1 },
  { x: [2, 8, 8, 3], size: 3, stride: 2, pad: 'valid', shift: -2 },
  { x: [1, 9, 7, 2], size: 2, stride: 2, pad: 'valid', shift: -2 },
  { x: [2, 6, 6, 3], size: 3, stride: 3, pad: 'same', shift: -0.5 },
  { x: [2, 5, 5, 3], size: 1, stride: 2, pad: 'same', shift: -2 },
  { x: [2, 9, 9, 4], size: 3, stride: 2, pad: 'same', shift: -0.7, kind: 'relu' },
  { x: [2, 8, 8, 4], size: 3, stride: 1, pad: 'same', shift: -0.7, kind: 'relu' },
  { x: [2, 8, 8, 4], size: 3, stride: 2, pad: 'same', shift: 0, kind: 'plateau' },
  { x: [4, 28, 28, 8], size: 3, stride: 2, pad: 'same', shift: -2 },
];

describe('wasm max-pool gradient after registerWasmConvFixes matches cpu', () => {
  POOL_CASES.forEach((c, i) => {
    it(`x ${c.x.join('x')}, ${c.size}x${c.size}/${c.stride} ${c.pad}, shift ${c.shift}${c.kind ? `, ${c.kind}` : ''}`, async () => {
      registerWasmConvFixes();
      const rng = new TestRng(200 + i);
      const values = rng.array(size(c.x)).map((v) => {
        const s = v + c.shift;
        return c.kind === 'relu' ? Math.max(0, s) : c.kind === 'plateau' ? Math.round(s * 2) / 2 : s;
      });
      const x = { values, shape: c.x };
      const f = (a: tf.Tensor) => tf.maxPool(a as tf.Tensor4D, c.size, c.stride, c.pad);
      const yShape = await onBackend('cpu', () => tf.tidy(() => f(tf.tensor(values, c.x)).shape));
      const dy = { values: rng.array(size(yShape), 0.5, 1.5), shape: yShape };
      const [wasm] = await onBackend('wasm', () => gradsOf(f, [x], dy));
      const [cpu] = await onBackend('cpu', () => gradsOf(f, [x], dy));
      assertClose(wasm, cpu, 1e-6, 'dx');
      // Every window's dy arrives somewhere exactly once.
      assert.ok(Math.abs(sum(wasm) - sum(dy.values)) < 1e-3 * dy.values.length);
    });
  });

  it('the reference maxPoolGradByOps and the loop maxPoolGradientInto match the stock kernel on cpu', async () => {
    await tf.setBackend('cpu');
    const rng = new TestRng(5);
    for (const c of POOL_CASES) {
      tf.tidy(() => {
        const x = tf.tensor(rng.array(size(c.x)).map((v) => v + c.shift), c.x) as tf.Tensor4D;
        const y = tf.maxPool(x, c.size, c.stride, c.pad);
        const dy = tf.tensor(rng.array(y.size), y.shape) as tf.Tensor4D;
        const ref = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, c.size, c.stride, c.pad), dy)))(x);
        const info = tf.backend_util.computePool2DInfo(c.x, c.size, c.stride, 1, c.pad);
        const what = `cpu ${c.x.join('x')} ${c.size}/${c.stride} ${c.pad}`;
        assertClose(maxPoolGradByOps(dy, x, y, info).dataSync() as Float32Array, ref.dataSync() as Float32Array, 1e-6, `${what}, by ops`);
        const loop = new Float32Array(x.size);
        maxPoolGradientInto(loop, x.dataSync() as Float32Array, y.dataSync() as Float32Array, dy.dataSync() as Float32Array, info);
        assertClose(loop, ref.dataSync() as Float32Array, 1e-6, `${what}, loop`);
      });
    }
  });
});

interface BitCase {
  x: Shape4;
  size: number | [number, number];
  stride: number | [number, number];
  pad: 'same' | 'valid' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  /** Added to uniform(-1, 1) inputs: <= -1 makes every window's maximum <= 0. */
  shift: number;
  /** Rounds inputs to 1/levels steps, so most windows have tied maxima. */
  levels?: number;
  /** max(0, .): many all-zero windows. */
  relu?: boolean;
  /** Sprinkles -0, +0, -Infinity and NaN into x. */
  specials?: boolean;
  /**
   * Sets this fraction of x to -Infinity: windows whose maximum is -Infinity
   * also match their padding (-Infinity to the replaced kernel), which the
   * loop reproduces.
   */
  negInf?: number;
}

const BIT_CASES: BitCase[] = [
  { x: [32, 28, 28, 32], size: 3, stride: 2, pad: 'same', shift: 0, levels: 4 }, // the small Inception's pools
  { x: [2, 7, 7, 3], size: 3, stride: 2, pad: 'same', shift: -2 },
  { x: [2, 8, 8, 4], size: 3, stride: 2, pad: 'same', shift: -1, levels: 2 },
  { x: [2, 9, 9, 5], size: 3, stride: 1, pad: 'same', shift: -1, levels: 2 },
  { x: [3, 8, 8, 4], size: 3, stride: 1, pad: 'same', shift: 0.3, levels: 3 },
  { x: [3, 8, 8, 4], size: 2, stride: 2, pad: 'valid', shift: -0.5, levels: 3 },
  { x: [2, 9, 7, 3], size: 2, stride: 2, pad: 'valid', shift: -2 },
  { x: [2, 10, 9, 3], size: 3, stride: 2, pad: 'valid', shift: -1, levels: 4 },
  { x: [2, 8, 8, 3], size: 2, stride: 1, pad: 'same', shift: -0.5, levels: 2 },
  { x: [2, 6, 6, 3], size: 3, stride: 3, pad: 'same', shift: -0.5, levels: 2 },
  { x: [2, 5, 5, 3], size: 1, stride: 2, pad: 'same', shift: -2 },
  { x: [1, 11, 11, 2], size: 5, stride: 2, pad: 'same', shift: -1, levels: 2 },
  { x: [2, 9, 8, 3], size: [3, 2], stride: [1, 2], pad: 'same', shift: -0.7, relu: true },
  { x: [2, 8, 8, 4], size: 3, stride: 2, pad: 'same', shift: -0.5, relu: true },
  { x: [2, 8, 8, 4], size: 3, stride: 2, pad: 'same', shift: -1, levels: 2, specials: true },
  // Padding at the top and left (before a window's real positions): 3x3/1 'same' and an explicit pad.
  { x: [2, 6, 6, 3], size: 3, stride: 1, pad: 'same', shift: -1, levels: 2, negInf: 0.7 },
  { x: [2, 7, 7, 3], size: 3, stride: 2, pad: 1, shift: -1, levels: 2, negInf: 0.7 },
  { x: [2, 8, 8, 3], size: 3, stride: 2, pad: 1, dimRoundingMode: 'ceil', shift: -1, levels: 2 },
];

/** Bit patterns, so that -0 and +0 (and NaN payloads) count as different. */
const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe('the wasm MaxPoolGrad loop is bit-identical to the tfjs-op kernel it replaced', () => {
  BIT_CASES.forEach((c, i) => {
    const name = `x ${c.x.join('x')}, ${String(c.size)}/${String(c.stride)} ${String(c.pad)}${c.dimRoundingMode ? ` ${c.dimRoundingMode}` : ''}, shift ${c.shift}` +
      `${c.levels ? `, ${c.levels} levels` : ''}${c.relu ? ', relu' : ''}${c.specials ? ', -0/-inf/NaN' : ''}${c.negInf ? `, ${c.negInf} -inf` : ''}`;
    it(name, async () => {
      registerWasmConvFixes();
      await tf.setBackend('wasm');
      const rng = new TestRng(300 + i);
      const specials = [-0, 0, -Infinity, NaN];
      const xs = rng.array(size(c.x)).map((v) => {
        let s = v + c.shift;
        if (c.levels) s = Math.round(s * c.levels) / c.levels;
        if (c.relu) s = Math.max(0, s);
        if (c.specials && rng.uniform(0, 1) < 0.08) s = specials[Math.floor(rng.uniform(0, specials.length))];
        if (c.negInf && rng.uniform(0, 1) < c.negInf) s = -Infinity;
        return s;
      });
      const before = tf.memory().numTensors;
      const [byLoop, byOps] = tf.tidy(() => {
        const x = tf.tensor(xs, c.x) as tf.Tensor4D;
        const y = tf.maxPool(x, c.size, c.stride, c.pad, c.dimRoundingMode);
        // dy of mixed magnitudes, so that a different summation order would round differently; with some -0 and +0.
        const dyValues = rng.array(y.size).map((v) => {
          const u = rng.uniform(0, 1);
          return u < 0.05 ? -0 : u < 0.1 ? 0 : v * 2 ** Math.round(rng.uniform(-12, 12));
        });
        const dy = tf.tensor(dyValues, y.shape) as tf.Tensor4D;
        const attrs = { filterSize: c.size, strides: c.stride, pad: c.pad, ...(c.dimRoundingMode ? { dimRoundingMode: c.dimRoundingMode } : {}) };
        const loop = tf.engine().runKernel<tf.Tensor>(tf.MaxPoolGrad, { dy, input: x, output: y }, attrs);
        const info = tf.backend_util.computePool2DInfo(c.x, c.size, c.stride, 1, c.pad, c.dimRoundingMode);
        const ops = maxPoolGradByOps(dy, x, y, info);
        return [loop.dataSync() as Float32Array, ops.dataSync() as Float32Array];
      });
      assert.equal(tf.memory().numTensors, before, 'tensors left behind');
      assert.deepEqual(bits(byLoop), bits(byOps));
    });
  });
});
