"""Pooling layers (max, average, sum) as forward/backward pairs.

Each kind slides a window over every feature map on its own and keeps one number per
window: the largest, the mean or the sum. The three share one forward and one backward
implementation; only what happens inside a window differs. Like ``correlate2d``, they loop
over the few offsets inside the window, not over the many windows.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import EllipsisType
from typing import Any, NamedTuple

import numpy as np

from helpers.ops.checks import (
    _as_float_array,
    _check_cache,
    _check_dout,
    _check_finite,
    _check_rank,
    _pair,
)
from helpers.ops.fastconv import _offsets

__all__ = [
    "Pool2dCache",
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "sum_pool2d_backward",
    "sum_pool2d_forward",
]


class Pool2dCache(NamedTuple):
    """What the pooling backward passes need from the forward pass."""

    kind: str
    x: np.ndarray
    out: np.ndarray
    size: tuple[int, int]
    stride: tuple[int, int]


def _window_views(
    size: tuple[int, int], stride: tuple[int, int], out_hw: tuple[int, int]
) -> Iterator[tuple[EllipsisType, slice, slice]]:
    """Yield an index for each offset inside the pooling window (see ``_offsets``)."""
    for _, _, rows, columns in _offsets(*size, *stride, *out_hw):
        yield (Ellipsis, rows, columns)


def _check_pool_inputs(
    x: Any, size: Any, stride: Any
) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """Check the arguments of a pooling forward pass and explain the first problem found.

    **Shapes:** ``x`` (N, C, H, W); the window must fit inside H x W.

    Returns ``(x, size, stride)``: ``x`` as a float array, ``size`` and ``stride`` as pairs
    (``stride`` defaults to ``size``).
    """
    x = _as_float_array(x, "x")
    _check_rank(x, 4, "x", "(N, C, H, W)", " A single image needs a batch axis: x[None].")
    kh, kw = _pair(size, "size")
    sh, sw = (kh, kw) if stride is None else _pair(stride, "stride")
    h, wd = x.shape[2:]
    if kh > h or kw > wd:
        raise ValueError(f"the {kh}x{kw} pooling window is larger than the {h}x{wd} input.")
    _check_finite(x, "x")
    return x, (kh, kw), (sh, sw)


def _pool_forward(x: Any, size: Any, stride: Any, kind: str) -> tuple[np.ndarray, Pool2dCache]:
    """Pool every window of every map (``kind`` is "max", "avg" or "sum").

    **Shapes:** ``x`` (N, C, H, W) -> ``out`` (N, C, OH, OW). Returns ``(out, cache)``.
    """
    x, (kh, kw), (sh, sw) = _check_pool_inputs(x, size, stride)
    h, wd = x.shape[2:]
    oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
    # One strided view per offset inside the window: the running max (or sum) over the views
    # is the max (or sum) over every window at once.
    views = _window_views((kh, kw), (sh, sw), (oh, ow))
    out = x[next(views)].copy()
    for idx in views:
        if kind == "max":
            np.maximum(out, x[idx], out=out)
        else:
            out += x[idx]
    if kind == "avg":
        out /= kh * kw
    return out, Pool2dCache(kind, x, out, (kh, kw), (sh, sw))


def _pool_backward(dout: Any, cache: Pool2dCache, kind: str) -> np.ndarray:
    """Send the gradient of every window back to the positions it pooled.

    **Shapes:** ``dout`` (N, C, OH, OW) -> ``dx`` (N, C, H, W). Returns ``dx``.
    """
    op = f"{kind}_pool2d_backward"
    _check_cache(cache, Pool2dCache, op, f"{kind}_pool2d_forward")
    if cache.kind != kind:
        raise TypeError(f"{op} got the cache of {cache.kind}_pool2d_forward.")
    dout = _check_dout(dout, cache.out.shape, op)
    x = cache.x
    dtype = np.result_type(x, dout)
    dx = np.zeros(x.shape, dtype=dtype)
    views = _window_views(cache.size, cache.stride, cache.out.shape[2:])
    if kind == "max":
        # Route each gradient to the first position (in reading order) holding the maximum,
        # as PyTorch does, so that ties do not double-count.
        taken = np.zeros(cache.out.shape, dtype=bool)
        for idx in views:
            hit = x[idx] == cache.out
            hit &= ~taken
            taken |= hit
            dx[idx] += np.where(hit, dout, 0)
    else:
        share = dout / (cache.size[0] * cache.size[1]) if kind == "avg" else dout
        for idx in views:
            dx[idx] += share
    return dx


def max_pool2d_forward(
    x: Any, *, size: Any = 2, stride: Any = None
) -> tuple[np.ndarray, Pool2dCache]:
    """Keep the largest value of every window of every feature map.

    **Shapes:** ``x`` (N, C, H, W) -> ``out`` (N, C, OH, OW) with
    ``OH = (H - size) // stride + 1``; ``size`` and ``stride`` are an int or a pair and
    ``stride`` defaults to ``size`` (non-overlapping windows). A smaller stride makes windows
    overlap; a larger one skips pixels. Pooling has no weights and keeps the depth C.
    Returns ``(out, cache)``.
    """
    return _pool_forward(x, size, stride, "max")


def max_pool2d_backward(dout: Any, cache: Pool2dCache) -> np.ndarray:
    """Send each window's gradient to the position that held its maximum (the arg-max).

    **Shapes:** ``dout`` (N, C, OH, OW) -> ``dx`` (N, C, H, W); every other position gets 0.
    Returns ``dx``.
    """
    return _pool_backward(dout, cache, "max")


def avg_pool2d_forward(
    x: Any, *, size: Any = 2, stride: Any = None
) -> tuple[np.ndarray, Pool2dCache]:
    """Replace every window of every feature map by its mean.

    **Shapes:** as ``max_pool2d_forward``. Returns ``(out, cache)``.
    """
    return _pool_forward(x, size, stride, "avg")


def avg_pool2d_backward(dout: Any, cache: Pool2dCache) -> np.ndarray:
    """Share each window's gradient equally among its size*size positions.

    **Shapes:** ``dout`` (N, C, OH, OW) -> ``dx`` (N, C, H, W). Returns ``dx``.
    """
    return _pool_backward(dout, cache, "avg")


def sum_pool2d_forward(
    x: Any, *, size: Any = 2, stride: Any = None
) -> tuple[np.ndarray, Pool2dCache]:
    """Replace every window of every feature map by its sum.

    **Shapes:** as ``max_pool2d_forward``. Returns ``(out, cache)``.
    """
    return _pool_forward(x, size, stride, "sum")


def sum_pool2d_backward(dout: Any, cache: Pool2dCache) -> np.ndarray:
    """Copy each window's gradient to every position of the window.

    **Shapes:** ``dout`` (N, C, OH, OW) -> ``dx`` (N, C, H, W). Returns ``dx``.
    """
    return _pool_backward(dout, cache, "sum")
