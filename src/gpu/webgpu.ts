/**
 * The webgpu backend under Node: Dawn's Node binding (the `webgpu` package,
 * prebuilt, nothing downloaded at install) provides the GPU, and
 * @tensorflow/tfjs-backend-webgpu the kernels. Both are loaded only when this
 * backend is asked for, so other backends never pay for Dawn.
 */
import * as tf from '@tensorflow/tfjs';
import { AdapterSummary, summarizeAdapter } from './adapter';
import { diagnoseNoAdapter } from './vulkan';

type Dawn = typeof import('webgpu', { with: { 'resolution-mode': 'import' } });

export type WebGpuAdapter = { gpu: GPU; adapter: GPUAdapter; summary: AdapterSummary };

function firstLine(e: unknown): string {
  return ((e as Error).message ?? String(e)).split('\n')[0];
}

function missingPackage(e: unknown, pkg: string): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND'
    ? `the ${pkg} package is not installed: run npm ci in bnrun's directory`
    : `the ${pkg} package failed to load (${firstLine(e)}): reinstall it with npm ci`;
}

/** Dawn's adapter, or what is missing for there to be one, as one clause naming what to install. */
export async function requestAdapter(): Promise<WebGpuAdapter | { missing: string }> {
  let dawn: Dawn;
  try {
    // An ES module: a dynamic import from this CommonJS build.
    dawn = await import('webgpu');
  } catch (e) {
    return { missing: missingPackage(e, 'webgpu') };
  }
  // tfjs-backend-webgpu refers to these as globals (GPUBufferUsage, GPUMapMode, GPUTexture, ...), as in a browser.
  const globals = dawn.globals as Record<string, unknown>;
  for (const [k, v] of Object.entries(globals)) if (!(k in globalThis)) Object.assign(globalThis, { [k]: v });
  let gpu: GPU;
  let adapter: GPUAdapter | null;
  try {
    gpu = dawn.create([]);
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return { missing: `Dawn failed to start (${firstLine(e)}); ${diagnoseNoAdapter()}` };
  }
  if (!adapter) return { missing: diagnoseNoAdapter() };
  // GPUAdapterInfo's fields are getters on its prototype: spreading it would copy nothing.
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const { vendor, architecture, device, description, isFallbackAdapter } = info;
  return { gpu, adapter, summary: summarizeAdapter({ vendor, architecture, device, description, isFallbackAdapter }) };
}

/**
 * Registers tfjs's 'webgpu' backend on this adapter, with the device
 * features and limits tfjs-backend-webgpu asks for in a browser.
 */
export function registerWebGpu({ gpu, adapter }: WebGpuAdapter): { error: string } | null {
  let WebGPUBackend: typeof import('@tensorflow/tfjs-backend-webgpu').WebGPUBackend;
  try {
    // Registers the webgpu kernels; in Node there is no navigator.gpu, so it registers no backend of its own.
    // Required here, not imported at the top: only a run that asks for webgpu pays for loading it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ({ WebGPUBackend } = require('@tensorflow/tfjs-backend-webgpu') as typeof import('@tensorflow/tfjs-backend-webgpu'));
  } catch (e) {
    return { error: missingPackage(e, '@tensorflow/tfjs-backend-webgpu') };
  }
  if (tf.findBackendFactory('webgpu')) return null;
  // WebGPUBackend's constructor refuses to run unless navigator.gpu exists (Node 20 has no navigator; 21+ has one without gpu).
  const g = globalThis as { navigator?: object };
  if (g.navigator === undefined) g.navigator = {};
  if (!('gpu' in g.navigator)) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  const limits = adapter.limits;
  const requiredFeatures = (['timestamp-query', 'bgra8unorm-storage'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  tf.registerBackend('webgpu', async () => {
    const device = await adapter.requestDevice({
      requiredFeatures,
      requiredLimits: {
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      },
    });
    return new WebGPUBackend(device, adapter.info);
  });
  return null;
}
