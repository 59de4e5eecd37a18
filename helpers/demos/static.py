"""Build interactive demos that keep working on the static website, where no kernel runs.

A widget whose picture is computed by Python (``interact``, observers, ``widgets.link``)
freezes once the page is saved: the slider moves, the picture does not. The demos of this
course therefore compute every picture *before* the page is saved and let the browser do
the switching:

1. ``render_frames`` calls a pure plot function once for every combination of control
   values and keeps each figure as a small PNG;
2. ``static_demo`` stacks those PNGs in ``ipywidgets.Stack`` containers (one level of
   nesting per control) and ``jslink``s each control's index to the ``selected_index`` of
   the stacks at its level. The links live in the page's JavaScript, so they need no kernel.

In a live notebook, ``live=True`` adds free-form controls under the demo; their picture is
recomputed by the kernel for any value, not only the precomputed ones.

This module is the machinery only; the demos themselves live in the module of
:mod:`helpers.demos` named after their chapter, and draw their frames with the chapter's
figures from :mod:`helpers.figures`.
"""

from __future__ import annotations

import hashlib
import html
import io
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, Literal, overload

import ipywidgets as widgets
import numpy as np
from IPython.display import Image as IPImage
from IPython.display import display
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

__all__ = [
    "Control",
    "Kind",
    "StaticDemo",
    "figure_to_png",
    "normalise_controls",
    "render_frames",
    "static_demo",
]


Kind = Literal["slider", "dropdown", "toggle"]


@dataclass(frozen=True)
class Control:
    """One control of a demo: the keyword it sets and the values it offers, each with a label.

    ``kind`` picks the widget: "slider" (ordered values), "toggle" (a few named choices) or
    "dropdown" (many named choices); ``play`` adds a play button that steps through the
    values like an animation. ``description`` is the text shown beside the control.
    """

    name: str
    options: tuple[tuple[str, Any], ...]
    kind: Kind = "slider"
    play: bool = False
    description: str = ""
    values: tuple[Any, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"control name {self.name!r} must be a valid Python keyword name.")
        if not self.options:
            raise ValueError(f"control {self.name!r} needs at least one value.")
        labels = [label for label, _ in self.options]
        if len(set(labels)) != len(labels):
            raise ValueError(f"control {self.name!r} has repeated labels {labels}.")
        if self.kind not in ("slider", "dropdown", "toggle"):
            raise ValueError(f'kind must be "slider", "dropdown" or "toggle", got {self.kind!r}.')
        object.__setattr__(self, "values", tuple(value for _, value in self.options))

    @property
    def labels(self) -> tuple[str, ...]:
        """The text shown for each value, in order."""
        return tuple(label for label, _ in self.options)


def _as_control(name: str, spec: Any) -> Control:
    """Turn a list of values or of (label, value) pairs into a Control with a fitting widget."""
    if isinstance(spec, Control):
        if spec.name != name:
            raise ValueError(f"control {spec.name!r} is filed under the key {name!r}.")
        return spec
    if isinstance(spec, str | bytes) or not isinstance(spec, Sequence | range | np.ndarray):
        raise TypeError(
            f"control {name!r} must be a list of values or of (label, value) pairs, "
            f"got {type(spec).__name__}."
        )
    options = []
    for item in list(spec):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            options.append((item[0], item[1]))
        else:
            value = item.item() if isinstance(item, np.generic) else item
            options.append((str(value), value))
    values = [value for _, value in options]
    numeric = all(isinstance(v, Real) and not isinstance(v, bool) for v in values)
    kind: Kind = "slider" if numeric else ("toggle" if len(values) <= 4 else "dropdown")
    return Control(name=name, options=tuple(options), kind=kind)


def normalise_controls(controls: Mapping[str, Any]) -> list[Control]:
    """Check a demo's controls and return them as Control objects, in the order given."""
    if not isinstance(controls, Mapping) or not controls:
        raise ValueError("controls must be a non-empty dict {name: list of values}.")
    if len(controls) > 3:
        raise ValueError(
            f"a static demo supports at most 3 controls (every combination is a picture), "
            f"got {len(controls)}: {list(controls)}."
        )
    return [_as_control(name, spec) for name, spec in controls.items()]


def figure_to_png(fig: Figure, *, dpi: float = 80, colors: int | None = 256) -> bytes:
    """Render a figure to PNG bytes and release it.

    With ``colors`` set, the picture is reduced to that many colours (a palette PNG), which
    makes plot-like frames 2-4 times smaller with no visible change. Figures created with
    pyplot are closed afterwards, so rendering hundreds of frames does not leak memory.
    """
    if not isinstance(fig, Figure):
        raise TypeError(f"the render function must return a matplotlib Figure, got {type(fig)}.")
    managed = fig.canvas.manager is not None
    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[:, :, :3]
    picture = Image.fromarray(rgb)
    if colors is not None:
        picture = picture.quantize(
            colors=colors, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
        )
    buffer = io.BytesIO()
    picture.save(buffer, format="png", optimize=True)
    if managed:
        # Only a figure made with pyplot gets here, so pyplot is loaded already; importing it
        # at the top would load it (and pick a backend) for the pure figures as well.
        import matplotlib.pyplot as plt

        plt.close(fig)
    return buffer.getvalue()


def render_frames(
    render: Callable[..., Figure],
    controls: Mapping[str, Any],
    *,
    dpi: float = 80,
    colors: int | None = 256,
) -> dict[tuple[int, ...], bytes]:
    """Render one PNG for every combination of control values.

    Returns ``{(i0, i1, ...): png_bytes}`` where ``i_k`` is the index of the value chosen for
    the k-th control; ``render`` is called as ``render(name0=value0, name1=value1, ...)``.
    """
    specs = normalise_controls(controls)
    frames = {}
    for index in itertools.product(*(range(len(c.options)) for c in specs)):
        kwargs = {c.name: c.values[i] for c, i in zip(specs, index, strict=True)}
        frames[index] = figure_to_png(render(**kwargs), dpi=dpi, colors=colors)
    return frames


def _png_size(png: bytes) -> tuple[int, int]:
    """Return (width, height) read from a PNG header."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _control_widget(spec: Control) -> widgets.Widget:
    """Return the widget that picks one of ``spec``'s values by its index."""
    # No `description`: the page's widget manager typesets descriptions with the MathJax 2
    # API, which throws under the MathJax 3 the book loads. The label is a separate HTML.
    common = {"options": list(spec.labels), "index": 0}
    if spec.kind == "slider":
        return widgets.SelectionSlider(**common, continuous_update=True)
    if spec.kind == "toggle":
        return widgets.ToggleButtons(**common, style={"button_width": "auto"})
    return widgets.Dropdown(**common, layout=widgets.Layout(width="auto"))


def _label(text: str) -> widgets.HTML:
    """Return the bold label set beside a control (in place of its ``description``)."""
    return widgets.HTML(
        f"<span style='font-weight:600'>{html.escape(text)}</span>",
        layout=widgets.Layout(min_width="6.5em"),
    )


class StaticDemo(widgets.VBox):
    """A precomputed demo: controls on top, a stack of pictures below, linked in the browser.

    Besides being a displayable widget it keeps what tests need: ``frames`` (the PNG of
    every combination), ``specs`` (the controls), ``controls`` (the control widgets) and
    ``frame(**values)``, the PNG the page shows for a choice of values.
    """

    def __init__(
        self,
        frames: dict[tuple[int, ...], bytes],
        specs: list[Control],
        *,
        title: str = "",
        play_interval: int = 700,
    ) -> None:
        self.frames = frames
        self.specs = specs
        self.controls = [_control_widget(spec) for spec in specs]
        self.links: list[widgets.Widget] = []
        images: dict[str, widgets.Image] = {}

        def image_for(png: bytes) -> widgets.Image:
            # Identical pictures share one Image widget, so they cost page weight only once.
            key = hashlib.sha256(png).hexdigest()
            if key not in images:
                width, _ = _png_size(png)
                images[key] = widgets.Image(
                    value=png,
                    format="png",
                    # Full size where there is room, shrunk to fit on narrow screens; no margin, as
                    # the default 2 px would overflow the box and show a scroll bar.
                    layout=widgets.Layout(
                        width="100%", max_width=f"{width}px", height="auto", margin="0"
                    ),
                )
            return images[key]

        def build(prefix: tuple[int, ...]) -> widgets.Widget:
            level = len(prefix)
            if level == len(specs):
                return image_for(frames[prefix])
            children = [build(prefix + (i,)) for i in range(len(specs[level].options))]
            stack = widgets.Stack(children=children, selected_index=0)
            self.links.append(
                widgets.jslink((self.controls[level], "index"), (stack, "selected_index"))
            )
            return stack

        self.display_area = build(())
        self.image_widgets = list(images.values())
        rows: list[widgets.Widget] = []
        for spec, control in zip(specs, self.controls, strict=True):
            row = [_label(spec.description or spec.name), control]
            if spec.play:
                play = widgets.Play(
                    value=0, min=0, max=len(spec.options) - 1, interval=play_interval
                )
                self.links.append(widgets.jslink((play, "value"), (control, "index")))
                row.insert(1, play)
            rows.append(widgets.HBox(row, layout=widgets.Layout(align_items="center")))
        header = [widgets.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        super().__init__(children=[*header, *rows, self.display_area])
        self.add_class("p2p-static-demo")

    @property
    def total_bytes(self) -> int:
        """Bytes of distinct PNG data the page has to carry (before base64 encoding)."""
        return sum(len(image.value) for image in self.image_widgets)

    def frame(self, **values: Any) -> bytes:
        """Return the PNG shown when each named control is set to the given value."""
        if set(values) != {spec.name for spec in self.specs}:
            raise ValueError(f"give a value for each of {[s.name for s in self.specs]}.")
        index = []
        for spec in self.specs:
            if values[spec.name] not in spec.values:
                raise ValueError(f"{values[spec.name]!r} is not one of {list(spec.values)}.")
            index.append(spec.values.index(values[spec.name]))
        return self.frames[tuple(index)]


def _live_panel(render: Callable[..., Figure], specs: list[Control], dpi: float) -> widgets.Widget:
    """Free-form controls whose picture the kernel recomputes (works in a live notebook only)."""
    free: dict[str, widgets.Widget] = {}
    for spec in specs:
        values = spec.values
        if all(isinstance(v, Integral) and not isinstance(v, bool) for v in values):
            free[spec.name] = widgets.IntSlider(
                value=int(values[0]),
                min=int(min(values)),
                max=int(max(values)),
                description=spec.name,
            )
        elif all(isinstance(v, Real) and not isinstance(v, bool) for v in values):
            lo, hi = float(min(values)), float(max(values))
            free[spec.name] = widgets.FloatSlider(
                value=float(values[0]),
                min=lo,
                max=hi,
                step=(hi - lo) / 100 or 0.01,
                description=spec.name,
            )
        else:
            free[spec.name] = widgets.Dropdown(options=list(spec.options), description=spec.name)

    def redraw(**kwargs: Any) -> None:
        display(IPImage(data=figure_to_png(render(**kwargs), dpi=dpi, colors=None)))

    out = widgets.interactive_output(redraw, free)
    # Saved into a static page, these controls have no kernel behind them: say so.
    note = widgets.HTML(
        "<b>Live</b>: any value, recomputed by the Python kernel "
        "(in a running notebook only; on a static page these controls do nothing)."
    )
    return widgets.VBox([note, *free.values(), out])


@overload
def static_demo(
    render: Callable[..., Figure],
    controls: Mapping[str, Any],
    *,
    title: str = ...,
    live: Literal[False] = ...,
    dpi: float = ...,
    colors: int | None = ...,
    max_bytes: int = ...,
    play_interval: int = ...,
) -> StaticDemo: ...


@overload
def static_demo(
    render: Callable[..., Figure],
    controls: Mapping[str, Any],
    *,
    title: str = ...,
    live: bool,
    dpi: float = ...,
    colors: int | None = ...,
    max_bytes: int = ...,
    play_interval: int = ...,
) -> widgets.VBox: ...


def static_demo(
    render: Callable[..., Figure],
    controls: Mapping[str, Any],
    *,
    title: str = "",
    live: bool = False,
    dpi: float = 80,
    colors: int | None = 256,
    max_bytes: int = 1_500_000,
    play_interval: int = 700,
) -> widgets.VBox:
    """Precompute a demo's pictures and link its controls to them in the browser.

    ``render`` is a pure plot function called with one keyword per control;
    ``controls`` maps each keyword to its values, e.g.
    ``{"channel": ["R", "G", "B"], "size": [3, 5, 7]}``, to ``(label, value)`` pairs, or to a
    ``Control`` for full say over the widget. Every combination is rendered once, so the
    product of the value counts is the number of pictures: keep it small. ``max_bytes``
    caps the PNG data the page will carry (a chapter must stay under 4 MB).

    Returns a ``StaticDemo`` widget that works without a kernel; with ``live=True`` it comes
    wrapped in a box that adds free-form controls recomputed by the kernel, for notebooks.
    """
    specs = normalise_controls(controls)
    count = int(np.prod([len(s.options) for s in specs]))
    if count > 200:
        raise ValueError(f"{count} combinations is too many pictures for one page; keep it <= 200.")
    frames = render_frames(render, {s.name: s for s in specs}, dpi=dpi, colors=colors)
    demo = StaticDemo(frames, specs, title=title, play_interval=play_interval)
    if demo.total_bytes > max_bytes:
        raise ValueError(
            f"the {len(demo.image_widgets)} pictures of this demo take {demo.total_bytes:,} bytes, "
            f"over the budget of {max_bytes:,}: lower dpi, shrink the figure or offer fewer values."
        )
    if live:
        return widgets.VBox([demo, _live_panel(render, specs, dpi)])
    return demo
