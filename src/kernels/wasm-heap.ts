/**
 * Tensors on tfjs-backend-wasm's heap, read and written where they lie: the
 * views, addresses and scratch that bnrun's wasm kernels share. A view is
 * valid until the heap grows (any allocation may grow it), so a kernel
 * allocates its outputs first and takes its views after.
 */
import * as tf from '@tensorflow/tfjs';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/** The WebAssembly memory object (TypeScript declares the type in lib "dom" only, which this project leaves out). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}

/** What bnrun uses of the emscripten module behind BackendWasm (not in its typings). */
interface Heap {
  HEAPU8: Uint8Array;
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  asm?: { memory?: WasmMemory };
}

function heap(backend: BackendWasm): Heap {
  return backend.wasm as unknown as Heap;
}

/** The backend's memory, for modules that import it; undefined where its build does not expose it. */
export function heapMemory(backend: BackendWasm): WasmMemory | undefined {
  return heap(backend).asm?.memory;
}

/** A float32 tensor's values as a view of the heap (no copy). */
export function float32s(backend: BackendWasm, t: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** A tensor's address on the heap, as a byte offset. */
export function pointer(backend: BackendWasm, t: tf.TensorInfo): number {
  return backend.typedArrayFromHeap(t).byteOffset;
}

/** `n` float64 values on the heap at byte offset `at`, as a view. */
export function float64s(backend: BackendWasm, at: number, n: number): Float64Array {
  return new Float64Array(heap(backend).HEAPU8.buffer, at, n);
}

/**
 * Runs `f` with `bytes` of scratch on the heap at `at` (a byte offset,
 * 8-aligned), freed afterwards; zeroed first when `zeroed` (for kernels that
 * accumulate into it). Allocating can grow the heap, which detaches views
 * taken before: `f` takes its views itself.
 */
export function withScratch<T>(backend: BackendWasm, bytes: number, zeroed: boolean, f: (at: number) => T): T {
  const h = heap(backend);
  const at = h._malloc(bytes) >>> 0;
  try {
    if (zeroed) h.HEAPU8.fill(0, at, at + bytes);
    return f(at);
  } finally {
    h._free(at);
  }
}
