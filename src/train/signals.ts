/**
 * SIGINT/SIGTERM stop the loop at the next step boundary, so the run can
 * checkpoint and flush before exiting; during the final evaluations and
 * Algorithm 2's population pass they stop the pass itself (the checkpoint
 * after the last step is already written, so a resume redoes only the pass).
 * The handlers are installed for the whole run, from loading the data to
 * writing summary.json. A second signal exits at once (what was logged is
 * already on disk, row by row).
 */
const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignalName = keyof typeof EXIT_CODES;

/** How often the loop lets the event loop run so a pending signal is seen. */
const YIELD_EVERY_MS = 50;

export class StopSignal {
  signal: StopSignalName | null = null;
  private lastYield = performance.now();
  private readonly handlers: [StopSignalName, () => void][];

  constructor() {
    this.handlers = (Object.keys(EXIT_CODES) as StopSignalName[]).map((name) => {
      const handler = () => {
        if (this.signal !== null) process.exit(EXIT_CODES[name]);
        this.signal = name;
      };
      process.on(name, handler);
      return [name, handler];
    });
  }

  /** True once a signal arrived; yields to the event loop at most every YIELD_EVERY_MS. */
  async requested(): Promise<boolean> {
    if (performance.now() - this.lastYield >= YIELD_EVERY_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.lastYield = performance.now();
    }
    return this.signal !== null;
  }

  /** Between chunks of a pass that a signal ends: yields as requested() does, then throws StopRequested if one arrived. */
  async stopIfRequested(): Promise<void> {
    if (await this.requested()) throw new StopRequested();
  }

  get exitCode(): number {
    return this.signal ? EXIT_CODES[this.signal] : 1;
  }

  dispose(): void {
    for (const [name, handler] of this.handlers) process.off(name, handler);
  }
}

/** Thrown inside a pass a signal ended (stopIfRequested); the training loop turns it into an interrupted run. */
export class StopRequested extends Error {}
