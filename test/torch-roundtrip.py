"""PyTorch's side of test/torch.test.ts: builds the PyTorch model equivalent to a neurone
architecture, and either loads weights neurone saved with layout 'torch' (strict
load_state_dict) or saves its own freshly initialised weights, then runs it on an input.

Usage: python3 torch-roundtrip.py jobs.json, where each job is
  { "mode": "load" | "save", "arch": neurone's config(), "weights": path, "input": path,
    "dims": [...], "output": path, "seed": n }
or, for a step in training mode (BatchNorm's batch statistics, running estimates, gradients),
  { "mode": "train", "arch", "weights", "inputs": [paths], "dims", "delta": path, "outputDims",
    "output", "inputGradient", "gradients", "state", "evalOutput": paths }
Inputs and outputs are raw little-endian float32 in neurone's channels-last order.

The official reader is safetensors.torch (`pip install safetensors`); Debian packages no
safetensors, so without it the file is read and written here, by the format's definition:
8-byte little-endian header length, JSON header, raw data.
"""
import json
import struct
import sys

import torch
from torch import nn

try:
    from safetensors.torch import load_file, save_file
except ImportError:

    def load_file(path):
        with open(path, "rb") as f:
            data = f.read()
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + n])
        out = {}
        for name, t in header.items():
            if name == "__metadata__":
                continue
            dtypes = {"F32": torch.float32, "I64": torch.int64}
            if t["dtype"] not in dtypes:
                raise ValueError(f"{name}: dtype {t['dtype']}")
            begin, end = t["data_offsets"]
            raw = bytearray(data[8 + n + begin : 8 + n + end])
            out[name] = torch.frombuffer(raw, dtype=dtypes[t["dtype"]]).reshape(t["shape"]).clone()
        return out

    def save_file(tensors, path, metadata=None):
        header, blobs, offset = {}, [], 0
        for name, t in tensors.items():
            # int64 as PyTorch keeps it (BatchNorm's num_batches_tracked), everything else float32.
            wide = t.dtype == torch.int64
            raw = t.detach().contiguous().numpy().astype("<i8" if wide else "<f4").tobytes()
            header[name] = {"dtype": "I64" if wide else "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
            offset += len(raw)
            blobs.append(raw)
        if metadata:
            header["__metadata__"] = metadata
        text = json.dumps(header).encode()
        text += b" " * ((8 - len(text) % 8) % 8)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def build(c):
    """The PyTorch module equivalent to one neurone module config (README, 'PyTorch weights')."""
    t, a, o = c["type"], c.get("args", []), c.get("options") or {}
    stride = a[3] if len(a) > 3 else 1
    if t == "Sequential":
        return nn.Sequential(*[build(m) for m in c.get("modules", [])])
    if t == "Linear":
        return nn.Linear(a[0], a[1], bias=o.get("bias", True))
    if t == "Conv1D":
        return nn.Conv1d(a[1], a[2], a[0], stride=stride, padding=o.get("padding", 0), bias=o.get("bias", False))
    if t == "ConvTranspose1D":
        return nn.ConvTranspose1d(
            a[1], a[2], a[0], stride=stride, padding=o.get("padding", 0),
            output_padding=o.get("outputPadding", 0), bias=o.get("bias", False),
        )
    if t == "Upsample1D":
        return nn.Upsample(scale_factor=a[0], mode="nearest")
    if t == "MaxPool1D":
        return nn.MaxPool1d(a[0], a[1] if len(a) > 1 else a[0], padding=o.get("padding", 0), ceil_mode=o.get("ceilMode", False))
    if t == "AvgPool1D":
        return nn.AvgPool1d(
            a[0], a[1] if len(a) > 1 else a[0], padding=o.get("padding", 0), ceil_mode=o.get("ceilMode", False),
            count_include_pad=o.get("countIncludePad", True),
        )
    if t == "Flatten":
        return nn.Flatten()
    if t == "Conv2D":
        return nn.Conv2d(a[1], a[2], a[0], stride=stride, padding=o.get("padding", 0), bias=o.get("bias", True))
    if t == "ConvTranspose2D":
        return nn.ConvTranspose2d(
            a[1], a[2], a[0], stride=stride, padding=o.get("padding", 0),
            output_padding=o.get("outputPadding", 0), bias=o.get("bias", True),
        )
    if t == "MaxPool2D":
        return nn.MaxPool2d(a[0], a[1] if len(a) > 1 else a[0], padding=o.get("padding", 0), ceil_mode=o.get("ceilMode", False))
    if t == "AvgPool2D":
        return nn.AvgPool2d(
            a[0], a[1] if len(a) > 1 else a[0], padding=o.get("padding", 0), ceil_mode=o.get("ceilMode", False),
            count_include_pad=o.get("countIncludePad", True),
        )
    if t == "GlobalAvgPool2D":
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    if t == "Upsample2D":
        return nn.Upsample(scale_factor=tuple(a[0]) if isinstance(a[0], list) else a[0], mode="nearest")
    if t == "Reshape":  # only channel axis 1 or flat (lib/export/torch.ts refuses the rest)
        shape = a[0]
        return nn.Unflatten(1, tuple([1] + shape[:-1])) if len(shape) > 1 else nn.Flatten()
    simple = {"TanH": nn.Tanh, "Sigmoid": nn.Sigmoid, "StableSigmoid": nn.Sigmoid, "ReLU": nn.ReLU,
              "SoftPlus": nn.Softplus, "Identity": nn.Identity, "SiLU": nn.SiLU,
              "GELU": nn.GELU}
    if t in simple:
        return simple[t]()
    if t == "LeakyReLU":
        return nn.LeakyReLU(a[0] if a else 0.01)
    if t == "ELU":
        return nn.ELU(a[0] if a else 1.0)
    if t == "Softmax":
        return nn.Softmax(dim=1)
    if t == "LogSoftmax":
        return nn.LogSoftmax(dim=1)
    if t in ("BatchNorm1D", "BatchNorm2D"):
        norm = nn.BatchNorm1d if t == "BatchNorm1D" else nn.BatchNorm2d
        return norm(a[0], eps=o.get("eps", 1e-5), momentum=o.get("momentum", 0.1), affine=o.get("affine", True))
    if t == "Dropout":
        return nn.Dropout(a[0] if a else 0.5)
    raise ValueError(f"no PyTorch module for {t}")


def to_torch(x):
    """neurone's channels-last layout to PyTorch's channels-first."""
    if x.dim() == 3:
        return x.permute(0, 2, 1)
    if x.dim() == 4:
        return x.permute(0, 3, 1, 2)
    return x


def from_torch(y):
    """PyTorch's channels-first layout back to neurone's channels-last."""
    if y.dim() == 3:
        return y.permute(0, 2, 1)
    if y.dim() == 4:
        return y.permute(0, 2, 3, 1)
    return y


def read_f32(path, dims):
    with open(path, "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(dims)


def write_f32(path, t):
    with open(path, "wb") as f:
        f.write(t.detach().contiguous().numpy().astype("<f4").tobytes())


def train_step(job):
    """Training mode: forward passes on each input in turn, backward of the last with `delta`;
    writes the last output, the input gradient, the parameter gradients, the state_dict after,
    and the evaluation-mode output on the first input."""
    model = build(job["arch"])
    model.load_state_dict(load_file(job["weights"]))
    model.train()
    xs = [to_torch(read_f32(p, job["dims"])) for p in job["inputs"]]
    for x in xs[:-1]:
        model(x)
    x = xs[-1].clone().requires_grad_(True)
    y = model(x)
    y.backward(to_torch(read_f32(job["delta"], job["outputDims"])))
    write_f32(job["output"], from_torch(y))
    write_f32(job["inputGradient"], from_torch(x.grad))
    save_file({name: p.grad for name, p in model.named_parameters()}, job["gradients"])
    save_file(dict(model.state_dict()), job["state"])
    model.eval()
    with torch.no_grad():
        write_f32(job["evalOutput"], from_torch(model(xs[0])))
    return list(y.shape)


def main():
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    shapes = []
    for job in jobs:
        if job["mode"] == "train":
            shapes.append(train_step(job))
            continue
        torch.manual_seed(job.get("seed", 0))
        model = build(job["arch"])
        if job["mode"] == "load":
            model.load_state_dict(load_file(job["weights"]))  # strict: every name, every shape
        else:
            save_file(model.state_dict(), job["weights"])
        model.eval()
        with open(job["input"], "rb") as f:
            x = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(job["dims"])
        if x.dim() == 3:
            x = x.permute(0, 2, 1)  # neurone's (batch, length, chan) -> PyTorch's (batch, chan, length)
        elif x.dim() == 4:
            x = x.permute(0, 3, 1, 2)  # (batch, height, width, chan) -> (batch, chan, height, width)
        with torch.no_grad():
            y = model(x)
        if y.dim() == 3:
            y = y.permute(0, 2, 1)
        elif y.dim() == 4:
            y = y.permute(0, 2, 3, 1)
        with open(job["output"], "wb") as f:
            f.write(y.contiguous().numpy().astype("<f4").tobytes())
        shapes.append(list(y.shape))
    print(json.dumps(shapes))


main()
