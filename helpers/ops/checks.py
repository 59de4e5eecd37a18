"""Check the inputs of the ops, so that each mistake is explained in one sentence.

Every op of :mod:`helpers.ops` starts by passing its arguments through these helpers: they
turn lists and integer pictures into float arrays, read ``stride`` and ``padding`` options,
and raise ``TypeError`` or ``ValueError`` with a message a student can act on. Students
rarely need to read this module; it is why ``conv2d_forward`` can say "x must be
(N, C, H, W)" instead of failing deep inside NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["PADDING_MODES"]

PADDING_MODES = ("zeros", "replicate")
"""The ways an op can fill the border it adds around an image."""


def _numeric_array(value: Any, name: str) -> np.ndarray:
    """Return ``value`` as a NumPy array of real numbers, or raise TypeError."""
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as err:
            raise TypeError(
                f"{name} must be a NumPy array of numbers; could not turn the "
                f"{type(value).__name__} you passed into one ({err})."
            ) from None
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} holds complex numbers ({arr.dtype}); images and weights are real.")
    if kind not in "biuf":
        raise TypeError(
            f"{name} must hold numbers (float32, float64, integers), but its dtype is {arr.dtype}."
        )
    return arr


def _as_float_array(value: Any, name: str) -> np.ndarray:
    """Return ``value`` as a float32/float64 array, or raise TypeError for non-numbers."""
    arr = _numeric_array(value, name)
    if arr.dtype == np.float32 or arr.dtype == np.float64:
        return arr
    if arr.dtype.kind == "f":  # float16 and longdouble: compute in the nearest common precision
        return arr.astype(np.float32 if arr.dtype.itemsize < 4 else np.float64)
    return arr.astype(np.float64)


def _check_rank(arr: np.ndarray, ndim: int, name: str, layout: str, hint: str = "") -> None:
    """Raise ValueError unless ``arr`` has ``ndim`` axes and at least one entry."""
    if arr.ndim != ndim:
        raise ValueError(
            f"{name} must be a {ndim}-D array {layout}, but it has {arr.ndim} "
            f"dimension(s) with shape {arr.shape}.{hint}"
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); every axis needs at least 1 entry.")


def _check_finite(arr: np.ndarray, name: str) -> None:
    """Raise ValueError, counting the culprits, if ``arr`` holds NaN or infinite values."""
    # The sum is a cheap first test (NaN and inf propagate into it); only when it fails do
    # we look element by element, so that a large but finite input is never rejected.
    with np.errstate(over="ignore", invalid="ignore"):
        total = arr.sum()
    if np.isfinite(total) or np.isfinite(arr).all():
        return
    n_nan = int(np.isnan(arr).sum())
    n_inf = int(np.isinf(arr).sum())
    raise ValueError(
        f"{name} contains {n_nan} NaN and {n_inf} infinite value(s); the result would be "
        f"meaningless. Look for a division by zero or a diverging training step upstream."
    )


def _as_int(value: Any, name: str) -> int:
    """Return ``value`` as a Python int; anything else, a bool included, raises TypeError."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be a whole number (int), got {value!r}.")
    return int(value)


def _pair(value: Any, name: str, *, minimum: int = 1) -> tuple[int, int]:
    """Read an int or a pair of ints (height, width) that must each be >= minimum."""
    if isinstance(value, tuple | list):
        if len(value) != 2:
            raise ValueError(
                f"{name} must be one int or a pair (height, width), got {len(value)} values."
            )
        pair = (_as_int(value[0], name), _as_int(value[1], name))
    else:
        v = _as_int(value, name)
        pair = (v, v)
    if min(pair) < minimum:
        what = "positive" if minimum == 1 else f"at least {minimum}"
        raise ValueError(f"{name} must be {what}, got {value!r}.")
    return pair


def _resolve_padding(padding: Any, kh: int, kw: int) -> tuple[int, int, int, int]:
    """Turn a padding option into (top, bottom, left, right) for a KH x KW kernel."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            # k - 1 extra rows in total keep the size at stride 1; an even kernel puts the
            # odd one out at the bottom/right, as PyTorch does.
            return ((kh - 1) // 2, kh - 1 - (kh - 1) // 2, (kw - 1) // 2, kw - 1 - (kw - 1) // 2)
        raise ValueError(
            f'padding must be "valid", "same", an int or a pair (ph, pw); got {padding!r}.'
        )
    ph, pw = _pair(padding, "padding", minimum=0)
    return (ph, ph, pw, pw)


def _check_padding_mode(mode: Any) -> str:
    """Return ``mode`` if it is one of ``PADDING_MODES``, or raise ValueError."""
    if mode not in PADDING_MODES:
        raise ValueError(
            f"padding mode must be one of {', '.join(map(repr, PADDING_MODES))}; got {mode!r}."
        )
    return mode


def _check_dout(dout: Any, shape: tuple[int, ...], op: str) -> np.ndarray:
    """Return the upstream gradient as a finite float array shaped like the forward output."""
    dout = _as_float_array(dout, "dout")
    if dout.shape != tuple(shape):
        raise ValueError(
            f"dout must have the shape of the forward output {tuple(shape)} in {op}, "
            f"but it has shape {dout.shape}."
        )
    _check_finite(dout, "dout")
    return dout


def _check_cache(cache: Any, kind: type, op: str, forward: str) -> None:
    """Raise TypeError unless ``cache`` is what the matching forward pass returned."""
    if not isinstance(cache, kind):
        raise TypeError(
            f"{op} needs the cache returned by {forward}, got {type(cache).__name__}. "
            f"Pass the second value that {forward} returned."
        )
