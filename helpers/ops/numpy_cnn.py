"""A small CNN built only from ``helpers.ops``, trained with SGD + momentum on MNIST.

The network of the backpropagation chapter, small enough to read in one sitting::

    x (N, 1, 28, 28)
    -> conv 3x3, F filters, "valid"  -> ReLU -> max pool 2x2   (N, F, 13, 13)
    -> flatten                                                   (N, F*169)
    -> dense H -> ReLU -> dense 10 -> softmax + cross-entropy

Every layer is one ``*_forward`` call on the way in and one ``*_backward`` call on the way
out; training is the textbook loop: shuffle, take a mini-batch, forward, loss, backward,
update the velocity and the weights, repeat. With the defaults it reaches about 98.5 % test
accuracy in a minute or two of CPU time.

>>> from helpers.data import load_mnist
>>> from helpers.ops.numpy_cnn import NumpyCNN, prepare_images, train
>>> x, y = load_mnist("train")
>>> net = NumpyCNN(seed=0)
>>> history = train(net, prepare_images(x), y, epochs=1, time_budget_s=30)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from helpers import ops

# ---------------------------------------------------------------------------------------------
# Data preparation
# ---------------------------------------------------------------------------------------------


def prepare_images(images: Any) -> np.ndarray:
    """Scale uint8 digits to float32 in [0, 1] and add the channel axis.

    **Shapes:** (N, 28, 28) uint8 -> (N, 1, 28, 28) float32.
    """
    arr = np.asarray(images)
    if arr.ndim != 3:
        raise ValueError(f"expected greyscale images of shape (N, H, W), got shape {arr.shape}.")
    if arr.dtype.kind not in "uif":
        raise TypeError(f"images must hold numbers, but their dtype is {arr.dtype}.")
    scale = 255.0 if arr.dtype.kind in "ui" else 1.0
    return (arr[:, None].astype(np.float32) / np.float32(scale)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------


class NumpyCNN:
    """conv 3x3 (``filters``) -> ReLU -> max pool 2 -> dense ``hidden`` -> ReLU -> dense 10.

    **Shapes:** input (N, 1, 28, 28) float32 -> class scores (N, 10).
    ``params`` maps names to float32 arrays: ``w1`` (F, 1, 3, 3), ``b1`` (F,),
    ``w2`` (F*13*13, H), ``b2`` (H,), ``w3`` (H, 10), ``b3`` (10,). Weights start from He
    initialisation (normal with variance 2 / fan-in), which suits ReLU layers; biases start at 0.
    """

    def __init__(self, *, filters: int = 16, hidden: int = 128, seed: int = 0) -> None:
        for name, value in (("filters", filters), ("hidden", hidden)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        rng = np.random.default_rng(seed)
        flat = filters * 13 * 13

        def he(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
            return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)

        self.params: dict[str, np.ndarray] = {
            "w1": he((filters, 1, 3, 3), 9),
            "b1": np.zeros(filters, np.float32),
            "w2": he((flat, hidden), flat),
            "b2": np.zeros(hidden, np.float32),
            "w3": he((hidden, 10), hidden),
            "b3": np.zeros(10, np.float32),
        }

    @property
    def layer_specs(self) -> list[ops.LayerSpec]:
        """The architecture as layer specs, for ``ops.summarize_network(specs, (1, 28, 28))``."""
        f, h = self.params["w1"].shape[0], self.params["w2"].shape[1]
        return [
            ops.Conv2dSpec(1, f, 3, activation="relu"),
            ops.PoolSpec(2),
            ops.FlattenSpec(),
            ops.DenseSpec(f * 13 * 13, h, activation="relu"),
            ops.DenseSpec(h, 10, activation="softmax"),
        ]

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, list[Any]]:
        """Run the layers in order; return the scores and every layer's cache.

        **Shapes:** ``x`` (N, 1, 28, 28) -> scores (N, 10).
        """
        p = self.params
        a, c_conv = ops.conv2d_forward(x, p["w1"], p["b1"])
        a, c_relu1 = ops.relu_forward(a)
        a, c_pool = ops.max_pool2d_forward(a, size=2)
        a, c_flat = ops.flatten_forward(a)
        a, c_dense1 = ops.dense_forward(a, p["w2"], p["b2"])
        a, c_relu2 = ops.relu_forward(a)
        scores, c_dense2 = ops.dense_forward(a, p["w3"], p["b3"])
        return scores, [c_conv, c_relu1, c_pool, c_flat, c_dense1, c_relu2, c_dense2]

    def backward(self, dscores: np.ndarray, caches: list[Any]) -> dict[str, np.ndarray]:
        """Run the layers backwards; return the gradient of every parameter.

        **Shapes:** ``dscores`` (N, 10) -> a dict shaped like ``params``.
        """
        c_conv, c_relu1, c_pool, c_flat, c_dense1, c_relu2, c_dense2 = caches
        grads = {}
        d, grads["w3"], grads["b3"] = ops.dense_backward(dscores, c_dense2)
        d = ops.relu_backward(d, c_relu2)
        d, grads["w2"], grads["b2"] = ops.dense_backward(d, c_dense1)
        d = ops.flatten_backward(d, c_flat)
        d = ops.max_pool2d_backward(d, c_pool)
        d = ops.relu_backward(d, c_relu1)
        _, grads["w1"], grads["b1"] = ops.conv2d_backward(d, c_conv)
        return grads

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, dict]:
        """Return the mean cross-entropy, the scores and the parameter gradients for one batch.

        **Shapes:** ``x`` (N, 1, 28, 28), ``y`` (N,) int labels.
        """
        scores, caches = self.forward(x)
        loss, loss_cache = ops.cross_entropy_forward(scores, y)
        grads = self.backward(ops.cross_entropy_backward(1.0, loss_cache), caches)
        return loss, scores, grads

    def predict(self, x: np.ndarray, *, batch_size: int = 1000) -> np.ndarray:
        """Return the predicted class (arg-max score) of every image.

        **Shapes:** ``x`` (N, 1, 28, 28) -> (N,) int64.
        """
        labels = [
            self.forward(x[i : i + batch_size])[0].argmax(axis=1)
            for i in range(0, len(x), batch_size)
        ]
        return np.concatenate(labels)


def accuracy(net: NumpyCNN, x: np.ndarray, y: np.ndarray) -> float:
    """Return the fraction of images in ``x`` whose predicted class equals ``y``."""
    return float((net.predict(x) == np.asarray(y)).mean())


# ---------------------------------------------------------------------------------------------
# Training: mini-batch SGD with momentum
# ---------------------------------------------------------------------------------------------


@dataclass
class History:
    """What happened during ``train``: one entry per epoch (the last one may be partial)."""

    epoch: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # training time so far, excluding eval
    stopped_by_budget: bool = False

    def as_rows(self) -> list[dict[str, float]]:
        """Return the history as a list of dicts, one per epoch (handy for a CSV or a table)."""
        cols = ("epoch", "steps", "train_loss", "train_accuracy", "val_accuracy", "seconds")
        values = [getattr(self, c) for c in cols]
        rows = []
        for i in range(len(self.epoch)):
            rows.append(
                {
                    c: (v[i] if i < len(v) else float("nan"))
                    for c, v in zip(cols, values, strict=True)
                }
            )
        return rows


def train(
    net: NumpyCNN,
    x: np.ndarray,
    y: np.ndarray,
    *,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    epochs: int = 8,
    batch_size: int = 64,
    learning_rate: float = 0.05,
    momentum: float = 0.9,
    lr_decay: float = 0.7,
    max_steps: int | None = None,
    time_budget_s: float | None = None,
    seed: int = 0,
    verbose: bool = False,
) -> History:
    """Train ``net`` in place with mini-batch SGD + momentum; return the history.

    **Shapes:** ``x`` (N, 1, 28, 28) float32 (see ``prepare_images``), ``y`` (N,) int labels;
    optional validation data in the same layout, scored at the end of every epoch.

    Each step: ``v = momentum * v - lr * grad``, then ``w += v``. The learning rate is
    multiplied by ``lr_decay`` after every epoch. Training stops after ``epochs`` epochs,
    after ``max_steps`` steps, or as soon as ``time_budget_s`` seconds of training (evaluation
    excluded) have passed, whichever comes first.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 4 or x.shape[1:] != (1, 28, 28):
        raise ValueError(f"x must have shape (N, 1, 28, 28); got {x.shape}. Use prepare_images.")
    if y.shape != (len(x),):
        raise ValueError(f"y must hold one label per image, shape ({len(x)},), got {y.shape}.")
    if (x_val is None) != (y_val is None):
        raise ValueError("pass both x_val and y_val, or neither.")
    if batch_size < 1 or epochs < 1:
        raise ValueError("batch_size and epochs must be positive.")
    rng = np.random.default_rng(seed)
    velocity = {k: np.zeros_like(v) for k, v in net.params.items()}
    history = History()
    lr, step, spent = float(learning_rate), 0, 0.0
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x))
        losses, correct, seen = [], 0, 0
        start = time.perf_counter()
        for i in range(0, len(x), batch_size):
            idx = order[i : i + batch_size]
            xb, yb = x[idx], y[idx]
            loss, scores, grads = net.loss_and_grads(xb, yb)
            for k, p in net.params.items():
                v = velocity[k]
                v *= momentum
                v -= np.float32(lr) * grads[k].astype(np.float32, copy=False)
                p += v
            losses.append(loss)
            correct += int((scores.argmax(axis=1) == yb).sum())
            seen += len(idx)
            step += 1
            out_of_time = (
                time_budget_s is not None and spent + time.perf_counter() - start >= time_budget_s
            )
            if out_of_time or (max_steps is not None and step >= max_steps):
                history.stopped_by_budget = out_of_time
                break
        spent += time.perf_counter() - start
        history.epoch.append(epoch)
        history.steps.append(step)
        history.train_loss.append(float(np.mean(losses)))
        history.train_accuracy.append(correct / seen)
        history.seconds.append(spent)
        if x_val is not None:
            history.val_accuracy.append(accuracy(net, x_val, y_val))
        if verbose:
            val = f", val acc {history.val_accuracy[-1]:.4f}" if x_val is not None else ""
            print(
                f"epoch {epoch}: loss {history.train_loss[-1]:.4f}, "
                f"train acc {history.train_accuracy[-1]:.4f}{val}, {spent:.1f} s"
            )
        lr *= lr_decay
        if history.stopped_by_budget or (max_steps is not None and step >= max_steps):
            break
    return history
