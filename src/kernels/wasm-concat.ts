/**
 * Concat and SplitV along the last axis on wasm, as one strided block copy
 * per input or output (`copyBlock` in src/kernels/simd/kernels.wat). Every
 * inception block concatenates its branches along channels (NHWC), and the
 * gradient splits them again. tfjs-wasm's Concat copies each row of each
 * input with a JavaScript TypedArray.set (100,000 calls for a [128, 14, 14, C]
 * block of 4 branches) and its SplitV runs a general Slice per output: about
 * 1-1.5 ms each per block in the small BN-Inception, 6-9% of its training
 * step (tf.profile, loaded machine).
 * Other axes and dtypes go to the stock kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { simdKernels } from './simd/module';
import { pointer } from './wasm-heap';
import { overrideWasmKernel } from './wasm-override';

const lastAxis = (axis: unknown, rank: number): boolean => tf.util.parseAxisParam(axis as number, new Array<number>(rank).fill(1))[0] === rank - 1;

function concatKernel(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args;
    const parts = Object.values(inputs).filter((t): t is tf.TensorInfo => t != null);
    const rank = parts[0]?.shape.length ?? 0;
    const ok =
      backend instanceof BackendWasm &&
      rank >= 1 &&
      parts.every((t) => t.dtype === 'float32' && t.shape.length === rank && t.shape.slice(0, -1).join() === parts[0].shape.slice(0, -1).join()) &&
      lastAxis(attrs?.axis, rank);
    if (!ok) return stock(args);
    const widths = parts.map((t) => t.shape[rank - 1]);
    const c = widths.reduce((a, b) => a + b, 0);
    const out = backend.makeOutput([...parts[0].shape.slice(0, -1), c], 'float32');
    const rows = tf.util.sizeFromShape(parts[0].shape.slice(0, -1));
    const k = simdKernels(backend);
    const dst = pointer(backend, out);
    let offset = 0;
    parts.forEach((t, i) => {
      if (widths[i] > 0 && rows > 0) k.copyBlock(pointer(backend, t), widths[i], dst + 4 * offset, c, rows, widths[i]);
      offset += widths[i];
    });
    return out;
  };
}

function splitKernel(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args;
    const x = inputs.x;
    const rank = x?.shape.length ?? 0;
    if (!(backend instanceof BackendWasm) || !x || x.dtype !== 'float32' || rank < 1 || !lastAxis(attrs?.axis, rank)) return stock(args);
    const sizes = tf.backend_util.prepareSplitSize(x, attrs?.numOrSizeSplits as number[] | number, rank - 1);
    const c = x.shape[rank - 1];
    const rows = tf.util.sizeFromShape(x.shape.slice(0, -1));
    const k = simdKernels(backend);
    const outs = sizes.map((w) => backend.makeOutput([...x.shape.slice(0, -1), w], 'float32'));
    const src = pointer(backend, x);
    let offset = 0;
    outs.forEach((o, i) => {
      if (sizes[i] > 0 && rows > 0) k.copyBlock(src + 4 * offset, c, pointer(backend, o), sizes[i], rows, sizes[i]);
      offset += sizes[i];
    });
    return outs;
  };
}

let registered = false;

export function registerWasmConcat(): void {
  if (registered) return;
  registered = true;
  overrideWasmKernel(tf.Concat, concatKernel);
  overrideWasmKernel(tf.SplitV, splitKernel);
}
