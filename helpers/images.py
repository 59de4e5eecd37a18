"""Turn pictures into the arrays a network eats: check, scale, convert, crop and resize.

Conventions used throughout the course:

* a greyscale image is an ``(H, W)`` array, a colour image an ``(H, W, C)`` array with the
  channels last (imageio, matplotlib and Pillow all hand images over this way);
* PyTorch wants the channels first: ``(C, H, W)`` for one image, ``(N, C, H, W)`` for a batch;
* files hold ``uint8`` values 0-255; networks are fed ``float32`` values in [0, 1].

Every function returns a new array and leaves its input untouched.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from PIL import Image

__all__ = [
    "LUMA_WEIGHTS",
    "check_image",
    "crop",
    "resize",
    "resize_nearest",
    "scale_to_unit",
    "square_resize",
    "to_channels_first",
    "to_channels_last",
    "to_grayscale",
    "to_uint8",
]

# ITU-R BT.601 luma weights: the eye is most sensitive to green, least to blue.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


def check_image(img: object, *, name: str = "img") -> np.ndarray:
    """Check that ``img`` is a greyscale (H, W) or colour (H, W, 3) image array.

    **Shapes:** img (H, W) or (H, W, 3), channels last.

    Returns the image as a NumPy array (the same object when it already is one). Raises a
    TypeError for a non-numeric array and a ValueError for any other shape.
    """
    arr = np.asarray(img)
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise TypeError(f"{name} must hold numbers (uint8 or float), got dtype {arr.dtype}.")
    if arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3):
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            raise ValueError(f"{name} is empty: shape {arr.shape}.")
        return arr
    if arr.ndim == 3 and arr.shape[0] == 3:
        hint = " It looks channels-first; use to_channels_last(img) first."
    elif arr.ndim == 3 and arr.shape[2] == 4:
        hint = " It has 4 channels (RGBA); drop the alpha channel with img[..., :3]."
    else:
        hint = ""
    raise ValueError(
        f"{name} must be a greyscale (H, W) or colour (H, W, 3) image, got shape {arr.shape}."
        + hint
    )


def scale_to_unit(img: np.ndarray) -> np.ndarray:
    """Scale a uint8 image (0-255) to float32 values in [0, 1].

    **Shapes:** any shape; the output has the same shape.

    Returns ``img / 255`` as float32. Only uint8 input is accepted: a float image may already
    be scaled, and dividing it again would silently darken it to almost black.
    """
    arr = np.asarray(img)
    if arr.dtype != np.uint8:
        raise TypeError(
            f"scale_to_unit expects a uint8 image (values 0-255), got dtype {arr.dtype}. "
            "If your values are already in [0, 1], they need no scaling."
        )
    return arr.astype(np.float32) / np.float32(255)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Turn a float image with values in [0, 1] back into uint8 values 0-255.

    **Shapes:** any shape; the output has the same shape.

    Returns ``round(x * 255)`` as uint8. Raises a ValueError for values outside [0, 1] (by
    more than rounding noise) instead of letting them wrap around.
    """
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"to_uint8 expects a float image in [0, 1], got dtype {arr.dtype}.")
    if arr.size and (np.nanmin(arr) < -1e-6 or np.nanmax(arr) > 1 + 1e-6 or np.isnan(arr).any()):
        raise ValueError(
            f"to_uint8 expects values in [0, 1], got values from {np.nanmin(arr):.4g} to "
            f"{np.nanmax(arr):.4g}{' and NaN' if np.isnan(arr).any() else ''}."
        )
    return np.round(np.clip(arr, 0.0, 1.0) * 255).astype(np.uint8)


def to_grayscale(img: np.ndarray, weights: tuple[float, float, float] = LUMA_WEIGHTS) -> np.ndarray:
    """Mix the R, G and B channels of a colour image into one luminance channel.

    **Shapes:** img (H, W, 3) -> (H, W).

    Computes ``R*w_r + G*w_g + B*w_b`` in float64 (a float, in the units of the input), then
    hands it back in the input's kind: a uint8 image gives a uint8 image, rounded to the
    nearest byte so that it can be shown or saved like any photo; a float image gives a float
    image. The weights must sum to 1 so that white stays white.
    """
    arr = check_image(img)
    if arr.ndim != 3:
        raise ValueError(f"to_grayscale needs a colour (H, W, 3) image, got shape {arr.shape}.")
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (3,) or not np.isclose(w.sum(), 1.0) or (w < 0).any():
        raise ValueError(f"weights must be 3 non-negative numbers summing to 1, got {weights}.")
    # Compute in float64: a weighted sum of bytes is a fraction, and uint8 sums would wrap.
    grey = arr.astype(np.float64) @ w
    if arr.dtype == np.uint8:
        return np.clip(np.round(grey), 0, 255).astype(np.uint8)
    return grey.astype(arr.dtype) if np.issubdtype(arr.dtype, np.floating) else grey


def crop(img: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    """Cut the ``height`` x ``width`` window whose top-left pixel is (top, left).

    **Shapes:** img (H, W) or (H, W, C) -> (height, width) or (height, width, C).

    Returns a copy of ``img[top:top + height, left:left + width]``. Unlike plain slicing,
    a window that runs off the image is an error, not a silently smaller crop.
    """
    arr = check_image(img)
    H, W = arr.shape[:2]
    for label, value in (("top", top), ("left", left), ("height", height), ("width", width)):
        if not isinstance(value, int | np.integer):
            raise TypeError(f"{label} must be an int, got {type(value).__name__}.")
    if height < 1 or width < 1:
        raise ValueError(f"height and width must be at least 1, got {height} x {width}.")
    if top < 0 or left < 0 or top + height > H or left + width > W:
        raise ValueError(
            f"the window rows {top}..{top + height - 1}, columns {left}..{left + width - 1} "
            f"does not fit in an image of {H} rows and {W} columns."
        )
    return arr[top : top + height, left : left + width].copy()


def to_channels_first(x: np.ndarray) -> np.ndarray:
    """Move the channel axis to the front, PyTorch-style.

    **Shapes:** (H, W, C) -> (C, H, W); (N, H, W, C) -> (N, C, H, W); a greyscale
    (H, W) image, which has one channel but no axis for it, -> (1, H, W).

    Returns a contiguous copy, so the result does not share memory with ``x``.
    """
    arr = np.asarray(x)
    if arr.ndim == 2:
        # A network still wants a channel axis: one channel, in front.
        return np.ascontiguousarray(arr[np.newaxis])
    if arr.ndim not in (3, 4):
        raise ValueError(
            f"expected (H, W), (H, W, C) or (N, H, W, C), got {arr.ndim} axes {arr.shape}."
        )
    return np.ascontiguousarray(np.moveaxis(arr, -1, -3))


def to_channels_last(x: np.ndarray) -> np.ndarray:
    """Move the channel axis to the back, the way imageio and matplotlib want it.

    **Shapes:** (C, H, W) -> (H, W, C); (N, C, H, W) -> (N, H, W, C).

    Returns a contiguous copy.
    """
    arr = np.asarray(x)
    if arr.ndim not in (3, 4):
        raise ValueError(f"expected (C, H, W) or (N, C, H, W), got {arr.ndim} axes {arr.shape}.")
    return np.ascontiguousarray(np.moveaxis(arr, -3, -1))


def resize(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resample an image to ``height`` x ``width`` pixels with (antialiased) bilinear filtering.

    **Shapes:** img (H, W) or (H, W, 3) -> (height, width) or (height, width, 3).

    Returns an array of the input's dtype. Each new pixel is a weighted average of the old
    pixels around its position; when shrinking, Pillow widens the average so that fine
    detail blurs instead of turning into jagged noise (aliasing).
    """
    arr = check_image(img)
    if not (isinstance(height, int | np.integer) and isinstance(width, int | np.integer)):
        raise TypeError("height and width must be ints.")
    if height < 1 or width < 1:
        raise ValueError(f"height and width must be at least 1, got {height} x {width}.")
    if arr.dtype == np.uint8:
        out = Image.fromarray(arr).resize((width, height), Image.Resampling.BILINEAR)
        return np.asarray(out).copy()
    # Pillow resamples float images one 32-bit channel at a time (mode "F").
    planes = arr[..., None] if arr.ndim == 2 else arr
    resized = [
        np.asarray(
            Image.fromarray(planes[..., c].astype(np.float32), mode="F").resize(
                (width, height), Image.Resampling.BILINEAR
            )
        )
        for c in range(planes.shape[2])
    ]
    out = np.stack(resized, axis=-1)
    out = out[..., 0] if arr.ndim == 2 else out
    return out.astype(arr.dtype) if np.issubdtype(arr.dtype, np.floating) else out


def resize_nearest(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize an image by copying, for each new pixel, the old pixel nearest to its centre.

    **Shapes:** img (H, W) or (H, W, C) -> (height, width) or (height, width, C).

    New row ``i`` covers old rows ``i * H / height`` to ``(i + 1) * H / height``; its centre,
    ``(i + 0.5) * H / height``, lies in old row ``floor((i + 0.5) * H / height)``, and the
    same for columns. No value is computed, only copied: the result has the input's dtype
    and values, and is a new array.
    """
    arr = np.asarray(img)
    if arr.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {arr.shape}.")
    if not (isinstance(height, int | np.integer) and isinstance(width, int | np.integer)):
        raise TypeError("height and width must be ints.")
    if height < 1 or width < 1:
        raise ValueError(f"height and width must be at least 1, got {height} x {width}.")
    H, W = arr.shape[:2]
    # Multiplying before dividing keeps a centre that falls exactly on the border of two
    # old pixels exact, so the floor (astype(int) for values >= 0) never goes the wrong way.
    rows = ((np.arange(height) + 0.5) * H / height).astype(int)
    cols = ((np.arange(width) + 0.5) * W / width).astype(int)
    # rows[:, None] against cols picks a (height, width) grid; a channel axis rides along.
    return arr[rows[:, None], cols]


def square_resize(
    img: np.ndarray,
    size: int,
    *,
    mode: Literal["crop", "pad"] = "crop",
    fill: float | tuple[float, ...] | None = None,
) -> np.ndarray:
    """Make an image square, then resize it to ``size`` x ``size`` for a network input.

    **Shapes:** img (H, W) or (H, W, 3) -> (size, size) or (size, size, 3).

    ``mode="crop"`` keeps the central square (the edges of the longer side are lost);
    ``mode="pad"`` keeps everything and adds bands of ``fill`` to the shorter side (by
    default the colour of the top-left pixel, which is the background of most photos).
    Returns an array of the input's dtype; the aspect ratio of objects is never distorted.
    """
    arr = check_image(img)
    if not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}.")
    H, W = arr.shape[:2]
    if mode == "crop":
        side = min(H, W)
        square = arr[
            (H - side) // 2 : (H - side) // 2 + side, (W - side) // 2 : (W - side) // 2 + side
        ]
    elif mode == "pad":
        side = max(H, W)
        value = arr[0, 0] if fill is None else np.asarray(fill, dtype=arr.dtype)
        square = np.empty((side, side) + arr.shape[2:], dtype=arr.dtype)
        square[...] = value
        top, left = (side - H) // 2, (side - W) // 2
        square[top : top + H, left : left + W] = arr
    else:
        raise ValueError(f'mode must be "crop" or "pad", got {mode!r}.')
    return resize(square, size, size)
