"""Pictures of training results: curves, confusion matrix, mistakes, filters and feature maps.

Every function is pure: it draws on a new ``matplotlib.figure.Figure`` (no pyplot state) and
returns it; nothing passed in is modified. In a notebook the figure shows itself when it is
the value of a cell; elsewhere call ``fig.savefig(...)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from torch import nn

from helpers.torch import History, confusion_matrix
from helpers.torch.models import feature_maps

__all__ = [
    "plot_class_frequencies",
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_first_layer_filters",
    "plot_history",
    "plot_misclassified",
]


def plot_history(history: History | dict) -> Figure:
    """Draw loss and accuracy, training against validation, side by side.

    A history from ``fit(..., log_every=...)`` carries a ``log`` measured several times per
    epoch: then every logged point is drawn, on an axis of (fractional) epochs, the training
    values being averages over the batches since the previous point. Otherwise (or for a dict
    of per-epoch lists) there is one point per epoch. The accuracies are drawn as they are
    stored, fractions from 0 to 1; only the axis labels read as percentages.

    Returns the Figure.
    """
    columns = history.as_dict() if isinstance(history, History) else history
    epochs = columns["epoch"]
    if not epochs:
        raise ValueError("The history is empty: train for at least one epoch first.")
    log = getattr(history, "log", None)
    fine = log is not None and len(log) > len(epochs)
    if log is not None and fine:
        columns = log.as_dict()
    x = np.asarray(columns["epoch"], dtype=float)
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    for ax, key in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        # Fine logs have many points: small dots, so that the line stays readable.
        ax.plot(x, columns[f"train_{key}"], ".-" if fine else "o-", label="training")
        validation = np.asarray(columns[f"val_{key}"], dtype=float)
        measured = ~np.isnan(validation)
        if measured.any():
            ax.plot(x[measured], validation[measured], "s--", label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        if fine:
            ax.set_xlim(0, max(epochs))
            ax.set_xticks(range(0, max(epochs) + 1))
        else:
            ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
        ax.legend()
    acc_ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    loss_ax.set_title("Loss (lower is better)")
    acc_ax.set_title("Accuracy (higher is better)")
    return fig


def plot_confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, *, class_names: Sequence[str]
) -> Figure:
    """Draw how often each true class (row) was predicted as each class (column).

    **Shapes:** y_true (N,), y_pred (N,) integer labels.

    Returns the Figure.
    """
    k = len(class_names)
    matrix = confusion_matrix(y_true, y_pred, num_classes=k)
    fig = Figure(figsize=(1.0 + 0.6 * k, 0.8 + 0.6 * k), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8, label="images")
    ax.set_xticks(range(k), class_names, rotation=45, ha="right")
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    threshold = matrix.max() / 2
    for (row, col), count in np.ndenumerate(matrix):
        colour = "white" if count > threshold else "black"
        ax.text(col, row, str(count), ha="center", va="center", color=colour, fontsize=8)
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    ax.set_title(f"Confusion matrix ({accuracy:.2%} correct)")
    return fig


def _as_display_images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] in (1, 3) and images.shape[-1] not in (1, 3):
        images = images.transpose(0, 2, 3, 1)  # (N, C, H, W) → (N, H, W, C) for imshow
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4):
        raise ValueError(
            f"images must be (N, H, W), (N, H, W, C) or (N, C, H, W); got {images.shape}."
        )
    return images


def plot_misclassified(
    images: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    class_names: Sequence[str],
    max_images: int = 16,
    per_class: int | None = None,
) -> Figure:
    """Show the first images the model got wrong, each titled "true → predicted".

    ``per_class=k`` shows instead up to k mistakes of each true class, class by class and
    spread over that class's mistakes, so that one class with many mistakes does not fill the
    whole grid (``max_images`` is then ignored). The title counts every mistake either way.

    **Shapes:** images (N, H, W), (N, H, W, C) or (N, C, H, W); y_true, y_pred (N,).

    Returns the Figure (with a note instead of pictures when nothing was wrong).
    """
    images = _as_display_images(images)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if not len(images) == len(y_true) == len(y_pred):
        raise ValueError(
            f"images, y_true and y_pred must be equally long; got {len(images)}, "
            f"{len(y_true)}, {len(y_pred)}."
        )
    wrong = np.flatnonzero(y_true != y_pred)
    if per_class is not None:
        if per_class < 1:
            raise ValueError(f"per_class must be at least 1, got {per_class}.")
        picked = []
        for c in range(len(class_names)):
            mine = wrong[y_true[wrong] == c]
            # Spread over the class's mistakes: neighbours in a data set are often alike.
            spread = np.unique(np.linspace(0, len(mine) - 1, min(per_class, len(mine))).round())
            picked.append(mine[spread.astype(int)])
        shown = np.concatenate(picked).astype(int)
    else:
        shown = wrong[:max_images]
    if len(shown) == 0:
        fig = Figure(figsize=(4, 1.5))
        fig.text(0.5, 0.5, "No misclassified images.", ha="center", va="center")
        return fig
    cols = min(len(shown), 8)
    rows = math.ceil(len(shown) / cols)
    fig = Figure(figsize=(1.6 * cols, 1.8 * rows + 0.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, i in zip(axes, shown, strict=False):
        ax.imshow(images[i], cmap="gray" if images.ndim == 3 else None)
        truth, guess = class_names[int(y_true[i])], class_names[int(y_pred[i])]
        ax.set_title(f"{truth} → {guess}", fontsize=8)
    fig.suptitle(f"Misclassified: {len(wrong)} of {len(y_true)} (true → predicted)")
    return fig


def plot_class_frequencies(
    y_true: np.ndarray, y_pred: np.ndarray, *, class_names: Sequence[str]
) -> Figure:
    """Compare how many images of each class there are with how many were predicted so.

    **Shapes:** y_true (N,), y_pred (N,) integer labels.

    Returns the Figure.
    """
    k = len(class_names)
    true_counts = np.bincount(np.asarray(y_true), minlength=k)
    pred_counts = np.bincount(np.asarray(y_pred), minlength=k)
    if len(true_counts) > k or len(pred_counts) > k:
        raise ValueError(f"labels must lie in 0..{k - 1} (one per class name).")
    fig = Figure(figsize=(max(5.0, 0.7 * k + 1), 3.5), layout="constrained")
    ax = fig.subplots()
    positions = np.arange(k)
    ax.bar(positions - 0.2, true_counts, width=0.4, label="true")
    ax.bar(positions + 0.2, pred_counts, width=0.4, label="predicted")
    ax.set_xticks(positions, class_names, rotation=45 if k > 10 else 0)
    ax.set_ylabel("images")
    ax.set_title("Class frequencies: true vs predicted")
    ax.legend()
    return fig


def plot_first_layer_filters(model: nn.Module) -> Figure:
    """Show every kernel of the model's first convolution, each scaled to its own range.

    Greyscale input gives grey kernels; three-channel input shows each filter as a small
    colour image.

    Returns the Figure.
    """
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise ValueError(f"{type(model).__name__} has no convolution layer to show.")
    w = conv.weight.detach().float().cpu().numpy()  # (F, C, KH, KW)
    F, C = w.shape[:2]
    low = w.min(axis=(1, 2, 3), keepdims=True)
    high = w.max(axis=(1, 2, 3), keepdims=True)
    scaled = (w - low) / np.maximum(high - low, 1e-12)
    cols = min(F, 8)
    rows = math.ceil(F / cols)
    fig = Figure(figsize=(1.2 * cols, 1.3 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes:
        ax.axis("off")
    for f, ax in enumerate(axes[:F]):
        if C == 3:
            ax.imshow(scaled[f].transpose(1, 2, 0), interpolation="nearest")
        else:
            ax.imshow(scaled[f].mean(axis=0), cmap="gray", interpolation="nearest")
        ax.set_title(str(f), fontsize=7)
    fig.suptitle(f"First-layer filters: {F} of {C}×{w.shape[2]}×{w.shape[3]}")
    return fig


def _image_tensor(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(image, torch.Tensor):
        if image.dim() != 3:
            raise ValueError(f"a tensor image must be (C, H, W); got {tuple(image.shape)}.")
        return image.float()
    image = np.asarray(image)
    scale = 255.0 if image.dtype == np.uint8 else 1.0
    if image.ndim == 2:
        image = image[None]
    elif image.ndim == 3:
        image = image.transpose(2, 0, 1)
    else:
        raise ValueError(f"an array image must be (H, W) or (H, W, C); got {image.shape}.")
    return torch.from_numpy(image.astype(np.float32) / scale)


def plot_feature_maps(
    model: nn.Module, image: np.ndarray | torch.Tensor, *, max_maps: int = 8
) -> Figure:
    """Show what every layer outputs for one image: one row per layer, input on top.

    Conv, ReLU and pooling layers show their first ``max_maps`` feature maps; dense layers show
    their output vector as a strip of cells.

    **Shapes:** image (H, W) or (H, W, C) uint8 as the loaders return it, or a (C, H, W) float
    tensor in [0, 1].

    Returns the Figure.
    """
    x = _image_tensor(image)
    maps = feature_maps(model, x)
    rows = len(maps) + 1
    fig = Figure(figsize=(1.3 * max_maps + 1.5, 1.25 * rows), layout="constrained")
    grid = fig.add_gridspec(rows, max_maps)
    top = fig.add_subplot(grid[0, 0])
    picture = x.numpy().transpose(1, 2, 0)
    top.imshow(picture[..., 0] if picture.shape[-1] == 1 else picture, cmap="gray")
    top.set_title("input", fontsize=8)
    top.axis("off")
    for row, (name, out) in enumerate(maps, start=1):
        label = f"{name.rsplit('.', 1)[-1]} {tuple(out.shape)}"
        if out.dim() == 3:
            for c in range(min(max_maps, out.shape[0])):
                ax = fig.add_subplot(grid[row, c])
                ax.imshow(out[c].numpy(), cmap="viridis")
                ax.axis("off")
                if c == 0:
                    ax.set_title(label, fontsize=8, loc="left")
        else:
            ax = fig.add_subplot(grid[row, :])
            ax.imshow(out.reshape(1, -1).numpy(), cmap="viridis", aspect="auto")
            ax.set_yticks([])
            ax.set_title(label, fontsize=8, loc="left")
    fig.suptitle(f"Feature maps of every layer of {type(model).__name__}")
    return fig
