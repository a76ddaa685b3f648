/**
 * Pooling gradients for the wasm backend (registered by
 * `registerWasmConvFixes` in ./wasm-conv.ts).
 *
 * MaxPoolGrad. tfjs-backend-wasm 4.22 starts each window's running max at
 * std::numeric_limits<float>::min(), the smallest POSITIVE float, with
 * position 0: a window whose maximum is <= 0 sends its gradient to the wrong
 * place (or nowhere), and ties go to the last maximum where the cpu backend
 * (and TensorFlow) take the first. The replacement is exact and matches the cpu
 * backend, ties included: y = maxPool(x) is an element of each window, so each
 * window's dy goes to the first position (row-major over the window offsets)
 * where x == y. It is a plain loop over views of the wasm heap (~5 ms for the
 * small Inception's 32x28x28x32 3x3/2 stem pool; ~120 tfjs ops took 22-33 ms).
 *
 * AvgPoolGrad. The stock kernel (wasm and cpu alike) divides every window's dy
 * by the full window size, but the forward average pool with 'same' padding
 * divides by the in-image count, so at the borders the stock gradient is not
 * the gradient of the forward pass (a corner of a 3x3 window: 1/9 instead of
 * 1/4; at the small Inception's 4x4 resolution most positions are borders).
 * It is also slow, a plain loop (32x14x14x64: ~30 ms, the forward pool ~2 ms).
 * The replacement is the exact gradient as one depthwise convolution:
 *   dx[p] = sum over the windows w that contain p of dy[w] / count[w],
 * i.e. dy scaled by 1/count, spread by the stride, padded, and convolved
 * with a ones filter (XNNPACK's depthwise kernel).
 */
import * as tf from '@tensorflow/tfjs';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { float32s } from './wasm-heap';

type T4 = tf.Tensor4D;
type PoolInfo = ReturnType<typeof tf.backend_util.computePool2DInfo>;

/**
 * dL/dx of y = maxPool(x) from dy = dL/dy, as plain arrays (NHWC, `info` from
 * backend_util.computePool2DInfo), written into `dx` (n*h*w*c entries, all
 * overwritten): each window's dy goes to the first position (row-major over
 * the window offsets) whose x equals the window's maximum y. A window whose
 * maximum is -Infinity and that reaches into the padding is dropped (the cpu
 * backend drops it too).
 */
export function maxPoolGradientInto(dx: Float32Array, x: Float32Array, y: Float32Array, dy: Float32Array, info: PoolInfo): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) throw new Error('maxPoolGradient: dilated pooling is not supported');
  const { top, left } = info.padInfo;
  if (x.length !== n * h * w * c || dx.length !== x.length || y.length !== n * oh * ow * c || dy.length !== y.length) {
    throw new Error('maxPoolGradient: array sizes do not match the pooling geometry');
  }
  dx.fill(0);
  // Index steps of the window offsets in row-major order, for windows entirely inside the input.
  const step = new Int32Array(fh * fw);
  for (let i = 0; i < fh; i++) for (let j = 0; j < fw; j++) step[i * fw + j] = (i * w + j) * c;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const r0 = oy * sh - top;
      for (let ox = 0; ox < ow; ox++) {
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
          if (at >= 0) dx[at] += dy[o0 + ch];
        }
      }
    }
  }
}

/** Inserts s - 1 zero rows (columns) between rows (columns): [n, oh, ow, c] -> [n, (oh-1)*sh+1, (ow-1)*sw+1, c]. */
export function dilate(t: T4, sh: number, sw: number): T4 {
  if (sh === 1 && sw === 1) return t;
  const [n, oh, ow, c] = t.shape;
  const spread = tf.pad(tf.reshape(t, [n, oh, 1, ow, 1, c]), [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  return tf.slice(tf.reshape(spread, [n, oh * sh, ow * sw, c]), [0, 0, 0, 0], [n, (oh - 1) * sh + 1, (ow - 1) * sw + 1, c]) as T4;
}

/**
 * The transposed (fh x fw, stride s) window map as a stride-1 correlation:
 * dy spread by the stride and padded (or cropped) so that an fh x fw 'valid'
 * correlation over it gives h x w, position r collecting the windows
 * oy with oy*s - top <= r <= oy*s - top + fh - 1.
 */
export function spreadForTransposed(dy: T4, h: number, w: number, fh: number, fw: number, sh: number, sw: number, top: number, left: number): T4 {
  let dyd = dilate(dy, sh, sw);
  const [n, , , c] = dyd.shape;
  let padTop = fh - 1 - top;
  let padLeft = fw - 1 - left;
  let padBottom = h + fh - 1 - padTop - dyd.shape[1];
  let padRight = w + fw - 1 - padLeft - dyd.shape[2];
  if (padTop < 0 || padLeft < 0 || padBottom < 0 || padRight < 0) {
    const begin = [0, Math.max(-padTop, 0), Math.max(-padLeft, 0), 0];
    const size = [n, dyd.shape[1] - begin[1] - Math.max(-padBottom, 0), dyd.shape[2] - begin[2] - Math.max(-padRight, 0), c];
    dyd = tf.slice(dyd, begin, size);
    [padTop, padLeft, padBottom, padRight] = [padTop, padLeft, padBottom, padRight].map((p) => Math.max(p, 0));
  }
  if (padTop + padBottom + padLeft + padRight === 0) return dyd;
  return tf.pad(dyd, [
    [0, 0],
    [padTop, padBottom],
    [padLeft, padRight],
    [0, 0],
  ]);
}

/** 1 / (number of in-image positions) of each output window, as [1, oh, ow, 1]. */
function inverseWindowCounts(info: PoolInfo): tf.Tensor4D {
  const { inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const span = (start: number, f: number, size: number) => Math.min(start + f, size) - Math.max(start, 0);
  const inv = new Float32Array(oh * ow);
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) inv[oy * ow + ox] = 1 / (span(oy * sh - top, fh, h) * span(ox * sw - left, fw, w));
  }
  return tf.tensor4d(inv, [1, oh, ow, 1]);
}

/** dL/dx of y = avgPool(x) (in-image count as the divisor) from dy, any backend. */
export function avgPoolGradient(dy: T4, info: PoolInfo): T4 {
  const { inHeight: h, inWidth: w, inChannels: c, filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) throw new Error('avgPoolGradient: dilated pooling is not supported');
  const { top, left } = info.padInfo;
  return tf.tidy(() => {
    const g = tf.mul(dy, inverseWindowCounts(info)) as T4;
    const spread = spreadForTransposed(g, h, w, fh, fw, sh, sw, top, left);
    return tf.depthwiseConv2d(spread, tf.ones([fh, fw, c, 1]) as tf.Tensor4D, 1, 'valid');
  });
}

function asTensor(t: tf.TensorInfo | undefined): tf.Tensor {
  if (t instanceof tf.Tensor) return t;
  throw new Error('wasm-pool: expected a tensor input');
}

export const avgPoolGradKernel: tf.KernelFunc = ({ inputs, attrs }) => {
  const dy = asTensor(inputs.dy) as T4;
  const x = asTensor(inputs.input) as T4;
  const { filterSize, strides, pad } = attrs as unknown as tf.AvgPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(x.shape, filterSize, strides, 1, pad);
  return avgPoolGradient(dy, info);
};

export const maxPoolGradKernel: tf.KernelFunc = ({ inputs, attrs, backend }) => {
  const { dy, input: x, output: y } = inputs;
  if (!dy || !x || !y) throw new Error('wasm-pool: MaxPoolGrad needs dy, input and output');
  if (!(backend instanceof BackendWasm)) throw new Error('wasm-pool: MaxPoolGrad is registered for the wasm backend only');
  if (dy.dtype !== 'float32' || x.dtype !== 'float32' || y.dtype !== 'float32') throw new Error('wasm-pool: MaxPoolGrad needs float32 tensors');
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as tf.MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  // Allocate first: growing the wasm heap detaches views taken before it.
  const dx = backend.makeOutput(x.shape, 'float32');
  // Views of the heap, no copies; nothing below allocates on the heap.
  const view = (t: tf.TensorInfo) => float32s(backend, t);
  maxPoolGradientInto(view(dx), view(x), view(y), view(dy), info);
  return dx;
};
