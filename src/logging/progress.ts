/**
 * Progress on the terminal: a cli-progress bar on a TTY, otherwise (CI, a
 * pipe, a log file) one line per evaluation so logs stay readable.
 */
import { SingleBar } from 'cli-progress';

export interface ProgressStatus {
  step: number;
  loss: number | null;
  accuracy: number | null;
  stepsPerS: number | null;
}

const fmt = (v: number | null, digits: number) => (v === null ? '-' : v.toFixed(digits));

export class Progress {
  private readonly bar: SingleBar | null;

  constructor(
    private readonly total: number,
    tty: boolean = Boolean(process.stderr.isTTY),
  ) {
    this.bar = tty
      ? new SingleBar({
          format: 'step {value}/{total} {bar} {percentage}% | {sps} steps/s | ETA {eta_formatted} | loss {loss} | test acc {acc}',
          barsize: 24,
          hideCursor: true,
          etaBuffer: 200,
          fps: 5,
        })
      : null;
  }

  start(step: number): void {
    this.bar?.start(this.total, step, { sps: '-', loss: '-', acc: '-' });
  }

  /** Called every step; cheap, the bar redraws at its own rate. */
  tick(step: number): void {
    this.bar?.update(step);
  }

  /** Called after each evaluation. */
  evaluated(s: ProgressStatus, elapsedS: number): void {
    if (this.bar) {
      this.bar.update(s.step, { sps: fmt(s.stepsPerS, 0), loss: fmt(s.loss, 4), acc: fmt(s.accuracy, 4) });
    } else {
      console.log(
        `step ${s.step}/${this.total}  train loss ${fmt(s.loss, 4)}  test acc ${fmt(s.accuracy, 4)}  ${fmt(s.stepsPerS, 0)} steps/s  ${elapsedS.toFixed(1)} s`,
      );
    }
  }

  stop(): void {
    this.bar?.stop();
  }
}
