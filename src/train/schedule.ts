import { OptimizerConfig } from '../config/schema';

/** Learning rate before step `step` (0-based): exponential decay, or constant without `decay`. */
export function learningRateAt(opt: OptimizerConfig, step: number): number {
  if (!opt.decay) return opt.learningRate;
  const periods = step / opt.decay.every;
  return opt.learningRate * Math.pow(opt.decay.factor, opt.decay.staircase ? Math.floor(periods) : periods);
}
