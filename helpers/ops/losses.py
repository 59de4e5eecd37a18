"""Softmax, cross-entropy and squared error: turn class scores into probabilities and a loss.

The losses end the forward pass with a single number and start the backward pass with its
gradient. ``cross_entropy_forward`` takes the raw scores (logits) and applies the softmax
itself, in log space, so that large scores neither overflow nor lose precision; its
gradient is simply ``probabilities - targets``. Targets are integer class labels (N,) or
rows (N, K) such as one-hot vectors.
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
    _numeric_array,
)

__all__ = [
    "LossCache",
    "REDUCTIONS",
    "SoftmaxCache",
    "cross_entropy_backward",
    "cross_entropy_forward",
    "softmax",
    "softmax_backward",
    "softmax_forward",
    "squared_error_backward",
    "squared_error_forward",
]


REDUCTIONS = ("mean", "sum")
"""How a loss combines the examples of a batch: their mean or their total."""


def _scores(scores: Any, name: str = "scores") -> np.ndarray:
    """Return ``scores`` as a finite float array of shape (N, K), or explain what is wrong."""
    s = _as_float_array(scores, name)
    _check_rank(s, 2, name, "(N, K): one row of K class scores per example", " Use s[None].")
    _check_finite(s, name)
    return s


def _log_softmax(s: np.ndarray) -> np.ndarray:
    """Return the logarithm of the softmax of every row, without overflow.

    **Shapes:** ``s`` (N, K) -> (N, K).
    """
    # Subtracting the row maximum changes nothing mathematically and keeps exp() <= 1.
    shifted = s - s.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(scores: Any) -> np.ndarray:
    """Turn each row of scores into probabilities that are positive and sum to one.

    **Shapes:** ``scores`` (N, K) -> probabilities (N, K). Numerically stable: scores of
    1000 or -1000 do not overflow. Returns the probabilities.
    """
    return np.exp(_log_softmax(_scores(scores)))


class SoftmaxCache(NamedTuple):
    """The probabilities that ``softmax_backward`` needs."""

    probs: np.ndarray


def softmax_forward(scores: Any) -> tuple[np.ndarray, SoftmaxCache]:
    """Apply ``softmax`` as a layer, for losses that do not include it.

    **Shapes:** ``scores`` (N, K) -> ``probs`` (N, K). Returns ``(probs, cache)``.
    """
    probs = softmax(scores)
    return probs, SoftmaxCache(probs)


def softmax_backward(dout: Any, cache: SoftmaxCache) -> np.ndarray:
    """Multiply the gradient by the softmax Jacobian: ``p * (dout - sum(dout * p))`` per row.

    **Shapes:** ``dout`` (N, K) -> ``dscores`` (N, K). Returns ``dscores``.
    """
    _check_cache(cache, SoftmaxCache, "softmax_backward", "softmax_forward")
    p = cache.probs
    dout = _check_dout(dout, p.shape, "softmax_backward")
    return p * (dout - (dout * p).sum(axis=1, keepdims=True))


def _targets(targets: Any, n: int, k: int, *, dtype, distribution: bool) -> np.ndarray:
    """Turn class labels (N,) or target rows (N, K) into an (N, K) float array."""
    t = _numeric_array(targets, "targets")
    if t.ndim == 1:
        if t.dtype.kind not in "iu":
            raise TypeError(
                f"class labels (shape (N,)) must be integers, got dtype {t.dtype}; "
                f"for one-hot rows pass an (N, K) array."
            )
        if t.shape[0] != n:
            raise ValueError(f"got {t.shape[0]} labels for {n} rows of scores.")
        if t.min() < 0 or t.max() >= k:
            raise ValueError(
                f"class labels must lie in 0..{k - 1} for {k} classes, "
                f"got values from {t.min()} to {t.max()}."
            )
        onehot = np.zeros((n, k), dtype=dtype)
        onehot[np.arange(n), t] = 1
        return onehot
    if t.shape != (n, k):
        raise ValueError(
            f"targets must be labels of shape ({n},) or rows of shape ({n}, {k}), "
            f"got shape {t.shape}."
        )
    t = t.astype(dtype)
    _check_finite(t, "targets")
    if distribution:
        if (t < 0).any() or not np.allclose(t.sum(axis=1), 1, atol=1e-3):
            raise ValueError(
                "target rows for cross-entropy must be probabilities (>= 0, each row summing "
                "to 1), such as one-hot vectors."
            )
    return t


def _check_reduction(reduction: Any) -> str:
    """Return ``reduction`` if it is one of ``REDUCTIONS``, or raise ValueError."""
    if reduction not in REDUCTIONS:
        raise ValueError(f'reduction must be "mean" or "sum", got {reduction!r}.')
    return reduction


def _check_scalar_dout(dout: Any, op: str) -> float:
    """Return the gradient of a loss (one finite number) as a float, or raise."""
    if isinstance(dout, bool) or not isinstance(dout, int | float | np.number):
        arr = np.asarray(dout) if isinstance(dout, np.ndarray) else None
        if arr is None or arr.shape != () or arr.dtype.kind not in "iuf":
            raise TypeError(f"{op}: dout must be a number (the loss gradient, usually 1.0).")
        dout = arr.item()
    if not math.isfinite(dout):
        raise ValueError(f"{op}: dout must be finite, got {dout!r}.")
    return float(dout)


class LossCache(NamedTuple):
    """What a loss backward needs: the prediction, the target rows and how they were summed."""

    kind: str
    prediction: np.ndarray  # probabilities for cross-entropy, raw outputs for squared error
    targets: np.ndarray
    reduction: str


def cross_entropy_forward(
    scores: Any, targets: Any, *, reduction: str = "mean"
) -> tuple[float, LossCache]:
    """Compute softmax + categorical cross-entropy, ``-sum(t * log p)`` per example.

    **Shapes:** ``scores`` (N, K) raw class scores (logits); ``targets`` (N,) integer labels or
    (N, K) one-hot / probability rows -> a float: the mean over the batch (``reduction="mean"``)
    or the total (``"sum"``). The softmax is built in and computed stably in log space.
    Returns ``(loss, cache)``.
    """
    s = _scores(scores)
    reduction = _check_reduction(reduction)
    t = _targets(targets, *s.shape, dtype=s.dtype, distribution=True)
    logp = _log_softmax(s)
    total = -(t * logp).sum()
    loss = total / s.shape[0] if reduction == "mean" else total
    return float(loss), LossCache("cross_entropy", np.exp(logp), t, reduction)


def cross_entropy_backward(dout: Any, cache: LossCache) -> np.ndarray:
    """Return the gradient of the loss with respect to the scores: ``p - t`` per example.

    **Shapes:** ``dout`` a number (1.0 when the loss is the final output) -> ``dscores``
    (N, K), divided by N for ``reduction="mean"``. Returns ``dscores``.
    """
    _check_cache(cache, LossCache, "cross_entropy_backward", "cross_entropy_forward")
    if cache.kind != "cross_entropy":
        raise TypeError(f"cross_entropy_backward got the cache of {cache.kind}_forward.")
    dout = _check_scalar_dout(dout, "cross_entropy_backward")
    scale = dout / cache.prediction.shape[0] if cache.reduction == "mean" else dout
    return (cache.prediction - cache.targets) * cache.prediction.dtype.type(scale)


def squared_error_forward(
    output: Any, targets: Any, *, reduction: str = "sum"
) -> tuple[float, LossCache]:
    """Compute the sum of ½(target − output)², the classic error of early neural networks.

    **Shapes:** ``output`` (N, K) the network's outputs (scores or probabilities);
    ``targets`` (N,) integer labels (turned into one-hot rows) or (N, K) -> a float:
    the total over everything (``reduction="sum"``) or the per-example mean (``"mean"``).
    Returns ``(loss, cache)``.
    """
    o = _scores(output, "output")
    reduction = _check_reduction(reduction)
    t = _targets(targets, *o.shape, dtype=o.dtype, distribution=False)
    total = 0.5 * ((t - o) ** 2).sum()
    loss = total / o.shape[0] if reduction == "mean" else total
    return float(loss), LossCache("squared_error", o, t, reduction)


def squared_error_backward(dout: Any, cache: LossCache) -> np.ndarray:
    """Return the gradient with respect to the outputs: ``output - target``.

    **Shapes:** ``dout`` a number -> ``doutput`` (N, K), divided by N for ``reduction="mean"``.
    Returns ``doutput``.
    """
    _check_cache(cache, LossCache, "squared_error_backward", "squared_error_forward")
    if cache.kind != "squared_error":
        raise TypeError(f"squared_error_backward got the cache of {cache.kind}_forward.")
    dout = _check_scalar_dout(dout, "squared_error_backward")
    scale = dout / cache.prediction.shape[0] if cache.reduction == "mean" else dout
    return (cache.prediction - cache.targets) * cache.prediction.dtype.type(scale)
