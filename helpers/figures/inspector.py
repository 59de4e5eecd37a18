"""Figures for the unit inspector of chapter 7: one unit of a trained network, taken apart.

Each function draws a ``UnitInspection`` (from :func:`helpers.inspector.inspect_unit`) or a
list of ``TopPatch``: ``unit_field`` the input with the unit's receptive field,
``forward_breakdown`` how the unit's value is summed up, ``saliency_occlusion`` which pixels
move the unit and which the class score needs, ``top_patches_grid`` where a channel responds
most. ``plot_unit`` puts the essentials on one page; the demo in
:mod:`helpers.demos.inspector` draws one per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from helpers.figures.common import _hide_ticks, _imshow, _signed_imshow, _symmetric_limit

__all__ = [
    "forward_breakdown",
    "plot_unit",
    "saliency_occlusion",
    "top_patches_grid",
    "unit_field",
]

_FIELD = "#ff8c00"  # the receptive field's outline: orange shows on grey, red and blue alike
_POSITIVE, _NEGATIVE = "#b2182b", "#2166ac"  # the ends of the signed scale


def _check_inspection(ins: Any) -> None:
    if not all(hasattr(ins, name) for name in ("layer", "field", "partial_sums", "saliency")):
        raise TypeError(
            f"expected the UnitInspection that helpers.inspector.inspect_unit returns, "
            f"got {type(ins).__name__}."
        )


def _picture(image: np.ndarray) -> np.ndarray:
    """Return a (C, H, W) network input as something ``_imshow`` draws: (H, W) or (H, W, 3)."""
    return image[0] if image.shape[0] == 1 else np.clip(image.transpose(1, 2, 0), 0, 1)


def _outline(ax: Axes, field: tuple[int, int, int, int], **style: Any) -> None:
    """Draw a (top, left, bottom, right) inclusive box of pixels around their cell edges."""
    top, left, bottom, right = field
    box = Rectangle(
        (left - 0.5, top - 0.5), right - left + 1, bottom - top + 1, fill=False, **style
    )
    ax.add_patch(box)


def _unit_name(ins: Any) -> str:
    return f"{ins.layer}[{ins.channel}] at ({ins.row}, {ins.col})"


def _draw_field(ax: Axes, ins: Any) -> None:
    top, left, bottom, right = ins.field
    _imshow(ax, _picture(ins.image))
    _outline(ax, ins.field, ec=_FIELD, lw=2.2)
    _outline(ax, ins.measured_field, ec="white", lw=1.0, ls=(0, (2, 2)))
    ax.set_title(
        f"receptive field {bottom - top + 1}×{right - left + 1}\n"
        f"rows {top}–{bottom}, cols {left}–{right}",
        fontsize=9,
    )


def _draw_signed(ax: Axes, values: np.ndarray, title: str, field: Any = None) -> None:
    _signed_imshow(ax, values)
    if field is not None:
        _outline(ax, field, ec=_FIELD, lw=1.6)
    ax.set_title(title, fontsize=9)
    _hide_ticks(ax)


def _draw_sums(ax: Axes, ins: Any) -> None:
    """Bar chart: each input channel's partial sum, then the bias and the pre-ReLU total."""
    sums = ins.partial_sums
    values = np.append(sums, [ins.bias, ins.pre_relu])
    colours = [_POSITIVE if v > 0 else _NEGATIVE for v in sums]
    positions = np.arange(len(values))
    positions[-2:] += 2  # a gap sets the bias and the total apart from the channels
    ax.bar(positions[:-2], sums, color=colours, width=0.8)
    ax.bar(positions[-2], ins.bias, color="0.5", width=0.8)
    ax.bar(positions[-1], ins.pre_relu, color="black", width=0.8)
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xticks([positions[-2], positions[-1]], ["bias", "sum"], fontsize=7, rotation=90)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlabel(f"partial sum of each input channel ({len(sums)})", fontsize=8)
    ax.margins(x=0.01)


def _chain(ins: Any) -> str:
    """The unit's forward pass in one line: sums, bias, ReLU, pool."""
    text = (
        f"Σ {ins.partial_sums.sum():+.3f} + bias {ins.bias:+.3f} = {ins.pre_relu:+.3f}"
        f"  →ReLU→ {ins.post_relu:.3f}"
    )
    if ins.pooled is not None:
        verdict = "won its window" if ins.won_pool else "lost its window"
        text += f"  →pool→ {ins.pooled:.3f} ({verdict})"
    elif ins.layer in ("conv1", "conv2"):
        text += "  (in no pool window: dropped)"
    else:
        text += "  (to the dense head)"
    return text


def _strongest(ins: Any, count: int) -> np.ndarray:
    """Indices of the input channels with the largest partial sums in absolute value."""
    return np.argsort(-np.abs(ins.partial_sums), kind="stable")[:count]


def _draw_pairs(axes: np.ndarray, ins: Any) -> None:
    """Fill a (2, n) grid: the input patch (top) and the kernel (bottom) of n channels."""
    chosen = _strongest(ins, axes.shape[1])
    patch_top = max(float(np.abs(ins.patch[chosen]).max()), 1e-12)
    kernel_top = _symmetric_limit(ins.kernels[chosen])
    for column, c in enumerate(chosen):
        ax_patch, ax_kernel = axes[0, column], axes[1, column]
        ax_patch.imshow(ins.patch[c], cmap="viridis", vmin=0, vmax=patch_top)
        ax_patch.set_title(f"ch {c}: {ins.partial_sums[c]:+.2f}", fontsize=8)
        _signed_imshow(ax_kernel, ins.kernels[c], limit=kernel_top)
        _hide_ticks(ax_patch)
        _hide_ticks(ax_kernel)
    axes[0, 0].set_ylabel("input", fontsize=8)
    axes[1, 0].set_ylabel("kernel", fontsize=8)


def unit_field(ins: Any) -> Figure:
    """Show the input with the unit's receptive field outlined.

    Solid orange: the field from chapter 4's recurrence; dashed white: the one measured by
    backpropagation (the two coincide).

    Returns a Figure with one panel.
    """
    _check_inspection(ins)
    fig = Figure(figsize=(3.4, 3.6), layout="constrained")
    _draw_field(fig.subplots(), ins)
    fig.suptitle(_unit_name(ins), fontsize=10)
    return fig


def forward_breakdown(ins: Any, *, channels: int = 6) -> Figure:
    """Show how the unit's value is computed: patches, kernels, partial sums, bias, ReLU, pool.

    The ``channels`` input channels with the largest partial sums (in absolute value) show
    their input patch (viridis from 0) and their kernel (red positive, blue negative); the
    bar chart shows every channel's partial sum, the bias and their total, the pre-ReLU value.

    Returns a Figure.
    """
    _check_inspection(ins)
    n = max(1, min(int(channels), len(ins.partial_sums)))
    fig = Figure(figsize=(9.5, 4.2), layout="constrained")
    top, bottom = np.asarray(fig.subfigures(2, 1, height_ratios=[1.15, 1])).ravel()
    _draw_pairs(np.asarray(top.subplots(2, n, squeeze=False)), ins)
    top.suptitle(f"{_unit_name(ins)}: the {n} input channels that weigh most", fontsize=10)
    _draw_sums(bottom.subplots(), ins)
    bottom.suptitle(_chain(ins), fontsize=9)
    return fig


def saliency_occlusion(ins: Any) -> Figure:
    """Show side by side what moves the unit and what the class score needs.

    Left: the saliency, d unit / d pixel, zero outside the receptive field (outlined).
    Right: the occlusion map, how much the class score drops when a square centred on each
    pixel is hidden. Both red positive, blue negative.

    Returns a Figure with two panels.
    """
    _check_inspection(ins)
    fig = Figure(figsize=(6.4, 3.4), layout="constrained")
    ax_sal, ax_occ = fig.subplots(1, 2)
    _draw_signed(ax_sal, ins.saliency.sum(axis=0), "saliency: d unit / d pixel", ins.field)
    _draw_signed(
        ax_occ,
        ins.occlusion,
        f"occlusion ({ins.occlusion_size}×{ins.occlusion_size}): drop of score {ins.target}",
    )
    return fig


def top_patches_grid(patches: Sequence[Any], *, title: str = "", columns: int = 9) -> Figure:
    """Show the input patches where a channel responded most, strongest first.

    **Shapes:** each patch's crop (C, fh, fw); all are drawn on one grey scale.

    Returns a Figure with one small panel per patch, titled with its response.
    """
    if not patches:
        raise ValueError("top_patches_grid needs at least one patch (see top_patches).")
    columns = max(1, min(columns, len(patches)))
    rows = -(-len(patches) // columns)
    fig = Figure(figsize=(1.1 * columns, 1.25 * rows + 0.3), layout="constrained")
    axes = np.asarray(fig.subplots(rows, columns, squeeze=False)).ravel()
    top = max(float(max(p.crop.max() for p in patches)), 1e-12)
    for ax, p in zip(axes, patches, strict=False):
        _imshow(ax, _picture(p.crop), vmax=top)
        ax.set_title(f"{p.value:.2f}", fontsize=8)
    for ax in axes[len(patches) :]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_unit(ins: Any, *, channels: int = 4, title: str = "", detail: bool = True) -> Figure:
    """Put one unit on one page: field, forward computation, and both backward views.

    Top row: the input with the receptive field, the channel's gradient of the class score
    (d score / d unit at every position; the unit ringed), the saliency and the occlusion
    map. Bottom row: the patches and kernels of the ``channels`` weightiest input channels,
    and the partial sums with the forward chain as its title. ``title`` is put before the
    unit's name. ``detail=False`` keeps the top row only, with the forward chain in its
    heading: half the picture, for a demo of many frames on a page with a weight budget.

    Returns the Figure.
    """
    _check_inspection(ins)
    upper: Any  # the figure itself, or its top half
    if not detail:
        fig = Figure(figsize=(10.5, 3.0), layout="constrained")
        upper = fig
    else:
        fig = Figure(figsize=(10.5, 5.6), layout="constrained")
        upper, lower = np.asarray(fig.subfigures(2, 1, height_ratios=[1, 1.05])).ravel()
    ax_field, ax_grad, ax_sal, ax_occ = upper.subplots(1, 4)
    _draw_field(ax_field, ins)
    _draw_signed(
        ax_grad,
        ins.score_map,
        f"d score {ins.target} / d {ins.layer}[{ins.channel}]\nhere: {ins.score_gradient:+.3g}",
    )
    ax_grad.add_patch(Rectangle((ins.col - 0.5, ins.row - 0.5), 1, 1, fill=False, ec=_FIELD, lw=2))
    _draw_signed(ax_sal, ins.saliency.sum(axis=0), "saliency:\nd unit / d pixel", ins.field)
    _draw_signed(
        ax_occ,
        ins.occlusion,
        f"occlusion: drop of score {ins.target}\n"
        f"({ins.occlusion_size}×{ins.occlusion_size} square hidden)",
    )
    verdict = f"predicted {ins.predicted} ({ins.probabilities[ins.predicted]:.0%})"
    heading = f"{_unit_name(ins)}; {verdict}"
    heading = f"{title} · {heading}" if title else heading
    if not detail:
        upper.suptitle(f"{heading}\n{_chain(ins)}", fontsize=10)
        return fig
    upper.suptitle(heading, fontsize=11)

    n = max(1, min(int(channels), len(ins.partial_sums)))
    # At least room for the title, when a first layer on greyscale has a single channel.
    left, right = lower.subfigures(1, 2, width_ratios=[max(n, 2.5) * 0.9, 4.2])
    _draw_pairs(np.asarray(left.subplots(2, n, squeeze=False)), ins)
    left.suptitle("weightiest channels: input / kernel", fontsize=9)
    _draw_sums(right.subplots(), ins)
    right.suptitle(_chain(ins), fontsize=9)
    return fig
