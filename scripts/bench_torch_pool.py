"""PyTorch twin of scripts/bench-pool2d.ts, for comparison only.

Usage:
  python3 scripts/bench_torch_pool.py '[[32, 56, 56, 64, 3, 2], ...]'

For each (batch, height, width, chan, kSize, stride): the seconds of one call of ATen's 2-D max
pooling forward (with indices) and its backward, and of average pooling's forward and backward,
on a channels-last tensor (neurone's layout), called directly (no autograd), the best of three
rounds of at least 0.2 s each. torch.set_num_threads follows OMP_NUM_THREADS, set by the caller.
The last line on stdout is one JSON object: {"version": ..., "threads": N, "results": [{"maxForward": s,
"maxBackward": s, "avgForward": s, "avgBackward": s}, ...]}.
"""
import json
import os
import sys
import time

import torch

aten = torch.ops.aten


def best_time(fn):
    fn()
    best = float("inf")
    for _ in range(3):
        reps, start = 0, time.perf_counter()
        while True:
            fn()
            reps += 1
            elapsed = time.perf_counter() - start
            if elapsed >= 0.2:
                break
        best = min(best, elapsed / reps)
    return best


def main():
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    results = []
    for batch, height, width, chan, k, stride in json.loads(sys.argv[1]):
        x = torch.randn(batch, chan, height, width).contiguous(memory_format=torch.channels_last)
        y, indices = aten.max_pool2d_with_indices(x, [k, k], [stride, stride], [0, 0], [1, 1], False)
        dy = torch.randn_like(y)
        avg = aten.avg_pool2d(x, [k, k], [stride, stride], [0, 0], False, True, None)
        davg = torch.randn_like(avg)
        results.append({
            "maxForward": best_time(lambda: aten.max_pool2d_with_indices(x, [k, k], [stride, stride], [0, 0], [1, 1], False)),
            "maxBackward": best_time(lambda: aten.max_pool2d_with_indices_backward(
                dy, x, [k, k], [stride, stride], [0, 0], [1, 1], False, indices)),
            "avgForward": best_time(lambda: aten.avg_pool2d(x, [k, k], [stride, stride], [0, 0], False, True, None)),
            "avgBackward": best_time(lambda: aten.avg_pool2d_backward(
                davg, x, [k, k], [stride, stride], [0, 0], False, True, None)),
        })
    print(json.dumps({"version": torch.__version__, "threads": torch.get_num_threads(), "results": results}))


if __name__ == "__main__":
    main()
