"""08_debugging: its parts, the rules of its hidden tests and its plausible wrong answers.

Every part hands the student a buggy function and its symptoms; the student fixes it. So
each part's table holds at least the bug as handed in (the student changed nothing that
matters) and one plausible half-fix. Nothing is trained while grading: every test runs the
fixed function on small, seeded inputs.
"""

from __future__ import annotations

from functools import partial

import nbgrader_tools as nt
from nbgrader_tools import define

NAME = "08_debugging"
PARTS = nt.standard_parts("relu", "conv", "init", "nchw", "flatten", "loss", "step", "val")
_wrong = partial(nt.mutation, PARTS)
_edit = partial(nt.edit, nt.solution_sources(NAME))

MUTATIONS = [
    _wrong(
        "relu as handed in: np.max(x, 0) takes the maximum over the batch",
        "relu_solution",
        _edit("relu_solution", ("return np.maximum(x, 0)", "return np.max(x, 0)")),
    ),
    _wrong(
        "relu 'fixed' as np.abs (negatives come back positive)",
        "relu_solution",
        _edit("relu_solution", ("return np.maximum(x, 0)", "return np.abs(x)")),
    ),
    _wrong(
        "conv_forward as handed in: reads only channel 0",
        "conv_solution",
        _edit(
            "conv_solution",
            ("patch = x[:, :, i : i + OH, j : j + OW]", "patch = x[:, :1, i : i + OH, j : j + OW]"),
            ("w[:, :, i, j])", "w[:, :1, i, j])"),
        ),
    ),
    _wrong(
        "conv_forward sums the input channels first, then uses channel 0's kernel",
        "conv_solution",
        _edit(
            "conv_solution",
            (
                "patch = x[:, :, i : i + OH, j : j + OW]",
                "patch = x[:, :, i : i + OH, j : j + OW].sum(axis=1, keepdims=True)",
            ),
            ("w[:, :, i, j])", "w[:, :1, i, j])"),
        ),
    ),
    _wrong(
        "init_dense as handed in: N(0, 1) weights",
        "init_solution",
        _edit("init_solution", ("np.sqrt(2.0 / fan_in)", "1.0")),
    ),
    _wrong(
        "init_dense passes the variance 2 / fan_in where NumPy wants a standard deviation",
        "init_solution",
        _edit("init_solution", ("np.sqrt(2.0 / fan_in)", "2.0 / fan_in")),
    ),
    _wrong(
        "init_dense draws from NumPy's global generator, not rng",
        "init_solution",
        _edit("init_solution", ("w = rng.normal(", "w = np.random.normal(")),
        hidden_only=True,
        reason="same seed",
    ),
    _wrong(
        "to_nchw as handed in: reshape instead of moving the axis",
        "nchw_solution",
        define("to_nchw(images)", "N, H, W, C = images.shape\nreturn images.reshape(N, C, H, W)"),
    ),
    _wrong(
        "to_nchw transposes (0, 3, 2, 1): channels first, but rows and columns swapped",
        "nchw_solution",
        define("to_nchw(images)", "return images.transpose(0, 3, 2, 1)"),
    ),
    _wrong(
        "to_nchw converts to float64 on the way",
        "nchw_solution",
        define("to_nchw(images)", "return np.moveaxis(images.astype(np.float64), -1, 1)"),
        hidden_only=True,
        reason="dtype",
    ),
    _wrong(
        "flatten_maps as handed in: channels-last order",
        "flatten_solution",
        define("flatten_maps(maps)", "return np.moveaxis(maps, 1, -1).reshape(len(maps), -1)"),
    ),
    _wrong(
        "flatten_maps flattens the batch axis too (maps.flatten())",
        "flatten_solution",
        define("flatten_maps(maps)", "return maps.flatten()"),
    ),
    _wrong(
        "batch_loss as handed in: softmax before F.cross_entropy",
        "loss_solution",
        _edit(
            "loss_solution",
            ("F.cross_entropy(model(x), y)", "F.cross_entropy(torch.softmax(model(x), dim=1), y)"),
        ),
    ),
    _wrong(
        "batch_loss swaps cross_entropy for nll_loss of the softmax (negative losses)",
        "loss_solution",
        _edit(
            "loss_solution",
            ("F.cross_entropy(model(x), y)", "F.nll_loss(torch.softmax(model(x), dim=1), y)"),
        ),
    ),
    _wrong(
        "batch_loss takes the log of the softmax itself (large scores overflow)",
        "loss_solution",
        _edit(
            "loss_solution",
            (
                "F.cross_entropy(model(x), y)",
                "F.nll_loss(torch.log(torch.softmax(model(x), dim=1)), y)",
            ),
        ),
        hidden_only=True,
        reason="overflow",
    ),
    _wrong(
        "train_step as handed in: no optimizer.zero_grad()",
        "step_solution",
        _edit("step_solution", ("    optimizer.zero_grad()\n", "")),
    ),
    _wrong(
        "train_step calls zero_grad between backward and step (nothing is learnt)",
        "step_solution",
        _edit(
            "step_solution",
            ("    optimizer.zero_grad()\n", ""),
            ("loss.backward()\n", "loss.backward()\n    optimizer.zero_grad()\n"),
        ),
    ),
    _wrong(
        "train_step calls zero_grad after step (a gradient from before the call is used)",
        "step_solution",
        _edit(
            "step_solution",
            ("    optimizer.zero_grad()\n", ""),
            ("optimizer.step()\n", "optimizer.step()\n    optimizer.zero_grad()\n"),
        ),
        hidden_only=True,
        reason="zero_grad() before backward",
    ),
    _wrong(
        "validation_accuracy as handed in: training mode, augmented pictures",
        "val_solution",
        define(
            "validation_accuracy(model, x, y)",
            """
scores = model(augment_batch(x))
return (scores.argmax(1) == y).float().mean().item()
""",
        ),
    ),
    _wrong(
        "validation_accuracy sets eval() but keeps the augmentation",
        "val_solution",
        _edit("val_solution", ("scores = model(x)", "scores = model(augment_batch(x))")),
    ),
    _wrong(
        "validation_accuracy drops the augmentation but stays in training mode",
        "val_solution",
        _edit("val_solution", ("    model.eval()\n", "")),
    ),
    _wrong(
        "validation_accuracy records gradients (no torch.no_grad())",
        "val_solution",
        _edit(
            "val_solution",
            ("    with torch.no_grad():\n        scores = model(x)", "    scores = model(x)"),
        ),
        hidden_only=True,
        reason="no_grad",
    ),
]

ASSIGNMENT = nt.Assignment(
    name=NAME,
    parts=PARTS,
    mutations=tuple(MUTATIONS),
    hidden_rules=nt.HiddenRules(
        require=(
            nt.need("does not switch anything off", "FORBID = ("),
            nt.need(
                "does not pass the guard to its calls", "forbid=FORBID", "forbidden_calls(FORBID)"
            ),
            nt.need("uses no fresh inputs", "default_rng(", "manual_seed("),
        ),
        refuse=(nt.NO_HELPERS_OPS,),
    ),
    leaks=(
        "FORBID",
        "_ref_",
        "_reference_step",
        "np.maximum(x, 0)",
        'np.einsum("nchw,fc->nfhw"',
        "np.sqrt(2.0 / fan_in)",
        "np.moveaxis(images, -1, 1)",
    ),
    points_shown=nt.points_table_in_intro,
    seconds_per_submission=60,
)
