/**
 * Decoding a batch: on the main thread's event loop, or in worker threads.
 *
 * On the main thread libvips already runs off-thread, but starting each image
 * (sharp's pipeline set-up, ~0.5 ms) and the JS post-processing (flip,
 * distortion, normalisation, ~1 ms at 224) wait for the event loop, which a
 * synchronous tfjs training step holds for the whole step. In a worker thread
 * decoding goes on during the step, so the default is one decode thread. The
 * thread runs decode-worker.ts, an entry file no module imports.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DataError, errorLine } from '../../errors';
import { Limiter } from '../prefetch';
import { decodeBatch, DecodeJob, Pipeline } from './augment';

export interface Decoder {
  decode(job: DecodeJob): Promise<Float32Array>;
  readonly maxActive: number;
  close(): Promise<void>;
}

export class InlineDecoder implements Decoder {
  private readonly limiter: Limiter;
  private closed = false;

  constructor(
    private readonly p: Pipeline,
    inFlight: number,
  ) {
    this.limiter = new Limiter(inFlight);
  }

  get maxActive(): number {
    return this.limiter.maxActive;
  }

  decode(job: DecodeJob): Promise<Float32Array> {
    return decodeBatch(job, this.p, this.limiter, () => this.closed);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.limiter.idle();
  }
}

/** What a decode thread is started with (its workerData). */
/** The worker's entry file, compiled beside this one. */
export const WORKER_FILE = path.join(__dirname, 'decode-worker.js');

/** What a decode thread is started with (its workerData). */
export interface WorkerSetup {
  pipeline: Pipeline;
  inFlight: number;
  vipsThreads: number;
}

export type WorkerRequest = ({ id: number } & DecodeJob) | { close: true };
export type WorkerReply = { id: number; maxActive: number } & ({ ok: true; x: Float32Array } | { ok: false; message: string; dataError: boolean });

interface Pending {
  resolve: (x: Float32Array) => void;
  reject: (e: Error) => void;
}

export class ThreadDecoder implements Decoder {
  private readonly threads: { worker: Worker; pending: Map<number, Pending>; exited: Promise<void> }[] = [];
  private nextId = 0;
  private closing = false;
  maxActive = 0;

  constructor(p: Pipeline, count: number, inFlight: number, vipsThreads: number) {
    const setup: WorkerSetup = { pipeline: p, inFlight, vipsThreads };
    for (let i = 0; i < count; i++) {
      const worker = new Worker(WORKER_FILE, { workerData: setup });
      const pending = new Map<number, Pending>();
      const failAll = (e: Error) => {
        for (const q of pending.values()) q.reject(e);
        pending.clear();
      };
      worker.on('message', (m: WorkerReply) => {
        this.maxActive = Math.max(this.maxActive, m.maxActive);
        const q = pending.get(m.id);
        pending.delete(m.id);
        if (pending.size === 0 && !this.closing) worker.unref(); // idle: do not keep the process alive
        if (!q) return;
        if (m.ok) q.resolve(m.x);
        else q.reject(m.dataError ? new DataError(m.message) : new Error(m.message));
      });
      worker.on('error', (e) => failAll(new Error(`imagenet decode thread failed: ${errorLine(e)}`)));
      const exited = new Promise<void>((resolve) =>
        worker.on('exit', (code) => {
          if (!this.closing) failAll(new Error(`imagenet decode thread exited unexpectedly (code ${code})`));
          resolve();
        }),
      );
      worker.unref();
      this.threads.push({ worker, pending, exited });
    }
  }

  decode(job: DecodeJob): Promise<Float32Array> {
    if (this.closing) return Promise.reject(new Error('the decoder is closed'));
    // The thread with the least work queued.
    let t = this.threads[0];
    for (const u of this.threads) if (u.pending.size < t.pending.size) t = u;
    const id = this.nextId++;
    return new Promise<Float32Array>((resolve, reject) => {
      t.pending.set(id, { resolve, reject });
      t.worker.ref();
      const msg: WorkerRequest = { id, ...job };
      t.worker.postMessage(msg);
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const t of this.threads) {
      for (const q of t.pending.values()) q.reject(new Error('the decoder is closed'));
      t.pending.clear();
      t.worker.ref();
      const msg: WorkerRequest = { close: true };
      t.worker.postMessage(msg);
    }
    // Each thread finishes the images it is decoding, then exits; one that hangs is terminated.
    await Promise.all(
      this.threads.map(async (t) => {
        const timer = setTimeout(() => void t.worker.terminate(), 10_000);
        await t.exited;
        clearTimeout(timer);
      }),
    );
  }
}
