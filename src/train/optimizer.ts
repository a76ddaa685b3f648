/**
 * SGD with optional momentum and L2 weight decay, in TensorFlow's form
 * (the paper's networks were trained with TensorFlow's predecessor):
 *   g <- dL/dw + lambda w          (lambda only for weight matrices and kernels)
 *   v <- mu v + g;  w <- w - lr v  (with mu = 0 this is plain w <- w - lr g)
 */
import * as tf from '@tensorflow/tfjs';
import { OptimizerConfig } from '../config/schema';
import { hasSgdUpdate, SGD_UPDATE, SgdUpdateAllAttrs } from '../kernels/sgd-update';
import type { Parameter } from '../layers/parameter';
import { NamedVariable } from './checkpoint';

export class Sgd {
  private readonly velocities: Map<tf.Variable, tf.Variable>;

  constructor(
    private readonly cfg: OptimizerConfig,
    private readonly params: Parameter[],
  ) {
    this.velocities = new Map(cfg.momentum > 0 ? params.map((p) => [p.variable, tf.variable(tf.zerosLike(p.variable), false)]) : []);
  }

  /** Optimiser state a checkpoint must keep. */
  get state(): NamedVariable[] {
    return this.params.flatMap((p) => {
      const v = this.velocities.get(p.variable);
      return v ? [{ name: `${p.name}/velocity`, variable: v }] : [];
    });
  }

  /** Call inside a tidy. */
  apply(grads: Record<string, tf.Tensor>, learningRate: number): void {
    if (hasSgdUpdate()) {
      this.applyFused(grads, learningRate);
      return;
    }
    const lr = tf.scalar(learningRate);
    for (const p of this.params) {
      const w = p.variable;
      let g = grads[w.name];
      if (p.decay && this.cfg.weightDecay > 0) g = tf.add(g, tf.mul(w, this.cfg.weightDecay));
      const v = this.velocities.get(w);
      if (v) {
        v.assign(tf.add(tf.mul(v, this.cfg.momentum), g));
        g = v;
      }
      w.assign(tf.sub(w, tf.mul(g, lr)));
    }
  }

  /** The same update, one kernel for all parameters (src/kernels/sgd-update.ts; wasm). */
  private applyFused(grads: Record<string, tf.Tensor>, learningRate: number): void {
    const momentum = this.velocities.size > 0 ? this.cfg.momentum : 0;
    const inputs: tf.NamedTensorMap = {};
    this.params.forEach((p, i) => {
      inputs[`w${i}`] = p.variable;
      inputs[`g${i}`] = grads[p.variable.name];
      const v = this.velocities.get(p.variable);
      if (v) inputs[`v${i}`] = v;
    });
    const attrs: SgdUpdateAllAttrs = { learningRate, momentum, weightDecays: this.params.map((p) => (p.decay ? this.cfg.weightDecay : 0)) };
    const out = tf.engine().runKernel(SGD_UPDATE, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    const n = this.params.length;
    this.params.forEach((p, i) => {
      p.variable.assign(out[i]);
      const v = this.velocities.get(p.variable);
      if (v) v.assign(out[n + i]);
    });
  }
}
