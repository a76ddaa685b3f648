/**
 * Every kernel and gradient bnrun replaces in tfjs 4.22, registered once
 * where the backend is chosen (src/backend.ts), so that importing a layer has
 * no side effect. Code that sets a backend itself (tests, benchmarks) calls
 * this too.
 */
import { registerBatchNormKernels } from './batchnorm-fused';
import { registerGradientOverrides } from './gradients';
import { registerSgdUpdate } from './sgd-update';
import { registerWasmConvFixes } from './wasm-conv';

export function registerKernels(): void {
  // The matMul gradient decides most of a training step's time on wasm.
  registerGradientOverrides();
  // Training a convnet on wasm needs a filter-gradient kernel and an exact max-pool gradient;
  // the convolution and pooling gradients also replace slow stock kernels.
  registerWasmConvFixes();
  // One launch per parameter for the SGD update on wasm.
  registerSgdUpdate();
  // BN's training transform as one forward and one backward launch on wasm.
  registerBatchNormKernels();
}
