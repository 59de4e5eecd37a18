"""Plot functions: pure (no pyplot state), the right panels, and the numbers they print."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from helpers import figures


@pytest.fixture()
def photo() -> np.ndarray:
    rng = np.random.default_rng(2)
    return rng.integers(0, 256, size=(20, 24, 3), dtype=np.uint8)


def panel_images(fig: Figure) -> list[np.ndarray]:
    return [np.asarray(ax.images[0].get_array()) for ax in fig.axes if ax.images]


def test_plots_leave_pyplot_alone(photo: np.ndarray) -> None:
    before = plt.get_fignums()
    figs = [
        figures.show_channels(photo),
        figures.image_row({"a": photo, "b": photo[:, :, 0]}),
        figures.pixel_matrix(photo[:10, :10, 0]),
        figures.raw_vs_scaled(photo[:, :, 0], photo[:, :, 0] / 255),
        figures.pixel_inspector(photo, top=0, left=0, channel="R", scaled=False),
    ]
    assert all(isinstance(f, Figure) for f in figs)
    assert plt.get_fignums() == before


def test_show_channels_draws_each_channel_in_grey(photo: np.ndarray) -> None:
    fig = figures.show_channels(photo)
    shown = panel_images(fig)
    assert len(shown) == 4
    np.testing.assert_array_equal(shown[0], photo)
    for c in range(3):
        np.testing.assert_array_equal(shown[c + 1], photo[:, :, c])
        image = [ax for ax in fig.axes if ax.images][c + 1].images[0]
        assert image.get_cmap().name == "gray" and image.get_clim() == (0, 255)


def test_pixel_matrix_prints_every_value() -> None:
    values = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    fig = figures.pixel_matrix(values)
    texts = sorted(int(t.get_text()) for t in fig.axes[0].texts)
    assert texts == sorted(values.ravel().tolist())


def test_pixel_inspector_shows_the_window_values(photo: np.ndarray) -> None:
    fig = figures.pixel_inspector(photo, top=3, left=5, channel="G", scaled=False, size=4)
    zoom = fig.axes[1]
    printed = [int(t.get_text()) for t in zoom.texts]
    assert printed == photo[3:7, 5:9, 1].ravel().tolist()
    scaled = figures.pixel_inspector(photo, top=3, left=5, channel="G", scaled=True, size=4)
    assert [t.get_text() for t in scaled.axes[1].texts][0] == f"{photo[3, 5, 1] / 255:.2f}"
    grey = figures.pixel_inspector(photo, top=0, left=0, channel="grey", scaled=False, size=2)
    assert "0.299" in grey.axes[0].get_title()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"top": 18, "left": 0, "channel": "R"}, "does not fit"),
        ({"top": 0, "left": 0, "channel": "alpha"}, "channel must be"),
    ],
)
def test_pixel_inspector_errors(photo: np.ndarray, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        figures.pixel_inspector(photo, scaled=False, **kwargs)


def test_raw_vs_scaled_uses_matching_scales(photo: np.ndarray) -> None:
    grey = photo[:, :, 0]
    fig = figures.raw_vs_scaled(grey, grey / 255)
    clims = [ax.images[0].get_clim() for ax in fig.axes if ax.images]
    assert clims[:2] == [(0, 255), (0, 1.0)]
    with pytest.raises(ValueError, match="one shape"):
        figures.raw_vs_scaled(grey, grey[:5] / 255)


def test_image_row_titles_carry_shape_and_dtype(photo: np.ndarray) -> None:
    fig = figures.image_row({"small": photo[:4, :4]})
    assert "(4, 4, 3) uint8" in fig.axes[0].get_title()
    assert figures.image_row({"small": photo[:4, :4]}, shapes=False).axes[0].get_title() == "small"
    with pytest.raises(ValueError, match="at least one"):
        figures.image_row({})


def test_magnitude_row_shares_one_scale() -> None:
    a = np.array([[-2.0, 0.0], [1.0, 3.0]])
    fig = figures.magnitude_row({"a": a, "b": a[:1] * 2})
    clims = {ax.images[0].get_clim() for ax in fig.axes if ax.images}
    assert clims == {(-4.0, 3.0)}
    assert all(ax.images[0].get_cmap().name == "viridis" for ax in fig.axes if ax.images)
    with pytest.raises(ValueError, match="2-D"):
        figures.magnitude_row({"bad": np.zeros((2, 2, 3))})


def test_image_and_map_keeps_separate_scales() -> None:
    img = np.arange(16, dtype=np.uint8).reshape(4, 4) * 16
    fmap = np.array([[-500.0, 0.0], [250.0, 900.0]])
    fig = figures.image_and_map(img, fmap)
    first, second = (ax.images[0] for ax in fig.axes if ax.images)
    assert first.get_cmap().name == "gray" and first.get_clim() == (0, 255)
    assert second.get_cmap().name == "viridis" and second.get_clim() == (-500.0, 900.0)
    with pytest.raises(ValueError, match="2-D map"):
        figures.image_and_map(img, np.zeros((2, 2, 2)))
