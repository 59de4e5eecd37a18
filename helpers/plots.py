"""Figures for the book and the demos: pure functions that take arrays and return a Figure.

Nothing here touches pyplot's global state: every function builds its own
``matplotlib.figure.Figure``, so figures never pile up in memory, never pop up on their own,
and can be rendered many times over for a widget demo. In a notebook, a returned figure
displays itself when it is the last expression of a cell.

Colours: images in grey (0 black, 255 white, as a screen shows one channel), magnitudes in
viridis; highlights are drawn black-and-white so they read for every kind of colour vision.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from helpers.images import check_image, to_grayscale

__all__ = [
    "CHANNELS",
    "image_and_map",
    "image_row",
    "magnitude_row",
    "pixel_inspector",
    "pixel_matrix",
    "raw_vs_scaled",
    "show_channels",
]

CHANNELS = ("R", "G", "B")


def _imshow(ax: Axes, img: np.ndarray, *, vmax: float | None = None, title: str = "") -> None:
    """Draw one image without smoothing, greyscale arrays in grey from 0 to ``vmax``."""
    if img.ndim == 2:
        top = vmax if vmax is not None else (255 if img.dtype == np.uint8 else 1.0)
        ax.imshow(img, cmap="gray", vmin=0, vmax=top, interpolation="nearest")
    else:
        ax.imshow(img, interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])


def _annotate_cells(ax: Axes, values: np.ndarray, *, top: float, fmt: str, fontsize: float) -> None:
    """Write every value in its cell, dark text on light cells and light text on dark ones."""
    rows, cols = np.indices(values.shape)
    for r, c, v in zip(rows.ravel(), cols.ravel(), values.ravel(), strict=True):
        colour = "black" if v > 0.5 * top else "white"
        ax.text(c, r, format(v, fmt), ha="center", va="center", color=colour, fontsize=fontsize)


def image_row(
    images: Mapping[str, np.ndarray], *, height: float = 2.6, suptitle: str | None = None
) -> Figure:
    """Show several images side by side, each titled with its name, shape and dtype.

    **Shapes:** each image (H, W) or (H, W, 3); sizes may differ.

    Returns a Figure with one panel per image, pixels drawn as crisp squares.
    """
    if not images:
        raise ValueError("image_row needs at least one image.")
    fig = Figure(figsize=(height * len(images), height + 0.5), layout="constrained")
    axes = fig.subplots(1, len(images), squeeze=False)[0]
    for ax, (name, img) in zip(axes, images.items(), strict=True):
        arr = check_image(img, name=name)
        _imshow(ax, arr, title=f"{name}\n{arr.shape} {arr.dtype}")
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
        axes[0, col].set_xticks([])
        axes[0, col].set_yticks([])
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
        ax.set_xticks([])
        ax.set_yticks([])
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
    ax_map.set_xticks([])
    ax_map.set_yticks([])
    fig.colorbar(im, ax=ax_map, shrink=0.85)
    return fig


# --- Chapter 2: Kernels and convolution ---

from fractions import Fraction  # noqa: E402

from helpers import ops as _ops  # noqa: E402


def _weight_label(value: float) -> str:
    """Write a kernel weight the way it is usually printed: 2, -1, 1/9, 1/16."""
    v = float(value)
    if v.is_integer():
        return str(int(v))
    exact = Fraction(v).limit_denominator(256)
    if abs(float(exact) - v) < 1e-9 and exact.denominator <= 64:
        return str(exact)
    return f"{v:.2f}"


def _value_label(value: float) -> str:
    """Write a pixel, product or map value compactly: whole numbers without decimals."""
    v = float(value)
    if np.isnan(v):
        return "?"
    if v.is_integer():
        return str(int(v))
    return f"{v:.0f}" if abs(v) >= 10 else f"{v:.2f}"


def _symmetric_limit(*arrays: np.ndarray) -> float:
    """Return the largest absolute value over the arrays (1 if they are all zero)."""
    top = max(float(np.nanmax(np.abs(a))) if np.size(a) else 0.0 for a in arrays)
    return top if top > 0 else 1.0


def _cell_grid(
    ax: Axes,
    values: np.ndarray,
    *,
    signed: bool,
    limit: float | None = None,
    labels: np.ndarray | None = None,
    fontsize: float = 9,
    title: str = "",
):
    """Draw a small matrix as cells with thin borders and each value written in its cell.

    Signed matrices (kernels, products, feature maps) use a diverging map centred on zero;
    unsigned ones (pixels) use grey from 0 to ``limit``. Returns the AxesImage.
    """
    arr = np.asarray(values, dtype=float)
    if signed:
        lim = limit if limit is not None else _symmetric_limit(arr)
        im = ax.imshow(arr, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    else:
        lim = limit if limit is not None else (255.0 if np.nanmax(arr) > 1 else 1.0)
        im = ax.imshow(arr, cmap="gray", vmin=0, vmax=lim, interpolation="nearest")
    rows, cols = np.indices(arr.shape)
    for r, c in zip(rows.ravel(), cols.ravel(), strict=True):
        v = arr[r, c]
        if signed:
            colour = "white" if abs(v) > 0.6 * lim else "black"
        else:
            colour = "black" if (np.isnan(v) or v > 0.5 * lim) else "white"
        text = labels[r, c] if labels is not None else _value_label(v)
        ax.text(c, r, text, ha="center", va="center", color=colour, fontsize=fontsize)
    # Cell borders as two line collections: much faster to lay out than minor-tick grids.
    h, w = arr.shape
    ax.hlines(np.arange(-0.5, h), -0.5, w - 0.5, color="0.6", linewidth=0.6)
    ax.vlines(np.arange(-0.5, w), -0.5, h - 0.5, color="0.6", linewidth=0.6)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)
    return im


def _kernel_labels(kernel: np.ndarray) -> np.ndarray:
    return np.vectorize(_weight_label, otypes=[object])(kernel)


def _check_2d(arr: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(arr)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D matrix, got shape {values.shape}.")
    if values.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {values.dtype}.")
    return values


def _shows_as_picture(kernel: np.ndarray) -> bool:
    """Tell whether a kernel keeps brightness (weights sum to 1), so its map reads as a picture."""
    return bool(abs(float(np.sum(kernel)) - 1.0) < 1e-6)


def kernel_grids(
    kernels: Mapping[str, np.ndarray], *, size: float = 1.9, columns: int | None = None
) -> Figure:
    """Print several kernels as small coloured matrices, one panel each.

    **Shapes:** each kernel (KH, KW); sizes may differ.

    Returns a Figure with ``columns`` panels per row (all in one row by default); positive
    weights are red, negative blue, zero white, and each panel's title gives the sum of the
    weights (1 keeps brightness, 0 removes flat areas).
    """
    if not kernels:
        raise ValueError("kernel_grids needs at least one kernel.")
    arrays = {name: _check_2d(k, f"kernel {name!r}").astype(float) for name, k in kernels.items()}
    ncols = len(arrays) if columns is None else int(columns)
    if ncols < 1:
        raise ValueError(f"columns must be at least 1, got {columns}.")
    nrows = -(-len(arrays) // ncols)
    fig = Figure(figsize=(size * ncols, (size + 0.45) * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[len(arrays) :]:
        ax.set_axis_off()
    for ax, (name, k) in zip(axes, arrays.items(), strict=False):
        _cell_grid(
            ax,
            k,
            signed=True,
            labels=_kernel_labels(k),
            fontsize=8 if max(k.shape) > 3 else 10,
            title=f"{name}\nsum = {_weight_label(round(float(k.sum()), 9))}",
        )
    return fig


def window_products(patch: np.ndarray, kernel: np.ndarray, *, bias: float = 0.0) -> Figure:
    """Show one output value being computed: patch, kernel, their element-wise products.

    **Shapes:** patch (KH, KW) of pixel values, kernel (KH, KW).

    Returns a Figure with the three matrices and, as its title, the sum of the products plus
    the bias: the value the feature map gets at this position.
    """
    p = _check_2d(patch, "patch").astype(float)
    k = _check_2d(kernel, "kernel").astype(float)
    if p.shape != k.shape:
        raise ValueError(f"patch {p.shape} and kernel {k.shape} must have the same shape.")
    products = p * k
    total = float(products.sum()) + float(bias)
    fig = Figure(figsize=(7.6, 2.9), layout="constrained")
    axes = fig.subplots(1, 3)
    _cell_grid(axes[0], p, signed=False, title="image patch")
    _cell_grid(axes[1], k, signed=True, labels=_kernel_labels(k), title="kernel")
    _cell_grid(axes[2], products, signed=True, title="patch × kernel (element-wise)")
    extra = f" + bias {_value_label(bias)}" if bias else ""
    fig.suptitle(f"sum of the products{extra} = {_value_label(total)}", fontsize=11)
    return fig


def convolution_step(
    image: np.ndarray, kernel: np.ndarray, *, step: int, bias: float = 0.0
) -> Figure:
    """Freeze a valid cross-correlation at one window position, as if worked by hand.

    **Shapes:** image (H, W) small enough to print (at most 12 x 12), kernel (KH, KW);
    the feature map is (H - KH + 1, W - KW + 1) and ``step`` counts its cells row by row.

    Returns a Figure: the image with the current window outlined, the kernel, the
    element-wise products with their running sum, and the feature map filled in up to this
    step (later cells show "?").
    """
    img = _check_2d(image, "image").astype(float)
    k = _check_2d(kernel, "kernel").astype(float)
    if max(img.shape) > 12:
        raise ValueError(
            f"convolution_step prints every pixel; use at most 12 x 12, got {img.shape}."
        )
    fmap = _ops.correlate2d(img, k) + float(bias)
    oh, ow = fmap.shape
    if isinstance(step, bool) or not isinstance(step, int | np.integer):
        raise TypeError(f"step must be an int, got {step!r}.")
    if not 0 <= step < oh * ow:
        raise ValueError(
            f"step must be between 0 and {oh * ow - 1} for a {oh}x{ow} map, got {step}."
        )
    r, c = divmod(int(step), ow)
    kh, kw = k.shape
    patch = img[r : r + kh, c : c + kw]
    products = patch * k
    shown = np.full(fmap.shape, np.nan)
    shown.flat[: step + 1] = fmap.flat[: step + 1]

    fig = Figure(figsize=(10.4, 3.4), layout="constrained")
    axes = fig.subplots(1, 4, width_ratios=[img.shape[1], kw, kw, ow])
    _cell_grid(axes[0], img, signed=False, title=f"image {img.shape}")
    for colour, width in (("black", 4), ("#ffb000", 2.2)):
        axes[0].add_patch(
            Rectangle((c - 0.5, r - 0.5), kw, kh, fill=False, ec=colour, lw=width, clip_on=False)
        )
    _cell_grid(axes[1], k, signed=True, labels=_kernel_labels(k), title="kernel")
    _cell_grid(
        axes[2],
        products,
        signed=True,
        limit=_symmetric_limit(img) * _symmetric_limit(k),
        title="products",
    )
    lim = _symmetric_limit(fmap)
    _cell_grid(axes[3], shown, signed=True, limit=lim, title=f"feature map {fmap.shape}")
    for colour, width in (("black", 4), ("#ffb000", 2.2)):
        axes[3].add_patch(
            Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, ec=colour, lw=width, clip_on=False)
        )
    running = np.cumsum(products.ravel())
    terms = " + ".join(_value_label(v) for v in products.ravel())
    extra = f" + bias {_value_label(bias)}" if bias else ""
    fig.suptitle(
        f"window at row {r}, column {c}:  {terms}{extra} = {_value_label(fmap[r, c])}\n"
        f"running sum: {' → '.join(_value_label(v) for v in running)}",
        fontsize=10,
    )
    return fig


def _draw_feature_map(fig: Figure, ax: Axes, fmap: np.ndarray, kernel: np.ndarray, top: float):
    """Draw a map as a picture (grey, clipped) if its kernel keeps brightness, else signed."""
    if _shows_as_picture(kernel):
        ax.imshow(np.clip(fmap, 0, top), cmap="gray", vmin=0, vmax=top, interpolation="nearest")
        return "picture, clipped to 0-255" if top > 1 else "picture, clipped to 0-1"
    lim = _symmetric_limit(fmap)
    im = ax.imshow(fmap, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.8)
    return "signed: red > 0 > blue"


def kernel_effect(
    image: np.ndarray, kernel: np.ndarray, *, kernel_name: str = "kernel", image_name: str = "image"
) -> Figure:
    """Apply one kernel to a greyscale picture and show input, kernel and feature map.

    **Shapes:** image (H, W) uint8 or float in [0, 1]; kernel (KH, KW) -> map
    (H - KH + 1, W - KW + 1) ("valid", no padding).

    Returns a Figure. A kernel whose weights sum to 1 (identity, blurs, sharpen) keeps the
    brightness of flat areas, so its map is drawn as a grey picture; any other kernel
    (edge detectors sum to 0) gives signed responses, drawn red for positive and blue for
    negative around a white zero.
    """
    img = check_image(image, name="image")
    if img.ndim != 2:
        raise ValueError(f"kernel_effect needs a greyscale (H, W) image, got shape {img.shape}.")
    k = _check_2d(kernel, "kernel").astype(float)
    fmap = _ops.correlate2d(img, k)
    top = 255.0 if img.dtype == np.uint8 else 1.0
    fig = Figure(figsize=(7.4, 2.7), layout="constrained")
    ax_img, ax_k, ax_map = fig.subplots(1, 3, width_ratios=[1, 0.75, 1.2])
    _imshow(ax_img, img, title=f"{image_name} {img.shape}")
    _cell_grid(
        ax_k,
        k,
        signed=True,
        labels=_kernel_labels(k),
        fontsize=9 if max(k.shape) <= 3 else 6,
        title=f"{kernel_name}\nsum = {_weight_label(round(float(k.sum()), 9))}",
    )
    how = _draw_feature_map(fig, ax_map, fmap, k, top)
    ax_map.set_title(f"feature map {fmap.shape}\n{how}", fontsize=9)
    ax_map.set_xticks([])
    ax_map.set_yticks([])
    return fig


def kernel_gallery(
    images: Mapping[str, np.ndarray],
    kernels: Mapping[str, np.ndarray],
    *,
    size: float = 1.7,
    columns: int | None = None,
) -> Figure:
    """Apply every kernel to every picture: the picture first, then one panel per kernel.

    **Shapes:** each image (H, W) greyscale; each kernel (KH, KW).

    Returns a Figure in which each picture starts a new row and its panels wrap after
    ``columns`` panels (one row per picture by default); maps of brightness-keeping kernels
    are drawn as pictures, the others as signed maps (red positive, blue negative).
    """
    if not images or not kernels:
        raise ValueError("kernel_gallery needs at least one image and one kernel.")
    ncols = len(kernels) + 1 if columns is None else int(columns)
    if ncols < 1:
        raise ValueError(f"columns must be at least 1, got {columns}.")
    rows_per_image = -(-(len(kernels) + 1) // ncols)
    nrows = rows_per_image * len(images)
    fig = Figure(figsize=(size * ncols, (size + 0.25) * nrows + 0.3), layout="constrained")
    grid = fig.subplots(nrows, ncols, squeeze=False)
    for ax in grid.ravel():
        ax.set_axis_off()
    for position, (img_name, image) in enumerate(images.items()):
        img = check_image(image, name=img_name)
        if img.ndim != 2:
            raise ValueError(f"image {img_name!r} must be greyscale (H, W), got {img.shape}.")
        top = 255.0 if img.dtype == np.uint8 else 1.0
        row = grid[position * rows_per_image : (position + 1) * rows_per_image].ravel()
        for ax in row[: len(kernels) + 1]:
            ax.set_axis_on()
        _imshow(row[0], img, title=img_name)
        for ax, (k_name, kernel) in zip(row[1:], kernels.items(), strict=False):
            k = _check_2d(kernel, f"kernel {k_name!r}").astype(float)
            fmap = _ops.correlate2d(img, k)
            if _shows_as_picture(k):
                ax.imshow(
                    np.clip(fmap, 0, top), cmap="gray", vmin=0, vmax=top, interpolation="nearest"
                )
            else:
                lim = _symmetric_limit(fmap)
                ax.imshow(fmap, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
            ax.set_title(k_name, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    return fig


def signed_maps_row(
    maps: Mapping[str, np.ndarray], *, height: float = 2.5, suptitle: str | None = None
) -> Figure:
    """Show signed maps side by side on one diverging scale centred on zero.

    **Shapes:** each map (H, W); sizes may differ.

    Returns a Figure with one panel per map (red positive, blue negative, white zero) and a
    single colour bar, so equal colours mean equal values in every panel.
    """
    if not maps:
        raise ValueError("signed_maps_row needs at least one map.")
    arrays = {name: _check_2d(m, f"map {name!r}").astype(float) for name, m in maps.items()}
    lim = _symmetric_limit(*arrays.values())
    fig = Figure(figsize=(height * len(arrays) + 0.8, height + 0.55), layout="constrained")
    axes = fig.subplots(1, len(arrays), squeeze=False)[0]
    for ax, (name, arr) in zip(axes, arrays.items(), strict=True):
        im = ax.imshow(arr, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
        ax.set_title(f"{name}\n{arr.shape}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=list(axes), shrink=0.85)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    return fig


def padding_grid(
    image: np.ndarray, *, kernel_size: int, stride: int, padding: int, mode: str = "zeros"
) -> Figure:
    """Draw a small image with its padding, the first windows, and the output grid it gives.

    **Shapes:** image (H, W), at most 12 x 12; the output is (OH, OW) with
    ``OH = floor((H + 2 * padding - kernel_size) / stride) + 1`` and the same for W.

    The output values are the means over each k x k window (a box blur), so zero padding
    shows up as darker borders and replicate padding does not. Padding cells are hatched;
    the first window is outlined in orange, the next one along the row in cyan (dashed),
    which shows the stride. Returns a Figure with the size formula for height and width.
    """
    img = _check_2d(image, "image").astype(float)
    if max(img.shape) > 12:
        raise ValueError(f"padding_grid prints every pixel; use at most 12 x 12, got {img.shape}.")
    H, W = img.shape
    oh = _ops.output_size(H, kernel_size, stride, padding)
    ow = _ops.output_size(W, kernel_size, stride, padding)
    padded = _ops.pad2d(img, padding=padding, mode=mode)
    box = np.full((kernel_size, kernel_size), 1.0 / kernel_size**2)
    out = _ops.correlate2d(img, box, stride=stride, padding=padding, mode=mode)
    top = 255.0 if img.max() > 1 else 1.0
    hp, wp = padded.shape

    fig = Figure(figsize=(9.2, 4.1), layout="constrained")
    ax_in, ax_out = fig.subplots(1, 2, width_ratios=[wp, max(ow, 3) + 0.5])
    _cell_grid(
        ax_in,
        padded,
        signed=False,
        limit=top,
        fontsize=7,
        title=f"input {H}x{W}, padding {padding} ({mode}) -> {hp}x{wp}",
    )
    if padding:
        ring = np.ones((hp, wp), dtype=bool)
        ring[padding : padding + H, padding : padding + W] = False
        for r, c in zip(*np.nonzero(ring), strict=True):
            ax_in.add_patch(
                Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, ec="#d55e00", hatch="///", lw=0)
            )
        ax_in.add_patch(
            Rectangle((padding - 0.5, padding - 0.5), W, H, fill=False, ec="#d55e00", lw=2)
        )
    ax_in.add_patch(
        Rectangle((-0.5, -0.5), kernel_size, kernel_size, fill=False, ec="#ffb000", lw=3)
    )
    if ow > 1:
        ax_in.add_patch(
            Rectangle(
                (stride - 0.5, -0.5),
                kernel_size,
                kernel_size,
                fill=False,
                ec="#00bcd4",
                lw=2.5,
                ls="--",
            )
        )
    _cell_grid(
        ax_out,
        out,
        signed=False,
        limit=top,
        fontsize=7,
        title=f"output {oh}x{ow} ({kernel_size}x{kernel_size} box blur)",
    )
    fig.suptitle(
        f"height: ⌊({H} + 2·{padding} − {kernel_size}) / {stride}⌋ + 1 = {oh}     "
        f"width: ⌊({W} + 2·{padding} − {kernel_size}) / {stride}⌋ + 1 = {ow}",
        fontsize=11,
    )
    return fig


def multichannel_filter(image: np.ndarray, kernels: np.ndarray, *, bias: float = 0.0) -> Figure:
    """Filter a colour picture with one filter: a stack of one kernel per channel.

    **Shapes:** image (H, W, 3) uint8 channels-last, kernels (3, KH, KW) -> one map
    (H - KH + 1, W - KW + 1).

    Returns a Figure in three rows: the R, G, B channels; the kernel for each; the map of
    each channel on one shared signed scale, and, last, their sum plus the bias, which is the
    single feature map this filter produces.
    """
    img = check_image(image, name="image")
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"multichannel_filter needs an (H, W, 3) image, got shape {img.shape}.")
    k = np.asarray(kernels, dtype=float)
    if k.ndim != 3 or k.shape[0] != 3:
        raise ValueError(
            f"a filter for an RGB image is a stack of 3 kernels, shape (3, KH, KW); got {k.shape}."
        )
    per_channel = [_ops.correlate2d(img[:, :, c], k[c]) for c in range(3)]
    total = np.sum(per_channel, axis=0) + float(bias)
    fig = Figure(figsize=(8.6, 6.4), layout="constrained")
    axes = fig.subplots(3, 4, height_ratios=[1, 0.7, 1])
    lim = _symmetric_limit(*per_channel)
    for c, name in enumerate(CHANNELS):
        _imshow(axes[0, c], img[:, :, c], title=f"{name} channel")
        _cell_grid(
            axes[1, c],
            k[c],
            signed=True,
            labels=_kernel_labels(k[c]),
            fontsize=8,
            title=f"kernel for {name}",
        )
        im = axes[2, c].imshow(
            per_channel[c], cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest"
        )
        axes[2, c].set_title(f"{name} map", fontsize=10)
        axes[2, c].set_xticks([])
        axes[2, c].set_yticks([])
    fig.colorbar(im, ax=list(axes[2, :3]), shrink=0.8, location="left")
    _imshow(axes[0, 3], img, title="colour input")
    axes[1, 3].axis("off")
    axes[1, 3].text(
        0.5,
        0.5,
        f"R map + G map\n+ B map + bias\n(bias = {_value_label(bias)})",
        ha="center",
        va="center",
        fontsize=10,
        transform=axes[1, 3].transAxes,
    )
    tlim = _symmetric_limit(total)
    im2 = axes[2, 3].imshow(total, cmap="RdBu_r", vmin=-tlim, vmax=tlim, interpolation="nearest")
    axes[2, 3].set_title(f"one feature map {total.shape}", fontsize=10)
    axes[2, 3].set_xticks([])
    axes[2, 3].set_yticks([])
    fig.colorbar(im2, ax=axes[2, 3], shrink=0.8)
    return fig


# --- Chapter 3: ReLU and non-linearity ---

ACTIVATION_NAMES = ("relu", "leaky_relu", "sigmoid", "tanh")


def apply_activation(
    x: np.ndarray, name: str, *, slope: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """Apply a named activation and return its values and its slope at every point.

    **Shapes:** x any shape -> two arrays of the same shape.

    Both come from the forward/backward pairs in ``helpers.ops``: the slope is the backward
    pass fed with a gradient of ones. ``slope`` is the leaky ReLU's slope for negatives.
    """
    ops_by_name = {
        "relu": (_ops.relu_forward, _ops.relu_backward),
        "leaky_relu": (lambda v: _ops.leaky_relu_forward(v, slope=slope), _ops.leaky_relu_backward),
        "sigmoid": (_ops.sigmoid_forward, _ops.sigmoid_backward),
        "tanh": (_ops.tanh_forward, _ops.tanh_backward),
    }
    if name not in ops_by_name:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATION_NAMES)}; got {name!r}.")
    forward, backward = ops_by_name[name]
    out, cache = forward(x)
    return out, backward(np.ones_like(out), cache)


def _activation_title(name: str, slope: float) -> str:
    return {
        "relu": "ReLU(z) = max(0, z)",
        "leaky_relu": f"leaky ReLU (slope {slope:g} below 0)",
        "sigmoid": "sigmoid(z) = 1 / (1 + exp(-z))",
        "tanh": "tanh(z)",
    }[name]


def activation_curves(*, low: float = -6.0, high: float = 6.0, slope: float = 0.1) -> Figure:
    """Plot ReLU, leaky ReLU, sigmoid and tanh and, beside them, their derivatives.

    Returns a Figure with two panels over [low, high]: the functions, and their slopes with
    the regions where sigmoid's slope is below a tenth of its peak shaded as "saturated".
    """
    if not high > low:
        raise ValueError(f"high must be larger than low, got low={low}, high={high}.")
    z = np.linspace(low, high, 601)
    styles = {"relu": "-", "leaky_relu": "--", "sigmoid": "-", "tanh": "-."}
    colours = {"relu": "#0072b2", "leaky_relu": "#56b4e9", "sigmoid": "#d55e00", "tanh": "#009e73"}
    fig = Figure(figsize=(9.4, 3.5), layout="constrained")
    ax_f, ax_d = fig.subplots(1, 2)
    sig_slope = apply_activation(z, "sigmoid")[1]
    saturated = sig_slope < sig_slope.max() / 10
    for ax in (ax_f, ax_d):
        ax.fill_between(
            z,
            0,
            1,
            where=saturated,
            color="0.9",
            transform=ax.get_xaxis_transform(),
            label="sigmoid saturated",
        )
        ax.axhline(0, color="0.5", lw=0.8)
        ax.axvline(0, color="0.5", lw=0.8)
    for name in ACTIVATION_NAMES:
        out, grad = apply_activation(z, name, slope=slope)
        label = _activation_title(name, slope)
        ax_f.plot(z, out, styles[name], color=colours[name], lw=2, label=label)
        ax_d.plot(z, grad, styles[name], color=colours[name], lw=2, label=name)
    ax_f.set_ylim(-1.5, min(high, 4))
    ax_f.set_title("activation f(z)")
    ax_d.set_title("slope f'(z): what backpropagation multiplies by")
    ax_d.set_ylim(-0.1, 1.15)
    for ax in (ax_f, ax_d):
        ax.set_xlabel("z (input to the activation)")
    ax_f.legend(fontsize=7.5, loc="upper left")
    ax_d.legend(fontsize=7.5, loc="center right")
    return fig


def activation_explorer(
    fmap: np.ndarray, *, activation: str, bias: float = 0.0, slope: float = 0.1
) -> Figure:
    """Show a feature map before and after an activation, with a bias added first.

    **Shapes:** fmap (H, W) signed conv output -> the same shape after the activation.

    Returns a Figure: z = fmap + bias on a signed scale, the activation of z on its own
    signed scale (with the share of values that became 0 or stayed negative in the title),
    and the activation curve over a histogram of z, the bias marked.
    """
    z = _check_2d(fmap, "fmap").astype(float) + float(bias)
    out, _ = apply_activation(z, activation, slope=slope)
    fig = Figure(figsize=(9.6, 3.0), layout="constrained")
    ax_z, ax_a, ax_c = fig.subplots(1, 3, width_ratios=[1, 1, 1.15])
    zlim = _symmetric_limit(z)
    im = ax_z.imshow(z, cmap="RdBu_r", vmin=-zlim, vmax=zlim, interpolation="nearest")
    fig.colorbar(im, ax=ax_z, shrink=0.8)
    ax_z.set_title(f"z = map + bias ({bias:+g})\n{np.mean(z < 0):.0%} of values < 0", fontsize=9)
    alim = _symmetric_limit(out)
    im = ax_a.imshow(out, cmap="RdBu_r", vmin=-alim, vmax=alim, interpolation="nearest")
    fig.colorbar(im, ax=ax_a, shrink=0.8)
    ax_a.set_title(
        f"after {activation}: range {out.min():.2f} to {out.max():.2f}\n"
        f"{np.mean(out == 0):.0%} exactly 0, {np.mean(out < 0):.0%} < 0",
        fontsize=9,
    )
    for ax in (ax_z, ax_a):
        ax.set_xticks([])
        ax.set_yticks([])
    span = max(zlim, 1.0)
    grid = np.linspace(-span, span, 301)
    # Log counts: the flat background piles up in one bin and would hide every other bar.
    ax_c.hist(z.ravel(), bins=40, range=(-span, span), color="0.75", log=True)
    ax_c.set_ylabel("values of z per bin (log)", fontsize=8)
    ax_curve = ax_c.twinx()
    ax_curve.plot(grid, apply_activation(grid, activation, slope=slope)[0], color="#d55e00", lw=2)
    ax_curve.axhline(0, color="0.5", lw=0.7)
    ax_curve.set_ylabel("activation", fontsize=8, color="#d55e00")
    ax_c.axvline(bias, color="black", ls="--", lw=1)
    ax_c.set_title(_activation_title(activation, slope), fontsize=9)
    ax_c.set_xlabel("z")
    return fig


def decision_regions(
    points: np.ndarray, labels: np.ndarray, models: Mapping[str, object], *, size: float = 3.0
) -> Figure:
    """Colour the plane by each model's predicted class, with the labelled points on top.

    **Shapes:** points (N, 2), labels (N,) of 0/1; each model is a callable taking (M, 2)
    points and returning (M,) probabilities of class 1.

    Returns a Figure with one panel per model, titled with its accuracy on the points.
    """
    pts = np.asarray(points, dtype=float)
    y = np.asarray(labels)
    if pts.ndim != 2 or pts.shape[1] != 2 or y.shape != (pts.shape[0],):
        raise ValueError(f"need points (N, 2) and labels (N,), got {pts.shape} and {y.shape}.")
    if not models:
        raise ValueError("decision_regions needs at least one model.")
    pad = 0.3
    xs = np.linspace(pts[:, 0].min() - pad, pts[:, 0].max() + pad, 150)
    ys = np.linspace(pts[:, 1].min() - pad, pts[:, 1].max() + pad, 150)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    fig = Figure(figsize=(size * len(models), size + 0.4), layout="constrained")
    axes = fig.subplots(1, len(models), squeeze=False)[0]
    for ax, (name, model) in zip(axes, models.items(), strict=True):
        if not callable(model):
            raise TypeError(f"model {name!r} must be a callable returning probabilities.")
        prob = np.asarray(model(grid), dtype=float).reshape(gx.shape)
        accuracy = np.mean((np.asarray(model(pts)).reshape(-1) > 0.5) == (y == 1))
        ax.contourf(gx, gy, prob, levels=[0, 0.5, 1], colors=["#cfe3f3", "#f8d5c4"])
        ax.contour(gx, gy, prob, levels=[0.5], colors="black", linewidths=1)
        ax.scatter(*pts[y == 0].T, s=9, c="#0072b2", marker="o", label="class 0")
        ax.scatter(*pts[y == 1].T, s=9, c="#d55e00", marker="^", label="class 1")
        ax.set_title(f"{name}\naccuracy {accuracy:.0%}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].legend(fontsize=7, loc="lower left")
    return fig


# --- Chapter 4: Pooling ---

POOL_KINDS = ("max", "avg", "sum")
_POOL_NAMES = {"max": "max", "avg": "average", "sum": "sum"}


def _check_pool_args(fmap: np.ndarray, kind: str, size: int, stride: int) -> None:
    """Raise a readable error for a pooling request that cannot work on ``fmap``."""
    if kind not in POOL_KINDS:
        raise ValueError(f'kind must be one of "max", "avg", "sum", got {kind!r}.')
    if fmap.ndim != 2:
        raise ValueError(f"the map to pool must be 2-D (H, W), got shape {fmap.shape}.")
    if size < 1 or stride < 1:
        raise ValueError(f"window size and stride must be at least 1, got {size} and {stride}.")
    if size > min(fmap.shape):
        raise ValueError(f"a {size}x{size} window does not fit in a {fmap.shape} map.")


def pool_map(fmap: np.ndarray, *, kind: str = "max", size: int = 2, stride: int | None = None):
    """Pool one 2-D map with the course's NumPy ops (max, avg or sum).

    **Shapes:** fmap (H, W) -> (OH, OW) with ``OH = (H - size) // stride + 1``.

    Returns the pooled map as a float array; ``stride`` defaults to ``size``.
    """
    from helpers import ops

    arr = np.asarray(fmap, dtype=float)
    stride = size if stride is None else stride
    _check_pool_args(arr, kind, size, stride)
    forward = {
        "max": ops.max_pool2d_forward,
        "avg": ops.avg_pool2d_forward,
        "sum": ops.sum_pool2d_forward,
    }[kind]
    out, _ = forward(arr[None, None], size=size, stride=stride)
    return out[0, 0]


def window_winners(fmap: np.ndarray, *, size: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Find the input pixel that max pooling keeps for every window.

    **Shapes:** fmap (H, W) -> two int arrays (OH, OW): the row and the column of each
    window's maximum. Ties go to the first position in reading order, as in
    ``ops.max_pool2d_backward``.
    """
    arr = np.asarray(fmap, dtype=float)
    _check_pool_args(arr, "max", size, stride)
    windows = np.lib.stride_tricks.sliding_window_view(arr, (size, size))[::stride, ::stride]
    oh, ow = windows.shape[:2]
    best = windows.reshape(oh, ow, size * size).argmax(axis=2)
    rows = np.arange(oh)[:, None] * stride + best // size
    cols = np.arange(ow)[None, :] * stride + best % size
    return rows, cols


def window_coverage(shape: tuple[int, int], *, size: int, stride: int) -> np.ndarray:
    """Count how many pooling windows read each input pixel.

    **Shapes:** shape (H, W) -> int array (H, W); 0 marks a pixel that no window reads.
    """
    h, w = shape
    _check_pool_args(np.zeros((h, w)), "max", size, stride)
    counts = np.zeros((h, w), dtype=int)
    for top in range(0, h - size + 1, stride):
        for left in range(0, w - size + 1, stride):
            counts[top : top + size, left : left + size] += 1
    return counts


def _grid_panel(
    ax: Axes, values: np.ndarray, *, cmap: str, vmax: float, fmt: str, fontsize: float
) -> None:
    """Draw a small map as coloured cells with every value written in its cell."""
    ax.imshow(values, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
    _annotate_cells(ax, values, top=vmax, fmt=fmt, fontsize=fontsize)
    ax.set_xticks([])
    ax.set_yticks([])


def pooling_kinds(x: np.ndarray, *, size: int = 2, stride: int | None = None) -> Figure:
    """Pool one small map three ways (max, average, sum) and print every value.

    **Shapes:** x (H, W), at most 12 x 12, non-negative (a map after ReLU).

    Returns a Figure: the input with its windows outlined, then the max, average and sum
    pooled maps, each on its own viridis scale.
    """
    arr = np.asarray(x, dtype=float)
    stride = size if stride is None else stride
    _check_pool_args(arr, "max", size, stride)
    if max(arr.shape) > 12 or arr.min() < 0:
        raise ValueError(
            f"pooling_kinds draws a non-negative map of at most 12 x 12, got {arr.shape} "
            f"with smallest value {arr.min()}."
        )
    fig = Figure(figsize=(10, 3.1), layout="constrained")
    axes = fig.subplots(1, 4, width_ratios=[1.4, 1, 1, 1])
    _grid_panel(axes[0], arr, cmap="viridis", vmax=arr.max() or 1, fmt=".0f", fontsize=11)
    for top in range(0, arr.shape[0] - size + 1, stride):
        for left in range(0, arr.shape[1] - size + 1, stride):
            for colour, width in (("black", 4), ("white", 2)):
                axes[0].add_patch(
                    Rectangle((left - 0.5, top - 0.5), size, size, fill=False, ec=colour, lw=width)
                )
    axes[0].set_title(f"input {arr.shape}\n{size}x{size} windows, stride {stride}", fontsize=10)
    for ax, kind in zip(axes[1:], POOL_KINDS, strict=True):
        out = pool_map(arr, kind=kind, size=size, stride=stride)
        fmt = ".2f" if kind == "avg" and not np.allclose(out, out.round()) else ".0f"
        _grid_panel(ax, out, cmap="viridis", vmax=out.max() or 1, fmt=fmt, fontsize=11)
        ax.set_title(f"{_POOL_NAMES[kind]} pooling\n{out.shape}", fontsize=10)
    return fig


def pooling_explorer(
    img: np.ndarray,
    *,
    kind: str = "max",
    size: int = 2,
    stride: int | None = None,
    shift: int = 0,
    top: int = 0,
    left: int = 0,
    crop: int = 12,
) -> Figure:
    """Pool a crop of a picture, show which pixel wins each window, and test a shift.

    **Shapes:** img (H, W) uint8; the ``crop`` x ``crop`` window at (top, left) must fit.

    The picture is moved ``shift`` pixels to the right (black fills in from the left) before
    the crop is taken. Returns a Figure with three panels: the shifted crop with the windows
    outlined and, for max pooling, each window's winning pixel circled (pixels no window
    reads are hatched); its pooled map; and the pooled map of the unshifted crop with the
    cells that the shift changed outlined.
    """
    arr = check_image(img)
    stride = size if stride is None else stride
    if arr.ndim != 2 or arr.dtype != np.uint8:
        raise ValueError(f"pooling_explorer needs a uint8 (H, W) image, got {arr.shape}.")
    if not 0 <= shift < crop:
        raise ValueError(f"shift must be between 0 and {crop - 1} pixels, got {shift}.")
    h, w = arr.shape
    if not (0 <= top <= h - crop and 0 <= left <= w - crop):
        raise ValueError(f"a {crop} x {crop} crop at ({top}, {left}) does not fit in {h} x {w}.")
    moved = np.zeros_like(arr)
    moved[:, shift:] = arr[:, : w - shift]
    before = arr[top : top + crop, left : left + crop]
    after = moved[top : top + crop, left : left + crop]
    _check_pool_args(after, kind, size, stride)
    pooled_after = pool_map(after, kind=kind, size=size, stride=stride)
    pooled_before = pool_map(before, kind=kind, size=size, stride=stride)
    top_value = 255.0 * {"max": 1, "avg": 1, "sum": size * size}[kind]

    fig = Figure(figsize=(10.5, 3.9), layout="constrained")
    ax_in, ax_after, ax_before = fig.subplots(1, 3, width_ratios=[1.25, 1, 1])
    ax_in.imshow(after, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    # Only the lit pixels get a number: the zeros are plain black, and skipping them halves
    # the drawing time of the demo's many frames.
    for r, c in zip(*np.nonzero(after), strict=True):
        colour = "black" if after[r, c] > 127 else "white"
        ax_in.text(c, r, str(after[r, c]), ha="center", va="center", color=colour, fontsize=6.5)
    counts = window_coverage(after.shape, size=size, stride=stride)
    for r, c in zip(*np.nonzero(counts == 0), strict=True):
        ax_in.add_patch(
            Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, hatch="///", ec="#d95f02", lw=0)
        )
    for wtop in range(0, crop - size + 1, stride):
        for wleft in range(0, crop - size + 1, stride):
            ax_in.add_patch(
                Rectangle((wleft - 0.5, wtop - 0.5), size, size, fill=False, ec="#1b9e77", lw=1.3)
            )
    if kind == "max":
        rows, cols = window_winners(after, size=size, stride=stride)
        # In an all-black window every pixel ties for the win; circling one would mislead.
        lit = pooled_after > 0
        ax_in.scatter(cols[lit], rows[lit], s=150, facecolors="none", edgecolors="#d95f02")
        note = "circled: the pixel that wins its window"
    else:
        note = "every pixel of a window counts"
    ax_in.set_xticks([])
    ax_in.set_yticks([])
    ax_in.set_title(f"input, moved {shift} px right\n{note}", fontsize=9)

    ink = (pooled_before > 0) | (pooled_after > 0)
    same = ink & np.isclose(pooled_before, pooled_after)
    name = f"{_POOL_NAMES[kind]} pool {size}x{size}, stride {stride}"
    fmt = ".0f"
    for ax, values, title in (
        (ax_after, pooled_after, f"{name} {pooled_after.shape}\norange: changed by the move"),
        (
            ax_before,
            pooled_before,
            f"original input, same pooling\n"
            f"{int(same.sum())} of {int(ink.sum())} non-black cells unchanged",
        ),
    ):
        ax.imshow(values, cmap="gray", vmin=0, vmax=top_value, interpolation="nearest")
        small = 6.5 if values.shape[0] > 6 else 8.5
        _annotate_cells(ax, values, top=top_value, fmt=fmt, fontsize=small)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=9)
    for r, c in zip(*np.nonzero(ink & ~same), strict=True):
        for ax in (ax_after, ax_before):
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, ec="#d95f02", lw=2))
    # The cell labels sit inside the axes; leaving them out of the layout saves much time.
    for ax in (ax_in, ax_after, ax_before):
        for text in ax.texts:
            text.set_in_layout(False)
    return fig


def receptive_fields(
    img: np.ndarray, fields: Mapping[str, tuple[int, int, int, int]], *, title: str = ""
) -> Figure:
    """Outline the input region each layer's unit sees, nested on the picture.

    **Shapes:** img (H, W); each field is (top, left, height, width) in input pixels and may
    reach past the border (the part outside is not drawn).

    Returns a Figure with the picture in grey and one labelled outline per field.
    """
    arr = check_image(img)
    if arr.ndim != 2 or not fields:
        raise ValueError("receptive_fields needs a greyscale image and at least one field.")
    fig = Figure(figsize=(5.6, 4.2), layout="constrained")
    ax = fig.subplots()
    _imshow(ax, arr, title=title)
    colours = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02"]
    styles = ["-", "--", "-.", ":"]
    for i, (label, (top, left, height, width)) in enumerate(fields.items()):
        ax.add_patch(
            Rectangle(
                (left - 0.5, top - 0.5),
                width,
                height,
                fill=False,
                ec=colours[i % len(colours)],
                ls=styles[i % len(styles)],
                lw=2.2,
                label=f"{label}: {height}x{width}",
                clip_on=True,
            )
        )
    ax.set_xlim(-0.5, arr.shape[1] - 0.5)
    ax.set_ylim(arr.shape[0] - 0.5, -0.5)
    fig.legend(loc="outside right center", fontsize=8, frameon=False)
    return fig


def coverage_panels(shape: tuple[int, int], cases: Mapping[str, tuple[int, int]]) -> Figure:
    """Show, for several (size, stride) choices, how many windows read each input pixel.

    **Shapes:** shape (H, W) of the input; each case is (size, stride).

    Returns a Figure with one cividis panel per case; 0 means the pixel is skipped.
    """
    if not cases:
        raise ValueError("coverage_panels needs at least one (size, stride) case.")
    counts = {
        label: window_coverage(shape, size=size, stride=stride)
        for label, (size, stride) in cases.items()
    }
    vmax = max(int(c.max()) for c in counts.values())
    fig = Figure(figsize=(3.0 * len(counts), 3.3), layout="constrained")
    axes = fig.subplots(1, len(counts), squeeze=False)[0]
    for ax, (label, count) in zip(axes, counts.items(), strict=True):
        _grid_panel(ax, count, cmap="cividis", vmax=vmax, fmt="d", fontsize=9)
        size, stride = cases[label]
        out = (shape[0] - size) // stride + 1
        ax.set_title(f"{label}\n{size}x{size}, stride {stride}: {shape[0]} -> {out}", fontsize=9)
    return fig


__all__ += [
    "POOL_KINDS",
    "coverage_panels",
    "pool_map",
    "pooling_explorer",
    "pooling_kinds",
    "receptive_fields",
    "window_coverage",
    "window_winners",
]


# --- Chapter 5: Dense heads and softmax ---


def flatten_order(x: np.ndarray) -> Figure:
    """Show where every value of a (C, H, W) stack lands in the flattened vector.

    **Shapes:** x (C, H, W), at most 4 channels and 24 values in all.

    Returns a Figure: each channel as a small grid whose cells carry their flat index, and
    below it the flat vector, coloured by the channel each value came from.
    """
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 3 or arr.shape[0] > 4 or arr.size > 24:
        raise ValueError(
            f"flatten_order draws a small (C, H, W) stack: at most 4 channels and 24 values, "
            f"got shape {arr.shape}."
        )
    c_count, h, w = arr.shape
    colours = ["#66c2a5", "#fc8d62", "#8da0cb", "#e78ac3"]
    fig = Figure(figsize=(max(6.0, 0.42 * arr.size + 0.6), 3.6), layout="constrained")
    grid = fig.add_gridspec(2, c_count, height_ratios=[2.2, 1])
    index = np.arange(arr.size).reshape(arr.shape)
    for c in range(c_count):
        ax = fig.add_subplot(grid[0, c])
        ax.imshow(np.ones((h, w, 3)), interpolation="nearest")
        for r in range(h):
            for col in range(w):
                ax.add_patch(Rectangle((col - 0.5, r - 0.5), 1, 1, fc=colours[c], ec="white"))
                ax.text(
                    col,
                    r,
                    f"{arr[c, r, col]:g}\n[{index[c, r, col]}]",
                    ha="center",
                    va="center",
                    fontsize=8,
                )
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"channel {c}  x[{c}] {(h, w)}", fontsize=9)
    ax = fig.add_subplot(grid[1, :])
    flat = arr.reshape(-1)
    for i, value in enumerate(flat):
        ax.add_patch(Rectangle((i, 0), 1, 1, fc=colours[i // (h * w)], ec="white"))
        ax.text(i + 0.5, 0.5, f"{value:g}", ha="center", va="center", fontsize=8)
        ax.text(i + 0.5, -0.3, str(i), ha="center", va="center", fontsize=7)
    ax.set_xlim(0, flat.size)
    ax.set_ylim(-0.6, 1)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title(f"flattened: {flat.size} values, channel by channel, row by row", fontsize=9)
    return fig


def dense_connections(w: np.ndarray, *, input_name: str = "x", output_name: str = "out") -> Figure:
    """Draw a small dense layer as a wiring diagram and as its weight matrix.

    **Shapes:** w (D, M) stored inputs-by-outputs, at most 16 x 12.

    Returns a Figure: on the left every input joined to every output by a line coloured by
    its weight, on the right the matrix itself; both use one diverging scale centred on 0.
    """
    arr = np.asarray(w, dtype=float)
    if arr.ndim != 2 or arr.shape[0] > 16 or arr.shape[1] > 12:
        raise ValueError(
            f"dense_connections draws a weight matrix of at most 16 x 12, got {arr.shape}."
        )
    d, m = arr.shape
    limit = float(np.abs(arr).max()) or 1.0
    import matplotlib as mpl

    cmap = mpl.colormaps["RdBu_r"]
    fig = Figure(figsize=(9, 3.8), layout="constrained")
    ax_net, ax_mat = fig.subplots(1, 2, width_ratios=[1.2, 1])
    ys_in = np.linspace(1, 0, d)
    ys_out = np.linspace(1, 0, m) if m > 1 else np.array([0.5])
    for i in range(d):
        for j in range(m):
            ax_net.plot(
                [0, 1],
                [ys_in[i], ys_out[j]],
                color=cmap(0.5 + 0.5 * arr[i, j] / limit),
                lw=0.6 + 1.8 * abs(arr[i, j]) / limit,
                zorder=1,
            )
    ax_net.scatter(np.zeros(d), ys_in, s=160, c="white", edgecolors="black", zorder=2)
    ax_net.scatter(np.ones(m), ys_out, s=160, c="white", edgecolors="black", zorder=2)
    for i, y in enumerate(ys_in):
        ax_net.text(-0.06, y, f"{input_name}{i}", ha="right", va="center", fontsize=8)
    for j, y in enumerate(ys_out):
        ax_net.text(1.06, y, f"{output_name}{j}", ha="left", va="center", fontsize=8)
    ax_net.set_xlim(-0.3, 1.3)
    ax_net.set_axis_off()
    ax_net.set_title(f"{d} inputs x {m} outputs = {d * m} connections (+ {m} biases)", fontsize=9)
    im = ax_mat.imshow(arr, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    ax_mat.set_xlabel("output")
    ax_mat.set_ylabel("input")
    ax_mat.set_title(f"w {arr.shape}: one column per output", fontsize=9)
    fig.colorbar(im, ax=ax_mat, shrink=0.85, label="weight")
    return fig


def softmax_bars(
    logits: np.ndarray,
    *,
    temperature: float = 1.0,
    names: list[str] | None = None,
    target: int | None = None,
) -> Figure:
    """Show class scores and the probabilities softmax makes of them.

    **Shapes:** logits (K,), one score per class; ``names`` K labels (default 0..K-1);
    ``target`` the index of the true class, drawn as a one-hot vector.

    The scores are divided by ``temperature`` before the (stable) softmax. Returns a Figure:
    the scaled scores on a diverging scale, then the probabilities, the largest (the arg-max,
    the predicted class) outlined in black.
    """
    from helpers import ops

    z = np.asarray(logits, dtype=float)
    if z.ndim != 1 or z.size < 2:
        raise ValueError(f"softmax_bars needs a 1-D vector of at least 2 scores, got {z.shape}.")
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}.")
    labels = [str(k) for k in range(z.size)] if names is None else list(names)
    if len(labels) != z.size:
        raise ValueError(f"{len(labels)} names for {z.size} scores.")
    if target is not None and not 0 <= target < z.size:
        raise ValueError(f"target must be a class index from 0 to {z.size - 1}, got {target}.")
    scaled = z / temperature
    probs = ops.softmax(scaled[None])[0]
    best = int(probs.argmax())
    fig = Figure(figsize=(9, 3.3), layout="constrained")
    ax_z, ax_p = fig.subplots(1, 2)
    positions = np.arange(z.size)
    limit = max(float(np.abs(scaled).max()), 1e-9)
    import matplotlib as mpl

    cmap = mpl.colormaps["RdBu_r"]
    ax_z.bar(positions, scaled, color=[cmap(0.5 + 0.5 * v / limit) for v in scaled], ec="black")
    ax_z.axhline(0, color="black", lw=0.8)
    ax_z.set_xticks(positions, labels, fontsize=8)
    ax_z.set_title(f"scores / T   (T = {temperature:g})", fontsize=10)
    ax_z.set_ylabel("score")
    edge = ["black" if k == best else "none" for k in positions]
    ax_p.bar(positions, probs, color="#21918c", ec=edge, lw=2, label="softmax")
    if target is not None:
        one_hot = np.eye(z.size)[target]
        ax_p.scatter(
            positions,
            one_hot,
            marker="_",
            s=300,
            color="#d95f02",
            lw=3,
            label="one-hot target",
            zorder=3,
        )
        ax_p.legend(fontsize=8, loc="upper left")
    for k, p in enumerate(probs):
        # Inside the axes, so left out of the layout: much faster for a demo's many frames.
        ax_p.text(k, p + 0.02, f"{p:.2f}", ha="center", va="bottom", fontsize=7, in_layout=False)
    ax_p.set_ylim(0, 1.12)
    ax_p.set_xticks(positions, labels, fontsize=8)
    ax_p.set_ylabel("probability")
    ax_p.set_title(
        f"softmax: sum = {probs.sum():.3f}, arg-max = {labels[best]} ({probs[best]:.0%})",
        fontsize=10,
    )
    return fig


def network_sizes(rows: list, input_shape: tuple[int, ...], *, split: int | None = None) -> Figure:
    """Plot how many numbers each layer of a network outputs, with its parameter count.

    **Shapes:** ``rows`` from ``ops.summarize_network``; ``input_shape`` (C, H, W).
    ``split`` is the number of layers in the feature extractor (drawn in a second colour
    from there on).

    Returns a Figure with one bar per layer on a log scale, labelled with the output shape
    and the number of parameters.
    """
    if not rows:
        raise ValueError("network_sizes needs at least one layer summary row.")
    labels = ["input", *(r.label for r in rows)]
    shapes = [tuple(input_shape), *(tuple(r.output_shape) for r in rows)]
    sizes = [int(np.prod(s)) for s in shapes]
    params = [0, *(r.parameters for r in rows)]
    cut = len(rows) + 1 if split is None else split + 1
    colours = ["#9e9ac8" if i < cut else "#fd8d3c" for i in range(len(sizes))]
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    ax = fig.subplots()
    positions = np.arange(len(sizes))
    ax.bar(positions, sizes, color=colours, ec="black")
    ax.set_yscale("log")
    for i, (size, shape, p) in enumerate(zip(sizes, shapes, params, strict=True)):
        text = f"{' x '.join(map(str, shape))}" + (f"\n= {size:,}" if len(shape) > 1 else "")
        if p:
            text += f"\n{p:,} params"
        ax.text(i, size * 1.25, text, ha="center", va="bottom", fontsize=7.5)
    ax.set_ylim(1, max(sizes) * 40)
    ax.set_xticks(positions, labels, rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("numbers per image (log scale)")
    if split is not None:
        from matplotlib.patches import Patch

        ax.legend(
            handles=[
                Patch(fc="#9e9ac8", ec="black", label="feature extractor"),
                Patch(fc="#fd8d3c", ec="black", label="dense head (classifier)"),
            ],
            loc="upper right",
            fontsize=8,
        )
    return fig


__all__ += ["dense_connections", "flatten_order", "network_sizes", "softmax_bars"]


# --- Chapter 6: Backpropagation and training ---

from collections.abc import Sequence  # noqa: E402

_CH6_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")


def _ch6_series(values: object, name: str) -> np.ndarray:
    """Return a 1-D float array of finite-or-nan values, refusing empty or multi-axis input."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of numbers, got {arr.shape}.")
    return arr


def init_statistics(activations: Mapping[str, Sequence[np.ndarray]]) -> Figure:
    """Compare how activations grow or shrink through the layers for several initialisations.

    **Shapes:** ``activations`` maps a scheme name to one array per layer (any shape each);
    every scheme has the same number of layers.

    Returns a Figure: on top the standard deviation of every layer's activations on a log
    scale, one line per scheme; below, one histogram of the last layer's values per scheme.
    """
    if not activations:
        raise ValueError("init_statistics needs at least one initialisation scheme.")
    depths = {len(layers) for layers in activations.values()}
    if len(depths) != 1 or 0 in depths:
        raise ValueError("every scheme needs the same, non-zero number of layers.")
    depth = depths.pop()
    fig = Figure(figsize=(9, 5.6), layout="constrained")
    grid = fig.add_gridspec(2, len(activations), height_ratios=[1.25, 1])
    ax_std = fig.add_subplot(grid[0, :])
    for i, (name, layers) in enumerate(activations.items()):
        stds = [float(np.std(np.asarray(a, dtype=float))) for a in layers]
        colour = _CH6_COLOURS[i % len(_CH6_COLOURS)]
        ax_std.plot(range(1, depth + 1), stds, "o-", color=colour, label=name)
        ax_hist = fig.add_subplot(grid[1, i])
        last = np.asarray(layers[-1], dtype=float).ravel()
        ax_hist.hist(last, bins=40, color=colour)
        ax_hist.set_title(f"{name}\nlayer {depth}: std {stds[-1]:.2g}", fontsize=9)
        ax_hist.tick_params(labelsize=7)
        ax_hist.set_yticks([])
        ax_hist.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
    ax_std.set_yscale("log")
    ax_std.set_xticks(range(1, depth + 1))
    ax_std.set_xlabel("layer")
    ax_std.set_ylabel("std of activations (log scale)")
    ax_std.legend(fontsize=8, ncols=len(activations))
    ax_std.grid(alpha=0.3)
    return fig


def annotated_signed_maps(
    maps: Mapping[str, np.ndarray], *, fmt: str = ".3g", size: float = 2.1, suptitle: str = ""
) -> Figure:
    """Draw small signed arrays side by side with every value written in its cell.

    **Shapes:** each map (H, W), at most 12 x 12; sizes may differ.

    Each panel has its own diverging colour scale centred on zero (red positive, blue
    negative, white zero), so the sign of a gradient reads at a glance.
    Returns a Figure with one panel per map, titled with its name and shape.
    """
    if not maps:
        raise ValueError("annotated_signed_maps needs at least one map.")
    arrays = {name: np.asarray(m, dtype=float) for name, m in maps.items()}
    for name, arr in arrays.items():
        if arr.ndim != 2 or max(arr.shape) > 12:
            raise ValueError(f"map {name!r} must be 2-D and at most 12 x 12, got {arr.shape}.")
    fig = Figure(figsize=(size * len(arrays), size + 0.6), layout="constrained")
    axes = fig.subplots(1, len(arrays), squeeze=False)[0]
    for ax, (name, arr) in zip(axes, arrays.items(), strict=True):
        limit = float(np.abs(arr).max()) or 1.0
        ax.imshow(arr, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        fontsize = 12 if max(arr.shape) <= 5 else 8
        for (r, c), v in np.ndenumerate(arr):
            colour = "white" if abs(v) > 0.6 * limit else "black"
            ax.text(c, r, format(v, fmt), ha="center", va="center", color=colour, fontsize=fontsize)
        ax.set_title(f"{name}\n{arr.shape}", fontsize=11)
        ax.set_xticks([])
        ax.set_yticks([])
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    return fig


def curve_plot(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    xlabel: str,
    ylabel: str,
    title: str = "",
    logx: bool = False,
    logy: bool = False,
    size: tuple[float, float] = (6.4, 3.4),
) -> Figure:
    """Draw several labelled curves on one pair of axes.

    **Shapes:** ``curves`` maps a label to ``(x, y)``, two 1-D sequences of one length;
    non-finite y values (a diverged loss) end that curve.

    Returns a Figure with a legend, optional log axes and a light grid.
    """
    if not curves:
        raise ValueError("curve_plot needs at least one curve.")
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.subplots()
    for i, (label, pair) in enumerate(curves.items()):
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError(f"curve {label!r} must be a pair (x, y).")
        x, y = _ch6_series(pair[0], f"x of {label!r}"), _ch6_series(pair[1], f"y of {label!r}")
        if x.shape != y.shape:
            raise ValueError(f"curve {label!r}: x has {x.size} values but y has {y.size}.")
        ax.plot(x, y, color=_CH6_COLOURS[i % len(_CH6_COLOURS)], label=label, lw=1.6)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def train_val_curves(
    *,
    epochs: Sequence[float],
    train_loss: Sequence[float],
    val_loss: Sequence[float],
    train_accuracy: Sequence[float],
    val_accuracy: Sequence[float],
) -> Figure:
    """Plot training against validation loss and accuracy over the epochs.

    **Shapes:** five 1-D sequences of one length (one value per epoch).

    Returns a Figure: loss on the left, accuracy on the right, the gap between the training
    and validation curves shaded in the accuracy panel.
    """
    series = {
        name: _ch6_series(v, name)
        for name, v in (
            ("epochs", epochs),
            ("train_loss", train_loss),
            ("val_loss", val_loss),
            ("train_accuracy", train_accuracy),
            ("val_accuracy", val_accuracy),
        )
    }
    if len({s.size for s in series.values()}) != 1:
        raise ValueError("epochs, losses and accuracies must all have the same length.")
    ep = series["epochs"]
    fig = Figure(figsize=(9, 3.3), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    for ax, kind in ((ax_loss, "loss"), (ax_acc, "accuracy")):
        ax.plot(ep, series[f"train_{kind}"], color=_CH6_COLOURS[0], label=f"training {kind}")
        val_label = f"validation {kind}"
        ax.plot(ep, series[f"val_{kind}"], color=_CH6_COLOURS[1], ls="--", label=val_label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(kind)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    ax_acc.fill_between(
        ep, series["val_accuracy"], series["train_accuracy"], color=_CH6_COLOURS[1], alpha=0.12
    )
    ax_acc.set_ylim(0, 1.02)
    return fig


def optimizer_paths(
    surface: tuple[np.ndarray, np.ndarray, np.ndarray],
    paths: Mapping[str, np.ndarray],
    *,
    minimum: tuple[float, float] | None = None,
    title: str = "",
) -> Figure:
    """Draw optimisation trajectories over the contour lines of a 2-D loss surface.

    **Shapes:** ``surface`` is ``(U, V, Z)`` from ``np.meshgrid`` (all (R, S), Z the loss);
    each path is (T, 2), the parameter pair after every step, starting point first.

    Returns a Figure: loss contours (viridis, log-spaced), one line with dots per path, the
    start marked by a square and the minimum by a star.
    """
    u, v, z = (np.asarray(a, dtype=float) for a in surface)
    if not (u.shape == v.shape == z.shape and z.ndim == 2):
        raise ValueError("surface must be three 2-D arrays of one shape (U, V, Z).")
    if not paths:
        raise ValueError("optimizer_paths needs at least one path.")
    fig = Figure(figsize=(6.4, 4.0), layout="constrained")
    ax = fig.subplots()
    positive = z[z > 0]
    low = float(positive.min()) if positive.size else 1e-3
    levels = np.geomspace(max(low, 1e-3), float(z.max()), 14)
    ax.contour(u, v, z, levels=levels, cmap="viridis", linewidths=0.8)
    for i, (name, path) in enumerate(paths.items()):
        p = np.asarray(path, dtype=float)
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"path {name!r} must have shape (T, 2), got {p.shape}.")
        colour = _CH6_COLOURS[i % len(_CH6_COLOURS)]
        ax.plot(p[:, 0], p[:, 1], ".-", color=colour, ms=3.5, lw=1.2, label=name)
        ax.plot(p[0, 0], p[0, 1], "s", color="black", ms=6)
    if minimum is not None:
        ax.plot(*minimum, "*", color="black", ms=13, label="minimum")
    ax.set_xlim(float(u.min()), float(u.max()))
    ax.set_ylim(float(v.min()), float(v.max()))
    ax.set_xlabel("parameter $w_1$")
    ax.set_ylabel("parameter $w_2$")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    return fig


def backprop_step(
    probs: np.ndarray,
    losses: Sequence[float],
    target: Sequence[float],
    classes: Sequence[str],
    *,
    step: int,
) -> Figure:
    """Show one moment of training on a single example: the class probabilities and the loss.

    **Shapes:** ``probs`` (T + 1, K), the probabilities before the first step and after each
    of T steps; ``losses`` (T + 1,); ``target`` (K,) one-hot; ``classes`` K names.

    Returns a Figure: bars of the K probabilities at ``step`` with the target drawn as
    outlines, and the loss curve up to ``step`` on axes fixed for all steps.
    """
    p = np.asarray(probs, dtype=float)
    loss = _ch6_series(losses, "losses")
    t = _ch6_series(target, "target")
    if p.ndim != 2 or p.shape != (loss.size, t.size) or len(classes) != t.size:
        raise ValueError(
            f"probs must be (T + 1, K) matching losses (T + 1,), target (K,) and K class names; "
            f"got {p.shape}, {loss.shape}, {t.shape} and {len(classes)} names."
        )
    if isinstance(step, bool) or not isinstance(step, int | np.integer):
        raise TypeError(f"step must be an int, got {step!r}.")
    if not 0 <= step < loss.size:
        raise ValueError(f"step must lie in 0..{loss.size - 1}, got {step}.")
    fig = Figure(figsize=(8.4, 3.2), layout="constrained")
    ax_bar, ax_loss = fig.subplots(1, 2, width_ratios=[1, 1.15])
    where = np.arange(t.size)
    bars = ax_bar.bar(where, p[step], color=_CH6_COLOURS[0], width=0.6, label="output")
    ax_bar.bar(where, t, fill=False, edgecolor="black", lw=1.5, ls="--", width=0.8, label="target")
    for bar, value in zip(bars, p[step], strict=True):
        ax_bar.text(bar.get_x() + bar.get_width() / 2, value + 0.02, f"{value:.2f}", ha="center")
    ax_bar.set_xticks(where, list(classes))
    ax_bar.set_ylim(0, 1.12)
    ax_bar.set_ylabel("probability")
    ax_bar.set_title(f"after {step} step{'s' if step != 1 else ''}", fontsize=10)
    ax_bar.legend(fontsize=8, loc="upper left")
    steps = np.arange(loss.size)
    ax_loss.plot(steps, loss, color="0.85", lw=1.2)  # the whole run, faint, keeps axes still
    ax_loss.plot(steps[: step + 1], loss[: step + 1], "o-", color=_CH6_COLOURS[1], ms=3)
    ax_loss.set_xlim(-0.5, loss.size - 0.5)
    ax_loss.set_ylim(0, float(np.nanmax(loss)) * 1.1)
    ax_loss.set_xlabel("gradient step")
    ax_loss.set_ylabel("cross-entropy loss")
    ax_loss.set_title(f"loss {loss[step]:.3f}", fontsize=10)
    ax_loss.grid(alpha=0.3)
    return fig


# --- Chapter 7: Capstone: a CNN that reads digits and fruit ---

from matplotlib import colormaps as _colormaps  # noqa: E402
from matplotlib.cm import ScalarMappable  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402

_CH7_GAP_GREY = 0.55  # the frame between tiles: darker than the white of a zero value


def _ch7_tile(picture: np.ndarray, size: int) -> np.ndarray:
    """Centre an RGB picture (h, w, 3) on a ``size`` × ``size`` tile of the frame grey."""
    tile = np.full((size, size, 3), _CH7_GAP_GREY)
    h, w = picture.shape[:2]
    top, left = (size - h) // 2, (size - w) // 2
    tile[top : top + h, left : left + w] = picture
    return tile


def _ch7_with_filters(tiles: list[np.ndarray], filters: np.ndarray) -> list[np.ndarray]:
    """Inset each conv filter (F, C, k, k) in the top-left corner of its map's tile.

    Grey kernels are drawn red/blue around a white zero, colour kernels as small colour
    patches around a mid-grey zero; all filters share one stretch, so strengths compare.
    """
    F, C, k, _ = filters.shape
    size = tiles[0].shape[0]
    block = max(1, round(0.4 * size / k))  # each weight becomes a block of pixels
    limit = float(np.abs(filters).max()) or 1.0
    if C == 1:
        rgb = _colormaps["RdBu_r"](Normalize(-limit, limit)(filters[:, 0]))[..., :3]
    else:
        rgb = filters.transpose(0, 2, 3, 1) / (2 * limit) + 0.5
    big = rgb.repeat(block, axis=1).repeat(block, axis=2)
    side = min(k * block, size - 2)
    out = []
    for tile, picture in zip(tiles, big, strict=True):
        tile = tile.copy()
        tile[: side + 2, : side + 2] = 0.0  # a black frame sets the filter apart from the map
        tile[1 : side + 1, 1 : side + 1] = picture[:side, :side]
        out.append(tile)
    return out


def _ch7_mosaic(tiles: list[np.ndarray], columns: int, gap: int) -> np.ndarray:
    """Lay equal square RGB tiles out in a grid, row by row, with ``gap`` pixels between them."""
    size = tiles[0].shape[0]
    rows = -(-len(tiles) // columns)
    step = size + gap
    out = np.full((rows * step + gap, columns * step + gap, 3), _CH7_GAP_GREY)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        out[gap + r * step : gap + r * step + size, gap + c * step : gap + c * step + size] = tile
    return out


def feature_map_grid(
    image: np.ndarray,
    maps: np.ndarray,
    *,
    signed: bool,
    title: str = "",
    image_title: str = "input",
    filters: np.ndarray | None = None,
) -> Figure:
    """Show one layer's feature maps for one input, all on one colour scale, beside the input.

    Signed maps (a convolution's output before ReLU) are drawn with a diverging colour map
    centred on zero: red positive, blue negative, white zero. Maps after ReLU or pooling are
    never negative and are drawn in viridis from 0. With ``filters`` (the layer's weights,
    first layer only) each map shows the filter that made it, framed in its top-left corner.

    **Shapes:** image (H, W) or (H, W, 3); maps (C, h, w); filters (C, C_in, k, k) with
    C_in 1 or 3.

    Returns the Figure: the input on the left; on the right every map as a tile of one mosaic
    (grey frames between tiles), with a colour bar.
    """
    picture = check_image(image, name="image")
    m = np.asarray(maps, dtype=float)
    if m.ndim != 3 or 0 in m.shape:
        raise ValueError(f"maps must be shaped (C, h, w), one map per channel; got {m.shape}.")
    if not np.all(np.isfinite(m)):
        raise ValueError("maps hold NaN or infinite values; check the model's output.")
    if not signed and m.min() < 0:
        raise ValueError(
            f"maps go down to {m.min():.3g}, but maps after ReLU or pooling are never "
            "negative: pass signed=True for a convolution's output before ReLU."
        )
    limit = float(np.abs(m).max()) or 1.0
    norm = Normalize(-limit, limit) if signed else Normalize(0.0, limit)
    cmap = _colormaps["RdBu_r" if signed else "viridis"]
    size = max(m.shape[1:])
    tiles = [_ch7_tile(rgb, size) for rgb in cmap(norm(m))[..., :3]]
    if filters is not None:
        w = np.asarray(filters, dtype=float)
        if w.ndim != 4 or w.shape[0] != m.shape[0] or w.shape[1] not in (1, 3):
            raise ValueError(
                f"filters must be (C, C_in, k, k) with one filter per map ({m.shape[0]}) and "
                f"C_in 1 or 3; got {w.shape}."
            )
        tiles = _ch7_with_filters(tiles, w)
    # A grid about twice as wide as tall fits the panel, and whole rows waste no space.
    columns = min(
        range(1, len(tiles) + 1),
        key=lambda c: abs(np.log(c / -(-len(tiles) // c) / 2.2)) + (len(tiles) % c > 0),
    )
    mosaic = _ch7_mosaic(tiles, columns, gap=max(1, size // 10))

    fig = Figure(figsize=(9.5, 3.7), layout="constrained")
    ax_in, ax_maps = fig.subplots(1, 2, width_ratios=[1, 3.6])
    _imshow(ax_in, picture)
    ax_in.set_title(image_title, fontsize=8)  # small: a class name may be long
    ax_maps.imshow(mosaic, interpolation="nearest")
    ax_maps.set_xticks([])
    ax_maps.set_yticks([])
    ax_maps.set_title(title, fontsize=10)
    fig.colorbar(
        ScalarMappable(norm=norm, cmap=cmap),
        ax=ax_maps,
        shrink=0.9,
        label="map value (white = 0)" if signed else "map value",
    )
    return fig


__all__ += ["feature_map_grid"]
