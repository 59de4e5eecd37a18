"""Chapter 5 (dense heads and softmax): the plot functions and the softmax playground."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from helpers import figures, ops
from helpers.demos import softmax_playground_demo
from helpers.figures.dense_heads import cross_entropy_curve

SCORES = np.array([0.8, -1.2, 1.9, 2.6, -0.4, 0.3, -2.0, 5.1, 0.6, 1.4])


def bar_heights(ax) -> np.ndarray:
    return np.array([p.get_height() for p in ax.patches])


def test_flatten_order_labels_every_value_with_its_flat_index() -> None:
    x = np.arange(1, 13).reshape(3, 2, 2)
    fig = figures.flatten_order(x)
    assert isinstance(fig, Figure)
    grid_labels = [t.get_text() for ax in fig.axes[:3] for t in ax.texts]
    # Value v sits at flat index v - 1 in C order: channel by channel, row by row.
    assert grid_labels == [f"{v}\n[{v - 1}]" for v in range(1, 13)]
    strip = [t.get_text() for t in fig.axes[3].texts]
    assert strip[0::2] == [str(v) for v in x.reshape(-1)]
    with pytest.raises(ValueError, match="small"):
        figures.flatten_order(np.zeros((64, 3, 3)))


def test_dense_connections_draws_every_wire() -> None:
    w = np.random.default_rng(0).normal(size=(6, 4))
    fig = figures.dense_connections(w)
    assert len(fig.axes[0].lines) == 6 * 4
    assert "24 connections (+ 4 biases)" in fig.axes[0].get_title()
    image = fig.axes[1].images[0]
    low, high = image.get_clim()
    assert low == -high == -np.abs(w).max(), "the diverging scale must be centred on zero"
    with pytest.raises(ValueError, match="at most"):
        figures.dense_connections(np.zeros((576, 64)))


def test_softmax_bars_show_probabilities_that_sum_to_one() -> None:
    fig = figures.softmax_bars(SCORES, target=7)
    ax_z, ax_p = fig.axes
    probs = bar_heights(ax_p)
    np.testing.assert_allclose(probs, ops.softmax(SCORES[None])[0])
    assert "sum = 1.000" in ax_p.get_title() and "arg-max = 7" in ax_p.get_title()
    np.testing.assert_allclose(bar_heights(ax_z), SCORES)
    targets = ax_p.collections[0].get_offsets()[:, 1]
    np.testing.assert_array_equal(targets, np.eye(10)[7])


def test_temperature_flattens_the_probabilities_but_keeps_the_winner() -> None:
    cold = bar_heights(figures.softmax_bars(SCORES, temperature=0.5).axes[1])
    hot = bar_heights(figures.softmax_bars(SCORES, temperature=10).axes[1])
    assert cold.argmax() == hot.argmax() == SCORES.argmax()
    assert cold.max() > hot.max() > 0.1
    assert np.ptp(hot) < np.ptp(cold)


def test_softmax_bars_survive_huge_scores() -> None:
    probs = bar_heights(figures.softmax_bars(np.array([1000.0, 999.0, 998.0])).axes[1])
    assert np.all(np.isfinite(probs)) and np.isclose(probs.sum(), 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(temperature=0), "temperature"),
        (dict(names=["a", "b"]), "names"),
        (dict(target=10), "target"),
    ],
)
def test_softmax_bars_reject_bad_arguments(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        figures.softmax_bars(SCORES, **kwargs)
    with pytest.raises(ValueError, match="1-D"):
        figures.softmax_bars(SCORES[None])


def test_cross_entropy_curve_shows_the_loss_and_the_clipped_plateau() -> None:
    fig = cross_entropy_curve({"uniform": 0.1, "sure": 1.0}, clip=1e-12, smallest=1e-30)
    ax_lin, ax_log = fig.axes
    p, loss = ax_lin.lines[0].get_data()
    np.testing.assert_allclose(loss, -np.log(p))
    marked = [line.get_data() for line in ax_lin.lines[1:]]
    np.testing.assert_allclose([y[0] for _, y in marked], [np.log(10), 0.0], atol=1e-12)
    labels = " ".join(t.get_text() for t in ax_lin.texts)
    assert "uniform" in labels and "loss 2.30" in labels
    q, exact = ax_log.lines[0].get_data()
    _, clipped = ax_log.lines[1].get_data()
    np.testing.assert_allclose(exact, -np.log(q))
    below = q < 1e-12
    # Below the clip the clipped loss is flat (no slope, no gradient); above it, exact.
    assert below.any() and np.all(clipped[below] == -np.log(1e-12))
    np.testing.assert_allclose(clipped[~below], exact[~below])
    assert exact.max() > 2 * clipped.max()
    assert "27.63" in ax_log.get_title()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(marks={"zero": 0.0}), "zero"),
        (dict(marks={"more than one": 1.5}), "more than one"),
        (dict(clip=1e-40), "smallest"),
        (dict(clip=1.0), "clip"),
    ],
)
def test_cross_entropy_curve_rejects_bad_arguments(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        cross_entropy_curve(**kwargs)


def test_network_sizes_has_a_bar_per_layer() -> None:
    rows = ops.summarize_network(ops.REFERENCE_NETWORK, (1, 28, 28))
    fig = figures.network_sizes(rows, (1, 28, 28), split=5)
    heights = bar_heights(fig.axes[0])[: len(rows) + 1]
    assert list(heights) == [784, 21632, 5408, 7744, 1600, 576, 576, 64, 10]
    labels = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "36,928 params" in labels and "650 params" in labels
    with pytest.raises(ValueError):
        figures.network_sizes([], (1, 28, 28))


def test_softmax_playground_frames_follow_both_controls() -> None:
    demo = softmax_playground_demo(
        {"winner": SCORES, "rivals": np.linspace(0, 1, 10)}, temperatures=[0.5, 4]
    )
    assert len(demo.frames) == 4
    base = demo.frame(scores=tuple(SCORES), temperature=0.5)
    assert demo.frame(scores=tuple(SCORES), temperature=4.0) != base
    assert demo.frame(scores=tuple(np.linspace(0, 1, 10)), temperature=0.5) != base


def test_softmax_playground_rejects_bad_presets() -> None:
    with pytest.raises(ValueError, match="same number"):
        softmax_playground_demo({"a": [1, 2], "b": [1, 2, 3]})
    with pytest.raises(ValueError, match="positive"):
        softmax_playground_demo({"a": [1, 2]}, temperatures=[1, 0])
    with pytest.raises(ValueError, match="at least one"):
        softmax_playground_demo({})
