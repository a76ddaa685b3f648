/**
 * Identity on wasm without a copy. tfjs's engine clones every tensor it saves
 * for a gradient (engine.clone runs the Identity kernel), and tfjs-wasm's
 * Identity copies the data, while the cpu backend's shares it by reference
 * count, as tfjs-wasm's own Reshape does. tfjs tensors are immutable (a
 * variable's assign swaps its data, it never writes into it) and no wasm
 * kernel writes into its inputs, so sharing is safe. A training step of the
 * MNIST MLP saves about 20 tensors, the input batch and the weight matrices
 * among them.
 */
import * as tf from '@tensorflow/tfjs';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

const identityKernel: tf.KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs;
  if (!(backend instanceof BackendWasm) || !x) throw new Error('Identity: the shared-data kernel is registered for the wasm backend only');
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

let registered = false;

export function registerWasmIdentity(): void {
  if (registered) return;
  registered = true;
  if (tf.getKernel(tf.Identity, 'wasm')) tf.unregisterKernel(tf.Identity, 'wasm');
  tf.registerKernel({ kernelName: tf.Identity, backendName: 'wasm', kernelFunc: identityKernel });
}
