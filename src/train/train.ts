/**
 * The training loop, read top-down from `train`: open the run (network,
 * checkpoint, data, run directory), loop over SGD steps with an evaluation
 * every `evalEvery` steps and checkpoints, then finish with Algorithm 2's
 * population pass, the final numbers and summary.json. Everything it learns
 * goes to the run directory as it goes, so an interrupted run keeps what it
 * wrote and resumes.
 */
import * as tf from '@tensorflow/tfjs';
import { BackendInfo } from '../backend';
import { Config } from '../config/schema';
import { openDataSource } from '../data/open';
import { BatchStream, DataSource } from '../data/source';
import { BnrunError, ConfigError, ConfigMismatchError, DivergedError } from '../errors';
import { Progress } from '../logging/progress';
import { CLI, RunDir } from '../logging/run';
import { firstStepReaching, maxAccuracy } from '../metrics';
import { populationPass } from '../layers/batchnorm';
import { buildNetwork } from '../networks/build';
import { preActivationWidths } from '../config/model-plan';
import { Network, parameterCount } from '../networks/network';
import { Rng } from '../rng';
import { loadCheckpoint, LoopState, NamedVariable, restoreVariables, runIdOf, saveCheckpoint } from './checkpoint';
import { evalChunkSize, evaluate, TrackSpec } from './evaluate';
import { learningRateAt } from './schedule';
import { TrainEvents } from './events';
import { StopRequested, StopSignal } from './signals';
import { Sgd } from './optimizer';
import { trainStep } from './step';
import { ResolvedTarget, resolveTarget } from './target';

export interface TrainOptions {
  config: Config;
  /** Where the config came from, for messages. */
  configSource: string;
  outDir: string;
  backend: BackendInfo;
  /** Continue the run in outDir from its last checkpoint instead of starting one. */
  resume?: boolean;
  /** Show a progress bar (default: when stderr is a terminal). */
  tty?: boolean;
  /** Live progress for a parent process (`bnrun sweep`); the run directory stays the record. */
  events?: TrainEvents | null;
  /** Signal handling installed by the caller (which then disposes of it); train() installs its own otherwise. */
  stop?: StopSignal;
}

export interface RunSummary {
  name: string;
  status: 'completed' | 'diverged' | 'interrupted';
  dataset: string;
  network: { type: string; batchNorm: boolean; activation: string; parameters: number };
  backend: BackendInfo;
  steps: number;
  wallTimeS: number;
  trainMsPerStep: number;
  final: {
    step: number;
    /** Exact Algorithm-2 population statistics for BN nets; the plain network otherwise. */
    accuracy: number;
    loss: number;
    statistics: 'population' | 'none';
    populationBatches: number | null;
    /** The same evaluation with the moving averages used for monitoring (BN nets). */
    movingAverage: { accuracy: number; loss: number } | null;
    unitPercentiles: { layer: number; unit: number; percentiles: Record<string, number> }[];
  } | null;
  maxAccuracy: { accuracy: number; step: number } | null;
  firstStepReaching: Record<string, number | null>;
  /** The configured target accuracy and the first evaluated step that reached it (null: never). */
  target: { accuracy: number; source: string; firstStep: number | null } | null;
  diverged: { step: number } | null;
  /** Steps at which this run was resumed from a checkpoint. */
  resumedAt: number[];
  versions: { node: string; tfjs: string };
  finishedAt: string;
}

/** Raised when a signal stopped the run at a step boundary; the CLI exits 128 + signal number. */
export class InterruptedError extends BnrunError {}

const AUTO_CHECKPOINT_SECONDS = 60;

export async function train(opts: TrainOptions): Promise<RunSummary> {
  // Installed before anything else and removed after everything, so a signal at any moment ends the run in order.
  // A caller that says something first (the CLI) installs it earlier and passes it in.
  const stop = opts.stop ?? new StopSignal();
  const progress = startProgress(opts);
  // Whatever ends the run (a finish, a divergence, a signal, a bad checkpoint), its files and data streams are closed and its lock released.
  const opened: Opened = {};
  try {
    try {
      // 1. Open the run: the network, a verified checkpoint to resume from, the data, then the run directory.
      const run = await openRun(opts, stop, progress, opened);
      // 2. The loop: SGD steps, an evaluation every evalEvery steps, checkpoints; until the last step, a NaN/Inf loss or a signal.
      const diverged = await trainLoop(run, stop);
      // 3. Finish: after the last step, the final evaluations with Algorithm 2's population statistics; then summary.json.
      const last = diverged === null && run.loop.step === run.steps ? await finalPasses(run, stop) : { final: null, stoppedDuring: null };
      return finish(run, diverged, last, stop);
    } finally {
      opened.dir?.close();
      await opened.data?.close();
    }
  } finally {
    progress.stop();
    if (!opts.stop) stop.dispose();
  }
}

/** The progress display, in its first phase (the wait before any step); a sweep's child also sends each phase to the sweep. */
function startProgress(opts: TrainOptions): Progress {
  const cfg = opts.config;
  const { steps, evalEvery, populationBatches, batchSize } = cfg.training;
  const progress = new Progress({ totalSteps: steps, evalEvery, populationBatches: cfg.model.batchNorm ? populationBatches : null, batchSize }, opts.tty);
  const events = opts.events;
  if (events) progress.onPhase = (phase, step) => events.emit({ type: 'phase', step, phase });
  progress.phase({ kind: 'starting', detail: `loading ${cfg.data.dataset}${opts.resume ? ' and the checkpoint' : ''}, building the network` });
  return progress;
}

/** What a run has opened so far and must close, filled in as each is opened. */
interface Opened {
  dir?: RunDir;
  data?: DataSource;
}

/** An opened run: what the loop, the final passes and the summary share. */
class OpenRun {
  readonly cfg: Config;
  readonly steps: number;
  /** Without BN layers the mode changes nothing; BN nets are monitored with moving averages. */
  readonly monitorMode: 'moving' | 'population';
  /** The step of the last checkpoint written (or resumed from); -1: none yet. */
  checkpointedAt: number;
  private readonly t0: number;
  private lastCheckpoint = performance.now();

  constructor(
    readonly opts: TrainOptions,
    readonly net: Network,
    readonly optimizer: Sgd,
    readonly track: TrackSpec,
    readonly target: ResolvedTarget | null,
    /** The run a checkpoint must belong to (checkpoint.ts runIdOf). */
    readonly runId: string,
    readonly loop: LoopState,
    /** Test accuracy at each evaluated step (a resumed run's, read back from metrics.csv). */
    readonly history: { step: number; accuracy: number }[],
    readonly data: DataSource,
    readonly batches: BatchStream,
    readonly dir: RunDir,
    readonly progress: Progress,
    resumed: boolean,
  ) {
    this.cfg = opts.config;
    this.steps = this.cfg.training.steps;
    this.monitorMode = net.batchNorms.length > 0 ? 'moving' : 'population';
    this.checkpointedAt = resumed ? loop.step : -1;
    // A resumed run's clock continues where it stopped.
    this.t0 = performance.now() - loop.elapsedSeconds * 1000;
  }

  /** Seconds since the run first started. */
  seconds(): number {
    return (performance.now() - this.t0) / 1000;
  }

  /** An evaluation on the test set, logged as a metrics row and activation percentiles; `between` lets a signal in. */
  async record(step: number, between: () => Promise<void>): Promise<void> {
    const { loop, track } = this;
    this.progress.phase({ kind: 'evaluating', step, final: false, statistics: this.monitorMode === 'moving' ? 'moving' : 'network' });
    const ev = await evaluate(this.net, this.data.test(), this.monitorMode, track, { between, onProgress: (n) => this.progress.evaluatedExamples(n) });
    const trainLoss = loop.lossCount > 0 ? loop.lossSum / loop.lossCount : null;
    const stepsPerS = loop.lossCount > 0 ? loop.lossCount / loop.sinceEvalSeconds : null;
    this.history.push({ step, accuracy: ev.accuracy });
    this.dir.logMetrics({
      step,
      lr: learningRateAt(this.cfg.optimizer, step),
      trainLoss,
      testLoss: ev.loss,
      testAccuracy: ev.accuracy,
      elapsedS: this.seconds(),
      stepsPerS,
    });
    this.dir.logActivations(step, track.layer, track.units, ev.unitPercentiles);
    this.progress.evaluated({ step, accuracy: ev.accuracy, trainLoss, stepsPerS, elapsedS: this.seconds() });
    this.opts.events?.emit({ type: 'eval', step, accuracy: ev.accuracy, testLoss: ev.loss, trainLoss });
    Object.assign(loop, { lossSum: 0, lossCount: 0, sinceEvalSeconds: 0 });
  }

  async checkpoint(): Promise<void> {
    const { loop, net } = this;
    this.checkpointedAt = loop.step;
    await saveCheckpoint(
      this.opts.outDir,
      this.runId,
      { ...loop, elapsedSeconds: this.seconds(), dropoutRng: net.dropout?.rngState },
      this.batches.position,
      stateVariables(net, this.optimizer),
    );
    this.lastCheckpoint = performance.now();
  }

  checkpointDue(step: number): boolean {
    const every = this.cfg.training.checkpointEvery;
    return every === 'auto' ? performance.now() - this.lastCheckpoint >= AUTO_CHECKPOINT_SECONDS * 1000 : step % every === 0;
  }
}

/**
 * Builds the network and optimiser, verifies the checkpoint to resume from,
 * opens the data and then the run directory: each refusal comes before the
 * next thing is touched, so a refused run leaves nothing half-started.
 */
async function openRun(opts: TrainOptions, stop: StopSignal, progress: Progress, opened: Opened): Promise<OpenRun> {
  const cfg = opts.config;
  // A new run refuses a directory holding another run's files (a lone checkpoint included) before anything loads.
  if (!opts.resume) RunDir.checkNew(opts.outDir);
  const target = resolveTarget(cfg.target, opts.configSource);
  const rng = new Rng(cfg.seed);
  const net = buildNetwork(cfg.model, rng.fork('init'));
  const optimizer = new Sgd(cfg.optimizer, net.trainable);
  const track = trackSpec(cfg);

  let loop: LoopState = { step: 0, lossSum: 0, lossCount: 0, trainSeconds: 0, sinceEvalSeconds: 0, elapsedSeconds: 0, resumedAt: [] };
  const history: { step: number; accuracy: number }[] = [];
  // The run a checkpoint must belong to: its config.json as written (a resumed run's, read as it is on disk).
  const runId = runIdOf(opts.resume ? RunDir.readConfig(opts.outDir) : cfg);
  const variables = stateVariables(net, optimizer);
  // Verified in full (and the previous one tried) before any file of the run is touched.
  const ckpt = opts.resume ? loadCheckpoint(opts.outDir, { run: runId, steps: cfg.training.steps, vars: variables }) : null;
  if (ckpt) {
    restoreVariables(ckpt, variables);
    loop = { ...ckpt.header.loop, resumedAt: [...ckpt.header.loop.resumedAt] };
    if (net.dropout && loop.dropoutRng !== undefined) net.dropout.rngState = loop.dropoutRng;
    for (const note of ckpt.notes) console.error(`bnrun: warning: ${note}`);
  }
  // The data is read after the checkpoint verified (a refused resume costs no loading).
  const data = await openDataSource(cfg, { evalChunk: evalChunkSize(cfg.model) }).catch((e: unknown) => {
    throw e instanceof ConfigMismatchError ? new ConfigError(`${opts.configSource}: ${e.message}`) : e;
  });
  opened.data = data;
  // Opened before the run directory, so a training tree that fails its checks leaves no half-started run.
  const batches = await data.train(ckpt ? { position: ckpt.header, file: ckpt.file } : null);
  if (await stop.requested()) {
    await batches.close();
    throw new InterruptedError(`${stop.signal} before training started; nothing was written`, stop.exitCode);
  }
  let dir: RunDir;
  if (opts.resume) {
    const reopened = RunDir.resume(opts.outDir, cfg, loop.step);
    dir = reopened.run;
    for (const r of reopened.rows) if (r.test_accuracy !== '') history.push({ step: Number(r.step), accuracy: Number(r.test_accuracy) });
    loop.resumedAt = [...loop.resumedAt, loop.step];
  } else {
    dir = RunDir.create(opts.outDir, cfg);
  }
  opened.dir = dir;
  return new OpenRun(opts, net, optimizer, track, target, runId, loop, history, data, batches, dir, progress, ckpt !== null);
}

/** SGD steps until the last one; returns the step whose loss became NaN/Inf, or null (finished, or stopped by a signal). */
async function trainLoop(run: OpenRun, stop: StopSignal): Promise<{ step: number } | null> {
  const { cfg, net, optimizer, loop, batches, progress } = run;
  // Evaluations during training let a signal register but finish; the loop stops after them, at the step boundary.
  const letSignalsIn = async () => void (await stop.requested());
  progress.begin(loop.step);
  progress.phase({ kind: 'training' });
  run.opts.events?.emit({ type: 'start', step: loop.step, total: run.steps });
  if (loop.step === 0 && run.history.length === 0) await run.record(0, letSignalsIn);
  while (loop.step < run.steps) {
    const step = loop.step + 1;
    const lr = learningRateAt(cfg.optimizer, step - 1);
    const tStep = performance.now();
    const batch = await batches.next();
    const loss = await trainStep(net, optimizer, batch, lr);
    tf.dispose([batch.x, batch.y]);
    const dt = (performance.now() - tStep) / 1000;
    if (!Number.isFinite(loss)) {
      run.dir.logMetrics({ step, lr, trainLoss: loss, testLoss: null, testAccuracy: null, elapsedS: run.seconds(), stepsPerS: null, event: 'diverged' });
      return { step };
    }
    loop.step = step;
    loop.trainSeconds += dt;
    loop.sinceEvalSeconds += dt;
    loop.lossSum += loss;
    loop.lossCount += 1;
    progress.trained(step, loss);
    run.opts.events?.emit({ type: 'step', step });
    if (step % cfg.training.evalEvery === 0 || step === run.steps) await run.record(step, letSignalsIn);
    if (run.checkpointDue(step)) await run.checkpoint();
    // Signals are delivered only when the event loop runs; it gets a turn between steps.
    if (await stop.requested()) {
      await run.checkpoint();
      break;
    }
  }
  return null;
}

/**
 * After the last step: the test set with the moving averages, Algorithm 2's
 * population pass, and the test set with its exact statistics. A signal ends
 * the pass under way; `stoppedDuring` then names it.
 */
async function finalPasses(run: OpenRun, stop: StopSignal): Promise<{ final: RunSummary['final']; stoppedDuring: string | null }> {
  const { cfg, net, data, track, steps, progress } = run;
  // The last step's checkpoint, unless the loop just wrote it (the one before stays the fallback); a resume then redoes just these passes.
  if (run.checkpointedAt !== steps) await run.checkpoint();
  await run.batches.close();
  const between = () => stop.stopIfRequested();
  const finalEvaluation = async (mode: 'moving' | 'population') => {
    const statistics = mode === 'moving' ? 'moving' : net.batchNorms.length > 0 ? 'population' : 'network';
    progress.phase({ kind: 'evaluating', step: steps, final: true, statistics });
    const ev = await evaluate(net, data.test(), mode, track, { between, onProgress: (n) => progress.evaluatedExamples(n) });
    progress.evaluated({ step: steps, accuracy: ev.accuracy, trainLoss: null, stepsPerS: null });
    return ev;
  };
  const populationBatches = cfg.training.populationBatches;
  let phase = 'the final evaluation';
  try {
    const moving = net.batchNorms.length > 0 ? await finalEvaluation('moving') : null;
    phase = "Algorithm 2's population pass";
    let population: { batches: number; m: number } | null = null;
    if (net.batchNorms.length > 0) {
      progress.phase({ kind: 'population', batch: 0, batches: populationBatches });
      const onBatch = (batch: number) => progress.phase({ kind: 'population', batch, batches: populationBatches });
      population = await populationPass(net, await data.population(), populationBatches, between, onBatch);
    }
    phase = 'the final evaluation';
    const exact = await finalEvaluation('population');
    progress.phase({ kind: 'done' });
    const final = {
      step: steps,
      accuracy: exact.accuracy,
      loss: exact.loss,
      statistics: population ? ('population' as const) : ('none' as const),
      populationBatches: population ? population.batches : null,
      movingAverage: moving ? { accuracy: moving.accuracy, loss: moving.loss } : null,
      unitPercentiles: track.units.map((unit, i) => ({
        layer: track.layer,
        unit,
        percentiles: Object.fromEntries(track.percentiles.map((p, j) => [`p${p}`, exact.unitPercentiles[i][j]])),
      })),
    };
    return { final, stoppedDuring: null };
  } catch (e) {
    if (!(e instanceof StopRequested)) throw e;
    return { final: null, stoppedDuring: phase };
  }
}

/** Writes summary.json; a diverged or interrupted run then ends in its error, a completed one returns the summary. */
function finish(
  run: OpenRun,
  diverged: { step: number } | null,
  last: { final: RunSummary['final']; stoppedDuring: string | null },
  stop: StopSignal,
): RunSummary {
  const { cfg, loop, history, target, opts } = run;
  const { final, stoppedDuring } = last;
  const interrupted = !diverged && final === null;
  const summary: RunSummary = {
    name: cfg.name,
    status: diverged ? 'diverged' : interrupted ? 'interrupted' : 'completed',
    dataset: run.data.name,
    network: { type: cfg.model.type, batchNorm: cfg.model.batchNorm, activation: cfg.model.activation, parameters: parameterCount(run.net) },
    backend: opts.backend,
    steps: diverged ? diverged.step : loop.step,
    wallTimeS: Number(run.seconds().toFixed(3)),
    trainMsPerStep: Number(((loop.trainSeconds * 1000) / Math.max(1, loop.step)).toFixed(4)),
    final,
    maxAccuracy: maxAccuracy(history),
    firstStepReaching: Object.fromEntries(cfg.tracking.accuracyThresholds.map((t) => [String(t), firstStepReaching(history, t)])),
    target: target ? { ...target, firstStep: firstStepReaching(history, target.accuracy) } : null,
    diverged,
    resumedAt: loop.resumedAt,
    versions: { node: process.version, tfjs: tf.version.tfjs },
    finishedAt: new Date().toISOString(),
  };
  run.dir.writeSummary(summary);
  if (diverged) {
    throw new DivergedError(`${cfg.name}: loss became NaN/Inf at step ${diverged.step}; lower optimizer.learningRate (results so far are in ${opts.outDir})`);
  }
  if (interrupted) {
    const when = stoppedDuring ? `during ${stoppedDuring} after step ${loop.step}` : `at step ${loop.step}`;
    throw new InterruptedError(
      `${stop.signal ?? 'signal'} ${when}: checkpoint and logs saved; continue with \`${CLI} train --resume ${opts.outDir}\``,
      stop.exitCode,
    );
  }
  return summary;
}

function trackSpec(cfg: Config): TrackSpec {
  const { layer, units, percentiles } = cfg.tracking;
  return { layer: layer === 'last' ? preActivationWidths(cfg.model).length - 1 : layer, units, percentiles };
}

/** Everything a checkpoint must restore: trained weights, optimiser state and BN statistics. */
function stateVariables(net: Network, optimizer: Sgd): NamedVariable[] {
  return [
    ...net.trainable,
    ...optimizer.state,
    ...net.batchNorms.flatMap((bn) => bn.statistics.map((variable, i) => ({ name: `${bn.name}/stat${i}`, variable }))),
  ];
}
