/**
 * One inception block (paper section 4.2 layer table): parallel branches over
 * the same input, concatenated along channels in branch order:
 *   1x1 conv | 1x1 reduce -> 3x3 | 1x1 reduce -> 3x3 -> 3x3 | 3x3 pool (avg or max) -> 1x1 projection or pass-through.
 * In a stride-2 (reduction) block the last conv of each branch and the pool
 * have stride 2. The branch plan comes from src/config/model-plan.ts, so the
 * built block and `bnrun info` cannot disagree.
 */
import * as tf from '@tensorflow/tfjs';
import type { InceptionBlockConfig } from '../config/schema';
import { planBlock } from '../config/model-plan';
import { BatchNorm, BnMode } from './batchnorm';
import { ConvUnit, ConvUnitOptions } from './conv';
import type { Parameter } from './parameter';
import { concatChannels, pool2d, PoolType } from './pool';

/** Makes the initial [kh, kw, in, out] weights of one convolution. */
export type WeightFactory = (shape: [number, number, number, number]) => tf.Tensor4D;

interface Branch {
  pool: { type: PoolType; stride: number } | null;
  convs: ConvUnit[];
}

export class InceptionBlock {
  private readonly branches: Branch[];
  readonly outChannels: number;

  constructor(
    readonly name: string,
    spec: InceptionBlockConfig,
    readonly inChannels: number,
    weights: WeightFactory,
    opts: ConvUnitOptions,
  ) {
    const plan = planBlock(spec, inChannels);
    this.outChannels = plan.outChannels;
    this.branches = plan.branches.map((branch) => {
      let c = inChannels;
      const convs = branch.convs.map((conv) => {
        const w = weights([conv.size, conv.size, c, conv.filters]);
        const unit = new ConvUnit(`${name}/${conv.name}`, w, conv.stride, 'same', opts);
        w.dispose();
        c = conv.filters;
        return unit;
      });
      return { pool: branch.pool ? { type: spec.pool, stride: spec.stride } : null, convs };
    });
  }

  get units(): ConvUnit[] {
    return this.branches.flatMap((b) => b.convs);
  }

  get parameters(): Parameter[] {
    return this.units.flatMap((u) => u.parameters);
  }

  get batchNorms(): BatchNorm[] {
    return this.units.flatMap((u) => (u.bn ? [u.bn] : []));
  }

  /** Appends each conv's pre-activation to `pre`, branch by branch. */
  apply(x: tf.Tensor4D, mode: BnMode, pre: tf.Tensor[]): tf.Tensor4D {
    const outs = this.branches.map(({ pool, convs }) => {
      let y = pool ? pool2d(x, pool.type, 3, pool.stride, 'same') : x;
      for (const unit of convs) y = unit.apply(y, mode, pre);
      return y;
    });
    return concatChannels(outs);
  }
}
