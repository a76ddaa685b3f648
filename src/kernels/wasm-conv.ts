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
 *    y = maxPool(x) is an element of each window, so for each window offset
 *    (i, j) in row-major order the positions with x == y that no earlier offset
 *    claimed receive dy. Strided windows are handled on the s x s phase grids of
 *    the padded input (all slices contiguous: wasm's strided slice is ~10x
 *    slower than a slice), and the phases are interleaved back with stack +
 *    reshape. Padding is -Infinity, so it never equals a window maximum.
 *
 * 3. Not a correctness gap but a speed one: wasm's Conv2DBackpropInput is a
 *    plain loop, ~10x slower than the forward convolution (32x28x28x64 3x3 ->
 *    96: 729 ms against 83 ms). It is replaced by the transposed convolution
 *    written as a forward one: dy dilated by the stride, padded, and convolved
 *    with the filter rotated 180 degrees and its channels swapped (70 ms); 1x1
 *    stride 1 is dY W^T. The small Inception's training step went from ~690 to
 *    ~500 ms.
 *
 * All three kernels are built from tfjs ops. Ops run inside a kernel are not
 * recorded on the gradient tape (the engine counts kernel depth), so these are
 * ordinary kernels to the rest of tfjs: the stock Conv2D and MaxPool gradients
 * use them unchanged, and the other backends are untouched.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

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
 * dL/dx of y = maxPool(x) from dy = dL/dy, any backend: each window's dy goes
 * to the first position (row-major within the window) holding its maximum.
 */
export function maxPoolGradient(dy: T4, x: T4, y: T4, info: Conv2DInfo): T4 {
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

const maxPoolGradKernel: tf.KernelFunc = ({ inputs, attrs }) => {
  const dy = asTensor(inputs.dy) as T4;
  const x = asTensor(inputs.input) as T4;
  const y = asTensor(inputs.output) as T4;
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(x.shape, filterSize, strides, 1, pad, dimRoundingMode);
  return maxPoolGradient(dy, x, y, info);
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
