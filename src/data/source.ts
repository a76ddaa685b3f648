/**
 * What the training loop needs of a dataset, whatever it is: training
 * mini-batches that resume from a saved position, the test set in chunks,
 * and training batches for Algorithm 2's population pass. The MNIST family
 * is small enough to stay resident (mnist.ts, batches.ts); ImageNet is
 * streamed from its JPEG files (imagenet-source.ts) and never is.
 *
 * Batches are asynchronous because ImageNet's are decoded in another thread;
 * the MNIST implementation hands out what its synchronous Batcher makes.
 */
import { Config } from '../config/schema';
import { DataError } from '../errors';
import { Rng } from '../rng';
import { Batch, Batcher, BatcherState, disposeEvalSet, EvalSet, uploadChunks } from './batches';
import type { StreamPosition } from './imagenet';
import { openImageNetSource } from './imagenet-source';
import { Dataset, loadMnist } from './mnist';

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
  /** Where the config came from, for messages. */
  configSource: string;
  /** Test examples per forward pass (evalChunkSize of the network). */
  evalChunk: number;
}

/**
 * Opens the config's dataset, verifying it (a missing or corrupt file, or a
 * tree that does not fit the model, fails here, before a run directory exists).
 */
export async function openDataSource(cfg: Config, opts: SourceOptions): Promise<DataSource> {
  if (cfg.data.dataset === 'imagenet') return openImageNetSource(cfg, opts);
  const data = loadMnist({ dataset: cfg.data.dataset, path: cfg.data.path });
  return new MnistSource(data, cfg.seed, cfg.training.batchSize, uploadChunks(data.test, data.classes, opts.evalChunk));
}

function batcherStream(batcher: Batcher): BatchStream {
  return {
    next: () => Promise.resolve(batcher.next()),
    get position() {
      return { batcher: batcher.state };
    },
    close: () => Promise.resolve(),
  };
}

class MnistSource implements DataSource {
  private closed = false;

  constructor(
    private readonly data: Dataset,
    private readonly seed: number,
    private readonly batchSize: number,
    private readonly testSet: EvalSet,
  ) {}

  get name(): string {
    return this.data.name;
  }

  get classes(): number {
    return this.data.classes;
  }

  // Generators forked from the seed by name, as before this interface existed, so orders are unchanged.
  train(resume: { position: DataPosition; file: string } | null): Promise<BatchStream> {
    const batcher = new Batcher(this.data.train, this.batchSize, new Rng(this.seed).fork('data'), this.data.classes);
    if (resume) {
      if (!('batcher' in resume.position)) {
        throw new DataError(`${resume.file}: holds no ${this.data.name} batch order (written by another dataset's run); delete it to restart the run from step 0`);
      }
      const { position, epoch } = resume.position.batcher;
      // The header's schema checked the types; the position must also lie inside this dataset's order.
      if (position > this.data.train.n || epoch > Number.MAX_SAFE_INTEGER / this.data.train.n) {
        throw new DataError(`${resume.file}: batch order position ${position} (epoch ${epoch}) does not fit ${this.data.name}'s ${this.data.train.n} examples; delete it to restart the run from step 0`);
      }
      batcher.restore(resume.position.batcher);
    }
    return Promise.resolve(batcherStream(batcher));
  }

  population(): Promise<BatchStream> {
    return Promise.resolve(batcherStream(new Batcher(this.data.train, this.batchSize, new Rng(this.seed).fork('population'), this.data.classes)));
  }

  async *test(): AsyncGenerator<EvalChunk> {
    yield* this.testSet.chunks;
  }

  close(): Promise<void> {
    if (!this.closed) disposeEvalSet(this.testSet);
    this.closed = true;
    return Promise.resolve();
  }
}
