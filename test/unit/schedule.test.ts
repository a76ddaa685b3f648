/** learningRateAt, which every Inception config's decay goes through, against float64 references of lr0 * factor^(step/every). */
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { it } from 'node:test';
import { loadConfig } from '../../src/config/load';
import { OptimizerSchema } from '../../src/config/schema';
import { learningRateAt } from '../../src/train/schedule';

const CONFIGS = path.resolve(__dirname, '..', '..', '..', 'configs');

const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) <= 1e-15 * expected, `${actual} vs ${expected}`);

it('no decay: the initial rate at every step', () => {
  const opt = OptimizerSchema.parse({ learningRate: 0.5 });
  for (const step of [0, 1, 499, 50_000, 6e6]) assert.equal(learningRateAt(opt, step), 0.5);
});

it('staircase: lr0 * factor^floor(step / every), stepping exactly at multiples of every', () => {
  const opt = OptimizerSchema.parse({ learningRate: 0.01, decay: { factor: 0.96, every: 240 } });
  const cases: [number, number][] = [
    [0, 0.01],
    [239, 0.01],
    [240, 0.01 * 0.96],
    [479, 0.01 * 0.96],
    [480, 0.01 * 0.96 * 0.96],
    [2400, 0.01 * Math.pow(0.96, 10)],
  ];
  for (const [step, lr] of cases) close(learningRateAt(opt, step), lr);
});

it('smooth: lr0 * factor^(step / every) between the steps', () => {
  const opt = OptimizerSchema.parse({ learningRate: 0.01, decay: { factor: 0.5, every: 100, staircase: false } });
  close(learningRateAt(opt, 0), 0.01);
  close(learningRateAt(opt, 50), 0.01 * Math.SQRT1_2);
  close(learningRateAt(opt, 100), 0.005);
  close(learningRateAt(opt, 250), 0.01 * Math.pow(0.5, 2.5));
});

it('the shipped Inception configs: GoogLeNet decay every 8 epochs, BN-x5 six times faster at five times the rate', () => {
  const inception = loadConfig(path.join(CONFIGS, 'imagenet', 'inception.json')).optimizer;
  close(learningRateAt(inception, 319_999), 0.0015);
  close(learningRateAt(inception, 320_000), 0.0015 * 0.96);
  const bnX5 = loadConfig(path.join(CONFIGS, 'imagenet', 'bn-x5.json')).optimizer;
  close(learningRateAt(bnX5, 53_332), 0.0075);
  close(learningRateAt(bnX5, 53_333), 0.0075 * 0.96);
  // The small analog: five times the small Inception's rate, decayed every 30 steps where Inception decays every 180.
  const smallBase = loadConfig(path.join(CONFIGS, 'small', 'inception.json')).optimizer;
  close(learningRateAt(smallBase, 179), smallBase.learningRate);
  close(learningRateAt(smallBase, 180), smallBase.learningRate * 0.96);
  const small = loadConfig(path.join(CONFIGS, 'small', 'bn-x5.json')).optimizer;
  close(learningRateAt(small, 29), 5 * smallBase.learningRate);
  close(learningRateAt(small, 30), 5 * smallBase.learningRate * 0.96);
});
