"""Element-wise activations (ReLU, leaky ReLU, sigmoid, tanh) as forward/backward pairs.

An activation follows every convolution and every hidden dense layer; without one, a stack
of layers collapses into a single linear map. Each works on arrays of any shape, and its
backward pass multiplies the upstream gradient by the activation's slope at each entry,
read from the input (ReLU) or the output (sigmoid, tanh) that the cache keeps.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from helpers.ops.checks import _as_float_array, _check_cache, _check_dout, _check_finite

__all__ = [
    "ActivationCache",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "relu_backward",
    "relu_forward",
    "sigmoid_backward",
    "sigmoid_forward",
    "tanh_backward",
    "tanh_forward",
]


class ActivationCache(NamedTuple):
    """The forward input (or output) that an activation's derivative is computed from."""

    kind: str
    value: np.ndarray
    slope: float = 0.0


def _activation_input(x: Any) -> np.ndarray:
    """Return ``x`` as a finite float array, or raise TypeError / ValueError."""
    x = _as_float_array(x, "x")
    _check_finite(x, "x")
    return x


def _activation_dout(dout: Any, cache: ActivationCache, kind: str) -> np.ndarray:
    """Check that ``cache`` comes from ``{kind}_forward`` and return ``dout`` checked against it."""
    _check_cache(cache, ActivationCache, f"{kind}_backward", f"{kind}_forward")
    if cache.kind != kind:
        raise TypeError(f"{kind}_backward got the cache of {cache.kind}_forward.")
    return _check_dout(dout, cache.value.shape, f"{kind}_backward")


def relu_forward(x: Any) -> tuple[np.ndarray, ActivationCache]:
    """Apply ReLU(x) = max(0, x) element-wise: negative responses become 0.

    **Shapes:** any shape -> the same shape. Returns ``(out, cache)``.
    """
    x = _activation_input(x)
    return np.maximum(x, 0), ActivationCache("relu", x)


def relu_backward(dout: Any, cache: ActivationCache) -> np.ndarray:
    """Let the gradient through where the input was positive, block it elsewhere.

    **Shapes:** ``dout`` like the forward input -> ``dx`` the same shape. Returns ``dx``.
    """
    dout = _activation_dout(dout, cache, "relu")
    return np.where(cache.value > 0, dout, 0).astype(np.result_type(dout, cache.value))


def leaky_relu_forward(x: Any, *, slope: float = 0.01) -> tuple[np.ndarray, ActivationCache]:
    """Apply leaky ReLU: x where x > 0, ``slope * x`` elsewhere, so negatives keep a gradient.

    **Shapes:** any shape -> the same shape. Returns ``(out, cache)``.
    """
    if isinstance(slope, bool) or not isinstance(slope, int | float | np.floating | np.integer):
        raise TypeError(f"slope must be a number, got {slope!r}.")
    if not (math.isfinite(slope) and slope >= 0):
        raise ValueError(f"slope must be a finite number >= 0, got {slope!r}.")
    x = _activation_input(x)
    out = np.where(x > 0, x, x * x.dtype.type(slope))
    return out, ActivationCache("leaky_relu", x, float(slope))


def leaky_relu_backward(dout: Any, cache: ActivationCache) -> np.ndarray:
    """Multiply the gradient by 1 where the input was positive and by ``slope`` elsewhere.

    **Shapes:** ``dout`` like the forward input -> ``dx`` the same shape. Returns ``dx``.
    """
    dout = _activation_dout(dout, cache, "leaky_relu")
    dtype = np.result_type(dout, cache.value)
    return np.where(cache.value > 0, dout, dout * cache.slope).astype(dtype)


def sigmoid_forward(x: Any) -> tuple[np.ndarray, ActivationCache]:
    """Squash every value into (0, 1) with 1 / (1 + exp(-x)), without overflow.

    **Shapes:** any shape -> the same shape. Returns ``(out, cache)``.
    """
    x = _activation_input(x)
    # exp of a non-positive number never overflows; both branches use it.
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)
    return out, ActivationCache("sigmoid", out)


def sigmoid_backward(dout: Any, cache: ActivationCache) -> np.ndarray:
    """Multiply the gradient by s(1 - s): at most 1/4, and near 0 where the sigmoid saturates.

    **Shapes:** ``dout`` like the forward input -> ``dx`` the same shape. Returns ``dx``.
    """
    dout = _activation_dout(dout, cache, "sigmoid")
    s = cache.value
    return dout * s * (1 - s)


def tanh_forward(x: Any) -> tuple[np.ndarray, ActivationCache]:
    """Squash every value into (-1, 1) with tanh.

    **Shapes:** any shape -> the same shape. Returns ``(out, cache)``.
    """
    x = _activation_input(x)
    out = np.tanh(x)
    return out, ActivationCache("tanh", out)


def tanh_backward(dout: Any, cache: ActivationCache) -> np.ndarray:
    """Multiply the gradient by 1 - tanh(x)^2, which also vanishes where tanh saturates.

    **Shapes:** ``dout`` like the forward input -> ``dx`` the same shape. Returns ``dx``.
    """
    dout = _activation_dout(dout, cache, "tanh")
    t = cache.value
    return dout * (1 - t * t)
