/**
 * Two small building blocks for streamed datasets: a FIFO concurrency limiter
 * (how many images decode at once) and a bounded prefetch queue (how many
 * batches are decoded ahead of the consumer). Neither knows about images.
 */

/** Runs at most `limit` async tasks at once, in the order they were submitted. */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly idleWaiters: Array<() => void> = [];
  /** The most tasks ever running at once (for tests and diagnostics). */
  maxActive = 0;

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limiter needs an integer limit >= 1, got ${limit}`);
  }

  get running(): number {
    return this.active;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    if (this.active > this.maxActive) this.maxActive = this.active;
    try {
      return await task();
    } finally {
      this.active -= 1;
      const wake = this.waiting.shift();
      if (wake) wake();
      else if (this.active === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /** Resolves once nothing is running or queued. */
  idle(): Promise<void> {
    if (this.active === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }
}

/**
 * Keeps up to `depth` results of `produce()` in flight or finished ahead of the
 * consumer. `produce` is called in order and returns null once the source is
 * exhausted. Results are handed out in production order; a rejected result is
 * thrown when the consumer reaches it (everything before it is still
 * delivered), and every later `next()` throws the same error.
 *
 * Bound: the queued results plus the one `next()` is waiting for never exceed
 * max(depth, 1); a result handed to the consumer is no longer referenced here.
 */
export class Prefetcher<T> {
  private readonly queue: Promise<T>[] = [];
  private waitingForHead = 0;
  private exhausted = false;
  private closed = false;
  private failure: { error: unknown } | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  /** The most results ever held ahead of the consumer. */
  maxAhead = 0;

  constructor(
    private readonly depth: number,
    private readonly produce: () => Promise<T> | null,
  ) {
    if (!Number.isInteger(depth) || depth < 0) throw new RangeError(`prefetch depth must be an integer >= 0, got ${depth}`);
  }

  /** Results queued or being awaited, i.e. held ahead of the consumer right now. */
  get ahead(): number {
    return this.queue.length + this.waitingForHead;
  }

  /** Starts filling the queue without waiting for a consumer. */
  start(): void {
    this.fill(this.depth);
  }

  /** The next result, or null when the source is exhausted. Calls are served one after another. */
  next(): Promise<T | null> {
    const p = this.chain.then(() => this.take());
    this.chain = p.catch(() => undefined);
    return p;
  }

  /** Stops producing; results already in flight are dropped (their errors are swallowed). */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private async take(): Promise<T | null> {
    if (this.failure) throw this.failure.error;
    if (this.closed) throw new Error('the stream is closed');
    if (this.queue.length === 0) this.fill(1);
    const head = this.queue.shift();
    if (!head) return null;
    this.waitingForHead = 1;
    try {
      const value = await head;
      this.waitingForHead = 0;
      this.fill(this.depth);
      return value;
    } catch (error) {
      this.waitingForHead = 0;
      this.failure = { error };
      this.close();
      throw error;
    }
  }

  private fill(target: number): void {
    while (!this.closed && !this.exhausted && !this.failure && this.ahead < target) {
      const p = this.produce();
      if (p === null) {
        this.exhausted = true;
        break;
      }
      // Handled when the consumer reaches it; until then, do not let Node report it as unhandled.
      p.catch(() => undefined);
      this.queue.push(p);
      if (this.ahead > this.maxAhead) this.maxAhead = this.ahead;
    }
  }
}
