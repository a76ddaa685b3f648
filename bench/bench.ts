/**
 * `npm run bench`: milliseconds per training step of the paper's networks on
 * every tfjs backend this machine has, beside PyTorch on the same machine
 * (bench/torch_mlp.py for the MNIST MLPs, bench/torch_inception.py for the
 * small Inception analogs; one thread), as ratios. Real MNIST / Fashion-MNIST
 * batches, the same code path as `bnrun train` (buildNetwork, Sgd, Batcher,
 * trainStep), median over timed steps after a warm-up.
 *
 *   npm run bench                          # all backends, all nets, PyTorch reference
 *   npm run bench -- --steps 500           # more timed steps for the MNIST nets
 *   npm run bench -- --conv-steps 100      # more timed steps for the Inception analogs
 *   npm run bench -- --nets mnist-bn,small-inception --backends wasm
 *   npm run bench -- --cpu-conv            # also the Inception analogs on the cpu backend (minutes)
 *   npm run bench -- --backends webgpu --nets bn-inception   # full-size BN-Inception, batch 32, on a GPU
 *   npm run bench -- --figure1             # also time the full Figure 1 (both MNIST nets, 50k steps)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { BACKENDS, BackendInfo, BackendRequest, selectBackend } from '../src/backend';
import { loadConfig } from '../src/config/load';
import { Config } from '../src/config/schema';
import { describeModel } from '../src/config/model-plan';
import { train } from '../src/train/train';
import { stepHarness } from './step-harness';

const ROOT = path.resolve(__dirname, '..', '..');
const TORCH_PYTHON = '/usr/bin/python3';

/** Which PyTorch script times the net: the MLPs and the convnets need different networks and data; none for the full-size nets. */
type Reference = 'mlp' | 'inception' | 'none';

interface BenchNet {
  /** Row label, and the `net` field of the reference script's JSON (torch_inception.py uses the config's name). */
  id: string;
  config: string;
  reference: Reference;
  /** Full-size ImageNet nets: timed on random 224x224 batches, and only when named in --nets. */
  full?: boolean;
}

const NETS: readonly BenchNet[] = [
  { id: 'mnist-baseline', config: 'configs/mnist-baseline.json', reference: 'mlp' },
  { id: 'mnist-bn', config: 'configs/mnist-bn.json', reference: 'mlp' },
  { id: 'small-inception', config: 'configs/small/inception.json', reference: 'inception' },
  { id: 'small-bn-x5', config: 'configs/small/bn-x5.json', reference: 'inception' },
  { id: 'bn-inception', config: 'configs/imagenet/bn-baseline.json', reference: 'none', full: true },
];

interface Row {
  net: BenchNet;
  backend: string;
  batch: number;
  msPerStep: number;
  /** This process's CPU time per step (median): what the step costs when other jobs share the cores. */
  cpuMsPerStep: number;
  steps: number;
}

interface TorchRow {
  msPerStep: number;
  cpuMsPerStep: number | null;
  /** torch_inception.py counts its parameters; torch_mlp.py does not. */
  parameters: number | null;
}

type TorchResult = { rows: Map<string, TorchRow>; version: string; blas: string } | { skipped: string };

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} needs a non-negative integer, got ${process.argv[i + 1]}`);
  return v;
}

function selectedNets(): BenchNet[] {
  const i = process.argv.indexOf('--nets');
  if (i < 0) return NETS.filter((n) => !n.full);
  const ids = (process.argv[i + 1] ?? '').split(',').filter((s) => s !== '');
  const unknown = ids.filter((id) => !NETS.some((n) => n.id === id));
  if (ids.length === 0 || unknown.length > 0) {
    throw new Error(`--nets: unknown ${unknown.length > 0 ? unknown.join(', ') : '(empty list)'}; choose from ${NETS.map((n) => n.id).join(', ')}`);
  }
  return NETS.filter((n) => ids.includes(n.id));
}

function explicitBackends(): boolean {
  return process.argv.includes('--backends');
}

function selectedBackends(): BackendRequest[] {
  const all = BACKENDS.filter((b) => b !== 'auto');
  const i = process.argv.indexOf('--backends');
  if (i < 0) return all;
  const names = (process.argv[i + 1] ?? '').split(',').filter((s) => s !== '');
  const unknown = names.filter((b) => !all.some((a) => a === b));
  if (names.length === 0 || unknown.length > 0) {
    throw new Error(`--backends: unknown ${unknown.length > 0 ? unknown.join(', ') : '(empty list)'}; choose from ${all.join(', ')}`);
  }
  return all.filter((b) => names.includes(b));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function shippedConfig(net: BenchNet): Config {
  return loadConfig(path.join(ROOT, net.config));
}

/** Times trainStep exactly as the training loop calls it, batch gather and disposal included: median wall and CPU ms. */
async function timeSteps(cfg: Config, warmup: number, timed: number): Promise<{ wall: number; cpu: number }> {
  const harness = stepHarness(cfg);
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < warmup + timed; i++) {
    const t = performance.now();
    const c = process.cpuUsage();
    await harness.step();
    if (i >= warmup) {
      times.push(performance.now() - t);
      const u = process.cpuUsage(c);
      cpu.push((u.user + u.system) / 1000);
    }
  }
  harness.dispose();
  return { wall: median(times), cpu: median(cpu) };
}

/** Runs one reference script; its stdout is one JSON object per line. */
function runTorch(script: string, args: string[]): TorchResult {
  const r = spawnSync(TORCH_PYTHON, [path.join(ROOT, 'bench', script), '--json', ...args], { encoding: 'utf8' });
  if (r.error) return { skipped: `${script}: ${r.error.message}` };
  // Exit 3 is the scripts' "torch is not installed"; other failures are reported the same way, by their last line.
  if (r.status !== 0) return { skipped: `${script}: ${(r.stderr || `exit ${r.status}`).trim().split('\n').pop() ?? 'failed'}` };
  const rows = new Map<string, TorchRow>();
  let version = '';
  let blas = '';
  for (const line of r.stdout.trim().split('\n')) {
    const j = JSON.parse(line) as {
      net: string;
      ms_per_step_median: number;
      cpu_ms_per_step_median?: number;
      torch: string;
      blas: string;
      parameters?: number;
      config?: string;
    };
    // torch_mlp.py names its nets baseline and bn; torch_inception.py gives the config file it read,
    // which identifies the row even if the config's name changes.
    const byConfig = j.config === undefined ? undefined : NETS.find((n) => n.config === j.config)?.id;
    const id = byConfig ?? (j.net === 'bn' ? 'mnist-bn' : j.net === 'baseline' ? 'mnist-baseline' : j.net);
    rows.set(id, { msPerStep: j.ms_per_step_median, cpuMsPerStep: j.cpu_ms_per_step_median ?? null, parameters: j.parameters ?? null });
    version = j.torch;
    blas = j.blas;
  }
  return { rows, version, blas };
}

/** PyTorch's ms/step for the selected nets, one script per kind of network, or why each was skipped. */
function torchReference(nets: BenchNet[], mlpSteps: number, convSteps: number, convWarmup: number): Map<Reference, TorchResult> {
  const out = new Map<Reference, TorchResult>();
  if (!fs.existsSync(TORCH_PYTHON)) {
    for (const n of nets) if (n.reference !== 'none') out.set(n.reference, { skipped: `${TORCH_PYTHON} not found` });
    return out;
  }
  const mlp = nets.filter((n) => n.reference === 'mlp');
  if (mlp.length > 0) {
    const which = mlp.length === 2 ? 'both' : mlp[0].id === 'mnist-bn' ? 'bn' : 'baseline';
    out.set('mlp', runTorch('torch_mlp.py', ['--net', which, '--steps', String(mlpSteps)]));
  }
  const conv = nets.filter((n) => n.reference === 'inception');
  if (conv.length > 0) {
    // The script reads the same config files (extends included) and builds the same network from them.
    const configs = conv.map((n) => path.join(ROOT, n.config));
    out.set('inception', runTorch('torch_inception.py', [...configs, '--steps', String(convSteps), '--warmup', String(convWarmup)]));
  }
  return out;
}

async function figure1(): Promise<void> {
  const backend = await selectBackend('auto');
  let total = 0;
  for (const net of NETS.filter((n) => n.reference === 'mlp')) {
    const cfg = shippedConfig(net);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), `bnrun-bench-${net.id}-`));
    const s = await train({ config: cfg, configSource: net.config, outDir: out, backend, tty: false });
    console.log(
      `figure 1 ${net.id}: ${s.wallTimeS.toFixed(1)} s wall (${cfg.training.steps} steps, evaluations included), ${s.trainMsPerStep.toFixed(3)} ms/step, final accuracy ${(s.final?.accuracy ?? NaN).toFixed(4)}`,
    );
    total += s.wallTimeS;
    fs.rmSync(out, { recursive: true, force: true });
  }
  console.log(`figure 1 total: ${total.toFixed(1)} s on ${backend.name}`);
}

interface Measured {
  wallS: number;
  /** User + system CPU seconds of the process and its children; null without /usr/bin/python3. */
  cpuS: number | null;
  maxRssMb: number | null;
  status: number | null;
}

/**
 * Runs a command to completion, timing its wall clock here and taking its CPU
 * time and peak RSS from getrusage(RUSAGE_CHILDREN) in a small Python parent
 * (Node reports neither for a child).
 */
function measured(cmd: string, args: string[]): Measured {
  const wrapper =
    'import resource, subprocess, sys, json\n' +
    'r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n' +
    'u = resource.getrusage(resource.RUSAGE_CHILDREN)\n' +
    'print(json.dumps({"status": r.returncode, "cpu": u.ru_utime + u.ru_stime, "maxrss_kb": u.ru_maxrss, "stderr": r.stderr.decode()[-500:]}))';
  const t = performance.now();
  if (fs.existsSync(TORCH_PYTHON)) {
    const r = spawnSync(TORCH_PYTHON, ['-c', wrapper, cmd, ...args], { encoding: 'utf8', cwd: ROOT });
    const wallS = (performance.now() - t) / 1000;
    const j = JSON.parse(r.stdout) as { status: number; cpu: number; maxrss_kb: number; stderr: string };
    if (j.status !== 0) console.log(`  ${path.basename(cmd)} ${args.join(' ')}: exit ${j.status}: ${j.stderr.trim().split('\n').pop() ?? ''}`);
    return { wallS, cpuS: j.cpu, maxRssMb: j.maxrss_kb / 1024, status: j.status };
  }
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT });
  return { wallS: (performance.now() - t) / 1000, cpuS: null, maxRssMb: null, status: r.status };
}

/**
 * Whole-process time of one training job: `bnrun train configs/mnist-bn.json
 * --steps N` (start-up, data load, N steps, an evaluation every 500 steps,
 * Algorithm 2, logs) beside the same job in bench/torch_mlp.py --job N.
 */
function wholeJob(steps: number): void {
  const cfg = loadConfig(path.join(ROOT, 'configs/mnist-bn.json'));
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-bench-job-'));
  try {
    const ours = measured(process.execPath, [
      path.join(ROOT, 'bin', 'bnrun.js'),
      'train',
      'configs/mnist-bn.json',
      '--steps',
      String(steps),
      '--out',
      path.join(out, 'run'),
      '--no-progress',
      '--backend',
      'wasm',
    ]);
    const t = cfg.training;
    const torchArgs = [
      '--net',
      'bn',
      '--job',
      String(steps),
      '--lr',
      String(cfg.optimizer.learningRate),
      '--batch',
      String(t.batchSize),
      '--eval-every',
      String(t.evalEvery),
      '--population-batches',
      String(t.populationBatches),
      '--seed',
      String(cfg.seed),
    ];
    const theirs = fs.existsSync(TORCH_PYTHON) ? measured(TORCH_PYTHON, [path.join(ROOT, 'bench', 'torch_mlp.py'), ...torchArgs]) : null;
    const ok = (m: Measured | null) => m !== null && m.status === 0;
    const ratio = (a: number | null, b: number | null | undefined) => (a !== null && b ? `${(a / b).toFixed(2)}x` : '-');
    console.log('');
    console.log(`whole process, bnrun train configs/mnist-bn.json --steps ${steps} (wasm) vs bench/torch_mlp.py --job ${steps}: wall s, CPU s, peak RSS`);
    console.log(
      `  bnrun   ${ours.wallS.toFixed(1)} s wall, ${ours.cpuS?.toFixed(1) ?? '?'} s CPU, ${ours.maxRssMb?.toFixed(0) ?? '?'} MB${ok(ours) ? '' : ' (failed)'}`,
    );
    if (theirs)
      console.log(
        `  pytorch ${theirs.wallS.toFixed(1)} s wall, ${theirs.cpuS?.toFixed(1) ?? '?'} s CPU, ${theirs.maxRssMb?.toFixed(0) ?? '?'} MB${ok(theirs) ? '' : ' (failed)'}`,
      );
    if (ok(ours) && ok(theirs)) console.log(`  ratio   ${ratio(ours.wallS, theirs?.wallS)} wall, ${ratio(ours.cpuS, theirs?.cpuS)} CPU`);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

function fmt(ms: number): string {
  // Inception steps take tens to thousands of ms; three decimals only matter for the MLPs.
  return ms >= 100 ? ms.toFixed(1) : ms.toFixed(3);
}

async function main(): Promise<void> {
  const nets = selectedNets();
  const timed = arg('--steps', 300);
  const warmup = arg('--warmup', 100);
  // An Inception step costs ~100x an MLP step, so the convnets get their own, smaller counts.
  const convTimed = arg('--conv-steps', 50);
  const convWarmup = arg('--conv-warmup', 10);
  // A full-size step is ~50 small-analog steps of work.
  const fullTimed = arg('--full-steps', 5);
  const fullWarmup = arg('--full-warmup', 2);
  const cpuConv = process.argv.includes('--cpu-conv');
  const rows: Row[] = [];
  const skipped: string[] = [];
  const backends = selectedBackends();
  for (const backend of backends) {
    let info: BackendInfo;
    try {
      info = await selectBackend(backend);
    } catch (e) {
      skipped.push(`${backend}: ${(e as Error).message}`);
      continue;
    }
    if (info.adapter) console.log(`webgpu adapter: ${info.adapter.name}${info.adapter.emulated ? ' (CPU-emulated)' : ''}`);
    // A CPU-emulated GPU (lavapipe) is far slower than wasm; it is timed only when asked for by name.
    if (info.adapter?.emulated && !explicitBackends()) {
      skipped.push(`webgpu: adapter ${info.adapter.name} is CPU-emulated; --backends webgpu times it anyway`);
      continue;
    }
    for (const net of nets) {
      if (net.full) {
        if (backend === 'cpu') {
          skipped.push(`cpu ${net.id}: a full-size step would take many minutes on the cpu backend`);
          continue;
        }
        const cfg = shippedConfig(net);
        try {
          const t = await timeSteps(cfg, fullWarmup, fullTimed);
          rows.push({ net, backend, batch: cfg.training.batchSize, msPerStep: t.wall, cpuMsPerStep: t.cpu, steps: fullTimed });
        } catch (e) {
          // wasm's heap stops at 4 GB, which batch 32 of the full-size net exceeds.
          skipped.push(`${backend} ${net.id}: ${(e as Error).message.split('\n')[0]}`);
        }
        continue;
      }
      const conv = net.reference === 'inception';
      if (backend === 'cpu' && conv && !cpuConv) {
        skipped.push(
          `cpu ${net.id}: an Inception step takes over a minute on the cpu backend (plain-JS convolutions); --cpu-conv times 1 step after 1 warm-up`,
        );
        continue;
      }
      // The cpu backend is a slow reference: a tenth of the steps keeps the bench short,
      // and a single Inception step (minutes for warm-up plus one) is all it can afford.
      const scale = backend === 'cpu' ? 0.1 : 1;
      const n = backend === 'cpu' && conv ? 1 : Math.max(1, Math.ceil((conv ? convTimed : timed) * scale));
      const w = backend === 'cpu' && conv ? 1 : Math.ceil((conv ? convWarmup : warmup) * scale);
      const cfg = shippedConfig(net);
      const t = await timeSteps(cfg, w, n);
      rows.push({ net, backend, batch: cfg.training.batchSize, msPerStep: t.wall, cpuMsPerStep: t.cpu, steps: n });
    }
  }
  const torch = torchReference(nets, Math.max(timed, 1000), Math.max(convTimed, 20), convWarmup);
  console.log(
    `bnrun bench: median ms per training step after warm-up, real MNIST (MLPs) and Fashion-MNIST (Inception analogs) batches, random 224x224 batches (full-size nets); ${os.cpus().length} cores, node ${process.version}, tfjs ${tf.version.tfjs}`,
  );
  for (const [kind, t] of torch) {
    const script = kind === 'mlp' ? 'bench/torch_mlp.py' : 'bench/torch_inception.py';
    console.log(
      `reference (${kind === 'mlp' ? 'MNIST nets' : 'Inception analogs'}): ` +
        ('rows' in t ? `PyTorch ${t.version}, 1 thread, BLAS ${t.blas} (${script})` : `PyTorch skipped: ${t.skipped}`),
    );
  }
  console.log('');
  console.log(
    [
      'network'.padEnd(16),
      'backend'.padEnd(11),
      'batch'.padStart(5),
      'steps'.padStart(5),
      'ms/step'.padStart(9),
      'pytorch'.padStart(9),
      'ratio'.padStart(7),
      'cpu ms'.padStart(9),
      'pytorch'.padStart(9),
      'ratio'.padStart(7),
    ].join(' '),
  );
  for (const r of rows) {
    const t = torch.get(r.net.reference);
    const refRow = t && 'rows' in t ? t.rows.get(r.net.id) : undefined;
    const ref = refRow?.msPerStep;
    const refCpu = refRow?.cpuMsPerStep ?? undefined;
    console.log(
      [
        r.net.id.padEnd(16),
        r.backend.padEnd(11),
        String(r.batch).padStart(5),
        String(r.steps).padStart(5),
        fmt(r.msPerStep).padStart(9),
        (ref ? fmt(ref) : '-').padStart(9),
        (ref ? `${(r.msPerStep / ref).toFixed(2)}x` : '-').padStart(7),
        fmt(r.cpuMsPerStep).padStart(9),
        (refCpu ? fmt(refCpu) : '-').padStart(9),
        (refCpu ? `${(r.cpuMsPerStep / refCpu).toFixed(2)}x` : '-').padStart(7),
      ].join(' '),
    );
  }
  for (const s of skipped) console.log(`skipped ${s}`);
  // The reference is only fair if it is the same network: compare parameter counts with `bnrun info`'s.
  const inception = torch.get('inception');
  if (inception && 'rows' in inception) {
    for (const net of nets.filter((n) => n.reference === 'inception')) {
      const ours = describeModel(shippedConfig(net).model).totalParameters;
      const theirs = inception.rows.get(net.id)?.parameters ?? null;
      const verdict = theirs === ours ? 'same' : 'MISMATCH: the reference is not the same network';
      console.log(`parameters ${net.id}: bnrun ${ours.toLocaleString('en-US')}, pytorch ${theirs?.toLocaleString('en-US') ?? '?'} (${verdict})`);
    }
  }
  if (nets.some((n) => n.id === 'mnist-bn') && backends.includes('wasm') && !process.argv.includes('--no-job')) wholeJob(arg('--job-steps', 5000));
  if (process.argv.includes('--figure1')) await figure1();
}

main().catch((e: unknown) => {
  console.error(`bench: ${(e as Error).message}`);
  process.exitCode = 1;
});
