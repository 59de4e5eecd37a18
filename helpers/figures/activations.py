"""Figures for chapter 3 (activations): activation curves, maps before and after, decision regions.

``apply_activation`` runs a named activation through the forward/backward pair of
:mod:`helpers.ops`, so the curves and slopes drawn here are exactly what the NumPy network
computes. ``activation_curves`` plots the four activations and their slopes,
``activation_explorer`` follows one feature map through an activation with a bias, and
``decision_regions`` colours the plane by each model's prediction.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from helpers import ops
from helpers.figures.common import _check_2d, _hide_ticks, _signed_imshow, _symmetric_limit

__all__ = [
    "ACTIVATION_NAMES",
    "activation_curves",
    "activation_explorer",
    "apply_activation",
    "decision_regions",
]


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
        "relu": (ops.relu_forward, ops.relu_backward),
        "leaky_relu": (lambda v: ops.leaky_relu_forward(v, slope=slope), ops.leaky_relu_backward),
        "sigmoid": (ops.sigmoid_forward, ops.sigmoid_backward),
        "tanh": (ops.tanh_forward, ops.tanh_backward),
    }
    if name not in ops_by_name:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATION_NAMES)}; got {name!r}.")
    forward, backward = ops_by_name[name]
    out, cache = forward(x)
    return out, backward(np.ones_like(out), cache)


def _activation_title(name: str, slope: float) -> str:
    """Return the formula of a named activation, as a panel title."""
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
    fig.colorbar(_signed_imshow(ax_z, z), ax=ax_z, shrink=0.8)
    ax_z.set_title(f"z = map + bias ({bias:+g})\n{np.mean(z < 0):.0%} of values < 0", fontsize=9)
    fig.colorbar(_signed_imshow(ax_a, out), ax=ax_a, shrink=0.8)
    ax_a.set_title(
        f"after {activation}: range {out.min():.2f} to {out.max():.2f}\n"
        f"{np.mean(out == 0):.0%} exactly 0, {np.mean(out < 0):.0%} < 0",
        fontsize=9,
    )
    for ax in (ax_z, ax_a):
        _hide_ticks(ax)
    span = max(_symmetric_limit(z), 1.0)
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
        _hide_ticks(ax)
    axes[0].legend(fontsize=7, loc="lower left")
    return fig
