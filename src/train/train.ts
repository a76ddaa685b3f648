/**
 * The training loop, top to bottom: data, network, SGD steps, an evaluation
 * every `evalEvery` steps, and at the end Algorithm 2's population pass and
 * the final numbers. Everything it learns goes to the run directory as it goes.
 */
import * as tf from '@tensorflow/tfjs';
import { BackendInfo } from '../backend';
import { Config } from '../config/schema';
import { Batcher, upload } from '../data/batches';
import { loadMnist } from '../data/mnist';
import { DivergedError } from '../errors';
import { Progress } from '../logging/progress';
import { RunDir } from '../logging/run';
import { firstStepReaching, maxAccuracy } from '../metrics';
import { buildNetwork } from '../networks/build';
import { parameterCount } from '../networks/network';
import { Rng } from '../rng';
import { computePopulationStatistics, evaluate, TrackSpec } from './evaluate';
import { learningRateAt } from './schedule';
import { trainStep } from './step';

export interface TrainOptions {
  config: Config;
  outDir: string;
  backend: BackendInfo;
  /** Show a progress bar (default: when stderr is a terminal). */
  tty?: boolean;
}

export interface RunSummary {
  name: string;
  status: 'completed' | 'diverged';
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
  diverged: { step: number } | null;
  versions: { node: string; tfjs: string };
  startedAt: string;
  finishedAt: string;
}

function trackSpec(cfg: Config): TrackSpec {
  const { layer, units, percentiles } = cfg.tracking;
  return { layer: layer === 'last' ? cfg.model.hidden.length - 1 : layer, units, percentiles };
}

export async function train(opts: TrainOptions): Promise<RunSummary> {
  const cfg = opts.config;
  const { steps, batchSize, evalEvery } = cfg.training;
  const startedAt = new Date();
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;

  const data = loadMnist(cfg.data);
  const trainSet = upload(data.train, data.classes);
  const testSet = upload(data.test, data.classes);
  const rng = new Rng(cfg.seed);
  const net = buildNetwork(cfg.model, rng.fork('init'));
  const batcher = new Batcher(trainSet, batchSize, rng.fork('data'));
  const track = trackSpec(cfg);
  const run = RunDir.create(opts.outDir, cfg);
  const progress = new Progress(steps, opts.tty);
  const history: { step: number; accuracy: number }[] = [];
  const bnMonitor = net.batchNorms.length > 0 ? 'moving' : 'population';

  // Losses since the last evaluation, and training time without evaluations.
  let lossSum = 0;
  let lossCount = 0;
  let trainSeconds = 0;
  let sinceEvalSeconds = 0;
  let diverged: { step: number } | null = null;

  const record = (step: number) => {
    const ev = evaluate(net, testSet, bnMonitor, track);
    const trainLoss = lossCount > 0 ? lossSum / lossCount : null;
    const stepsPerS = lossCount > 0 ? lossCount / sinceEvalSeconds : null;
    history.push({ step, accuracy: ev.accuracy });
    run.logMetrics({ step, lr: learningRateAt(cfg.optimizer, step), trainLoss, testLoss: ev.loss, testAccuracy: ev.accuracy, elapsedS: seconds(), stepsPerS });
    run.logActivations(step, track.layer, track.units, ev.unitPercentiles);
    progress.evaluated({ step, loss: trainLoss, accuracy: ev.accuracy, stepsPerS }, seconds());
    lossSum = 0;
    lossCount = 0;
    sinceEvalSeconds = 0;
  };

  progress.start(0);
  record(0);
  try {
    for (let step = 1; step <= steps; step++) {
      const lr = learningRateAt(cfg.optimizer, step - 1);
      const tStep = performance.now();
      const batch = batcher.next();
      const loss = trainStep(net, batch, lr);
      tf.dispose([batch.x, batch.y]);
      const dt = (performance.now() - tStep) / 1000;
      trainSeconds += dt;
      sinceEvalSeconds += dt;
      if (!Number.isFinite(loss)) {
        diverged = { step };
        run.logMetrics({ step, lr, trainLoss: loss, testLoss: null, testAccuracy: null, elapsedS: seconds(), stepsPerS: null, event: 'diverged' });
        break;
      }
      lossSum += loss;
      lossCount += 1;
      progress.tick(step);
      if (step % evalEvery === 0 || step === steps) record(step);
    }
  } finally {
    progress.stop();
  }

  let final: RunSummary['final'] = null;
  if (!diverged) {
    const moving = net.batchNorms.length > 0 ? evaluate(net, testSet, 'moving', track) : null;
    const population = computePopulationStatistics(net, new Batcher(trainSet, batchSize, rng.fork('population')), cfg.training.populationBatches);
    const exact = evaluate(net, testSet, 'population', track);
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
  }

  const completedSteps = diverged ? diverged.step : steps;
  const summary: RunSummary = {
    name: cfg.name,
    status: diverged ? 'diverged' : 'completed',
    dataset: data.name,
    network: { type: cfg.model.type, batchNorm: cfg.model.batchNorm, activation: cfg.model.activation, parameters: parameterCount(net) },
    backend: opts.backend,
    steps: completedSteps,
    wallTimeS: Number(seconds().toFixed(3)),
    trainMsPerStep: Number(((trainSeconds * 1000) / Math.max(1, completedSteps)).toFixed(4)),
    final,
    maxAccuracy: maxAccuracy(history),
    firstStepReaching: Object.fromEntries(cfg.tracking.accuracyThresholds.map((t) => [String(t), firstStepReaching(history, t)])),
    diverged,
    versions: { node: process.version, tfjs: tf.version.tfjs },
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
  };
  run.writeSummary(summary);
  run.close();
  tf.dispose([trainSet.x, trainSet.y, testSet.x, testSet.y]);
  if (diverged) {
    throw new DivergedError(diverged.step, `${cfg.name}: loss became NaN/Inf at step ${diverged.step}; lower optimizer.learningRate (results so far are in ${opts.outDir})`);
  }
  return summary;
}
