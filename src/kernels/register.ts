/**
 * Every kernel and gradient bnrun replaces in tfjs 4.22, registered once
 * where the backend is chosen (src/backend.ts), so that importing a layer has
 * no side effect. Code that sets a backend itself (tests, benchmarks) calls
 * this too.
 */
import { registerBatchNormKernels } from './batchnorm-fused';
import { registerGradientOverrides } from './gradients';
import { registerSgdUpdate } from './sgd-update';
import { registerSigmoidGrad } from './sigmoid-grad';
import { registerSoftmaxCrossEntropy } from './softmax-xent';
import { registerWasmConcat } from './wasm-concat';
import { registerWasmConvFixes } from './wasm-conv';
import { registerWasmIdentity } from './wasm-identity';
import { registerWasmMatMul } from './wasm-matmul';

export function registerKernels(): void {
  // The matMul gradient decides most of a training step's time on wasm.
  registerGradientOverrides();
  // Matrix products without XNNPACK's per-call packing of B (wasm).
  registerWasmMatMul();
  // Inception's branch concatenation and its gradient as block copies (wasm).
  registerWasmConcat();
  // Training a convnet on wasm needs a filter-gradient kernel and an exact max-pool gradient;
  // the convolution and pooling gradients also replace slow stock kernels.
  registerWasmConvFixes();
  // One launch per parameter for the SGD update on wasm.
  registerSgdUpdate();
  // BN's training transform as one forward and one backward launch on wasm.
  registerBatchNormKernels();
  // The loss and its gradient as one launch, the sigmoid's gradient as one launch (wasm).
  registerSoftmaxCrossEntropy();
  registerSigmoidGrad();
  // The engine clones every tensor it saves for a gradient: share the data instead of copying it (wasm).
  registerWasmIdentity();
}
