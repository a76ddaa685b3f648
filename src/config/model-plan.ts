/**
 * What a model config builds, computed from the config alone (no tfjs, no
 * weights): every layer's or block's output shape and parameter count, and the
 * total. `bnrun info <config>` prints it; src/config/checks.ts uses it to
 * check the geometry and `tracking`, and the layers build from `planBlock`. test/unit/inception.test.ts checks
 * these numbers against the built networks.
 *
 * Parameters are what the network trains: weights, biases (layers without BN),
 * BN's gamma and beta (2 per feature map). BN's moving and population
 * statistics are state, not parameters, and are not counted.
 */
import type { InceptionBlockConfig, InceptionConfig, MlpConfig, ModelConfig, StemLayerConfig } from './schema';

export type LayerKind = 'input' | 'dense' | 'conv' | 'maxpool' | 'avgpool' | 'lrn' | 'inception' | 'global-avgpool' | 'dropout' | 'linear';

export interface LayerInfo {
  /** As the network names the layer's variables, e.g. "stem0-conv7x7", "3a", "logits". */
  name: string;
  kind: LayerKind;
  /** Per example: [height, width, channels] for feature maps, [units] otherwise. */
  outputShape: number[];
  parameters: number;
  /** One line on what the layer is, e.g. "7x7/2 conv, 64 filters" or "#1x1 64, #3x3 64/64, ...". */
  detail: string;
}

export interface ModelInfo {
  type: ModelConfig['type'];
  layers: LayerInfo[];
  totalParameters: number;
}

/** Spatial output size of a convolution or pool along one axis (TensorFlow's same/valid rules). */
export function outputSize(input: number, size: number, stride: number, padding: 'same' | 'valid'): number {
  return padding === 'same' ? Math.ceil(input / stride) : Math.floor((input - size) / stride) + 1;
}

/** Trained parameters of a size x size conv: weights, and a bias or BN's gamma and beta per filter. */
function convParameters(size: number, inChannels: number, filters: number, batchNorm: boolean): number {
  return size * size * inChannels * filters + (batchNorm ? 2 : 1) * filters;
}

export interface BranchConv {
  /** Variable-name suffix inside the block: 1x1, 3x3_reduce, 3x3, double3x3_reduce, double3x3a, double3x3b, pool_proj. */
  name: string;
  size: number;
  filters: number;
  stride: number;
}

export interface BlockPlan {
  /** Convolutions of each branch in order; the pool branch's projection (if any) is last. */
  branches: { convs: BranchConv[]; pool: boolean }[];
  outChannels: number;
  stride: number;
}

/**
 * The branches of one inception block: 1x1; 3x3 reduce + 3x3; double-3x3
 * reduce + two 3x3; pool (+ 1x1 projection, or pass-through). In a stride-2
 * block the last conv of each branch and the pool have stride 2.
 */
export function planBlock(b: InceptionBlockConfig, inChannels: number): BlockPlan {
  const s = b.stride;
  const branches: BlockPlan['branches'] = [];
  if (b.conv1x1 > 0) branches.push({ convs: [{ name: '1x1', size: 1, filters: b.conv1x1, stride: s }], pool: false });
  if (b.conv3x3 > 0) {
    const convs: BranchConv[] = [];
    if (b.reduce3x3 > 0) convs.push({ name: '3x3_reduce', size: 1, filters: b.reduce3x3, stride: 1 });
    convs.push({ name: '3x3', size: 3, filters: b.conv3x3, stride: s });
    branches.push({ convs, pool: false });
  }
  if (b.double3x3 > 0) {
    const convs: BranchConv[] = [];
    if (b.reduceDouble3x3 > 0) convs.push({ name: 'double3x3_reduce', size: 1, filters: b.reduceDouble3x3, stride: 1 });
    convs.push({ name: 'double3x3a', size: 3, filters: b.double3x3, stride: 1 }, { name: 'double3x3b', size: 3, filters: b.double3x3, stride: s });
    branches.push({ convs, pool: false });
  }
  branches.push({ convs: b.poolProj > 0 ? [{ name: 'pool_proj', size: 1, filters: b.poolProj, stride: 1 }] : [], pool: true });
  const outChannels = b.conv1x1 + b.conv3x3 + b.double3x3 + (b.poolProj > 0 ? b.poolProj : inChannels);
  return { branches, outChannels, stride: s };
}

/** The name a stem layer's variables get. */
export function stemLayerName(layer: StemLayerConfig, index: number): string {
  return layer.type === 'lrn' ? `stem${index}-lrn` : `stem${index}-${layer.type}${layer.size}x${layer.size}`;
}

function describeInception(cfg: InceptionConfig): ModelInfo {
  const bn = cfg.batchNorm;
  let [h, w, c] = cfg.inputShape;
  const layers: LayerInfo[] = [{ name: 'input', kind: 'input', outputShape: [h, w, c], parameters: 0, detail: 'image' }];
  const check = (name: string) => {
    if (h < 1 || w < 1) throw new Error(`${name}: the feature map shrinks to ${h}x${w}; use same padding or a larger input`);
  };
  cfg.stem.forEach((layer, i) => {
    const name = stemLayerName(layer, i);
    if (layer.type === 'lrn') {
      if (cfg.lrn) layers.push({ name, kind: 'lrn', outputShape: [h, w, c], parameters: 0, detail: `LRN radius ${cfg.lrnParams.depthRadius}` });
      return;
    }
    h = outputSize(h, layer.size, layer.stride, layer.padding);
    w = outputSize(w, layer.size, layer.stride, layer.padding);
    check(name);
    if (layer.type === 'conv') {
      const parameters = convParameters(layer.size, c, layer.filters, bn);
      c = layer.filters;
      layers.push({ name, kind: 'conv', outputShape: [h, w, c], parameters, detail: `${layer.size}x${layer.size}/${layer.stride} conv, ${c} filters` });
    } else {
      layers.push({
        name,
        kind: layer.type,
        outputShape: [h, w, c],
        parameters: 0,
        detail: `${layer.size}x${layer.size}/${layer.stride} ${layer.type === 'maxpool' ? 'max' : 'average'} pool`,
      });
    }
  });
  for (const b of cfg.blocks) {
    const plan = planBlock(b, c);
    let parameters = 0;
    for (const branch of plan.branches) {
      let inC = c;
      for (const conv of branch.convs) {
        parameters += convParameters(conv.size, inC, conv.filters, bn);
        inC = conv.filters;
      }
    }
    h = outputSize(h, 3, b.stride, 'same');
    w = outputSize(w, 3, b.stride, 'same');
    c = plan.outChannels;
    const pool = `${b.pool}${b.poolProj > 0 ? ` + ${b.poolProj}` : ' + pass through'}`;
    const detail = `#1x1 ${b.conv1x1}, #3x3 ${b.reduce3x3}/${b.conv3x3}, double #3x3 ${b.reduceDouble3x3}/${b.double3x3}, pool ${pool}${b.stride > 1 ? ', stride 2' : ''}`;
    layers.push({ name: b.name, kind: 'inception', outputShape: [h, w, c], parameters, detail });
  }
  layers.push({ name: 'global-avgpool', kind: 'global-avgpool', outputShape: [c], parameters: 0, detail: `${h}x${w} average pool` });
  if (cfg.dropout > 0) layers.push({ name: 'dropout', kind: 'dropout', outputShape: [c], parameters: 0, detail: `rate ${cfg.dropout}, training only` });
  layers.push({ name: 'logits', kind: 'linear', outputShape: [cfg.classes], parameters: c * cfg.classes + cfg.classes, detail: 'linear + softmax' });
  return { type: 'inception', layers, totalParameters: layers.reduce((n, l) => n + l.parameters, 0) };
}

function describeMlp(cfg: MlpConfig): ModelInfo {
  const layers: LayerInfo[] = [{ name: 'input', kind: 'input', outputShape: [cfg.inputSize], parameters: 0, detail: 'flattened image' }];
  let inUnits = cfg.inputSize;
  cfg.hidden.forEach((units, i) => {
    const parameters = inUnits * units + (cfg.batchNorm ? 2 : 1) * units;
    layers.push({ name: `hidden${i}`, kind: 'dense', outputShape: [units], parameters, detail: `${cfg.activation}${cfg.batchNorm ? ' after BN' : ''}` });
    inUnits = units;
  });
  layers.push({ name: 'output', kind: 'linear', outputShape: [cfg.classes], parameters: inUnits * cfg.classes + cfg.classes, detail: 'linear + softmax' });
  return { type: 'mlp', layers, totalParameters: layers.reduce((n, l) => n + l.parameters, 0) };
}

/**
 * Each layer's (MLP) or block's (Inception: stem layers, then one entry per
 * inception block) output shape and parameter count, and the total.
 * Throws an Error when a feature map would shrink to nothing.
 */
export function describeModel(model: ModelConfig): ModelInfo {
  return model.type === 'mlp' ? describeMlp(model) : describeInception(model);
}

/**
 * The width (units, or feature maps) of each entry of Network.forward's
 * `preActivations`, in the same order: the MLP's hidden layers; the
 * Inception's convolutions (stem, then each block's branches in order).
 */
export function preActivationWidths(model: ModelConfig): number[] {
  if (model.type === 'mlp') return model.hidden;
  const widths: number[] = [];
  let c = model.inputShape[2];
  for (const layer of model.stem) {
    if (layer.type === 'conv') {
      widths.push(layer.filters);
      c = layer.filters;
    }
  }
  for (const b of model.blocks) {
    const plan = planBlock(b, c);
    for (const branch of plan.branches) for (const conv of branch.convs) widths.push(conv.filters);
    c = plan.outChannels;
  }
  return widths;
}
