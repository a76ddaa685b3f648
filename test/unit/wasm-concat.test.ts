/**
 * Concat and SplitV along the last axis on wasm (src/kernels/wasm-concat.ts)
 * are copies: they must give the cpu backend's result exactly, for widths
 * that fill whole SIMD lanes and widths that do not, and as the gradient of a
 * concatenation. Other axes take the stock kernels and must agree too.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerKernels } from '../../src/kernels/register';

function data(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Concat of `shapes` along `axis`, then the gradient of sum(concat * r) split back, on `backend`. */
async function run(backend: string, shapes: number[][], axis: number): Promise<{ out: number[]; grads: number[][] }> {
  assert.ok(await tf.setBackend(backend));
  registerKernels();
  return tf.tidy(() => {
    const xs = shapes.map((s, i) => tf.tensor(data(size(s), i + 1), s));
    const out = tf.concat(xs, axis);
    const r = tf.tensor(data(out.size, 99), out.shape);
    const grads = tf.grads((...ts: tf.Tensor[]) => tf.sum(tf.mul(tf.concat(ts, axis), r)))(xs);
    return { out: Array.from(out.dataSync()), grads: grads.map((g) => Array.from(g.dataSync())) };
  });
}

describe('Concat and SplitV on wasm: block copies, exact', () => {
  const cases: [number[][], number][] = [
    [
      [
        [2, 3, 3, 8],
        [2, 3, 3, 4],
        [2, 3, 3, 12],
      ],
      3,
    ],
    [
      [
        [4, 5, 3],
        [4, 5, 1],
        [4, 5, 6],
        [4, 5, 2],
      ],
      -1,
    ],
    [
      [
        [7, 9],
        [7, 0],
        [7, 5],
      ],
      1,
    ],
    [
      [
        [3, 4, 2],
        [2, 4, 2],
      ],
      0,
    ],
  ];
  for (const [shapes, axis] of cases) {
    it(`${JSON.stringify(shapes)} along axis ${axis}: the concatenation and its gradient equal the cpu backend's`, async () => {
      const cpu = await run('cpu', shapes, axis);
      const wasm = await run('wasm', shapes, axis);
      assert.deepEqual(wasm.out, cpu.out);
      assert.deepEqual(wasm.grads, cpu.grads);
    });
  }

  it('tf.split into equal parts along channels', async () => {
    for (const backend of ['cpu', 'wasm']) {
      assert.ok(await tf.setBackend(backend));
      registerKernels();
    }
    const parts = async (backend: string) => {
      await tf.setBackend(backend);
      return tf.tidy(() => tf.split(tf.tensor(data(2 * 3 * 12, 5), [2, 3, 12]), 3, 2).map((t) => Array.from(t.dataSync())));
    };
    assert.deepEqual(await parts('wasm'), await parts('cpu'));
  });
});
