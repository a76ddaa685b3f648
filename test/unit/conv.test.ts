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
 * Average-pool gradients are sums of at most 9 dy/count terms: 1e-6 of the
 * largest entry against a float64 reference.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { conv2dFilterGradient, conv2dInputGradient, registerWasmConvFixes, setMaxPatchEntries } from '../../src/kernels/wasm-conv';
import { rotateFilterInto } from '../../src/kernels/im2col';
import { avgPoolGradient, maxPoolGradientInto } from '../../src/kernels/wasm-pool';
import { TestRng } from '../rng';

type Shape4 = [number, number, number, number];
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

async function onBackend<T>(name: string, f: () => T): Promise<T> {
  await tf.setBackend(name);
  return f();
}

/** Gradients of sum(f(x, w) * dy) with respect to each input, as arrays. */
function gradsOf(
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: { values: Float32Array; shape: number[] }[],
  dy: { values: Float32Array; shape: number[] },
): Float32Array[] {
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
  { x: [3, 10, 10, 1], k: [3, 3], out: 5, stride: 1, pad: 'same' }, // one input channel, like the stem's first conv
  { x: [2, 5, 5, 4], k: [1, 1], out: 3, stride: 2, pad: 'valid' },
  { x: [2, 9, 9, 3], k: [3, 3], out: 4, stride: 2, pad: 'valid' },
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

  it('patch matrices built a few images at a time give the same gradients', async () => {
    registerWasmConvFixes();
    await tf.setBackend('wasm');
    const rng = new TestRng(9);
    for (const c of CONV_CASES.filter((k) => k.x[0] > 1)) {
      const wShape: Shape4 = [c.k[0], c.k[1], c.x[3], c.out];
      const x = { values: rng.array(size(c.x)), shape: c.x };
      const w = { values: rng.array(size(wShape)), shape: wShape };
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad);
      const yShape = tf.tidy(() => f(tf.tensor(x.values, x.shape), tf.tensor(w.values, w.shape)).shape);
      const dy = { values: rng.array(size(yShape)), shape: yShape };
      const [dxWhole, dwWhole] = gradsOf(f, [x, w], dy);
      setMaxPatchEntries(1); // one image per chunk
      try {
        const [dxChunked, dwChunked] = gradsOf(f, [x, w], dy);
        assertClose(dxChunked, dxWhole, 1e-5 * maxAbs(dxWhole), `chunked dx ${label(c)}`);
        assertClose(dwChunked, dwWhole, 1e-5 * maxAbs(dwWhole), `chunked dW ${label(c)}`);
      } finally {
        setMaxPatchEntries(1 << 24);
      }
    }
  });

  it('the rotated filter loop is reverse over both spatial axes then a channel swap, bit for bit', async () => {
    await tf.setBackend('cpu');
    const rng = new TestRng(11);
    for (const shape of [
      [3, 3, 4, 5],
      [1, 1, 3, 2],
      [5, 3, 2, 7],
      [2, 2, 1, 1],
    ] as Shape4[]) {
      tf.tidy(() => {
        const w = tf.tensor(rng.array(size(shape)), shape) as tf.Tensor4D;
        const ref = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]).dataSync() as Float32Array;
        const out = new Float32Array(w.size);
        rotateFilterInto(out, w.dataSync() as Float32Array, ...shape);
        assert.deepEqual(out, ref, `filter ${shape.join('x')}`);
      });
    }
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
        const [dxRef, dwRef] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), dy)))([
          x,
          w,
        ]);
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
    for (const [s, p] of [
      [1, 'same'],
      [2, 'same'],
      [2, 'valid'],
    ] as const) {
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

  it('the loop maxPoolGradientInto matches the stock kernel on cpu', async () => {
    await tf.setBackend('cpu');
    const rng = new TestRng(5);
    for (const c of POOL_CASES) {
      tf.tidy(() => {
        const x = tf.tensor(
          rng.array(size(c.x)).map((v) => v + c.shift),
          c.x,
        ) as tf.Tensor4D;
        const y = tf.maxPool(x, c.size, c.stride, c.pad);
        const dy = tf.tensor(rng.array(y.size), y.shape) as tf.Tensor4D;
        const ref = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, c.size, c.stride, c.pad), dy)))(x);
        const info = tf.backend_util.computePool2DInfo(c.x, c.size, c.stride, 1, c.pad);
        const what = `cpu ${c.x.join('x')} ${c.size}/${c.stride} ${c.pad}`;
        const loop = new Float32Array(x.size);
        maxPoolGradientInto(loop, x.dataSync() as Float32Array, y.dataSync() as Float32Array, dy.dataSync() as Float32Array, info);
        assertClose(loop, ref.dataSync() as Float32Array, 1e-6, `${what}, loop`);
      });
    }
  });
});

interface AvgCase {
  x: Shape4;
  size: number | [number, number];
  stride: number | [number, number];
  pad: 'same' | 'valid';
}

const AVG_CASES: AvgCase[] = [
  { x: [2, 14, 14, 5], size: 3, stride: 1, pad: 'same' }, // the inception blocks' pool branch
  { x: [2, 4, 4, 6], size: 3, stride: 1, pad: 'same' }, // 4x4: most positions are borders
  { x: [2, 7, 7, 3], size: 3, stride: 2, pad: 'same' },
  { x: [2, 8, 8, 3], size: 3, stride: 2, pad: 'same' },
  { x: [2, 8, 8, 3], size: 3, stride: 2, pad: 'valid' },
  { x: [1, 9, 7, 2], size: 2, stride: 2, pad: 'valid' },
  { x: [2, 6, 6, 3], size: 3, stride: 3, pad: 'same' },
  { x: [2, 9, 8, 3], size: [3, 2], stride: [1, 2], pad: 'same' },
  { x: [1, 11, 11, 2], size: 5, stride: 2, pad: 'same' },
];

/** The exact gradient of avgPool (divisor: in-image count), in float64: dx[p] = sum over windows w containing p of dy[w] / count[w]. */
function avgPoolGradReference(dy: Float32Array, info: ReturnType<typeof tf.backend_util.computePool2DInfo>): Float64Array {
  const {
    batchSize: n,
    inHeight: h,
    inWidth: w,
    inChannels: c,
    outHeight: oh,
    outWidth: ow,
    filterHeight: fh,
    filterWidth: fw,
    strideHeight: sh,
    strideWidth: sw,
  } = info;
  const { top, left } = info.padInfo;
  const dx = new Float64Array(n * h * w * c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const rows: number[] = [];
        const cols: number[] = [];
        for (let i = 0; i < fh; i++) if (oy * sh - top + i >= 0 && oy * sh - top + i < h) rows.push(oy * sh - top + i);
        for (let j = 0; j < fw; j++) if (ox * sw - left + j >= 0 && ox * sw - left + j < w) cols.push(ox * sw - left + j);
        const count = rows.length * cols.length;
        for (const r of rows)
          for (const q of cols) for (let ch = 0; ch < c; ch++) dx[((b * h + r) * w + q) * c + ch] += dy[((b * oh + oy) * ow + ox) * c + ch] / count;
      }
    }
  }
  return dx;
}

describe('wasm average-pool gradient after registerWasmConvFixes', () => {
  AVG_CASES.forEach((c, i) => {
    const name = `x ${c.x.join('x')}, ${String(c.size)}/${String(c.stride)} ${c.pad}`;
    it(`is the exact gradient of the forward pool (float64 reference): ${name}`, async () => {
      registerWasmConvFixes();
      const rng = new TestRng(400 + i);
      const x = { values: rng.array(size(c.x)), shape: c.x };
      const f = (a: tf.Tensor) => tf.avgPool(a as tf.Tensor4D, c.size, c.stride, c.pad);
      const yShape = await onBackend('cpu', () => tf.tidy(() => f(tf.tensor(x.values, c.x)).shape));
      const dy = { values: rng.array(size(yShape)), shape: yShape };
      const [wasm] = await onBackend('wasm', () => gradsOf(f, [x], dy));
      const info = tf.backend_util.computePool2DInfo(c.x, c.size, c.stride, 1, c.pad);
      const ref = Float32Array.from(avgPoolGradReference(dy.values, info));
      assertClose(wasm, ref, 1e-6 * maxAbs(ref), `dx ${name}`);
      // The function behind the kernel gives the same on the cpu backend.
      const [cpuFormula] = await onBackend('cpu', () =>
        tf.tidy(() => [avgPoolGradient(tf.tensor(dy.values, yShape) as tf.Tensor4D, info).dataSync() as Float32Array]),
      );
      assertClose(cpuFormula, ref, 1e-6 * maxAbs(ref), `cpu dx ${name}`);
      // Where every window lies inside the image the stock kernel is right too, and agrees.
      if (c.pad === 'valid') {
        const [stock] = await onBackend('cpu', () => gradsOf(f, [x], dy));
        assertClose(wasm, stock, 1e-6 * maxAbs(stock), `stock cpu dx ${name}`);
      }
    });
  });

  it("differs from the stock kernel at 'same' borders, where the stock kernel divides by the full window", async () => {
    const x = { values: new Float32Array(16).fill(1), shape: [1, 4, 4, 1] };
    const dy = { values: new Float32Array(16).fill(1), shape: [1, 4, 4, 1] };
    const f = (a: tf.Tensor) => tf.avgPool(a as tf.Tensor4D, 3, 1, 'same');
    const [stock] = await onBackend('cpu', () => gradsOf(f, [x], dy));
    const [ours] = await onBackend('wasm', () => gradsOf(f, [x], dy));
    // Corner (0,0) lies in the windows centred at (0,0), (0,1), (1,0), (1,1), with 4, 6, 6 and 9 in-image positions.
    assert.ok(Math.abs(ours[0] - (1 / 4 + 2 / 6 + 1 / 9)) < 1e-6, `ours ${ours[0]}`);
    assert.ok(Math.abs(stock[0] - 4 / 9) < 1e-6, `stock ${stock[0]}`);
  });
});
