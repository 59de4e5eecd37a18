"""Static demos: every combination is rendered once, and the browser-side links are right."""

from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from helpers.demos import (
    Control,
    StaticDemo,
    figure_to_png,
    normalise_controls,
    render_frames,
    static_demo,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def square(*, shade: float, size: int = 2) -> Figure:
    """A figure whose picture depends on both arguments, cheap to draw."""
    fig = Figure(figsize=(1, 1))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(np.full((size, size), shade), cmap="gray", vmin=0, vmax=1)
    ax.set_axis_off()
    ax.text(0.5, 0.5, str(size), transform=ax.transAxes, color="red")
    return fig


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def links_of(demo: StaticDemo) -> list[tuple[widgets.Widget, str, widgets.Widget, str]]:
    return [(ln.source[0], ln.source[1], ln.target[0], ln.target[1]) for ln in demo.links]


def test_figure_to_png_gives_a_png_of_the_figure_size() -> None:
    png = figure_to_png(square(shade=0.2), dpi=50)
    assert png.startswith(PNG_MAGIC)
    assert decode(png).shape == (50, 50, 3)


def test_figure_to_png_keeps_the_picture() -> None:
    for colors, tolerance in [(None, 0), (256, 2)]:  # the palette may shift a colour slightly
        dark = decode(figure_to_png(square(shade=0.0), colors=colors)).astype(int)
        light = decode(figure_to_png(square(shade=1.0), colors=colors)).astype(int)
        assert np.abs(dark[5, 5] - 0).max() <= tolerance
        assert np.abs(light[5, 5] - 255).max() <= tolerance


def test_figure_to_png_closes_pyplot_figures() -> None:
    import matplotlib.pyplot as plt

    before = len(plt.get_fignums())
    fig = plt.figure(figsize=(1, 1))
    figure_to_png(fig)
    assert len(plt.get_fignums()) == before


def test_figure_to_png_rejects_non_figures() -> None:
    with pytest.raises(TypeError, match="must return a matplotlib Figure"):
        figure_to_png(np.zeros((3, 3)))  # type: ignore[arg-type]


def test_normalise_controls_picks_widget_kinds_and_labels() -> None:
    specs = normalise_controls(
        {"size": [1, 2, 3], "mode": ["crop", "pad"], "region": [("a", (0, 0)), ("b", (1, 1))]}
    )
    assert [s.kind for s in specs] == ["slider", "toggle", "toggle"]
    assert specs[0].labels == ("1", "2", "3") and specs[0].values == (1, 2, 3)
    assert specs[2].labels == ("a", "b") and specs[2].values == ((0, 0), (1, 1))
    many = normalise_controls({"name": list("abcdef")})
    assert many[0].kind == "dropdown"


@pytest.mark.parametrize(
    ("controls", "error", "match"),
    [
        ({}, ValueError, "non-empty"),
        ({"a": [1], "b": [1], "c": [1], "d": [1]}, ValueError, "at most 3 controls"),
        ({"a": "abc"}, TypeError, "list of values"),
        ({"a": []}, ValueError, "at least one value"),
        ({"a": [("x", 1), ("x", 2)]}, ValueError, "repeated labels"),
        ({"not valid": [1]}, ValueError, "keyword name"),
    ],
)
def test_normalise_controls_rejects_bad_specs(controls: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        normalise_controls(controls)


def test_render_frames_renders_every_combination_with_the_right_arguments() -> None:
    calls = []

    def render(*, shade: float, size: int) -> Figure:
        calls.append((shade, size))
        return square(shade=shade, size=size)

    frames = render_frames(render, {"shade": [0.0, 1.0], "size": [2, 3, 4]}, dpi=20)
    assert sorted(frames) == [(i, j) for i in range(2) for j in range(3)]
    assert sorted(calls) == [(s, n) for s in (0.0, 1.0) for n in (2, 3, 4)]
    assert decode(frames[(0, 1)])[2, 2].max() <= 2
    assert decode(frames[(1, 1)])[2, 2].min() >= 253


def test_static_demo_nests_one_stack_per_control_and_links_them() -> None:
    demo = static_demo(square, {"shade": [0.0, 0.5, 1.0], "size": [2, 3]}, dpi=20)
    assert isinstance(demo, StaticDemo)
    outer = demo.display_area
    assert isinstance(outer, widgets.Stack) and len(outer.children) == 3
    inner = list(outer.children)
    assert all(isinstance(s, widgets.Stack) and len(s.children) == 2 for s in inner)
    # The picture at outer[i].children[j] is the frame for (value i, value j).
    for i, stack in enumerate(inner):
        for j, image in enumerate(stack.children):
            assert isinstance(image, widgets.Image)
            assert image.value == demo.frames[(i, j)]
    shade_control, size_control = demo.controls
    links = links_of(demo)
    assert (shade_control, "index", outer, "selected_index") in links
    for stack in inner:
        assert (size_control, "index", stack, "selected_index") in links
    assert len(links) == 1 + len(inner)
    assert all(isinstance(ln, widgets.widget_link.Link) for ln in demo.links)


def test_static_demo_frame_lookup_and_shared_duplicates() -> None:
    def ignores_size(*, shade: float, size: int) -> Figure:
        return square(shade=shade)

    demo = static_demo(ignores_size, {"shade": [0.0, 1.0], "size": [2, 3, 4]}, dpi=20)
    assert demo.frame(shade=1.0, size=3) == demo.frames[(1, 1)]
    # Six combinations, but only two different pictures are stored in the page.
    assert len(demo.image_widgets) == 2
    assert demo.total_bytes == len(demo.frames[(0, 0)]) + len(demo.frames[(1, 0)])
    with pytest.raises(ValueError, match="not one of"):
        demo.frame(shade=0.3, size=2)
    with pytest.raises(ValueError, match="give a value for each"):
        demo.frame(shade=1.0)


def test_static_demo_play_button_drives_the_control() -> None:
    spec = Control(name="size", options=(("2", 2), ("3", 3)), play=True)
    demo = static_demo(lambda *, size: square(shade=0.5, size=size), {"size": spec}, dpi=20)
    plays = [
        w
        for row in demo.children
        if isinstance(row, widgets.HBox)
        for w in row.children
        if isinstance(w, widgets.Play)
    ]
    assert len(plays) == 1 and plays[0].max == 1
    assert (plays[0], "value", demo.controls[0], "index") in links_of(demo)


def test_static_demo_controls_have_no_description() -> None:
    # Descriptions make the page's widget manager call MathJax 2, which throws under MathJax 3.
    demo = static_demo(square, {"shade": [0.0, 1.0], "size": [2, 3]}, dpi=20)
    assert all(c.description == "" for c in demo.controls)
    labels = [row.children[0].value for row in demo.children if isinstance(row, widgets.HBox)]
    assert ["shade" in text for text in labels] == [True, False]
    assert "size" in labels[1]


def test_static_demo_enforces_the_page_budget() -> None:
    with pytest.raises(ValueError, match="over the budget"):
        static_demo(square, {"shade": [0.0, 0.5, 1.0]}, dpi=40, max_bytes=100)


def test_static_demo_refuses_too_many_combinations() -> None:
    with pytest.raises(ValueError, match="too many pictures"):
        static_demo(square, {"shade": list(range(15)), "size": list(range(15))})


def test_live_demo_adds_kernel_controls_for_free_values() -> None:
    box = static_demo(square, {"shade": [0.0, 1.0], "size": [2, 4]}, dpi=20, live=True)
    assert isinstance(box, widgets.VBox) and isinstance(box.children[0], StaticDemo)
    live = box.children[1]
    sliders = [w for w in live.children if isinstance(w, widgets.FloatSlider | widgets.IntSlider)]
    assert {(type(w).__name__, w.min, w.max) for w in sliders} == {
        ("FloatSlider", 0.0, 1.0),
        ("IntSlider", 2, 4),
    }
