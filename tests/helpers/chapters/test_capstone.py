"""Chapter 7 figure and demo: the feature-map viewer shows the right maps on the right scale."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib import colormaps
from matplotlib.colors import Normalize

from helpers import figures
from helpers.demos import VIEWER_LAYERS, StaticDemo, ViewerInput, feature_map_viewer, viewer_maps
from helpers.torch.models import FruitNet, ReferenceNet

DIGITS = tuple(str(d) for d in range(10))
FRUITS = tuple("ABCDEFGH")


@pytest.fixture()
def digit() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(28, 28), dtype=np.uint8)


@pytest.fixture()
def photo() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, size=(100, 100, 3), dtype=np.uint8)


@pytest.fixture()
def reference() -> ReferenceNet:
    torch.manual_seed(0)
    return ReferenceNet().eval()


@pytest.fixture()
def fruitnet() -> FruitNet:
    torch.manual_seed(1)
    model = FruitNet()
    # Non-trivial running statistics, so that eval-mode batch norm is not the identity.
    with torch.no_grad():
        model.features.norm1.running_mean.uniform_(-0.2, 0.2)
        model.features.norm1.running_var.uniform_(0.5, 2.0)
    return model.eval()


def colour_bar(fig):
    bars = [ax for ax in fig.axes if hasattr(ax, "_colorbar")]
    assert len(bars) == 1, f"expected one colour bar, found {len(bars)}"
    return bars[0]._colorbar.mappable


def mosaic(fig) -> np.ndarray:
    """The RGB mosaic of maps: the picture of the axes titled with the layer."""
    (ax,) = [ax for ax in fig.axes if ax.get_title() == "layer"]
    return np.asarray(ax.images[0].get_array(), dtype=float)


def as_batch(image: np.ndarray) -> torch.Tensor:
    chw = image[None] if image.ndim == 2 else image.transpose(2, 0, 1)
    return torch.from_numpy(chw.astype(np.float32) / 255)[None]


# ── figures.feature_map_grid ───────────────────────────────────────────────────────────────────


def test_signed_maps_use_a_diverging_scale_centred_on_zero(digit) -> None:
    maps = np.zeros((4, 5, 5))
    maps[0] += 2.0
    maps[1] -= 3.0
    fig = figures.feature_map_grid(digit, maps, signed=True, title="layer")
    shown = colour_bar(fig)
    assert shown.cmap.name == "RdBu_r"
    assert shown.get_clim() == (-3.0, 3.0)
    # The first tile starts after a one-pixel frame; its colour is the map's value on that scale.
    picture = mosaic(fig)
    expected = colormaps["RdBu_r"](Normalize(-3.0, 3.0)(2.0))[:3]
    np.testing.assert_allclose(picture[1 + 2, 1 + 2], expected)
    expected_negative = colormaps["RdBu_r"](Normalize(-3.0, 3.0)(-3.0))[:3]
    np.testing.assert_allclose(picture[1 + 2, 1 + 5 + 1 + 2], expected_negative)


def test_unsigned_maps_use_viridis_from_zero(photo) -> None:
    maps = np.arange(2 * 3 * 3, dtype=float).reshape(2, 3, 3)
    fig = figures.feature_map_grid(photo, maps, signed=False, title="layer")
    shown = colour_bar(fig)
    assert shown.cmap.name == "viridis"
    assert shown.get_clim() == (0.0, 17.0)
    picture = mosaic(fig)
    # Top-left value 0 of the first map is viridis' darkest colour.
    np.testing.assert_allclose(picture[1, 1], colormaps["viridis"](0.0)[:3])


def test_every_map_gets_a_tile(digit) -> None:
    for count in (1, 16, 32, 64):
        maps = np.ones((count, 6, 6))
        picture = mosaic(figures.feature_map_grid(digit, maps, signed=False, title="layer"))
        tiles = np.isclose(picture, colormaps["viridis"](1.0)[:3]).all(axis=2)
        assert tiles.sum() == count * 36, f"{count} maps: {tiles.sum() // 36} tiles drawn"


def test_filters_are_inset_in_the_corner_of_their_maps(digit) -> None:
    maps = np.zeros((2, 26, 26))
    w = np.zeros((2, 1, 3, 3))
    w[0, 0, 0, 0] = 1.0
    w[1, 0, 2, 2] = -1.0
    picture = mosaic(figures.feature_map_grid(digit, maps, signed=True, title="layer", filters=w))
    red, blue = colormaps["RdBu_r"](1.0)[:3], colormaps["RdBu_r"](0.0)[:3]
    gap = 2  # 26 // 10
    np.testing.assert_allclose(picture[gap, gap], 0.0)  # the black frame of the first inset
    np.testing.assert_allclose(picture[gap + 1, gap + 1], red)  # weight (0, 0) of filter 0
    block = round(0.4 * 26 / 3)
    second = gap + 26 + gap  # the second tile starts one tile and one gap further right
    corner = (gap + 1 + 2 * block, second + 1 + 2 * block)
    np.testing.assert_allclose(picture[corner], blue)  # weight (2, 2) of filter 1
    # Away from the inset the tile shows the map itself (zero: white on the diverging scale).
    np.testing.assert_allclose(picture[gap + 20, gap + 20], colormaps["RdBu_r"](0.5)[:3])


def test_colour_filters_are_drawn_in_colour(photo) -> None:
    maps = np.zeros((1, 50, 50))
    w = np.zeros((1, 3, 3, 3))
    w[0, 0, 0, 0] = 1.0  # a red weight in the top-left corner, zero elsewhere (mid-grey)
    picture = mosaic(figures.feature_map_grid(photo, maps, signed=True, title="layer", filters=w))
    gap = 5
    np.testing.assert_allclose(picture[gap + 1, gap + 1], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(picture[gap + 1 + 10, gap + 1 + 10], [0.5, 0.5, 0.5])


def test_feature_map_grid_leaves_pyplot_and_inputs_alone(digit) -> None:
    maps = np.linspace(-1, 1, 2 * 4 * 4).reshape(2, 4, 4)
    before_maps, before_digit = maps.copy(), digit.copy()
    before = plt.get_fignums()
    figures.feature_map_grid(digit, maps, signed=True)
    assert plt.get_fignums() == before
    np.testing.assert_array_equal(maps, before_maps)
    np.testing.assert_array_equal(digit, before_digit)


@pytest.mark.parametrize(
    ("maps", "kwargs", "message"),
    [
        (np.zeros((5, 5)), {"signed": True}, "shaped (C, h, w)"),
        (np.zeros((0, 5, 5)), {"signed": True}, "shaped (C, h, w)"),
        (np.full((1, 3, 3), np.nan), {"signed": True}, "NaN"),
        (-np.ones((1, 3, 3)), {"signed": False}, "signed=True"),
        (np.zeros((2, 3, 3)), {"signed": True, "filters": np.zeros((3, 1, 3, 3))}, "one filter"),
        (np.zeros((2, 3, 3)), {"signed": True, "filters": np.zeros((2, 2, 3, 3))}, "C_in 1 or 3"),
    ],
)
def test_feature_map_grid_rejects_bad_input(digit, maps, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        figures.feature_map_grid(digit, maps, **kwargs)


def test_feature_map_grid_rejects_a_channels_first_image() -> None:
    with pytest.raises(ValueError, match="channels-first"):
        figures.feature_map_grid(np.zeros((3, 28, 28)), np.zeros((1, 3, 3)), signed=True)


# ── widgets.viewer_maps ──────────────────────────────────────────────────────────────────────


def test_viewer_maps_takes_convolutions_before_relu_and_pools_after(reference, digit) -> None:
    maps, probabilities = viewer_maps(reference, digit)
    assert list(maps) == list(VIEWER_LAYERS)
    x = as_batch(digit)
    f = reference.features
    with torch.no_grad():
        conv1 = f.conv1(x)
        pool1 = f.pool1(f.relu1(conv1))
        conv2 = f.conv2(pool1)
        expected_probabilities = torch.softmax(reference(x).double(), dim=1)[0]
    np.testing.assert_allclose(maps["conv1"][0], conv1[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(maps["pool1"][0], pool1[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(maps["conv2"][0], conv2[0].numpy(), rtol=1e-5, atol=1e-6)
    assert maps["conv1"][1] and maps["conv2"][1] and maps["conv3"][1]
    assert not maps["pool1"][1] and not maps["pool2"][1]
    assert maps["conv1"][0].min() < 0, "pre-ReLU maps of a random network have negative values"
    assert maps["pool2"][0].min() >= 0
    assert [maps[n][0].shape for n in VIEWER_LAYERS] == [
        (32, 26, 26),
        (32, 13, 13),
        (64, 11, 11),
        (64, 5, 5),
        (64, 3, 3),
    ]
    np.testing.assert_allclose(probabilities, expected_probabilities.numpy(), rtol=1e-5)
    assert probabilities.sum() == pytest.approx(1.0)


def test_viewer_maps_takes_batch_norm_output_for_a_normalised_convolution(fruitnet, photo) -> None:
    maps, probabilities = viewer_maps(fruitnet, photo, layers=("conv1", "pool1"))
    f = fruitnet.features
    with torch.no_grad():
        normed = f.norm1(f.conv1(as_batch(photo)))
    np.testing.assert_allclose(maps["conv1"][0], normed[0].numpy(), rtol=1e-4, atol=1e-5)
    assert maps["conv1"][1] is True and maps["pool1"][1] is False
    assert probabilities.shape == (8,)


def test_viewer_maps_explains_unknown_layers_and_bad_images(reference, digit, photo) -> None:
    with pytest.raises(ValueError, match="no layer named 'conv9'.*conv1"):
        viewer_maps(reference, digit, layers=("conv9",))
    with pytest.raises(TypeError, match="uint8"):
        viewer_maps(reference, digit.astype(np.float32), layers=("conv1",))
    with pytest.raises(ValueError, match="expects a batch of shape"):
        viewer_maps(reference, photo, layers=("conv1",))


def test_viewer_maps_leaves_the_model_in_its_mode(reference, digit) -> None:
    reference.train()
    viewer_maps(reference, digit, layers=("conv1",))
    assert reference.training


# ── widgets.feature_map_viewer ───────────────────────────────────────────────────────────────


@pytest.fixture()
def viewer(reference, fruitnet, digit, photo) -> StaticDemo:
    inputs = {
        "digit": ViewerInput(reference, digit, DIGITS),
        "upside down": ViewerInput(reference, digit[::-1].copy(), DIGITS),
        "strawberry": ViewerInput(fruitnet, photo, FRUITS),
    }
    return feature_map_viewer(inputs, dpi=40)


def test_viewer_has_a_frame_for_every_input_and_layer(viewer) -> None:
    assert isinstance(viewer, StaticDemo)
    assert len(viewer.frames) == 3 * len(VIEWER_LAYERS)
    assert [s.name for s in viewer.specs] == ["image", "layer"]
    assert viewer.specs[1].values == VIEWER_LAYERS
    assert all(png.startswith(b"\x89PNG") for png in viewer.frames.values())


def test_viewer_frames_change_with_each_control(viewer) -> None:
    for image in ("digit", "upside down", "strawberry"):
        layers = {viewer.frame(image=image, layer=layer) for layer in VIEWER_LAYERS}
        assert len(layers) == len(VIEWER_LAYERS), f"{image}: two layers share a picture"
    for layer in VIEWER_LAYERS:
        images = {viewer.frame(image=i, layer=layer) for i in ("digit", "upside down")}
        assert len(images) == 2, f"{layer}: the input does not change the picture"


def test_viewer_controls_have_no_description(viewer) -> None:
    found, todo = [], [viewer]
    while todo:
        w = todo.pop()
        found.append(w)
        todo.extend(getattr(w, "children", ()))
    controls = [w for w in found if isinstance(w, widgets.ToggleButtons)]
    assert len(controls) == 2
    assert all(c.description == "" for c in controls)


def test_viewer_rejects_wrong_class_names_and_empty_input(reference, digit) -> None:
    with pytest.raises(ValueError, match="10 classes but 3 class names"):
        feature_map_viewer({"d": ViewerInput(reference, digit, ("a", "b", "c"))})
    with pytest.raises(ValueError, match="at least one input"):
        feature_map_viewer({})


def test_viewer_keeps_within_its_byte_budget(reference, digit) -> None:
    with pytest.raises(ValueError, match="over the budget"):
        feature_map_viewer({"d": ViewerInput(reference, digit, DIGITS)}, max_bytes=1000)
