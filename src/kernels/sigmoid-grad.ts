/**
 * The sigmoid's gradient as one wasm kernel. tfjs computes
 * dy * (y * (1 - y)) from the saved output y as three launches (Sub,
 * Multiply, Multiply); the MLP has three sigmoid layers a step. The kernel
 * does the same three float32 operations in the same order, so the result is
 * bit-identical (each operation on float32 values computed in float64 and
 * rounded once is the correctly rounded float32 result).
 */
import * as tf from '@tensorflow/tfjs';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { float32s } from './wasm-heap';

export const SIGMOID_GRAD = 'BnrunSigmoidGrad';

export function sigmoidGradInto(dx: Float32Array, dy: Float32Array, y: Float32Array): void {
  const fr = Math.fround;
  for (let i = 0; i < dx.length; i++) dx[i] = dy[i] * fr(y[i] * fr(1 - y[i]));
}

const kernel: tf.KernelFunc = ({ inputs, backend }) => {
  if (!(backend instanceof BackendWasm)) throw new Error(`${SIGMOID_GRAD} is registered for the wasm backend only`);
  const { dy, y } = inputs;
  if (!dy || !y || dy.dtype !== 'float32' || y.dtype !== 'float32' || dy.shape.join() !== y.shape.join())
    throw new Error(`${SIGMOID_GRAD}: float32 dy and y of one shape`);
  const dx = backend.makeOutput(dy.shape, 'float32');
  const v = (t: tf.TensorInfo) => float32s(backend, t);
  sigmoidGradInto(v(dx), v(dy), v(y));
  return dx;
};

let registered = false;

/** The kernel on wasm, and the Sigmoid gradient that uses it where it is registered (tfjs's formula elsewhere). */
export function registerSigmoidGrad(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({ kernelName: SIGMOID_GRAD, backendName: 'wasm', kernelFunc: kernel });
  const gradFunc = (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const [y] = saved;
    const d = dy as tf.Tensor;
    const fused = tf.getKernel(SIGMOID_GRAD, tf.getBackend()) !== undefined;
    return { x: () => (fused ? (tf.engine().runKernel(SIGMOID_GRAD, { dy: d, y }) as tf.Tensor) : tf.mul(d, tf.mul(y, tf.sub(tf.scalar(1), y)))) };
  };
  // tfjs warns when a gradient is overridden; this override is deliberate.
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    tf.registerGradient({ kernelName: tf.Sigmoid, outputsToSave: [true], gradFunc });
  } finally {
    console.warn = warn;
  }
}
