"""Demos for chapter 5 (dense heads and softmax): scores, temperature and probabilities.

``softmax_playground_demo`` shows ``softmax_bars`` (:mod:`helpers.figures.dense_heads`)
for every preset of class scores and every temperature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from helpers.demos.static import Control, StaticDemo, static_demo
from helpers.figures.dense_heads import softmax_bars

__all__ = ["softmax_playground_demo"]


def softmax_playground_demo(
    presets: Mapping[str, Sequence[float]],
    *,
    temperatures: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0, 10.0),
    names: Sequence[str] | None = None,
    dpi: float = 80,
    max_bytes: int = 1_500_000,
) -> StaticDemo:
    """Build the softmax playground: a set of scores and a temperature that divides them.

    **Shapes:** each preset K scores; ``names`` K class labels (default 0..K-1).

    Returns a ``StaticDemo`` with one frame per (preset, temperature), drawn by
    ``softmax_bars``.
    """
    if not presets:
        raise ValueError("softmax_playground_demo needs at least one preset of scores.")
    sizes = {len(v) for v in presets.values()}
    if len(sizes) != 1:
        raise ValueError(f"every preset must have the same number of scores, got sizes {sizes}.")
    if any(not t > 0 for t in temperatures):
        raise ValueError(f"temperatures must be positive, got {list(temperatures)}.")

    def render(scores: tuple[float, ...], temperature: float) -> Figure:
        return softmax_bars(
            np.asarray(scores),
            temperature=temperature,
            names=None if names is None else list(names),
        )

    controls = {
        "scores": Control(
            "scores",
            tuple((label, tuple(float(v) for v in values)) for label, values in presets.items()),
            kind="dropdown",
            description="scores",
        ),
        "temperature": Control(
            "temperature",
            tuple((f"{t:g}", float(t)) for t in temperatures),
            kind="slider",
            description="temperature T",
        ),
    }
    return static_demo(render, controls, dpi=dpi, max_bytes=max_bytes)
