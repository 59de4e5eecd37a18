"""Interactive demos that keep working on the static website, where no Python kernel runs.

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
"""

from __future__ import annotations

import hashlib
import html
import io
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Any, Literal

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

__all__ = [
    "Control",
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
        picture = picture.quantize(colors=colors, method=Image.Quantize.FASTOCTREE, dither=0)
    buffer = io.BytesIO()
    picture.save(buffer, format="png", optimize=True)
    if managed:
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
    # No `description`: the page's widget manager typesets descriptions with the MathJax 2
    # API, which throws under the MathJax 3 the book loads. The label is a separate HTML.
    common = {"options": list(spec.labels), "index": 0}
    if spec.kind == "slider":
        return widgets.SelectionSlider(**common, continuous_update=True)
    if spec.kind == "toggle":
        return widgets.ToggleButtons(**common, style={"button_width": "auto"})
    return widgets.Dropdown(**common, layout=widgets.Layout(width="auto"))


def _label(text: str) -> widgets.HTML:
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
        from IPython.display import Image as IPImage
        from IPython.display import display

        display(IPImage(data=figure_to_png(render(**kwargs), dpi=dpi, colors=None)))

    out = widgets.interactive_output(redraw, free)
    # Saved into a static page, these controls have no kernel behind them: say so.
    note = widgets.HTML(
        "<b>Live</b>: any value, recomputed by the Python kernel "
        "(in a running notebook only; on a static page these controls do nothing)."
    )
    return widgets.VBox([note, *free.values(), out])


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
) -> widgets.Widget:
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


# --- Chapter 4: Pooling ---

POOL_WINDOWS = (
    ("2x2, stride 2", (2, 2)),
    ("3x3, stride 3", (3, 3)),
    ("3x3, stride 2 (overlap)", (3, 2)),
    ("2x2, stride 3 (skips)", (2, 3)),
)


def pooling_explorer_demo(
    img: np.ndarray,
    *,
    top: int,
    left: int,
    crop: int = 12,
    windows: Sequence[tuple[str, tuple[int, int]]] = POOL_WINDOWS,
    shifts: Sequence[int] = (0, 1, 2),
    dpi: float = 80,
    max_bytes: int = 1_500_000,
) -> StaticDemo:
    """Build the pooling explorer: kind of pooling, window and stride, and a shift of the input.

    **Shapes:** img (H, W) uint8; the ``crop`` x ``crop`` window at (top, left) is pooled.

    ``windows`` holds (label, (size, stride)) pairs. Returns a ``StaticDemo`` with one frame
    per combination (3 kinds x windows x shifts), drawn by ``plots.pooling_explorer``.
    """
    from helpers import plots

    def render(kind: str, window: tuple[int, int], shift: int) -> Figure:
        size, stride = window
        return plots.pooling_explorer(
            img, kind=kind, size=size, stride=stride, shift=shift, top=top, left=left, crop=crop
        )

    controls = {
        "kind": Control(
            "kind",
            (("max", "max"), ("average", "avg"), ("sum", "sum")),
            kind="toggle",
            description="pooling",
        ),
        "window": Control("window", tuple(windows), kind="dropdown", description="window"),
        "shift": Control(
            "shift",
            tuple((f"{s} px", int(s)) for s in shifts),
            kind="toggle",
            description="move right",
        ),
    }
    return static_demo(render, controls, dpi=dpi, max_bytes=max_bytes)


# --- Chapter 5: Dense heads and softmax ---


def softmax_playground_demo(
    presets: Mapping[str, Sequence[float]],
    *,
    temperatures: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0, 10.0),
    names: Sequence[str] | None = None,
    dpi: float = 80,
    max_bytes: int = 1_500_000,
) -> StaticDemo:
    """Build the softmax playground: a set of scores and a temperature that divides them.

    **Shapes:** each preset K scores; ``names`` K class labels (default 0..K-1).

    Returns a ``StaticDemo`` with one frame per (preset, temperature), drawn by
    ``plots.softmax_bars``.
    """
    from helpers import plots

    if not presets:
        raise ValueError("softmax_playground_demo needs at least one preset of scores.")
    sizes = {len(v) for v in presets.values()}
    if len(sizes) != 1:
        raise ValueError(f"every preset must have the same number of scores, got sizes {sizes}.")
    if any(not t > 0 for t in temperatures):
        raise ValueError(f"temperatures must be positive, got {list(temperatures)}.")

    def render(scores: tuple[float, ...], temperature: float) -> Figure:
        return plots.softmax_bars(
            np.asarray(scores),
            temperature=temperature,
            names=None if names is None else list(names),
        )

    controls = {
        "scores": Control(
            "scores",
            tuple((label, tuple(float(v) for v in values)) for label, values in presets.items()),
            kind="dropdown",
            description="scores",
        ),
        "temperature": Control(
            "temperature",
            tuple((f"{t:g}", float(t)) for t in temperatures),
            kind="slider",
            description="temperature T",
        ),
    }
    return static_demo(render, controls, dpi=dpi, max_bytes=max_bytes)


__all__ += ["POOL_WINDOWS", "pooling_explorer_demo", "softmax_playground_demo"]


# --- Chapter 6: Backpropagation and training ---


def backprop_stepper(
    probs: np.ndarray,
    losses: Sequence[float],
    target: Sequence[float],
    classes: Sequence[str],
    *,
    dpi: float = 80,
    play_interval: int = 450,
) -> StaticDemo:
    """Build the backprop stepper: one gradient step per slider position, with a Play button.

    **Shapes:** ``probs`` (T + 1, K) the class probabilities before training and after each
    of T steps, ``losses`` (T + 1,), ``target`` (K,) one-hot, ``classes`` K names; at most
    60 positions (T + 1 <= 60) so the page stays light.

    Returns a ``StaticDemo`` whose single control, ``step``, shows
    ``plots.backprop_step(..., step=s)`` for every s from 0 to T.
    """
    from helpers import plots

    p = np.asarray(probs, dtype=float)
    if p.ndim != 2 or not 2 <= p.shape[0] <= 60:
        raise ValueError(
            f"probs must be (T + 1, K) with 2 to 60 rows (one per step), got shape {p.shape}."
        )
    if not np.all(np.isfinite(p)) or np.any(p < 0) or not np.allclose(p.sum(axis=1), 1, atol=1e-6):
        raise ValueError("every row of probs must hold probabilities that sum to one.")
    steps = Control(
        name="step",
        options=tuple((str(s), s) for s in range(p.shape[0])),
        kind="slider",
        play=True,
        description="gradient step",
    )

    def render(step: int) -> Figure:
        return plots.backprop_step(p, losses, target, classes, step=step)

    return static_demo(render, {"step": steps}, dpi=dpi, play_interval=play_interval)


# --- Chapter 2: Kernels and convolution ---


def parse_kernel(text: str) -> np.ndarray:
    """Read a hand-typed kernel: one row per line (or rows split by ";"), numbers split by
    spaces or commas; fractions such as 1/9 are fine.

    **Shapes:** returns (K, K) float64 with K odd, from 1 to 7.
    """
    from fractions import Fraction

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
        # No `description` on any control (see _control_widget); labels are separate HTML.
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
        from helpers import plots

        try:
            kernel = parse_kernel(self.text.value)
        except ValueError as err:
            self.message.value = f"<span style='color:#b00020'>{html.escape(str(err))}</span>"
            return False
        picture = self.images[self.image.value]
        fig = plots.kernel_effect(
            picture, kernel, kernel_name="your kernel", image_name=self.image.value
        )
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
    from helpers import plots
    from helpers.kernels import get_kernel

    if not images or not kernels:
        raise ValueError("kernel_playground needs at least one picture and one kernel name.")
    weights = {name: get_kernel(name) for name in kernels}  # unknown names fail here, clearly

    def render(kernel: str, image: str) -> Figure:
        return plots.kernel_effect(
            images[image], weights[kernel], kernel_name=kernel, image_name=image
        )

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
    from helpers import plots

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
        lambda step: plots.convolution_step(img, k, step=step, bias=bias),
        {"step": step},
        dpi=dpi,
        play_interval=1200,
    )


def padding_explorer(
    image: np.ndarray,
    *,
    kernel_sizes: Sequence[int] = (3, 5),
    strides: Sequence[int] = (1, 2, 3),
    borders: Sequence[tuple[int, str]] = (
        (0, "zeros"),
        (1, "zeros"),
        (1, "replicate"),
        (2, "zeros"),
        (2, "replicate"),
    ),
    dpi: float = 72,
) -> StaticDemo:
    """Build the stride / padding / kernel-size explorer on a small picture.

    **Shapes:** image (H, W) at most 12 x 12.

    Returns a StaticDemo with controls "border" (padding width and mode), "stride" and
    "kernel_size"; every frame is ``plots.padding_grid`` for that choice.
    """
    from helpers import plots

    border = Control(
        "border",
        tuple(("none" if p == 0 else f"{p}, {mode}", (p, mode)) for p, mode in borders),
        kind="toggle" if len(borders) <= 5 else "dropdown",
        description="padding",
    )

    def render(border: tuple[int, str], stride: int, kernel_size: int) -> Figure:
        padding, mode = border
        return plots.padding_grid(
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
    from helpers import plots

    if not filters:
        raise ValueError("multichannel_demo needs at least one filter.")
    return static_demo(
        lambda filter, bias: plots.multichannel_filter(image, filters[filter], bias=bias),
        {
            "filter": Control("filter", tuple((n, n) for n in filters), kind="dropdown"),
            "bias": list(biases),
        },
        dpi=dpi,
    )


# --- Chapter 3: ReLU and non-linearity ---


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
    from helpers import plots

    return static_demo(
        lambda activation, bias: plots.activation_explorer(
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


# --- Chapter 7: Capstone: a CNN that reads digits and fruit ---

VIEWER_LAYERS = ("conv1", "pool1", "conv2", "pool2", "conv3")


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
    import torch

    from helpers.images import check_image

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

    from helpers.models import feature_maps

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
    ``plots.feature_map_grid`` for that input and layer.
    """
    from helpers import plots

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
        return plots.feature_map_grid(
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


__all__ += ["VIEWER_LAYERS", "ViewerInput", "feature_map_viewer", "viewer_maps"]
