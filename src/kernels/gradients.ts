/**
 * Gradient overrides for tfjs 4.22, registered once on import.
 *
 * BatchMatMul: the gradient is two products with transposed-operand flags,
 * which every backend runs natively (on wasm, bnrun's GEMM reads a
 * transposed A by strides: src/kernels/wasm-matmul.ts). Unlike the stock
 * gradient, each input's gradient stays lazy, so a network input that needs
 * no gradient (the data) costs nothing.
 */
import * as tf from '@tensorflow/tfjs';

type T = tf.Tensor;

function matMulGrad(dy: T, saved: T[], attrs: tf.NamedAttrMap): Record<string, () => T> {
  const [a, b] = saved;
  const transposeA = Boolean(attrs.transposeA);
  const transposeB = Boolean(attrs.transposeB);
  const mm = (x: T, tx: boolean, y: T, ty: boolean): T => tf.matMul(x, y, tx, ty);
  // C = op(a) op(b): d op(a) = dy op(b)^T and d op(b) = op(a)^T dy, transposed back where op transposed.
  if (!transposeA && !transposeB) return { a: () => mm(dy, false, b, true), b: () => mm(a, true, dy, false) };
  if (!transposeA && transposeB) return { a: () => mm(dy, false, b, false), b: () => mm(dy, true, a, false) };
  if (transposeA && !transposeB) return { a: () => mm(b, false, dy, true), b: () => mm(a, false, dy, false) };
  return { a: () => mm(b, true, dy, true), b: () => mm(dy, true, a, true) };
}

let registered = false;

export function registerGradientOverrides(): void {
  if (registered) return;
  registered = true;
  // tfjs warns when a gradient is overridden; this override is deliberate.
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    tf.registerGradient({ kernelName: tf.BatchMatMul, inputsToSave: ['a', 'b'], gradFunc: (dy, saved, attrs) => matMulGrad(dy as T, saved, attrs) });
  } finally {
    console.warn = warn;
  }
}
