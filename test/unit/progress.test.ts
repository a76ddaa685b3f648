/**
 * The progress model and display (src/logging/progress.ts) on a clock the
 * test drives: phase names, the ETA with evaluations and the final passes
 * counted, loss and steps/s between evaluations, and the one-line-per-event
 * output that says when the population pass runs.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import {
  countText,
  describePhase,
  durationText,
  etaText,
  evaluationsBetween,
  Progress,
  ProgressModel,
  ProgressPlan,
  statusLine,
} from '../../src/logging/progress';

const near = (a: number | null, b: number, what: string) => {
  assert.ok(a !== null && Math.abs(a - b) < 1e-9, `${what}: ${a} != ${b}`);
};

/** A clock the test moves. */
function clock(): { now: () => number; advance: (s: number) => void } {
  let t = 100;
  return { now: () => t, advance: (s) => void (t += s) };
}

const BN: ProgressPlan = { totalSteps: 100, evalEvery: 50, populationBatches: 10, batchSize: 60 };

/** Step 0's evaluation taking `evalS` over 10k examples, then `steps` steps of `stepS` each. */
function started(plan: ProgressPlan, c: ReturnType<typeof clock>, evalS: number, steps: number, stepS: number): ProgressModel {
  const m = new ProgressModel(plan, c.now);
  m.setPhase({ kind: 'starting', detail: 'loading mnist' });
  c.advance(7);
  m.begin(0);
  m.setPhase({ kind: 'training' });
  m.setPhase({ kind: 'evaluating', step: 0, final: false, statistics: 'moving' });
  c.advance(evalS);
  m.evaluatedExamples(10000);
  m.evaluated(0.1);
  for (let i = 1; i <= steps; i++) {
    c.advance(stepS);
    m.trained(i, 2 - i * 0.01);
  }
  return m;
}

describe('phase names', () => {
  it('say what the run is doing', () => {
    assert.equal(describePhase({ kind: 'starting', detail: 'loading mnist, building the network' }), 'starting: loading mnist, building the network');
    assert.equal(describePhase({ kind: 'training' }), 'training');
    assert.equal(describePhase({ kind: 'evaluating', step: 0, final: false, statistics: 'moving' }), 'evaluating on the test set');
    assert.equal(describePhase({ kind: 'evaluating', step: 500, final: false, statistics: 'moving' }, 10000), 'evaluating on the 10k test set');
    assert.equal(
      describePhase({ kind: 'evaluating', step: 500, final: true, statistics: 'population' }, 10000),
      'final evaluation on the 10k test set, population statistics',
    );
    assert.equal(describePhase({ kind: 'evaluating', step: 500, final: true, statistics: 'network' }, 10000), 'final evaluation on the 10k test set');
    assert.equal(describePhase({ kind: 'population', batch: 400, batches: 1000 }), 'population statistics 400/1000 (Algorithm 2)');
    assert.equal(describePhase({ kind: 'writing-figures' }), 'writing figures');
  });
  it('counts and durations read short', () => {
    assert.equal(countText(10000), '10k');
    assert.equal(countText(1234), '1,234');
    assert.equal(durationText(0), '0s');
    assert.equal(durationText(75), '1m15s');
    assert.equal(durationText(3725), '1h02m');
  });
});

describe('evaluationsBetween', () => {
  it('counts every evalEvery-th step and the last step once', () => {
    assert.equal(evaluationsBetween(0, 100, 50, 100), 2);
    assert.equal(evaluationsBetween(10, 100, 50, 100), 2);
    assert.equal(evaluationsBetween(50, 100, 50, 100), 1);
    assert.equal(evaluationsBetween(100, 100, 50, 100), 0);
    // 120 steps every 50: 50, 100 and the last step 120.
    assert.equal(evaluationsBetween(0, 120, 50, 120), 3);
    assert.equal(evaluationsBetween(110, 120, 50, 120), 1);
  });
});

describe('the ETA', () => {
  it('is unknown while starting and before a step has been timed', () => {
    const c = clock();
    const m = new ProgressModel(BN, c.now);
    assert.equal(m.snapshot().etaS, null);
    m.setPhase({ kind: 'evaluating', step: 0, final: false, statistics: 'moving' });
    c.advance(1);
    assert.equal(m.snapshot().etaS, null, 'step 0 evaluation: no step rate yet, so no ETA (not "0s")');
  });

  it('counts the training left, the evaluations due, and the final evaluations and population pass', () => {
    const c = clock();
    const m = started(BN, c, 2, 10, 0.1);
    const s = m.snapshot();
    assert.equal(s.phase.kind, 'training');
    assert.equal(s.step, 10);
    // 90 steps x 0.1 s + evaluations at 50 and 100 (2 x 2 s) + final: 2 evaluations (4 s) + 10 batches x 60 examples x 2 s / 10k.
    near(s.etaS, 9 + 4 + 4 + 10 * 60 * (2 / 10000), 'eta');
    assert.equal(s.etaPartial, false);
    assert.equal(s.testExamples, 10000);
    near(s.stepsPerS, 10, 'steps/s');
  });

  it('a net without BN has one final evaluation and no population pass', () => {
    const c = clock();
    const m = started({ ...BN, populationBatches: null }, c, 2, 10, 0.1);
    near(m.snapshot().etaS, 9 + 4 + 2, 'eta');
  });

  it('during an evaluation: what the measured ones say is left of it, and the step count does not move', () => {
    const c = clock();
    const m = started(BN, c, 2, 50, 0.1);
    m.setPhase({ kind: 'evaluating', step: 50, final: false, statistics: 'moving' });
    c.advance(0.5);
    m.evaluatedExamples(4000);
    const s = m.snapshot();
    // 1.5 s of this evaluation, 50 steps, the one at 100, and the final passes.
    near(s.etaS, 1.5 + 5 + 2 + 4 + 0.12, 'eta');
    assert.equal(s.evalExamples, 4000);
    assert.match(statusLine(s), /^evaluating on the 10k test set 4000\/10000 \| step 50\/100 /);
  });

  it('a resumed run, before its first evaluation: the ETA leaves evaluations out and says so', () => {
    const c = clock();
    const m = new ProgressModel(BN, c.now);
    m.begin(60);
    m.setPhase({ kind: 'training' });
    for (let i = 61; i <= 70; i++) {
      c.advance(0.1);
      m.trained(i, 1);
    }
    const s = m.snapshot();
    near(s.etaS, 3 + 10 * 0.1, 'eta: 30 steps, population batches bounded by the step time');
    assert.equal(s.etaPartial, true);
    assert.equal(etaText(s), '>4s + evaluations');
  });

  it('the population pass uses its own measured rate, then one evaluation is left', () => {
    const c = clock();
    const m = started(BN, c, 2, 100, 0.1);
    m.setPhase({ kind: 'evaluating', step: 100, final: true, statistics: 'moving' });
    c.advance(2);
    m.evaluated(0.9);
    m.setPhase({ kind: 'population', batch: 0, batches: 10 });
    for (let b = 1; b <= 4; b++) {
      c.advance(0.5);
      m.setPhase({ kind: 'population', batch: b, batches: 10 });
    }
    const s = m.snapshot();
    assert.equal(s.phase.kind, 'population');
    near(s.etaS, 6 * 0.5 + 2, 'eta');
    m.setPhase({ kind: 'evaluating', step: 100, final: true, statistics: 'population' });
    c.advance(0.5);
    near(m.snapshot().etaS, 1.5, 'eta in the last evaluation');
    m.evaluated(0.95);
    m.setPhase({ kind: 'done' });
    assert.equal(m.snapshot().etaS, 0);
  });
});

describe('loss and steps/s between evaluations', () => {
  it('follow the last few seconds of steps, not the last evaluation', () => {
    const c = clock();
    const m = started({ ...BN, totalSteps: 1000, evalEvery: 500 }, c, 2, 5, 0.1);
    const early = m.snapshot();
    // 15 s of faster steps at a lower loss: three time constants of the smoothing.
    for (let i = 6; i <= 305; i++) {
      c.advance(0.05);
      m.trained(i, 0.5);
    }
    const later = m.snapshot();
    assert.ok(later.loss !== null && early.loss !== null && later.loss < 0.6 && early.loss > 1.9, `${early.loss} -> ${later.loss}`);
    assert.ok(
      later.stepsPerS !== null && early.stepsPerS !== null && later.stepsPerS > 19 && early.stepsPerS < 10.5,
      `${early.stepsPerS} -> ${later.stepsPerS}`,
    );
    assert.match(statusLine(later), /^training \| step 305\/1000 .* 30% \| \d+ steps\/s \| loss 0\.5\d{3} \| test acc 10\.00% \| ETA \d+s$/);
  });
  it('a slow first step does not dominate a short run', () => {
    // What a 300-step MNIST run does: the first step compiles the kernels (1 s), the rest take 10 ms.
    const c = clock();
    const m = started(BN, c, 0.5, 1, 1);
    for (let i = 2; i <= 300; i++) {
      c.advance(0.01);
      m.trained(i, 0.4);
    }
    const s = m.snapshot();
    // 300 steps in 3.99 s, the slow one 3 s ago: a plain average of step times started from it would say 1.6 steps/s and loss 1.4.
    assert.ok(s.stepsPerS !== null && s.stepsPerS > 60 && s.stepsPerS < 100, `${s.stepsPerS} steps/s`);
    assert.ok(s.loss !== null && s.loss < 0.42, `loss ${s.loss}`);
  });
  it('an evaluation does not count as step time', () => {
    const c = clock();
    const m = started(BN, c, 2, 50, 0.1);
    m.setPhase({ kind: 'evaluating', step: 50, final: false, statistics: 'moving' });
    c.advance(30);
    m.evaluated(0.5);
    c.advance(0.1);
    m.trained(51, 1);
    near(m.snapshot().stepsPerS, 10, 'steps/s after a long evaluation');
  });
});

describe('the one-line-per-event display', () => {
  function run(plan: ProgressPlan): string[] {
    const c = clock();
    const lines: string[] = [];
    const p = new Progress(plan, false, (l) => void lines.push(l), c.now);
    p.phase({ kind: 'starting', detail: 'loading mnist, building the network' });
    c.advance(3);
    p.begin(0);
    p.phase({ kind: 'training' });
    const evaluate = (step: number, final: boolean, statistics: 'moving' | 'population' | 'network', acc: number) => {
      p.phase({ kind: 'evaluating', step, final, statistics });
      c.advance(1);
      p.evaluatedExamples(10000);
      p.evaluated({ step, accuracy: acc, trainLoss: step === 0 ? null : 0.5, stepsPerS: step === 0 ? null : 10 });
    };
    evaluate(0, false, plan.populationBatches === null ? 'network' : 'moving', 0.1);
    for (let i = 1; i <= plan.totalSteps; i++) {
      c.advance(0.1);
      p.trained(i, 0.5);
      if (i % plan.evalEvery === 0) evaluate(i, false, plan.populationBatches === null ? 'network' : 'moving', 0.9);
    }
    if (plan.populationBatches !== null) {
      evaluate(plan.totalSteps, true, 'moving', 0.9);
      p.phase({ kind: 'population', batch: 0, batches: plan.populationBatches });
      for (let b = 1; b <= plan.populationBatches; b++) {
        c.advance(0.2);
        p.phase({ kind: 'population', batch: b, batches: plan.populationBatches });
      }
    }
    evaluate(plan.totalSteps, true, plan.populationBatches === null ? 'network' : 'population', 0.95);
    p.phase({ kind: 'done' });
    p.stop();
    return lines;
  }

  it('says when the population pass runs, and each final evaluation with its statistics', () => {
    const lines = run(BN);
    assert.deepEqual(
      lines.map((l) => l.replace(/ {2}ETA .*$/, '')),
      [
        'starting: loading mnist, building the network',
        'step 0/100  train loss -  test acc 0.1000  - steps/s  eval 1s  elapsed 4s',
        'step 50/100  train loss 0.5000  test acc 0.9000  10 steps/s  eval 1s  elapsed 10s',
        'step 100/100  train loss 0.5000  test acc 0.9000  10 steps/s  eval 1s  elapsed 16s',
        'step 100/100  final evaluation, moving averages: test acc 0.9000  eval 1s',
        'step 100/100  population statistics (Algorithm 2): 10 training batches through the frozen network',
        'step 100/100  population statistics done: 10 batches in 2s',
        'step 100/100  final evaluation, population statistics: test acc 0.9500  eval 1s',
      ],
    );
    // Every line during training carries an ETA that counts what is left.
    // 50 steps x 0.1 s, the evaluation at 100, two final ones, 10 population batches at the evaluations' rate per example.
    assert.match(lines[2], /ETA 8s$/);
    assert.match(lines[lines.length - 1], /ETA 0s$/);
  });

  it('a net without BN: no population pass, one final evaluation', () => {
    const lines = run({ ...BN, populationBatches: null });
    assert.ok(!lines.some((l) => l.includes('population')));
    assert.match(lines[lines.length - 1], /^step 100\/100 {2}final evaluation: test acc 0\.9500 {2}eval 1s/);
  });

  it('a heartbeat line when a minute passes without one', () => {
    const c = clock();
    const lines: string[] = [];
    const p = new Progress(BN, false, (l) => void lines.push(l), c.now);
    p.begin(0);
    p.phase({ kind: 'training' });
    for (let i = 1; i <= 40; i++) {
      c.advance(2);
      p.trained(i, 1);
    }
    assert.deepEqual(
      lines.map((l) => l.replace(/ {2}ETA .*$/, '')),
      ['step 30/100  training  train loss 1.0000  0.50 steps/s  elapsed 1m00s'],
    );
  });
});
