/**
 * Gaps in tfjs-backend-wasm 4.22 that stop, corrupt or slow convnet training,
 * filled by kernels registered for the wasm backend (`registerWasmConvFixes`).
 *
 * 1. Conv2DBackpropFilter is not registered for wasm: the gradient of
 *    tf.conv2d with respect to its filter throws "Kernel
 *    'Conv2DBackpropFilter' not registered for backend 'wasm'". The kernel
 *    registered here computes it as matrix products XNNPACK runs well:
 *    - 1x1 stride-1 unpadded filters (most of an Inception network):
 *      dW = X^T dY with X as [m*h*w, in] and dY as [m*h*w, out];
 *    - otherwise dW = P^T dY with P the patch matrix (./im2col.ts), P^T built
 *      by one loop over the input. The previous form, a forward convolution
 *      with batch and channels swapped, made XNNPACK pack an oh x ow x n x co
 *      "filter" per call and cost up to 20x more for few input channels
 *      (the stem's 3x3x1x32: ~50 ms against ~3 ms, loaded machine).
 *
 * 2. MaxPoolGrad is wrong and AvgPoolGrad slow (and wrong at 'same' borders)
 *    on wasm: both are replaced by the kernels in ./wasm-pool.ts.
 *
 * 3. Not a correctness gap but a speed one: wasm's Conv2DBackpropInput is a
 *    plain loop, ~10x slower than the forward convolution (32x28x28x64 3x3 ->
 *    96: 729 ms against 83 ms). It is replaced by
 *    - 1x1 stride 1: dX = dY W^T;
 *    - stride 1: the transposed convolution written as a forward one, dy
 *      padded and convolved with the filter rotated 180 degrees and its
 *      channels swapped;
 *    - stride > 1: dX = col2im(dY W^T), which touches only real entries where
 *      the rotated-filter form convolves a dy dilated with (s^2 - 1)/s^2 zeros
 *      (3x3/2 on 32x14x14x64: ~50 ms against ~8 ms, loaded machine).
 *
 * The convolution kernels are built from tfjs ops and loops over the wasm heap. Ops run inside a kernel are
 * not recorded on the gradient tape (the engine counts kernel depth), so these
 * are ordinary kernels to the rest of tfjs: the stock Conv2D and MaxPool
 * gradients use them unchanged, and the other backends are untouched.
 */
import * as tf from '@tensorflow/tfjs';
import { col2imInto, computeInto, im2colTransposedInto, rotateFilterInto } from './im2col';
import { avgPoolGradKernel, maxPoolGradKernel, spreadForTransposed } from './wasm-pool';

type T4 = tf.Tensor4D;
type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** Kernel inputs reach these kernels as the tensors the ops were given. */
function asTensor(t: tf.TensorInfo | undefined): tf.Tensor {
  if (t instanceof tf.Tensor) return t;
  throw new Error('wasm-conv: expected a tensor input');
}

/**
 * Patch matrices larger than this (float32 entries, 64 MB) are built a few
 * images at a time: an ImageNet-size stem would otherwise need ~240 MB.
 */
let maxPatchEntries = 1 << 24;

/** For tests: a small limit sends small convolutions through the chunked path. */
export function setMaxPatchEntries(n: number): void {
  maxPatchEntries = n;
}

/** Images per chunk so that one chunk's patch matrix stays under the limit. */
function batchChunks(info: Conv2DInfo): [number, number][] {
  const perImage = info.filterHeight * info.filterWidth * info.inChannels * info.outHeight * info.outWidth;
  const size = Math.max(1, Math.floor(maxPatchEntries / perImage));
  const chunks: [number, number][] = [];
  for (let b = 0; b < info.batchSize; b += size) chunks.push([b, Math.min(size, info.batchSize - b)]);
  return chunks;
}

const sliceBatch = (t: T4, begin: number, size: number) => tf.slice(t, [begin, 0, 0, 0], [size, -1, -1, -1]);

function sumOverBatchChunks(x: T4, dy: T4, info: Conv2DInfo): T4 {
  const parts = batchChunks(info).map(([b, size]) => conv2dFilterGradient(sliceBatch(x, b, size), sliceBatch(dy, b, size), { ...info, batchSize: size }));
  return tf.addN(parts);
}

function concatOverBatchChunks(dy: T4, filter: T4, info: Conv2DInfo): T4 {
  const parts = batchChunks(info).map(([b, size]) => conv2dInputGradient(sliceBatch(dy, b, size), filter, { ...info, batchSize: size }));
  return tf.concat4d(parts, 0);
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
      const dw = tf.matMul(tf.reshape(x, [m, ci]), tf.reshape(dy, [m, co]), true, false);
      return tf.reshape(dw, [1, 1, ci, co]) as T4;
    }
    if (n > 1 && kh * kw * ci * oh * ow * n > maxPatchEntries) return sumOverBatchChunks(x, dy, info);
    // dW = P^T dY, with P^T built in one pass (./im2col.ts).
    const m = n * oh * ow;
    const k = kh * kw * ci;
    const patchesT = computeInto([k, m], [x], (out, xv) => im2colTransposedInto(out, xv, info));
    return tf.reshape(tf.matMul(patchesT, tf.reshape(dy, [m, co])), [kh, kw, ci, co]) as T4;
  });
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
      const dx = tf.matMul(tf.reshape(dy, [n * h * w, co]), tf.reshape(filter, [ci, co]), false, true);
      return tf.reshape(dx, [n, h, w, ci]) as T4;
    }
    if (sh > 1 || sw > 1) {
      // Strided: the dilated dy below would be mostly zeros; dX = col2im(dY W^T) touches only real entries.
      if (n > 1 && kh * kw * ci * info.outHeight * info.outWidth * n > maxPatchEntries) return concatOverBatchChunks(dy, filter, info);
      const m = n * info.outHeight * info.outWidth;
      const cols = tf.matMul(tf.reshape(dy, [m, co]), tf.reshape(filter, [kh * kw * ci, co]), false, true);
      return computeInto([n, h, w, ci], [cols], (out, c) => col2imInto(out, c, info)) as T4;
    }
    const spread = spreadForTransposed(dy, h, w, kh, kw, sh, sw, top, left);
    // W rotated by 180 degrees with its channels swapped, [kh, kw, co, ci], in one loop (./im2col.ts):
    // wasm's Reverse and Transpose kernels took ~20x longer for these small filters.
    const rotated = computeInto([kh, kw, co, ci], [filter], (out, wv) => rotateFilterInto(out, wv, kh, kw, ci, co)) as T4;
    return tf.conv2d(spread, rotated, 1, 'valid');
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

let registered = false;

/** Registers the four kernels for the wasm backend; safe to call any number of times. */
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
  replace(tf.AvgPoolGrad, avgPoolGradKernel);
  replace(tf.Conv2DBackpropInput, conv2DBackpropInputKernel);
}
