"""Figures for chapter 4 (pooling): pooled maps, window winners, receptive fields.

``pool_map`` pools one 2-D map with the layers of :mod:`helpers.ops`; ``pooling_kinds``
prints max, average and sum pooling side by side, ``pooling_explorer`` shows which pixel
wins each window and what a small shift of the input changes, and ``window_coverage`` /
``coverage_panels`` count how often each pixel is read. ``receptive_fields`` outlines how
much of the picture one unit of each layer sees, and ``max_pool_backward_routing`` draws
where the backward pass of max pooling sends each window's gradient.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from helpers import ops
from helpers.figures.common import _annotate_cells, _hide_ticks, _imshow
from helpers.images import check_image

__all__ = [
    "POOL_KINDS",
    "coverage_panels",
    "max_pool_backward_routing",
    "pool_map",
    "pooling_explorer",
    "pooling_kinds",
    "receptive_fields",
    "window_coverage",
    "window_winners",
]


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


def pool_map(
    fmap: np.ndarray, *, kind: str = "max", size: int = 2, stride: int | None = None
) -> np.ndarray:
    """Pool one 2-D map with the course's NumPy ops (max, avg or sum).

    **Shapes:** fmap (H, W) -> (OH, OW) with ``OH = (H - size) // stride + 1``.

    Returns the pooled map as a float array; ``stride`` defaults to ``size``.
    """
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
    """Draw a small map as coloured cells with every value written in its cell.

    **Shapes:** values (H, W), non-negative, on the scale from 0 to ``vmax``.
    """
    ax.imshow(values, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
    _annotate_cells(ax, values, top=vmax, fmt=fmt, fontsize=fontsize)
    _hide_ticks(ax)


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


def _draw_pooled_input(
    ax: Axes, picture: np.ndarray, pooled: np.ndarray, *, kind: str, size: int, stride: int
) -> str:
    """Draw a small picture with its pooling windows outlined and its lit pixels' values.

    **Shapes:** picture (H, W) uint8; pooled (OH, OW), its map after ``kind`` pooling.

    Pixels that no window reads are hatched; for max pooling, each window's winning pixel
    is circled. Returns the note that explains the marks, for the panel's title.
    """
    ax.imshow(picture, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    # Only the lit pixels get a number: the zeros are plain black, and skipping them halves
    # the drawing time of the demo's many frames.
    for r, c in zip(*np.nonzero(picture), strict=True):
        colour = "black" if picture[r, c] > 127 else "white"
        ax.text(c, r, str(picture[r, c]), ha="center", va="center", color=colour, fontsize=6.5)
    counts = window_coverage(picture.shape, size=size, stride=stride)
    for r, c in zip(*np.nonzero(counts == 0), strict=True):
        ax.add_patch(
            Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, hatch="///", ec="#d95f02", lw=0)
        )
    for wtop in range(0, picture.shape[0] - size + 1, stride):
        for wleft in range(0, picture.shape[1] - size + 1, stride):
            ax.add_patch(
                Rectangle((wleft - 0.5, wtop - 0.5), size, size, fill=False, ec="#1b9e77", lw=1.3)
            )
    if kind != "max":
        return "every pixel of a window counts"
    rows, cols = window_winners(picture, size=size, stride=stride)
    # In an all-black window every pixel ties for the win; circling one would mislead.
    lit = pooled > 0
    ax.scatter(cols[lit], rows[lit], s=150, facecolors="none", edgecolors="#d95f02")
    return "circled: the pixel that wins its window"


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
    note = _draw_pooled_input(ax_in, after, pooled_after, kind=kind, size=size, stride=stride)
    _hide_ticks(ax_in)
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
        small = 6.5 if values.shape[0] > 6 else 8.5
        _grid_panel(ax, values, cmap="gray", vmax=top_value, fmt=fmt, fontsize=small)
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


def max_pool_backward_routing(
    fmap: np.ndarray, dout: np.ndarray, *, size: int, stride: int
) -> Figure:
    """Draw the backward pass of max pooling: each window's gradient lands on its winner.

    **Shapes:** fmap (H, W) and dout (OH, OW), the pooled shape; both at most 8 x 8.

    Returns a Figure with three panels: the map with each window's winning pixel circled
    (ties go to the first maximum in reading order, as in ``ops.max_pool2d_backward``), the
    gradient ``dout`` of the pooled map, and ``dx``, where every pixel shows the sum of the
    ``dout`` values routed to it, written out as a sum where windows overlap.
    """
    arr = np.asarray(fmap, dtype=float)
    grad = np.asarray(dout, dtype=float)
    _check_pool_args(arr, "max", size, stride)
    pooled_shape = pool_map(arr, size=size, stride=stride).shape
    if grad.shape != pooled_shape:
        raise ValueError(f"dout must have the pooled shape {pooled_shape}, got {grad.shape}.")
    if max(arr.shape) > 8:
        raise ValueError(f"max_pool_backward_routing draws maps of at most 8 x 8, got {arr.shape}.")
    rows, cols = window_winners(arr, size=size, stride=stride)
    # Who sends what where: the dout values each pixel collects, in window order.
    collected: dict[tuple[int, int], list[float]] = {}
    for (i, j), g in np.ndenumerate(grad):
        collected.setdefault((int(rows[i, j]), int(cols[i, j])), []).append(float(g))
    dx = np.zeros_like(arr)
    for (r, c), parts in collected.items():
        dx[r, c] = sum(parts)

    fig = Figure(figsize=(11, 4.0), layout="constrained")
    ax_x, ax_dout, ax_dx = fig.subplots(1, 3)
    panels = (
        (ax_x, arr, "Greys", {}),
        (ax_dout, grad, "Blues", {}),
        (ax_dx, dx, "Blues", collected),
    )
    for ax, values, cmap, sums in panels:
        # Pale colours (the scale runs to 1.6 x the largest value) keep black text readable.
        top = float(np.abs(values).max()) or 1.0
        ax.imshow(np.abs(values), cmap=cmap, vmin=0, vmax=1.6 * top, interpolation="nearest")
        for (r, c), value in np.ndenumerate(values):
            parts = sums.get((r, c), [])
            label = format(value, "g")
            if len(parts) > 1:
                label += "\n= " + "+".join(format(p, "g") for p in parts)
            quiet = ax is ax_dx and value == 0
            ax.text(
                c,
                r,
                label,
                ha="center",
                va="center",
                color="#999999" if quiet else "black",
                fontsize=8.5 if len(parts) > 1 else 11,
            )
        _hide_ticks(ax)
    winners = sorted(collected)
    ax_x.scatter(
        [c for _, c in winners],
        [r for r, _ in winners],
        s=900,
        facecolors="none",
        edgecolors="#d95f02",
        linewidths=2.2,
    )
    ax_x.set_title(
        f"input {arr.shape}, {size}x{size} windows, stride {stride}\n"
        "circled: the first maximum of a window",
        fontsize=10,
    )
    ax_dout.set_title(f"dout {grad.shape}\none gradient per window", fontsize=10)
    ax_dx.set_title(
        f"dx {dx.shape}\neach winner collects dout of every window it wins", fontsize=10
    )
    return fig
