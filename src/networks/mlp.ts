/**
 * The MNIST network of paper section 4.1: 784 inputs, three fully-connected
 * hidden layers of 100 sigmoid units, a 10-way softmax on top. With batchNorm,
 * each hidden layer z = g(Wu + b) becomes z = g(BN(Wu)).
 */
import * as tf from '@tensorflow/tfjs';
import { MlpConfig } from '../config/schema';
import { activate } from '../layers/activations';
import { BatchNorm, BnMode } from '../layers/batchnorm';
import { Dense } from '../layers/dense';
import { gaussianWeights } from '../layers/init';
import { Rng } from '../rng';
import { layerParameters, Parameter } from '../layers/parameter';
import { ForwardResult, Network } from './network';

interface HiddenLayer {
  dense: Dense;
  bn: BatchNorm | null;
}

export class Mlp implements Network {
  private readonly hidden: HiddenLayer[];
  private readonly output: Dense;

  constructor(
    private readonly cfg: MlpConfig,
    rng: Rng,
  ) {
    const { std, distribution } = cfg.init;
    const sizes = [cfg.inputSize, ...cfg.hidden];
    this.hidden = cfg.hidden.map((width, i) => {
      const w = gaussianWeights([sizes[i], width], std, distribution, rng) as tf.Tensor2D;
      return {
        dense: new Dense(`hidden${i}`, w, !cfg.batchNorm),
        bn: cfg.batchNorm ? new BatchNorm(`hidden${i}/bn`, width, cfg.epsilon, cfg.movingAverageDecay) : null,
      };
    });
    const last = cfg.hidden[cfg.hidden.length - 1];
    this.output = new Dense('output', gaussianWeights([last, cfg.classes], std, distribution, rng) as tf.Tensor2D, true);
  }

  get trainable(): Parameter[] {
    return [...this.hidden, { dense: this.output, bn: null }].flatMap(({ dense, bn }) => layerParameters(dense, bn));
  }

  get batchNorms(): BatchNorm[] {
    return this.hidden.flatMap(({ bn }) => (bn ? [bn] : []));
  }

  forward(x: tf.Tensor, mode: BnMode): ForwardResult {
    const preActivations: tf.Tensor2D[] = [];
    let u = x as tf.Tensor2D;
    for (const { dense, bn } of this.hidden) {
      const wu = dense.apply(u);
      const pre = (bn ? bn.apply(wu, mode) : wu) as tf.Tensor2D;
      preActivations.push(pre);
      u = activate(pre, this.cfg.activation) as tf.Tensor2D;
    }
    return { logits: this.output.apply(u), preActivations };
  }
}
