"""Demos for chapter 7 (the capstone): a feature-map viewer for a trained network.

``viewer_maps`` runs one image through a trained PyTorch network and keeps the maps of the
layers in ``VIEWER_LAYERS``; ``feature_map_viewer`` does so for each ``ViewerInput`` and
shows every layer's maps with ``feature_map_grid`` (:mod:`helpers.figures.capstone`).
PyTorch is imported only when a viewer is built, so the other demos never load it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from helpers.demos.static import Control, StaticDemo, static_demo
from helpers.figures.capstone import feature_map_grid
from helpers.images import check_image

__all__ = ["VIEWER_LAYERS", "ViewerInput", "feature_map_viewer", "viewer_maps"]


VIEWER_LAYERS = ("conv1", "pool1", "conv2", "pool2", "conv3")
"""The layers the viewer offers by default: the feature extractor of ``ReferenceNet``."""


@dataclass(frozen=True)
class ViewerInput:
    """One input of the feature-map viewer: a trained network, an image for it, class names.

    **Shapes:** image (H, W) greyscale or (H, W, 3) colour, uint8 as the loaders return it,
    sized for the model.
    """

    model: Any
    image: np.ndarray
    class_names: tuple[str, ...]


def _image_batch(image: np.ndarray) -> Any:
    """Turn a uint8 image (H, W) or (H, W, C) into a float batch of one, (1, C, H, W) in [0, 1]."""
    import torch  # heavy: loaded only when a viewer is built

    arr = check_image(image, name="image")
    if arr.dtype != np.uint8:
        raise TypeError(
            f"the viewer takes uint8 images (0-255) as the data loaders return them; got "
            f"dtype {arr.dtype}."
        )
    chw = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(chw.astype(np.float32) / 255)[None]


def viewer_maps(
    model: Any, image: np.ndarray, *, layers: Sequence[str] = VIEWER_LAYERS
) -> tuple[dict[str, tuple[np.ndarray, bool]], np.ndarray]:
    """Run one image through a trained network and keep the maps the viewer shows.

    A convolution's maps are taken just before its ReLU (after batch normalisation where the
    network has it), so they are signed; any other layer's output is taken as it is (a
    pooling layer's maps come after ReLU, so they are never negative).

    **Shapes:** image (H, W) or (H, W, C) uint8; each map array (C', h, w).

    Returns ``({layer: (maps, signed)}, probabilities)``, the probabilities (K,) being the
    softmax of the network's output for this image.
    """
    from torch import nn

    from helpers.torch.models import feature_maps

    outputs = feature_maps(model, _image_batch(image))
    names = [name.rsplit(".", 1)[-1] for name, _ in outputs]
    modules = dict(model.named_modules())
    kinds = [type(modules[name]) for name, _ in outputs]
    chosen: dict[str, tuple[np.ndarray, bool]] = {}
    for layer in layers:
        if layer not in names:
            raise ValueError(
                f"{type(model).__name__} has no layer named {layer!r}; its layers are "
                f"{', '.join(names)}."
            )
        i = names.index(layer)
        signed = issubclass(kinds[i], nn.Conv2d)
        if signed:
            while i + 1 < len(kinds) and issubclass(kinds[i + 1], nn.BatchNorm2d):
                i += 1
        maps = outputs[i][1].numpy()
        if maps.ndim != 3:
            raise ValueError(f"layer {layer!r} outputs {maps.shape}, not a stack of maps.")
        chosen[layer] = (maps, signed or bool(maps.min() < 0))
    logits = outputs[-1][1].double()
    probabilities = (logits - logits.max()).exp()
    return chosen, (probabilities / probabilities.sum()).numpy()


def feature_map_viewer(
    inputs: Mapping[str, ViewerInput],
    *,
    layers: Sequence[str] = VIEWER_LAYERS,
    dpi: float = 70,
    max_bytes: int = 1_200_000,
) -> StaticDemo:
    """Build the feature-map viewer: pick an input and a layer, see all that layer's maps.

    The first layer's frames also show its filters, each beside the map it makes.

    Returns a StaticDemo with controls "image" and "layer"; every frame is
    ``feature_map_grid`` for that input and layer.
    """
    if not inputs or not layers:
        raise ValueError("feature_map_viewer needs at least one input and one layer name.")
    computed = {}
    for label, item in inputs.items():
        maps, probabilities = viewer_maps(item.model, item.image, layers=layers)
        if len(item.class_names) != len(probabilities):
            raise ValueError(
                f"input {label!r}: the network has {len(probabilities)} classes but "
                f"{len(item.class_names)} class names were given."
            )
        best = int(np.argmax(probabilities))
        caption = f"{label}\npredicted: {item.class_names[best]} ({probabilities[best]:.1%})"
        computed[label] = (maps, caption)

    def first_filters(model: Any) -> tuple[str, np.ndarray]:
        from torch import nn

        for name, module in model.named_modules():
            if isinstance(module, nn.Conv2d):
                return name.rsplit(".", 1)[-1], module.weight.detach().float().cpu().numpy()
        raise ValueError(f"{type(model).__name__} has no convolution layer.")

    def render(image: str, layer: str) -> Figure:
        maps, caption = computed[image]
        values, signed = maps[layer]
        C, h, w = values.shape
        when = "before ReLU (red +, blue −)" if signed else "after ReLU"
        title = f"{layer}: {C} maps of {h}×{w}, {when}"
        first, weights = first_filters(inputs[image].model)
        if layer == first:
            title += "; its filter framed in the corner"
        return feature_map_grid(
            inputs[image].image,
            values,
            signed=signed,
            title=title,
            image_title=caption,
            filters=weights if layer == first else None,
        )

    controls = {
        "image": Control("image", tuple((n, n) for n in inputs), kind="toggle"),
        "layer": Control("layer", tuple((n, n) for n in layers), kind="toggle"),
    }
    return static_demo(render, controls, dpi=dpi, max_bytes=max_bytes)
