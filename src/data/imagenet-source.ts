/**
 * ImageNet as a training data source: streams opened on the user's tree
 * (imagenet/) for training, evaluation on val/ and Algorithm 2's
 * population pass. Only the batches in flight are ever in memory.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Config } from '../config/schema';
import { ConfigMismatchError, DataError } from '../errors';
import { oneHotRows } from './batches';
import { Rng } from '../rng';
import { ImageNetBatch, ImageNetOptions, ImageNetStream, StreamPosition } from './imagenet/options';
import { openImageNet } from './imagenet/stream';
import type { BatchStream, DataPosition, DataSource, EvalChunk, SourceOptions } from './source';

/**
 * Val images per batch at most: evaluation batches are decoded ahead like
 * training ones, and for a small network evalChunk (up to 2000) would hold
 * hundreds of MB of decoded pixels idle between evaluations.
 */
const VAL_BATCH_MAX = 256;

function toChunk(b: ImageNetBatch | null, classes: number, what: string): EvalChunk {
  if (!b) throw new Error(`the ImageNet ${what} stream ended; it should cycle for ever`);
  // Flat rows, like MNIST's: the network reshapes them to its inputShape (NHWC, as decoded).
  return { x: tf.tensor2d(b.x, [b.n, b.x.length / b.n]), y: tf.tensor2d(oneHotRows(b.labels, classes), [b.n, classes]), labels: b.labels };
}

/**
 * Opens the val stream, which verifies val/, and checks model.classes against
 * the class folders of train/. The config-only ImageNet rules (an Inception
 * model, a square RGB input, data.path) ran when the config was validated.
 */
export async function openImageNetSource(cfg: Config, opts: SourceOptions): Promise<DataSource> {
  const model = cfg.model;
  const root = cfg.data.path;
  // Refused by config/checks.ts; narrowed here for the types.
  if (model.type !== 'inception' || root === undefined) throw new Error('openImageNetSource: the config was not validated');
  const height = model.inputShape[0];

  const base = { path: root, size: height, valLabels: cfg.data.valLabels, valSynsets: cfg.data.valSynsets };
  // Val cycles through its epochs in file order, unaugmented: each evaluation reads exactly one epoch.
  const val = await openImageNet({ ...base, split: 'val', batchSize: Math.min(opts.evalChunk, VAL_BATCH_MAX), epochs: Infinity });
  if (val.classes.length !== model.classes) {
    await val.close();
    const n = val.classes.length;
    throw new ConfigMismatchError(
      `model.classes is ${model.classes} but ${path.join(root, 'train')} has ${n} class folders; set model.classes to ${n} or point data.path at the matching tree`,
    );
  }
  return new ImageNetSource(cfg, base, val);
}

class ImageNetSource implements DataSource {
  readonly name = 'imagenet';
  readonly classes: number;
  private readonly open = new Set<ImageNetStream>();

  constructor(
    private readonly cfg: Config,
    private readonly base: Pick<ImageNetOptions, 'path' | 'size' | 'valLabels' | 'valSynsets'>,
    private readonly val: ImageNetStream,
  ) {
    this.classes = val.classes.length;
    this.open.add(val);
  }

  private async stream(o: Omit<ImageNetOptions, 'path' | 'size' | 'batchSize'>, what: string): Promise<BatchStream> {
    const s = await openImageNet({ ...this.base, ...o, batchSize: this.cfg.training.batchSize });
    this.open.add(s);
    return {
      next: async () => {
        const { x, y } = toChunk(await s.next(), this.classes, what);
        return { x, y };
      },
      get position(): DataPosition {
        return { stream: s.position };
      },
      close: async () => {
        this.open.delete(s);
        await s.close();
      },
    };
  }

  async train(resume: { position: DataPosition; file: string } | null): Promise<BatchStream> {
    let start: StreamPosition | undefined;
    if (resume) {
      if (!('stream' in resume.position)) {
        throw new DataError(`${resume.file}: holds no ImageNet stream position (written by another dataset's run); delete it to restart the run from step 0`);
      }
      start = resume.position.stream;
    }
    const { seed, data } = this.cfg;
    return await this.stream({ split: 'train', seed, shuffle: data.shuffle, distortion: data.distortion, start }, 'training');
  }

  async population(): Promise<BatchStream> {
    // Algorithm 2 averages over random mini-batches of the training set as it is, so a full shuffle and no augmentation.
    const seed = new Rng(this.cfg.seed).fork('population').snapshot;
    return await this.stream({ split: 'train', seed, shuffle: 'full', augment: false }, 'population');
  }

  async *test(): AsyncGenerator<EvalChunk> {
    for (let i = 0; i < this.val.batchesPerEpoch; i++) {
      const chunk = toChunk(await this.val.next(), this.classes, 'val');
      try {
        yield chunk;
      } finally {
        tf.dispose([chunk.x, chunk.y]);
      }
    }
  }

  async close(): Promise<void> {
    const streams = [...this.open];
    this.open.clear();
    await Promise.all(streams.map((s) => s.close()));
  }
}
