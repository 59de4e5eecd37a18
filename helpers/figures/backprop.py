"""Figures for chapter 6 (backpropagation and training): curves, initialisation, optimisers.

``annotated_signed_maps`` prints small gradients with their signs in colour,
``backprop_step`` follows one example's probabilities and loss through gradient steps,
``init_statistics`` compares how initialisations keep activations alive through the layers,
``optimizer_paths`` draws optimisers' trajectories on a loss surface, and ``curve_plot`` /
``train_val_curves`` plot what training records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from helpers.figures.common import _hide_ticks, _signed_imshow

__all__ = [
    "annotated_signed_maps",
    "backprop_step",
    "curve_plot",
    "init_statistics",
    "optimizer_paths",
    "train_val_curves",
]


# The Okabe-Ito palette: lines stay distinguishable for every kind of colour vision.
_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")


def _series(values: object, name: str) -> np.ndarray:
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
        colour = _COLOURS[i % len(_COLOURS)]
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
        _signed_imshow(ax, arr, limit=limit)
        fontsize = 12 if max(arr.shape) <= 5 else 8
        for (r, c), v in np.ndenumerate(arr):
            colour = "white" if abs(v) > 0.6 * limit else "black"
            ax.text(c, r, format(v, fmt), ha="center", va="center", color=colour, fontsize=fontsize)
        ax.set_title(f"{name}\n{arr.shape}", fontsize=11)
        _hide_ticks(ax)
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
        x, y = _series(pair[0], f"x of {label!r}"), _series(pair[1], f"y of {label!r}")
        if x.shape != y.shape:
            raise ValueError(f"curve {label!r}: x has {x.size} values but y has {y.size}.")
        ax.plot(x, y, color=_COLOURS[i % len(_COLOURS)], label=label, lw=1.6)
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
        name: _series(v, name)
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
        ax.plot(ep, series[f"train_{kind}"], color=_COLOURS[0], label=f"training {kind}")
        val_label = f"validation {kind}"
        ax.plot(ep, series[f"val_{kind}"], color=_COLOURS[1], ls="--", label=val_label)
        ax.set_xlabel("epoch")
        ax.set_ylabel(kind)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    ax_acc.fill_between(
        ep, series["val_accuracy"], series["train_accuracy"], color=_COLOURS[1], alpha=0.12
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
        colour = _COLOURS[i % len(_COLOURS)]
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
    loss = _series(losses, "losses")
    t = _series(target, "target")
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
    bars = ax_bar.bar(where, p[step], color=_COLOURS[0], width=0.6, label="output")
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
    ax_loss.plot(steps[: step + 1], loss[: step + 1], "o-", color=_COLOURS[1], ms=3)
    ax_loss.set_xlim(-0.5, loss.size - 0.5)
    ax_loss.set_ylim(0, float(np.nanmax(loss)) * 1.1)
    ax_loss.set_xlabel("gradient step")
    ax_loss.set_ylabel("cross-entropy loss")
    ax_loss.set_title(f"loss {loss[step]:.3f}", fontsize=10)
    ax_loss.grid(alpha=0.3)
    return fig
