"""Figures for chapter 2 (kernels and convolution): kernels, windows, feature maps, padding.

They follow the chapter: ``kernel_grids`` prints kernels as small matrices,
``window_products`` and ``convolution_step`` work one output value out by hand,
``kernel_effect`` and ``kernel_gallery`` apply kernels to pictures, ``padding_grid`` shows
how padding and stride set the output size, and ``multichannel_filter`` adds up the
channels of a colour filter. Values are computed with :mod:`helpers.ops`; small matrices
are drawn as cell grids with every value written in its cell (``_cell_grid``).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle

from helpers import ops
from helpers.figures.common import (
    CHANNELS,
    _check_2d,
    _hide_ticks,
    _imshow,
    _signed_imshow,
    _symmetric_limit,
)
from helpers.images import check_image

__all__ = [
    "convolution_step",
    "kernel_effect",
    "kernel_gallery",
    "kernel_grids",
    "multichannel_filter",
    "padding_grid",
    "signed_maps_row",
    "window_products",
]


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


def _cell_grid(
    ax: Axes,
    values: np.ndarray,
    *,
    signed: bool,
    limit: float | None = None,
    labels: np.ndarray | None = None,
    fontsize: float = 9,
    title: str = "",
) -> AxesImage:
    """Draw a small matrix as cells with thin borders and each value written in its cell.

    **Shapes:** values (H, W); ``labels`` (H, W) of strings replaces the printed values.

    Signed matrices (kernels, products, feature maps) use a diverging map centred on zero;
    unsigned ones (pixels) use grey from 0 to ``limit``. Returns the AxesImage.
    """
    arr = np.asarray(values, dtype=float)
    if signed:
        lim = limit if limit is not None else _symmetric_limit(arr)
        im = _signed_imshow(ax, arr, limit=lim)
    else:
        lim = limit if limit is not None else (255.0 if np.nanmax(arr) > 1 else 1.0)
        im = ax.imshow(arr, cmap="gray", vmin=0, vmax=lim, interpolation="nearest")
    for (r, c), v in np.ndenumerate(arr):
        if signed:
            colour = "white" if abs(v) > 0.6 * lim else "black"
        else:
            colour = "black" if (np.isnan(v) or v > 0.5 * lim) else "white"
        text = str(labels[r, c]) if labels is not None else _value_label(v)
        ax.text(c, r, text, ha="center", va="center", color=colour, fontsize=fontsize)
    # Cell borders as two line collections: much faster to lay out than minor-tick grids.
    h, w = arr.shape
    ax.hlines(np.arange(-0.5, h), -0.5, w - 0.5, color="0.6", linewidth=0.6)
    ax.vlines(np.arange(-0.5, w), -0.5, h - 0.5, color="0.6", linewidth=0.6)
    _hide_ticks(ax)
    ax.set_title(title, fontsize=10)
    return im


def _kernel_labels(kernel: np.ndarray) -> np.ndarray:
    """Return every weight of ``kernel`` written as in print (1/9, -2), for ``_cell_grid``."""
    return np.vectorize(_weight_label, otypes=[object])(kernel)


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
    fmap = ops.correlate2d(img, k) + float(bias)
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


def _draw_feature_map(
    ax: Axes, fmap: np.ndarray, kernel: np.ndarray, top: float
) -> AxesImage | None:
    """Draw a map as a picture (grey, clipped) if its kernel keeps brightness, else signed.

    **Shapes:** fmap (OH, OW); ``top`` is the picture's white (255 or 1).

    Returns the AxesImage of a signed map, which wants a colour bar, or None for a picture.
    """
    if _shows_as_picture(kernel):
        ax.imshow(np.clip(fmap, 0, top), cmap="gray", vmin=0, vmax=top, interpolation="nearest")
        return None
    return _signed_imshow(ax, fmap)


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
    fmap = ops.correlate2d(img, k)
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
    signed = _draw_feature_map(ax_map, fmap, k, top)
    if signed is None:
        how = "picture, clipped to 0-255" if top > 1 else "picture, clipped to 0-1"
    else:
        fig.colorbar(signed, ax=ax_map, shrink=0.8)
        how = "signed: red > 0 > blue"
    ax_map.set_title(f"feature map {fmap.shape}\n{how}", fontsize=9)
    _hide_ticks(ax_map)
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
            _draw_feature_map(ax, ops.correlate2d(img, k), k, top)
            ax.set_title(k_name, fontsize=9)
            _hide_ticks(ax)
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
        im = _signed_imshow(ax, arr, limit=lim)
        ax.set_title(f"{name}\n{arr.shape}", fontsize=9)
        _hide_ticks(ax)
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
    oh = ops.output_size(H, kernel_size, stride, padding)
    ow = ops.output_size(W, kernel_size, stride, padding)
    padded = ops.pad2d(img, padding=padding, mode=mode)
    box = np.full((kernel_size, kernel_size), 1.0 / kernel_size**2)
    out = ops.correlate2d(img, box, stride=stride, padding=padding, mode=mode)
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
    per_channel = [ops.correlate2d(img[:, :, c], k[c]) for c in range(3)]
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
        im = _signed_imshow(axes[2, c], per_channel[c], limit=lim)
        axes[2, c].set_title(f"{name} map", fontsize=10)
        _hide_ticks(axes[2, c])
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
    im2 = _signed_imshow(axes[2, 3], total)
    axes[2, 3].set_title(f"one feature map {total.shape}", fontsize=10)
    _hide_ticks(axes[2, 3])
    fig.colorbar(im2, ax=axes[2, 3], shrink=0.8)
    return fig
