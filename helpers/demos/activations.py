"""Demos for chapter 3 (activations): one feature map through each activation, with a bias.

``activation_demo`` precomputes ``activation_explorer`` of :mod:`helpers.figures.activations`
for every activation and bias, so the page can switch between them without a kernel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from helpers.demos.static import Control, StaticDemo, static_demo
from helpers.figures.activations import activation_explorer

__all__ = ["activation_demo"]


def activation_demo(
    fmap: np.ndarray,
    *,
    activations: Sequence[str] = ("relu", "leaky_relu", "sigmoid", "tanh"),
    biases: Sequence[float] = (-1.0, -0.5, 0.0, 0.5, 1.0),
    slope: float = 0.1,
    dpi: float = 65,
) -> StaticDemo:
    """Build the activation explorer: one feature map through each activation, with a bias.

    **Shapes:** fmap (H, W), a signed convolution output.

    Returns a StaticDemo with controls "activation" and "bias".
    """
    return static_demo(
        lambda activation, bias: activation_explorer(
            fmap, activation=activation, bias=bias, slope=slope
        ),
        {
            "activation": Control(
                "activation", tuple((a.replace("_", " "), a) for a in activations), kind="toggle"
            ),
            "bias": list(biases),
        },
        dpi=dpi,
    )
