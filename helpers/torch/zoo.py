"""Landmark CNN architectures as PyTorch modules, built to be counted, compared and taken apart.

Chapter 8 tells the history of convolutional networks through their parameter counts. Every
network below is written out layer by layer from its paper, so that a count is something the
code computes, never a number copied from a table:

* ``LeNet5Original`` (1998): LeCun's digit reader, with its sparse C3 connection table,
  trainable subsampling and fixed output prototypes, which is why it has exactly 60,000
  trainable parameters;
* ``AlexNet`` (2012) with its two GPU halves, and ``ZFNet`` (2013), its tuned successor;
* ``VGG`` (2014/15): nothing but 3×3 convolutions, stacked deep;
* ``GoogLeNet`` (2014/15) built from ``Inception`` modules;
* ``ResNet`` (2015/16) built from residual ``BasicBlock`` s;
* ``DenseNet`` (2016/17) built from dense blocks.

The big ones hold tens of millions of weights. ``build`` therefore creates them on PyTorch's
``meta`` device by default: every parameter then has a shape but no memory and no values,
which is all that counting and shape checks need, and takes milliseconds.

The last part holds the tools of the transfer-learning demo: a tiny two-block network and
functions that freeze and unfreeze parts of any module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from helpers.ops.shapes import count_parameters

__all__ = [
    "ARCHITECTURES",
    "AlexNet",
    "Architecture",
    "BasicBlock",
    "DenseBlock",
    "DenseNet",
    "GoogLeNet",
    "Inception",
    "LENET5_C3_TABLE",
    "LeNet5Original",
    "ResNet",
    "TinyNet",
    "VGG",
    "VGG_CONFIGS",
    "ZFNet",
    "build",
    "freeze",
    "output_shape",
    "parameter_breakdown",
    "plot_parameter_history",
    "trainable_table",
    "unfreeze",
    "weight_depth",
]


# ---------------------------------------------------------------------------------------------
# Counting: ``count_parameters`` itself is helpers.ops.shapes's, for layer specs and modules
# alike; buffers such as LeNet's fixed output prototypes are not parameters and do not count.
# ---------------------------------------------------------------------------------------------


def parameter_breakdown(module: nn.Module) -> dict[str, int]:
    """Split a module's parameters by the kind of layer that holds them.

    Returns a dict with the keys ``"conv"`` (convolutions, LeNet's C3 and subsampling
    coefficients included), ``"dense"`` (fully connected layers) and ``"norm"`` (batch-norm
    scales and shifts); the three values add up to ``count_parameters(module)``.
    """
    counts = {"conv": 0, "dense": 0, "norm": 0}
    for layer in module.modules():
        own = sum(p.numel() for p in layer.parameters(recurse=False))
        if own == 0:
            continue
        if isinstance(layer, nn.Linear):
            counts["dense"] += own
        elif isinstance(layer, nn.BatchNorm2d):
            counts["norm"] += own
        else:
            counts["conv"] += own
    return counts


def weight_depth(module: nn.Module) -> int:
    """Return the number of weight layers on the longest path from input to output.

    This is how papers state depth ("VGG-16", "ResNet-18", "22 layers" for GoogLeNet): only
    convolutions and fully connected layers count, and layers that run side by side (the
    branches of an Inception module, a shortcut) count once, along the longest branch.
    Modules of this file know their own structure through a ``weight_depth`` method; any other
    container is assumed to run its children one after another.
    """
    if isinstance(module, nn.Conv2d | nn.Linear):
        return 1
    own = getattr(module, "weight_depth", None)
    if callable(own):
        return int(cast(Callable[[], int], own)())
    return sum(weight_depth(child) for child in module.children())


def output_shape(model: nn.Module, input_shape: Sequence[int]) -> tuple[int, ...]:
    """Push an empty batch of one image through a model and return the shape that comes out.

    **Shapes:** ``input_shape`` (C, H, W) → the output shape with its batch axis, e.g.
    ``(1, 1000)``. The batch lives on the model's device; on the ``meta`` device no
    arithmetic is done at all, only shapes are propagated. The model is put in eval mode.
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (C, H, W) with positive sizes, got {input_shape!r}.")
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros((1, *shape), device=device))
    return tuple(out.shape)


# ---------------------------------------------------------------------------------------------
# LeNet-5 (LeCun, Bottou, Bengio, Haffner 1998)
# ---------------------------------------------------------------------------------------------

LENET5_C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2),
    (1, 2, 3),
    (2, 3, 4),
    (3, 4, 5),
    (4, 5, 0),
    (5, 0, 1),
    (0, 1, 2, 3),
    (1, 2, 3, 4),
    (2, 3, 4, 5),
    (3, 4, 5, 0),
    (4, 5, 0, 1),
    (5, 0, 1, 2),
    (0, 1, 3, 4),
    (1, 2, 4, 5),
    (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)
"""Which of the six S2 maps each of the sixteen C3 maps reads (Table I of the 1998 paper)."""


class _ScaledTanh(nn.Module):
    """LeNet's squashing function 1.7159 · tanh(2x/3), so that f(±1) = ±1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.7159 * torch.tanh(x * (2.0 / 3.0))


class _Subsampling(nn.Module):
    """LeNet's S layers: each map's 2×2 averages times a trainable weight, plus a bias."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = nn.functional.avg_pool2d(x, 2)
        return pooled * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class _SparseC3(nn.Module):
    """LeNet's C3: sixteen 5×5 filters, each seeing only the S2 maps its table row lists.

    The sparse table kept the count down and, in the paper's words, broke the symmetry
    between maps so that they learn different features.
    """

    def __init__(self, table: Sequence[Sequence[int]] = LENET5_C3_TABLE) -> None:
        super().__init__()
        self.table = [list(row) for row in table]
        self.filters = nn.ModuleList(nn.Conv2d(len(row), 1, kernel_size=5) for row in self.table)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = [f(x[:, row]) for f, row in zip(self.filters, self.table, strict=True)]
        return torch.cat(maps, dim=1)

    def weight_depth(self) -> int:
        return 1


class _RBFOutput(nn.Module):
    """LeNet's output layer: the squared distance of the 84 F6 values to ten fixed prototypes.

    The prototypes were stylised 7×12 bitmaps of the digits, drawn by hand and not trained;
    they are stored as a buffer, so they are not parameters. Random ±1 codes stand in for the
    bitmaps here: the count and the shapes are what matter.
    """

    def __init__(self, in_features: int = 84, num_classes: int = 10) -> None:
        super().__init__()
        seeded = torch.Generator(device="cpu").manual_seed(1998)
        codes = torch.randint(0, 2, (num_classes, in_features), generator=seeded, device="cpu")
        self.register_buffer("prototypes", (codes.float() * 2 - 1).to(torch.get_default_device()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prototypes = cast(torch.Tensor, self.prototypes)
        return ((x.unsqueeze(1) - prototypes.unsqueeze(0)) ** 2).sum(dim=2)

    def weight_depth(self) -> int:
        return 1


class LeNet5Original(nn.Module):
    """LeNet-5 as published in 1998: 32×32 input, C1-S2-C3-S4-C5-F6 and an RBF output.

    Trainable parameters: C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164; the output
    prototypes are fixed. The forward pass returns ten distances: the smallest one wins.
    """

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, kernel_size=5)
        self.s2 = _Subsampling(6)
        self.c3 = _SparseC3()
        self.s4 = _Subsampling(16)
        self.c5 = nn.Conv2d(16, 120, kernel_size=5)
        self.f6 = nn.Linear(120, 84)
        self.output = _RBFOutput(84, 10)
        self.squash = _ScaledTanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map digits to their distances from the ten class prototypes.

        **Shapes:** x (N, 1, 32, 32) → (N, 10).
        """
        x = self.squash(self.s2(self.c1(x)))
        x = self.squash(self.s4(self.c3(x)))
        x = self.squash(self.c5(x)).flatten(1)
        return self.output(self.squash(self.f6(x)))

    def weight_depth(self) -> int:
        """Return 5: C1, C3, C5, F6 and the output layer (the S layers are pooling)."""
        return 5


# ---------------------------------------------------------------------------------------------
# AlexNet (Krizhevsky, Sutskever, Hinton 2012) and ZF Net (Zeiler, Fergus 2014)
# ---------------------------------------------------------------------------------------------


def _dense_head(in_features: int, num_classes: int) -> nn.Sequential:
    """The AlexNet-era classifier: two 4096-unit layers with dropout, then the class scores."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(in_features, 4096),
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(4096, 4096),
        nn.ReLU(inplace=True),
        nn.Linear(4096, num_classes),
    )


class AlexNet(nn.Module):
    """AlexNet as in the 2012 paper: five conv layers, three dense layers, 227×227 RGB input.

    The network was split over two GPUs: conv2, conv4 and conv5 only see the half of the
    previous layer's maps that lives on their own GPU. ``groups=2`` reproduces exactly that
    connectivity (and parameter count) on one device. The paper's "224×224" input only works
    out with 227×227.
    """

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=11, stride=4),
            nn.ReLU(inplace=True),
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
            nn.MaxPool2d(3, stride=2),
            nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2),
            nn.ReLU(inplace=True),
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
            nn.MaxPool2d(3, stride=2),
            nn.Conv2d(256, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2),
        )
        self.classifier = _dense_head(256 * 6 * 6, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """**Shapes:** x (N, 3, 227, 227) → class scores (N, num_classes)."""
        return self.classifier(self.features(x))


class ZFNet(nn.Module):
    """ZF Net (2013): AlexNet retuned after looking at what its filters had learned.

    Smaller first filters with a smaller stride (7×7, stride 2 instead of 11×11, stride 4), and
    the two GPU halves joined into dense connections. Input 224×224 RGB.
    """

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=7, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, ceil_mode=True),
            nn.LocalResponseNorm(5),
            nn.Conv2d(96, 256, kernel_size=5, stride=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, ceil_mode=True),
            nn.LocalResponseNorm(5),
            nn.Conv2d(256, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2),
        )
        self.classifier = _dense_head(256 * 6 * 6, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """**Shapes:** x (N, 3, 224, 224) → class scores (N, num_classes)."""
        return self.classifier(self.features(x))


# ---------------------------------------------------------------------------------------------
# VGG (Simonyan, Zisserman 2015)
# ---------------------------------------------------------------------------------------------

VGG_CONFIGS: dict[int, tuple[int | str, ...]] = {
    11: (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    13: (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    16: (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    19: (
        *(64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M"),
        *(512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
    ),
}
"""VGG configurations A, B, D and E: a number is a 3×3 conv with that many filters, M a pool."""


class VGG(nn.Module):
    """VGG-11/13/16/19: stacks of 3×3 convolutions (padding 1) and 2×2 max-pools, then three
    dense layers. Input 224×224 RGB.
    """

    def __init__(self, depth: int = 16, num_classes: int = 1000) -> None:
        super().__init__()
        if depth not in VGG_CONFIGS:
            raise ValueError(f"VGG comes in depths {sorted(VGG_CONFIGS)}; got depth={depth!r}.")
        layers: list[nn.Module] = []
        channels = 3
        for item in VGG_CONFIGS[depth]:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU(inplace=True)]
                channels = int(item)
        self.features = nn.Sequential(*layers)
        self.classifier = _dense_head(512 * 7 * 7, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """**Shapes:** x (N, 3, 224, 224) → class scores (N, num_classes)."""
        return self.classifier(self.features(x))


# ---------------------------------------------------------------------------------------------
# GoogLeNet (Szegedy et al. 2015)
# ---------------------------------------------------------------------------------------------


def _conv_relu(c_in: int, c_out: int, k: int, **kwargs: Any) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, **kwargs), nn.ReLU(inplace=True))


class Inception(nn.Module):
    """An Inception module: 1×1, 3×3 and 5×5 convolutions and a 3×3 max-pool side by side.

    The 1×1 "reduce" convolutions shrink the number of channels before the expensive 3×3 and
    5×5 filters, and a 1×1 "pool projection" after the max-pool; the four outputs are stacked
    along the channel axis, so the module returns
    ``c1x1 + c3x3 + c5x5 + pool_proj`` maps of the input's height and width.
    """

    def __init__(
        self,
        in_channels: int,
        c1x1: int,
        c3x3_reduce: int,
        c3x3: int,
        c5x5_reduce: int,
        c5x5: int,
        pool_proj: int,
    ) -> None:
        super().__init__()
        self.branch1 = _conv_relu(in_channels, c1x1, 1)
        self.branch3 = nn.Sequential(
            _conv_relu(in_channels, c3x3_reduce, 1), _conv_relu(c3x3_reduce, c3x3, 3, padding=1)
        )
        self.branch5 = nn.Sequential(
            _conv_relu(in_channels, c5x5_reduce, 1), _conv_relu(c5x5_reduce, c5x5, 5, padding=2)
        )
        self.branch_pool = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1), _conv_relu(in_channels, pool_proj, 1)
        )
        self.out_channels = c1x1 + c3x3 + c5x5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """**Shapes:** x (N, in_channels, H, W) → (N, out_channels, H, W)."""
        branches = (self.branch1, self.branch3, self.branch5, self.branch_pool)
        return torch.cat([branch(x) for branch in branches], dim=1)

    def weight_depth(self) -> int:
        """Return the depth of the deepest branch: the branches run side by side."""
        return max(weight_depth(b) for b in (self.branch1, self.branch3, self.branch5))


# The nine modules of Table 1 of the paper: in, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj.
_GOOGLENET_TABLE: dict[str, tuple[int, int, int, int, int, int, int]] = {
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


class _AuxClassifier(nn.Module):
    """A training-time side classifier: 5×5/3 average pool, 1×1 conv, 1024 dense, scores."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.AvgPool2d(5, stride=3),
            _conv_relu(in_channels, 128, 1),
            nn.Flatten(),
            nn.Linear(128 * 4 * 4, 1024),
            nn.ReLU(inplace=True),
            nn.Dropout(0.7),
            nn.Linear(1024, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class GoogLeNet(nn.Module):
    """GoogLeNet (Inception v1): a stem, nine Inception modules, global average pooling, one
    dense layer. Input 224×224 RGB.

    ``aux_classifiers=True`` adds the two side classifiers (after 4a and 4d) that the paper
    used only during training to push extra gradient into the middle of the network. In
    training mode the forward pass then returns ``(main, aux1, aux2)``.
    """

    def __init__(self, num_classes: int = 1000, *, aux_classifiers: bool = False) -> None:
        super().__init__()
        t = _GOOGLENET_TABLE
        self.stem = nn.Sequential(
            _conv_relu(3, 64, 7, stride=2, padding=3),
            nn.MaxPool2d(3, stride=2, ceil_mode=True),
            nn.LocalResponseNorm(5),
            _conv_relu(64, 64, 1),
            _conv_relu(64, 192, 3, padding=1),
            nn.LocalResponseNorm(5),
            nn.MaxPool2d(3, stride=2, ceil_mode=True),
        )
        pool = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.stage3 = nn.Sequential(Inception(*t["3a"]), Inception(*t["3b"]), pool)
        self.stage4a = Inception(*t["4a"])
        self.stage4bcd = nn.Sequential(*(Inception(*t[name]) for name in ("4b", "4c", "4d")))
        self.stage4e = nn.Sequential(Inception(*t["4e"]), pool)
        self.stage5 = nn.Sequential(Inception(*t["5a"]), Inception(*t["5b"]))
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.4), nn.Linear(1024, num_classes)
        )
        self.aux1 = _AuxClassifier(512, num_classes) if aux_classifiers else None
        self.aux2 = _AuxClassifier(528, num_classes) if aux_classifiers else None

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """**Shapes:** x (N, 3, 224, 224) → class scores (N, num_classes)."""
        x = self.stage4a(self.stage3(self.stem(x)))
        side1 = x
        x = self.stage4bcd(x)
        side2 = x
        out = self.head(self.stage5(self.stage4e(x)))
        if self.training and self.aux1 is not None and self.aux2 is not None:
            return out, self.aux1(side1), self.aux2(side2)
        return out

    def weight_depth(self) -> int:
        """Return the depth of the main path; the side classifiers branch off it."""
        main = (self.stem, self.stage3, self.stage4a, self.stage4bcd, self.stage4e, self.stage5)
        return sum(weight_depth(part) for part in main) + weight_depth(self.head)


# ---------------------------------------------------------------------------------------------
# ResNet (He, Zhang, Ren, Sun 2016)
# ---------------------------------------------------------------------------------------------


class BasicBlock(nn.Module):
    """A residual block: two 3×3 conv + batch-norm layers whose result is *added* to the input.

    ``out = relu(F(x) + shortcut(x))``. The shortcut is the identity, unless the block halves
    the resolution (``stride=2``) or changes the channel count: then a 1×1 convolution with
    the same stride makes the shapes match. The convolutions have no bias, since the batch
    norm right after them has its own shift.
    """

    def __init__(self, in_channels: int, channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """**Shapes:** x (N, in_channels, H, W) → (N, channels, H / stride, W / stride)."""
        residual = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(residual + self.shortcut(x))

    def weight_depth(self) -> int:
        """Return 2: the two 3×3 convolutions; the shortcut runs beside them."""
        return 2


class ResNet(nn.Module):
    """ResNet-18 / ResNet-34: a 7×7 stem, four stages of basic blocks, global average pooling
    and one dense layer. Input 224×224 RGB.
    """

    BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}

    def __init__(self, depth: int = 18, num_classes: int = 1000) -> None:
        super().__init__()
        if depth not in self.BLOCKS:
            raise ValueError(
                f"this ResNet is built from basic blocks for depths {sorted(self.BLOCKS)}; "
                f"got depth={depth!r}."
            )
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        stages: list[nn.Module] = []
        channels = 64
        for i, blocks in enumerate(self.BLOCKS[depth]):
            width = 64 * 2**i
            for j in range(blocks):
                stride = 2 if (i > 0 and j == 0) else 1
                stages.append(BasicBlock(channels, width, stride))
                channels = width
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """**Shapes:** x (N, 3, 224, 224) → class scores (N, num_classes)."""
        return self.head(self.stages(self.stem(x)))


# ---------------------------------------------------------------------------------------------
# DenseNet (Huang, Liu, van der Maaten, Weinberger 2017)
# ---------------------------------------------------------------------------------------------


class _DenseLayer(nn.Module):
    """BN-ReLU-1×1 conv (4k maps), BN-ReLU-3×3 conv (k new maps), stacked onto the input."""

    def __init__(self, in_channels: int, growth: int, bottleneck: int = 4) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_channels, bottleneck * growth, 1, bias=False),
            nn.BatchNorm2d(bottleneck * growth),
            nn.ReLU(inplace=True),
            nn.Conv2d(bottleneck * growth, growth, 3, padding=1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.layers(x)], dim=1)


class DenseBlock(nn.Module):
    """A dense block: every layer receives the maps of *all* layers before it.

    Each layer adds ``growth`` new maps to the pile, so a block with L layers turns C input
    channels into ``C + L * growth`` output channels at the same height and width.
    """

    def __init__(self, in_channels: int, layers: int, growth: int = 32) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            *(_DenseLayer(in_channels + i * growth, growth) for i in range(layers))
        )
        self.out_channels = in_channels + layers * growth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """**Shapes:** x (N, in_channels, H, W) → (N, out_channels, H, W)."""
        return self.layers(x)


class DenseNet(nn.Module):
    """DenseNet-121: a stem, four dense blocks (6, 12, 24, 16 layers, growth 32) joined by
    transition layers that halve the channels and the resolution. Input 224×224 RGB.
    """

    def __init__(
        self, blocks: Sequence[int] = (6, 12, 24, 16), growth: int = 32, num_classes: int = 1000
    ) -> None:
        super().__init__()
        channels = 2 * growth
        parts: list[nn.Module] = [
            nn.Conv2d(3, channels, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        ]
        for i, n_layers in enumerate(blocks):
            block = DenseBlock(channels, n_layers, growth)
            parts.append(block)
            channels = block.out_channels
            if i < len(blocks) - 1:
                parts += [
                    nn.BatchNorm2d(channels),
                    nn.ReLU(inplace=True),
                    nn.Conv2d(channels, channels // 2, 1, bias=False),
                    nn.AvgPool2d(2),
                ]
                channels //= 2
        parts += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*parts)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, num_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """**Shapes:** x (N, 3, 224, 224) → class scores (N, num_classes)."""
        return self.head(self.features(x))


# ---------------------------------------------------------------------------------------------
# The catalogue
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Architecture:
    """One landmark network: its name, its year, how to build it and what it eats."""

    name: str
    year: int
    make: Callable[[], nn.Module]
    input_shape: tuple[int, int, int]
    idea: str


ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture(
            "LeNet-5", 1998, LeNet5Original, (1, 32, 32), "conv + subsampling, learned end to end"
        ),
        Architecture("AlexNet", 2012, AlexNet, (3, 227, 227), "ReLU, dropout, GPUs, ImageNet"),
        Architecture("ZF Net", 2013, ZFNet, (3, 224, 224), "retuned by visualising features"),
        Architecture("VGG-16", 2014, lambda: VGG(16), (3, 224, 224), "depth from 3×3 stacks"),
        Architecture("VGG-19", 2014, lambda: VGG(19), (3, 224, 224), "depth from 3×3 stacks"),
        Architecture("GoogLeNet", 2014, GoogLeNet, (3, 224, 224), "Inception modules, 1×1 convs"),
        Architecture("ResNet-18", 2015, lambda: ResNet(18), (3, 224, 224), "residual shortcuts"),
        Architecture("ResNet-34", 2015, lambda: ResNet(34), (3, 224, 224), "residual shortcuts"),
        Architecture("DenseNet-121", 2016, DenseNet, (3, 224, 224), "every layer sees all before"),
    )
}
"""The networks of chapter 8, by name, in order of appearance (year of the first preprint)."""


def build(name: str, *, device: str | torch.device = "meta") -> nn.Module:
    """Build one of the catalogued networks by name, on the ``meta`` device unless told.

    On ``meta`` the parameters have shapes but no storage: counting and shape checks are
    instant even for VGG's 138 million weights. Pass ``device="cpu"`` for real (randomly
    initialised) weights.
    """
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose one of {list(ARCHITECTURES)}.")
    with torch.device(device):
        return ARCHITECTURES[name].make()


def plot_parameter_history(
    names: Sequence[str], years: Sequence[int], counts: Sequence[int], depths: Sequence[int]
) -> Figure:
    """Draw parameter counts (log scale) and depth of a list of networks, side by side.

    **Shapes:** four sequences of the same length, one entry per network.
    Returns a Figure with two horizontal bar charts sharing the network names.
    """
    if not len(names) == len(years) == len(counts) == len(depths):
        raise ValueError("names, years, counts and depths must have the same length.")
    labels = [f"{n} ({y})" for n, y in zip(names, years, strict=True)]
    rows = np.arange(len(labels))[::-1]
    fig = Figure(figsize=(9.0, 0.42 * len(labels) + 1.4), layout="constrained")
    ax_p, ax_d = fig.subplots(1, 2, sharey=True)
    # One dark blue and one orange from the Okabe-Ito palette: distinct for all colour visions.
    ax_p.barh(rows, np.asarray(counts, dtype=float) / 1e6, color="#0072B2")
    ax_p.set_xscale("log")
    ax_p.set_xlabel("parameters (millions, log scale)")
    ax_d.barh(rows, depths, color="#E69F00")
    ax_d.set_xlabel("weight layers on the longest path")
    ax_p.set_yticks(rows, labels)
    for ax, values, fmt in ((ax_p, counts, "{:.2f} M"), (ax_d, depths, "{:d}")):
        for r, v in zip(rows, values, strict=True):
            text = fmt.format(v / 1e6) if fmt.endswith("M") else fmt.format(int(v))
            x = v / 1e6 if fmt.endswith("M") else v
            ax.text(x, r, " " + text, va="center", fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
    ax_p.set_xlim(right=max(counts) / 1e6 * 8)
    ax_d.set_xlim(right=max(depths) * 1.25)
    return fig


# ---------------------------------------------------------------------------------------------
# Transfer learning: a tiny backbone, freezing and unfreezing
# ---------------------------------------------------------------------------------------------


class TinyNet(nn.Module):
    """A two-block CNN small enough to train in seconds: the stand-in for a big backbone.

    ``block1``: conv 8@3×3 (padding 1), ReLU, 2×2 max-pool (28 → 14);
    ``block2``: conv 16@3×3 (padding 1), ReLU, 2×2 max-pool (14 → 7);
    ``head``: flatten, dense 784 → ``num_classes``.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(16 * 7 * 7, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """**Shapes:** x (N, 1, 28, 28) float → class scores (N, num_classes)."""
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
            raise ValueError(
                f"TinyNet expects a batch of 28×28 greyscale images, shape (N, 1, 28, 28); "
                f"got {tuple(x.shape)}."
            )
        return self.head(self.block2(self.block1(x)))


def freeze(module: nn.Module) -> nn.Module:
    """Stop training a module: its parameters get ``requires_grad=False``. Returns it."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module


def unfreeze(module: nn.Module) -> nn.Module:
    """Train a module again: its parameters get ``requires_grad=True``. Returns it."""
    for p in module.parameters():
        p.requires_grad_(True)
    return module


def trainable_table(model: nn.Module) -> list[tuple[str, int, int]]:
    """List each top-level part of a model with its parameter count and how many are trainable.

    Returns rows ``(name, parameters, trainable)``, one per direct child of ``model``.
    """
    return [
        (name, count_parameters(part), count_parameters(part, trainable_only=True))
        for name, part in model.named_children()
    ]
