/**
 * Patch matrices of a 2-D convolution (NHWC), as plain loops over float32
 * arrays, and a helper that runs such a loop straight into a tensor (on the
 * wasm heap when the backend is wasm, no copies).
 *
 * With M = n*oh*ow output positions and K = kh*kw*ci filter taps, the patch
 * matrix P [M, K] holds P[(b, oy, ox), (i, j, c)] = xpad[b, oy*sh + i - top,
 * ox*sw + j - left, c] (0 in the padding), so that the convolution is
 * Y = P W with W as [K, co]. Its gradients are then matrix products:
 *   dW = P^T dY     (im2colTransposedInto writes P^T directly, [K, M])
 *   dX = col2im(dY W^T)   (col2imInto adds each patch back where it came from)
 */
import * as tf from '@tensorflow/tfjs';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { float32s } from './wasm-heap';

type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** Writes P^T ([K, M], all entries) from x ([n, h, w, ci]). */
export function im2colTransposedInto(out: Float32Array, x: Float32Array, info: Conv2DInfo): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const m = n * oh * ow;
  if (out.length !== kh * kw * ci * m || x.length !== n * h * w * ci) throw new Error('im2col: array sizes do not match the convolution geometry');
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      // Row of tap (i, j, c) starts at ((i*kw + j)*ci + c) * m.
      const row0 = (i * kw + j) * ci * m;
      let col = 0;
      for (let b = 0; b < n; b++) {
        for (let oy = 0; oy < oh; oy++) {
          const r = oy * sh + i - top;
          const rowInside = r >= 0 && r < h;
          for (let ox = 0; ox < ow; ox++, col++) {
            const q = ox * sw + j - left;
            if (rowInside && q >= 0 && q < w) {
              const src = ((b * h + r) * w + q) * ci;
              for (let c = 0, dst = row0 + col; c < ci; c++, dst += m) out[dst] = x[src + c];
            } else {
              for (let c = 0, dst = row0 + col; c < ci; c++, dst += m) out[dst] = 0;
            }
          }
        }
      }
    }
  }
}

/** dx ([n, h, w, ci], all entries) = the sum of every patch row of `cols` ([M, K]) added back at the positions it was read from. */
export function col2imInto(dx: Float32Array, cols: Float32Array, info: Conv2DInfo): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  const k = kh * kw * ci;
  if (cols.length !== n * oh * ow * k || dx.length !== n * h * w * ci) throw new Error('col2im: array sizes do not match the convolution geometry');
  dx.fill(0);
  let src = 0;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let i = 0; i < kh; i++) {
          const r = oy * sh + i - top;
          const rowInside = r >= 0 && r < h;
          for (let j = 0; j < kw; j++, src += ci) {
            const q = ox * sw + j - left;
            if (!rowInside || q < 0 || q >= w) continue;
            const dst = ((b * h + r) * w + q) * ci;
            for (let c = 0; c < ci; c++) dx[dst + c] += cols[src + c];
          }
        }
      }
    }
  }
}

/** out[i, j, o, c] = w[kh-1-i, kw-1-j, c, o]: a [kh, kw, ci, co] filter rotated by 180 degrees, channels swapped. */
export function rotateFilterInto(out: Float32Array, w: Float32Array, kh: number, kw: number, ci: number, co: number): void {
  if (out.length !== w.length || w.length !== kh * kw * ci * co) throw new Error('rotateFilter: array sizes do not match the filter shape');
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const src0 = ((kh - 1 - i) * kw + (kw - 1 - j)) * ci * co;
      const dst0 = (i * kw + j) * co * ci;
      for (let c = 0; c < ci; c++) for (let o = 0; o < co; o++) out[dst0 + o * ci + c] = w[src0 + c * co + o];
    }
  }
}

/**
 * A float32 tensor of `shape` filled by `fill(out, ...inputs)`. On wasm the
 * loop writes into the new tensor's heap memory and reads the inputs' heap
 * memory directly; elsewhere it goes through dataSync and an upload.
 */
export function computeInto(shape: number[], inputs: tf.Tensor[], fill: (out: Float32Array, ...inputs: Float32Array[]) => void): tf.Tensor {
  if (inputs.some((t) => t.dtype !== 'float32')) throw new Error('computeInto: float32 inputs only');
  const backend = tf.backend();
  if (backend instanceof BackendWasm) {
    // Allocate first: growing the wasm heap detaches views taken before it.
    const out = backend.makeOutput(shape, 'float32');
    const view = (t: tf.TensorInfo) => float32s(backend, t);
    fill(view(out), ...inputs.map(view));
    return tf.engine().makeTensorFromTensorInfo(out);
  }
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  fill(out, ...inputs.map((t) => t.dataSync() as Float32Array));
  return tf.tensor(out, shape);
}
