/**
 * The entry file of an ImageNet decode thread (decoder.ts starts it with
 * `new Worker`). No module imports it: loaded on the main thread it does
 * nothing; in a worker it serves decode requests until told to close.
 */
import { isMainThread, MessagePort, parentPort, workerData } from 'node:worker_threads';
import sharp from 'sharp';
import { DataError, errorLine } from '../../errors';
import { Limiter } from '../prefetch';
import { decodeBatch } from './augment';
import type { WorkerReply, WorkerRequest, WorkerSetup } from './decoder';

/** The body of a decode thread. */
function runDecodeThread(port: MessagePort, setup: WorkerSetup): void {
  sharp.concurrency(setup.vipsThreads);
  sharp.cache(false);
  const limiter = new Limiter(setup.inFlight);
  let closed = false;
  port.on('message', (m: WorkerRequest) => {
    if ('close' in m) {
      closed = true;
      void limiter.idle().then(() => port.close());
      return;
    }
    decodeBatch(m, setup.pipeline, limiter, () => closed).then(
      (x) => {
        const reply: WorkerReply = { id: m.id, maxActive: limiter.maxActive, ok: true, x };
        port.postMessage(reply, [x.buffer as ArrayBuffer]);
      },
      (e: unknown) => {
        const reply: WorkerReply = { id: m.id, maxActive: limiter.maxActive, ok: false, message: errorLine(e), dataError: e instanceof DataError };
        port.postMessage(reply);
      },
    );
  });
}

if (!isMainThread && parentPort) runDecodeThread(parentPort, workerData as WorkerSetup);
