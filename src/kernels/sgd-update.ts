/**
 * The SGD update of one parameter as one wasm kernel (`SgdUpdate`):
 *   g <- g + lambda w;  v <- mu v + g;  w <- w - lr v      (src/train/optimizer.ts)
 * built from tfjs ops this is 2 to 6 kernel launches per parameter, and the
 * small Inception has ~150 parameters: ~900 launches a step, most of them on
 * tensors of a few hundred entries where the launch is the cost. Here it is
 * one launch for all parameters, a loop per parameter over views of the wasm heap.
 *
 * Bit-identical to the ops: each step is one float32 operation, and in JS a
 * product or sum of two float32 values computed in float64 and rounded to
 * float32 (Math.fround, or the store into a Float32Array) is the correctly
 * rounded float32 result (float64 has more than 2*24 + 2 bits), which is what
 * XNNPACK's elementwise kernels and the cpu backend compute.
 */
import * as tf from '@tensorflow/tfjs';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export const SGD_UPDATE = 'BnrunSgdUpdate';

export interface SgdUpdateAttrs {
  learningRate: number;
  /** mu; 0: no velocity input or output. */
  momentum: number;
  /** lambda; 0: no decay term. */
  weightDecay: number;
}

/**
 * The update on plain arrays: writes wOut (and vOut when momentum > 0). One
 * loop per case, so the common plain-SGD case runs without the branches
 * (about 40% faster on the MLP's 784x100 matrix).
 */
export function sgdUpdateInto(
  wOut: Float32Array,
  vOut: Float32Array | null,
  w: Float32Array,
  g: Float32Array,
  v: Float32Array | null,
  a: SgdUpdateAttrs,
): void {
  const lr = Math.fround(a.learningRate);
  const mu = Math.fround(a.momentum);
  const lambda = Math.fround(a.weightDecay);
  const fr = Math.fround;
  const n = w.length;
  if (v && vOut) {
    for (let i = 0; i < n; i++) {
      const gi = lambda !== 0 ? fr(g[i] + fr(w[i] * lambda)) : g[i];
      const vi = fr(fr(v[i] * mu) + gi);
      vOut[i] = vi;
      wOut[i] = w[i] - fr(vi * lr);
    }
  } else if (lambda !== 0) {
    for (let i = 0; i < n; i++) wOut[i] = w[i] - fr(fr(g[i] + fr(w[i] * lambda)) * lr);
  } else {
    for (let i = 0; i < n; i++) wOut[i] = w[i] - fr(g[i] * lr);
  }
}

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
  // Allocate first: growing the wasm heap detaches views taken before it.
  const wOuts = params.map(({ w }) => backend.makeOutput(w.shape, 'float32'));
  const vOuts = momentum ? params.map(({ w }) => backend.makeOutput(w.shape, 'float32')) : [];
  const view = (t: tf.TensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
  params.forEach(({ w, g, v }, i) => {
    const one: SgdUpdateAttrs = { learningRate: a.learningRate, momentum: a.momentum, weightDecay: a.weightDecays[i] };
    sgdUpdateInto(view(wOuts[i]), momentum ? view(vOuts[i]) : null, view(w), view(g), v ? view(v) : null, one);
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
