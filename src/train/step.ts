/**
 * One SGD step: forward in training mode (BN uses mini-batch statistics and
 * updates its moving averages), softmax cross-entropy, backward, update.
 * Resolves to the mini-batch loss as a number; reading it back is also what
 * lets the loop notice divergence at the exact step (on webgpu the read waits
 * for the step's GPU work).
 */
import * as tf from '@tensorflow/tfjs';
import { Batch } from '../data/batches';
import { Network } from '../networks/network';
import { fusedCrossEntropy, hasSoftmaxCrossEntropy } from '../kernels/softmax-xent';
import { readScalar } from '../tensor-read';
import { Sgd } from './optimizer';

/** The mean softmax cross-entropy: one fused kernel on wasm (src/kernels/softmax-xent.ts), tfjs's op elsewhere. */
export function crossEntropy(logits: tf.Tensor2D, oneHot: tf.Tensor2D): tf.Scalar {
  return hasSoftmaxCrossEntropy() ? fusedCrossEntropy(logits, oneHot) : (tf.losses.softmaxCrossEntropy(oneHot, logits) as tf.Scalar);
}

export async function trainStep(net: Network, optimizer: Sgd, batch: Batch, learningRate: number): Promise<number> {
  const loss = tf.tidy(() => {
    const vars = net.trainable.map((p) => p.variable);
    const { value, grads } = tf.variableGrads(() => crossEntropy(net.forward(batch.x, 'train').logits, batch.y), vars);
    optimizer.apply(grads, learningRate);
    return value;
  });
  try {
    return await readScalar(loss);
  } finally {
    loss.dispose();
  }
}
