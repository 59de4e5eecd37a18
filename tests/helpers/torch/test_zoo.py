"""The landmark networks of chapter 8: parameter counts, depths, shapes and the freezing tools.

Counts are checked twice: against arithmetic written out here layer by layer from the papers,
and against the totals that the reference implementations (torchvision, the LeNet paper)
publish, so that a wiring mistake in `helpers.torch.zoo` cannot go unnoticed.
"""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from helpers import ops
from helpers.torch import count_parameters
from helpers.torch import zoo as arch


def conv(k: int, c_in: int, c_out: int, *, bias: bool = True, groups: int = 1) -> int:
    return k * k * (c_in // groups) * c_out + (c_out if bias else 0)


def dense(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def bn(c: int) -> int:
    return 2 * c


# ---------------------------------------------------------------------------------------------
# Parameter counts
# ---------------------------------------------------------------------------------------------


def test_lenet5_has_the_papers_60000_trainable_parameters() -> None:
    model = arch.build("LeNet-5")
    c3 = sum(conv(5, len(row), 1) for row in arch.LENET5_C3_TABLE)
    assert c3 == 1516, "the paper gives C3 1,516 trainable parameters"
    expected = conv(5, 1, 6) + 2 * 6 + c3 + 2 * 16 + conv(5, 16, 120) + dense(120, 84)
    assert count_parameters(model) == expected == 60_000
    # The prototypes of the output layer are fixed: a buffer, not a parameter.
    assert model.output.prototypes.shape == (10, 84)
    assert all(p is not model.output.prototypes for p in model.parameters())


def test_lenet5_c3_table_uses_every_s2_map_ten_times() -> None:
    table = arch.LENET5_C3_TABLE
    assert len(table) == 16
    for s2_map in range(6):
        assert sum(s2_map in row for row in table) == 10, f"S2 map {s2_map}"
    assert all(len(set(row)) == len(row) for row in table)


def test_original_and_modern_lenet5_differ_exactly_by_their_documented_parts() -> None:
    original = count_parameters(arch.build("LeNet-5"))
    full_c3, sparse_c3 = conv(5, 6, 16), 1516
    trainable_subsampling = 2 * 6 + 2 * 16
    dense_output = dense(84, 10)  # the modern version learns its output layer
    modern = original + (full_c3 - sparse_c3) - trainable_subsampling + dense_output
    assert modern == ops.count_parameters(ops.LENET5) == 61_706


def test_alexnet_count_follows_the_two_gpu_wiring() -> None:
    model = arch.build("AlexNet")
    convs = (
        conv(11, 3, 96)
        + conv(5, 96, 256, groups=2)
        + conv(3, 256, 384)
        + conv(3, 384, 384, groups=2)
        + conv(3, 384, 256, groups=2)
    )
    heads = dense(256 * 6 * 6, 4096) + dense(4096, 4096) + dense(4096, 1000)
    assert count_parameters(model) == convs + heads == 60_965_224
    assert tuple(model.features[4].weight.shape) == (256, 48, 5, 5), "conv2 sees half the maps"
    assert arch.parameter_breakdown(model) == {"conv": convs, "dense": heads, "norm": 0}


def test_zfnet_count() -> None:
    convs = (
        conv(7, 3, 96)
        + conv(5, 96, 256)
        + conv(3, 256, 384)
        + conv(3, 384, 384)
        + conv(3, 384, 256)
    )
    heads = dense(9216, 4096) + dense(4096, 4096) + dense(4096, 1000)
    assert count_parameters(arch.build("ZF Net")) == convs + heads


@pytest.mark.parametrize(("depth", "published"), [(16, 138_357_544), (19, 143_667_240)])
def test_vgg_counts_match_formula_and_published_totals(depth: int, published: int) -> None:
    widths = [c for c in arch.VGG_CONFIGS[depth] if c != "M"]
    convs = sum(conv(3, c_in, c_out) for c_in, c_out in zip([3, *widths], widths, strict=False))
    heads = dense(512 * 7 * 7, 4096) + dense(4096, 4096) + dense(4096, 1000)
    with torch.device("meta"):
        model = arch.VGG(depth)
    assert count_parameters(model) == convs + heads == published


def inception(c_in: int, c1: int, r3: int, c3: int, r5: int, c5: int, pp: int) -> int:
    return (
        conv(1, c_in, c1)
        + conv(1, c_in, r3)
        + conv(3, r3, c3)
        + conv(1, c_in, r5)
        + conv(5, r5, c5)
        + conv(1, c_in, pp)
    )


def test_inception_module_count_and_channels() -> None:
    module = arch.Inception(192, 64, 96, 128, 16, 32, 32)
    assert count_parameters(module) == inception(192, 64, 96, 128, 16, 32, 32) == 163_696
    out = module(torch.zeros(2, 192, 28, 28))
    assert tuple(out.shape) == (2, 256, 28, 28) and module.out_channels == 256


def test_googlenet_count_with_and_without_side_classifiers() -> None:
    table = [
        (192, 64, 96, 128, 16, 32, 32),
        (256, 128, 128, 192, 32, 96, 64),
        (480, 192, 96, 208, 16, 48, 64),
        (512, 160, 112, 224, 24, 64, 64),
        (512, 128, 128, 256, 24, 64, 64),
        (512, 112, 144, 288, 32, 64, 64),
        (528, 256, 160, 320, 32, 128, 128),
        (832, 256, 160, 320, 32, 128, 128),
        (832, 384, 192, 384, 48, 128, 128),
    ]
    stem = conv(7, 3, 64) + conv(1, 64, 64) + conv(3, 64, 192)
    expected = stem + sum(inception(*row) for row in table) + dense(1024, 1000)
    model = arch.build("GoogLeNet")
    assert count_parameters(model) == expected == 6_998_552
    side = lambda c_in: conv(1, c_in, 128) + dense(2048, 1024) + dense(1024, 1000)  # noqa: E731
    with torch.device("meta"):
        with_aux = arch.GoogLeNet(aux_classifiers=True)
    assert count_parameters(with_aux) == expected + side(512) + side(528)


def test_googlenet_side_classifiers_only_answer_in_training_mode() -> None:
    with torch.device("meta"):  # shapes only: the logic is what is tested here
        model = arch.GoogLeNet(num_classes=7, aux_classifiers=True)
        x = torch.empty(1, 3, 224, 224)
    model.train()
    outputs = model(x)
    assert isinstance(outputs, tuple) and [tuple(o.shape) for o in outputs] == [(1, 7)] * 3
    model.eval()
    with torch.no_grad():
        assert tuple(model(x).shape) == (1, 7)


def test_resnet_counts_match_published_totals() -> None:
    assert count_parameters(arch.build("ResNet-18")) == 11_689_512
    assert count_parameters(arch.build("ResNet-34")) == 21_797_672


def test_densenet121_count_matches_published_total() -> None:
    model = arch.build("DenseNet-121")
    assert count_parameters(model) == 7_978_856
    parts = arch.parameter_breakdown(model)
    assert sum(parts.values()) == 7_978_856 and parts["dense"] == dense(1024, 1000)


@pytest.mark.parametrize("name", list(arch.ARCHITECTURES))
def test_breakdown_adds_up_to_the_total(name: str) -> None:
    model = arch.build(name)
    assert sum(arch.parameter_breakdown(model).values()) == count_parameters(model)


# ---------------------------------------------------------------------------------------------
# Depth and shapes
# ---------------------------------------------------------------------------------------------

DEPTHS = {
    "LeNet-5": 5,
    "AlexNet": 8,
    "ZF Net": 8,
    "VGG-16": 16,
    "VGG-19": 19,
    "GoogLeNet": 22,  # "22 layers deep when counting only layers with parameters"
    "ResNet-18": 18,
    "ResNet-34": 34,
    "DenseNet-121": 121,
}


def test_every_catalogued_network_has_a_known_depth() -> None:
    assert set(DEPTHS) == set(arch.ARCHITECTURES)


@pytest.mark.parametrize(("name", "depth"), list(DEPTHS.items()))
def test_depth_is_the_number_the_paper_gives(name: str, depth: int) -> None:
    assert arch.weight_depth(arch.build(name)) == depth


@pytest.mark.parametrize("name", list(arch.ARCHITECTURES))
def test_each_network_maps_its_input_to_class_scores(name: str) -> None:
    model = arch.build(name)
    assert all(p.device.type == "meta" for p in model.parameters())
    classes = 10 if name == "LeNet-5" else 1000
    assert arch.output_shape(model, arch.ARCHITECTURES[name].input_shape) == (1, classes)


def test_zfnet_first_layer_keeps_a_finer_grid_than_alexnet() -> None:
    alex = arch.output_shape(arch.build("AlexNet").features[:1], (3, 227, 227))
    zf = arch.output_shape(arch.build("ZF Net").features[:1], (3, 224, 224))
    assert alex == (1, 96, 55, 55) and zf == (1, 96, 110, 110)


def test_lenet5_runs_on_real_numbers() -> None:
    torch.manual_seed(0)
    model = arch.build("LeNet-5", device="cpu")
    out = model(torch.randn(3, 1, 32, 32))
    assert tuple(out.shape) == (3, 10)
    assert torch.isfinite(out).all() and (out >= 0).all(), "RBF outputs are squared distances"


def test_basic_block_with_a_silenced_branch_is_the_identity() -> None:
    torch.manual_seed(0)
    block = arch.BasicBlock(16, 16).eval()
    with torch.no_grad():
        block.bn2.weight.zero_()
        x = torch.relu(torch.randn(2, 16, 5, 5))
        assert torch.equal(block(x), x)
    expected = 2 * conv(3, 16, 16, bias=False) + 2 * bn(16)
    assert count_parameters(block) == expected


def test_basic_block_downsampling_uses_a_projection_shortcut() -> None:
    block = arch.BasicBlock(64, 128, stride=2)
    assert tuple(block(torch.zeros(1, 64, 8, 8)).shape) == (1, 128, 4, 4)
    residual = conv(3, 64, 128, bias=False) + conv(3, 128, 128, bias=False) + 2 * bn(128)
    shortcut = conv(1, 64, 128, bias=False) + bn(128)
    expected = residual + shortcut
    assert count_parameters(block) == expected


def test_dense_block_grows_by_the_growth_rate_per_layer() -> None:
    block = arch.DenseBlock(10, layers=3, growth=4)
    out = block(torch.zeros(1, 10, 6, 6))
    assert tuple(out.shape) == (1, 22, 6, 6) == (1, block.out_channels, 6, 6)
    # Every layer keeps its input unchanged in front of its new maps (concatenation).
    x = torch.randn(1, 10, 6, 6)
    block.eval()
    with torch.no_grad():
        assert torch.equal(block(x)[:, :10], x)


# ---------------------------------------------------------------------------------------------
# Transfer-learning tools
# ---------------------------------------------------------------------------------------------


def test_freezing_and_unfreezing_change_the_trainable_count() -> None:
    model = arch.TinyNet(num_classes=5)
    total = conv(3, 1, 8) + conv(3, 8, 16) + dense(16 * 7 * 7, 5)
    assert count_parameters(model) == count_parameters(model, trainable_only=True)
    assert count_parameters(model) == total
    assert arch.freeze(model.block1) is model.block1
    arch.freeze(model.block2)
    assert arch.trainable_table(model) == [
        ("block1", conv(3, 1, 8), 0),
        ("block2", conv(3, 8, 16), 0),
        ("head", dense(784, 5), dense(784, 5)),
    ]
    assert count_parameters(model, trainable_only=True) == dense(784, 5)
    arch.unfreeze(model.block2)
    assert count_parameters(model, trainable_only=True) == dense(784, 5) + conv(3, 8, 16)
    assert count_parameters(model) == total


def test_a_frozen_block_does_not_change_during_training() -> None:
    torch.manual_seed(0)
    model = arch.TinyNet(num_classes=3)
    arch.freeze(model.block1)
    before = [p.detach().clone() for p in model.block1.parameters()]
    head_before = model.head[1].weight.detach().clone()
    optimiser = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    loss = nn.functional.cross_entropy(model(torch.rand(4, 1, 28, 28)), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    optimiser.step()
    assert all(torch.equal(a, b) for a, b in zip(before, model.block1.parameters(), strict=True))
    assert not torch.equal(head_before, model.head[1].weight)


def test_tiny_net_explains_a_wrong_input_shape() -> None:
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        arch.TinyNet()(torch.zeros(2, 28, 28))


# ---------------------------------------------------------------------------------------------
# Bad input and the figure
# ---------------------------------------------------------------------------------------------


def test_bad_arguments_get_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown architecture"):
        arch.build("LeNet-6")
    with pytest.raises(ValueError, match="depths"):
        arch.VGG(17)
    with pytest.raises(ValueError, match="depths"):
        arch.ResNet(50)
    with pytest.raises(ValueError, match=r"\(C, H, W\)"):
        arch.output_shape(arch.TinyNet(), (28, 28))
    with pytest.raises(TypeError, match="layer specs or a torch.nn.Module"):
        count_parameters([torch.zeros(3)])
    with pytest.raises(TypeError, match="got int"):
        count_parameters(3)


def test_plot_parameter_history_draws_two_panels() -> None:
    fig = arch.plot_parameter_history(["a", "b"], [1998, 2012], [60_000, 61_000_000], [5, 8])
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert fig.axes[0].get_xscale() == "log"
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a (1998)", "b (2012)"]
    with pytest.raises(ValueError, match="same length"):
        arch.plot_parameter_history(["a"], [1998, 2012], [1], [1])
