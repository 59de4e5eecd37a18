"""Interactive demos that work on the static website too, one module per chapter.

:mod:`helpers.demos.static` holds the machinery (precomputed frames switched by the
browser); the other modules are named after the chapters whose demos they hold.
"""

from __future__ import annotations

from helpers.demos.activations import activation_demo
from helpers.demos.backprop import backprop_stepper
from helpers.demos.capstone import VIEWER_LAYERS, ViewerInput, feature_map_viewer, viewer_maps
from helpers.demos.convolution import (
    KernelTyper,
    convolution_stepper,
    kernel_playground,
    multichannel_demo,
    padding_explorer,
    parse_kernel,
)
from helpers.demos.dense_heads import softmax_playground_demo
from helpers.demos.inspector import default_units, unit_inspector
from helpers.demos.pooling import POOL_WINDOWS, pooling_explorer_demo
from helpers.demos.static import (
    Control,
    Kind,
    StaticDemo,
    figure_to_png,
    normalise_controls,
    render_frames,
    static_demo,
)

__all__ = [
    "Control",
    "KernelTyper",
    "Kind",
    "POOL_WINDOWS",
    "StaticDemo",
    "VIEWER_LAYERS",
    "ViewerInput",
    "activation_demo",
    "backprop_stepper",
    "convolution_stepper",
    "default_units",
    "feature_map_viewer",
    "figure_to_png",
    "kernel_playground",
    "multichannel_demo",
    "normalise_controls",
    "padding_explorer",
    "parse_kernel",
    "pooling_explorer_demo",
    "render_frames",
    "softmax_playground_demo",
    "static_demo",
    "unit_inspector",
    "viewer_maps",
]
