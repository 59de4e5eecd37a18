"""05_dense_heads: its parts, the rules of its hidden tests and its plausible wrong answers.

The wrong answers edit the solution itself (``_edit``), so they follow it when it changes;
each must lose exactly the points of the test cells it names.
"""

from __future__ import annotations

from functools import partial

import nbgrader_tools as nt
from nbgrader_tools import define

NAME = "05_dense_heads"
PARTS = nt.standard_parts("flatten", "dense", "softmax", "ce", "predict", "flatten_size", "count")
_wrong = partial(nt.mutation, PARTS)
_edit = partial(nt.edit, nt.solution_sources(NAME))

MUTATIONS = [
    _wrong(
        "flatten reads NHWC (channels last) instead of NCHW",
        "flatten_solution",
        _edit(
            "flatten_solution",
            (
                "return x.reshape(x.shape[0], -1).copy()",
                "return np.moveaxis(x, 1, -1).reshape(x.shape[0], -1)",
            ),
        ),
    ),
    _wrong(
        "dense_forward forgets the bias",
        "dense_solution",
        _edit("dense_solution", ("return x @ w + b", "return x @ w")),
    ),
    _wrong(
        "softmax without the max shift (overflows at 1000)",
        "softmax_solution",
        _edit(
            "softmax_solution",
            (
                "scores.astype(np.float64) - scores.max(axis=1, keepdims=True)",
                "scores.astype(np.float64)",
            ),
        ),
        hidden_only=True,
        reason="exp() overflowed",
    ),
    _wrong(
        "softmax subtracts one maximum for the whole batch, not each row's",
        "softmax_solution",
        _edit(
            "softmax_solution",
            ("scores.max(axis=1, keepdims=True)", "scores.max()"),
        ),
        hidden_only=True,
        reason="subtract each row's own maximum",
    ),
    _wrong(
        "softmax normalises over the wrong axis (the examples)",
        "softmax_solution",
        _edit(
            "softmax_solution",
            ("return e / e.sum(axis=1, keepdims=True)", "return e / e.sum(axis=0, keepdims=True)"),
        ),
    ),
    _wrong(
        "softmax hands the work to scipy.special.softmax",
        "softmax_solution",
        define(
            "softmax(scores)",
            """
from scipy.special import softmax as reference

if scores.ndim != 2:
    raise ValueError("scores must be (N, K)")
return reference(scores.astype(np.float64), axis=1)
""",
        ),
        hidden_only=True,
        reason="called scipy",
    ),
    _wrong(
        "cross_entropy sums over the batch instead of taking the mean",
        "ce_solution",
        _edit(
            "ce_solution",
            (".sum(axis=1).mean())", ".sum())"),
            ("logp[np.arange(N), labels].mean())", "logp[np.arange(N), labels].sum())"),
        ),
    ),
    _wrong(
        "cross_entropy averages one-hot rows over all N*K entries, not the N examples",
        "ce_solution",
        _edit(
            "ce_solution",
            (
                "return float(-(targets * logp).sum(axis=1).mean())",
                "return float(-(targets * logp).mean())",
            ),
        ),
    ),
    _wrong(
        "cross_entropy picks logp[:, labels] (an N x N block) instead of one entry per row",
        "ce_solution",
        _edit("ce_solution", ("logp[np.arange(N), labels]", "logp[:, labels]")),
    ),
    _wrong(
        "cross_entropy clips the probabilities of a stable softmax to [1e-12, 1] before the log",
        "ce_solution",
        _edit(
            "ce_solution",
            (
                "shifted = scores.astype(np.float64) - scores.max(axis=1, keepdims=True)\n"
                "    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
                "logp = np.log(np.clip(softmax(scores), 1e-12, 1.0))",
            ),
        ),
        hidden_only=True,
        reason="clipped",
    ),
    _wrong(
        "cross_entropy takes the log of a stable softmax (underflows to log 0)",
        "ce_solution",
        _edit(
            "ce_solution",
            (
                "shifted = scores.astype(np.float64) - scores.max(axis=1, keepdims=True)\n"
                "    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
                "logp = np.log(softmax(scores))",
            ),
        ),
        hidden_only=True,
        reason="underflows",
    ),
    _wrong(
        "cross_entropy takes the log of a softmax without the max shift (overflows)",
        "ce_solution",
        _edit(
            "ce_solution",
            (
                "shifted = scores.astype(np.float64) - scores.max(axis=1, keepdims=True)\n"
                "    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
                "logp = np.log(np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True))",
            ),
        ),
        reason="overflow",
    ),
    _wrong(
        "cross_entropy's log-sum-exp skips the max shift (overflows at 1000)",
        "ce_solution",
        _edit(
            "ce_solution",
            (
                "scores.astype(np.float64) - scores.max(axis=1, keepdims=True)",
                "scores.astype(np.float64)",
            ),
        ),
        reason="overflow",
    ),
    _wrong(
        "cross_entropy subtracts one maximum for the whole batch, not each row's",
        "ce_solution",
        _edit("ce_solution", ("scores.max(axis=1, keepdims=True)", "scores.max()")),
        hidden_only=True,
        reason="each row's own maximum",
    ),
    _wrong(
        "cross_entropy tells one-hot targets from labels by dtype (int one-hot refused)",
        "ce_solution",
        _edit("ce_solution", ("if targets.shape == (N, K):", 'if targets.dtype.kind == "f":')),
        hidden_only=True,
        reason="by their shape",
    ),
    _wrong(
        "predict takes the argmax over the examples",
        "predict_solution",
        _edit("predict_solution", ("scores.argmax(axis=1)", "scores.argmax(axis=0)")),
    ),
    _wrong(
        "flatten_size rounds pooled sizes up (11 -> 6): one pooled row off",
        "flatten_size_solution",
        _edit(
            "flatten_size_solution",
            ("H, W = (H - k) // k + 1, (W - k) // k + 1", "H, W = -(-H // k), -(-W // k)"),
        ),
    ),
    _wrong(
        "flatten_size checks the window against the width only (a too-short map passes)",
        "flatten_size_solution",
        _edit("flatten_size_solution", ("if k > H or k > W:", "if k > W:")),
        hidden_only=True,
        reason="check the height as well as the width",
    ),
    _wrong(
        "flatten_size refuses a kernel exactly as large as its map (k >= H)",
        "flatten_size_solution",
        _edit("flatten_size_solution", ("if k > H or k > W:", "if k >= H or k >= W:")),
        hidden_only=True,
        reason="exactly fits",
    ),
    _wrong(
        "count_params forgets the biases",
        "count_solution",
        _edit(
            "count_solution",
            ("total += (k * k * C + 1) * layer[1]", "total += k * k * C * layer[1]"),
            ("total += (shape[0] + 1) * layer[1]", "total += shape[0] * layer[1]"),
        ),
    ),
    _wrong(
        "count_params checks the window against the height only (square maps)",
        "count_solution",
        _edit("count_solution", ("if k > H or k > W:", "if k > H:")),
        hidden_only=True,
        reason="height and its width",
    ),
    _wrong(
        "count_params refuses a kernel exactly as large as its map (k >= H)",
        "count_solution",
        _edit("count_solution", ("if k > H or k > W:", "if k >= H or k >= W:")),
        hidden_only=True,
        reason="exactly fits",
    ),
]

ASSIGNMENT = nt.Assignment(
    name=NAME,
    parts=PARTS,
    mutations=tuple(MUTATIONS),
    hidden_rules=nt.FORBID_TUPLE_RULES,
    leaks=("FORBID", "_ref_walk", "_ref_softmax", "_ref_cross_entropy", "total += (k * k * C + 1)"),
    points_shown=nt.points_table_in_intro,
)
