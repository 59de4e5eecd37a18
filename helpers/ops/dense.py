"""Flatten and dense (fully connected) layers as forward/backward pairs: the head of a CNN.

``flatten_forward`` unrolls each image's stack of feature maps into one vector, and
``dense_forward`` connects every entry of that vector to every output with one matrix
product. Together they turn the (N, C, H, W) maps of the last pooling layer into the
(N, K) class scores that softmax and the loss in :mod:`helpers.ops.losses` expect.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from helpers.ops.checks import (
    _as_float_array,
    _check_cache,
    _check_dout,
    _check_finite,
    _check_rank,
)

__all__ = ["DenseCache", "dense_backward", "dense_forward", "flatten_backward", "flatten_forward"]


def flatten_forward(x: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    """Unroll every image's feature maps into one long vector, e.g. (64, 3, 3) -> 576.

    **Shapes:** ``x`` (N, ...) with at least 2 axes -> ``out`` (N, prod(...)), a new array.
    Returns ``(out, cache)``; the cache is the input shape.
    """
    x = _as_float_array(x, "x")
    if x.ndim < 2 or x.size == 0:
        raise ValueError(
            f"flatten needs a non-empty batch of shape (N, ...) with at least 2 axes, "
            f"got shape {x.shape}."
        )
    return x.reshape(x.shape[0], -1).copy(), tuple(x.shape)


def flatten_backward(dout: Any, cache: tuple[int, ...]) -> np.ndarray:
    """Fold the gradient back into the shape of the flattened input.

    **Shapes:** ``dout`` (N, D) -> ``dx`` the forward input's shape. Returns ``dx``.
    """
    if not (isinstance(cache, tuple) and all(isinstance(s, int) for s in cache)):
        raise TypeError("flatten_backward needs the cache (input shape) from flatten_forward.")
    n = cache[0]
    dout = _check_dout(dout, (n, math.prod(cache[1:])), "flatten_backward")
    return dout.reshape(cache).copy()


class DenseCache(NamedTuple):
    """The input and weights that ``dense_backward`` needs."""

    x: np.ndarray
    w: np.ndarray
    out_shape: tuple[int, int]


def _check_dense_inputs(x: Any, w: Any, b: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check the arguments of ``dense_forward`` and explain the first problem found.

    **Shapes:** ``x`` (N, D), ``w`` (D, M), ``b`` (M,).

    Returns ``(x, w, b)`` as finite float arrays, each in its own precision.
    """
    x = _as_float_array(x, "x")
    w = _as_float_array(w, "w")
    b = _as_float_array(b, "b")
    _check_rank(x, 2, "x", "(N, D)", " Flatten feature maps first with flatten_forward.")
    _check_rank(w, 2, "w", "(D, M)")
    if x.shape[1] != w.shape[0]:
        raise ValueError(
            f"size mismatch: each input has {x.shape[1]} features but w expects "
            f"{w.shape[0]} (w has shape {w.shape}, rows = inputs, columns = outputs)."
        )
    if b.shape != (w.shape[1],):
        raise ValueError(f"b must hold one bias per output, shape ({w.shape[1]},), got {b.shape}.")
    for arr, name in ((x, "x"), (w, "w"), (b, "b")):
        _check_finite(arr, name)
    return x, w, b


def dense_forward(x: Any, w: Any, b: Any) -> tuple[np.ndarray, DenseCache]:
    """Connect every input to every output: ``out = x @ w + b`` (an affine map).

    **Shapes:** ``x`` (N, D), ``w`` (D, M), ``b`` (M,) -> ``out`` (N, M).
    The weight matrix is stored inputs-by-outputs, so it has D*M + M parameters with the bias
    (576*64 + 64 = 36,928). Returns ``(out, cache)``.
    """
    x, w, b = _check_dense_inputs(x, w, b)
    dtype = np.result_type(x, w, b)  # mixed precisions: compute in the wider one
    out = x.astype(dtype, copy=False) @ w.astype(dtype, copy=False) + b.astype(dtype, copy=False)
    return out, DenseCache(x, w, out.shape)


def dense_backward(dout: Any, cache: DenseCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagate through ``dense_forward``.

    **Shapes:** ``dout`` (N, M) -> ``dx`` (N, D), ``dw`` (D, M), ``db`` (M,).
    Returns ``(dx, dw, db)``.
    """
    _check_cache(cache, DenseCache, "dense_backward", "dense_forward")
    dout = _check_dout(dout, cache.out_shape, "dense_backward")
    dtype = np.result_type(cache.x, cache.w, dout)
    dout = dout.astype(dtype, copy=False)
    dx = dout @ cache.w.T.astype(dtype, copy=False)
    dw = cache.x.T.astype(dtype, copy=False) @ dout
    return dx, dw, dout.sum(axis=0)
