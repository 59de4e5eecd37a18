"""Demos for chapter 6 (backpropagation and training): gradient steps on one example.

``backprop_stepper`` plays through the steps of a short training run, one frame of
``backprop_step`` (:mod:`helpers.figures.backprop`) per step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from helpers.demos.static import Control, StaticDemo, static_demo
from helpers.figures.backprop import backprop_step

__all__ = ["backprop_stepper"]


def backprop_stepper(
    probs: np.ndarray,
    losses: Sequence[float],
    target: Sequence[float],
    classes: Sequence[str],
    *,
    dpi: float = 80,
    play_interval: int = 450,
) -> StaticDemo:
    """Build the backprop stepper: one gradient step per slider position, with a Play button.

    **Shapes:** ``probs`` (T + 1, K) the class probabilities before training and after each
    of T steps, ``losses`` (T + 1,), ``target`` (K,) one-hot, ``classes`` K names; at most
    60 positions (T + 1 <= 60) so the page stays light.

    Returns a ``StaticDemo`` whose single control, ``step``, shows
    ``backprop_step(..., step=s)`` for every s from 0 to T.
    """
    p = np.asarray(probs, dtype=float)
    if p.ndim != 2 or not 2 <= p.shape[0] <= 60:
        raise ValueError(
            f"probs must be (T + 1, K) with 2 to 60 rows (one per step), got shape {p.shape}."
        )
    if not np.all(np.isfinite(p)) or np.any(p < 0) or not np.allclose(p.sum(axis=1), 1, atol=1e-6):
        raise ValueError("every row of probs must hold probabilities that sum to one.")
    steps = Control(
        name="step",
        options=tuple((str(s), s) for s in range(p.shape[0])),
        kind="slider",
        play=True,
        description="gradient step",
    )

    def render(step: int) -> Figure:
        return backprop_step(p, losses, target, classes, step=step)

    return static_demo(render, {"step": steps}, dpi=dpi, play_interval=play_interval)
