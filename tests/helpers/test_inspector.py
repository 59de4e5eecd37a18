"""The unit inspector computes with the course's ops exactly what PyTorch computes.

Forward values, the gradient of the class score and the saliency are compared with PyTorch
in float64 (hooks and autograd) for randomly drawn units of a seeded ReferenceNet, on a
random image and a real digit; the receptive field of chapter 4's recurrence with the field
measured by backpropagation; occlusion and top patches with slow loops.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import nn

from helpers.data import example_digit
from helpers.demos import StaticDemo, figure_to_png, unit_inspector
from helpers.figures import (
    forward_breakdown,
    plot_unit,
    saliency_occlusion,
    top_patches_grid,
    unit_field,
)
from helpers.inspector import (
    LAYERS,
    gradient_field,
    inspect_unit,
    numpy_layers,
    occlusion_map,
    receptive_field,
    top_patches,
)
from helpers.ops import Conv2dSpec, PoolSpec
from helpers.torch.models import ReferenceNet

SIDES = {"conv1": 26, "conv2": 11, "conv3": 3}


@pytest.fixture(scope="module")
def model() -> ReferenceNet:
    torch.manual_seed(0)
    return ReferenceNet().double().eval()


@pytest.fixture(scope="module")
def net(model):
    return numpy_layers(model)


@pytest.fixture(scope="module", params=["random", "digit"])
def image(request) -> np.ndarray:
    if request.param == "digit":
        return example_digit()[0].astype(np.float64)[None] / 255
    return np.random.default_rng(3).random((1, 28, 28))


NO_OCCLUSION = np.zeros((28, 28))  # occlusion is tested on its own; skip its cost here


def torch_run(model, x: np.ndarray, layer: str):
    """Run PyTorch, keeping the conv output of ``layer`` in the graph: (out, relu, pool, scores)."""
    kept = {}
    conv = getattr(model.features, layer)
    handle = conv.register_forward_hook(lambda m, i, o: kept.__setitem__("out", o))
    xt = torch.from_numpy(x[None]).requires_grad_(True)
    scores = model(xt)
    handle.remove()
    out = kept["out"]
    relu = F.relu(out)
    pooled, argmax = (
        F.max_pool2d(relu, 2, return_indices=True) if layer != "conv3" else (None, None)
    )
    return xt, out, relu, pooled, argmax, scores


def draws(count: int, seed: int):
    rng = np.random.default_rng(seed)
    for i in range(count):
        layer = LAYERS[i % 3]
        side = SIDES[layer]
        channel = int(rng.integers(64 if layer != "conv1" else 32))
        yield layer, channel, int(rng.integers(side)), int(rng.integers(side))


def test_forward_values_equal_pytorch(model, net, image) -> None:
    for layer, channel, row, col in draws(9, seed=1):
        ins = inspect_unit(
            net, image, layer=layer, channel=channel, row=row, col=col, occlusion=NO_OCCLUSION
        )
        _, out, relu, pooled, argmax, scores = torch_run(model, image, layer)
        where = f"{layer}[{channel}] at ({row}, {col})"
        assert ins.pre_relu == pytest.approx(out[0, channel, row, col].item(), abs=1e-6), where
        assert ins.post_relu == pytest.approx(relu[0, channel, row, col].item(), abs=1e-6), where
        assert ins.partial_sums.sum() + ins.bias == pytest.approx(ins.pre_relu, abs=1e-9), where
        np.testing.assert_allclose(ins.unit_map, out[0, channel].detach().numpy(), atol=1e-6)
        assert ins.predicted == int(scores.argmax())
        if layer == "conv3" or max(row, col) // 2 >= pooled.shape[-1]:
            assert ins.pooled is None and ins.won_pool is None, where
            continue
        window = (row // 2, col // 2)
        assert ins.pool_window == window
        assert ins.pooled == pytest.approx(
            pooled[0, channel, window[0], window[1]].item(), abs=1e-6
        )
        won = argmax[0, channel, window[0], window[1]].item() == row * SIDES[layer] + col
        assert ins.won_pool == won, where


def test_the_score_gradient_equals_autograd(model, net, image) -> None:
    for layer, channel, row, col in draws(6, seed=2):
        for target in (None, 3):
            ins = inspect_unit(
                net,
                image,
                layer=layer,
                channel=channel,
                row=row,
                col=col,
                target=target,
                occlusion=NO_OCCLUSION,
            )
            _, out, relu, pooled, _, scores = torch_run(model, image, layer)
            assert ins.target == (int(scores.argmax()) if target is None else target)
            assert ins.score == pytest.approx(scores[0, ins.target].item(), abs=1e-9)
            (grad,) = torch.autograd.grad(scores[0, ins.target], out)
            want = grad[0, channel].numpy()
            np.testing.assert_allclose(ins.score_map, want, atol=1e-9, rtol=1e-6)
            assert ins.score_gradient == pytest.approx(want[row, col], abs=1e-9)
    assert np.abs(ins.score_map).max() > 0, "a gradient of all zeros would prove nothing"
    # A unit that is on but lost its pool window gets no gradient: the pool routes around it.
    first = inspect_unit(net, image, layer="conv1", channel=0, row=0, col=0, occlusion=NO_OCCLUSION)
    on = np.maximum(first.unit_map, 0)
    windows = on.reshape(13, 2, 13, 2).max(axis=(1, 3)).repeat(2, 0).repeat(2, 1)
    rows, cols = np.nonzero((on > 0) & (on < windows))
    loser = inspect_unit(
        net,
        image,
        layer="conv1",
        channel=0,
        row=int(rows[0]),
        col=int(cols[0]),
        occlusion=NO_OCCLUSION,
    )
    assert loser.post_relu > 0 and loser.won_pool is False and loser.score_gradient == 0.0


def test_the_saliency_equals_autograd_of_the_unit(model, net, image) -> None:
    for layer, channel, row, col in draws(6, seed=3):
        ins = inspect_unit(
            net, image, layer=layer, channel=channel, row=row, col=col, occlusion=NO_OCCLUSION
        )
        xt, out, *_ = torch_run(model, image, layer)
        (grad,) = torch.autograd.grad(out[0, channel, row, col], xt)
        np.testing.assert_allclose(ins.saliency, grad[0].numpy(), atol=1e-9, rtol=1e-6)
        # The saliency lives inside the receptive field.
        top, left, bottom, right = ins.field
        outside = ins.saliency.copy()
        outside[:, top : bottom + 1, left : right + 1] = 0
        assert not outside.any()


def test_recurrence_field_equals_the_measured_field_everywhere(net) -> None:
    assert receptive_field(net.specs()[:1], 0, 0, image_size=28) == (0, 0, 2, 2)
    assert receptive_field(net.specs(), 1, 1, image_size=28) == (4, 4, 21, 21)
    for layer in LAYERS:
        specs = net.specs()[: 2 * LAYERS.index(layer) + 1]
        side = SIDES[layer]
        for row, col in [(0, 0), (side - 1, side - 1), (0, side - 1), (side // 2, side // 3)]:
            predicted = receptive_field(specs, row, col, image_size=28)
            assert predicted == gradient_field(net, layer, row, col), (layer, row, col)


def test_padded_fields_are_clipped_at_the_border() -> None:
    # conv 3×3 pad 1, pool 2, conv 5×5 pad 2: measure the support of d unit / d x with torch.
    torch.manual_seed(0)
    conv_a, conv_b = nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 5, padding=2)
    for conv in (conv_a, conv_b):
        nn.init.constant_(conv.weight, 1.0)
    specs = [Conv2dSpec(1, 1, 3, padding=1), PoolSpec(2), Conv2dSpec(1, 1, 5, padding="same")]
    x = torch.ones(1, 1, 12, 12, requires_grad=True)
    out = conv_b(F.avg_pool2d(conv_a(x), 2))
    for row, col in [(0, 0), (5, 5), (2, 3), (0, 5)]:
        (grad,) = torch.autograd.grad(out[0, 0, row, col], x, retain_graph=True)
        rows, cols = np.nonzero(grad[0, 0].numpy())
        measured = (rows.min(), cols.min(), rows.max(), cols.max())
        assert receptive_field(specs, row, col, image_size=12) == measured, (row, col)


def test_occlusion_equals_a_slow_loop_on_a_small_network() -> None:
    torch.manual_seed(1)
    small = ReferenceNet(image_size=18, num_classes=3).double().eval()
    x = np.random.default_rng(0).random((1, 18, 18))
    patch, fill, target = 3, 0.5, 2
    fast = occlusion_map(small, x, target=target, patch=patch, fill=fill, batch=50)
    assert fast.shape == (18, 18)
    hidden = np.repeat(x[None], 18 * 18, axis=0)  # one copy per pixel, row by row
    for i in range(18):
        for j in range(18):
            hidden[18 * i + j, :, max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2] = fill
    with torch.no_grad():
        clean = small(torch.from_numpy(x[None]))[0, target].item()
        slow = clean - small(torch.from_numpy(hidden))[:, target].numpy().reshape(18, 18)
    np.testing.assert_allclose(fast, slow, atol=1e-9)
    assert np.abs(slow).max() > 0


def test_top_patches_are_the_largest_responses(model) -> None:
    images = np.random.default_rng(4).integers(0, 256, size=(6, 28, 28), dtype=np.uint8)
    x = images.astype(np.float64)[:, None] / 255
    for layer, channel in [("conv1", 7), ("conv2", 40), ("conv3", 5)]:
        found = top_patches(model, images, layer=layer, channel=channel, k=5)
        kept = []
        conv = getattr(model.features, layer)
        handle = conv.register_forward_hook(lambda m, i, o, kept=kept: kept.append(o))
        with torch.no_grad():
            model(torch.from_numpy(x))
        handle.remove()
        maps = kept[0][:, channel].numpy()
        order = np.argsort(-maps.ravel())[:5]
        want = [np.unravel_index(i, maps.shape) for i in order]
        assert [(p.image_index, p.row, p.col) for p in found] == [tuple(map(int, w)) for w in want]
        np.testing.assert_allclose([p.value for p in found], maps.ravel()[order], atol=1e-6)
        for p in found:
            top, left, bottom, right = p.field
            np.testing.assert_array_equal(
                p.crop, x[p.image_index, :, top : bottom + 1, left : right + 1]
            )


def test_any_reference_shape_and_a_digitnet_work_and_others_are_refused() -> None:
    torch.manual_seed(2)
    colour = ReferenceNet(in_channels=3, num_classes=4, image_size=29).double().eval()
    x = np.random.default_rng(5).random((3, 29, 29))
    ins = inspect_unit(
        colour, x, layer="conv2", channel=3, row=10, col=1, occlusion=np.zeros((29, 29))
    )
    _, out, *_ = torch_run(colour, x, "conv2")
    assert ins.pre_relu == pytest.approx(out[0, 3, 10, 1].item(), abs=1e-6)
    assert ins.pooled is None  # row 10 of an 11-row map feeds no pool window

    class DigitNet(nn.Module):
        def __init__(self, pool: bool = True) -> None:
            super().__init__()
            self.pool = pool
            self.conv1, self.conv2 = nn.Conv2d(1, 32, 3), nn.Conv2d(32, 64, 3)
            self.conv3 = nn.Conv2d(64, 64, 3)
            self.fc1, self.fc2 = nn.Linear(576, 64), nn.Linear(64, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.max_pool2d(x, 2) if self.pool else x[..., ::2, ::2]
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            return self.fc2(F.relu(self.fc1(torch.flatten(F.relu(self.conv3(x)), 1))))

    assert numpy_layers(DigitNet()).image_size == 28
    with pytest.raises(ValueError, match="not shaped like ReferenceNet.*scores differ"):
        numpy_layers(DigitNet(pool=False))
    with pytest.raises(ValueError, match="3 convolutions and 0 dense"):
        numpy_layers(nn.Sequential(*(nn.Conv2d(1, 1, 3) for _ in range(3))))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"layer": "conv4"}, "layer must be one of conv1, conv2, conv3"),
        ({"channel": 32}, r"channel must be from 0 to 31 \(conv1 has 32 channels\)"),
        ({"row": -1}, r"row must be from 0 to 25 \(conv1's maps are 26×26\)"),
        ({"col": 26}, "col must be from 0 to 25"),
        ({"target": 10}, "target must be from 0 to 9"),
        ({"channel": 1.5}, "channel must be a whole number"),
        ({"image": np.zeros((27, 27))}, r"reads images of shape \(1, 28, 28\)"),
        ({"image": np.zeros((2, 1, 28, 28))}, "one image at a time"),
        ({"image": np.full((28, 28), np.nan)}, "NaN"),
    ],
)
def test_bad_input_is_explained(net, kwargs, message) -> None:
    args = {"image": np.zeros((28, 28)), "layer": "conv1", "channel": 0, "row": 0, "col": 0}
    with pytest.raises(ValueError, match=message):
        inspect_unit(net, **{**args, **kwargs}, occlusion=NO_OCCLUSION)


def test_bad_top_patches_and_occlusion_input_is_explained(net) -> None:
    images = np.zeros((2, 28, 28))
    with pytest.raises(ValueError, match=r"k must be from 1 to 1352"):
        top_patches(net, images, layer="conv1", channel=0, k=0)
    with pytest.raises(ValueError, match="layer must be one of"):
        top_patches(net, images, layer="relu1", channel=0)
    with pytest.raises(ValueError, match="patch must be a positive whole number"):
        occlusion_map(net, images[0], target=0, patch=0)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        numpy_layers("my model")


def test_figures_are_figures(net) -> None:
    digit = example_digit()[0]
    ins = inspect_unit(net, digit, layer="conv2", channel=4, row=5, col=5, occlusion=NO_OCCLUSION)
    views = (unit_field(ins), forward_breakdown(ins), saliency_occlusion(ins), plot_unit(ins))
    for fig in (*views, plot_unit(ins, detail=False)):
        assert isinstance(fig, Figure) and fig.axes
    patches = top_patches(net, digit[None], layer="conv3", channel=0, k=4)
    assert len(top_patches_grid(patches, columns=2).axes) == 4
    with pytest.raises(TypeError, match="UnitInspection"):
        plot_unit(digit)


def test_the_demo_has_a_frame_per_choice_within_its_budget() -> None:
    torch.manual_seed(3)
    small = ReferenceNet(image_size=18).eval()
    rng = np.random.default_rng(6)
    images = {"a": rng.integers(0, 256, (18, 18), dtype=np.uint8), "b": rng.random((18, 18))}
    units = {"conv1": [(0, 1, 2), (5, 15, 15)], "conv3": [(1, 0, 0)]}
    demo = unit_inspector(small, images, units=units, layers=("conv1",), max_bytes=100_000)
    assert isinstance(demo, StaticDemo)
    assert len(demo.frames) == 2 * 1 * 2 and demo.total_bytes <= 100_000
    # Each frame is plot_unit of its own image and unit, for the predicted class.
    with torch.no_grad():
        scores = small(torch.from_numpy(images["b"]).float()[None, None])
    occlusion = occlusion_map(small, images["b"], target=int(scores.argmax()))
    ins = inspect_unit(
        small, images["b"], layer="conv1", channel=5, row=15, col=15, occlusion=occlusion
    )
    want = figure_to_png(plot_unit(ins, title="b", detail=False), dpi=60)
    assert demo.frame(image="b", layer="conv1", unit=1) == want
    one = {"a": images["a"]}
    live = unit_inspector(small, one, units=units, layers=("conv3",), live=True)
    assert isinstance(live.children[0], StaticDemo) and len(live.children[0].frames) == 1
    assert "Live" in live.children[1].children[0].value  # free controls a kernel redraws
    with pytest.raises(ValueError, match="over the budget"):
        unit_inspector(small, one, units=units, layers=("conv3",), max_bytes=1_000)
    with pytest.raises(ValueError, match="the same number of units"):
        unit_inspector(small, images, units=units, layers=("conv1", "conv3"))
