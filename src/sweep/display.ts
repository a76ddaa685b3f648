/**
 * What a sweep shows while it runs, built only from RunEvents. On a terminal:
 * one line per run (name, step, accuracy, state, ETA) redrawn in place a few
 * times a second. Otherwise (CI, a pipe, a log file): one line per event that
 * matters (started or resumed, each evaluation, and how each run ended).
 */
import { describePhase, Phase } from '../logging/progress';
import { RunEvent, RunOutcome, RunSpec } from './events';

export interface SweepDisplay {
  event(e: RunEvent): void;
  /** Draws the last state and stops redrawing. */
  close(): void;
}

const pct = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${(v * 100).toFixed(2)}%`);

/** 75 -> "1:15", 3725 -> "1:02:05". */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** How a run ended, in a few words: "completed", "diverged at step 57 (expected)", "failed: exit 2: ...". */
export function describeOutcome(o: RunOutcome): string {
  switch (o.status) {
    case 'completed':
      return 'completed';
    case 'diverged':
      return `diverged at step ${o.step ?? '?'}${o.ok ? ' (expected)' : ' (unexpected: set `expect: "diverge"` if the config is meant to)'}`;
    case 'interrupted':
      return `interrupted${o.step !== null ? ` at step ${o.step}` : ''}`;
    case 'failed':
      return `failed: ${o.message ?? 'unknown error'}`;
  }
}

function outcomeNumbers(o: RunOutcome): string {
  const parts: string[] = [];
  if (o.finalAccuracy !== null) parts.push(`final ${pct(o.finalAccuracy)}`);
  if (o.best) parts.push(`best ${pct(o.best.accuracy)} at step ${o.best.step}`);
  if (o.wallTimeS !== null) parts.push(`${clock(o.wallTimeS)} wall`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** The state column's few words for a phase that is not plain training: "evaluating", "final eval", "pop 400/1000". */
export function phaseWords(p: Phase): string | null {
  switch (p.kind) {
    case 'evaluating':
      return p.final ? 'final eval' : 'evaluating';
    case 'population':
      return `pop ${p.batch}/${p.batches}`;
    default:
      return null;
  }
}

/** One line per event, for logs. */
export class LineDisplay implements SweepDisplay {
  private readonly width: number;
  private readonly totals = new Map<string, number>();

  constructor(
    runs: RunSpec[],
    private readonly write: (line: string) => void,
  ) {
    this.width = Math.max(...runs.map((r) => r.id.length));
    for (const r of runs) this.totals.set(r.id, r.steps);
  }

  event(e: RunEvent): void {
    const say = (text: string) => this.write(`${e.run.padEnd(this.width)}  ${text}`);
    const total = this.totals.get(e.run) ?? 0;
    switch (e.kind) {
      case 'started':
        say(e.fromStep > 0 ? `resumed at step ${e.fromStep}/${e.total}` : `started (${e.total} steps)`);
        break;
      case 'evaluated':
        say(`step ${e.step}/${total}  test acc ${pct(e.accuracy)}  train loss ${e.trainLoss === null ? '-' : e.trainLoss.toFixed(4)}`);
        break;
      case 'phase':
        // The long silent stretches after the last step: the final evaluations and Algorithm 2's population pass.
        if ((e.phase.kind === 'evaluating' && e.phase.final) || (e.phase.kind === 'population' && e.phase.batch === 0))
          say(`step ${e.step}/${total}  ${describePhase(e.phase)}`);
        break;
      case 'skipped':
        say(`skipped: ${describeOutcome(e.outcome)} earlier${outcomeNumbers(e.outcome)}`);
        break;
      case 'finished':
        say(`${describeOutcome(e.outcome)}${e.outcome.status === 'failed' ? '' : outcomeNumbers(e.outcome)}`);
        break;
      case 'requeued':
        say(`back in the queue: ${e.why}`);
        break;
      default:
        break;
    }
  }

  close(): void {}
}

type LiveState = 'queued' | 'starting' | 'running' | RunOutcome['status'] | 'skipped';

interface LiveRun {
  spec: RunSpec;
  state: LiveState;
  step: number;
  accuracy: number | null;
  /** When training (re)started in this sweep, and at which step: the rate behind the ETA. */
  since: { t: number; step: number } | null;
  note: string;
  /** What it is doing when not plain training (an evaluation, the population pass), for the state column. */
  doing: string | null;
}

const REDRAW_MS = 250;

/** A terminal's live table, redrawn in place with ANSI cursor movement. */
export class LiveDisplay implements SweepDisplay {
  private readonly runs = new Map<string, LiveRun>();
  private readonly t0 = performance.now();
  private drawn = 0;
  private last = '';
  private readonly timer: NodeJS.Timeout;

  constructor(
    specs: RunSpec[],
    private readonly out: NodeJS.WriteStream,
  ) {
    for (const spec of specs) this.runs.set(spec.id, { spec, state: 'queued', step: 0, accuracy: null, since: null, note: '', doing: null });
    this.timer = setInterval(() => this.draw(), REDRAW_MS);
    this.timer.unref();
    this.draw();
  }

  event(e: RunEvent): void {
    const r = this.runs.get(e.run);
    if (!r) return;
    switch (e.kind) {
      case 'launched':
        r.state = 'starting';
        r.note = e.resume ? 'resuming' : '';
        break;
      case 'started':
        r.state = 'running';
        r.step = e.fromStep;
        r.since = { t: performance.now(), step: e.fromStep };
        r.note = e.fromStep > 0 ? `resumed at ${e.fromStep}` : '';
        break;
      case 'progress':
        r.step = e.step;
        r.doing = null;
        break;
      case 'phase':
        r.doing = phaseWords(e.phase);
        break;
      case 'evaluated':
        r.step = e.step;
        r.accuracy = e.accuracy;
        r.doing = null;
        break;
      case 'skipped':
      case 'finished':
        r.state = e.kind === 'skipped' ? 'skipped' : e.outcome.status;
        r.step = e.outcome.step ?? r.step;
        r.accuracy = e.outcome.finalAccuracy ?? e.outcome.best?.accuracy ?? r.accuracy;
        r.note = e.kind === 'skipped' ? `${describeOutcome(e.outcome)} earlier` : e.outcome.status === 'completed' ? '' : describeOutcome(e.outcome);
        this.draw();
        break;
      case 'requeued':
        r.state = 'queued';
        r.since = null;
        r.note = e.why;
        break;
    }
  }

  private eta(r: LiveRun): string {
    if (r.state !== 'running' || !r.since || r.step >= r.spec.steps) return '';
    const done = r.step - r.since.step;
    const elapsed = (performance.now() - r.since.t) / 1000;
    if (done <= 0 || elapsed <= 0) return 'ETA -';
    return `ETA ${clock(((r.spec.steps - r.step) * elapsed) / done)}`;
  }

  private lines(): string[] {
    const all = [...this.runs.values()];
    const count = (s: LiveState[]) => all.filter((r) => s.includes(r.state)).length;
    const header = `sweep ${clock((performance.now() - this.t0) / 1000)}: ${count(['completed', 'diverged', 'failed', 'interrupted', 'skipped'])}/${all.length} done, ${count(['starting', 'running'])} running, ${count(['queued'])} queued`;
    // A terminal shorter than the table would scroll the redraw apart: then only unfinished runs get a line.
    const rows = this.out.rows ?? 50;
    const shown = all.length + 1 < rows ? all : all.filter((r) => r.state === 'running' || r.state === 'starting').slice(0, Math.max(1, rows - 2));
    const nameW = Math.max(...shown.map((r) => r.spec.id.length), 3);
    const stepW = Math.max(...shown.map((r) => `${r.spec.steps}`.length * 2 + 1));
    // The last step is done; the final evaluations (Algorithm 2 for BN nets) are under way.
    const state = (r: LiveRun) => (r.state !== 'running' ? r.state : (r.doing ?? (r.step >= r.spec.steps ? 'finishing' : r.state)));
    const body = shown.map((r) =>
      [r.spec.id.padEnd(nameW), `${r.step}/${r.spec.steps}`.padStart(stepW), pct(r.accuracy).padStart(7), state(r).padEnd(13), this.eta(r).padEnd(11), r.note]
        .join('  ')
        .trimEnd(),
    );
    return [header, ...body];
  }

  private draw(): void {
    const cols = Math.max(20, (this.out.columns ?? 120) - 1);
    const lines = this.lines().map((l) => (l.length > cols ? `${l.slice(0, cols - 1)}…` : l));
    // Back to the first line drawn last time, then every line rewritten and cleared to its end.
    let text = this.drawn > 0 ? `\x1b[${this.drawn}F` : '';
    for (const l of lines) text += `\x1b[2K${l}\n`;
    // Fewer lines than last time: clear the leftovers below.
    for (let i = lines.length; i < this.drawn; i++) text += '\x1b[2K\n';
    if (this.drawn > lines.length) text += `\x1b[${this.drawn - lines.length}F`;
    // Unchanged since the last draw: nothing to write (a log of the terminal stays small).
    if (text === this.last) return;
    this.out.write(text);
    this.last = text;
    this.drawn = lines.length;
  }

  close(): void {
    clearInterval(this.timer);
    this.draw();
  }
}
