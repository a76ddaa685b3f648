/**
 * Choosing the tfjs backend. The native TensorFlow bindings are optional
 * packages (their install downloads libtensorflow, which fails offline), so
 * they are looked up at run time and never imported statically.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { ConfigError } from './errors';
import { registerKernels } from './kernels/register';

export const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendRequest = (typeof BACKENDS)[number];

export interface BackendInfo {
  /** tfjs backend name: tensorflow, wasm or cpu. */
  name: string;
  /** The package that provides it, e.g. @tensorflow/tfjs-node-gpu. */
  provider: string;
  reason: string;
}

const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

/** Loading a native package registers the 'tensorflow' backend as a side effect. */
function tryNative(): { provider: string } | { error: string } {
  const errors: string[] = [];
  for (const pkg of NATIVE_PACKAGES) {
    try {
      require(pkg);
      return { provider: pkg };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      errors.push(code === 'MODULE_NOT_FOUND' ? `${pkg} not installed` : `${pkg} failed to load: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return { error: errors.join('; ') };
}

async function activate(name: string): Promise<boolean> {
  try {
    return (await tf.setBackend(name)) && tf.getBackend() === name;
  } catch {
    return false;
  }
}

export async function selectBackend(request: BackendRequest): Promise<BackendInfo> {
  // Kernels are registered per backend name, so before any backend runs a step.
  registerKernels();
  if (request === 'tensorflow' || request === 'auto') {
    const native = tryNative();
    if ('provider' in native && (await activate('tensorflow'))) {
      return { name: 'tensorflow', provider: native.provider, reason: `${native.provider} loaded` };
    }
    const why = 'error' in native ? native.error : 'the tensorflow backend did not initialise';
    if (request === 'tensorflow') {
      throw new ConfigError(`--backend tensorflow: ${why}; install @tensorflow/tfjs-node (CPU) or @tensorflow/tfjs-node-gpu (CUDA), or use --backend wasm`);
    }
    if (await activate('wasm'))
      return { name: 'wasm', provider: '@tensorflow/tfjs-backend-wasm', reason: `auto: ${why}; wasm (SIMD) is the fastest available` };
    if (await activate('cpu')) return { name: 'cpu', provider: '@tensorflow/tfjs', reason: `auto: ${why}; wasm failed to initialise` };
    throw new ConfigError('no tfjs backend could be initialised');
  }
  if (await activate(request)) {
    const provider = request === 'wasm' ? '@tensorflow/tfjs-backend-wasm' : '@tensorflow/tfjs';
    return { name: request, provider, reason: `requested with --backend ${request}` };
  }
  throw new ConfigError(`--backend ${request}: the backend failed to initialise`);
}
