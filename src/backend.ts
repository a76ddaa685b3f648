/**
 * Choosing the tfjs backend. The native TensorFlow bindings are optional peer
 * packages (their install downloads libtensorflow), and the webgpu backend
 * starts Dawn, so both are looked up at run time and never imported statically.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { BackendError, ConfigError } from './errors';
import { AdapterSummary } from './gpu/adapter';
import { probeAdapter, probeGpu } from './gpu/probe';
import { registerWebGpu, requestAdapter } from './gpu/webgpu';
import { registerKernels } from './kernels/register';

export const BACKENDS = ['auto', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendRequest = (typeof BACKENDS)[number];

export const BACKEND_HELP =
  'tfjs backend; auto: tensorflow from @tensorflow/tfjs-node-gpu if installed, else webgpu on a real GPU, else tensorflow from @tensorflow/tfjs-node if installed, else wasm';

export interface BackendInfo {
  /** tfjs backend name: webgpu, tensorflow, wasm or cpu. */
  name: string;
  /** The package that provides it, e.g. @tensorflow/tfjs-backend-webgpu. */
  provider: string;
  reason: string;
  /** The WebGPU adapter that was looked at (used, or rejected by auto), when one was found. */
  adapter?: AdapterSummary;
}

const NATIVE_GPU = '@tensorflow/tfjs-node-gpu';
const NATIVE_CPU = '@tensorflow/tfjs-node';

/** Loading a native package registers the 'tensorflow' backend as a side effect. */
function tryNative(pkg: string): string | null {
  try {
    require(pkg);
    return null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'MODULE_NOT_FOUND' ? `${pkg} not installed` : `${pkg} failed to load: ${(e as Error).message.split('\n')[0]}`;
  }
}

async function activate(name: string): Promise<boolean> {
  try {
    return (await tf.setBackend(name)) && tf.getBackend() === name;
  } catch {
    return false;
  }
}

async function nativeBackend(pkg: string): Promise<{ info: BackendInfo } | { why: string }> {
  const error = tryNative(pkg);
  if (error) return { why: error };
  if (await activate('tensorflow')) return { info: { name: 'tensorflow', provider: pkg, reason: `${pkg} loaded` } };
  return { why: `${pkg}: the tensorflow backend did not initialise` };
}

const WEBGPU_PROVIDER = '@tensorflow/tfjs-backend-webgpu';

/**
 * Starts the webgpu backend in this process, on an adapter a child process
 * has already seen, so that a machine without one gets bnrun's one-line
 * reason and none of Dawn's own driver messages.
 */
async function startWebGpu(): Promise<{ adapter: AdapterSummary } | { why: string; adapter?: AdapterSummary }> {
  const found = await requestAdapter();
  if ('missing' in found) return { why: found.missing };
  const failed = registerWebGpu(found);
  if (failed) return { why: failed.error, adapter: found.summary };
  if (!(await activate('webgpu'))) return { why: `the webgpu backend did not initialise on ${found.summary.name}`, adapter: found.summary };
  return { adapter: found.summary };
}

/**
 * auto's WebGPU step: a real GPU only. A CPU-emulated adapter (lavapipe,
 * SwiftShader) is correct but slower than wasm, so it is never chosen.
 */
async function autoWebGpu(): Promise<{ info: BackendInfo } | { why: string; adapter?: AdapterSummary }> {
  const probe = await probeGpu();
  if ('missing' in probe) return { why: `webgpu: ${probe.missing}` };
  const a = probe.summary;
  if (a.emulated) return { why: `webgpu: adapter ${a.name} is CPU-emulated (${a.evidence}), slower than wasm`, adapter: a };
  const started = await startWebGpu();
  if ('why' in started) return { why: `webgpu: ${started.why}`, adapter: a };
  return { info: { name: 'webgpu', provider: WEBGPU_PROVIDER, reason: `auto: GPU adapter ${a.name}`, adapter: started.adapter } };
}

async function auto(): Promise<BackendInfo> {
  const why: string[] = [];
  const gpu = await nativeBackend(NATIVE_GPU);
  if ('info' in gpu) return gpu.info;
  why.push(gpu.why);
  const webgpu = await autoWebGpu();
  if ('info' in webgpu) return { ...webgpu.info, reason: `auto: ${why.join('; ')}; ${webgpu.info.reason.replace(/^auto: /, '')}` };
  why.push(webgpu.why);
  // The adapter auto looked at and turned down is recorded too.
  const seen = webgpu.adapter ? { adapter: webgpu.adapter } : {};
  const cpu = await nativeBackend(NATIVE_CPU);
  if ('info' in cpu) return { ...cpu.info, reason: `auto: ${why.join('; ')}; ${cpu.info.reason}`, ...seen };
  why.push(cpu.why);
  if (await activate('wasm'))
    return { name: 'wasm', provider: '@tensorflow/tfjs-backend-wasm', reason: `auto: ${why.join('; ')}; wasm (SIMD) is the fastest available`, ...seen };
  if (await activate('cpu')) return { name: 'cpu', provider: '@tensorflow/tfjs', reason: `auto: ${why.join('; ')}; wasm failed to initialise`, ...seen };
  throw new BackendError('no tfjs backend could be initialised');
}

export async function selectBackend(request: BackendRequest): Promise<BackendInfo> {
  // Kernels are registered per backend name, so before any backend runs a step.
  registerKernels();
  if (request === 'auto') return auto();
  if (request === 'tensorflow') {
    const why: string[] = [];
    for (const pkg of [NATIVE_GPU, NATIVE_CPU]) {
      const native = await nativeBackend(pkg);
      if ('info' in native) return native.info;
      why.push(native.why);
    }
    throw new ConfigError(
      `--backend tensorflow: ${why.join('; ')}; install ${NATIVE_CPU} (CPU) or ${NATIVE_GPU} (CUDA) as the README says, or use --backend wasm`,
    );
  }
  if (request === 'webgpu') {
    const probe = await probeAdapter();
    if ('missing' in probe) throw new BackendError(`--backend webgpu: ${probe.missing}`);
    const started = await startWebGpu();
    if ('why' in started) throw new BackendError(`--backend webgpu: ${started.why}`);
    const a = started.adapter;
    const note = a.emulated ? `; ${a.name} is CPU-emulated (${a.evidence}): correct, but slower than --backend wasm` : '';
    return { name: 'webgpu', provider: WEBGPU_PROVIDER, reason: `requested with --backend webgpu on adapter ${a.name}${note}`, adapter: a };
  }
  if (await activate(request)) {
    const provider = request === 'wasm' ? '@tensorflow/tfjs-backend-wasm' : '@tensorflow/tfjs';
    return { name: request, provider, reason: `requested with --backend ${request}` };
  }
  throw new BackendError(`--backend ${request}: the backend failed to initialise`);
}
