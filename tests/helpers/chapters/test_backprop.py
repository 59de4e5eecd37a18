"""Chapter 6 figures and the backprop stepper: right content, frames that move, clear errors."""

from __future__ import annotations

import io

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from helpers import figures, ops
from helpers.demos import StaticDemo, backprop_stepper

CLASSES = ["dog", "cat", "boat", "bird"]
TARGET = np.array([0.0, 0.0, 1.0, 0.0])


def boat_run(steps: int = 5, lr: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Train a softmax layer on one example from [0.2, 0.4, 0.1, 0.3]; return probs and losses."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 6))
    w = rng.normal(scale=0.3, size=(6, 4))
    b = (np.log([[0.2, 0.4, 0.1, 0.3]]) - x @ w)[0]
    probs, losses = [], []
    for _ in range(steps + 1):
        scores, cache = ops.dense_forward(x, w, b)
        loss, loss_cache = ops.cross_entropy_forward(scores, TARGET[None])
        _, dw, db = ops.dense_backward(ops.cross_entropy_backward(1.0, loss_cache), cache)
        probs.append(ops.softmax(scores)[0])
        losses.append(loss)
        w, b = w - lr * dw, b - lr * db
    return np.array(probs), np.array(losses)


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def test_the_boat_output_moves_towards_its_target() -> None:
    probs, losses = boat_run(steps=8)
    np.testing.assert_allclose(probs[0], [0.2, 0.4, 0.1, 0.3], atol=1e-12)
    assert np.all(np.diff(losses) < 0), f"the loss must fall at every step, got {losses}"
    assert np.all(np.diff(probs[:, 2]) > 0), "the boat probability must rise at every step"
    assert np.abs(probs[-1] - TARGET).sum() < np.abs(probs[0] - TARGET).sum()


def test_chapter6_plots_leave_pyplot_alone() -> None:
    probs, losses = boat_run()
    before = plt.get_fignums()
    u, v = np.meshgrid(np.linspace(-1, 1, 5), np.linspace(-1, 1, 4))
    figs = [
        figures.init_statistics({"a": [np.ones(3), np.arange(4.0)]}),
        figures.annotated_signed_maps({"m": np.eye(2)}),
        figures.curve_plot({"c": ([1, 2], [3, 4])}, xlabel="x", ylabel="y"),
        figures.train_val_curves(
            epochs=[1, 2],
            train_loss=[1, 0.5],
            val_loss=[1, 0.8],
            train_accuracy=[0.5, 0.9],
            val_accuracy=[0.4, 0.6],
        ),
        figures.optimizer_paths((u, v, u**2 + v**2 + 0.1), {"p": np.zeros((3, 2))}),
        figures.backprop_step(probs, losses, TARGET, CLASSES, step=1),
    ]
    assert all(isinstance(f, Figure) for f in figs)
    assert plt.get_fignums() == before


def test_init_statistics_plots_the_std_of_every_layer() -> None:
    rng = np.random.default_rng(0)
    layers = {"wide": [rng.normal(0, s, 50) for s in (1, 2, 4)], "narrow": [np.zeros(5)] * 3}
    fig = figures.init_statistics(layers)
    assert len(fig.axes) == 1 + len(layers)
    lines = fig.axes[0].get_lines()
    np.testing.assert_allclose(lines[0].get_ydata(), [np.std(a) for a in layers["wide"]])
    assert fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="same"):
        figures.init_statistics({"a": [np.ones(2)], "b": [np.ones(2), np.ones(2)]})
    with pytest.raises(ValueError, match="at least one"):
        figures.init_statistics({})


def test_annotated_signed_maps_centres_the_colours_on_zero() -> None:
    grad = np.array([[1.0, -3.0], [0.5, 2.0]])
    fig = figures.annotated_signed_maps({"dx": grad, "x": np.arange(9.0).reshape(3, 3)})
    image = fig.axes[0].images[0]
    np.testing.assert_array_equal(np.asarray(image.get_array()), grad)
    assert image.get_clim() == (-3.0, 3.0)
    assert image.get_cmap().name == "RdBu_r"
    assert sorted(t.get_text() for t in fig.axes[0].texts) == sorted(["1", "-3", "0.5", "2"])
    with pytest.raises(ValueError, match="2-D"):
        figures.annotated_signed_maps({"bad": np.zeros((2, 2, 2))})
    with pytest.raises(ValueError, match="12"):
        figures.annotated_signed_maps({"big": np.zeros((13, 13))})


def test_curve_plot_draws_each_curve_and_checks_lengths() -> None:
    fig = figures.curve_plot(
        {"a": ([1, 2, 3], [3, 2, 1]), "b": ([1, 2], [5, 6])}, xlabel="e", ylabel="l", logy=True
    )
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), [3, 2, 1])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    assert ax.get_yscale() == "log" and ax.get_xscale() == "linear"
    with pytest.raises(ValueError, match="x has 2 values but y has 3"):
        figures.curve_plot({"a": ([1, 2], [1, 2, 3])}, xlabel="", ylabel="")
    with pytest.raises(ValueError, match="pair"):
        figures.curve_plot({"a": [1, 2, 3]}, xlabel="", ylabel="")


def test_train_val_curves_shows_both_sets() -> None:
    fig = figures.train_val_curves(
        epochs=[1, 2, 3],
        train_loss=[1.0, 0.5, 0.1],
        val_loss=[1.1, 0.9, 1.0],
        train_accuracy=[0.6, 0.9, 1.0],
        val_accuracy=[0.5, 0.7, 0.7],
    )
    loss_ax, acc_ax = fig.axes
    np.testing.assert_array_equal(loss_ax.get_lines()[1].get_ydata(), [1.1, 0.9, 1.0])
    np.testing.assert_array_equal(acc_ax.get_lines()[0].get_ydata(), [0.6, 0.9, 1.0])
    with pytest.raises(ValueError, match="same length"):
        figures.train_val_curves(
            epochs=[1, 2],
            train_loss=[1.0],
            val_loss=[1, 2],
            train_accuracy=[1, 2],
            val_accuracy=[1, 2],
        )


def test_optimizer_paths_draws_every_path_from_its_start() -> None:
    u, v = np.meshgrid(np.linspace(-2, 2, 20), np.linspace(-1, 1, 10))
    path = np.array([[-1.5, 0.8], [-1.0, -0.4], [-0.5, 0.2]])
    fig = figures.optimizer_paths((u, v, u**2 + v**2), {"SGD": path}, minimum=(0, 0))
    ax = fig.axes[0]
    drawn = [line for line in ax.get_lines() if line.get_label() == "SGD"][0]
    np.testing.assert_array_equal(drawn.get_xdata(), path[:, 0])
    np.testing.assert_array_equal(drawn.get_ydata(), path[:, 1])
    assert ax.get_xlim() == (-2.0, 2.0)
    with pytest.raises(ValueError, match=r"\(T, 2\)"):
        figures.optimizer_paths((u, v, u**2 + v**2), {"bad": np.zeros((3, 3))})
    with pytest.raises(ValueError, match="one shape"):
        figures.optimizer_paths((u, v[:2], u**2), {"p": path})


def test_backprop_step_shows_the_probabilities_of_that_step() -> None:
    probs, losses = boat_run()
    for step in (0, 3):
        fig = figures.backprop_step(probs, losses, TARGET, CLASSES, step=step)
        bar_ax, loss_ax = fig.axes
        heights = [patch.get_height() for patch in bar_ax.patches[: len(CLASSES)]]
        np.testing.assert_allclose(heights, probs[step])
        targets = [patch.get_height() for patch in bar_ax.patches[len(CLASSES) :]]
        np.testing.assert_array_equal(targets, TARGET)
        so_far = loss_ax.get_lines()[1]
        np.testing.assert_allclose(so_far.get_ydata(), losses[: step + 1])
        assert [t.get_text() for t in bar_ax.get_xticklabels()] == CLASSES


def test_backprop_step_rejects_bad_input() -> None:
    probs, losses = boat_run()
    with pytest.raises(ValueError, match="step must lie"):
        figures.backprop_step(probs, losses, TARGET, CLASSES, step=len(losses))
    with pytest.raises(TypeError, match="int"):
        figures.backprop_step(probs, losses, TARGET, CLASSES, step=True)
    with pytest.raises(ValueError, match=r"\(T \+ 1, K\)"):
        figures.backprop_step(probs[:-1], losses, TARGET, CLASSES, step=0)
    with pytest.raises(ValueError, match="class names"):
        figures.backprop_step(probs, losses, TARGET, CLASSES[:3], step=0)


def test_backprop_stepper_has_one_frame_per_step_and_a_play_button() -> None:
    probs, losses = boat_run(steps=4)
    demo = backprop_stepper(probs, losses, TARGET, CLASSES, dpi=40)
    assert isinstance(demo, StaticDemo)
    assert len(demo.frames) == len(probs)
    first, last = decode(demo.frame(step=0)), decode(demo.frame(step=4))
    assert first.shape == last.shape
    assert np.abs(first - last).sum() > 0, "moving the step slider must change the picture"
    assert len(demo.image_widgets) == len(probs), "every step must be a different picture"
    plays = [
        w
        for row in demo.children
        for w in getattr(row, "children", ())
        if isinstance(w, widgets.Play)
    ]
    assert len(plays) == 1 and plays[0].max == len(probs) - 1
    assert any(link.source[0] is plays[0] for link in demo.links)
    assert demo.total_bytes < 1_500_000


def test_backprop_stepper_rejects_bad_probabilities() -> None:
    probs, losses = boat_run(steps=2)
    with pytest.raises(ValueError, match="sum to one"):
        backprop_stepper(probs * 2, losses, TARGET, CLASSES)
    with pytest.raises(ValueError, match="2 to 60 rows"):
        backprop_stepper(np.full((61, 4), 0.25), np.ones(61), TARGET, CLASSES)
    with pytest.raises(ValueError, match="2 to 60 rows"):
        backprop_stepper(probs[0], losses, TARGET, CLASSES)
