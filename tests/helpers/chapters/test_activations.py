"""Chapter 3 figures and demos: activations, their slopes, and the linear-collapse claim."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from helpers import figures, kernels, ops
from helpers.demos import activation_demo


@pytest.fixture()
def fmap() -> np.ndarray:
    rng = np.random.default_rng(3)
    return ops.correlate2d(rng.random((12, 12)), kernels.get_kernel("sobel_x"))


def shown(ax) -> np.ndarray:
    return np.asarray(ax.images[0].get_array(), dtype=float)


def test_apply_activation_values_and_slopes() -> None:
    z = np.array([-3.0, -0.5, 0.5, 3.0])
    out, slope = figures.apply_activation(z, "relu")
    np.testing.assert_array_equal(out, [0, 0, 0.5, 3])
    np.testing.assert_array_equal(slope, [0, 0, 1, 1])
    out, slope = figures.apply_activation(z, "leaky_relu", slope=0.2)
    np.testing.assert_allclose(out, [-0.6, -0.1, 0.5, 3])
    np.testing.assert_allclose(slope, [0.2, 0.2, 1, 1])
    out, slope = figures.apply_activation(z, "sigmoid")
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(out, s)
    np.testing.assert_allclose(slope, s * (1 - s))
    out, slope = figures.apply_activation(z, "tanh")
    np.testing.assert_allclose(slope, 1 - np.tanh(z) ** 2)
    with pytest.raises(ValueError, match="activation must be one of"):
        figures.apply_activation(z, "softplus")


def test_activation_curves_plot_functions_and_slopes() -> None:
    before = plt.get_fignums()
    fig = figures.activation_curves(low=-4, high=4, slope=0.1)
    assert isinstance(fig, Figure) and plt.get_fignums() == before
    ax_f, ax_d = fig.axes[:2]
    curves = {
        line.get_label(): line for line in ax_d.get_lines() if not line.get_label().startswith("_")
    }
    assert set(curves) == {"relu", "leaky_relu", "sigmoid", "tanh"}
    assert np.max(curves["sigmoid"].get_ydata()) == pytest.approx(0.25, abs=1e-3)
    assert np.max(curves["tanh"].get_ydata()) == pytest.approx(1.0, abs=1e-3)
    assert np.min(curves["leaky_relu"].get_ydata()) == pytest.approx(0.1)
    functions = [line for line in ax_f.get_lines() if not line.get_label().startswith("_")]
    assert len(functions) == 4
    with pytest.raises(ValueError, match="larger"):
        figures.activation_curves(low=1, high=1)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_activation_explorer_shows_map_before_and_after(fmap, activation: str) -> None:
    fig = figures.activation_explorer(fmap, activation=activation, bias=0.5, slope=0.1)
    z = fmap + 0.5
    before, after = [ax for ax in fig.axes if ax.images]
    np.testing.assert_allclose(shown(before), z)
    expected, _ = figures.apply_activation(z, activation, slope=0.1)
    np.testing.assert_allclose(shown(after), expected)
    for ax in (before, after):
        lo, hi = ax.images[0].get_clim()
        assert lo == -hi and ax.images[0].get_cmap().name == "RdBu_r"
    assert f"{np.mean(z < 0):.0%} of values < 0" in before.get_title()


def test_relu_title_counts_the_zeros(fmap) -> None:
    fig = figures.activation_explorer(fmap, activation="relu", bias=-1.0)
    share = np.mean(np.maximum(fmap - 1.0, 0) == 0)
    after = [ax for ax in fig.axes if ax.images][1]
    assert f"{share:.0%} exactly 0" in after.get_title()
    with pytest.raises(ValueError, match="2-D"):
        figures.activation_explorer(np.zeros(4), activation="relu")


def test_decision_regions_reports_each_models_accuracy() -> None:
    points = np.array([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
    labels = np.array([0, 0, 1, 1])
    models = {
        "x > 0": lambda p: (p[:, 0] > 0).astype(float),
        "xor": lambda p: (p[:, 0] * p[:, 1] < 0).astype(float),
    }
    fig = figures.decision_regions(points, labels, models)
    assert "accuracy 50%" in fig.axes[0].get_title()
    assert "accuracy 100%" in fig.axes[1].get_title()
    with pytest.raises(ValueError, match="points"):
        figures.decision_regions(points[:, :1], labels, models)
    with pytest.raises(TypeError, match="callable"):
        figures.decision_regions(points, labels, {"m": 3})


def test_activation_demo_frames_change_with_both_controls(fmap) -> None:
    demo = activation_demo(fmap, activations=("relu", "tanh"), biases=(-0.5, 0.5), dpi=30)
    assert len(demo.frames) == 4
    assert demo.frame(activation="relu", bias=-0.5) != demo.frame(activation="tanh", bias=-0.5)
    assert demo.frame(activation="relu", bias=-0.5) != demo.frame(activation="relu", bias=0.5)


def test_two_linear_conv_layers_are_one_conv_with_the_combined_kernel(fmap) -> None:
    # The chapter's claim, for a kernel pair that is not symmetric.
    rng = np.random.default_rng(5)
    x = rng.random((10, 11))
    k1, k2 = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    b1, b2 = 0.3, -0.7
    two = ops.correlate2d(ops.correlate2d(x, k1) + b1, k2) + b2
    combined = ops.convolve2d(ops.pad2d(k1, padding=2), k2)
    one = ops.correlate2d(x, combined) + b2 + b1 * k2.sum()
    np.testing.assert_allclose(two, one, atol=1e-12)
    with_relu = ops.correlate2d(np.maximum(ops.correlate2d(x, k1) + b1, 0), k2) + b2
    assert np.abs(with_relu - one).max() > 0.1
