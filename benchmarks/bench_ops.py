"""Time the NumPy ops of helpers.ops against PyTorch, side by side, on 1 thread and on all cores.

Run from the repository root::

    python -m benchmarks.bench_ops            # prints the table
    python -m benchmarks.bench_ops --strict   # exit status 1 when a target is missed

NumPy's BLAS threads are set with threadpoolctl, PyTorch's with ``torch.set_num_threads``.
NumPy and PyTorch run in alternating blocks and each time is the fastest of 32 calls (the run
least disturbed by other work on a shared machine), in milliseconds, float32.
Targets (NumPy time / PyTorch time at the same thread count):
conv2d forward <= 2x, conv2d backward <= 3x, 2x2 max pooling <= 1x; the widget-scale
correlate2d call on a 100x100x3 picture must take under 2 ms.

On machines where OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set (to dodge bugs of older
OpenBLAS builds), they slow a current NumPy: unset both for the benchmark command only, and
check the "BLAS kernel" line that this script prints.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_info, threadpool_limits

from helpers import ops


def best_pair_ms(
    fn_a: Callable[[], object], fn_b: Callable[[], object], *, blocks: int = 4, calls: int = 8
) -> tuple[float, float]:
    """Time two functions in alternating blocks of calls; return the fastest call of each, in ms.

    Alternating makes both face the same background load on a shared machine, and the fastest
    call is the one least disturbed by it. Blocks rather than single calls, because a NumPy
    call right after a PyTorch one was measured up to 1.7x slower (memory handed back and
    forth between the two allocators), which no real NumPy training loop pays.
    """
    best_a = best_b = float("inf")
    for _ in range(blocks):
        for fn, is_a in ((fn_a, True), (fn_b, False)):
            fn()  # warm-up after the switch
            for _ in range(calls):
                t0 = time.perf_counter()
                fn()
                elapsed = time.perf_counter() - t0
                if is_a:
                    best_a = min(best_a, elapsed)
                else:
                    best_b = min(best_b, elapsed)
    return 1e3 * best_a, 1e3 * best_b


def cases(rng: np.random.Generator):
    """Yield (name, numpy_fn, torch_fn or None, limit, kind) for every benchmark row."""
    for xs, ws in [((64, 1, 28, 28), (32, 1, 3, 3)), ((64, 32, 13, 13), (64, 32, 3, 3))]:
        x = rng.standard_normal(xs, dtype=np.float32)
        w = rng.standard_normal(ws, dtype=np.float32)
        b = rng.standard_normal(ws[0], dtype=np.float32)
        label = f"{xs}x{ws}".replace(" ", "")
        xt, wt, bt = (torch.from_numpy(a) for a in (x, w, b))
        yield (
            f"conv2d_forward {label}",
            lambda x=x, w=w, b=b: ops.conv2d_forward(x, w, b),
            lambda xt=xt, wt=wt, bt=bt: F.conv2d(xt, wt, bt),
            2.0,
            "ratio",
        )

        out, cache = ops.conv2d_forward(x, w, b)
        g = rng.standard_normal(out.shape, dtype=np.float32)
        xg, wg, bg = (t.clone().requires_grad_() for t in (xt, wt, bt))
        out_t = F.conv2d(xg, wg, bg)
        gt = torch.from_numpy(g)
        yield (
            f"conv2d_backward {label}",
            lambda g=g, cache=cache: ops.conv2d_backward(g, cache),
            lambda o=out_t, i=(xg, wg, bg), gt=gt: torch.autograd.grad(o, i, gt, retain_graph=True),
            3.0,
            "ratio",
        )

    x = rng.standard_normal((64, 32, 26, 26), dtype=np.float32)
    xt = torch.from_numpy(x)
    yield (
        "max_pool2d_forward 2x2/2 (64,32,26,26)",
        lambda: ops.max_pool2d_forward(x, size=2),
        lambda: F.max_pool2d(xt, 2),
        1.0,
        "ratio",
    )

    img = rng.integers(0, 256, (100, 100, 3), dtype=np.uint8)
    k = rng.standard_normal((3, 3))
    img_t = torch.from_numpy(np.moveaxis(img, -1, 0)[None].astype(np.float64))
    k_t = torch.from_numpy(np.repeat(k[None, None], 3, axis=0))
    yield (
        "correlate2d 100x100x3, 3x3, same",
        lambda: ops.correlate2d(img, k, padding="same"),
        lambda: F.conv2d(img_t, k_t, padding=1, groups=3),
        2.0,
        "ms",
    )


def blas_line() -> str:
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not blas:
        return "BLAS kernel: unknown"
    info = blas[0]
    env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}
    return (
        f"BLAS kernel: {info.get('internal_api')} {info.get('version')} "
        f"({info.get('architecture', '?')}); environment overrides: {env or 'none'}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    all_cores = os.cpu_count() or 1
    # All cores first: torch 2.13 runs its 1-thread conv2d ~20x slower until it has once run
    # multi-threaded in the process, and the comparison should be with torch at its best.
    thread_counts = sorted({1, all_cores}, reverse=True)
    print(f"numpy {np.__version__}, torch {torch.__version__}; {blas_line()}")
    print("times in ms: fastest of 32 calls in alternating blocks; float32 inputs")
    print("(correlate2d: a uint8 picture, computed in float64)\n")
    header = f"{'operation':<52} {'thr':>3} {'numpy':>8} {'torch':>8} {'ratio':>6}  target"
    print(header)
    print("-" * (len(header) + 12))
    missed = []
    rng = np.random.default_rng(0)
    rows = list(cases(rng))
    saved_threads = torch.get_num_threads()
    try:
        for threads in thread_counts:
            torch.set_num_threads(threads)
            with threadpool_limits(threads):
                for name, np_fn, torch_fn, limit, kind in rows:
                    t_np, t_torch = best_pair_ms(np_fn, torch_fn)
                    ratio = t_np / t_torch
                    if kind == "ratio":
                        ok, target = ratio <= limit, f"<= {limit:g}x torch"
                    else:
                        ok, target = t_np < limit, f"< {limit:g} ms"
                    verdict = "met" if ok else "MISSED"
                    if not ok:
                        missed.append(f"{name} on {threads} thread(s)")
                    print(
                        f"{name:<52} {threads:>3} {t_np:>8.2f} {t_torch:>8.2f} {ratio:>6.2f}  "
                        f"{target} {verdict}"
                    )
    finally:
        torch.set_num_threads(saved_threads)
    print()
    print("all targets met" if not missed else "missed: " + "; ".join(missed))
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    raise SystemExit(main())
