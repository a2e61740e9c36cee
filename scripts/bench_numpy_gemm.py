"""NumPy (OpenBLAS) sgemm on the shapes of scripts/bench-kernels.ts, for comparison only.

Usage: python3 scripts/bench_numpy_gemm.py '<json list of [m, n, k, transA, transB]>'
Threads follow OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, set by the caller.
Prints one JSON object: {"config": ..., "results": [{"shape": ..., "gflops": ...}]}.
"""
import json
import sys
import time

import numpy as np


def blas_info():
    try:
        from threadpoolctl import threadpool_info
        return [{k: i.get(k) for k in ("internal_api", "version", "num_threads", "architecture")} for i in threadpool_info()]
    except ImportError:  # threadpoolctl is optional
        pass
    # Without it: the OpenBLAS this process loaded (NumPy's, found in its memory map) asked for its
    # build string and the core kernels it picked, which is what the comparison depends on.
    import ctypes
    try:
        with open("/proc/self/maps") as maps:
            libs = sorted({line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line})
    except OSError as e:
        return "BLAS unknown (%s)" % e
    # NumPy's BLAS and LAPACK wrappers map the same library again: its one answer is enough. The
    # OpenBLAS of NumPy 2's wheels (scipy-openblas) prefixes and suffixes its symbols.
    names = [("openblas_get_config", "openblas_get_corename"),
             ("scipy_openblas_get_config64_", "scipy_openblas_get_corename64_"),
             ("scipy_openblas_get_config", "scipy_openblas_get_corename")]
    for lib in libs:
        try:
            blas = ctypes.CDLL(lib)
        except OSError:
            continue
        for config_name, core_name in names:
            try:
                config, core = getattr(blas, config_name), getattr(blas, core_name)
            except AttributeError:
                continue
            config.restype = core.restype = ctypes.c_char_p
            return "%s, core %s" % (config().decode(), core().decode())
    return "no OpenBLAS found in this process (%s)" % (", ".join(libs) or "none mapped")


def time_gemm(m, n, k, trans_a, trans_b):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if trans_a else (m, k), dtype=np.float32)
    b = rng.standard_normal((n, k) if trans_b else (k, n), dtype=np.float32)
    opa = a.T if trans_a else a
    opb = b.T if trans_b else b
    c = np.empty((m, n), dtype=np.float32)
    np.matmul(opa, opb, out=c)
    best = float("inf")
    for _ in range(15):
        reps = 0
        start = time.perf_counter()
        while True:
            np.matmul(opa, opb, out=c)
            reps += 1
            elapsed = time.perf_counter() - start
            if elapsed > 0.05:
                break
        best = min(best, elapsed / reps)
    return 2.0 * m * n * k / best / 1e9


def main():
    shapes = json.loads(sys.argv[1])
    results = [{"shape": s, "gflops": time_gemm(*s)} for s in shapes]
    print(json.dumps({"config": blas_info(), "numpy": np.__version__, "results": results}))


if __name__ == "__main__":
    main()
