/**
 * What a WebGPU adapter is, in the terms backend selection needs: a name to
 * print and record, and whether it is a real GPU or a CPU emulating one.
 * Kept free of Dawn so the child-process probe and the selector share it.
 */

/** The fields of GPUAdapterInfo bnrun reads (Dawn fills them from the Vulkan driver). */
export interface RawAdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

export interface AdapterSummary {
  /** The driver's description (e.g. "NVIDIA H200" or "llvmpipe: Mesa 25.0.7 ..."), else vendor and device. */
  name: string;
  vendor: string;
  architecture: string;
  /** A CPU emulating a GPU: correct, but far slower than the wasm backend on the same CPU. */
  emulated: boolean;
  /** Why it counts as emulated (or as a real GPU). */
  evidence: string;
}

/** Software Vulkan/WebGPU implementations, by the names their drivers report. */
const EMULATORS = /llvmpipe|lavapipe|swiftshader|softpipe|software rasterizer/i;

export function summarizeAdapter(info: RawAdapterInfo): AdapterSummary {
  const vendor = info.vendor ?? '';
  const architecture = info.architecture ?? '';
  const name = (info.description ?? '').trim() || [vendor, info.device ?? ''].filter(Boolean).join(' ') || 'unnamed adapter';
  const text = `${vendor} ${architecture} ${info.device ?? ''} ${name}`;
  let evidence = '';
  // Dawn marks CPU adapters as fallback adapters; the names and "software" architecture catch drivers that do not.
  if (info.isFallbackAdapter === true) evidence = 'the driver marks it as a fallback (CPU) adapter';
  else if (architecture.toLowerCase() === 'software') evidence = 'its architecture is "software"';
  else if (EMULATORS.test(text)) evidence = `its name says ${EMULATORS.exec(text)?.[0]}, a CPU implementation`;
  return { name, vendor, architecture, emulated: evidence !== '', evidence: evidence || 'a hardware adapter' };
}
