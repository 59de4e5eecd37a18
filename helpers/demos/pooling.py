"""Demos for chapter 4 (pooling): kinds of pooling, windows, strides and a shifted input.

``pooling_explorer_demo`` shows ``pooling_explorer`` (:mod:`helpers.figures.pooling`) for
every kind of pooling, window in ``POOL_WINDOWS`` and shift of the input.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from helpers.demos.static import Control, StaticDemo, static_demo
from helpers.figures.pooling import pooling_explorer

__all__ = ["POOL_WINDOWS", "pooling_explorer_demo"]


POOL_WINDOWS = (
    ("2x2, stride 2", (2, 2)),
    ("3x3, stride 3", (3, 3)),
    ("3x3, stride 2 (overlap)", (3, 2)),
    ("2x2, stride 3 (skips)", (2, 3)),
)
"""The explorer's windows as (label, (size, stride)): the usual, overlapping and skipping."""


def pooling_explorer_demo(
    img: np.ndarray,
    *,
    top: int,
    left: int,
    crop: int = 12,
    windows: Sequence[tuple[str, tuple[int, int]]] = POOL_WINDOWS,
    shifts: Sequence[int] = (0, 1, 2),
    dpi: float = 80,
    max_bytes: int = 1_500_000,
) -> StaticDemo:
    """Build the pooling explorer: kind of pooling, window and stride, and a shift of the input.

    **Shapes:** img (H, W) uint8; the ``crop`` x ``crop`` window at (top, left) is pooled.

    ``windows`` holds (label, (size, stride)) pairs. Returns a ``StaticDemo`` with one frame
    per combination (3 kinds x windows x shifts), drawn by ``pooling_explorer``.
    """

    def render(kind: str, window: tuple[int, int], shift: int) -> Figure:
        size, stride = window
        return pooling_explorer(
            img, kind=kind, size=size, stride=stride, shift=shift, top=top, left=left, crop=crop
        )

    controls = {
        "kind": Control(
            "kind",
            (("max", "max"), ("average", "avg"), ("sum", "sum")),
            kind="toggle",
            description="pooling",
        ),
        "window": Control("window", tuple(windows), kind="dropdown", description="window"),
        "shift": Control(
            "shift",
            tuple((f"{s} px", int(s)) for s in shifts),
            kind="toggle",
            description="move right",
        ),
    }
    return static_demo(render, controls, dpi=dpi, max_bytes=max_bytes)
