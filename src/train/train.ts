/**
 * The training loop, top to bottom: data, network, SGD steps, an evaluation
 * every `evalEvery` steps, checkpoints, and at the end Algorithm 2's
 * population pass and the final numbers. Everything it learns goes to the run
 * directory as it goes, so an interrupted run keeps what it wrote and resumes.
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
import { buildNetwork } from '../networks/build';
import { preActivationWidths } from '../config/model-plan';
import { Network, parameterCount } from '../networks/network';
import { Rng } from '../rng';
import { loadCheckpoint, LoopState, NamedVariable, restoreVariables, runIdOf, saveCheckpoint } from './checkpoint';
import { computePopulationStatistics, evalChunkSize, evaluate, TrackSpec } from './evaluate';
import { learningRateAt } from './schedule';
import { TrainEvents } from './events';
import { StopRequested, StopSignal } from './signals';
import { Sgd } from './optimizer';
import { trainStep } from './step';
import { resolveTarget } from './target';

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

/** Algorithm 2 over the source's population batches, closing them whatever happens. */
async function populationPass(net: Network, stream: BatchStream, batches: number, between: () => Promise<void>): Promise<{ batches: number; m: number } | null> {
  try {
    return await computePopulationStatistics(net, stream, batches, between);
  } finally {
    await stream.close();
  }
}

export async function train(opts: TrainOptions): Promise<RunSummary> {
  // Installed before anything else and removed after everything, so a signal at any moment ends the run in order.
  const stop = new StopSignal();
  try {
    return await run(opts, stop);
  } finally {
    stop.dispose();
  }
}

async function run(opts: TrainOptions, stop: StopSignal): Promise<RunSummary> {
  const cfg = opts.config;
  const { steps, evalEvery, checkpointEvery } = cfg.training;
  const resumeHint = `continue with \`${CLI} train --resume ${opts.outDir}\``;

  // A new run refuses a directory holding another run's files (a lone checkpoint included) before anything loads.
  if (!opts.resume) RunDir.checkNew(opts.outDir);
  const target = resolveTarget(cfg.target, opts.configSource);
  // Whatever ends the run (a finish, a divergence, a signal, a bad checkpoint), its files and data streams are closed and its lock released.
  let opened: RunDir | undefined;
  let source: DataSource | undefined;
  try {
    const rng = new Rng(cfg.seed);
    const net = buildNetwork(cfg.model, rng.fork('init'));
    const optimizer = new Sgd(cfg.optimizer, net.trainable);
    const track = trackSpec(cfg);
    // Without BN layers the mode changes nothing; BN nets are monitored with moving averages.
    const monitorMode = net.batchNorms.length > 0 ? 'moving' : 'population';

    let loop: LoopState = { step: 0, lossSum: 0, lossCount: 0, trainSeconds: 0, sinceEvalSeconds: 0, elapsedSeconds: 0, resumedAt: [] };
    const history: { step: number; accuracy: number }[] = [];
    // The run a checkpoint must belong to: its config.json as written (a resumed run's, read as it is on disk).
    const runId = runIdOf(opts.resume ? RunDir.readConfig(opts.outDir) : cfg);
    const variables = stateVariables(net, optimizer);
    // Verified in full (and the previous one tried) before any file of the run is touched.
    const ckpt = opts.resume ? loadCheckpoint(opts.outDir, { run: runId, steps, vars: variables }) : null;
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
    source = data;
    // Opened before the run directory, so a training tree that fails its checks leaves no half-started run.
    const batches = await data.train(ckpt ? { position: ckpt.header, file: ckpt.file } : null);
    if (await stop.requested()) {
      await batches.close();
      throw new InterruptedError(`${stop.signal} before training started; nothing was written`, stop.exitCode);
    }
    let run: RunDir;
    if (opts.resume) {
      const reopened = RunDir.resume(opts.outDir, cfg, loop.step);
      run = reopened.run;
      for (const r of reopened.rows) if (r.test_accuracy !== '') history.push({ step: Number(r.step), accuracy: Number(r.test_accuracy) });
      loop.resumedAt = [...loop.resumedAt, loop.step];
    } else {
      run = RunDir.create(opts.outDir, cfg);
    }
    opened = run;

    const t0 = performance.now() - loop.elapsedSeconds * 1000;
    const seconds = () => (performance.now() - t0) / 1000;
    const progress = new Progress(steps, opts.tty);
    let lastCheckpoint = performance.now();
    let diverged: { step: number } | null = null;

    // Evaluations during training let a signal register but finish; the loop stops after them, at the step boundary.
    const letSignalsIn = async () => void (await stop.requested());
    const record = async (step: number) => {
      const ev = await evaluate(net, data.test(), monitorMode, track, letSignalsIn);
      const trainLoss = loop.lossCount > 0 ? loop.lossSum / loop.lossCount : null;
      const stepsPerS = loop.lossCount > 0 ? loop.lossCount / loop.sinceEvalSeconds : null;
      history.push({ step, accuracy: ev.accuracy });
      run.logMetrics({ step, lr: learningRateAt(cfg.optimizer, step), trainLoss, testLoss: ev.loss, testAccuracy: ev.accuracy, elapsedS: seconds(), stepsPerS });
      run.logActivations(step, track.layer, track.units, ev.unitPercentiles);
      progress.evaluated({ step, loss: trainLoss, accuracy: ev.accuracy, stepsPerS }, seconds());
      opts.events?.emit({ type: 'eval', step, accuracy: ev.accuracy, testLoss: ev.loss, trainLoss });
      Object.assign(loop, { lossSum: 0, lossCount: 0, sinceEvalSeconds: 0 });
    };
    let checkpointedAt = ckpt ? loop.step : -1;
    const checkpoint = () => {
      checkpointedAt = loop.step;
      saveCheckpoint(opts.outDir, runId, { ...loop, elapsedSeconds: seconds(), dropoutRng: net.dropout?.rngState }, batches.position, stateVariables(net, optimizer));
      lastCheckpoint = performance.now();
    };
    const checkpointDue = (step: number) =>
      checkpointEvery === 'auto' ? performance.now() - lastCheckpoint >= AUTO_CHECKPOINT_SECONDS * 1000 : step % checkpointEvery === 0;

    progress.start(loop.step);
    opts.events?.emit({ type: 'start', step: loop.step, total: steps });
    try {
      if (loop.step === 0 && history.length === 0) await record(0);
      while (loop.step < steps) {
        const step = loop.step + 1;
        const lr = learningRateAt(cfg.optimizer, step - 1);
        const tStep = performance.now();
        const batch = await batches.next();
        const loss = trainStep(net, optimizer, batch, lr);
        tf.dispose([batch.x, batch.y]);
        const dt = (performance.now() - tStep) / 1000;
        if (!Number.isFinite(loss)) {
          diverged = { step };
          run.logMetrics({ step, lr, trainLoss: loss, testLoss: null, testAccuracy: null, elapsedS: seconds(), stepsPerS: null, event: 'diverged' });
          break;
        }
        loop.step = step;
        loop.trainSeconds += dt;
        loop.sinceEvalSeconds += dt;
        loop.lossSum += loss;
        loop.lossCount += 1;
        progress.tick(step);
        opts.events?.emit({ type: 'step', step });
        if (step % evalEvery === 0 || step === steps) await record(step);
        if (checkpointDue(step)) checkpoint();
        // Signals are delivered only when the event loop runs; it gets a turn between steps.
        if (await stop.requested()) {
          checkpoint();
          break;
        }
      }
    } finally {
      progress.stop();
    }

    let final: RunSummary['final'] = null;
    // Where a signal stopped the final passes (null: they ran, or were never reached).
    let stoppedDuring: string | null = null;
    if (!diverged && loop.step === steps) {
      // The last step's checkpoint, unless the loop just wrote it (the one before stays the fallback).
      if (checkpointedAt !== steps) checkpoint();
      await batches.close();
      // A signal now ends the pass under way; the checkpoint above lets a resume redo just these passes.
      const between = () => stop.stopIfRequested();
      let phase = 'the final evaluation';
      try {
        const moving = net.batchNorms.length > 0 ? await evaluate(net, data.test(), 'moving', track, between) : null;
        phase = "Algorithm 2's population pass";
        const population = net.batchNorms.length > 0 ? await populationPass(net, await data.population(), cfg.training.populationBatches, between) : null;
        phase = 'the final evaluation';
        const exact = await evaluate(net, data.test(), 'population', track, between);
        final = {
          step: steps,
          accuracy: exact.accuracy,
          loss: exact.loss,
          statistics: population ? 'population' : 'none',
          populationBatches: population ? population.batches : null,
          movingAverage: moving ? { accuracy: moving.accuracy, loss: moving.loss } : null,
          unitPercentiles: track.units.map((unit, i) => ({
            layer: track.layer,
            unit,
            percentiles: Object.fromEntries(track.percentiles.map((p, j) => [`p${p}`, exact.unitPercentiles[i][j]])),
          })),
        };
      } catch (e) {
        if (!(e instanceof StopRequested)) throw e;
        stoppedDuring = phase;
      }
    }

    const interrupted = !diverged && final === null;
    const completedSteps = diverged ? diverged.step : loop.step;
    const summary: RunSummary = {
      name: cfg.name,
      status: diverged ? 'diverged' : interrupted ? 'interrupted' : 'completed',
      dataset: data.name,
      network: { type: cfg.model.type, batchNorm: cfg.model.batchNorm, activation: cfg.model.activation, parameters: parameterCount(net) },
      backend: opts.backend,
      steps: completedSteps,
      wallTimeS: Number(seconds().toFixed(3)),
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
    run.writeSummary(summary);
    if (diverged) {
      throw new DivergedError(`${cfg.name}: loss became NaN/Inf at step ${diverged.step}; lower optimizer.learningRate (results so far are in ${opts.outDir})`);
    }
    if (interrupted) {
      const when = stoppedDuring ? `during ${stoppedDuring} after step ${loop.step}` : `at step ${loop.step}`;
      throw new InterruptedError(`${stop.signal ?? 'signal'} ${when}: checkpoint and logs saved; ${resumeHint}`, stop.exitCode);
    }
    return summary;
  } finally {
    opened?.close();
    await source?.close();
  }
}
