"""Demo for chapter 7: the unit inspector, one unit of a trained network forward and backward.

``unit_inspector`` precomputes ``plot_unit`` (:mod:`helpers.figures.inspector`) for a few
images, layers and units and switches between the pictures in the browser; with
``live=True`` a live kernel also inspects any unit picked freely. ``default_units`` chooses
units that respond on average to the given images, so the demo opens on something to see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
from IPython.display import Image as IPImage
from IPython.display import display
from matplotlib.figure import Figure

from helpers.demos.static import Control, figure_to_png, static_demo
from helpers.figures.inspector import plot_unit
from helpers.inspector import (
    LAYERS,
    UnitInspection,
    _as_batch,
    _as_image,
    _forward,
    _scores,
    inspect_unit,
    numpy_layers,
    occlusion_map,
)

__all__ = ["default_units", "unit_inspector"]

Unit = tuple[int, int, int]  # (channel, row, col)


def default_units(
    model: Any, images: Any, *, layers: Sequence[str] = LAYERS, count: int = 3
) -> dict[str, list[Unit]]:
    """Pick, per layer, ``count`` units of different channels that respond most on average.

    Each channel's map (before ReLU) is averaged over the images; the channels whose average
    map peaks highest are chosen, each at the position of its peak.

    **Shapes:** images (N, H, W) or (N, C, H, W) as ``top_patches`` takes them.

    Returns ``{layer: [(channel, row, col), ...]}``.
    """
    net = numpy_layers(model)
    tape = _forward(net, _as_batch(images, net))
    chosen = {}
    for layer in layers:
        if layer not in tape.steps:
            raise ValueError(f"layer must be one of {', '.join(LAYERS)}; got {layer!r}.")
        mean = tape.steps[layer].out.mean(axis=0)  # (F, OH, OW)
        peaks = mean.reshape(len(mean), -1)
        channels = np.argsort(-peaks.max(axis=1), kind="stable")[:count]
        chosen[layer] = [
            (int(c), *map(int, np.unravel_index(peaks[c].argmax(), mean.shape[1:])))
            for c in channels
        ]
    return chosen


def _live_panel(
    net: Any, pictures: Mapping[str, np.ndarray], layers: Sequence[str], dpi: float
) -> widgets.Widget:
    """Free-form controls (any image, layer, channel, position) redrawn by the kernel."""
    first = next(iter(pictures.values()))[None]
    sizes = {name: step.out.shape[1:] for name, step in _forward(net, first).steps.items()}
    image = widgets.Dropdown(options=list(pictures), description="image")
    layer = widgets.Dropdown(options=list(layers), description="layer")
    channel = widgets.IntSlider(0, 0, sizes[layers[0]][0] - 1, description="channel")
    row = widgets.IntSlider(0, 0, sizes[layers[0]][1] - 1, description="row")
    col = widgets.IntSlider(0, 0, sizes[layers[0]][2] - 1, description="col")

    def resize(change: dict) -> None:
        f, oh, ow = sizes[change["new"]]
        for slider, top in ((channel, f), (row, oh), (col, ow)):
            slider.max = top - 1

    layer.observe(resize, names="value")

    def redraw(image: str, layer: str, channel: int, row: int, col: int) -> None:
        ins = inspect_unit(net, pictures[image], layer=layer, channel=channel, row=row, col=col)
        display(IPImage(data=figure_to_png(plot_unit(ins), dpi=dpi, colors=None)))

    controls = {"image": image, "layer": layer, "channel": channel, "row": row, "col": col}
    out = widgets.interactive_output(redraw, controls)
    note = widgets.HTML(
        "<b>Live</b>: any unit, recomputed by the Python kernel "
        "(in a running notebook only; on a static page these controls do nothing)."
    )
    return widgets.VBox([note, *controls.values(), out])


def unit_inspector(
    model: Any,
    images: Mapping[str, Any] | Sequence[Any],
    *,
    units: Mapping[str, Sequence[Unit]] | None = None,
    layers: Sequence[str] = LAYERS,
    dpi: float = 60,
    max_bytes: int = 400_000,
    live: bool = False,
) -> widgets.VBox:
    """Build the unit inspector: pick an image, a layer and a unit; see it forward and backward.

    ``images`` maps a label to an image (or is a list of images, labelled by position), each
    as ``inspect_unit`` takes it. ``units`` gives each layer the same number of units
    ``(channel, row, col)``; by default ``default_units`` picks three per layer. Every frame
    is ``plot_unit(..., detail=False)`` for the predicted class (the top row and the forward
    chain); ``max_bytes`` caps the PNG data of the page.

    Returns a StaticDemo with controls "image", "layer" and "unit"; with ``live=True`` it
    comes in a box with free-form controls that a live kernel redraws.
    """
    net = numpy_layers(model)
    if not isinstance(images, Mapping):
        images = {f"image {i}": image for i, image in enumerate(images)}
    if not images or not layers:
        raise ValueError("unit_inspector needs at least one image and one layer name.")
    pictures = {label: _as_image(image, net)[0] for label, image in images.items()}
    if units is None:
        units = default_units(net, np.stack(list(pictures.values())), layers=layers)
    counts = {len(units.get(layer, ())) for layer in layers}
    if len(counts) != 1 or 0 in counts:
        raise ValueError(
            f"units must give each of the layers {list(layers)} the same number of units "
            f"(channel, row, col), at least one; got {dict(units)}."
        )
    occlusions = {
        label: occlusion_map(net, x, target=int(np.argmax(_scores(net, x[None]))))
        for label, x in pictures.items()
    }
    cache: dict[tuple[str, str, int], UnitInspection] = {}

    def render(image: str, layer: str, unit: int = 0) -> Figure:
        key = (image, layer, unit)
        if key not in cache:
            channel, row, col = units[layer][unit]
            cache[key] = inspect_unit(
                net,
                pictures[image],
                layer=layer,
                channel=channel,
                row=row,
                col=col,
                occlusion=occlusions[image],
            )
        # The page shows plot_unit in full once; its frames keep the top row, to fit.
        return plot_unit(cache[key], title=image, detail=False)

    n_units = counts.pop()
    controls = {
        "image": Control("image", tuple((label, label) for label in pictures), kind="toggle"),
        "layer": Control("layer", tuple((name, name) for name in layers), kind="toggle"),
    }
    if n_units > 1:  # one unit per layer needs no control to choose it
        controls["unit"] = Control(
            "unit", tuple((chr(ord("A") + i), i) for i in range(n_units)), kind="toggle"
        )
    demo = static_demo(render, controls, dpi=dpi, max_bytes=max_bytes)
    if live:
        return widgets.VBox([demo, _live_panel(net, pictures, layers, dpi)])
    return demo
