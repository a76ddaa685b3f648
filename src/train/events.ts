/**
 * What a training run tells whoever started it, as it goes: the messages a
 * `bnrun train` child sends over its IPC channel when `bnrun sweep` (or a
 * queue worker) forked it. The run directory stays the record; these are only
 * for live display (step counter, ETA), so losing one is harmless.
 */

import type { Phase } from '../logging/progress';

/** One message from a training process; plain JSON so it crosses IPC as is. */
export type TrainEvent =
  /** The loop is about to run from `step` (0, or the checkpoint a resume continues from). */
  | { type: 'start'; step: number; total: number }
  /** Training reached `step` (throttled: at most a few per second). */
  | { type: 'step'; step: number }
  /** An evaluation on the test set was logged at `step`. */
  | { type: 'eval'; step: number; accuracy: number; testLoss: number; trainLoss: number | null }
  /** The run entered a phase (evaluating, Algorithm 2's population pass k/N, ...) at `step`; population counts are throttled like steps. */
  | { type: 'phase'; step: number; phase: Phase };

export interface TrainEvents {
  emit(event: TrainEvent): void;
}

/** Step messages closer together than this are dropped (the display redraws a few times a second). */
const STEP_EVERY_MS = 250;

/**
 * Sends TrainEvents to the parent over the IPC channel. While it is open, a
 * lost parent (the channel closes: the sweep was killed) stops the run the
 * way Ctrl-C does, so an orphaned run checkpoints and exits instead of
 * training on unobserved.
 */
export class IpcTrainEvents implements TrainEvents {
  private lastStep = 0;
  private lastPopulation = 0;
  private readonly onDisconnect = () => process.kill(process.pid, 'SIGTERM');

  private constructor(private readonly send: NonNullable<typeof process.send>) {
    process.on('disconnect', this.onDisconnect);
  }

  /** Null when this process has no IPC channel (started from a shell). */
  static open(): IpcTrainEvents | null {
    const send = process.send;
    if (send === undefined || !process.connected) return null;
    return new IpcTrainEvents(send.bind(process));
  }

  emit(event: TrainEvent): void {
    if (event.type === 'step') {
      const now = performance.now();
      if (now - this.lastStep < STEP_EVERY_MS) return;
      this.lastStep = now;
    }
    // The population pass reports every batch; its first and last always go through.
    if (event.type === 'phase' && event.phase.kind === 'population' && event.phase.batch > 0 && event.phase.batch < event.phase.batches) {
      const now = performance.now();
      if (now - this.lastPopulation < STEP_EVERY_MS) return;
      this.lastPopulation = now;
    }
    if (!process.connected) return;
    // The callback swallows a send that fails because the parent just went away.
    this.send(event, undefined, undefined, () => undefined);
  }

  /** Stops listening for the parent, so the channel no longer keeps this process alive. */
  close(): void {
    process.off('disconnect', this.onDisconnect);
  }
}
