"""Draw what the figures of several chapters share: images, value grids and signed maps.

The chapter modules of :mod:`helpers.figures` import their common pieces from here and never
from one another, so each chapter's figures read on their own. Everything here draws onto an
``Axes`` it is handed (or checks an argument) and creates no figure itself. The conventions
it fixes hold for the whole book: images in grey without smoothing, signed values (kernels,
filter responses, gradients) red above zero and blue below around a white zero.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.image import AxesImage

__all__ = ["CHANNELS"]

CHANNELS = ("R", "G", "B")
"""The names of a colour image's channels, in the order of its last axis."""

_SIGNED_CMAP = "RdBu_r"  # diverging: red positive, blue negative, white zero


def _imshow(ax: Axes, img: np.ndarray, *, vmax: float | None = None, title: str = "") -> None:
    """Draw one image without smoothing, greyscale arrays in grey from 0 to ``vmax``.

    **Shapes:** img (H, W) greyscale or (H, W, 3) colour; ``vmax`` defaults to 255 for uint8
    and 1 for floats.
    """
    if img.ndim == 2:
        top = vmax if vmax is not None else (255 if img.dtype == np.uint8 else 1.0)
        ax.imshow(img, cmap="gray", vmin=0, vmax=top, interpolation="nearest")
    else:
        ax.imshow(img, interpolation="nearest")
    ax.set_title(title, fontsize=10)
    _hide_ticks(ax)


def _hide_ticks(ax: Axes) -> None:
    """Remove both axes' ticks: pictures and maps are read by position, not by coordinates."""
    ax.set_xticks([])
    ax.set_yticks([])


def _annotate_cells(ax: Axes, values: np.ndarray, *, top: float, fmt: str, fontsize: float) -> None:
    """Write every value in its cell, dark text on light cells and light text on dark ones.

    **Shapes:** values (H, W), drawn on a grey or sequential scale from 0 to ``top``.
    """
    for (r, c), v in np.ndenumerate(values):
        colour = "black" if v > 0.5 * top else "white"
        ax.text(c, r, format(v, fmt), ha="center", va="center", color=colour, fontsize=fontsize)


def _symmetric_limit(*arrays: np.ndarray) -> float:
    """Return the largest absolute value over the arrays (1 if they are all zero).

    **Shapes:** any; NaN entries are ignored.
    """
    top = max(float(np.nanmax(np.abs(a))) if np.size(a) else 0.0 for a in arrays)
    return top if top > 0 else 1.0


def _signed_imshow(ax: Axes, values: np.ndarray, *, limit: float | None = None) -> AxesImage:
    """Draw signed values on the diverging scale from ``-limit`` to ``limit``.

    **Shapes:** values (H, W); ``limit`` defaults to their largest absolute value.

    Returns the AxesImage, for a colour bar.
    """
    lim = _symmetric_limit(values) if limit is None else limit
    return ax.imshow(values, cmap=_SIGNED_CMAP, vmin=-lim, vmax=lim, interpolation="nearest")


def _check_2d(arr: np.ndarray, name: str) -> np.ndarray:
    """Return ``arr`` as a non-empty 2-D array of numbers, or raise ValueError / TypeError.

    **Shapes:** (H, W).
    """
    values = np.asarray(arr)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D matrix, got shape {values.shape}.")
    if values.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {values.dtype}.")
    return values
