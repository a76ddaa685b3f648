/**
 * What the training loop needs of a dataset, whatever it is: training
 * mini-batches that resume from a saved position, the test set in chunks,
 * and training batches for Algorithm 2's population pass. The MNIST family
 * is small enough to stay resident (mnist-source.ts); ImageNet is streamed
 * from its JPEG files (imagenet-source.ts) and never is. open.ts picks one.
 *
 * Batches are asynchronous because ImageNet's are decoded in another thread;
 * the MNIST implementation hands out what its synchronous Batcher makes.
 */
import type { Batch, BatcherState } from './batches';
import type { StreamPosition } from './imagenet/options';

/** Where the training order stands, saved in a checkpoint's header under its own key. */
export type DataPosition = { batcher: BatcherState } | { stream: StreamPosition };

export interface BatchStream {
  /** The next mini-batch; the caller disposes its tensors. */
  next(): Promise<Batch>;
  /** Where the next batch starts. */
  readonly position: DataPosition;
  close(): Promise<void>;
}

/** A test-set chunk with its labels on the host, for counting correct predictions. */
export type EvalChunk = Batch & { labels: Int32Array };

export interface DataSource {
  /** As recorded in summary.json. */
  readonly name: string;
  readonly classes: number;
  /** Training batches in the seeded order, continuing from a checkpoint's position when given (`file` names it in errors). */
  train(resume: { position: DataPosition; file: string } | null): Promise<BatchStream>;
  /** Training batches for Algorithm 2's population pass: an order of their own, no augmentation. */
  population(): Promise<BatchStream>;
  /** One pass over the test set; a chunk's tensors belong to the source and are released once the loop moves past it. */
  test(): AsyncIterable<EvalChunk>;
  /** Releases everything, streams included; safe to call more than once. */
  close(): Promise<void>;
}

export interface SourceOptions {
  /** Test examples per forward pass (evalChunkSize of the network). */
  evalChunk: number;
}
