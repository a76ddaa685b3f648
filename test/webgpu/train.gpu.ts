/**
 * Training on the webgpu backend (`npm run test:webgpu`; CI runs it on
 * Mesa's lavapipe, a CPU Vulkan driver, so these are correctness checks,
 * not speed). Needs a WebGPU adapter: without one every test fails with the
 * reason bnrun gives. Not part of `npm test` (file name *.gpu.js), because
 * lavapipe is slow: expect several minutes.
 *
 * - the MNIST smoke run through the CLI on webgpu and on wasm: final accuracy within 1 point;
 * - one training step of the small BN-Inception analog (configs/small/bn-baseline.json:
 *   conv, BN, LRN, max and average pooling, concat, dropout) on a real
 *   Fashion-MNIST batch: loss and gradients against the cpu backend's;
 * - the full-size BN-Inception (configs/imagenet/bn-baseline.json) built on webgpu,
 *   one forward and backward pass at batch 2: the loss against wasm's, every gradient finite.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend';
import { loadConfig } from '../../src/config/load';
import { Config } from '../../src/config/schema';
import { Batcher } from '../../src/data/batches';
import { loadMnist } from '../../src/data/mnist';
import { probeAdapter } from '../../src/gpu/probe';
import { buildNetwork } from '../../src/networks/build';
import { Rng } from '../../src/rng';
import { crossEntropy } from '../../src/train/step';
import { bnrun, ROOT } from '../cli';

const config = (file: string): Config => loadConfig(path.join(ROOT, 'configs', file));

/** On lavapipe against cpu, measured: relative L2 3.5e-6, largest difference 1.0e-5 of the largest gradient. */
const SMALL_L2 = 1e-4;
const SMALL_MAX = 1e-4;

interface Pass {
  loss: number;
  grads: Map<string, Float32Array>;
}

/** Loss and the gradient of every trainable variable for one batch, as trainStep computes them, read asynchronously. */
async function lossAndGradients(cfg: Config, x: Float32Array, labels: Int32Array): Promise<Pass> {
  const net = buildNetwork(cfg.model, new Rng(cfg.seed).fork('init'));
  const xs = tf.tensor2d(x, [labels.length, x.length / labels.length]);
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), cfg.model.classes).toFloat() as tf.Tensor2D);
  const { value, grads } = tf.variableGrads(
    () => crossEntropy(net.forward(xs, 'train').logits, ys),
    net.trainable.map((p) => p.variable),
  );
  const out: Pass = { loss: (await value.data())[0], grads: new Map() };
  for (const p of net.trainable) out.grads.set(p.name, (await grads[p.variable.name].data()) as Float32Array);
  tf.dispose([xs, ys, value, ...Object.values(grads), ...net.trainable.map((p) => p.variable), ...net.batchNorms.flatMap((bn) => bn.statistics)]);
  return out;
}

/**
 * The gradients compared as one vector over every parameter: the relative L2
 * error, and the largest difference relative to the largest gradient value.
 * Per tensor is the wrong scale: in a BN net many gradients (beta feeding the
 * next BN, kernels before BN) are sums that nearly cancel, so float32 rounding
 * alone makes them differ by several percent of their own size between any two
 * backends (cpu and wasm included) while being tiny against the rest.
 */
function gradientError(got: Pass, ref: Pass): { l2: number; max: number } {
  let diff2 = 0;
  let ref2 = 0;
  let diffMax = 0;
  let refMax = 0;
  for (const [name, r] of ref.grads) {
    const g = got.grads.get(name);
    assert.ok(g && g.length === r.length, `${name}: missing or wrong size`);
    for (let i = 0; i < r.length; i++) {
      assert.ok(Number.isFinite(g[i]), `${name}[${i}] is ${g[i]}`);
      const d = g[i] - r[i];
      diff2 += d * d;
      ref2 += r[i] * r[i];
      diffMax = Math.max(diffMax, Math.abs(d));
      refMax = Math.max(refMax, Math.abs(r[i]));
    }
  }
  return { l2: Math.sqrt(diff2 / ref2), max: diffMax / refMax };
}

/** The same computation on a reference backend and on webgpu. */
async function onBoth(reference: 'cpu' | 'wasm', run: () => Promise<Pass>): Promise<{ gpu: Pass; ref: Pass }> {
  await selectBackend(reference);
  const ref = await run();
  await selectBackend('webgpu');
  const gpu = await run();
  return { gpu, ref };
}

describe('training on webgpu', () => {
  before(async () => {
    const probe = await probeAdapter();
    assert.ok(!('missing' in probe), `no WebGPU adapter: ${'missing' in probe ? probe.missing : ''} (CI installs lavapipe: see .ci/run)`);
    await selectBackend('wasm');
  });

  describe('the MNIST smoke run (configs/ci/mnist-bn.json) through the CLI', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-webgpu-'));
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it('completes on webgpu, records the adapter, and ends within 1 point of wasm', () => {
      const summaries: Record<string, { backend: { name: string; adapter?: { name: string } }; final: { accuracy: number } }> = {};
      for (const backend of ['webgpu', 'wasm']) {
        const out = path.join(tmp, backend);
        const r = bnrun(['train', 'configs/ci/mnist-bn.json', '--backend', backend, '--out', out, '--no-progress']);
        assert.equal(r.status, 0, `${backend}: ${r.stderr}`);
        summaries[backend] = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
      }
      const gpu = summaries.webgpu;
      assert.equal(gpu.backend.name, 'webgpu');
      assert.ok(gpu.backend.adapter?.name, 'summary.json names the adapter');
      const diff = Math.abs(gpu.final.accuracy - summaries.wasm.final.accuracy);
      assert.ok(diff <= 0.01, `webgpu ${gpu.final.accuracy} vs wasm ${summaries.wasm.final.accuracy}`);
    });
  });

  // Against cpu, tfjs's float32 reference kernels: the wasm backend's convolution gradients are bnrun's own (src/kernels/), tested there.
  it(`one training step of the small BN-Inception analog: loss to 1e-5, gradients to ${SMALL_L2} (relative L2) and ${SMALL_MAX} of the largest gradient, against cpu`, async () => {
    const cfg = config('small/bn-baseline.json');
    assert.equal(cfg.data.dataset, 'fashion-mnist');
    const data = loadMnist({ dataset: 'fashion-mnist', path: cfg.data.path });
    const batch = new Batcher(data.train, cfg.training.batchSize, new Rng(cfg.seed).fork('data'), data.classes).next();
    const x = (await batch.x.data()) as Float32Array;
    const labels = Int32Array.from(await tf.argMax(batch.y, 1).data());
    tf.dispose([batch.x, batch.y]);
    const { gpu, ref } = await onBoth('cpu', () => lossAndGradients(cfg, x, labels));
    assert.ok(Math.abs(gpu.loss - ref.loss) <= 1e-5 * Math.abs(ref.loss), `loss ${gpu.loss} vs ${ref.loss}`);
    const err = gradientError(gpu, ref);
    assert.ok(err.l2 <= SMALL_L2 && err.max <= SMALL_MAX, `gradients: relative L2 ${err.l2}, largest difference ${err.max} of the largest gradient`);
  });

  it("the full-size BN-Inception: built, one forward and backward pass at batch 2, the loss against wasm's, every gradient finite", async () => {
    const cfg = config('imagenet/bn-baseline.json');
    assert.equal(cfg.model.type, 'inception');
    const rng = new Rng(7);
    const x = Float32Array.from({ length: 2 * 224 * 224 * 3 }, () => rng.next());
    const labels = Int32Array.from([3, 998]);
    const { gpu, ref } = await onBoth('wasm', () => lossAndGradients(cfg, x, labels));
    assert.equal(gpu.grads.size, ref.grads.size);
    assert.ok(Number.isFinite(gpu.loss) && Math.abs(gpu.loss - ref.loss) <= 1e-4 * Math.abs(ref.loss), `loss ${gpu.loss} vs ${ref.loss}`);
    let sumSq = 0;
    for (const [name, g] of gpu.grads) {
      for (const v of g) {
        assert.ok(Number.isFinite(v), `${name}: gradient not finite`);
        sumSq += v * v;
      }
    }
    assert.ok(sumSq > 0, 'every gradient is zero');
  });
});
