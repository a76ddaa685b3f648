/**
 * The Inception networks of paper section 4.2, built from the layer table in
 * the config: stem layers (convs, pools, LRN), then inception blocks, then
 * global average pooling, dropout and a linear + softmax layer. The paper's
 * BN-Inception (224x224x3, 1000 classes; the schema's defaults) and a small
 * analog (e.g. 28x28x1 Fashion-MNIST) are this code with different tables.
 *
 * Switches (paper 4.2.1, 4.2.2): batchNorm puts BN per feature map before
 * every nonlinearity and drops the conv biases; activation relu|sigmoid;
 * dropout rate (0: none); lrn on/off; init.
 */
import * as tf from '@tensorflow/tfjs';
import { InceptionConfig } from '../config/schema';
import { BatchNorm, BnMode } from '../layers/batchnorm';
import { ConvUnit, ConvUnitOptions } from '../layers/conv';
import { Dense } from '../layers/dense';
import { Dropout } from '../layers/dropout';
import { InceptionBlock, WeightFactory } from '../layers/inception-block';
import { gaussianWeights } from '../layers/init';
import { lrn } from '../layers/lrn';
import { globalAvgPool, pool2d } from '../layers/pool';
import { Rng } from '../rng';
import { stemLayerName } from '../config/model-plan';
import { layerParameters, Parameter } from '../layers/parameter';
import { ForwardResult, Network } from './network';

type StemStage =
  { kind: 'conv'; unit: ConvUnit } | { kind: 'pool'; type: 'max' | 'avg'; size: number; stride: number; padding: 'same' | 'valid' } | { kind: 'lrn' };

export class Inception implements Network {
  private readonly stem: StemStage[];
  readonly blocks: InceptionBlock[];
  readonly dropout: Dropout;
  private readonly output: Dense;

  constructor(
    private readonly cfg: InceptionConfig,
    rng: Rng,
  ) {
    const { std, distribution, scaling } = cfg.init;
    // One stream for weights, one for dropout masks: adding a layer does not shift the masks.
    const initRng = rng.fork('weights');
    const weights: WeightFactory = (shape) => {
      const fanIn = shape[0] * shape[1] * shape[2];
      return gaussianWeights(shape, scaling === 'fan-in' ? std / Math.sqrt(fanIn) : std, distribution, initRng) as tf.Tensor4D;
    };
    const opts: ConvUnitOptions = { batchNorm: cfg.batchNorm, activation: cfg.activation, epsilon: cfg.epsilon, movingAverageDecay: cfg.movingAverageDecay };

    let c = cfg.inputShape[2];
    this.stem = [];
    cfg.stem.forEach((layer, i) => {
      const name = stemLayerName(layer, i);
      if (layer.type === 'conv') {
        const w = weights([layer.size, layer.size, c, layer.filters]);
        this.stem.push({ kind: 'conv', unit: new ConvUnit(name, w, layer.stride, layer.padding, opts) });
        w.dispose();
        c = layer.filters;
      } else if (layer.type === 'lrn') {
        if (cfg.lrn) this.stem.push({ kind: 'lrn' });
      } else {
        this.stem.push({ kind: 'pool', type: layer.type === 'maxpool' ? 'max' : 'avg', size: layer.size, stride: layer.stride, padding: layer.padding });
      }
    });
    this.blocks = cfg.blocks.map((spec) => {
      const block = new InceptionBlock(spec.name, spec, c, weights, opts);
      c = block.outChannels;
      return block;
    });
    this.dropout = new Dropout(cfg.dropout, rng.fork('dropout'));
    const w = gaussianWeights([c, cfg.classes], scaling === 'fan-in' ? std / Math.sqrt(c) : std, distribution, initRng) as tf.Tensor2D;
    this.output = new Dense('logits', w, true);
    w.dispose();
  }

  private get units(): ConvUnit[] {
    return [...this.stem.flatMap((s) => (s.kind === 'conv' ? [s.unit] : [])), ...this.blocks.flatMap((b) => b.units)];
  }

  get trainable(): Parameter[] {
    return [...this.units.flatMap((u) => u.parameters), ...layerParameters(this.output)];
  }

  get batchNorms(): BatchNorm[] {
    return this.units.flatMap((u) => (u.bn ? [u.bn] : []));
  }

  /**
   * x: [m, h, w, c] images, or [m, h*w*c] flattened ones (MNIST loaders).
   * preActivations: every conv's nonlinearity input (stem, then each block's
   * branches in order; widths as src/config/model-plan.ts preActivationWidths).
   * layerOutputs, if given, receives the output of every layer that
   * describeModel (src/config/model-plan.ts) lists after the input, in its order.
   */
  forward(x: tf.Tensor, mode: BnMode, layerOutputs?: tf.Tensor[]): ForwardResult {
    const [h, w, c] = this.cfg.inputShape;
    const tap = <T extends tf.Tensor>(t: T): T => (layerOutputs?.push(t), t);
    let u = (x.rank === 4 ? x : tf.reshape(x, [-1, h, w, c])) as tf.Tensor4D;
    const preActivations: tf.Tensor[] = [];
    for (const stage of this.stem) {
      if (stage.kind === 'conv') u = stage.unit.apply(u, mode, preActivations);
      else if (stage.kind === 'lrn') u = lrn(u, this.cfg.lrnParams);
      else u = pool2d(u, stage.type, stage.size, stage.stride, stage.padding);
      tap(u);
    }
    for (const block of this.blocks) u = tap(block.apply(u, mode, preActivations));
    let features = tap(globalAvgPool(u));
    if (this.dropout.rate > 0) features = tap(this.dropout.apply(features, mode === 'train') as tf.Tensor2D);
    return { logits: tap(this.output.apply(features)), preActivations };
  }
}
