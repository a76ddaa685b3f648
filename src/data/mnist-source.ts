/**
 * MNIST and Fashion-MNIST as a training data source: resident on the host
 * (mnist.ts), mini-batches assembled by the seeded Batcher (batches.ts), and
 * the test set uploaded once in evaluation chunks.
 */
import { Config } from '../config/schema';
import { DataError } from '../errors';
import { Rng } from '../rng';
import { Batcher, disposeEvalSet, EvalSet, uploadChunks } from './batches';
import { Dataset, loadMnist } from './mnist';
import type { BatchStream, DataPosition, DataSource, EvalChunk, SourceOptions } from './source';

/** Loads the idx files (a DataError naming a missing or corrupt one) and uploads the test set. */
export function openMnistSource(cfg: Config, opts: SourceOptions): DataSource {
  if (cfg.data.dataset === 'imagenet') throw new Error('openMnistSource: not an MNIST-family config');
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
        throw new DataError(
          `${resume.file}: holds no ${this.data.name} batch order (written by another dataset's run); delete it to restart the run from step 0`,
        );
      }
      const { position, epoch } = resume.position.batcher;
      // The header's schema checked the types; the position must also lie inside this dataset's order.
      if (position > this.data.train.n || epoch > Number.MAX_SAFE_INTEGER / this.data.train.n) {
        throw new DataError(
          `${resume.file}: batch order position ${position} (epoch ${epoch}) does not fit ${this.data.name}'s ${this.data.train.n} examples; delete it to restart the run from step 0`,
        );
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
