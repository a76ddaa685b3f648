/**
 * BatchMatMul on wasm for one matrix product (rank 2, or a batch of 1) as
 * bnrun's own SIMD GEMM (`gemm` in src/kernels/simd/kernels.wat); other
 * shapes go to the stock kernel.
 *
 * tfjs-wasm hands a product to XNNPACK's fully-connected operator, which
 * packs B into its own layout first and caches that per B tensor. In
 * training B is a new tensor every step (the weights after each update, a
 * gradient, a transposed operand), so every product pays the packing: about
 * 190 us of the ~480 us of the MLP's 60x784 by 784x100 product. With either
 * transpose flag set, tfjs-wasm falls back to a plain loop ~10x slower, so
 * gradients paid an explicit Transpose launch as well. Here A may be
 * transposed in place (it is read by strides) and a transposed B is
 * transposed once into scratch; nothing else is copied.
 */
import * as tf from '@tensorflow/tfjs';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { simdKernels } from './simd/module';
import { pointer, withScratch } from './wasm-heap';
import { overrideWasmKernel } from './wasm-override';

/** [rows, cols] of a rank-2 tensor or of a batch of one matrix; null for anything else. */
function matrix(t: tf.TensorInfo): [number, number] | null {
  const s = t.shape;
  if (t.dtype !== 'float32') return null;
  if (s.length === 2) return [s[0], s[1]];
  if (s.length === 3 && s[0] === 1) return [s[1], s[2]];
  return null;
}

function makeKernel(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, attrs, backend } = args;
    const { a, b } = inputs;
    const ma = a && matrix(a);
    const mb = b && matrix(b);
    if (!(backend instanceof BackendWasm) || !ma || !mb || a.shape.length !== b.shape.length) return stock(args);
    const transposeA = Boolean(attrs?.transposeA);
    const transposeB = Boolean(attrs?.transposeB);
    const [m, k] = transposeA ? [ma[1], ma[0]] : ma;
    const [kb, n] = transposeB ? [mb[1], mb[0]] : mb;
    if (k !== kb) throw new Error(`BatchMatMul: inner dimensions ${k} and ${kb} differ`);
    const out = backend.makeOutput(a.shape.length === 3 ? [1, m, n] : [m, n], 'float32');
    const kernels = simdKernels(backend);
    // A(i, k) at a + sai4 i + sak4 k: row-major [m, k], or read down the columns of [k, m].
    const [sai4, sak4] = transposeA ? [4, 4 * m] : [4 * k, 4];
    const gemm = (bRowMajor: number) => kernels.gemm(pointer(backend, a), sai4, sak4, bRowMajor, pointer(backend, out), m, n, k);
    if (!transposeB) gemm(pointer(backend, b));
    else
      withScratch(backend, 4 * k * n, false, (at) => {
        kernels.transpose(pointer(backend, b), n, k, at);
        gemm(at);
      });
    return out;
  };
}

let registered = false;

export function registerWasmMatMul(): void {
  if (registered) return;
  registered = true;
  overrideWasmKernel(tf.BatchMatMul, makeKernel);
}
