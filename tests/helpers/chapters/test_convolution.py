"""Chapter 2 figures and demos: the right numbers in the right panels, frames that change."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from helpers import figures, kernels, ops
from helpers.demos import (
    KernelTyper,
    StaticDemo,
    convolution_stepper,
    kernel_playground,
    multichannel_demo,
    padding_explorer,
    parse_kernel,
)


@pytest.fixture()
def picture() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, size=(14, 16), dtype=np.uint8)


@pytest.fixture()
def photo() -> np.ndarray:
    rng = np.random.default_rng(8)
    return rng.integers(0, 256, size=(12, 12, 3), dtype=np.uint8)


def shown(ax) -> np.ndarray:
    return np.asarray(ax.images[0].get_array(), dtype=float)


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def all_widgets(root: widgets.Widget) -> list[widgets.Widget]:
    found, todo = [], [root]
    while todo:
        w = todo.pop()
        found.append(w)
        todo.extend(getattr(w, "children", ()))
    return found


def test_plots_return_figures_and_leave_pyplot_alone(picture, photo) -> None:
    before = plt.get_fignums()
    k = kernels.get_kernel("sobel_x")
    figs = [
        figures.kernel_grids({"a": k}),
        figures.window_products(kernels.EDGE_PATCH, kernels.EDGE_KERNEL),
        figures.convolution_step(kernels.TINY_IMAGE, kernels.TINY_KERNEL, step=0),
        figures.kernel_effect(picture, k),
        figures.kernel_gallery({"p": picture}, {"k": k}),
        figures.signed_maps_row({"m": ops.correlate2d(picture, k)}),
        figures.padding_grid(picture[:6, :8], kernel_size=3, stride=1, padding=1),
        figures.multichannel_filter(photo, np.stack([k, k, k])),
    ]
    assert all(isinstance(f, Figure) for f in figs)
    assert plt.get_fignums() == before


def test_kernel_effect_draws_the_correlation_with_the_right_colours(picture) -> None:
    sobel = kernels.get_kernel("sobel_x")
    fig = figures.kernel_effect(picture, sobel, kernel_name="sobel_x")
    fmap = ops.correlate2d(picture, sobel)
    image_ax, kernel_ax, map_ax = fig.axes[:3]
    np.testing.assert_array_equal(shown(image_ax), picture)
    np.testing.assert_allclose(shown(map_ax), fmap)
    im = map_ax.images[0]
    assert im.get_cmap().name == "RdBu_r"
    lo, hi = im.get_clim()
    assert lo == -hi == -np.abs(fmap).max()
    assert texts(kernel_ax) == ["-1", "0", "1", "-2", "0", "2", "-1", "0", "1"]
    assert "sum = 0" in kernel_ax.get_title()


def test_brightness_keeping_kernels_are_drawn_as_pictures(picture) -> None:
    blur = kernels.get_kernel("box_blur")
    fig = figures.kernel_effect(picture, blur)
    im = fig.axes[2].images[0]
    assert im.get_cmap().name == "gray" and im.get_clim() == (0, 255)
    assert texts(fig.axes[1])[0] == "1/9"
    np.testing.assert_allclose(shown(fig.axes[2]), np.clip(ops.correlate2d(picture, blur), 0, 255))


def test_kernel_effect_rejects_colour_and_bad_kernels(photo, picture) -> None:
    with pytest.raises(ValueError, match="greyscale"):
        figures.kernel_effect(photo, kernels.get_kernel("identity"))
    with pytest.raises(ValueError, match="2-D"):
        figures.kernel_effect(picture, np.ones(3))


def test_kernel_grids_print_weights_as_fractions() -> None:
    fig = figures.kernel_grids(
        {"gauss": kernels.get_kernel("gaussian_blur"), "lap": kernels.get_kernel("laplacian")}
    )
    assert texts(fig.axes[0]) == ["1/16", "1/8", "1/16", "1/8", "1/4", "1/8", "1/16", "1/8", "1/16"]
    assert "sum = 1" in fig.axes[0].get_title() and "sum = 0" in fig.axes[1].get_title()
    with pytest.raises(ValueError, match="at least one"):
        figures.kernel_grids({})
    wrapped = figures.kernel_grids(
        {n: kernels.get_kernel(n) for n in ("identity", "sharpen", "emboss")}, columns=2
    )
    assert len(wrapped.axes) == 4 and not wrapped.axes[3].axison
    assert texts(wrapped.axes[2])[0] == "-2"


def test_window_products_gives_the_worked_pixel() -> None:
    fig = figures.window_products(kernels.EDGE_PATCH, kernels.EDGE_KERNEL)
    assert fig.get_suptitle().endswith(f"= {kernels.EDGE_RESPONSE}")
    products = shown(fig.axes[2])
    np.testing.assert_array_equal(products, kernels.EDGE_PATCH * kernels.EDGE_KERNEL)
    with_bias = figures.window_products(kernels.EDGE_PATCH, kernels.EDGE_KERNEL, bias=-75)
    assert with_bias.get_suptitle().endswith("= 100")
    with pytest.raises(ValueError, match="same shape"):
        figures.window_products(np.ones((3, 3)), np.ones((5, 5)))


@pytest.mark.parametrize("step", [0, 4, 8])
def test_convolution_step_fills_the_map_up_to_the_step(step: int) -> None:
    fig = figures.convolution_step(kernels.TINY_IMAGE, kernels.TINY_KERNEL, step=step)
    map_ax = fig.axes[3]
    labels = texts(map_ax)
    expected = kernels.TINY_FEATURE_MAP.ravel()
    assert labels[: step + 1] == [str(v) for v in expected[: step + 1]]
    assert labels[step + 1 :] == ["?"] * (expected.size - step - 1)
    r, c = divmod(step, 3)
    products = kernels.TINY_IMAGE[r : r + 3, c : c + 3] * kernels.TINY_KERNEL
    np.testing.assert_array_equal(shown(fig.axes[2]), products)
    title = fig.get_suptitle()
    assert f"= {expected[step]}" in title
    assert "running sum: " + " → ".join(str(v) for v in np.cumsum(products.ravel())) in title


def test_convolution_step_adds_the_bias_and_checks_its_input() -> None:
    fig = figures.convolution_step(kernels.TINY_IMAGE, kernels.TINY_KERNEL, step=0, bias=-3)
    assert texts(fig.axes[3])[0] == str(kernels.TINY_FEATURE_MAP[0, 0] - 3)
    with pytest.raises(ValueError, match="between 0 and 8"):
        figures.convolution_step(kernels.TINY_IMAGE, kernels.TINY_KERNEL, step=9)
    with pytest.raises(TypeError, match="int"):
        figures.convolution_step(kernels.TINY_IMAGE, kernels.TINY_KERNEL, step=True)
    with pytest.raises(ValueError, match="at most 12"):
        figures.convolution_step(np.zeros((20, 20)), kernels.TINY_KERNEL, step=0)


@pytest.mark.parametrize(("k", "s", "p"), [(3, 1, 0), (3, 2, 1), (5, 1, 2), (1, 3, 0), (5, 3, 1)])
def test_padding_grid_output_follows_the_formula_per_axis(picture, k: int, s: int, p: int) -> None:
    image = picture[:6, :9]  # not square: height and width need their own formula
    fig = figures.padding_grid(image, kernel_size=k, stride=s, padding=p, mode="zeros")
    out = shown(fig.axes[1])
    assert out.shape == ((6 + 2 * p - k) // s + 1, (9 + 2 * p - k) // s + 1)
    assert shown(fig.axes[0]).shape == (6 + 2 * p, 9 + 2 * p)
    hatched = [patch for patch in fig.axes[0].patches if patch.get_hatch()]
    assert len(hatched) == (6 + 2 * p) * (9 + 2 * p) - 6 * 9
    assert f"= {out.shape[0]}" in fig.get_suptitle() and f"= {out.shape[1]}" in fig.get_suptitle()


def test_padding_grid_shows_zero_and_replicate_borders() -> None:
    white = np.full((5, 5), 200, dtype=np.uint8)
    zeros = figures.padding_grid(white, kernel_size=3, stride=1, padding=1, mode="zeros")
    same = figures.padding_grid(white, kernel_size=3, stride=1, padding=1, mode="replicate")
    assert shown(zeros.axes[0])[0, 0] == 0 and shown(same.axes[0])[0, 0] == 200
    assert shown(zeros.axes[1])[0, 0] < 200
    np.testing.assert_allclose(shown(same.axes[1]), 200)
    with pytest.raises(ValueError, match="does not fit"):
        figures.padding_grid(white, kernel_size=7, stride=1, padding=0)


def test_multichannel_filter_sums_the_channel_maps_plus_bias(photo) -> None:
    k = np.stack([kernels.get_kernel(n) for n in ("identity", "sobel_x", "laplacian")])
    fig = figures.multichannel_filter(photo, k, bias=5.0)
    maps = [ops.correlate2d(photo[:, :, c], k[c]) for c in range(3)]
    panels = [ax for ax in fig.axes if ax.images and shown(ax).shape == maps[0].shape]
    *channel_panels, total_panel = panels
    for ax, expected in zip(channel_panels, maps, strict=True):
        np.testing.assert_allclose(shown(ax), expected)
    np.testing.assert_allclose(shown(total_panel), np.sum(maps, axis=0) + 5.0)
    layer, _ = ops.conv2d_forward(np.moveaxis(photo, -1, 0)[None], k[None], np.array([5.0]))
    np.testing.assert_allclose(shown(total_panel), layer[0, 0])
    with pytest.raises(ValueError, match="stack of 3 kernels"):
        figures.multichannel_filter(photo, k[:2])
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        figures.multichannel_filter(photo[:, :, 0], k)


def test_signed_maps_share_one_symmetric_scale() -> None:
    fig = figures.signed_maps_row({"a": np.array([[1.0, -2.0]]), "b": np.array([[5.0, 0.0]])})
    for ax in fig.axes[:2]:
        assert ax.images[0].get_clim() == (-5.0, 5.0)
        assert ax.images[0].get_cmap().name == "RdBu_r"
    with pytest.raises(ValueError, match="2-D"):
        figures.signed_maps_row({"a": np.zeros(3)})


def test_kernel_gallery_has_one_row_per_image_and_one_column_per_kernel(picture) -> None:
    ks = {n: kernels.get_kernel(n) for n in ("identity", "sobel_y")}
    fig = figures.kernel_gallery({"a": picture, "b": picture[::-1]}, ks)
    assert len(fig.axes) == 2 * 3
    np.testing.assert_allclose(shown(fig.axes[2]), ops.correlate2d(picture, ks["sobel_y"]))
    with pytest.raises(ValueError, match="greyscale"):
        figures.kernel_gallery({"a": np.zeros((4, 4, 3), dtype=np.uint8)}, ks)
    wrapped = figures.kernel_gallery({"a": picture, "b": picture[::-1]}, ks, columns=2)
    assert len(fig.axes) == 6 and len(wrapped.axes) == 8  # 2 rows per picture, 2 columns
    drawn = [ax for ax in wrapped.axes if ax.images]
    assert len(drawn) == 6 and not wrapped.axes[3].axison
    np.testing.assert_allclose(
        shown(wrapped.axes[6]), ops.correlate2d(picture[::-1], ks["sobel_y"])
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0 -1 0\n-1 4 -1\n0 -1 0", kernels.get_kernel("laplacian")),
        ("1/9 1/9 1/9; 1/9 1/9 1/9; 1/9 1/9 1/9", kernels.get_kernel("box_blur")),
        ("-1, 0, 1\n-2, 0, 2\n\n-1, 0, 1\n", kernels.get_kernel("sobel_x")),
        ("2.5", np.array([[2.5]])),
    ],
)
def test_parse_kernel_reads_typed_kernels(text: str, expected: np.ndarray) -> None:
    np.testing.assert_allclose(parse_kernel(text), expected)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("1 2 3\n4 5\n6 7 8", "same number"),
        ("1 2\n3 4", "odd size"),
        ("1 2 3\n4 x 6\n7 8 9", "row 2: 'x' is not a number"),
        ("1 2 3\n4 5 6", "square"),
        ("1/0", "not a number"),
    ],
)
def test_parse_kernel_explains_bad_input(text: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_kernel(text)
    with pytest.raises(TypeError):
        parse_kernel(np.ones((3, 3)))


def test_kernel_typer_redraws_for_a_typed_kernel(picture) -> None:
    typer = KernelTyper({"p": picture, "q": picture[::-1]}, dpi=30)
    first = bytes(typer.picture.value)
    assert first.startswith(b"\x89PNG") and typer.message.value == ""
    typer.text.value = "-1 0 1\n-2 0 2\n-1 0 1"
    assert bytes(typer.picture.value) != first
    second = bytes(typer.picture.value)
    typer.text.value = "1 2\n3"
    assert "same number" in typer.message.value and bytes(typer.picture.value) == second
    typer.text.value = "1"
    typer.image.value = "q"
    assert typer.message.value == "" and bytes(typer.picture.value) != second


def test_kernel_playground_has_a_frame_per_choice_and_no_descriptions(picture) -> None:
    images = {"p": picture, "q": picture.T.copy()}
    demo = kernel_playground(images, ["identity", "sobel_x", "box_blur"], dpi=30)
    assert isinstance(demo, StaticDemo)
    assert len(demo.frames) == 6
    assert demo.frame(kernel="sobel_x", image="p") != demo.frame(kernel="identity", image="p")
    assert demo.frame(kernel="sobel_x", image="p") != demo.frame(kernel="sobel_x", image="q")
    live = kernel_playground(images, ["identity"], live=True, dpi=30)
    found = all_widgets(live)
    assert any(isinstance(w, KernelTyper) for w in found)
    assert all(getattr(w, "description", "") == "" for w in found)
    with pytest.raises(ValueError, match="no kernel called"):
        kernel_playground(images, ["blurry"], dpi=30)


def test_convolution_stepper_plays_through_every_position() -> None:
    demo = convolution_stepper(kernels.TINY_IMAGE, kernels.TINY_KERNEL, dpi=30)
    assert len(demo.frames) == kernels.TINY_FEATURE_MAP.size
    assert demo.specs[0].play
    assert any(isinstance(w, widgets.Play) for w in all_widgets(demo))
    assert len(set(demo.frames.values())) == len(demo.frames)
    with pytest.raises(ValueError, match="does not fit"):
        convolution_stepper(np.zeros((2, 2)), kernels.TINY_KERNEL)


def test_padding_explorer_frames_change_with_each_control(picture) -> None:
    demo = padding_explorer(
        picture[:5, :6],
        kernel_sizes=(1, 3),
        strides=(1, 2),
        borders=((0, "zeros"), (1, "zeros"), (1, "replicate")),
        dpi=30,
    )
    assert len(demo.frames) == 12
    base = demo.frame(border=(1, "zeros"), stride=1, kernel_size=3)
    assert base != demo.frame(border=(1, "replicate"), stride=1, kernel_size=3)
    assert base != demo.frame(border=(1, "zeros"), stride=2, kernel_size=3)
    assert base != demo.frame(border=(1, "zeros"), stride=1, kernel_size=1)


def test_multichannel_demo_frames_change_with_filter_and_bias(photo) -> None:
    i, z = kernels.get_kernel("identity"), np.zeros((3, 3))
    filters = {"red - green": np.stack([i, -i, z]), "blue": np.stack([z, z, i])}
    demo = multichannel_demo(photo, filters, biases=(0.0, 50.0), dpi=30)
    assert len(demo.frames) == 4
    assert demo.frame(filter="blue", bias=0.0) != demo.frame(filter="red - green", bias=0.0)
    assert demo.frame(filter="blue", bias=0.0) != demo.frame(filter="blue", bias=50.0)
    with pytest.raises(ValueError, match="at least one filter"):
        multichannel_demo(photo, {})
