/**
 * Reading tensor values back into JavaScript. wasm, cpu and tensorflow keep
 * tensors in host memory and read synchronously, which is cheapest. webgpu
 * keeps them on the GPU, and under Node its dataSync() fails (it goes through
 * OffscreenCanvas, which Node lacks): there the read is the asynchronous one,
 * which waits for the queued GPU work. Every read of values goes through here.
 */
import * as tf from '@tensorflow/tfjs';

const SYNC_READ_BACKENDS = new Set(['cpu', 'wasm', 'tensorflow']);

/** The tensor's values: synchronously where the backend allows it, else awaited. */
export async function readValues(t: tf.Tensor): Promise<tf.TypedArray> {
  return SYNC_READ_BACKENDS.has(tf.getBackend()) ? t.dataSync() : t.data();
}

/** The first (for a scalar, the only) value. */
export async function readScalar(t: tf.Tensor): Promise<number> {
  return (await readValues(t))[0];
}
