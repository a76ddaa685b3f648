/**
 * What a training run is doing and how long it has left, and how that is
 * shown: a line redrawn in place on a terminal, otherwise (CI, a pipe, a log
 * file) one line per event.
 *
 * The model (Phase, ProgressModel) is plain data and a clock, with no output,
 * so anything that follows runs (a sweep showing one line per run) can keep
 * one per run and describe it the same way. The ETA counts everything left,
 * not only training steps: the evaluations still due (from the measured
 * duration of the ones done) and the final passes after the last step (one
 * more evaluation, and for BN nets Algorithm 2's population pass and a second
 * evaluation), because on a small net those are most of the wall time.
 */
import { SingleBar } from 'cli-progress';

/** One phase of a run; plain JSON, so it can cross a process boundary as is. */
export type Phase =
  /** Before the first step: loading data, building the network, restoring a checkpoint. */
  | { kind: 'starting'; detail: string }
  | { kind: 'training' }
  /**
   * A pass over the test set at `step`: during training (BN nets with
   * moving-average statistics) or, `final`, after the last step with the
   * statistics named (population: Algorithm 2's; network: a net without BN).
   */
  | { kind: 'evaluating'; step: number; final: boolean; statistics: 'moving' | 'population' | 'network' }
  /** Algorithm 2: `batch` of `batches` training mini-batches through the frozen network. */
  | { kind: 'population'; batch: number; batches: number }
  | { kind: 'writing-figures' }
  | { kind: 'done' };

export interface ProgressPlan {
  totalSteps: number;
  evalEvery: number;
  /** Algorithm 2's batches after the last step; null for a net without BN (no population pass, one final evaluation). */
  populationBatches: number | null;
  /** Examples per training (and population) mini-batch. */
  batchSize: number;
}

export interface ProgressSnapshot {
  phase: Phase;
  step: number;
  total: number;
  /** Training loss averaged over the last few seconds of steps; null before the first step. */
  loss: number | null;
  /** Training steps per second over the last few seconds, evaluations excluded. */
  stepsPerS: number | null;
  /** Test accuracy of the last evaluation. */
  accuracy: number | null;
  /** Examples done in the evaluation under way (null when none is). */
  evalExamples: number | null;
  /** The test set's size, once one evaluation has finished. */
  testExamples: number | null;
  /** Seconds since the model was created. */
  elapsedS: number;
  /** Seconds left, evaluations and final passes included; null while there is nothing to estimate from. */
  etaS: number | null;
  /** True when the ETA leaves out evaluations whose duration is not known yet (a lower bound). */
  etaPartial: boolean;
}

/** Time constant of the moving averages of loss and step rate: what the display shows is about the last few seconds. */
const SMOOTHING_S = 5;

const seconds = () => performance.now() / 1000;

/** A test set size in words: 10000 -> "10k", 1234 -> "1,234". */
export function countText(n: number): string {
  return n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : n.toLocaleString('en-US');
}

/** The phase in a few words, as the display shows it. */
export function describePhase(p: Phase, testExamples: number | null = null): string {
  const testSet = `the ${testExamples === null ? '' : `${countText(testExamples)} `}test set`;
  switch (p.kind) {
    case 'starting':
      return `starting: ${p.detail}`;
    case 'training':
      return 'training';
    case 'evaluating':
      if (!p.final) return `evaluating on ${testSet}`;
      return `final evaluation on ${testSet}${p.statistics === 'moving' ? ', moving averages' : p.statistics === 'population' ? ', population statistics' : ''}`;
    case 'population':
      return `population statistics ${p.batch}/${p.batches} (Algorithm 2)`;
    case 'writing-figures':
      return 'writing figures';
    case 'done':
      return 'done';
  }
}

/** Evaluations during training at steps in (from, to]: every evalEvery-th step and the last one. */
export function evaluationsBetween(from: number, to: number, evalEvery: number, total: number): number {
  if (to <= from) return 0;
  const multiples = Math.floor(to / evalEvery) - Math.floor(from / evalEvery);
  const last = to === total && total % evalEvery !== 0 ? 1 : 0;
  return multiples + last;
}

/**
 * The state of one run and its ETA. Feed it the run's events (phases,
 * training steps with their loss, evaluation results, population batches);
 * durations come from `now` (seconds), so tests can drive a clock of their own.
 */
export class ProgressModel {
  private phaseNow: Phase = { kind: 'starting', detail: 'loading' };
  private phaseStart: number;
  private readonly t0: number;
  private stepNow = 0;
  private accuracy: number | null = null;
  // Training loss and step rate over the last few seconds: sums whose terms
  // fade with age (time constant SMOOTHING_S). Ratios of such sums carry no
  // start-up bias, so a slow first step does not dominate a short run, as it
  // would in a plain exponential average started from that step.
  private lossSum = 0;
  private lossWeight = 0;
  private stepWeight = 0;
  private stepSeconds = 0;
  private lastStepAt: number | null = null;
  // Training steps and their seconds since this model started: the rate the ETA uses.
  private trainedSteps = 0;
  private trainedS = 0;
  private readonly evalS: number[] = [];
  /** An evaluation phase whose end has not been recorded yet. */
  private evalOpen = false;
  private evalDone = 0;
  private testExamples: number | null = null;
  private popBatchS: number | null = null;

  constructor(
    readonly plan: ProgressPlan,
    private readonly now: () => number = seconds,
  ) {
    this.t0 = now();
    this.phaseStart = this.t0;
  }

  get phase(): Phase {
    return this.phaseNow;
  }

  get step(): number {
    return this.stepNow;
  }

  /** The step the loop starts from (0, or a resumed checkpoint's). */
  begin(step: number): void {
    this.stepNow = step;
  }

  setPhase(p: Phase): void {
    const t = this.now();
    this.endEvaluation(t);
    if (p.kind === 'population' && this.phaseNow.kind === 'population') {
      // The same pass, further on: measure its rate from its start.
      if (p.batch > 0) this.popBatchS = (t - this.phaseStart) / p.batch;
      this.phaseNow = p;
      return;
    }
    this.evalOpen = p.kind === 'evaluating';
    this.evalDone = 0;
    // The first step after a pause must not count the pause as step time.
    this.lastStepAt = p.kind === 'training' ? t : null;
    this.phaseNow = p;
    this.phaseStart = t;
  }

  /** A training step finished with this mini-batch loss. */
  trained(step: number, loss: number): void {
    const t = this.now();
    // A step timed from the previous one counts towards the rate; the first after a phase change only towards the loss.
    const dt = this.lastStepAt === null ? null : Math.max(t - this.lastStepAt, 0);
    const fade = dt === null ? 1 : Math.exp(-dt / SMOOTHING_S);
    this.lossSum = this.lossSum * fade + loss;
    this.lossWeight = this.lossWeight * fade + 1;
    if (dt !== null) {
      this.stepWeight = this.stepWeight * fade + 1;
      this.stepSeconds = this.stepSeconds * fade + dt;
      this.trainedS += dt;
      this.trainedSteps += 1;
    }
    this.lastStepAt = t;
    this.stepNow = step;
  }

  /** `done` examples of the evaluation under way have been through the network. */
  evaluatedExamples(done: number): void {
    this.evalDone = done;
  }

  /** The evaluation under way finished with this accuracy; one during training hands back to training. */
  evaluated(accuracy: number): void {
    const t = this.now();
    this.accuracy = accuracy;
    this.endEvaluation(t);
    if (this.phaseNow.kind === 'evaluating' && !this.phaseNow.final) {
      this.phaseNow = { kind: 'training' };
      this.phaseStart = t;
      this.lastStepAt = t;
    }
  }

  private endEvaluation(t: number): void {
    if (!this.evalOpen) return;
    this.evalOpen = false;
    this.evalS.push(t - this.phaseStart);
    if (this.evalDone > 0) this.testExamples = this.evalDone;
  }

  /** Seconds per evaluation (the mean of those measured), or null before the first has finished. */
  evaluationSeconds(): number | null {
    return this.evalS.length === 0 ? null : this.evalS.reduce((a, b) => a + b, 0) / this.evalS.length;
  }

  /** Seconds the last finished evaluation took. */
  lastEvaluationSeconds(): number | null {
    return this.evalS.length === 0 ? null : this.evalS[this.evalS.length - 1];
  }

  snapshot(): ProgressSnapshot {
    const t = this.now();
    const p = this.phaseNow;
    return {
      phase: p,
      step: this.stepNow,
      total: this.plan.totalSteps,
      loss: this.lossWeight > 0 ? this.lossSum / this.lossWeight : null,
      stepsPerS: this.stepSeconds > 0 ? this.stepWeight / this.stepSeconds : null,
      accuracy: this.accuracy,
      evalExamples: this.evalOpen ? this.evalDone : null,
      testExamples: this.testExamples,
      elapsedS: t - this.t0,
      ...this.eta(t),
    };
  }

  private eta(t: number): { etaS: number | null; etaPartial: boolean } {
    const { totalSteps, evalEvery, populationBatches } = this.plan;
    const p = this.phaseNow;
    if (p.kind === 'done' || p.kind === 'writing-figures') return { etaS: 0, etaPartial: false };
    if (p.kind === 'starting') return { etaS: null, etaPartial: false };
    const evalS = this.evaluationSeconds();
    const inPhase = t - this.phaseStart;
    const perStep = this.trainedSteps > 0 ? this.trainedS / this.trainedSteps : null;
    // A population batch is an inference-like forward pass: until one is timed, the evaluations' time per example
    // says more than a training step's (forward, backward and update), which bounds it from above.
    const perExample = evalS !== null && this.testExamples ? evalS / this.testExamples : null;
    const perBatch = this.popBatchS ?? (perExample !== null ? perExample * this.plan.batchSize : perStep);
    let known = 0;
    let unknownEvals = 0;
    let unknown = false;
    const evals = (n: number) => {
      if (evalS === null) unknownEvals += n;
      else known += n * evalS;
    };
    const population = (batchesLeft: number) => {
      if (perBatch === null) unknown = true;
      else known += batchesLeft * perBatch;
    };
    const finalPasses = () => {
      if (populationBatches === null) evals(1);
      else {
        evals(2);
        population(populationBatches);
      }
    };
    // The evaluation under way: what its measured predecessors say is left of it.
    const current = () => {
      if (!this.evalOpen) return;
      if (evalS === null) unknownEvals += 1;
      else known += Math.max(0, evalS - inPhase);
    };
    if (p.kind === 'training' || (p.kind === 'evaluating' && !p.final)) {
      const left = totalSteps - this.stepNow;
      if (left > 0 && perStep === null) return { etaS: null, etaPartial: false };
      known += left * (perStep ?? 0);
      if (p.kind === 'evaluating') current();
      evals(evaluationsBetween(this.stepNow, totalSteps, evalEvery, totalSteps));
      finalPasses();
    } else if (p.kind === 'evaluating') {
      current();
      if (p.statistics === 'moving') {
        population(populationBatches ?? 0);
        evals(1);
      }
    } else if (p.kind === 'population') {
      population(p.batches - p.batch);
      evals(1);
    }
    if (unknown) return { etaS: null, etaPartial: false };
    // Evaluations of unknown length: the ETA is the rest, a lower bound, until one has been timed.
    return { etaS: known, etaPartial: unknownEvals > 0 };
  }
}

/** 0 -> "0s", 75 -> "1m15s", 3725 -> "1h02m". */
export function durationText(s: number): string {
  const r = Math.max(0, Math.round(s));
  if (r < 60) return `${r}s`;
  if (r < 3600) return `${Math.floor(r / 60)}m${String(r % 60).padStart(2, '0')}s`;
  return `${Math.floor(r / 3600)}h${String(Math.floor((r % 3600) / 60)).padStart(2, '0')}m`;
}

export function etaText(s: ProgressSnapshot): string {
  if (s.etaS === null) return '-';
  return `${s.etaPartial ? '>' : ''}${durationText(s.etaS)}${s.etaPartial ? ' + evaluations' : ''}`;
}

const num = (v: number | null, digits: number) => (v === null ? '-' : v.toFixed(digits));
const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(2)}%`);
const rate = (v: number | null) => (v === null ? '-' : v >= 10 ? v.toFixed(0) : v.toFixed(2));

/** The phase, with the evaluation's examples so far when one is under way. */
export function phaseText(s: ProgressSnapshot): string {
  const words = describePhase(s.phase, s.testExamples);
  const done = s.evalExamples;
  return done ? `${words} ${done}${s.testExamples === null ? '' : `/${s.testExamples}`}` : words;
}

const BAR_WIDTH = 20;

/** The terminal line: phase first (it survives a narrow terminal), then step, bar, rate, loss, accuracy, ETA. */
export function statusLine(s: ProgressSnapshot, maxWidth = Infinity): string {
  const frac = s.total > 0 ? Math.min(1, s.step / s.total) : 0;
  const filled = Math.round(frac * BAR_WIDTH);
  const bar = '\u2588'.repeat(filled) + '\u2591'.repeat(BAR_WIDTH - filled);
  const line = [
    phaseText(s),
    `step ${s.step}/${s.total} ${bar} ${Math.floor(frac * 100)}%`,
    `${rate(s.stepsPerS)} steps/s`,
    `loss ${num(s.loss, 4)}`,
    `test acc ${pct(s.accuracy)}`,
    `ETA ${etaText(s)}`,
  ].join(' | ');
  return line.length > maxWidth ? `${line.slice(0, Math.max(0, maxWidth - 1))}\u2026` : line;
}

/** In line mode, a line at least this often while nothing else is said (a long evaluation, a slow net). */
const HEARTBEAT_S = 60;
/**
 * On a terminal, redraw at least this often from inside a pass that never
 * yields to the event loop (an in-memory test set, Algorithm 2's batches),
 * where the bar's own timer cannot fire.
 */
const REDRAW_S = 0.2;

/**
 * A run's progress on the terminal. On a TTY: the status line redrawn a few
 * times a second, and at once on every phase change. Otherwise: one line per
 * event (the start, each evaluation, the population pass starting and
 * ending, the final evaluations) and a heartbeat line when a minute passes
 * without one.
 */
export class Progress {
  readonly model: ProgressModel;
  private readonly bar: SingleBar | null;
  private lastLine: number;
  private lastDraw = -Infinity;
  private populationStart: number | null = null;
  /** Told every phase change (a sweep's child forwards them to the sweep's display). */
  onPhase: ((p: Phase, step: number) => void) | null = null;

  constructor(
    plan: ProgressPlan,
    tty: boolean = Boolean(process.stderr.isTTY),
    private readonly write: (line: string) => void = (line) => console.log(line),
    private readonly now: () => number = seconds,
  ) {
    this.model = new ProgressModel(plan, now);
    this.lastLine = now();
    this.bar = tty
      ? new SingleBar({
          format: (_options, params) => statusLine(this.model.snapshot(), params.maxWidth),
          hideCursor: true,
          fps: 5,
          linewrap: false,
        })
      : null;
  }

  /** Draws the status line now (the bar starts on the first draw), or at most every REDRAW_S unless `always`. */
  private draw(always: boolean): void {
    if (!this.bar) return;
    const t = this.now();
    if (!always && t - this.lastDraw < REDRAW_S) return;
    this.lastDraw = t;
    // start() draws; after it, render() does.
    if (this.started) this.bar.render();
    else {
      this.started = true;
      this.bar.start(this.model.plan.totalSteps, 0);
    }
  }

  private started = false;

  private say(text: string): void {
    this.write(text);
    this.lastLine = this.now();
  }

  private heartbeat(): void {
    if (this.bar || this.now() - this.lastLine < HEARTBEAT_S) return;
    const s = this.model.snapshot();
    const training = s.phase.kind === 'training' ? `  train loss ${num(s.loss, 4)}  ${rate(s.stepsPerS)} steps/s` : '';
    this.say(`step ${s.step}/${s.total}  ${phaseText(s)}${training}  elapsed ${durationText(s.elapsedS)}  ETA ${etaText(s)}`);
  }

  /** The step the loop starts from (0, or a resumed checkpoint's). */
  begin(step: number): void {
    this.model.begin(step);
  }

  phase(p: Phase): void {
    const before = this.model.phase;
    this.model.setPhase(p);
    this.onPhase?.(p, this.model.snapshot().step);
    if (this.bar) {
      this.draw(p.kind !== before.kind);
      return;
    }
    const s = this.model.snapshot();
    const at = `step ${s.step}/${s.total}`;
    if (before.kind === 'population' && p.kind !== 'population' && this.populationStart !== null) {
      this.say(`${at}  population statistics done: ${before.batches} batches in ${durationText(this.now() - this.populationStart)}`);
      this.populationStart = null;
    }
    if (p.kind === 'starting') this.say(describePhase(p));
    else if (p.kind === 'population' && before.kind !== 'population') {
      this.populationStart = this.now();
      this.say(`${at}  population statistics (Algorithm 2): ${p.batches} training batches through the frozen network  ETA ${etaText(s)}`);
    } else if (p.kind === 'writing-figures') this.say(describePhase(p));
    else this.heartbeat();
  }

  /** Called every training step; cheap, the bar redraws at its own rate. */
  trained(step: number, loss: number): void {
    this.model.trained(step, loss);
    this.heartbeat();
  }

  /** Examples of the evaluation under way done so far. */
  evaluatedExamples(done: number): void {
    this.model.evaluatedExamples(done);
    this.draw(false);
    this.heartbeat();
  }

  /** After each evaluation: its accuracy, and the training numbers since the previous one (what metrics.csv logs). */
  evaluated(e: { step: number; accuracy: number; trainLoss: number | null; stepsPerS: number | null; elapsedS?: number }): void {
    const p = this.model.phase;
    this.model.evaluated(e.accuracy);
    if (this.bar) {
      this.draw(true);
      return;
    }
    const s = this.model.snapshot();
    const last = this.model.lastEvaluationSeconds();
    const took = last === null ? '' : `  eval ${durationText(last)}`;
    if (p.kind === 'evaluating' && p.final) {
      const stats = p.statistics === 'moving' ? ', moving averages' : p.statistics === 'population' ? ', population statistics' : '';
      this.say(`step ${s.step}/${s.total}  final evaluation${stats}: test acc ${e.accuracy.toFixed(4)}${took}  ETA ${etaText(s)}`);
    } else {
      this.say(
        `step ${e.step}/${s.total}  train loss ${num(e.trainLoss, 4)}  test acc ${e.accuracy.toFixed(4)}  ${rate(e.stepsPerS)} steps/s${took}  elapsed ${durationText(e.elapsedS ?? s.elapsedS)}  ETA ${etaText(s)}`,
      );
    }
  }

  stop(): void {
    this.bar?.stop();
  }
}
