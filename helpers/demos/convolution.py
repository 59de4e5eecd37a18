"""Demos for chapter 2 (kernels and convolution): kernels on pictures, windows step by step.

``kernel_playground`` applies catalogue kernels to pictures (with ``live=True`` also a
hand-typed kernel, read by ``parse_kernel`` in a ``KernelTyper``), ``convolution_stepper``
plays a window through every position, ``padding_explorer`` varies padding, stride and
kernel size, and ``multichannel_demo`` filters a colour photo. Every frame is a figure of
:mod:`helpers.figures.convolution`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from fractions import Fraction

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from helpers.demos.static import Control, StaticDemo, _label, figure_to_png, static_demo
from helpers.figures.convolution import (
    convolution_step,
    kernel_effect,
    multichannel_filter,
    padding_grid,
)
from helpers.kernels import get_kernel

__all__ = [
    "KernelTyper",
    "convolution_stepper",
    "kernel_playground",
    "multichannel_demo",
    "padding_explorer",
    "parse_kernel",
]


def parse_kernel(text: str) -> np.ndarray:
    """Read a hand-typed kernel, one row per line, into an array.

    **Shapes:** returns (K, K) float64 with K odd, from 1 to 7.

    Rows may also be split by ";", numbers by spaces or commas; fractions such as 1/9 are
    fine. Raises ValueError saying which row holds a token that is not a number, or why the
    rows do not make a square kernel of odd size.
    """
    if not isinstance(text, str):
        raise TypeError(f"type the kernel as text, e.g. '0 -1 0; -1 4 -1; 0 -1 0'; got {text!r}.")
    lines = [ln for ln in text.replace(";", "\n").splitlines() if ln.strip()]
    rows = []
    for number, line in enumerate(lines, start=1):
        row = []
        for token in line.replace(",", " ").split():
            try:
                row.append(float(Fraction(token)))
            except (ValueError, ZeroDivisionError):
                raise ValueError(f"row {number}: {token!r} is not a number.") from None
        rows.append(row)
    if not rows:
        raise ValueError("the kernel is empty: type one row of numbers per line.")
    if len({len(row) for row in rows}) != 1:
        raise ValueError(
            f"every row needs the same number of values; got rows of {[len(r) for r in rows]}."
        )
    kernel = np.array(rows, dtype=np.float64)
    k, width = kernel.shape
    if k != width or k % 2 == 0 or k > 7:
        raise ValueError(
            f"the kernel must be square with an odd size (1, 3, 5 or 7), got {k} x {width}."
        )
    return kernel


class KernelTyper(widgets.VBox):
    """A live-notebook panel: type any kernel, pick a picture, and see its feature map.

    The picture is recomputed by the Python kernel on every change, so it works in Jupyter,
    not on the static website. ``picture.value`` holds the PNG shown; a kernel that cannot
    be read leaves the last picture and explains the problem in ``message``.
    """

    def __init__(
        self,
        images: Mapping[str, np.ndarray],
        *,
        initial: str = "0 -1 0\n-1 4 -1\n0 -1 0",
        dpi: float = 80,
    ) -> None:
        if not images:
            raise ValueError("KernelTyper needs at least one picture.")
        self.images = dict(images)
        self.dpi = dpi
        # No `description` on any control (see static._control_widget): labels are separate HTML.
        self.text = widgets.Textarea(
            value=initial, layout=widgets.Layout(width="16em", height="7em")
        )
        self.image = widgets.Dropdown(
            options=list(self.images), layout=widgets.Layout(width="auto")
        )
        self.picture = widgets.Image(
            format="png", layout=widgets.Layout(width="100%", max_width="700px")
        )
        self.message = widgets.HTML()
        self.text.observe(lambda _change: self.update(), names="value")
        self.image.observe(lambda _change: self.update(), names="value")
        note = widgets.HTML(
            "<b>Live</b>: type a kernel, one row per line (fractions like 1/9 are fine); "
            "the Python kernel recomputes the map."
        )
        controls = widgets.HBox([_label("kernel"), self.text, _label("picture"), self.image])
        super().__init__(children=[note, controls, self.message, self.picture])
        self.update()

    def update(self) -> bool:
        """Redraw for the typed kernel; return False (and say why) if it cannot be read."""
        try:
            kernel = parse_kernel(self.text.value)
        except ValueError as err:
            self.message.value = f"<span style='color:#b00020'>{html.escape(str(err))}</span>"
            return False
        name = self.image.value
        if not isinstance(name, str):  # no picture chosen yet: nothing to draw on
            return False
        fig = kernel_effect(self.images[name], kernel, kernel_name="your kernel", image_name=name)
        self.picture.value = figure_to_png(fig, dpi=self.dpi, colors=None)
        self.message.value = ""
        return True


def kernel_playground(
    images: Mapping[str, np.ndarray],
    kernels: Sequence[str],
    *,
    live: bool = False,
    dpi: float = 70,
) -> widgets.Widget:
    """Build the kernel playground: a kernel from the catalogue and a picture give a map.

    **Shapes:** each picture (H, W) greyscale; kernels are names from ``helpers.kernels``.

    Returns a StaticDemo with a "kernel" and an "image" control; with ``live=True`` it comes
    in a box together with a ``KernelTyper`` that accepts a hand-typed kernel.
    """
    if not images or not kernels:
        raise ValueError("kernel_playground needs at least one picture and one kernel name.")
    weights = {name: get_kernel(name) for name in kernels}  # unknown names fail here, clearly

    def render(kernel: str, image: str) -> Figure:
        return kernel_effect(images[image], weights[kernel], kernel_name=kernel, image_name=image)

    controls = {
        "kernel": Control("kernel", tuple((n, n) for n in weights), kind="dropdown"),
        "image": Control("image", tuple((n, n) for n in images), kind="toggle"),
    }
    demo = static_demo(render, controls, dpi=dpi)
    if live:
        return widgets.VBox([demo, KernelTyper(images, dpi=dpi)])
    return demo


def convolution_stepper(
    image: np.ndarray, kernel: np.ndarray, *, bias: float = 0.0, dpi: float = 75
) -> StaticDemo:
    """Build the step-through: the window visits every position, with a Play button.

    **Shapes:** image (H, W) at most 12 x 12, kernel (KH, KW).

    Returns a StaticDemo with one slider "step" (window positions in reading order).
    """
    img, k = np.asarray(image), np.asarray(kernel)
    if img.ndim != 2 or k.ndim != 2:
        raise ValueError(f"need a 2-D image and a 2-D kernel, got {img.shape} and {k.shape}.")
    oh = img.shape[0] - k.shape[0] + 1
    ow = img.shape[1] - k.shape[1] + 1
    if oh < 1 or ow < 1:
        raise ValueError(f"the {k.shape} kernel does not fit in the {img.shape} image.")
    positions = tuple((f"row {i // ow}, col {i % ow}", i) for i in range(oh * ow))
    step = Control("step", positions, kind="slider", play=True, description="window")
    return static_demo(
        lambda step: convolution_step(img, k, step=step, bias=bias),
        {"step": step},
        dpi=dpi,
        play_interval=1200,
    )


def padding_explorer(
    image: np.ndarray,
    *,
    kernel_sizes: Sequence[int] = (3, 5),
    strides: Sequence[int] = (1, 2, 3),
    # Four borders: every combination is a picture stored in the page (page weight), and
    # replicate padding at width 1 is enough to compare it with zeros.
    borders: Sequence[tuple[int, str]] = (
        (0, "zeros"),
        (1, "zeros"),
        (1, "replicate"),
        (2, "zeros"),
    ),
    dpi: float = 72,
) -> StaticDemo:
    """Build the stride / padding / kernel-size explorer on a small picture.

    **Shapes:** image (H, W) at most 12 x 12.

    Returns a StaticDemo with controls "border" (padding width and mode), "stride" and
    "kernel_size"; every frame is ``padding_grid`` for that choice.
    """
    border = Control(
        "border",
        tuple(("none" if p == 0 else f"{p}, {mode}", (p, mode)) for p, mode in borders),
        kind="toggle" if len(borders) <= 5 else "dropdown",
        description="padding",
    )

    def render(border: tuple[int, str], stride: int, kernel_size: int) -> Figure:
        padding, mode = border
        return padding_grid(
            image, kernel_size=kernel_size, stride=stride, padding=padding, mode=mode
        )

    return static_demo(
        render,
        {
            "border": border,
            "stride": list(strides),
            "kernel_size": Control(
                "kernel_size", tuple((f"{k}x{k}", k) for k in kernel_sizes), description="kernel"
            ),
        },
        dpi=dpi,
    )


def multichannel_demo(
    image: np.ndarray,
    filters: Mapping[str, np.ndarray],
    *,
    biases: Sequence[float] = (0.0,),
    dpi: float = 60,
) -> StaticDemo:
    """Build the multi-channel filter demo: pick a 3-kernel filter (and a bias) for a photo.

    **Shapes:** image (H, W, 3); each filter (3, KH, KW).

    Returns a StaticDemo with controls "filter" and "bias".
    """
    if not filters:
        raise ValueError("multichannel_demo needs at least one filter.")
    return static_demo(
        lambda filter, bias: multichannel_filter(image, filters[filter], bias=bias),
        {
            "filter": Control("filter", tuple((n, n) for n in filters), kind="dropdown"),
            "bias": list(biases),
        },
        dpi=dpi,
    )
