"""Pad images with a border of zeros or of copied edge pixels, and send gradients back through it.

``pad2d`` is the public function (one picture or a batch). The two private helpers are what
the convolution uses: ``_pad_last_two`` pads the height and width of any array, and
``_unpad_grad`` undoes it for a gradient, adding what reached the copied border pixels back
onto the edge pixels they were copied from.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from helpers.ops.checks import _as_int, _check_padding_mode, _numeric_array, _pair

__all__ = ["pad2d"]


def _pad_last_two(
    x: np.ndarray, top: int, bottom: int, left: int, right: int, mode: str
) -> np.ndarray:
    """Pad the last two axes of ``x`` into a new array (zeros or a copy of the border).

    **Shapes:** (..., H, W) -> (..., H + top + bottom, W + left + right), same dtype.
    """
    h, w = x.shape[-2:]
    out = np.zeros(x.shape[:-2] + (h + top + bottom, w + left + right), dtype=x.dtype)
    out[..., top : top + h, left : left + w] = x
    if mode == "replicate":
        out[..., :top, left : left + w] = x[..., :1, :]
        out[..., top + h :, left : left + w] = x[..., -1:, :]
        # Columns second, over the full height, so that the corners copy the corner pixel.
        out[..., :, :left] = out[..., :, left : left + 1]
        out[..., :, left + w :] = out[..., :, left + w - 1 : left + w]
    return out


def _unpad_grad(
    g: np.ndarray, top: int, bottom: int, left: int, right: int, mode: str
) -> np.ndarray:
    """Undo ``_pad_last_two`` for a gradient: border copies send their gradient home.

    **Shapes:** (..., Hp, Wp) -> (..., Hp - top - bottom, Wp - left - right), a view when
    ``mode`` is "zeros".
    """
    h = g.shape[-2] - top - bottom
    w = g.shape[-1] - left - right
    if mode == "replicate":
        g = g.copy()
        g[..., :, left] += g[..., :, :left].sum(axis=-1)
        g[..., :, left + w - 1] += g[..., :, left + w :].sum(axis=-1)
        g[..., top, left : left + w] += g[..., :top, left : left + w].sum(axis=-2)
        g[..., top + h - 1, left : left + w] += g[..., top + h :, left : left + w].sum(axis=-2)
    return g[..., top : top + h, left : left + w]


def _read_pad_widths(padding: Any) -> tuple[int, int, int, int]:
    """Turn ``pad2d``'s padding option into (top, bottom, left, right)."""
    if isinstance(padding, tuple | list) and len(padding) == 4:
        top, bottom, left, right = (_as_int(p, "padding") for p in padding)
        if min(top, bottom, left, right) < 0:
            raise ValueError(f"padding widths must be 0 or more, got {padding!r}.")
        return (top, bottom, left, right)
    if isinstance(padding, str):
        raise ValueError(
            "pad2d needs explicit widths (an int, (ph, pw) or (top, bottom, left, right)); "
            '"valid" and "same" only make sense together with a kernel size.'
        )
    ph, pw = _pair(padding, "padding", minimum=0)
    return (ph, ph, pw, pw)


def pad2d(x: Any, *, padding: Any, mode: str = "zeros") -> np.ndarray:
    """Pad an image, or a batch of images, around its height and width.

    **Shapes:** ``x`` is (H, W) greyscale, (H, W, C) colour (channels last, as imageio and
    matplotlib hold pictures) or (N, C, H, W) a batch; the result has the same layout with
    H + top + bottom rows and W + left + right columns.

    ``padding`` is an int (all four sides), ``(ph, pw)`` or ``(top, bottom, left, right)``.
    ``mode="zeros"`` surrounds the image with black pixels; ``mode="replicate"`` duplicates
    the border pixels outwards. Returns a new array; ``x`` is left untouched.
    """
    # No arithmetic happens, so a uint8 picture stays uint8.
    arr = _numeric_array(x, "x")
    if arr.ndim not in (2, 3, 4):
        raise ValueError(
            f"pad2d expects an (H, W), (H, W, C) or (N, C, H, W) array, got shape {arr.shape}."
        )
    if arr.size == 0:
        raise ValueError(f"x is empty (shape {arr.shape}); there is nothing to pad.")
    top, bottom, left, right = _read_pad_widths(padding)
    mode = _check_padding_mode(mode)
    if arr.ndim == 3:  # (H, W, C): move channels first, pad, move them back
        padded = _pad_last_two(np.moveaxis(arr, -1, 0), top, bottom, left, right, mode)
        return np.ascontiguousarray(np.moveaxis(padded, 0, -1))
    return _pad_last_two(arr, top, bottom, left, right, mode)
