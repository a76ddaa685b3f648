/**
 * Evaluation on the test set in inference mode (with the moving averages
 * during training, with Algorithm 2's population statistics at the end; the
 * population pass itself is beside BatchNorm in layers/batchnorm.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { EvalChunk } from '../data/source';
import { BnMode } from '../layers/batchnorm';
import { columnPercentiles } from '../metrics';
import { Network } from '../networks/network';
import { describeModel } from '../config/model-plan';
import { readScalar, readValues } from '../tensor-read';
import { ModelConfig } from '../config/schema';
import { crossEntropy } from './step';

export interface Evaluation {
  loss: number;
  accuracy: number;
  /** For each tracked unit, its input's percentiles over the test set. */
  unitPercentiles: number[][];
}

export interface TrackSpec {
  layer: number;
  units: number[];
  percentiles: number[];
}

/** Activation memory one evaluation forward pass may use; wasm's heap stops at 4 GB. */
const EVAL_BYTES = 256 * 1024 * 1024;

/**
 * Examples per evaluation forward pass, from the network's per-example
 * activation size: an MLP takes 2000 at once, a 224x224 Inception a few.
 */
export function evalChunkSize(model: ModelConfig): number {
  const floatsPerExample = describeModel(model).layers.reduce((n, l) => n + l.outputShape.reduce((a, b) => a * b, 1), 0);
  return Math.max(1, Math.min(2000, Math.floor(EVAL_BYTES / (4 * floatsPerExample))));
}

/** What a pass over data lets its caller do between chunks: stop for a signal, show progress. */
export interface PassHooks {
  between?: () => Promise<void>;
  onProgress?: (done: number) => void;
}

/**
 * Loss and accuracy over the whole test set, and the percentiles of each
 * tracked unit's input over all test examples (and, for a convolutional
 * feature map, all its positions). Only the tracked units' inputs are kept,
 * so the test set itself may be streamed.
 */
export async function evaluate(
  net: Network,
  test: AsyncIterable<EvalChunk>,
  mode: Exclude<BnMode, 'train' | 'collect'>,
  track: TrackSpec,
  /** Awaited before each chunk (a pending signal gets its turn; may throw to stop); told the examples done after each, for a progress display. */
  hooks: PassHooks = {},
): Promise<Evaluation> {
  let lossSum = 0;
  let correct = 0;
  let n = 0;
  const tracked: Float32Array[] = [];
  for await (const chunk of test) {
    await hooks.between?.();
    const [lossT, predT, unitsT] = tf.tidy(() => {
      const { logits, preActivations } = net.forward(chunk.x, mode);
      const pre = preActivations[track.layer];
      const units = tf.reshape(tf.gather(pre, tf.tensor1d(track.units, 'int32'), pre.rank - 1), [-1, track.units.length]);
      return [crossEntropy(logits, chunk.y), tf.argMax(logits, 1), units];
    });
    try {
      lossSum += (await readScalar(lossT)) * chunk.labels.length;
      n += chunk.labels.length;
      const pred = await readValues(predT);
      for (let i = 0; i < pred.length; i++) if (pred[i] === chunk.labels[i]) correct++;
      tracked.push((await readValues(unitsT)) as Float32Array);
    } finally {
      tf.dispose([lossT, predT, unitsT]);
    }
    hooks.onProgress?.(n);
  }
  const all = new Float32Array(tracked.reduce((n, t) => n + t.length, 0));
  tracked.reduce((offset, t) => (all.set(t, offset), offset + t.length), 0);
  return {
    loss: lossSum / n,
    accuracy: correct / n,
    unitPercentiles: columnPercentiles(all, all.length / track.units.length, track.units.length, track.percentiles),
  };
}
