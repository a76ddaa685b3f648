/**
 * The SGD update of one parameter as one wasm kernel (`SgdUpdate`):
 *   g <- g + lambda w;  v <- mu v + g;  w <- w - lr v      (src/train/optimizer.ts)
 * built from tfjs ops this is 2 to 6 kernel launches per parameter, and the
 * small Inception has ~150 parameters: ~900 launches a step, most of them on
 * tensors of a few hundred entries where the launch is the cost. Here it is
 * one launch for all parameters, a SIMD loop per parameter on the wasm heap
 * (src/kernels/simd/kernels.wat, `sgdUpdate`).
 *
 * Bit-identical to the ops: each step is one float32 operation (f32x4 lanes),
 * which is what XNNPACK's elementwise kernels and the cpu backend compute
 * (test/unit/optimizer.test.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { simdKernels } from './simd/module';
import { pointer } from './wasm-heap';

export const SGD_UPDATE = 'BnrunSgdUpdate';

/** Attributes of the kernel: one learning rate and momentum, a weight decay per parameter. */
export interface SgdUpdateAllAttrs {
  learningRate: number;
  /** mu; 0: no velocity inputs or outputs. */
  momentum: number;
  /** lambda of parameter i (0: no decay term); its length is the number of parameters. */
  weightDecays: number[];
}

/**
 * Inputs w0, g0, (v0,) w1, g1, ... for every parameter; outputs every new w,
 * then every new v: all the network's parameters in one launch.
 */
const sgdUpdateKernel: tf.KernelFunc = ({ inputs, attrs, backend }) => {
  if (!(backend instanceof BackendWasm)) throw new Error(`${SGD_UPDATE} is registered for the wasm backend only`);
  const a = attrs as unknown as SgdUpdateAllAttrs;
  const momentum = a.momentum > 0;
  const params = a.weightDecays.map((_, i) => {
    const [w, g, v] = [inputs[`w${i}`], inputs[`g${i}`], inputs[`v${i}`]];
    if (!w || !g || momentum !== Boolean(v)) throw new Error(`${SGD_UPDATE}: needs w${i}, g${i}, and v${i} exactly when momentum > 0`);
    for (const t of [w, g, ...(v ? [v] : [])]) {
      if (t.dtype !== 'float32' || t.shape.join() !== w.shape.join()) throw new Error(`${SGD_UPDATE}: float32 tensors of one shape for parameter ${i}`);
    }
    return { w, g, v };
  });
  const wOuts = params.map(({ w }) => backend.makeOutput(w.shape, 'float32'));
  const vOuts = momentum ? params.map(({ w }) => backend.makeOutput(w.shape, 'float32')) : [];
  const k = simdKernels(backend);
  const p = (t: tf.TensorInfo | undefined) => (t ? pointer(backend, t) : 0);
  params.forEach(({ w, g, v }, i) => {
    const lambda = a.weightDecays[i];
    const n = tf.util.sizeFromShape(w.shape);
    k.sgdUpdate(p(w), p(g), p(v), p(wOuts[i]), p(vOuts[i]), n, a.learningRate, a.momentum, lambda, momentum ? 1 : 0, lambda !== 0 ? 1 : 0);
  });
  return [...wOuts, ...vOuts];
};

let registered = false;

export function registerSgdUpdate(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({ kernelName: SGD_UPDATE, backendName: 'wasm', kernelFunc: sgdUpdateKernel });
}

/** Whether the current backend has the fused kernel. */
export function hasSgdUpdate(): boolean {
  registerSgdUpdate();
  return tf.getKernel(SGD_UPDATE, tf.getBackend()) !== undefined;
}
