"""The NumPy engine of the course: every CNN layer as a forward/backward pair.

Every op follows one contract, so that a network is just a chain of calls:

* ``*_forward(x, ..., *, options) -> (out, cache)`` computes the layer's output and keeps,
  in ``cache``, whatever the backward pass will need;
* ``*_backward(dout, cache) -> dx`` (or ``(dx, dw, db)`` for layers with parameters) turns
  the gradient of the loss with respect to ``out`` into gradients with respect to the inputs.

Images are batches in NCHW order: ``(N, C, H, W)`` = (images, channels, height, width).
Filters are ``(F, C, KH, KW)``: F filters, each a stack of C kernels of size KH x KW.
float32 and float64 inputs keep their precision; integer and boolean inputs (uint8 pictures)
are computed in float64. Every op checks its inputs and explains in a sentence what is wrong;
no op modifies an array that the caller passed in.

One module per layer family, read in the course's order: :mod:`~helpers.ops.padding`,
:mod:`~helpers.ops.conv` (its fast paths in :mod:`~helpers.ops.fastconv`),
:mod:`~helpers.ops.activations`, :mod:`~helpers.ops.pool`, :mod:`~helpers.ops.dense`,
:mod:`~helpers.ops.losses`, and :mod:`~helpers.ops.shapes` for output sizes and parameter
counts. :mod:`~helpers.ops.gradcheck` checks gradients numerically and
:mod:`~helpers.ops.numpy_cnn` chains the ops into a CNN trained with NumPy alone.
Everything public is importable from ``helpers.ops`` itself.
"""

from __future__ import annotations

from helpers.ops.activations import (
    ActivationCache,
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from helpers.ops.checks import PADDING_MODES
from helpers.ops.conv import (
    PER_IMAGE_MAX_K,
    Conv2dCache,
    conv2d_backward,
    conv2d_forward,
    convolve2d,
    correlate2d,
)
from helpers.ops.dense import (
    DenseCache,
    dense_backward,
    dense_forward,
    flatten_backward,
    flatten_forward,
)
from helpers.ops.losses import (
    REDUCTIONS,
    LossCache,
    SoftmaxCache,
    cross_entropy_backward,
    cross_entropy_forward,
    softmax,
    softmax_backward,
    softmax_forward,
    squared_error_backward,
    squared_error_forward,
)
from helpers.ops.padding import pad2d
from helpers.ops.pool import (
    Pool2dCache,
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    sum_pool2d_backward,
    sum_pool2d_forward,
)
from helpers.ops.shapes import (
    ACTIVATIONS,
    LENET5,
    REFERENCE_NETWORK,
    ActivationSpec,
    Conv2dSpec,
    DenseSpec,
    FlattenSpec,
    LayerSpec,
    LayerSummary,
    PoolSpec,
    as_layer_spec,
    count_parameters,
    format_summary,
    layer_parameters,
    output_size,
    summarize_network,
)

__all__ = [
    "ACTIVATIONS",
    "ActivationCache",
    "ActivationSpec",
    "Conv2dCache",
    "Conv2dSpec",
    "DenseCache",
    "DenseSpec",
    "FlattenSpec",
    "LENET5",
    "LayerSpec",
    "LayerSummary",
    "LossCache",
    "PADDING_MODES",
    "PER_IMAGE_MAX_K",
    "Pool2dCache",
    "PoolSpec",
    "REDUCTIONS",
    "REFERENCE_NETWORK",
    "SoftmaxCache",
    "as_layer_spec",
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "conv2d_backward",
    "conv2d_forward",
    "convolve2d",
    "correlate2d",
    "count_parameters",
    "cross_entropy_backward",
    "cross_entropy_forward",
    "dense_backward",
    "dense_forward",
    "flatten_backward",
    "flatten_forward",
    "format_summary",
    "layer_parameters",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "output_size",
    "pad2d",
    "relu_backward",
    "relu_forward",
    "sigmoid_backward",
    "sigmoid_forward",
    "softmax",
    "softmax_backward",
    "softmax_forward",
    "squared_error_backward",
    "squared_error_forward",
    "sum_pool2d_backward",
    "sum_pool2d_forward",
    "summarize_network",
    "tanh_backward",
    "tanh_forward",
]
