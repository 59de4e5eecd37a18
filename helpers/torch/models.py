"""The capstone's PyTorch networks, and tools to count, list and look inside their layers.

Every network keeps its layers in two ordered blocks, ``features`` (the convolutional feature
extractor) and ``classifier`` (the dense head), so that a summary table, the parameter count of
the conv part and the feature maps of every layer can all be read off the same structure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

from helpers.ops.shapes import count_parameters

__all__ = [
    "FruitNet",
    "LayerInfo",
    "LeNet5",
    "MLP",
    "MODEL_NAMES",
    "ReferenceNet",
    "build_model",
    "feature_maps",
    "layer_table",
    "summary",
]


def _check_image_size(name: str, image_size: int, smallest: int) -> None:
    if not isinstance(image_size, int) or image_size < smallest:
        raise ValueError(
            f"{name} needs square images of at least {smallest}×{smallest} pixels "
            f"(its convolutions and poolings would shrink anything smaller to nothing); "
            f"got image_size={image_size!r}."
        )


class _Blocks(nn.Module):
    """A feature extractor followed by a classifier; subclasses fill both blocks."""

    features: nn.Sequential
    classifier: nn.Sequential
    in_channels: int
    image_size: int
    num_classes: int

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map a batch of images to class scores (logits).

        **Shapes:** x (N, C, H, W) float → (N, num_classes).
        """
        expected = (self.in_channels, self.image_size, self.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"{type(self).__name__} expects a batch of shape (N, {expected[0]}, "
                f"{expected[1]}, {expected[2]}) (N images, channels first); "
                f"got {tuple(x.shape)}."
            )
        return self.classifier(self.features(x))


class ReferenceNet(_Blocks):
    """The syllabus reference network: three 3×3 conv layers, two max-pools, a 64-unit head.

    With the defaults (28×28 greyscale, 10 classes) it has 93,322 parameters, 55,744 of them in
    the convolutional part: 320 + 18,496 + 36,928 in the convs, 36,928 + 650 in the head.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 28) -> None:
        super().__init__()
        _check_image_size("ReferenceNet", image_size, 18)
        self.in_channels, self.num_classes, self.image_size = in_channels, num_classes, image_size
        # 'valid' 3×3 convs shrink by 2, pools halve (rounding down): 28→26→13→11→5→3.
        side = ((image_size - 2) // 2 - 2) // 2 - 2
        self.features = nn.Sequential()
        self.features.add_module("conv1", nn.Conv2d(in_channels, 32, kernel_size=3))
        self.features.add_module("relu1", nn.ReLU())
        self.features.add_module("pool1", nn.MaxPool2d(2))
        self.features.add_module("conv2", nn.Conv2d(32, 64, kernel_size=3))
        self.features.add_module("relu2", nn.ReLU())
        self.features.add_module("pool2", nn.MaxPool2d(2))
        self.features.add_module("conv3", nn.Conv2d(64, 64, kernel_size=3))
        self.features.add_module("relu3", nn.ReLU())
        self.classifier = nn.Sequential()
        self.classifier.add_module("flatten", nn.Flatten())
        self.classifier.add_module("dense1", nn.Linear(64 * side * side, 64))
        self.classifier.add_module("relu4", nn.ReLU())
        self.classifier.add_module("dense2", nn.Linear(64, num_classes))


class LeNet5(_Blocks):
    """LeNet-5 in its modern form: ReLU and max-pooling instead of the original squashing units.

    The classic input is 32×32 (61,706 parameters for 10 classes); 28×28 MNIST digits are
    zero-padded by 2 pixels on each side by the first layer, which has no parameters.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 32) -> None:
        super().__init__()
        if image_size not in (28, 32):
            raise ValueError(
                f"LeNet5 is built for 32×32 images (or 28×28 MNIST digits, padded to 32×32); "
                f"got image_size={image_size!r}."
            )
        self.in_channels, self.num_classes, self.image_size = in_channels, num_classes, image_size
        self.features = nn.Sequential()
        if image_size == 28:
            self.features.add_module("pad", nn.ZeroPad2d(2))
        self.features.add_module("conv1", nn.Conv2d(in_channels, 6, kernel_size=5))
        self.features.add_module("relu1", nn.ReLU())
        self.features.add_module("pool1", nn.MaxPool2d(2))
        self.features.add_module("conv2", nn.Conv2d(6, 16, kernel_size=5))
        self.features.add_module("relu2", nn.ReLU())
        self.features.add_module("pool2", nn.MaxPool2d(2))
        self.classifier = nn.Sequential()
        self.classifier.add_module("flatten", nn.Flatten())
        self.classifier.add_module("dense1", nn.Linear(16 * 5 * 5, 120))
        self.classifier.add_module("relu3", nn.ReLU())
        self.classifier.add_module("dense2", nn.Linear(120, 84))
        self.classifier.add_module("relu4", nn.ReLU())
        self.classifier.add_module("dense3", nn.Linear(84, num_classes))


class MLP(_Blocks):
    """A multilayer perceptron baseline: every pixel is an independent input feature.

    With the defaults (28×28 greyscale, one hidden layer of 128, 10 classes) it has 101,770
    parameters, about as many as the reference CNN, so the two compare fairly.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        image_size: int = 28,
        hidden: tuple[int, ...] = (128,),
    ) -> None:
        super().__init__()
        _check_image_size("MLP", image_size, 1)
        self.in_channels, self.num_classes, self.image_size = in_channels, num_classes, image_size
        # An MLP has no feature extractor: the block stays empty (an identity).
        self.features = nn.Sequential()
        self.classifier = nn.Sequential()
        self.classifier.add_module("flatten", nn.Flatten())
        width = in_channels * image_size * image_size
        for i, units in enumerate(hidden, start=1):
            self.classifier.add_module(f"dense{i}", nn.Linear(width, units))
            self.classifier.add_module(f"relu{i}", nn.ReLU())
            width = units
        self.classifier.add_module(f"dense{len(hidden) + 1}", nn.Linear(width, num_classes))


class FruitNet(_Blocks):
    """A small colour network for 100×100 fruit photos: four conv blocks and global averaging.

    Batch normalisation after each conv lets it train in a few epochs; global average pooling
    keeps the head tiny (61,208 parameters for 8 classes).
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 8, image_size: int = 100) -> None:
        super().__init__()
        _check_image_size("FruitNet", image_size, 16)
        self.in_channels, self.num_classes, self.image_size = in_channels, num_classes, image_size
        self.features = nn.Sequential()
        widths = [in_channels, 16, 32, 64, 64]
        for i in range(1, len(widths)):
            # The first conv strides by 2: fruit shapes are large, and it quarters the work.
            stride = 2 if i == 1 else 1
            conv = nn.Conv2d(widths[i - 1], widths[i], 3, stride=stride, padding=1, bias=False)
            self.features.add_module(f"conv{i}", conv)
            self.features.add_module(f"norm{i}", nn.BatchNorm2d(widths[i]))
            self.features.add_module(f"relu{i}", nn.ReLU())
            if i < len(widths) - 1:
                self.features.add_module(f"pool{i}", nn.MaxPool2d(2))
        self.classifier = nn.Sequential()
        self.classifier.add_module("average", nn.AdaptiveAvgPool2d(1))
        self.classifier.add_module("flatten", nn.Flatten())
        self.classifier.add_module("dense", nn.Linear(widths[-1], num_classes))


MODEL_NAMES = {"reference": ReferenceNet, "lenet5": LeNet5, "mlp": MLP, "fruitnet": FruitNet}


def build_model(name: str, *, in_channels: int, num_classes: int, image_size: int) -> nn.Module:
    """Build one of the course networks by its short name (see ``MODEL_NAMES``).

    Returns a freshly initialised ``nn.Module``.
    """
    if name not in MODEL_NAMES:
        raise ValueError(f"Unknown model {name!r}; choose one of {sorted(MODEL_NAMES)}.")
    return MODEL_NAMES[name](
        in_channels=in_channels, num_classes=num_classes, image_size=image_size
    )


@dataclass(frozen=True)
class LayerInfo:
    """One row of a model summary: a leaf layer, its output shape and its parameter count."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    parameters: int


def _leaf_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in model.named_modules() if name and not list(m.children())]


def _model_input_shape(model: nn.Module) -> tuple[int, int, int]:
    try:
        channels, size = cast(int, model.in_channels), cast(int, model.image_size)
    except AttributeError:
        raise TypeError(
            f"{type(model).__name__} does not say which image size it expects: "
            "pass input_shape=(C, H, W)."
        ) from None
    return (channels, size, size)


def _run_with_hooks(model: nn.Module, x: torch.Tensor) -> list[tuple[str, nn.Module, torch.Tensor]]:
    """Run the model once and capture every leaf layer's output, restoring its train/eval mode."""
    captured: list[tuple[str, nn.Module, torch.Tensor]] = []
    handles = []
    for name, layer in _leaf_layers(model):

        def hook(module, inputs, output, name=name):
            captured.append((name, module, output.detach()))

        handles.append(layer.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return captured


def layer_table(
    model: nn.Module, input_shape: tuple[int, int, int] | None = None
) -> list[LayerInfo]:
    """List every leaf layer with its output shape (for one image) and its parameter count.

    **Shapes:** input_shape is (C, H, W); each output_shape is the layer's output without the
    batch axis, e.g. (32, 26, 26) after the reference network's first conv.

    Returns a list of ``LayerInfo`` in the order the layers run.
    """
    shape = input_shape or _model_input_shape(model)
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    x = torch.zeros((1, *shape), device=device)
    return [
        LayerInfo(name, type(layer).__name__, tuple(out.shape[1:]), count_parameters(layer))
        for name, layer, out in _run_with_hooks(model, x)
    ]


def summary(model: nn.Module, input_shape: tuple[int, int, int] | None = None) -> str:
    """Describe a model like Keras ``model.summary()``: one row per layer, then the totals.

    **Shapes:** input_shape is (C, H, W); output shapes are printed as (N, C, H, W) or (N, F).

    Returns the table as a string (print it).
    """
    rows = layer_table(model, input_shape)
    # Keras shows a layer's own name; ours are unique within a model, so drop the block prefix.
    labels = [f"{row.name.rsplit('.', 1)[-1]} ({row.kind})" for row in rows]
    shapes = ["(N, " + ", ".join(str(d) for d in row.output_shape) + ")" for row in rows]
    first = max(len("Layer (type)"), *map(len, labels)) + 4
    second = max(len("Output Shape"), *map(len, shapes)) + 4
    width = first + second + 12
    rule, heavy = "─" * width, "═" * width
    lines = [f"Model: {type(model).__name__}", heavy]
    lines += [f"{'Layer (type)':<{first}}{'Output Shape':<{second}}{'Param #':>12}", heavy]
    for label, shape, row in zip(labels, shapes, rows, strict=True):
        lines += [f"{label:<{first}}{shape:<{second}}{row.parameters:>12,}", rule]
    total = count_parameters(model)
    trainable = count_parameters(model, trainable_only=True)
    lines[-1] = heavy
    lines += [
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
    ]
    return "\n".join(lines)


def feature_maps(model: nn.Module, image: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """Run one image through the model and keep what every layer outputs.

    **Shapes:** image (C, H, W) or (1, C, H, W); each returned map is the layer's output for that
    image without the batch axis: (C', H', W') for conv/pool layers, (F,) for dense ones.

    Returns a list of (layer name, output tensor on the CPU) in the order the layers run.
    """
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if image.dim() != 4 or image.shape[0] != 1:
        raise ValueError(
            f"feature_maps takes one image, shaped (C, H, W) or (1, C, H, W); "
            f"got {tuple(image.shape)}."
        )
    parameter = next(model.parameters(), None)
    if parameter is not None:
        image = image.to(parameter.device)
    return [(name, out[0].float().cpu()) for name, _, out in _run_with_hooks(model, image)]
