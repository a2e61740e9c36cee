"""PyTorch twin of the training-throughput benchmark (issue 5), for comparison only.

Usage:
  python3 scripts/bench_torch.py --nets a,b,c32,c256,d,e,infer --threads 1 --epochs 5 --batches 50
  python3 scripts/bench_torch.py --check            # loss before/after a few SGD steps, per net

Each net is trained with plain SGD (lr 0.01) on random data generated once before timing, in
PyTorch's (batch, chan, length) layout. Throughput is samples/s of a full training step (forward,
loss, backward, optimiser step, zero grad), the median over --epochs timed epochs of --batches
batches each, after one untimed warm-up epoch. "infer" is forward only of net a at batch 256.
OMP_NUM_THREADS / MKL_NUM_THREADS are expected to be set by the caller; --threads sets
torch.set_num_threads, and inter-op threads are fixed at 1.
The last line on stdout is one JSON object:
  {"framework":"torch","version":...,"threads":N,"config":...,"results":{"a":{"samplesPerSec":...,"note":""},...}}
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

LR = 0.01


def seed_cnn(length):
    conv_len = length - 2          # Conv1D kernel 3, stride 1, no padding
    pooled = conv_len // 2         # MaxPool1D(2, 2)
    return nn.Sequential(
        nn.Conv1d(1, 32, 3, bias=False),
        nn.MaxPool1d(2, 2),
        nn.Flatten(),
        nn.Linear(32 * pooled, 100),
        nn.ReLU(),
        nn.Linear(100, 10),
        nn.LogSoftmax(dim=1),
    )


def deep_cnn(length=256):
    n = length
    for _ in range(3):
        n = (n - 2 - 8) // 2 + 1   # conv k3 then MaxPool1D(8, 2)
    return nn.Sequential(
        nn.Conv1d(1, 64, 3, bias=False), nn.ReLU(), nn.MaxPool1d(8, 2),
        nn.Conv1d(64, 64, 3, bias=False), nn.ReLU(), nn.MaxPool1d(8, 2),
        nn.Conv1d(64, 64, 3, bias=False), nn.ReLU(), nn.MaxPool1d(8, 2),
        nn.Flatten(),
        nn.Linear(64 * n, 10),
    )


def lenet():
    # Conv2D 5x5 x2 with 2x2 max pooling, two dense layers, on 28x28x1 (MNIST) images.
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 120), nn.ReLU(), nn.Linear(120, 10),
    )


def bn_cnn():
    # reports/' second 2-D recipe: padded 3x3 convolutions without bias, BatchNorm2d, ReLU and 2x2
    # max pooling twice, then a 128-unit hidden layer with dropout 0.3, on 28x28x1 images.
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10),
    )


def small_vgg():
    # Two VGG blocks (two padded 3x3 convolutions, then 2x2 max pooling) on 32x32x3 images.
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 8 * 8, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def mlp():
    return nn.Sequential(nn.Linear(784, 256), nn.Tanh(), nn.Linear(256, 10))


def autoencoder():
    return nn.Sequential(
        nn.Linear(784, 256), nn.Tanh(), nn.Linear(256, 64), nn.Tanh(),
        nn.Linear(64, 256), nn.Tanh(), nn.Linear(256, 784), nn.Sigmoid(),
    )


def nll(out, y):
    return F.nll_loss(out, y)      # the model ends in LogSoftmax


def xent(out, y):
    return F.cross_entropy(out, y)  # from logits


def bce(out, y):
    return F.binary_cross_entropy(out, y)


# name -> (model factory, input shape without batch (chan, length), (chan, height, width) or
# (features,), batch, loss, target kind)
NETS = {
    "a": (lambda: seed_cnn(256), (1, 256), 32, nll, "class"),
    "b": (lambda: seed_cnn(784), (1, 784), 32, nll, "class"),
    "c32": (mlp, (784,), 32, xent, "class"),
    "c256": (mlp, (784,), 256, xent, "class"),
    "d": (autoencoder, (784,), 32, bce, "input"),
    "e": (deep_cnn, (1, 256), 32, xent, "class"),
    "infer": (lambda: seed_cnn(256), (1, 256), 256, None, None),
    "lenet32": (lenet, (1, 28, 28), 32, xent, "class"),
    "lenet128": (lenet, (1, 28, 28), 128, xent, "class"),
    "bncnn": (bn_cnn, (1, 28, 28), 32, xent, "class"),
    "vgg": (small_vgg, (3, 32, 32), 32, xent, "class"),
}


def lookup(name):
    """A fixed net, or 'mlp-W-B': Linear(784, W) -> Tanh -> Linear(W, 10), batch B (the sweep)."""
    if name in NETS:
        return NETS[name]
    parts = name.split("-")
    if len(parts) == 3 and parts[0] == "mlp" and parts[1].isdigit() and parts[2].isdigit():
        width, batch = int(parts[1]), int(parts[2])
        return (lambda: nn.Sequential(nn.Linear(784, width), nn.Tanh(), nn.Linear(width, 10)), (784,), batch, xent, "class")
    return None


def make_data(shape, batch, target, count, gen):
    data = []
    for _ in range(count):
        # Generated channels-last (batch, length, chan) like neurone/tfjs, then permuted to
        # PyTorch's (batch, chan, length) and made contiguous here, outside the timed loop.
        if len(shape) == 2:
            x = torch.rand((batch, shape[1], shape[0]), generator=gen).permute(0, 2, 1).contiguous()
        elif len(shape) == 3:  # images (chan, height, width), made from (batch, height, width, chan)
            c, h, w = shape
            x = torch.rand((batch, h, w, c), generator=gen).permute(0, 3, 1, 2).contiguous()
        else:
            x = torch.rand((batch,) + shape, generator=gen)
        if target == "class":
            y = torch.randint(0, 10, (batch,), generator=gen)
        elif target == "input":
            y = x.clone()
        else:
            y = None
        data.append((x, y))
    return data


def train_step(model, opt, loss_fn, x, y):
    out = model(x)
    loss = loss_fn(out, y)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss


def bench_net(name, epochs, batches):
    factory, shape, batch, loss_fn, target = lookup(name)
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = factory()
    data = make_data(shape, batch, target, batches, gen)
    if loss_fn is None:
        model.eval()

        def epoch():
            with torch.inference_mode():
                for x, _ in data:
                    model(x)
    else:
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=LR)

        def epoch():
            for x, y in data:
                train_step(model, opt, loss_fn, x, y)
    epoch()  # warm-up
    rates = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        epoch()
        rates.append(batches * batch / (time.perf_counter() - t0))
    return {"samplesPerSec": round(statistics.median(rates), 1), "note": ""}


def check_net(name, steps=50):
    factory, shape, batch, loss_fn, target = lookup(name)
    gen = torch.Generator().manual_seed(1)
    torch.manual_seed(1)
    model = factory()
    x, y = make_data(shape, batch, target if target else "class", 1, gen)[0]
    if loss_fn is None:  # inference: check the twin of a runs and gives log-probabilities
        model.eval()
        with torch.inference_mode():
            out = model(x)
        s = out.exp().sum(1)
        return f"{name}: forward {tuple(out.shape)}, sum(exp(logp)) in [{s.min():.4f}, {s.max():.4f}]"
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    first = last = None
    for i in range(steps):
        loss = train_step(model, opt, loss_fn, x, y).item()
        first = loss if first is None else first
        last = loss
    status = "ok" if last < first else "NOT DECREASING"
    return f"{name}: loss {first:.5f} -> {last:.5f} after {steps} steps on one batch (change {last - first:.2e}, {status})"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--nets", default="a,b,c32,c256,d,e,infer")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batches", type=int, default=50)
    p.add_argument("--samples", type=int, default=0,
                   help="if set, batches per epoch = max(--batches, ceil(samples / batch)) for each net")
    p.add_argument("--check", action="store_true")
    args = p.parse_args()
    torch.set_num_interop_threads(1)  # must precede any parallel work
    torch.set_num_threads(args.threads)
    nets = [n for n in args.nets.split(",") if n]
    for n in nets:
        if lookup(n) is None:
            sys.exit(f"unknown net {n!r}; known: {','.join(NETS)}, or mlp-WIDTH-BATCH")
    if args.check:
        for n in nets:
            print(check_net(n), flush=True)
        return
    results = {}
    for n in nets:
        try:
            batch = lookup(n)[2]
            batches = max(args.batches, -(-args.samples // batch)) if args.samples else args.batches
            results[n] = bench_net(n, args.epochs, batches)
        except Exception as e:  # report, keep going
            results[n] = {"samplesPerSec": None, "note": str(e).splitlines()[0] if str(e) else type(e).__name__}
        print(f"# {n}: {results[n]}", file=sys.stderr, flush=True)
    info = torch.__config__.parallel_info().splitlines()
    config = "; ".join(l.strip() for l in info if l.strip() and "Environment" not in l and "_NUM_THREADS :" not in l)
    print(json.dumps({
        "framework": "torch",
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
        "interopThreads": torch.get_num_interop_threads(),
        "config": config,
        "results": results,
    }))


if __name__ == "__main__":
    main()
