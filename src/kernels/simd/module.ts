/**
 * The SIMD kernels (kernels.wat, assembled to kernels.wasm by the build)
 * instantiated on the wasm backend's heap: they import tfjs-backend-wasm's
 * memory, so they read and write tensors where they lie, by pointer. Loaded
 * on first use, once per heap.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { heapMemory, WasmMemory } from '../wasm-heap';

/** The exports of kernels.wat; every pointer is a byte offset into the heap. */
export interface SimdKernels {
  // SGD (src/kernels/sgd-update.ts)
  sgdUpdate(
    w: number,
    g: number,
    v: number,
    wOut: number,
    vOut: number,
    n: number,
    lr: number,
    mu: number,
    lambda: number,
    momentum: number,
    decay: number,
  ): void;
  // BN forward (src/kernels/batchnorm-fused.ts)
  channelSum(x: number, rows: number, c: number, sum: number): void;
  channelSquaredDeviation(x: number, rows: number, c: number, mu: number, sq: number): void;
  normalize(x: number, rows: number, c: number, mu: number, invStd: number, gamma: number, beta: number, xhat: number, y: number): void;
  // BN backward
  gradientSums(dy: number, xhat: number, rows: number, c: number, sb: number, sg: number): void;
  inputGradient(dy: number, xhat: number, rows: number, c: number, scale: number, sb: number, sg: number, dx: number): void;
  // matrix products (src/kernels/wasm-matmul.ts)
  gemm(a: number, sai4: number, sak4: number, b: number, c: number, m: number, n: number, k: number): void;
  transpose(src: number, rows: number, cols: number, dst: number): void;
  // concatenation and split (src/kernels/wasm-concat.ts)
  copyBlock(src: number, srcStride: number, dst: number, dstStride: number, rows: number, w: number): void;
}

/** The part of the WebAssembly JS API used here (TypeScript declares it in lib "dom" only, which this project leaves out). */
interface WasmApi {
  Memory: abstract new (...args: never[]) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const WASM_FILE = path.join(__dirname, 'kernels.wasm');
let compiled: object | null = null;
const instances = new WeakMap<WasmMemory, SimdKernels>();

/** The kernels on this backend's heap. */
export function simdKernels(backend: BackendWasm): SimdKernels {
  const memory = heapMemory(backend);
  if (!(memory instanceof wasm.Memory)) throw new Error('tfjs-backend-wasm does not expose its memory (asm.memory): the SIMD kernels need it');
  let kernels = instances.get(memory);
  if (!kernels) {
    if (!fs.existsSync(WASM_FILE)) throw new Error(`${WASM_FILE} is missing: run \`npm run build\` (it assembles src/kernels/simd/kernels.wat)`);
    compiled ??= new wasm.Module(fs.readFileSync(WASM_FILE));
    kernels = new wasm.Instance(compiled, { env: { memory } }).exports as unknown as SimdKernels;
    instances.set(memory, kernels);
  }
  return kernels;
}
