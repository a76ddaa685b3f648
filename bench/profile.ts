/**
 * `node dist/bench/profile.js CONFIG [--steps N] [--warmup N]`: where a
 * training step's time goes on the wasm backend. Runs trainStep as
 * `bnrun train` does and times every kernel launch with tf.profile, summed
 * by kernel name and input shapes over the profiled steps. Kernels that
 * bnrun builds from other kernels (the wasm convolution gradients) are listed
 * with their inner kernels included; their inner kernels are listed too.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend';
import { loadConfig } from '../src/config/load';
import { stepHarness } from './step-harness';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file || file.startsWith('--')) throw new Error('usage: profile.js CONFIG [--steps N] [--warmup N] [--top N] [--by-shape]');
  await selectBackend('wasm');
  const cfg = loadConfig(path.resolve(file));
  const harness = stepHarness(cfg);
  const step = async () => {
    await harness.step();
  };
  const warmup = arg('--warmup', 5);
  const steps = arg('--steps', 5);
  const byShape = process.argv.includes('--by-shape');
  for (let i = 0; i < warmup; i++) await step();
  const totals = new Map<string, { ms: number; calls: number }>();
  let wall = 0;
  let launches = 0;
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    const info = await tf.profile(step);
    wall += performance.now() - t;
    for (const k of info.kernels) {
      const key = byShape ? `${k.name} ${JSON.stringify(k.inputShapes)}` : k.name;
      const e = totals.get(key) ?? { ms: 0, calls: 0 };
      e.ms += Number(k.kernelTimeMs);
      e.calls += 1;
      totals.set(key, e);
      launches++;
    }
  }
  const rows = [...totals].sort((a, b) => b[1].ms - a[1].ms).slice(0, arg('--top', 30));
  console.log(
    `${cfg.name}: ${(wall / steps).toFixed(2)} ms/step under the profiler, ${(launches / steps).toFixed(0)} kernel launches/step (inner kernels included)`,
  );
  for (const [name, e] of rows) console.log(`${(e.ms / steps).toFixed(3).padStart(9)} ms ${(e.calls / steps).toFixed(0).padStart(5)}x  ${name}`);
}

main().catch((e: unknown) => {
  console.error(`profile: ${(e as Error).message}`);
  process.exitCode = 1;
});
