"""Chapter 4 (pooling): the plot functions and the pooling explorer demo."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from matplotlib.figure import Figure

from helpers import figures, ops
from helpers.data import example_digit
from helpers.demos import pooling_explorer_demo
from helpers.figures.pooling import max_pool_backward_routing

MAP = np.array(
    [
        [0, 2, 5, 1],
        [3, 8, 0, 0],
        [1, 0, 4, 6],
        [0, 2, 9, 3],
    ]
)


@pytest.fixture(scope="module")
def digit() -> np.ndarray:
    return example_digit()[0]


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [ax.get_title() for ax in fig.axes]


def test_pool_map_matches_hand_computed_windows() -> None:
    np.testing.assert_array_equal(figures.pool_map(MAP, kind="max"), [[8, 5], [2, 9]])
    np.testing.assert_allclose(figures.pool_map(MAP, kind="avg"), [[3.25, 1.5], [0.75, 5.5]])
    np.testing.assert_array_equal(figures.pool_map(MAP, kind="sum"), [[13, 6], [3, 22]])
    # Overlapping windows: a 3x3 window with stride 1 on a 4x4 map fits in 2 x 2 places.
    np.testing.assert_array_equal(figures.pool_map(MAP, size=3, stride=1), [[8, 8], [9, 9]])


def test_pool_map_does_not_modify_its_input() -> None:
    before = MAP.copy()
    figures.pool_map(MAP, kind="sum", size=2, stride=1)
    np.testing.assert_array_equal(MAP, before)


@settings(max_examples=40, deadline=None)
@given(
    x=arrays(
        np.float64, st.tuples(st.integers(2, 9), st.integers(2, 9)), elements=st.floats(0, 255)
    ),
    size=st.integers(1, 3),
    stride=st.integers(1, 3),
)
def test_max_pooled_map_is_never_darker_than_its_windows(x, size, stride) -> None:
    size = min(size, *x.shape)
    pooled = figures.pool_map(x, kind="max", size=size, stride=stride)
    windows = np.lib.stride_tricks.sliding_window_view(x, (size, size))[::stride, ::stride]
    assert pooled.shape == windows.shape[:2]
    assert np.all(windows <= pooled[:, :, None, None])
    # ... and every pooled value is one of its window's pixels.
    assert np.all(np.any(windows == pooled[:, :, None, None], axis=(2, 3)))


def test_window_winners_point_at_each_windows_maximum() -> None:
    rows, cols = figures.window_winners(MAP, size=2, stride=2)
    np.testing.assert_array_equal(rows, [[1, 0], [3, 3]])
    np.testing.assert_array_equal(cols, [[1, 2], [1, 2]])
    np.testing.assert_array_equal(MAP[rows, cols], figures.pool_map(MAP, size=2))
    # Ties go to the first position in reading order, as in ops.max_pool2d_backward.
    flat = np.ones((2, 2))
    assert [int(a[0, 0]) for a in figures.window_winners(flat, size=2, stride=2)] == [0, 0]


def test_window_coverage_counts_overlaps_and_skips() -> None:
    overlap = figures.window_coverage((5, 5), size=3, stride=2)
    assert overlap[2, 2] == 4 and overlap[0, 0] == 1 and overlap[0, 2] == 2
    skip = figures.window_coverage((5, 5), size=2, stride=3)
    assert np.all(skip[2] == 0) and np.all(skip[:, 2] == 0) and skip[0, 0] == 1
    assert np.all(figures.window_coverage((6, 6), size=2, stride=2) == 1)


def test_pooling_kinds_draws_input_and_three_pooled_maps() -> None:
    fig = figures.pooling_kinds(MAP, size=2, stride=2)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    labels = texts(fig)
    assert "max pooling\n(2, 2)" in labels
    for value in ["8", "9", "3.25", "5.50", "13", "22"]:
        assert value in labels, f"{value} missing from the figure's cell labels"


def test_pooling_explorer_counts_unchanged_cells(digit: np.ndarray) -> None:
    still = figures.pooling_explorer(digit, kind="max", size=2, stride=2, shift=0, top=6, left=10)
    assert len(still.axes) == 3
    title = still.axes[2].get_title()
    n_of_m = title.split("\n")[1].split(" non-black")[0].split(" of ")
    assert n_of_m[0] == n_of_m[1], f"without a shift every cell must stay: {title!r}"
    moved = figures.pooling_explorer(digit, kind="sum", size=2, stride=2, shift=1, top=6, left=10)
    unchanged, total = moved.axes[2].get_title().split("\n")[1].split(" non-black")[0].split(" of ")
    assert int(unchanged) < int(total)


def test_pooling_explorer_marks_winners_only_for_max(digit: np.ndarray) -> None:
    kw = dict(size=2, stride=2, shift=0, top=6, left=10)
    with_max = figures.pooling_explorer(digit, kind="max", **kw)
    with_avg = figures.pooling_explorer(digit, kind="avg", **kw)
    assert len(with_max.axes[0].collections) == 1  # the circles
    assert len(with_avg.axes[0].collections) == 0
    assert "every pixel" in with_avg.axes[0].get_title()


def test_pooling_explorer_hatches_skipped_pixels(digit: np.ndarray) -> None:
    tiling = figures.pooling_explorer(digit, kind="max", size=2, stride=2, top=6, left=10)
    skipping = figures.pooling_explorer(digit, kind="max", size=2, stride=3, top=6, left=10)
    hatched = [p for p in skipping.axes[0].patches if p.get_hatch()]
    assert len(hatched) == int((figures.window_coverage((12, 12), size=2, stride=3) == 0).sum())
    assert not [p for p in tiling.axes[0].patches if p.get_hatch()]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(kind="min"), "kind"),
        (dict(size=13), "does not fit"),
        (dict(shift=12), "shift"),
        (dict(top=20), "does not fit"),
        (dict(stride=0), "at least 1"),
    ],
)
def test_pooling_explorer_rejects_bad_requests(digit: np.ndarray, kwargs, message) -> None:
    args = dict(kind="max", size=2, stride=2, shift=0, top=6, left=10) | kwargs
    with pytest.raises(ValueError, match=message):
        figures.pooling_explorer(digit, **args)


def test_pool_helpers_reject_bad_maps() -> None:
    with pytest.raises(ValueError, match="2-D"):
        figures.pool_map(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="does not fit"):
        figures.window_winners(np.zeros((3, 3)), size=4, stride=1)
    with pytest.raises(ValueError, match="non-negative"):
        figures.pooling_kinds(-np.ones((4, 4)))
    with pytest.raises(ValueError, match="uint8"):
        figures.pooling_explorer(np.zeros((28, 28)), top=0, left=0)


def test_receptive_fields_draws_one_outline_per_field(digit: np.ndarray) -> None:
    fields = {"conv 1": (13, 13, 3, 3), "pool 1": (12, 12, 4, 4), "conv 3": (4, 4, 18, 18)}
    fig = figures.receptive_fields(digit, fields)
    outlines = [p for p in fig.axes[0].patches if not p.get_fill()]
    assert sorted((p.get_width(), p.get_height()) for p in outlines) == [(3, 3), (4, 4), (18, 18)]
    with pytest.raises(ValueError):
        figures.receptive_fields(digit, {})


def test_coverage_panels_show_output_sizes() -> None:
    fig = figures.coverage_panels((8, 8), {"overlap": (3, 2), "skip": (2, 3)})
    assert len([ax for ax in fig.axes if ax.get_title()]) == 2
    assert "8 -> 3" in fig.axes[0].get_title()


def test_pooling_explorer_demo_frames_follow_every_control(digit: np.ndarray) -> None:
    demo = pooling_explorer_demo(
        digit,
        top=6,
        left=10,
        windows=[("2x2, stride 2", (2, 2)), ("3x3, stride 2", (3, 2))],
        shifts=(0, 1),
    )
    assert len(demo.frames) == 3 * 2 * 2
    base = dict(kind="max", window=(2, 2), shift=0)
    frame = demo.frame(**base)
    assert frame.startswith(b"\x89PNG")
    for change in [dict(kind="avg"), dict(kind="sum"), dict(window=(3, 2)), dict(shift=1)]:
        assert demo.frame(**(base | change)) != frame, f"changing {change} left the picture alone"
    labels = [spec.labels for spec in demo.specs]
    assert labels[0] == ("max", "average", "sum")


def _dx_panel_values(fig: Figure) -> np.ndarray:
    """Read the dx panel's numbers back (the first line of each cell's label)."""
    labels = [float(t.get_text().split("\n")[0]) for t in fig.axes[2].texts]
    return np.array(labels).reshape(MAP.shape)


@pytest.mark.parametrize("size, stride", [(2, 2), (2, 1), (3, 1), (2, 3)])
def test_max_pool_backward_routing_matches_the_course_backward(size, stride) -> None:
    out, cache = ops.max_pool2d_forward(MAP[None, None].astype(float), size=size, stride=stride)
    dout = np.arange(1.0, out[0, 0].size + 1).reshape(out.shape[2:])
    fig = max_pool_backward_routing(MAP, dout, size=size, stride=stride)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    want = ops.max_pool2d_backward(dout[None, None], cache)[0, 0]
    np.testing.assert_array_equal(_dx_panel_values(fig), want)
    # One circle per winning pixel on the input panel.
    (circles,) = fig.axes[0].collections
    assert len(circles.get_offsets()) == np.count_nonzero(want)


def test_max_pool_backward_routing_writes_overlapping_sums() -> None:
    dout = np.arange(1.0, 10.0).reshape(3, 3)
    fig = max_pool_backward_routing(MAP, dout, size=2, stride=1)
    labels = [t.get_text() for t in fig.axes[2].texts]
    # The 8 wins the four windows around it; the 9 wins the last two of the bottom row.
    assert "12\n= 1+2+4+5" in labels and "17\n= 8+9" in labels
    assert "one gradient per window" in fig.axes[1].get_title()


def test_max_pool_backward_routing_sends_a_tie_to_the_first_maximum() -> None:
    fig = max_pool_backward_routing(np.array([[0, 5], [5, 0]]), [[7.0]], size=2, stride=2)
    np.testing.assert_array_equal(
        np.array([float(t.get_text()) for t in fig.axes[2].texts]).reshape(2, 2),
        [[0, 7], [0, 0]],
    )


def test_max_pool_backward_routing_rejects_bad_requests() -> None:
    with pytest.raises(ValueError, match="pooled shape"):
        max_pool_backward_routing(MAP, np.ones((3, 3)), size=2, stride=2)
    with pytest.raises(ValueError, match="at most 8"):
        max_pool_backward_routing(np.zeros((9, 9)), np.ones((4, 4)), size=2, stride=2)
