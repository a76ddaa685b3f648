/**
 * The training loss, softmax cross-entropy averaged over the mini-batch, as
 * one wasm kernel that also writes its gradient. tf.losses.softmaxCrossEntropy
 * is about 35 launches a step forward and backward (logSumExp, casts, the
 * weighted mean and their gradients) on a [60, 10] tensor, where the launch
 * is the whole cost.
 *
 * Per row i of logits l [m, k] with labels y: lse_i = log sum_j exp(l_ij),
 * loss = 1/m sum_i sum_j y_ij (lse_i - l_ij), and
 * dloss/dl_ij = (exp(l_ij - lse_i) - y_ij) / m, the gradient tfjs's own op
 * computes (softmax minus labels, times the mean's 1/m). Sums and exponentials
 * in float64, stored as float32; tested against tf.losses.softmaxCrossEntropy
 * in test/unit/softmax-xent.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { float32s } from './wasm-heap';

export const SOFTMAX_XENT = 'BnrunSoftmaxCrossEntropy';

/** Writes dloss/dlogits into grad and returns the mean loss; logits and labels are [grad.length / k, k]. */
export function softmaxCrossEntropyInto(grad: Float32Array, logits: Float32Array, labels: Float32Array, k: number): number {
  const m = logits.length / k;
  let total = 0;
  for (let r = 0; r < logits.length; r += k) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[r + j]);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(logits[r + j] - max);
    const lse = max + Math.log(sum);
    for (let j = 0; j < k; j++) {
      const y = labels[r + j];
      total += y * (lse - logits[r + j]);
      grad[r + j] = (Math.exp(logits[r + j] - lse) - y) / m;
    }
  }
  return total / m;
}

const kernel: tf.KernelFunc = ({ inputs, backend }) => {
  if (!(backend instanceof BackendWasm)) throw new Error(`${SOFTMAX_XENT} is registered for the wasm backend only`);
  const { logits, labels } = inputs;
  if (
    !logits ||
    !labels ||
    logits.dtype !== 'float32' ||
    labels.dtype !== 'float32' ||
    logits.shape.length !== 2 ||
    logits.shape.join() !== labels.shape.join()
  ) {
    throw new Error(`${SOFTMAX_XENT}: float32 logits and labels of one [m, k] shape`);
  }
  // Allocate first: growing the wasm heap detaches views taken before it.
  const loss = backend.makeOutput([], 'float32');
  const grad = backend.makeOutput(logits.shape, 'float32');
  const v = (t: tf.TensorInfo) => float32s(backend, t);
  v(loss)[0] = softmaxCrossEntropyInto(v(grad), v(logits), v(labels), logits.shape[1]);
  return [loss, grad];
};

let registered = false;

export function registerSoftmaxCrossEntropy(): void {
  if (registered) return;
  registered = true;
  tf.registerKernel({ kernelName: SOFTMAX_XENT, backendName: 'wasm', kernelFunc: kernel });
}

/** Whether the current backend has the fused kernel. */
export function hasSoftmaxCrossEntropy(): boolean {
  registerSoftmaxCrossEntropy();
  return tf.getKernel(SOFTMAX_XENT, tf.getBackend()) !== undefined;
}

/**
 * The mean softmax cross-entropy with its gradient with respect to the logits
 * (the labels are data: no gradient flows to them).
 */
export function fusedCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor2D): tf.Scalar {
  const f = (l: tf.Tensor, save: tf.GradSaveFunc) => {
    const [loss, grad] = tf.engine().runKernel(SOFTMAX_XENT, { logits: l, labels }) as tf.Tensor[];
    save([grad]);
    return { value: loss, gradFunc: (dy: tf.Tensor, [g]: tf.Tensor[]) => tf.mul(g, dy) };
  };
  return (tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (l: tf.Tensor) => tf.Scalar)(logits);
}
