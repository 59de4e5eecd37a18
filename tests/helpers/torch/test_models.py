"""The capstone networks: parameter counts, layer shapes, summary table, feature maps."""

from __future__ import annotations

import pytest
import torch

from helpers import ops
from helpers.torch import count_parameters
from helpers.torch.models import (
    MLP,
    MODEL_NAMES,
    FruitNet,
    LeNet5,
    ReferenceNet,
    build_model,
    feature_maps,
    layer_table,
    summary,
)

REFERENCE_LAYERS = [
    ("conv1", "Conv2d", (32, 26, 26), 320),
    ("relu1", "ReLU", (32, 26, 26), 0),
    ("pool1", "MaxPool2d", (32, 13, 13), 0),
    ("conv2", "Conv2d", (64, 11, 11), 18_496),
    ("relu2", "ReLU", (64, 11, 11), 0),
    ("pool2", "MaxPool2d", (64, 5, 5), 0),
    ("conv3", "Conv2d", (64, 3, 3), 36_928),
    ("relu3", "ReLU", (64, 3, 3), 0),
    ("flatten", "Flatten", (576,), 0),
    ("dense1", "Linear", (64,), 36_928),
    ("relu4", "ReLU", (64,), 0),
    ("dense2", "Linear", (10,), 650),
]


def test_reference_net_has_the_syllabus_parameter_counts():
    model = ReferenceNet()
    assert count_parameters(model) == 93_322
    assert count_parameters(model.features) == 55_744
    assert count_parameters(model.classifier) == 93_322 - 55_744


def test_one_parameter_counter_serves_layer_specs_and_modules():
    assert count_parameters is ops.count_parameters
    assert count_parameters(ReferenceNet()) == count_parameters(ops.REFERENCE_NETWORK)
    assert count_parameters(ops.REFERENCE_NETWORK, trainable_only=True) == 93_322
    frozen = ReferenceNet()
    frozen.features.requires_grad_(False)
    assert count_parameters(frozen) == 93_322
    assert count_parameters(frozen, trainable_only=True) == 93_322 - 55_744
    text = summary(frozen)
    assert "Total params: 93,322" in text and "Trainable params: 37,578" in text


def test_reference_net_layers_have_the_expected_output_shapes():
    rows = layer_table(ReferenceNet())
    got = [(r.name.rsplit(".", 1)[-1], r.kind, r.output_shape, r.parameters) for r in rows]
    assert got == REFERENCE_LAYERS


def test_summary_reads_like_keras():
    text = summary(ReferenceNet())
    lines = text.splitlines()
    assert lines[0] == "Model: ReferenceNet"
    conv1 = next(line for line in lines if line.startswith("conv1 (Conv2d)"))
    assert "(N, 32, 26, 26)" in conv1 and conv1.rstrip().endswith("320")
    dense1 = next(line for line in lines if line.startswith("dense1 (Linear)"))
    assert "(N, 64)" in dense1 and dense1.rstrip().endswith("36,928")
    assert "Total params: 93,322" in lines
    assert "Trainable params: 93,322" in lines
    assert "Non-trainable params: 0" in lines


def test_summary_counts_batchnorm_buffers_as_not_parameters():
    text = summary(FruitNet())
    assert f"Total params: {count_parameters(FruitNet()):,}" in text
    assert "norm1 (BatchNorm2d)" in text


def test_lenet5_classic_and_padded_mnist_versions():
    classic = LeNet5()
    assert count_parameters(classic) == 61_706
    shapes = [r.output_shape for r in layer_table(classic) if r.kind in ("Conv2d", "MaxPool2d")]
    assert shapes == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5)]
    padded = LeNet5(image_size=28)
    assert count_parameters(padded) == 61_706
    first = layer_table(padded)[0]
    assert (first.kind, first.output_shape, first.parameters) == ("ZeroPad2d", (1, 32, 32), 0)
    assert padded(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="32×32"):
        LeNet5(image_size=64)


def test_mlp_baseline_and_fruit_net_shapes():
    assert count_parameters(MLP()) == 784 * 128 + 128 + 128 * 10 + 10
    assert MLP()(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    fruit = FruitNet(num_classes=8)
    assert fruit(torch.zeros(2, 3, 100, 100)).shape == (2, 8)
    assert count_parameters(fruit) < count_parameters(ReferenceNet())


def test_reference_net_adapts_to_colour_and_other_sizes():
    model = ReferenceNet(in_channels=3, num_classes=8, image_size=32)
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 8)
    assert layer_table(model)[0].parameters == (3 * 9 + 1) * 32
    with pytest.raises(ValueError, match="at least 18"):
        ReferenceNet(image_size=10)


def test_wrong_input_shape_gets_a_clear_error():
    with pytest.raises(ValueError, match=r"expects a batch of shape \(N, 1, 28, 28\)"):
        ReferenceNet()(torch.zeros(2, 28, 28))
    with pytest.raises(ValueError, match=r"got \(2, 3, 28, 28\)"):
        ReferenceNet()(torch.zeros(2, 3, 28, 28))


def test_build_model_by_name():
    for name in MODEL_NAMES:
        size = 100 if name == "fruitnet" else 28
        model = build_model(name, in_channels=3, num_classes=5, image_size=size)
        assert model(torch.zeros(1, 3, size, size)).shape == (1, 5)
    with pytest.raises(ValueError, match="Unknown model 'resnet'"):
        build_model("resnet", in_channels=1, num_classes=10, image_size=28)


def test_feature_maps_cover_every_layer_and_keep_the_mode():
    model = ReferenceNet()
    model.train()
    image = torch.rand(1, 28, 28)
    maps = feature_maps(model, image)
    assert [name.rsplit(".", 1)[-1] for name, _ in maps] == [r[0] for r in REFERENCE_LAYERS]
    assert [tuple(m.shape) for _, m in maps] == [r[2] for r in REFERENCE_LAYERS]
    assert model.training, "feature_maps must restore training mode"
    # The last map is the network's own output for that image.
    torch.testing.assert_close(maps[-1][1], model.eval()(image[None])[0].detach())
    # ReLU outputs are never negative; a max-pooled map is never darker than its input.
    relu1, pool1 = maps[1][1], maps[2][1]
    assert relu1.min() >= 0 and pool1.max() == relu1.max()
    with pytest.raises(ValueError, match="one image"):
        feature_maps(model, torch.rand(2, 1, 28, 28))
