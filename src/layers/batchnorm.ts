/**
 * Batch Normalization, as the paper's Algorithms 1 and 2.
 *
 * One (gamma, beta) per activation. For a fully-connected layer an activation
 * is a column of the [m, C] input; for a convolution (input [m, h, w, C]) it is
 * a feature map, normalised jointly over the batch and all positions, so the
 * effective mini-batch is m' = m*h*w (paper 3.2). Statistics are always taken
 * over every axis but the last.
 */
import * as tf from '@tensorflow/tfjs';
import { hasBatchNormKernels, makeFusedBatchTransform } from '../kernels/batchnorm-fused';
import { customGrad, Saver } from './custom-grad';

/**
 * How the layer normalises:
 * - train: mini-batch statistics, gradients through them (Algorithm 1); updates the moving averages.
 * - moving: inference with the moving averages, used to monitor accuracy during training.
 * - collect: like train but without gradients, summing mu_B and sigma2_B for Algorithm 2.
 * - population: inference with the exact population statistics from the collect pass (Algorithm 2).
 */
export type BnMode = 'train' | 'moving' | 'collect' | 'population';

/**
 * Per-channel sum over every axis but the last, as one matrix product
 * 1^T X with X viewed as [m, C]: on wasm this is XNNPACK's matmul, ~20x faster
 * than tf.sum over three axes (which reduces through a transpose).
 */
function channelSum(t: tf.Tensor): tf.Tensor1D {
  const c = t.shape[t.rank - 1];
  const m = t.size / c;
  return tf.reshape(tf.matMul(tf.ones([1, m]), tf.reshape(t, [m, c])), [c]);
}

/** Algorithm 1's forward pass, with the intermediates its backward pass reuses. */
// The comments stand aligned beside the paper's equations.
// prettier-ignore
function batchForward(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number) {
  const m = x.size / x.shape[x.rank - 1];
  const mu = tf.div(channelSum(x), m) as tf.Tensor1D;              // mu_B = 1/m sum x_i
  const xc = tf.sub(x, mu);                                        // x_i - mu_B
  const sigma2 = tf.div(channelSum(tf.square(xc)), m) as tf.Tensor1D; // sigma2_B = 1/m sum (x_i - mu_B)^2
  const invStd = tf.rsqrt(tf.add(sigma2, epsilon));                // 1 / sqrt(sigma2_B + eps)
  const xhat = tf.mul(xc, invStd);                                 // xhat_i
  const y = tf.add(tf.mul(xhat, gamma), beta);                     // y_i = gamma xhat_i + beta
  return { mu, sigma2, invStd, xhat, y };
}

/**
 * Algorithm 1 with the backward pass written as the paper's chain rule, so
 * the gradient flows through mu_B and sigma2_B (normalising outside the
 * gradient lets a bias grow without bound, paper section 2).
 * `onMoments` receives mu_B and sigma2_B (for the moving averages).
 *
 * The chain rule's sums over the mini-batch are taken once, per channel: with
 * dl/dxhat_i = dl/dy_i gamma and x_i - mu_B = xhat_i sqrt(sigma2_B + eps),
 *   sum dl/dxhat_i             = gamma dl/dbeta,
 *   sum dl/dxhat_i (x_i - mu_B) = gamma dl/dgamma sqrt(sigma2_B + eps),
 * so dl/dsigma2_B and dl/dmu_B are per-channel vectors and dl/dx_i is one
 * affine map of dl/dy_i and xhat_i per channel (2 sums and 5 full-size
 * operations instead of 4 and 9).
 */
// The comments stand aligned beside the paper's equations.
// prettier-ignore
function makeBatchTransform(epsilon: number, onMoments: (mu: tf.Tensor1D, sigma2: tf.Tensor1D) => void) {
  const f = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, save: Saver) => {
    const m = x.size / x.shape[x.rank - 1];
    const { mu, sigma2, invStd, xhat, y } = batchForward(x, gamma, beta, epsilon);
    onMoments(mu, sigma2);
    save([xhat, invStd, gamma]);

    const gradFunc = (dy: tf.Tensor, [xhatS, invStdS, gammaS]: tf.Tensor[]): tf.Tensor[] => {
      const dbeta = channelSum(dy);                                               // dl/dbeta = sum dl/dy_i
      const dgamma = channelSum(tf.mul(dy, xhatS));                               // dl/dgamma = sum dl/dy_i xhat_i
      const dsigma2 = tf.mul(tf.mul(gammaS, dgamma), tf.mul(-0.5, tf.square(invStdS))); // dl/dsigma2_B = sum dl/dxhat_i (x_i - mu_B) (-1/2)(sigma2_B + eps)^(-3/2)
      // The paper's dl/dmu_B also has dl/dsigma2_B * sum(-2(x_i - mu_B))/m, which is exactly 0.
      const dmu = tf.mul(tf.mul(gammaS, dbeta), tf.neg(invStdS));                // dl/dmu_B = sum dl/dxhat_i (-1/sqrt(sigma2_B + eps))
      const dx = tf.add(
        tf.add(
          tf.mul(dy, tf.mul(gammaS, invStdS)),                                    // dl/dx_i = dl/dxhat_i / sqrt(sigma2_B + eps)
          tf.mul(xhatS, tf.div(tf.mul(dsigma2, 2 / m), invStdS)),                 //   + dl/dsigma2_B 2(x_i - mu_B)/m
        ),
        tf.div(dmu, m),                                                           //   + dl/dmu_B / m
      );
      return [dx, dgamma, dbeta];
    };
    return { value: y, gradFunc };
  };
  return customGrad(f);
}

export class BatchNorm {
  readonly gamma: tf.Variable<tf.Rank.R1>;
  readonly beta: tf.Variable<tf.Rank.R1>;
  readonly movingMean: tf.Variable<tf.Rank.R1>;
  readonly movingVariance: tf.Variable<tf.Rank.R1>;
  readonly populationMean: tf.Variable<tf.Rank.R1>;
  readonly populationVariance: tf.Variable<tf.Rank.R1>;
  private readonly collected = { muSum: null as tf.Tensor1D | null, sigma2Sum: null as tf.Tensor1D | null, batches: 0, m: 0 };
  private readonly transform: (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor;
  /** The same transform as two kernels on wasm (src/kernels/batchnorm-fused.ts); the code above is its reference. */
  private readonly fused: (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor;

  constructor(
    readonly name: string,
    readonly channels: number,
    readonly epsilon: number,
    /** Moving averages: new = decay * old + (1 - decay) * batch. */
    readonly movingAverageDecay: number,
  ) {
    // gamma = 1, beta = 0 starts as a plain standardisation.
    this.gamma = tf.variable(tf.ones([channels]), true);
    this.beta = tf.variable(tf.zeros([channels]), true);
    this.movingMean = tf.variable(tf.zeros([channels]), false);
    this.movingVariance = tf.variable(tf.ones([channels]), false);
    this.populationMean = tf.variable(tf.zeros([channels]), false);
    this.populationVariance = tf.variable(tf.ones([channels]), false);
    this.transform = makeBatchTransform(epsilon, (mu, sigma2) => this.updateMovingAverages(mu, sigma2));
    this.fused = makeFusedBatchTransform({ mean: this.movingMean, variance: this.movingVariance }, { epsilon, decay: movingAverageDecay });
  }

  get trainable(): tf.Variable[] {
    return [this.gamma, this.beta];
  }

  /** State that is not trained but must be saved with the weights. */
  get statistics(): tf.Variable[] {
    return [this.movingMean, this.movingVariance, this.populationMean, this.populationVariance];
  }

  apply(x: tf.Tensor, mode: BnMode): tf.Tensor {
    switch (mode) {
      case 'train':
        return (hasBatchNormKernels() ? this.fused : this.transform)(x, this.gamma, this.beta);
      case 'collect':
        return this.collect(x);
      case 'moving':
        return this.inference(x, this.movingMean, this.movingVariance);
      case 'population':
        return this.inference(x, this.populationMean, this.populationVariance);
    }
  }

  /** Algorithm 2, step 11: at inference BN is one affine map per activation. */
  inference(x: tf.Tensor, mean: tf.Tensor1D, variance: tf.Tensor1D): tf.Tensor {
    return tf.tidy(() => {
      const scale = tf.mul(this.gamma, tf.rsqrt(tf.add(variance, this.epsilon)));
      const shift = tf.sub(this.beta, tf.mul(scale, mean));
      return tf.add(tf.mul(x, scale), shift);
    });
  }

  private updateMovingAverages(mu: tf.Tensor1D, sigma2: tf.Tensor1D): void {
    const d = this.movingAverageDecay;
    tf.tidy(() => {
      this.movingMean.assign(tf.add(tf.mul(this.movingMean, d), tf.mul(mu, 1 - d)));
      this.movingVariance.assign(tf.add(tf.mul(this.movingVariance, d), tf.mul(sigma2, 1 - d)));
    });
  }

  /** Algorithm 2, step 8-10: clears the sums of mu_B and sigma2_B. */
  beginPopulation(): void {
    this.collected.muSum?.dispose();
    this.collected.sigma2Sum?.dispose();
    Object.assign(this.collected, { muSum: null, sigma2Sum: null, batches: 0, m: 0 });
  }

  private collect(x: tf.Tensor): tf.Tensor {
    const { mu, sigma2, y } = batchForward(x, this.gamma, this.beta, this.epsilon);
    const c = this.collected;
    const add = (sum: tf.Tensor1D | null, v: tf.Tensor1D) => tf.keep(sum ? tf.add(sum, v) : tf.clone(v)) as tf.Tensor1D;
    const muSum = add(c.muSum, mu);
    const sigma2Sum = add(c.sigma2Sum, sigma2);
    c.muSum?.dispose();
    c.sigma2Sum?.dispose();
    Object.assign(c, { muSum, sigma2Sum, batches: c.batches + 1, m: x.size / this.channels });
    return y;
  }

  /** E[x] = E_B[mu_B]; Var[x] = m/(m-1) E_B[sigma2_B], the unbiased estimate. */
  endPopulation(): { batches: number; m: number } {
    const { muSum, sigma2Sum, batches, m } = this.collected;
    if (!muSum || !sigma2Sum || m < 2) throw new Error(`${this.name}: no mini-batches of size > 1 were collected`);
    tf.tidy(() => {
      this.populationMean.assign(tf.div(muSum, batches));
      this.populationVariance.assign(tf.mul(tf.div(sigma2Sum, batches), m / (m - 1)));
    });
    const done = { batches, m };
    this.beginPopulation();
    return done;
  }
}

/** What Algorithm 2's pass needs of a network: its BN layers and a forward pass (in 'collect' mode). */
export interface PopulationNet {
  readonly batchNorms: readonly BatchNorm[];
  forward(x: tf.Tensor, mode: BnMode): unknown;
}

/** Training mini-batches as a data source hands them out (data/source.ts BatchStream). */
export interface PopulationBatches {
  next(): Promise<{ x: tf.Tensor; y: tf.Tensor }>;
  close(): Promise<void>;
}

/**
 * Algorithm 2: with the parameters frozen, run `batches` training mini-batches
 * through the training network and set each BN's population statistics to
 * E[x] = E_B[mu_B], Var[x] = m/(m-1) E_B[sigma2_B]. Returns the batch count
 * and m (null for a network without BN). The stream is closed whatever happens.
 */
export async function populationPass(
  net: PopulationNet,
  stream: PopulationBatches,
  batches: number,
  /** Awaited before each batch: gives a pending signal its turn (and may throw to stop). */
  between?: () => Promise<void>,
  /** Told the batches done after each one, for a progress display. */
  onBatch?: (done: number) => void,
): Promise<{ batches: number; m: number } | null> {
  try {
    if (net.batchNorms.length === 0) return null;
    for (const bn of net.batchNorms) bn.beginPopulation();
    for (let i = 0; i < batches; i++) {
      await between?.();
      const batch = await stream.next();
      tf.tidy(() => {
        net.forward(batch.x, 'collect');
      });
      tf.dispose([batch.x, batch.y]);
      onBatch?.(i + 1);
    }
    const counts = net.batchNorms.map((bn) => bn.endPopulation());
    return counts[0];
  } finally {
    await stream.close();
  }
}
