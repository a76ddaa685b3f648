/**
 * SGD with optional momentum and L2 weight decay, in TensorFlow's form
 * (the paper's networks were trained with TensorFlow's predecessor):
 *   g <- dL/dw + lambda w          (lambda only for weight matrices and kernels)
 *   v <- mu v + g;  w <- w - lr v  (with mu = 0 this is plain w <- w - lr g)
 */
import * as tf from '@tensorflow/tfjs';
import { OptimizerConfig } from '../config/schema';
import { Parameter } from '../networks/network';
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
}
