"""What the PyTorch reference scripts (torch_mlp.py, torch_inception.py) share:
which BLAS torch resolved, the idx files they train on, and the timed step loop.
Imported after torch, so a missing torch is reported by the scripts themselves."""
import gzip
import os
import struct
import sys
import time

import numpy as np
import torch


def blas_in_use():
    # netlib's reference libblas3 is ~10x slower than OpenBLAS here and would
    # make a misleading reference, so report which libblas.so torch resolved.
    # (Not just "is libopenblas mapped": OpenBLAS's liblapack maps it anyway.)
    with open('/proc/self/maps') as f:
        libs = {line.split()[-1] for line in f if '/libblas.so' in line or 'mkl' in line}
    if any('openblas' in l for l in libs):
        return 'openblas'
    if any('/blas/libblas.so' in l for l in libs):
        return 'netlib-reference'
    return 'mkl' if any('mkl' in l for l in libs) else 'unknown'


def read_idx(directory, name, magic):
    """An idx file as uint8 rows (images flattened), plain or .gz (Debian's dataset-fashion-mnist ships gzipped ones)."""
    path = os.path.join(directory, name)
    if os.path.exists(path):
        with open(path, 'rb') as f:
            buf = f.read()
    elif os.path.exists(path + '.gz'):
        with gzip.open(path + '.gz', 'rb') as f:
            buf = f.read()
    else:
        sys.exit(f'{path}[.gz] not found (use --data DIR)')
    got, n = struct.unpack('>II', buf[:8])
    if got != magic:
        sys.exit(f'{path}: magic {got}, expected {magic}')
    if magic == 2051:
        rows, cols = struct.unpack('>II', buf[8:16])
        return np.frombuffer(buf, np.uint8, n * rows * cols, 16).reshape(n, rows * cols)
    return np.frombuffer(buf, np.uint8, n, 8)


def time_training_steps(model, opt, loss_fn, x, y, batch, seed, warmup, steps):
    """Milliseconds of each timed training step after `warmup` untimed ones,
    wall-clock and this process's CPU time (the latter barely moves when other
    jobs share the machine): batch gather from a seeded per-epoch permutation,
    forward, loss, backward, update, and the loss read back, as bnrun's
    trainStep does every step. Returns (wall, cpu)."""
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    perm, pos = torch.randperm(n, generator=gen), 0
    times, cpu = [], []
    for step in range(warmup + steps):
        t0 = time.perf_counter()
        c0 = time.process_time()
        # Reshuffle per epoch like a real loop; rare enough not to move the median.
        if pos + batch > n:
            perm, pos = torch.randperm(n, generator=gen), 0
        idx = perm[pos:pos + batch]
        pos += batch
        loss = loss_fn(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()
        if step >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
    return times, cpu
