"""The arithmetic of networks: output sizes, layer specs, parameter counts and summaries."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from helpers.ops.checks import _as_int, _resolve_padding

__all__ = [
    "ACTIVATIONS",
    "ActivationSpec",
    "Conv2dSpec",
    "DenseSpec",
    "FlattenSpec",
    "LENET5",
    "LayerSpec",
    "LayerSummary",
    "PoolSpec",
    "REFERENCE_NETWORK",
    "as_layer_spec",
    "count_parameters",
    "format_summary",
    "layer_parameters",
    "output_size",
    "summarize_network",
]


# ---------------------------------------------------------------------------------------------
# Output size
# ---------------------------------------------------------------------------------------------


def output_size(n: int, k: int, stride: int = 1, padding: Any = 0) -> int:
    """Return the output length of a convolution or pooling along one axis.

    **Shapes:** input length ``n``, kernel (window) length ``k``; the answer is
    ``floor((n + 2 * padding - k) / stride) + 1``. ``padding`` may also be ``"valid"`` (0)
    or ``"same"`` (k - 1 extra positions in total, so the answer is ``ceil(n / stride)``).
    Height and width are computed separately: call it once for each.
    """
    n = _as_int(n, "n")
    k = _as_int(k, "k")
    stride = _as_int(stride, "stride")
    if n < 1 or k < 1:
        raise ValueError(f"input size and kernel size must be positive, got n={n}, k={k}.")
    if stride < 1:
        raise ValueError(f"stride must be positive, got {stride}.")
    if isinstance(padding, str):
        top, bottom, _, _ = _resolve_padding(padding, k, k)
    else:
        top = bottom = _as_int(padding, "padding")
        if top < 0:
            raise ValueError(f"padding must be 0 or more, got {padding}.")
    padded = n + top + bottom
    if k > padded:
        raise ValueError(
            f"a kernel of size {k} does not fit in an input of size {n} padded to {padded}."
        )
    return (padded - k) // stride + 1


# ---------------------------------------------------------------------------------------------
# Whole networks: layer specs, output shapes and parameter counts
# ---------------------------------------------------------------------------------------------
#
# A network is described by a list of layer specs. Each spec is a small dataclass below, or
# the equivalent tuple, which is quicker to type in a notebook:
#
#   ("conv", C_in, C_out, k)                 Conv2dSpec(C_in, C_out, k)
#   ("conv", C_in, C_out, k, stride, pad)    Conv2dSpec(C_in, C_out, k, stride, pad)
#   ("pool", size) / ("pool", size, stride)  PoolSpec(size, stride)  (max pooling)
#   ("avgpool", size) / ("sumpool", size)    PoolSpec(size, kind="avg" / "sum")
#   ("flatten",)                             FlattenSpec()
#   ("dense", n_in, n_out)                   DenseSpec(n_in, n_out)
#   ("relu",), ("sigmoid",), ("tanh",), ("leaky_relu",), ("softmax",)   ActivationSpec(name)
#
# Activations have no parameters and keep the shape, so REFERENCE_NETWORK and LENET5 record
# them as the ``activation`` of the conv/dense layer they follow rather than as extra rows.


@dataclass(frozen=True)
class Conv2dSpec:
    """A convolution layer: ``out_channels`` filters of size k x k over ``in_channels``."""

    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int = 1
    padding: int | str = 0
    activation: str | None = None

    @property
    def parameters(self) -> int:
        """The number of weights and biases: ``(k*k*C_in + 1) * C_out``."""
        return (self.kernel_size * self.kernel_size * self.in_channels + 1) * self.out_channels

    @property
    def label(self) -> str:
        """A short description for a summary table."""
        k = self.kernel_size
        text = f"conv {self.out_channels}@{k}x{k}"
        if self.stride != 1:
            text += f", stride {self.stride}"
        if self.padding not in (0, "valid"):
            text += f", padding {self.padding}"
        return text + (f" + {self.activation}" if self.activation else "")


@dataclass(frozen=True)
class PoolSpec:
    """A pooling layer (no parameters); ``stride`` defaults to ``size``."""

    size: int = 2
    stride: int | None = None
    kind: str = "max"

    parameters = 0

    @property
    def label(self) -> str:
        """A short description for a summary table."""
        stride = self.size if self.stride is None else self.stride
        text = f"{self.kind} pool {self.size}x{self.size}"
        return text + (f", stride {stride}" if stride != self.size else "")


@dataclass(frozen=True)
class FlattenSpec:
    """Flatten (C, H, W) feature maps into one vector of C*H*W values."""

    parameters = 0
    label = "flatten"


@dataclass(frozen=True)
class DenseSpec:
    """A fully connected layer from ``in_features`` to ``out_features`` values."""

    in_features: int
    out_features: int
    activation: str | None = None

    @property
    def parameters(self) -> int:
        """The number of weights and biases: ``(n_in + 1) * n_out``."""
        return (self.in_features + 1) * self.out_features

    @property
    def label(self) -> str:
        """A short description for a summary table."""
        text = f"dense {self.in_features}->{self.out_features}"
        return text + (f" + {self.activation}" if self.activation else "")


@dataclass(frozen=True)
class ActivationSpec:
    """An element-wise activation (no parameters, shape unchanged)."""

    name: str = "relu"

    parameters = 0

    @property
    def label(self) -> str:
        """A short description for a summary table."""
        return self.name


LayerSpec = Conv2dSpec | PoolSpec | FlattenSpec | DenseSpec | ActivationSpec
ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "softmax")

REFERENCE_NETWORK: list[LayerSpec] = [
    Conv2dSpec(1, 32, 3, activation="relu"),
    PoolSpec(2),
    Conv2dSpec(32, 64, 3, activation="relu"),
    PoolSpec(2),
    Conv2dSpec(64, 64, 3, activation="relu"),
    FlattenSpec(),
    DenseSpec(576, 64, activation="relu"),
    DenseSpec(64, 10, activation="softmax"),
]
"""The course's reference CNN for 28x28x1 digits (the capstone's PyTorch model): 93,322 weights."""

LENET5: list[LayerSpec] = [
    Conv2dSpec(1, 6, 5, activation="tanh"),
    PoolSpec(2, kind="avg"),
    Conv2dSpec(6, 16, 5, activation="tanh"),
    PoolSpec(2, kind="avg"),
    FlattenSpec(),
    DenseSpec(400, 120, activation="tanh"),
    DenseSpec(120, 84, activation="tanh"),
    DenseSpec(84, 10, activation="softmax"),
]
"""LeNet-5 on 32x32x1 input, every C3 map connected to all six S2 maps: 61,706 weights."""


def as_layer_spec(spec: Any) -> LayerSpec:
    """Return ``spec`` as a layer-spec dataclass, reading the tuple forms listed above."""
    if isinstance(spec, Conv2dSpec | PoolSpec | FlattenSpec | DenseSpec | ActivationSpec):
        return spec
    if not isinstance(spec, tuple | list) or not spec or not isinstance(spec[0], str):
        raise TypeError(
            f"a layer spec is a dataclass such as Conv2dSpec or a tuple like "
            f"('conv', 1, 32, 3), ('pool', 2), ('flatten',), ('dense', 576, 64); got {spec!r}."
        )
    kind, args = spec[0], tuple(spec[1:])
    try:
        if kind == "conv":
            made: LayerSpec = Conv2dSpec(*args)
        elif kind in ("pool", "maxpool", "avgpool", "sumpool"):
            pool_kind = {"pool": "max", "maxpool": "max"}.get(kind, kind[:3])
            made = PoolSpec(*args, kind=pool_kind)
        elif kind == "flatten":
            made = FlattenSpec(*args)
        elif kind == "dense":
            made = DenseSpec(*args)
        elif kind in ACTIVATIONS:
            made = ActivationSpec(kind, *args)
        else:
            raise ValueError(
                f"unknown layer kind {kind!r}; use conv, pool, avgpool, sumpool, flatten, "
                f"dense or an activation ({', '.join(ACTIVATIONS)})."
            )
    except TypeError as err:
        raise ValueError(f"layer spec {spec!r} has the wrong number of values: {err}.") from None
    return made


def layer_parameters(spec: Any) -> int:
    """Return the number of trainable weights and biases of one layer spec.

    **Shapes:** conv ``(k*k*C_in + 1) * C_out``; dense ``(n_in + 1) * n_out``; others 0.
    """
    return as_layer_spec(spec).parameters


def count_parameters(network: Any, *, trainable_only: bool = False) -> int:
    """Count the weights and biases of a network: a list of layer specs or a PyTorch module.

    A list of layer specs (dataclasses or the tuple forms above) is counted layer by layer
    with ``layer_parameters``: 93,322 for ``REFERENCE_NETWORK``. Anything with a
    ``.parameters()`` method, such as a ``torch.nn.Module`` (on any device, ``meta``
    included), is counted by the numbers its parameters hold; buffers such as batch-norm
    running means are not parameters and are not counted. With ``trainable_only=True``, frozen
    parameters (``requires_grad=False``) are left out as well; layer specs are all trainable.

    Returns the total as a Python int.
    """
    # Duck-typed, so that helpers.ops never imports torch.
    if callable(getattr(network, "parameters", None)):
        found = network.parameters()
        return sum(int(p.numel()) for p in found if p.requires_grad or not trainable_only)
    what = "count_parameters counts a list of layer specs or a torch.nn.Module"
    if isinstance(network, str) or not isinstance(network, Iterable):
        raise TypeError(f"{what}; got {type(network).__name__}.")
    try:
        return sum(layer_parameters(spec) for spec in network)
    except TypeError as error:
        raise TypeError(f"{what}: {error}") from None


class LayerSummary(NamedTuple):
    """One row of a network summary table."""

    label: str
    output_shape: tuple[int, ...]
    parameters: int


def summarize_network(specs: Any, input_shape: Any) -> list[LayerSummary]:
    """Walk a list of layer specs over an input shape, layer by layer.

    **Shapes:** ``input_shape`` (C, H, W) of one image (no batch axis); each row gives the
    output shape after that layer, (C, H, W) for conv/pool and (D,) after flatten.
    Raises ValueError where the layers do not fit together (a conv expecting 3 channels on
    a 1-channel input, a dense layer whose inputs do not match the flattened size).
    Returns a list of ``LayerSummary(label, output_shape, parameters)``.
    """
    shape = tuple(_as_int(s, "input_shape") for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (C, H, W) with positive sizes, got {input_shape!r}.")
    rows = []
    for position, raw in enumerate(specs, start=1):
        spec = as_layer_spec(raw)
        where = f"layer {position} ({spec.label})"
        if isinstance(spec, Conv2dSpec | PoolSpec) and len(shape) != 3:
            raise ValueError(f"{where} needs (C, H, W) feature maps but gets shape {shape}.")
        if isinstance(spec, Conv2dSpec):
            if spec.in_channels != shape[0]:
                raise ValueError(
                    f"{where} expects {spec.in_channels} input channel(s) but the previous "
                    f"layer produces {shape[0]}."
                )
            size = [output_size(n, spec.kernel_size, spec.stride, spec.padding) for n in shape[1:]]
            shape = (spec.out_channels, *size)
        elif isinstance(spec, PoolSpec):
            stride = spec.size if spec.stride is None else spec.stride
            shape = (shape[0], *(output_size(n, spec.size, stride) for n in shape[1:]))
        elif isinstance(spec, FlattenSpec):
            shape = (math.prod(shape),)
        elif isinstance(spec, DenseSpec):
            if len(shape) != 1:
                raise ValueError(f"{where} needs a flat vector; add a flatten layer before it.")
            if spec.in_features != shape[0]:
                raise ValueError(
                    f"{where} expects {spec.in_features} inputs but gets {shape[0]} values."
                )
            shape = (spec.out_features,)
        rows.append(LayerSummary(spec.label, shape, spec.parameters))
    return rows


def format_summary(rows: list[LayerSummary]) -> str:
    """Return the summary rows as a plain-text table with a total line, ready to print."""
    body = [(r.label, " x ".join(map(str, r.output_shape)), f"{r.parameters:,}") for r in rows]
    body.append(("total", "", f"{sum(r.parameters for r in rows):,}"))
    widths = [
        max(len(row[i]) for row in body + [("layer", "output", "parameters")]) for i in range(3)
    ]
    header = ("layer", "output", "parameters")
    lines = [f"{header[0]:<{widths[0]}}  {header[1]:<{widths[1]}}  {header[2]:>{widths[2]}}"]
    lines.append("-" * len(lines[0]))
    for label, shape, params in body:
        lines.append(f"{label:<{widths[0]}}  {shape:<{widths[1]}}  {params:>{widths[2]}}")
    return "\n".join(lines)
