/**
 * The checks a config must pass after the schema has parsed it: those that
 * relate one field to another (the dataset to the model, the layer table to
 * the input size, `tracking` to the network). `validateConfig` (load.ts) runs
 * them for `validate`, `info` and `train` alike, so all three accept the
 * same configs. What can only be checked against the data on disk (the
 * number of ImageNet class folders, a baseline run named by `target`) is
 * checked when training opens it, and reported in the same form.
 *
 * Each check has an id; test/reliability/validate-train.test.ts gives every
 * id a config that fails it and checks that `validate` and `train` refuse it
 * with the same line and exit 2.
 */
import { describeModel, preActivationWidths } from './model-plan';
import type { Config } from './schema';

/** One problem, named by its field's path as the schema's own problems are. */
export interface ConfigIssue {
  path: (string | number)[];
  message: string;
}

interface Check {
  id: string;
  /** The problems it finds. */
  run(cfg: Config): ConfigIssue[];
  /** The checks after it assume it passed (the geometry needs a known input size), so a problem here ends the checking. */
  stop?: boolean;
}

/** Training examples of the resident 28x28 datasets, for checking the batch size before anything loads. */
const MNIST_FAMILY_TRAIN = 60000;

const mnistFamily = (cfg: Config) => cfg.data.dataset !== 'imagenet';

const inputPixels = (m: Config['model']) => (m.type === 'mlp' ? m.inputSize : m.inputShape.reduce((a, b) => a * b, 1));

export const CHECKS: readonly Check[] = [
  {
    // Accepted and ignored would let a user believe a variant differs when it does not.
    id: 'mnist-shuffle',
    run: (cfg) =>
      mnistFamily(cfg) && cfg.data.shuffle !== 'full'
        ? [{ path: ['data', 'shuffle'], message: `${cfg.data.dataset} batches always shuffle fully every epoch; remove the field (it applies to imagenet)` }]
        : [],
  },
  {
    id: 'mnist-distortion',
    run: (cfg) =>
      mnistFamily(cfg) && cfg.data.distortion !== 0
        ? [{ path: ['data', 'distortion'], message: `${cfg.data.dataset} has no photometric distortion; remove the field (it applies to imagenet)` }]
        : [],
  },
  {
    id: 'mnist-batch-size',
    run: (cfg) =>
      mnistFamily(cfg) && cfg.training.batchSize > MNIST_FAMILY_TRAIN
        ? [
            {
              path: ['training', 'batchSize'],
              message: `${cfg.training.batchSize} is larger than ${cfg.data.dataset}'s ${MNIST_FAMILY_TRAIN} training examples`,
            },
          ]
        : [],
  },
  {
    // The MNIST-family loaders hand out 28x28x1 images in 10 classes; any other shape would fail mid-build.
    id: 'mnist-input-size',
    stop: true,
    run: (cfg) => {
      if (!mnistFamily(cfg) || inputPixels(cfg.model) === 784) return [];
      const m = cfg.model;
      const field = m.type === 'mlp' ? 'inputSize' : 'inputShape';
      return [
        { path: ['model', field], message: `${cfg.data.dataset} images are 28x28x1 (784 values); set ${field} to ${m.type === 'mlp' ? '784' : '[28, 28, 1]'}` },
      ];
    },
  },
  {
    id: 'mnist-classes',
    stop: true,
    run: (cfg) => (mnistFamily(cfg) && cfg.model.classes !== 10 ? [{ path: ['model', 'classes'], message: `${cfg.data.dataset} has 10 classes` }] : []),
  },
  {
    id: 'imagenet-model-type',
    stop: true,
    run: (cfg) =>
      !mnistFamily(cfg) && cfg.model.type !== 'inception'
        ? [{ path: ['model', 'type'], message: 'imagenet trains a convolutional network on images; set it to "inception"' }]
        : [],
  },
  {
    id: 'imagenet-square-input',
    stop: true,
    run: (cfg) => {
      if (mnistFamily(cfg) || cfg.model.type !== 'inception') return [];
      const [height, width] = cfg.model.inputShape;
      return height === width ? [] : [{ path: ['model', 'inputShape'], message: `ImageNet crops are square; set height = width (got ${height}x${width})` }];
    },
  },
  {
    id: 'imagenet-rgb-input',
    stop: true,
    run: (cfg) => {
      if (mnistFamily(cfg) || cfg.model.type !== 'inception') return [];
      const channels = cfg.model.inputShape[2];
      return channels === 3
        ? []
        : [{ path: ['model', 'inputShape'], message: `ImageNet images are RGB; set the channels (third entry) to 3 (got ${channels})` }];
    },
  },
  {
    id: 'imagenet-path',
    run: (cfg) =>
      !mnistFamily(cfg) && cfg.data.path === undefined ? [{ path: ['data', 'path'], message: 'set it to the ImageNet root holding train/ and val/' }] : [],
  },
  {
    // The layer table must fit the input: every conv and pool leaves at least one pixel.
    id: 'inception-geometry',
    stop: true,
    run: (cfg) => {
      if (cfg.model.type !== 'inception') return [];
      try {
        describeModel(cfg.model);
        return [];
      } catch (e) {
        return [{ path: ['model', 'stem'], message: (e as Error).message }];
      }
    },
  },
  {
    id: 'tracking-layer',
    stop: true,
    run: (cfg) => {
      const hidden = preActivationWidths(cfg.model);
      const layer = cfg.tracking.layer === 'last' ? hidden.length - 1 : cfg.tracking.layer;
      return layer < hidden.length ? [] : [{ path: ['tracking', 'layer'], message: `the model has ${hidden.length} hidden layers (0..${hidden.length - 1})` }];
    },
  },
  {
    id: 'tracking-units',
    run: (cfg) => {
      const hidden = preActivationWidths(cfg.model);
      const layer = cfg.tracking.layer === 'last' ? hidden.length - 1 : cfg.tracking.layer;
      return cfg.tracking.units.flatMap((unit, i) =>
        unit < hidden[layer] ? [] : [{ path: ['tracking', 'units', i], message: `hidden layer ${layer} has ${hidden[layer]} units (0..${hidden[layer] - 1})` }],
      );
    },
  },
];

/** Every problem of a parsed config, in check order, up to the first check marked `stop` that finds one. */
export function configIssues(cfg: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const check of CHECKS) {
    const found = check.run(cfg);
    issues.push(...found);
    if (check.stop && found.length > 0) break;
  }
  return issues;
}
