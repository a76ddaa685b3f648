/**
 * `npm run bench`: milliseconds per training step of the paper's networks on
 * every tfjs backend this machine has, beside PyTorch on the same machine
 * (bench/torch_mlp.py, one thread), as ratios. Real MNIST batches, the same
 * code path as `bnrun train` (Batcher + trainStep), median over timed steps
 * after a warm-up.
 *
 *   npm run bench                 # all backends, both MNIST nets, PyTorch reference
 *   npm run bench -- --steps 500  # more timed steps
 *   npm run bench -- --figure1    # also time the full Figure 1 (both nets, 50k steps)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { BACKENDS, selectBackend } from '../src/backend';
import { loadConfig } from '../src/config/load';
import { Config } from '../src/config/schema';
import { Batcher } from '../src/data/batches';
import { loadMnist } from '../src/data/mnist';
import { buildNetwork } from '../src/networks/build';
import { Rng } from '../src/rng';
import { Sgd } from '../src/train/optimizer';
import { trainStep } from '../src/train/step';
import { train } from '../src/train/train';

const ROOT = path.resolve(__dirname, '..', '..');
const NETS = ['mnist-baseline', 'mnist-bn'] as const;
const TORCH_PYTHON = '/usr/bin/python3';

interface Row {
  net: string;
  backend: string;
  msPerStep: number;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function shippedConfig(net: string): Config {
  return loadConfig(path.join(ROOT, 'configs', `${net}.json`));
}

/** Times trainStep exactly as the training loop calls it, batch gather and disposal included. */
function timeSteps(cfg: Config, warmup: number, timed: number): number {
  if (cfg.data.dataset === 'imagenet') throw new Error('bench times the MNIST nets only');
  const data = loadMnist({ dataset: cfg.data.dataset, path: cfg.data.path });
  const rng = new Rng(cfg.seed);
  const net = buildNetwork(cfg.model, rng.fork('init'));
  const optimizer = new Sgd(cfg.optimizer, net.trainable);
  const batcher = new Batcher(data.train, cfg.training.batchSize, rng.fork('data'), data.classes);
  const times: number[] = [];
  for (let i = 0; i < warmup + timed; i++) {
    const t = performance.now();
    const batch = batcher.next();
    trainStep(net, optimizer, batch, cfg.optimizer.learningRate);
    tf.dispose([batch.x, batch.y]);
    if (i >= warmup) times.push(performance.now() - t);
  }
  for (const p of net.trainable) p.variable.dispose();
  // gamma and beta are among net.trainable; only the statistics are left.
  for (const bn of net.batchNorms) tf.dispose(bn.statistics);
  return median(times);
}

/** PyTorch's ms/step for each net, or null with the reason. */
function torchReference(steps: number): { rows: Map<string, number>; version: string; blas: string } | { skipped: string } {
  if (!fs.existsSync(TORCH_PYTHON)) return { skipped: `${TORCH_PYTHON} not found` };
  const r = spawnSync(TORCH_PYTHON, [path.join(ROOT, 'bench', 'torch_mlp.py'), '--json', '--steps', String(steps)], { encoding: 'utf8' });
  if (r.status !== 0) return { skipped: (r.stderr || `exit ${r.status}`).trim().split('\n').pop() ?? 'failed' };
  const rows = new Map<string, number>();
  let version = '';
  let blas = '';
  for (const line of r.stdout.trim().split('\n')) {
    const j = JSON.parse(line) as { net: string; ms_per_step_median: number; torch: string; blas: string };
    rows.set(j.net === 'bn' ? 'mnist-bn' : 'mnist-baseline', j.ms_per_step_median);
    version = j.torch;
    blas = j.blas;
  }
  return { rows, version, blas };
}

async function figure1(): Promise<void> {
  const backend = await selectBackend('auto');
  let total = 0;
  for (const net of NETS) {
    const cfg = shippedConfig(net);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), `bnrun-bench-${net}-`));
    const s = await train({ config: cfg, configSource: `configs/${net}.json`, outDir: out, backend, tty: false });
    console.log(`figure 1 ${net}: ${s.wallTimeS.toFixed(1)} s wall (${cfg.training.steps} steps, evaluations included), ${s.trainMsPerStep.toFixed(3)} ms/step, final accuracy ${(s.final?.accuracy ?? NaN).toFixed(4)}`);
    total += s.wallTimeS;
    fs.rmSync(out, { recursive: true, force: true });
  }
  console.log(`figure 1 total: ${total.toFixed(1)} s on ${backend.name}`);
}

async function main(): Promise<void> {
  const timed = arg('--steps', 300);
  const warmup = arg('--warmup', 100);
  const rows: Row[] = [];
  const skipped: string[] = [];
  for (const backend of BACKENDS.filter((b) => b !== 'auto')) {
    try {
      await selectBackend(backend);
    } catch (e) {
      skipped.push(`${backend}: ${(e as Error).message}`);
      continue;
    }
    // The cpu backend is a slow reference: fewer steps keep the bench short.
    const scale = backend === 'cpu' ? 0.1 : 1;
    for (const net of NETS) {
      rows.push({ net, backend, msPerStep: timeSteps(shippedConfig(net), Math.ceil(warmup * scale), Math.ceil(timed * scale)) });
    }
  }
  const torch = torchReference(Math.max(timed, 1000));
  const ref = 'rows' in torch ? torch.rows : new Map<string, number>();
  console.log(`bnrun bench: median ms per training step after warm-up, batch 60, real MNIST; ${os.cpus().length} cores, node ${process.version}, tfjs ${tf.version.tfjs}`);
  console.log('reference: ' + ('rows' in torch ? `PyTorch ${torch.version}, 1 thread, BLAS ${torch.blas} (bench/torch_mlp.py)` : `PyTorch skipped: ${torch.skipped}`));
  console.log('');
  console.log(['network'.padEnd(16), 'backend'.padEnd(11), 'ms/step'.padStart(9), 'pytorch'.padStart(9), 'ratio'.padStart(7)].join(' '));
  for (const r of rows) {
    const t = ref.get(r.net);
    console.log(
      [r.net.padEnd(16), r.backend.padEnd(11), r.msPerStep.toFixed(3).padStart(9), (t ? t.toFixed(3) : '-').padStart(9), (t ? `${(r.msPerStep / t).toFixed(2)}x` : '-').padStart(7)].join(' '),
    );
  }
  for (const s of skipped) console.log(`skipped ${s}`);
  if (process.argv.includes('--figure1')) await figure1();
}

main().catch((e: unknown) => {
  console.error(`bench: ${(e as Error).message}`);
  process.exitCode = 1;
});
