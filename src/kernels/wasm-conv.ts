/**
 * Two gaps in tfjs-backend-wasm 4.22 that stop or corrupt convnet training,
 * and one that slows it, filled by kernels registered for the wasm backend
 * (`registerWasmConvFixes`).
 *
 * 1. Conv2DBackpropFilter is not registered for wasm: the gradient of
 *    tf.conv2d with respect to its filter throws "Kernel
 *    'Conv2DBackpropFilter' not registered for backend 'wasm'". The kernel
 *    registered here computes it from wasm ops that exist:
 *    - 1x1 stride-1 unpadded filters (most of an Inception network): one matrix
 *      product, dW = X^T dY with X as [m*h*w, in] and dY as [m*h*w, out];
 *    - otherwise a forward convolution with batch and channels swapped,
 *        dW[kh, kw, ci, co] = sum_{n, oh, ow} xpad[n, oh*s + kh, ow*s + kw, ci] dy[n, oh, ow, co],
 *      i.e. conv2d(x^T, dy^T) with x^T = x as [ci, h, w, n] (input), dy^T = dy as
 *      [oh, ow, n, co] (filter), stride 1, dilation s (the forward stride) and
 *      the forward padding made explicit, giving [ci, kh, kw, co].
 *    On 32x28x28 inputs this costs about 2x the forward convolution (the matmul
 *    form: 1-2x); a per-offset strided-slice + matmul form was 2-10x slower.
 *
 * 2. MaxPoolGrad on wasm starts each window's running max at
 *    std::numeric_limits<float>::min(), the smallest POSITIVE float, with
 *    position 0. A window whose maximum is <= 0 therefore sends its gradient to
 *    the wrong place (or nowhere) instead of to its argmax, and ties go to the
 *    last maximum where the cpu backend (and TensorFlow) take the first. The
 *    replacement kernel is exact and matches the cpu backend, ties included:
 *    y = maxPool(x) is an element of each window, so each window's dy goes to
 *    the first position (row-major over the window offsets) where x == y.
 *    It is a plain TypeScript loop over views of the wasm heap (x, y, dy and the
 *    output dx, no copies). A first version built from ~120 tfjs ops per call
 *    (slice, equal, where, pad, stack on the stride phase grids) cost 22-33 ms
 *    for a 3x3/2 'same' pool on 32x28x28x32 (the forward pool: 0.17 ms), 64-79
 *    ms of the small Inception's ~380 ms training step; the loop takes ~5 ms
 *    and gives the same dx to the last bit (maxPoolGradientInto says how the
 *    summation order is kept), so training runs did not change.
 *
 * 3. Not a correctness gap but a speed one: wasm's Conv2DBackpropInput is a
 *    plain loop, ~10x slower than the forward convolution (32x28x28x64 3x3 ->
 *    96: 729 ms against 83 ms). It is replaced by the transposed convolution
 *    written as a forward one: dy dilated by the stride, padded, and convolved
 *    with the filter rotated 180 degrees and its channels swapped (70 ms); 1x1
 *    stride 1 is dY W^T. The small Inception's training step went from ~690 to
 *    ~500 ms.
 *
 * The convolution kernels are built from tfjs ops. Ops run inside a kernel are
 * not recorded on the gradient tape (the engine counts kernel depth), so these
 * are ordinary kernels to the rest of tfjs: the stock Conv2D and MaxPool
 * gradients use them unchanged, and the other backends are untouched.
 */
import * as tf from '@tensorflow/tfjs';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type T4 = tf.Tensor4D;
type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** Kernel inputs reach these kernels as the tensors the ops were given. */
function asTensor(t: tf.TensorInfo | undefined): tf.Tensor {
  if (t instanceof tf.Tensor) return t;
  throw new Error('wasm-conv: expected a tensor input');
}

/**
 * dL/dW of y = conv2d(x, W) from x and dy = dL/dy, any backend. `info` is the
 * forward convolution's geometry (backend_util.computeConv2DInfo, NHWC).
 */
export function conv2dFilterGradient(x: T4, dy: T4, info: Conv2DInfo): T4 {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, dilationHeight, dilationWidth } = info;
  if (dilationHeight !== 1 || dilationWidth !== 1) throw new Error('conv2dFilterGradient: dilated convolutions are not supported');
  if (info.dataFormat !== 'channelsLast') throw new Error('conv2dFilterGradient: NHWC only');
  const { top, left } = info.padInfo;
  return tf.tidy(() => {
    if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && top === 0 && left === 0 && oh === h && ow === w) {
      const m = n * h * w;
      // Explicit transpose: wasm's matMul is ~10x slower with a transpose flag (src/kernels/gradients.ts).
      const dw = tf.matMul(tf.transpose(tf.reshape(x, [m, ci])), tf.reshape(dy, [m, co]));
      return tf.reshape(dw, [1, 1, ci, co]) as T4;
    }
    // Output size of the swapped convolution: h + top + bottom - (oh - 1) * sh = kh.
    let bottom = kh + (oh - 1) * sh - h - top;
    let right = kw + (ow - 1) * sw - w - left;
    let xt = tf.transpose(x, [3, 1, 2, 0]) as T4; // [ci, h, w, n]
    if (bottom < 0 || right < 0) {
      // 'valid' rows/columns that no window reaches.
      xt = tf.slice(xt, [0, 0, 0, 0], [ci, h + Math.min(bottom, 0), w + Math.min(right, 0), n]);
      bottom = Math.max(bottom, 0);
      right = Math.max(right, 0);
    }
    const f = tf.transpose(dy, [1, 2, 0, 3]) as T4; // [oh, ow, n, co]
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [top, bottom], [left, right], [0, 0]];
    const out = tf.conv2d(xt, f, 1, pad, 'NHWC', [sh, sw]); // [ci, kh, kw, co]
    return tf.transpose(out, [1, 2, 0, 3]) as T4;
  });
}

/** Inserts s - 1 zero rows (columns) between rows (columns): [n, oh, ow, c] -> [n, (oh-1)*sh+1, (ow-1)*sw+1, c]. */
function dilate(t: T4, sh: number, sw: number): T4 {
  if (sh === 1 && sw === 1) return t;
  const [n, oh, ow, c] = t.shape;
  const spread = tf.pad(tf.reshape(t, [n, oh, 1, ow, 1, c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
  return tf.slice(tf.reshape(spread, [n, oh * sh, ow * sw, c]), [0, 0, 0, 0], [n, (oh - 1) * sh + 1, (ow - 1) * sw + 1, c]) as T4;
}

/**
 * dL/dx of y = conv2d(x, W) from dy = dL/dy and W, any backend:
 *   dx[i] = sum_k dyd[i + top - k] W[k],  dyd = dy with s - 1 zeros between entries,
 * a stride-1 convolution of the padded dyd with W rotated by 180 degrees and
 * its in/out channels swapped (1x1 stride 1: dx = dY W^T).
 */
export function conv2dInputGradient(dy: T4, filter: T4, info: Conv2DInfo): T4 {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, dilationHeight, dilationWidth } = info;
  if (dilationHeight !== 1 || dilationWidth !== 1) throw new Error('conv2dInputGradient: dilated convolutions are not supported');
  if (info.dataFormat !== 'channelsLast') throw new Error('conv2dInputGradient: NHWC only');
  const { top, left } = info.padInfo;
  return tf.tidy(() => {
    if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && top === 0 && left === 0 && info.outHeight === h && info.outWidth === w) {
      const dx = tf.matMul(tf.reshape(dy, [n * h * w, co]), tf.transpose(tf.reshape(filter, [ci, co])));
      return tf.reshape(dx, [n, h, w, ci]) as T4;
    }
    let dyd = dilate(dy, sh, sw);
    // Padding of dyd so that the stride-1 correlation yields exactly h x w.
    let padTop = kh - 1 - top;
    let padLeft = kw - 1 - left;
    let padBottom = h + kh - 1 - padTop - dyd.shape[1];
    let padRight = w + kw - 1 - padLeft - dyd.shape[2];
    if (padTop < 0 || padLeft < 0 || padBottom < 0 || padRight < 0) {
      const begin = [0, Math.max(-padTop, 0), Math.max(-padLeft, 0), 0];
      const size = [n, dyd.shape[1] - begin[1] - Math.max(-padBottom, 0), dyd.shape[2] - begin[2] - Math.max(-padRight, 0), co];
      dyd = tf.slice(dyd, begin, size);
      [padTop, padLeft, padBottom, padRight] = [padTop, padLeft, padBottom, padRight].map((p) => Math.max(p, 0));
    }
    const rotated = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as T4; // [kh, kw, co, ci]
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]];
    return tf.conv2d(dyd, rotated, 1, pad);
  });
}

/**
 * dL/dx of y = maxPool(x) from dy = dL/dy, as plain arrays (NHWC, `info` from
 * backend_util.computePool2DInfo), written into `dx` (n*h*w*c entries, all
 * overwritten): each window's dy goes to the first position (row-major over
 * the window offsets) whose x equals the window's maximum y. Positions outside
 * the input (padding, or windows running past its end) count as -Infinity, as
 * they did in the tfjs-op kernel this replaced: a window whose maximum is
 * -Infinity may pick one, and its dy is then dropped.
 *
 * Bit-identical to that kernel, so training runs did not change. It summed
 * into each input position the contributions of the window offsets of its
 * stride phase in row-major order, each either a window's dy (the offset is
 * that window's first maximum) or +0, the first one assigned, later ones
 * added in float32. Here each window's dy is added to a zeroed dx at its first
 * maximum, visiting windows in DESCENDING order: the windows covering one
 * position at offsets (i, j) sit at (oy, ox) = ((r + top - i)/sh, ...), so
 * offsets in row-major order are windows in descending row-major order, and
 * each position sees its nonzero terms in the same order (a JS addition of two
 * float32 values stored to a Float32Array rounds exactly like a float32 add).
 * The +0 terms and the initial +0 change nothing, as v + (+0) == v, except for
 * v = -0: the old sum was -0 exactly when every offset of the phase brought a
 * -0 dy, and that case is restored at the end.
 */
export function maxPoolGradientInto(dx: Float32Array, x: Float32Array, y: Float32Array, dy: Float32Array, info: Conv2DInfo): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) throw new Error('maxPoolGradient: dilated pooling is not supported');
  const { top, left } = info.padInfo;
  if (x.length !== n * h * w * c || dx.length !== x.length || y.length !== n * oh * ow * c || dy.length !== y.length) {
    throw new Error('maxPoolGradient: array sizes do not match the pooling geometry');
  }
  dx.fill(0);
  // Per input position, how many -0 dy it received; allocated on the first one (rare).
  let negZeros: Uint16Array | null = null;
  // Index steps of the window offsets in row-major order, for windows entirely inside the input.
  const step = new Int32Array(fh * fw);
  for (let i = 0; i < fh; i++) for (let j = 0; j < fw; j++) step[i * fw + j] = (i * w + j) * c;
  for (let b = n - 1; b >= 0; b--) {
    for (let oy = oh - 1; oy >= 0; oy--) {
      const r0 = oy * sh - top;
      for (let ox = ow - 1; ox >= 0; ox--) {
        const q0 = ox * sw - left;
        const o0 = ((b * oh + oy) * ow + ox) * c;
        const inside = r0 >= 0 && r0 + fh <= h && q0 >= 0 && q0 + fw <= w;
        const x0 = inside ? ((b * h + r0) * w + q0) * c : -1;
        for (let ch = 0; ch < c; ch++) {
          const yv = y[o0 + ch];
          let at = -1; // input index of the first maximum; -1: padding or none (NaN)
          if (inside) {
            for (let k = 0; k < step.length; k++) {
              if (x[x0 + step[k] + ch] === yv) {
                at = x0 + step[k] + ch;
                break;
              }
            }
          } else {
            search: for (let i = 0; i < fh; i++) {
              const r = r0 + i;
              const rowInside = r >= 0 && r < h;
              for (let j = 0; j < fw; j++) {
                const q = q0 + j;
                if (rowInside && q >= 0 && q < w) {
                  const p = ((b * h + r) * w + q) * c + ch;
                  if (x[p] === yv) {
                    at = p;
                    break search;
                  }
                } else if (yv === -Infinity) {
                  break search;
                }
              }
            }
          }
          if (at < 0) continue;
          const g = dy[o0 + ch];
          dx[at] += g;
          if (g === 0 && 1 / g < 0) {
            negZeros ??= new Uint16Array(dx.length);
            negZeros[at]++;
          }
        }
      }
    }
  }
  if (negZeros) restoreNegativeZeros(dx, negZeros, info);
}

/**
 * Sets dx to -0 where every window offset of the position's stride phase
 * brought a -0 dy (the replaced kernel's sum started with an assignment, so
 * -0 + -0 + ... stayed -0; starting from +0 gives +0). One count per offset
 * at most, so a count equal to the number of offsets means all of them.
 */
function restoreNegativeZeros(dx: Float32Array, negZeros: Uint16Array, info: Conv2DInfo): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  // Offsets i in [0, f) with i = a (mod s).
  const offsets = (a: number, f: number, s: number) => (a < f ? Math.floor((f - 1 - a) / s) + 1 : 0);
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < h; r++) {
      const rows = offsets((r + top) % sh, fh, sh);
      for (let q = 0; q < w; q++) {
        const all = rows * offsets((q + left) % sw, fw, sw);
        const p0 = ((b * h + r) * w + q) * c;
        for (let ch = 0; ch < c; ch++) if (all > 0 && negZeros[p0 + ch] === all) dx[p0 + ch] = -0;
      }
    }
  }
}

const conv2DBackpropFilterKernel: tf.KernelFunc = ({ inputs, attrs }) => {
  const x = asTensor(inputs.x) as T4;
  const dy = asTensor(inputs.dy) as T4;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const format = tf.backend_util.convertConv2DDataFormat(dataFormat);
  const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, strides, 1, pad, dimRoundingMode, false, format);
  return conv2dFilterGradient(x, dy, info);
};

const conv2DBackpropInputKernel: tf.KernelFunc = ({ inputs, attrs }) => {
  const dy = asTensor(inputs.dy) as T4;
  const filter = asTensor(inputs.filter) as T4;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const format = tf.backend_util.convertConv2DDataFormat(dataFormat);
  const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape, strides, 1, pad, dimRoundingMode, false, format);
  return conv2dInputGradient(dy, filter, info);
};

const maxPoolGradKernel: tf.KernelFunc = ({ inputs, attrs, backend }) => {
  const { dy, input: x, output: y } = inputs;
  if (!dy || !x || !y) throw new Error('wasm-conv: MaxPoolGrad needs dy, input and output');
  if (!(backend instanceof BackendWasm)) throw new Error('wasm-conv: MaxPoolGrad is registered for the wasm backend only');
  if (dy.dtype !== 'float32' || x.dtype !== 'float32' || y.dtype !== 'float32') throw new Error('wasm-conv: MaxPoolGrad needs float32 tensors');
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  // Allocate first: growing the wasm heap detaches views taken before it.
  const dx = backend.makeOutput(x.shape, 'float32');
  // Views of the heap, no copies; nothing below allocates on the heap.
  const view = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
  maxPoolGradientInto(view(dx), view(x), view(y), view(dy), info);
  return dx;
};

let registered = false;

/** Registers the three kernels for the wasm backend; safe to call any number of times. */
export function registerWasmConvFixes(): void {
  if (registered) return;
  registered = true;
  // Keep a future tfjs's own kernel if it gains one.
  if (!tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')) {
    tf.registerKernel({ kernelName: tf.Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: conv2DBackpropFilterKernel });
  }
  const replace = (kernelName: string, kernelFunc: tf.KernelFunc) => {
    if (tf.getKernel(kernelName, 'wasm')) tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
  };
  replace(tf.MaxPoolGrad, maxPoolGradKernel);
  replace(tf.Conv2DBackpropInput, conv2DBackpropInputKernel);
}
