/**
 * Replacing one of tfjs-backend-wasm's kernels while keeping it as the
 * fallback: bnrun's version handles the cases it is written for and hands
 * every other call to the stock kernel it displaced.
 */
import * as tf from '@tensorflow/tfjs';

/** Registers `make(stock)` for `kernelName` on wasm in place of the stock kernel; nothing where wasm has none. */
export function overrideWasmKernel(kernelName: string, make: (stock: tf.KernelFunc) => tf.KernelFunc): void {
  const stock = tf.getKernel(kernelName, 'wasm');
  if (!stock) return;
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: make(stock.kernelFunc) });
}
