"""The transposed-convolution autoencoder of reports/ (issue 16, experiment 2) in PyTorch.

neurone's run of it collapsed on MNIST with a TanH code: every code unit saturated within the
first epoch and the decoder learnt the mean digit. This replays the network, loss, optimiser and
batch size in PyTorch, once with neurone's initialisation (Xavier normal on weights *and* biases,
neurone's fans) and once with PyTorch's defaults, and prints what the code units look like after
each epoch, so that a layer bug in neurone can be told from the training dynamics.

Comparison only: PyTorch is not a dependency. Run (1 thread):
    OMP_NUM_THREADS=1 /usr/bin/python3 scripts/torch-conv-ae-probe.py [--epochs 3] [--seeds 0,1,2] [--lr 1e-3]
        [--inits neurone,pytorch]

MNIST's t10k images stand in for data: the first 8000 train, the last 2000 score (the dynamics
are the question, not the test score).
"""
import argparse
import gzip
import math
import os
import sys

import numpy as np
import torch
from torch import nn

DATA = os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data', 'mnist', 't10k-images-idx3-ubyte.gz')


def images():
    with gzip.open(DATA, 'rb') as f:
        raw = f.read()
    n = int.from_bytes(raw[4:8], 'big')
    x = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(n, 1, 28, 28).astype(np.float32) / 255.0
    return torch.from_numpy(x)


def network(tanh_code=True):
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(784, 64), nn.Tanh() if tanh_code else nn.Identity(),
        nn.Linear(64, 784), nn.ReLU(), nn.Unflatten(1, (16, 7, 7)),
        nn.ConvTranspose2d(16, 16, 4, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(16, 1, 4, stride=2, padding=1), nn.Sigmoid(),
    )


def neurone_init(net, gen):
    """Xavier normal, σ = √(2 / (fanIn + fanOut)), on weights and biases alike, with neurone's fans:
    (in, out) for Linear, k·k·chanIn and k·k·chanOut for both convolutions."""
    for m in net:
        if isinstance(m, nn.Linear):
            fan_in, fan_out = m.in_features, m.out_features
        elif isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1]
            fan_in, fan_out = k * m.in_channels, k * m.out_channels
        elif isinstance(m, nn.ConvTranspose2d):
            k = m.kernel_size[0] * m.kernel_size[1]
            fan_in, fan_out = k * m.in_channels, k * m.out_channels
        else:
            continue
        sigma = math.sqrt(2.0 / (fan_in + fan_out))
        with torch.no_grad():
            m.weight.normal_(0.0, sigma, generator=gen)
            m.bias.normal_(0.0, sigma, generator=gen)


def code_preactivations(net, x):
    with torch.no_grad():
        return net[:8](x)  # up to the Linear before the TanH


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--seeds', default='0,1,2')
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--inits', default='neurone,pytorch')
    parser.add_argument('--out', default='conv-ae-torch-probe', help='table name under reports/tables/')
    args = parser.parse_args()
    torch.set_num_threads(1)
    x = images()
    train, test = x[:8000], x[8000:]
    rows = []
    for init in args.inits.split(','):
        for seed in (int(s) for s in args.seeds.split(',')):
            torch.manual_seed(seed)
            net = network()
            if init == 'neurone':
                neurone_init(net, torch.Generator().manual_seed(seed))
            opt = torch.optim.Adam(net.parameters(), lr=args.lr)
            # neurone's BCE: summed over the pixels, and its gradients summed over the batch.
            loss_fn = nn.BCELoss(reduction='sum')
            order_gen = torch.Generator().manual_seed(seed)
            for epoch in range(1, args.epochs + 1):
                for idx in torch.randperm(len(train), generator=order_gen).split(32):
                    batch = train[idx]
                    opt.zero_grad()
                    loss_fn(net(batch), batch).backward()
                    opt.step()
                with torch.no_grad():
                    bce = nn.functional.binary_cross_entropy(net(test), test, reduction='sum').item() / len(test)
                pre = code_preactivations(net, test)
                # A unit is saturated when |pre-activation| > 3 (tanh' < 0.01) for every image.
                saturated = int((pre.abs() > 3).all(dim=0).sum())
                spread = pre.std(dim=0).mean().item()
                row = f'| {init} | {args.lr:g} | {seed} | {epoch} | {bce:.1f} | {pre.abs().mean().item():.2f} | {spread:.2f} | {saturated} of 64 |'
                print(row, flush=True)
                rows.append(row)
    command = 'OMP_NUM_THREADS=1 /usr/bin/python3 scripts/torch-conv-ae-probe.py ' + ' '.join(sys.argv[1:])
    table = '\n'.join([
        '### Issue 16, experiment 2 — the transposed-convolution autoencoder with a TanH code, in PyTorch',
        '',
        f'Command: `{command.strip()}` (PyTorch {torch.__version__}, 1 thread; MNIST t10k images, the first 8000 trained on, '
        'the last 2000 scored; Adam, batch 32, BCE summed over pixels and batch). "neurone" init: Xavier normal on weights and '
        'biases with neurone\'s fans; "pytorch": its defaults. A code unit is saturated when |pre-activation| > 3 for all 2000 images.',
        '',
        '| init | lr | seed | epoch | test BCE per image | mean \\|code pre-activation\\| | its std across images | saturated code units |',
        '| --- | --- | --- | --- | --- | --- | --- | --- |',
        *rows,
        '',
    ])
    out = os.path.join(os.path.dirname(__file__), '..', 'reports', 'tables', args.out + '.md')
    with open(out, 'w') as f:
        f.write(table)


if __name__ == '__main__':
    main()
