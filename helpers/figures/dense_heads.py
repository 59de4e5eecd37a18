"""Figures for chapter 5 (dense heads and softmax): flatten order, connections, softmax bars.

``flatten_order`` shows where each value of a stack of maps lands in the flat vector,
``dense_connections`` draws a dense layer as wires and as its weight matrix,
``softmax_bars`` turns class scores into probabilities at a chosen temperature,
``cross_entropy_curve`` plots the loss -log p against the probability of the true class, and
``network_sizes`` plots how many numbers each layer of a whole network hands on.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from helpers import ops
from helpers.figures.common import _SIGNED_CMAP, _hide_ticks, _signed_imshow

__all__ = [
    "cross_entropy_curve",
    "dense_connections",
    "flatten_order",
    "network_sizes",
    "softmax_bars",
]


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
        _hide_ticks(ax)
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
    cmap = colormaps[_SIGNED_CMAP]
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
    im = _signed_imshow(ax_mat, arr, limit=limit)
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
    cmap = colormaps[_SIGNED_CMAP]
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


def cross_entropy_curve(
    marks: Mapping[str, float] | None = None, *, clip: float = 1e-12, smallest: float = 1e-30
) -> Figure:
    """Plot the cross-entropy of one example, -log p, against the probability p of its true class.

    **Shapes:** ``marks`` maps a label to a probability in (0, 1], drawn as a labelled point
    on the left panel; ``clip`` and ``smallest`` are probabilities in (0, 1).

    Returns a Figure with two panels. Left: p from 0 to 1 on a linear axis, where the loss is
    0 for a sure right answer and climbs steeply as p nears 0. Right: p on a log axis down to
    ``smallest``: the exact loss keeps growing, while the loss of probabilities clipped to
    ``[clip, 1]`` stays flat below ``clip``, so it has no slope there (no gradient).
    """
    marks = dict(marks or {})
    for label, p in marks.items():
        if not 0 < p <= 1:
            raise ValueError(f"the probability of mark {label!r} must lie in (0, 1], got {p}.")
    if not 0 < smallest < clip < 1:
        raise ValueError(
            f"need 0 < smallest < clip < 1 for the log panel, got smallest={smallest}, clip={clip}."
        )
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    ax_lin, ax_log = fig.subplots(1, 2)
    p = np.linspace(0.002, 1, 500)
    ax_lin.plot(p, -np.log(p), color="#21918c", lw=2)
    for label, q in marks.items():
        loss = -np.log(q)
        ax_lin.plot([q], [loss], "o", color="#d95f02", zorder=3)
        # Write the label above the point, towards the middle of the panel.
        right = q > 0.5
        ax_lin.annotate(
            f"{label}\np = {q:.2g}, loss {loss:.2f}",
            (q, loss),
            xytext=(-8 if right else 8, 12),
            textcoords="offset points",
            ha="right" if right else "left",
            fontsize=8,
        )
    ax_lin.set_xlim(0, 1.02)
    ax_lin.set_ylim(0, -np.log(p[0]) * 1.05)
    ax_lin.set_xlabel("probability of the true class, p")
    ax_lin.set_ylabel("loss  -log p")
    ax_lin.set_title("cross-entropy of one example", fontsize=10)

    q = np.logspace(np.log10(smallest), 0, 400)
    cap = -np.log(clip)
    ax_log.plot(q, -np.log(q), color="#21918c", lw=2, label="exact, from the scores")
    ax_log.plot(
        q,
        -np.log(np.clip(q, clip, 1)),
        color="#d95f02",
        lw=2,
        ls="--",
        label=f"probabilities clipped at {clip:g}",
    )
    ax_log.axvline(clip, color="grey", lw=0.8, ls=":")
    ax_log.set_xscale("log")
    ax_log.set_xlim(smallest, 1)
    ax_log.set_ylim(0, -np.log(smallest) * 1.05)
    ax_log.set_xlabel("probability of the true class, p (log scale)")
    ax_log.set_ylabel("loss")
    ax_log.set_title(f"below p = {clip:g} a clipped loss stays at {cap:.2f}", fontsize=10)
    ax_log.legend(fontsize=8, loc="upper right")
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
        ax.legend(
            handles=[
                Patch(fc="#9e9ac8", ec="black", label="feature extractor"),
                Patch(fc="#fd8d3c", ec="black", label="dense head (classifier)"),
            ],
            loc="upper right",
            fontsize=8,
        )
    return fig
