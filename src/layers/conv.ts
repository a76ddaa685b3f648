/**
 * 2-D convolution over NHWC feature maps, and the conv unit of the Inception
 * networks: z = g(BN(W * u)) with BN per feature map and no bias (paper 3.2:
 * BN's beta takes the bias's role), or z = g(W * u + b) without BN.
 */
import * as tf from '@tensorflow/tfjs';
import { activate, Activation } from './activations';
import { BatchNorm, BnMode } from './batchnorm';
import { layerParameters, Parameter } from './parameter';

export type Padding = 'same' | 'valid';

export class Conv2D {
  readonly w: tf.Variable<tf.Rank.R4>;
  readonly b: tf.Variable<tf.Rank.R1> | null;

  /** `weights` is [kh, kw, in, out]; the variable shares its data, so the caller may dispose it. */
  constructor(
    readonly name: string,
    weights: tf.Tensor4D,
    useBias: boolean,
    readonly stride = 1,
    readonly padding: Padding = 'same',
  ) {
    this.w = tf.variable(weights, true);
    this.b = useBias ? tf.variable(tf.zeros([weights.shape[3]]), true) : null;
  }

  get filters(): number {
    return this.w.shape[3];
  }

  get trainable(): tf.Variable[] {
    return this.b ? [this.w, this.b] : [this.w];
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    const wx = tf.conv2d(x, this.w, this.stride, this.padding);
    return this.b ? (tf.add(wx, this.b) as tf.Tensor4D) : wx;
  }
}

export interface ConvUnitOptions {
  batchNorm: boolean;
  activation: Activation;
  epsilon: number;
  movingAverageDecay: number;
}

/** conv -> BN (or bias) -> nonlinearity. */
export class ConvUnit {
  readonly conv: Conv2D;
  readonly bn: BatchNorm | null;

  constructor(
    readonly name: string,
    weights: tf.Tensor4D,
    stride: number,
    padding: Padding,
    private readonly opts: ConvUnitOptions,
  ) {
    this.conv = new Conv2D(name, weights, !opts.batchNorm, stride, padding);
    this.bn = opts.batchNorm ? new BatchNorm(`${name}/bn`, this.conv.filters, opts.epsilon, opts.movingAverageDecay) : null;
  }

  get parameters(): Parameter[] {
    return layerParameters(this.conv, this.bn);
  }

  /** Appends the nonlinearity's input (BN output, or W*u + b) to `pre`. */
  apply(x: tf.Tensor4D, mode: BnMode, pre: tf.Tensor[]): tf.Tensor4D {
    const wx = this.conv.apply(x);
    const z = this.bn ? (this.bn.apply(wx, mode) as tf.Tensor4D) : wx;
    pre.push(z);
    return activate(z, this.opts.activation) as tf.Tensor4D;
  }
}
