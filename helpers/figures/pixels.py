"""Figures for chapters 0 and 1 (why CNNs, pixels as arrays): images, channels, pixel grids.

A picture is a grid of numbers; these figures show the numbers. ``image_row`` and
``show_channels`` compare pictures and their colour channels, ``pixel_matrix`` and
``pixel_inspector`` print pixel values in their cells, ``raw_vs_scaled`` sets uint8 0-255
beside float 0-1, and ``magnitude_row`` / ``image_and_map`` show first feature maps.

Like every figure function in :mod:`helpers.figures`, each is pure: it builds its own
``matplotlib.figure.Figure`` (no pyplot state) and returns it, so figures never pile up,
never pop up on their own, and can be rendered many times over for a demo.
Colours: images in grey (0 black, 255 white), magnitudes in viridis; highlights in black and
white so they read for every kind of colour vision.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from helpers.figures.common import CHANNELS, _annotate_cells, _hide_ticks, _imshow
from helpers.images import check_image, to_grayscale

__all__ = [
    "image_and_map",
    "image_row",
    "magnitude_row",
    "pixel_inspector",
    "pixel_matrix",
    "raw_vs_scaled",
    "show_channels",
]


def image_row(
    images: Mapping[str, np.ndarray],
    *,
    height: float = 2.6,
    suptitle: str | None = None,
    shapes: bool = True,
) -> Figure:
    """Show several images side by side, each titled with its name, shape and dtype.

    **Shapes:** each image (H, W) or (H, W, 3); sizes may differ.

    Returns a Figure with one panel per image, pixels drawn as crisp squares. With
    ``shapes=False`` the titles hold the names only (a long row of small panels has no room
    for the shape line).
    """
    if not images:
        raise ValueError("image_row needs at least one image.")
    fig = Figure(figsize=(height * len(images), height + 0.5), layout="constrained")
    axes = fig.subplots(1, len(images), squeeze=False)[0]
    for ax, (name, img) in zip(axes, images.items(), strict=True):
        arr = check_image(img, name=name)
        _imshow(ax, arr, title=f"{name}\n{arr.shape} {arr.dtype}" if shapes else name)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def show_channels(img: np.ndarray) -> Figure:
    """Split a colour image into its R, G and B matrices, each drawn in grey.

    **Shapes:** img (H, W, 3) uint8 or float in [0, 1].

    Returns a Figure: the colour picture, then one greyscale panel per channel, all on the
    same 0-to-max scale so brightness can be compared across channels.
    """
    arr = check_image(img)
    if arr.ndim != 3:
        raise ValueError(f"show_channels needs a colour (H, W, 3) image, got shape {arr.shape}.")
    fig = Figure(figsize=(10, 2.9), layout="constrained")
    axes = fig.subplots(1, 4)
    _imshow(axes[0], arr, title=f"colour {arr.shape}")
    for c, name in enumerate(CHANNELS):
        _imshow(axes[c + 1], arr[:, :, c], title=f"{name} = img[:, :, {c}]  {arr[:, :, c].shape}")
    return fig


def pixel_matrix(img: np.ndarray, *, title: str = "", fontsize: float = 6.5) -> Figure:
    """Draw a small greyscale image as a grid of cells with each value printed in its cell.

    **Shapes:** img (H, W), at most 40 x 40 so the numbers stay readable.

    Returns a Figure whose axes are labelled with row and column indices.
    """
    arr = check_image(img)
    if arr.ndim != 2 or max(arr.shape) > 40:
        raise ValueError(
            f"pixel_matrix needs a greyscale image of at most 40 x 40, got {arr.shape}."
        )
    top = 255 if arr.dtype == np.uint8 else 1.0
    side = 0.3 * max(arr.shape)
    fig = Figure(figsize=(side, side * arr.shape[0] / arr.shape[1] + 0.4), layout="constrained")
    ax = fig.subplots()
    ax.imshow(arr, cmap="gray", vmin=0, vmax=top, interpolation="nearest")
    fmt = "d" if np.issubdtype(arr.dtype, np.integer) else ".2f"
    _annotate_cells(ax, arr, top=top, fmt=fmt, fontsize=fontsize)
    ax.set_xticks(range(0, arr.shape[1], 4))
    ax.set_yticks(range(0, arr.shape[0], 4))
    ax.set_xlabel("column index")
    ax.set_ylabel("row index")
    ax.set_title(title)
    return fig


def raw_vs_scaled(img: np.ndarray, scaled: np.ndarray) -> Figure:
    """Show the same picture stored as uint8 0-255 and as float 0-1, with the value scales.

    **Shapes:** img (H, W) uint8 and scaled (H, W) float, the same picture.

    Returns a Figure with the two images, their colour bars and a histogram of each, so the
    only visible difference is the numbers on the axes.
    """
    raw_arr, unit_arr = check_image(img, name="img"), check_image(scaled, name="scaled")
    if raw_arr.ndim != 2 or raw_arr.shape != unit_arr.shape:
        raise ValueError(
            f"raw_vs_scaled needs two greyscale images of one shape, got {raw_arr.shape} "
            f"and {unit_arr.shape}."
        )
    fig = Figure(figsize=(9, 5.2), layout="constrained")
    axes = fig.subplots(2, 2, height_ratios=[3, 1.3])
    for col, (arr, top, label) in enumerate(
        [
            (raw_arr, 255, f"raw: {raw_arr.dtype}, 0 to 255"),
            (unit_arr, 1.0, f"scaled: {unit_arr.dtype}, 0 to 1"),
        ]
    ):
        im = axes[0, col].imshow(arr, cmap="gray", vmin=0, vmax=top, interpolation="nearest")
        axes[0, col].set_title(label, fontsize=10)
        _hide_ticks(axes[0, col])
        fig.colorbar(im, ax=axes[0, col], shrink=0.9)
        # Log counts: the background's huge spike at 0 would flatten every other bar.
        axes[1, col].hist(arr.ravel(), bins=32, range=(0, top), color="#440154", log=True)
        axes[1, col].set_xlabel("pixel value")
        axes[1, col].set_ylabel("pixels (log scale)")
    return fig


def pixel_inspector(
    img: np.ndarray,
    *,
    top: int,
    left: int,
    channel: str,
    scaled: bool,
    size: int = 8,
) -> Figure:
    """Zoom into a ``size`` x ``size`` window of one channel and print its values.

    **Shapes:** img (H, W, 3) uint8; the window must fit inside it.

    ``channel`` is "R", "G", "B" or "grey" (luminance); ``scaled`` divides the values by 255.
    Returns a Figure: the whole channel with the window outlined, and the window enlarged
    with every pixel's value written in it.
    """
    arr = check_image(img)
    if arr.ndim != 3 or arr.dtype != np.uint8:
        raise ValueError(
            f"pixel_inspector needs a uint8 (H, W, 3) image, got {arr.shape} {arr.dtype}."
        )
    if channel == "grey":
        plane = to_grayscale(arr)
        label = "grey = 0.299 R + 0.587 G + 0.114 B"
    elif channel in CHANNELS:
        plane = arr[:, :, CHANNELS.index(channel)]
        label = f"{channel} channel = img[:, :, {CHANNELS.index(channel)}]"
    else:
        raise ValueError(f'channel must be one of "R", "G", "B", "grey", got {channel!r}.')
    H, W = plane.shape
    if not (0 <= top <= H - size and 0 <= left <= W - size):
        raise ValueError(f"a {size} x {size} window at ({top}, {left}) does not fit in {H} x {W}.")
    window = plane[top : top + size, left : left + size]
    values = window / 255 if scaled else window
    vmax = 1.0 if scaled else 255

    fig = Figure(figsize=(7.2, 3.5), layout="constrained")
    ax_all, ax_zoom = fig.subplots(1, 2, width_ratios=[1, 1.15])
    _imshow(ax_all, plane, vmax=255, title=label)
    # Black outside, white inside: the outline stays visible on dark and light pixels alike.
    for colour, width in (("black", 3.5), ("white", 1.5)):
        ax_all.add_patch(
            Rectangle((left - 0.5, top - 0.5), size, size, fill=False, ec=colour, lw=width)
        )
    ax_zoom.imshow(values, cmap="gray", vmin=0, vmax=vmax, interpolation="nearest")
    _annotate_cells(ax_zoom, values, top=vmax, fmt=".2f" if scaled else "d", fontsize=8)
    ax_zoom.set_xticks(range(size), [str(left + i) for i in range(size)], fontsize=7)
    ax_zoom.set_yticks(range(size), [str(top + i) for i in range(size)], fontsize=7)
    ax_zoom.set_xlabel("column")
    ax_zoom.set_ylabel("row")
    kind = "float, value / 255" if scaled else "uint8, 0 to 255"
    ax_zoom.set_title(f"rows {top}:{top + size}, columns {left}:{left + size} ({kind})", fontsize=9)
    return fig


def magnitude_row(
    maps: Mapping[str, np.ndarray], *, height: float = 2.6, suptitle: str | None = None
) -> Figure:
    """Show feature maps (signed magnitudes) side by side on one shared viridis scale.

    **Shapes:** each map (H, W); sizes may differ.

    Returns a Figure with one panel per map and a single colour bar, so equal colours mean
    equal values in every panel.
    """
    if not maps:
        raise ValueError("magnitude_row needs at least one map.")
    arrays = {name: np.asarray(m, dtype=float) for name, m in maps.items()}
    for name, arr in arrays.items():
        if arr.ndim != 2:
            raise ValueError(f"map {name!r} must be 2-D (H, W), got shape {arr.shape}.")
    lo = min(float(a.min()) for a in arrays.values())
    hi = max(float(a.max()) for a in arrays.values())
    fig = Figure(figsize=(height * len(arrays) + 0.8, height + 0.5), layout="constrained")
    axes = fig.subplots(1, len(arrays), squeeze=False)[0]
    for ax, (name, arr) in zip(axes, arrays.items(), strict=True):
        im = ax.imshow(arr, cmap="viridis", vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(f"{name}\n{arr.shape}", fontsize=10)
        _hide_ticks(ax)
    fig.colorbar(im, ax=list(axes), shrink=0.85)
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def image_and_map(
    img: np.ndarray, fmap: np.ndarray, *, image_title: str = "input", map_title: str = "feature map"
) -> Figure:
    """Show a greyscale input beside a feature map computed from it.

    **Shapes:** img (H, W); fmap (OH, OW), usually a little smaller.

    Returns a Figure: the input in grey on its own 0-to-max scale, the map in viridis with its
    colour bar, so that signed filter responses stay readable next to the picture.
    """
    arr = check_image(img, name="img")
    values = np.asarray(fmap, dtype=float)
    if arr.ndim != 2 or values.ndim != 2:
        raise ValueError(
            f"image_and_map needs a greyscale image and a 2-D map, got {arr.shape} and "
            f"{values.shape}."
        )
    fig = Figure(figsize=(6.4, 3.0), layout="constrained")
    ax_img, ax_map = fig.subplots(1, 2)
    _imshow(ax_img, arr, title=f"{image_title}\n{arr.shape}")
    im = ax_map.imshow(values, cmap="viridis", interpolation="nearest")
    ax_map.set_title(f"{map_title}\n{values.shape}", fontsize=10)
    _hide_ticks(ax_map)
    fig.colorbar(im, ax=ax_map, shrink=0.85)
    return fig
