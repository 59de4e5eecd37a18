"""Check gradients and compare results: the tools that tell you whether a backward pass is right.

* ``numerical_gradient`` estimates a gradient by nudging each input up and down (central
  differences): slow, but it needs no calculus, so it is the referee for every backward pass.
* ``rel_error`` turns two arrays into one number: around 1e-7 or less means "the same" in
  float64, above 1e-3 means a bug.
* ``compare`` prints whether two results are exactly equal, close, or different, for example
  a NumPy helper against PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Comparison", "compare", "numerical_gradient", "rel_error"]


def _as_numpy(value: Any, name: str) -> np.ndarray:
    """Return ``value`` (a NumPy array, a list or a PyTorch tensor) as a real NumPy array."""
    # Accept PyTorch tensors without importing torch: they all offer detach().cpu().numpy().
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as err:
        raise TypeError(f"{name} must be an array of numbers ({err}).") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, but its dtype is {arr.dtype}.")
    return arr


def numerical_gradient(
    f: Callable[[np.ndarray], Any], x: Any, *, dout: Any = None, h: float = 1e-5
) -> np.ndarray:
    """Estimate the gradient of ``f`` at ``x`` by central differences.

    **Shapes:** ``x`` any shape -> a gradient of the same shape (float64).

    ``f`` maps an array shaped like ``x`` to a number (a loss) or to an array; for an array
    output, pass ``dout`` (shaped like that output) and the gradient of ``sum(f(x) * dout)``
    is returned, which is exactly what a backward pass computes. Each entry costs two calls
    of ``f``: keep ``x`` small. ``x`` itself is never modified; ``f`` gets a float64 copy.
    Returns the estimated gradient.
    """
    if not callable(f):
        raise TypeError(f"f must be a function of x, got {type(f).__name__}.")
    x0 = _as_numpy(x, "x").astype(np.float64)  # a private copy, nudged in place below
    if not (isinstance(h, int | float) and h > 0):
        raise ValueError(f"the step h must be a small positive number, got {h!r}.")
    weight = None if dout is None else _as_numpy(dout, "dout").astype(np.float64)

    def value(point: np.ndarray) -> float:
        y = _as_numpy(f(point), "f(x)").astype(np.float64)
        if weight is None:
            if y.size != 1:
                raise ValueError(
                    f"f returned an array of shape {y.shape}; pass dout= shaped like it, "
                    f"or make f return a single number."
                )
            return float(y.reshape(()))
        if y.shape != weight.shape:
            raise ValueError(f"f(x) has shape {y.shape} but dout has shape {weight.shape}.")
        return float((y * weight).sum())

    grad = np.zeros_like(x0)
    flat, gflat = x0.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = value(x0.copy())
        flat[i] = old - h
        down = value(x0.copy())
        flat[i] = old
        gflat[i] = (up - down) / (2 * h)
    return grad


def rel_error(a: Any, b: Any) -> float:
    """Return the largest relative difference ``|a - b| / max(|a| + |b|, tiny)``.

    **Shapes:** ``a`` and ``b`` must have the same shape. 0 means identical.
    """
    a = _as_numpy(a, "a").astype(np.float64)
    b = _as_numpy(b, "b").astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare shapes {a.shape} and {b.shape}.")
    if a.size == 0:
        return 0.0
    denom = np.maximum(np.abs(a) + np.abs(b), 1e-12)
    return float((np.abs(a - b) / denom).max())


class Comparison(NamedTuple):
    """The outcome of ``compare``."""

    name: str
    same_shape: bool
    exact: bool
    close: bool
    max_abs_diff: float
    rel_error: float

    def __bool__(self) -> bool:
        return self.close


def compare(
    name: str, mine: Any, reference: Any, *, rtol: float = 1e-5, atol: float = 1e-6
) -> Comparison:
    """Print and return whether ``mine`` matches ``reference`` exactly, closely or not at all.

    **Shapes:** any two arrays (NumPy, lists or PyTorch tensors). "close" means
    ``np.allclose(mine, reference, rtol, atol)``; the defaults suit float32 results.
    Returns a ``Comparison`` (truthy when close) and prints a one-line verdict such as
    ``conv2d vs torch: close (max difference 2.4e-07)``.
    """
    a = _as_numpy(mine, "mine")
    b = _as_numpy(reference, "reference")
    if a.shape != b.shape:
        result = Comparison(str(name), False, False, False, float("inf"), float("inf"))
        print(f"{name}: DIFFERENT shapes, {a.shape} vs {b.shape}")
        return result
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    diff = float(np.abs(a64 - b64).max()) if a.size else 0.0
    exact = bool(np.array_equal(a64, b64))
    close = bool(np.allclose(a64, b64, rtol=rtol, atol=atol))
    result = Comparison(str(name), True, exact, close, diff, rel_error(a64, b64))
    if exact:
        print(f"{name}: exact match")
    elif close:
        print(f"{name}: close (max difference {diff:.2g})")
    else:
        print(f"{name}: DIFFERENT (max difference {diff:.3g}, relative error {result[5]:.3g})")
    return result
