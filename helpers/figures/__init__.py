"""Figures for the book and the demos, one module per chapter, named like the chapter.

Every function is pure: it takes arrays and returns a ``matplotlib.figure.Figure``. Each
chapter's figures live in the module named after it (``helpers.figures.pooling`` for
chapter 4); what several chapters draw alike (images, value grids, signed maps) lives in
:mod:`helpers.figures.common`. Every public function is also importable from
``helpers.figures``.
"""

from __future__ import annotations

from helpers.figures.activations import (
    ACTIVATION_NAMES,
    activation_curves,
    activation_explorer,
    apply_activation,
    decision_regions,
)
from helpers.figures.backprop import (
    annotated_signed_maps,
    backprop_step,
    curve_plot,
    init_statistics,
    optimizer_paths,
    train_val_curves,
)
from helpers.figures.capstone import feature_map_grid
from helpers.figures.common import CHANNELS
from helpers.figures.convolution import (
    convolution_step,
    kernel_effect,
    kernel_gallery,
    kernel_grids,
    multichannel_filter,
    padding_grid,
    signed_maps_row,
    window_products,
)
from helpers.figures.dense_heads import (
    cross_entropy_curve,
    dense_connections,
    flatten_order,
    network_sizes,
    softmax_bars,
)
from helpers.figures.inspector import (
    forward_breakdown,
    plot_unit,
    saliency_occlusion,
    top_patches_grid,
    unit_field,
)
from helpers.figures.pixels import (
    image_and_map,
    image_row,
    magnitude_row,
    pixel_inspector,
    pixel_matrix,
    raw_vs_scaled,
    show_channels,
)
from helpers.figures.pooling import (
    POOL_KINDS,
    coverage_panels,
    max_pool_backward_routing,
    pool_map,
    pooling_explorer,
    pooling_kinds,
    receptive_fields,
    window_coverage,
    window_winners,
)

__all__ = [
    "cross_entropy_curve",
    "max_pool_backward_routing",
    "ACTIVATION_NAMES",
    "CHANNELS",
    "POOL_KINDS",
    "activation_curves",
    "activation_explorer",
    "annotated_signed_maps",
    "apply_activation",
    "backprop_step",
    "convolution_step",
    "coverage_panels",
    "curve_plot",
    "decision_regions",
    "dense_connections",
    "feature_map_grid",
    "flatten_order",
    "forward_breakdown",
    "image_and_map",
    "image_row",
    "init_statistics",
    "kernel_effect",
    "kernel_gallery",
    "kernel_grids",
    "magnitude_row",
    "multichannel_filter",
    "network_sizes",
    "optimizer_paths",
    "padding_grid",
    "pixel_inspector",
    "pixel_matrix",
    "plot_unit",
    "pool_map",
    "pooling_explorer",
    "pooling_kinds",
    "raw_vs_scaled",
    "receptive_fields",
    "saliency_occlusion",
    "show_channels",
    "signed_maps_row",
    "softmax_bars",
    "top_patches_grid",
    "train_val_curves",
    "unit_field",
    "window_coverage",
    "window_products",
    "window_winners",
]
