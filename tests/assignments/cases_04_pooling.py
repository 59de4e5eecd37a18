"""04_pooling: its parts, the rules of its hidden tests and its plausible wrong answers.

Most wrong answers edit the solution itself (``_edit``), so they follow it when it changes;
each must lose exactly the points of the test cells it names.
"""

from __future__ import annotations

from functools import partial

import nbgrader_tools as nt
from nbgrader_tools import define

NAME = "04_pooling"
PARTS = nt.standard_parts(
    "output_size", "pool2d", "backward", "shift", "fraction", "robustness", "darker"
)
_wrong = partial(nt.mutation, PARTS)
_edit = partial(nt.edit, nt.solution_sources(NAME))

MUTATIONS = [
    _wrong(
        "pool_output_size forgets the + 1 (26 -> 12)",
        "output_size_solution",
        _edit(
            "output_size_solution",
            ("return (n - size) // stride + 1", "return (n - size) // stride"),
        ),
    ),
    _wrong(
        "pool2d averages where it should take the max",
        "pool2d_solution",
        _edit(
            "pool2d_solution",
            (
                'if mode == "max":\n        return windows.max(axis=(4, 5))',
                'if mode == "max":\n        return windows.mean(axis=(4, 5))',
            ),
        ),
    ),
    _wrong(
        "pool2d ignores the stride (always 1)",
        "pool2d_solution",
        _edit("pool2d_solution", ("windows = windows[:, :, ::stride, ::stride]", "pass")),
    ),
    _wrong(
        "pool2d sum pooling divides by the window size",
        "pool2d_solution",
        _edit(
            "pool2d_solution",
            ("return windows.sum(axis=(4, 5))", "return windows.sum(axis=(4, 5)) / (size * size)"),
        ),
    ),
    _wrong(
        "pool2d hands the work to helpers.ops",
        "pool2d_solution",
        define(
            "pool2d(x, *, size, stride, mode='max')",
            """
from helpers import ops

forward = {
    "max": ops.max_pool2d_forward,
    "avg": ops.avg_pool2d_forward,
    "sum": ops.sum_pool2d_forward,
}[mode]
out, _ = forward(x.astype(np.float64), size=size, stride=stride)
return out
""",
        ),
        hidden_only=True,
        reason="called helpers.ops",
    ),
    _wrong(
        "max_pool2d_backward spreads dout evenly (the average-pool gradient)",
        "backward_solution",
        define(
            "max_pool2d_backward(dout, x, *, size, stride)",
            """
N, C, H, W = x.shape
OH, OW = (H - size) // stride + 1, (W - size) // stride + 1
if dout.shape != (N, C, OH, OW):
    raise ValueError("dout has the wrong shape")
dx = np.zeros(x.shape)
for i in range(OH):
    for j in range(OW):
        rows = slice(i * stride, i * stride + size)
        cols = slice(j * stride, j * stride + size)
        dx[:, :, rows, cols] += dout[:, :, i : i + 1, j : j + 1] / (size * size)
return dx
""",
        ),
    ),
    _wrong(
        "max_pool2d_backward gives dout to every tied maximum (a mask x == max)",
        "backward_solution",
        define(
            "max_pool2d_backward(dout, x, *, size, stride)",
            """
N, C, H, W = x.shape
OH, OW = (H - size) // stride + 1, (W - size) // stride + 1
if dout.shape != (N, C, OH, OW):
    raise ValueError("dout has the wrong shape")
dx = np.zeros(x.shape)
for i in range(OH):
    for j in range(OW):
        rows = slice(i * stride, i * stride + size)
        cols = slice(j * stride, j * stride + size)
        window = x[:, :, rows, cols]
        mask = window == window.max(axis=(2, 3), keepdims=True)
        dx[:, :, rows, cols] += mask * dout[:, :, i : i + 1, j : j + 1]
return dx
""",
        ),
    ),
    _wrong(
        "max_pool2d_backward starts its running maximum at 0 (negative windows)",
        "backward_solution",
        _edit(
            "backward_solution",
            ("first = windows.argmax(axis=-1)", "first = np.maximum(windows, 0).argmax(axis=-1)"),
        ),
        hidden_only=True,
        reason="a running maximum must not start at 0",
    ),
    _wrong(
        "max_pool2d_backward gives dx the dtype of dout (float32 in, float32 out)",
        "backward_solution",
        _edit(
            "backward_solution",
            (
                "dx = np.zeros((N, C, H, W), dtype=np.float64)",
                "dx = np.zeros((N, C, H, W), dtype=dout.dtype)",
            ),
        ),
        hidden_only=True,
        reason="dx must still be a new float64 array",
    ),
    _wrong(
        "max_pool2d_backward takes the winners from helpers.figures.window_winners",
        "backward_solution",
        define(
            "max_pool2d_backward(dout, x, *, size, stride)",
            """
from helpers.figures import window_winners

N, C, H, W = x.shape
OH, OW = (H - size) // stride + 1, (W - size) // stride + 1
if dout.shape != (N, C, OH, OW):
    raise ValueError("dout has the wrong shape")
dx = np.zeros(x.shape)
for n in range(N):
    for c in range(C):
        rows, cols = window_winners(x[n, c], size=size, stride=stride)
        np.add.at(dx[n, c], (rows, cols), dout[n, c])
return dx
""",
        ),
        hidden_only=True,
        reason="helpers.figures",
    ),
    _wrong(
        "max_pool2d_backward routes ties to the last maximum",
        "backward_solution",
        _edit(
            "backward_solution",
            (
                "first = windows.argmax(axis=-1)",
                "first = size * size - 1 - windows[..., ::-1].argmax(axis=-1)",
            ),
        ),
        reason="tie",
    ),
    _wrong(
        "max_pool2d_backward adds with a fancy-index += (overlapping windows lose gradients)",
        "backward_solution",
        _edit(
            "backward_solution",
            ("np.add.at(dx, (n, c, rows, cols), dout)", "dx[n, c, rows, cols] += dout"),
        ),
    ),
    _wrong(
        "max_pool2d_backward starts from np.zeros_like(x) (integer x cuts the gradients)",
        "backward_solution",
        _edit(
            "backward_solution",
            ("dx = np.zeros((N, C, H, W), dtype=np.float64)", "dx = np.zeros_like(x)"),
        ),
        hidden_only=True,
        reason="np.zeros_like(x) would copy x's integer dtype",
    ),
    _wrong(
        "max_pool2d_backward checks only the pooled height and width of dout",
        "backward_solution",
        _edit(
            "backward_solution",
            ("if dout.shape != (N, C, OH, OW):", "if dout.shape[2:] != (OH, OW):"),
        ),
        hidden_only=True,
        reason="check every axis of dout",
    ),
    _wrong(
        "shift_image wraps around with np.roll",
        "shift_solution",
        define(
            "shift_image(img, *, down, right)", "return np.roll(img, (down, right), axis=(0, 1))"
        ),
    ),
    _wrong(
        "unchanged_fraction counts the background cells too",
        "fraction_solution",
        define(
            "unchanged_fraction(a, b)",
            """
if a.shape != b.shape or not (a.any() or b.any()):
    raise ValueError("cannot compare these maps")
return float(np.mean(a == b))
""",
        ),
    ),
    _wrong(
        "unchanged_fraction counts only positive cells as ink (a > 0)",
        "fraction_solution",
        _edit("fraction_solution", ("ink = (a != 0) | (b != 0)", "ink = (a > 0) | (b > 0)")),
        hidden_only=True,
        reason="negative values included",
    ),
    _wrong(
        "translation_robustness shifts the pooled map instead of the picture",
        "robustness_solution",
        define(
            "translation_robustness(img, *, down, right, size, stride)",
            """
moved = shift_image(img, down=down, right=right)
raw = unchanged_fraction(img, moved)
pooled = pool2d(img[np.newaxis, np.newaxis], size=size, stride=stride, mode="max")[0, 0]
return raw, unchanged_fraction(pooled, shift_image(pooled, down=down, right=right))
""",
        ),
    ),
    _wrong(
        "never_darker compares only the mean brightness",
        "darker_solution",
        _edit(
            "darker_solution",
            ("return bool(np.all(pooled >= brightest))", "return bool(pooled.mean() >= x.mean())"),
        ),
    ),
    _wrong(
        "never_darker checks only the first image of the batch",
        "darker_solution",
        _edit(
            "darker_solution",
            (
                "return bool(np.all(pooled >= brightest))",
                "return bool(np.all(pooled[0] >= brightest[0]))",
            ),
        ),
        hidden_only=True,
        reason="the last image",
    ),
    _wrong(
        "never_darker checks only the pooled height and width of pooled",
        "darker_solution",
        _edit(
            "darker_solution",
            ("if pooled.shape != expected:", "if pooled.shape[2:] != expected[2:]:"),
        ),
        hidden_only=True,
        reason="check every axis of pooled",
    ),
]

ASSIGNMENT = nt.Assignment(
    name=NAME,
    parts=PARTS,
    mutations=tuple(MUTATIONS),
    hidden_rules=nt.FORBID_TUPLE_RULES,
    leaks=("FORBID", "_ref_pool", "np.add.at(dx", "pooled >= brightest"),
    points_shown=nt.points_table_in_intro,
)
