"""06_backprop: its parts, the rules of its hidden tests and its plausible wrong answers.

A wrong layer gradient also stops the network of Part 8 from training, so such a mutation
names the training cells too: that loss is real, not collateral noise.
"""

from __future__ import annotations

from functools import partial

import nbgrader_tools as nt
from nbgrader_tools import define

NAME = "06_backprop"
PARTS = {
    **nt.standard_parts("dense", "relu", "softmax", "pool", "conv", "numgrad", "sgd"),
    "cnn_solution": (
        "cnn_tests",
        "cnn_hidden_tests",
        "train_hidden_tests",
        "training_hidden_tests",
    ),
}
# The accuracy checks of the trained network: they fail whenever training fails.
TRAINING = frozenset({"cnn_tests", "training_hidden_tests"})
_wrong = partial(nt.mutation, PARTS)
_edit = partial(nt.edit, nt.solution_sources(NAME))

MUTATIONS = [
    _wrong(
        "dense_backward transposes dw (dout.T @ x)",
        "dense_solution",
        define("dense_backward(dout, x, w)", "return dout @ w.T, dout.T @ x, dout.sum(axis=0)"),
        also=TRAINING,
    ),
    _wrong(
        "relu_backward applies ReLU to dout (passes gradient where x < 0)",
        "relu_solution",
        define("relu_backward(dout, x)", "return np.maximum(dout, 0)"),
        also=TRAINING,
    ),
    _wrong(
        "softmax_cross_entropy_backward forgets the 1/N",
        "softmax_solution",
        define(
            "softmax_cross_entropy_backward(scores, y)",
            """
e = np.exp(scores - scores.max(axis=1, keepdims=True))
p = e / e.sum(axis=1, keepdims=True)
p[np.arange(len(y)), y] -= 1
return p
""",
        ),
        also=TRAINING,
    ),
    # Right for every batch whose rows have similar scores: only rows far below the batch's
    # largest score underflow to 0 / 0 (the hidden test's scores in the thousands).
    _wrong(
        "softmax_cross_entropy_backward subtracts one maximum for the whole batch",
        "softmax_solution",
        define(
            "softmax_cross_entropy_backward(scores, y)",
            """
N = scores.shape[0]
p = np.exp(scores - scores.max())
p /= p.sum(axis=1, keepdims=True)
p[np.arange(N), y] -= 1
return p / N
""",
        ),
        hidden_only=True,
    ),
    _wrong(
        "max_pool_backward sends dout to all four window cells",
        "pool_solution",
        define(
            "max_pool_backward(dout, x)",
            """
OH, OW = x.shape[2] // 2, x.shape[3] // 2
dx = np.zeros_like(x)
dx[:, :, : 2 * OH, : 2 * OW] = dout.repeat(2, axis=2).repeat(2, axis=3)
return dx
""",
        ),
    ),
    _wrong(
        "conv2d_backward computes dx without flipping the kernel",
        "conv_solution",
        define(
            "conv2d_backward(dout, x, w)",
            """
F, C, KH, KW = w.shape
N, _, OH, OW = dout.shape
H, W = x.shape[2:]
dw = np.empty(w.shape, dtype=x.dtype)
for i in range(KH):
    for j in range(KW):
        patch = x[:, :, i : i + OH, j : j + OW]
        dw[:, :, i, j] = np.tensordot(dout, patch, axes=([0, 2, 3], [0, 2, 3]))
padded = np.pad(dout, ((0, 0), (0, 0), (KH - 1, KH - 1), (KW - 1, KW - 1)))
dx = np.zeros_like(x)
for i in range(KH):
    for j in range(KW):
        dx += np.einsum("nfrs,fc->ncrs", padded[:, :, i : i + H, j : j + W], w[:, :, i, j])
return dx, dw, dout.sum(axis=(0, 2, 3))
""",
        ),
    ),
    _wrong(
        "conv2d_backward does not sum db over the batch (db of shape (N, F))",
        "conv_solution",
        define(
            "conv2d_backward(dout, x, w)",
            """
F, C, KH, KW = w.shape
N, _, OH, OW = dout.shape
dw = np.empty(w.shape, dtype=x.dtype)
dx = np.zeros_like(x)
for i in range(KH):
    for j in range(KW):
        patch = x[:, :, i : i + OH, j : j + OW]
        dw[:, :, i, j] = np.tensordot(dout, patch, axes=([0, 2, 3], [0, 2, 3]))
        dx[:, :, i : i + OH, j : j + OW] += np.einsum("nfpq,fc->ncpq", dout, w[:, :, i, j])
return dx, dw, dout.sum(axis=(2, 3))
""",
        ),
        also=TRAINING,
    ),
    _wrong(
        "numerical_gradient uses a one-sided difference",
        "numgrad_solution",
        define(
            "numerical_gradient(f, x, h=1e-5)",
            """
grad = np.zeros(x.shape)
base = float(f(x))
for idx in np.ndindex(x.shape):
    old = x[idx]
    x[idx] = old + h
    grad[idx] = (float(f(x)) - base) / h
    x[idx] = old
return grad
""",
        ),
    ),
    _wrong(
        "numerical_gradient puts x back by adding h instead of assigning the old value",
        "numgrad_solution",
        define(
            "numerical_gradient(f, x, h=1e-5)",
            """
grad = np.zeros(x.shape, dtype=np.float64)
for idx in np.ndindex(x.shape):
    x[idx] += h
    up = float(f(x))
    x[idx] -= 2 * h
    down = float(f(x))
    x[idx] += h
    grad[idx] = (up - down) / (2 * h)
return grad
""",
        ),
    ),
    _wrong(
        "sgd_step adds the gradient (+ instead of -)",
        "sgd_solution",
        define(
            "sgd_step(params, grads, lr)",
            """
if set(params) != set(grads):
    raise ValueError("names differ")
for k in params:
    if params[k].shape != grads[k].shape:
        raise ValueError("shapes differ")
return {k: params[k] + lr * grads[k] for k in params}
""",
        ),
        also=TRAINING,
    ),
    # Part 8's own mistakes: its visible test only checks what training reached.
    nt.Mutation(
        "training with a far too high learning rate (5.0)",
        "cnn_solution",
        _edit("cnn_solution", ("LEARNING_RATE = 0.1", "LEARNING_RATE = 5.0")),
        TRAINING,
    ),
    nt.Mutation(
        "cnn_loss_and_grads skips relu_backward",
        "cnn_solution",
        _edit("cnn_solution", ("dz1 = relu_backward(da1, z1)", "dz1 = da1")),
        frozenset({"cnn_hidden_tests"}),
    ),
    # Right gradients, wrong dtype: float32 parameters come back with float64 gradients, so
    # every update silently turns the network into float64 (slower, twice the memory).
    nt.Mutation(
        "cnn_loss_and_grads computes in float64 whatever the parameters' dtype",
        "cnn_solution",
        _edit(
            "cnn_solution",
            ("    N = x.shape[0]\n", "    N = x.shape[0]\n    x = x.astype(np.float64)\n"),
        ),
        frozenset({"cnn_hidden_tests"}),
    ),
    # train_cnn's own slips: the network still trains, so only the procedure's test sees them.
    nt.Mutation(
        "train_cnn ignores the decay (one learning rate for every epoch)",
        "cnn_solution",
        _edit(
            "cnn_solution",
            ("sgd_step(params, grads, lr * decay**epoch)", "sgd_step(params, grads, lr)"),
        ),
        frozenset({"train_hidden_tests"}),
    ),
    nt.Mutation(
        "train_cnn drops the last, smaller batch of every epoch",
        "cnn_solution",
        _edit(
            "cnn_solution",
            (
                "for start in range(0, len(x), batch_size):",
                "for start in range(0, len(x) - batch_size + 1, batch_size):",
            ),
        ),
        frozenset({"train_hidden_tests"}),
    ),
    nt.Mutation(
        "train_cnn makes a new generator every epoch (the same shuffle each time)",
        "cnn_solution",
        _edit(
            "cnn_solution",
            (
                "    rng = np.random.default_rng(seed)\n    for epoch in range(epochs):\n",
                "    for epoch in range(epochs):\n        rng = np.random.default_rng(seed)\n",
            ),
        ),
        frozenset({"train_hidden_tests"}),
    ),
]

ASSIGNMENT = nt.Assignment(
    name=NAME,
    parts=PARTS,
    mutations=tuple(MUTATIONS),
    hidden_rules=nt.HiddenRules(
        require=(
            # REFERENCE_MODULES holds helpers.ops, so the NumPy CNN and the gradient checks.
            nt.need("does not switch off helpers", "REFERENCE_MODULES + ("),
            nt.need("does not switch off scipy.signal", '"scipy.signal"'),
            nt.need("does not switch off scipy.ndimage", '"scipy.ndimage"'),
            nt.need(
                "does not pass the guard to its calls", "forbid=FORBID", "forbidden_calls(FORBID)"
            ),
            nt.PRIVATE_COPIES,
            nt.FRESH_INPUTS,
        ),
        refuse=(nt.NO_HELPERS_OPS,),
        # It scores the trained weights with its own forward pass: no student code runs.
        skip=frozenset({"training_hidden_tests"}),
    ),
    leaks=(
        "default_rng(8606)",
        "default_rng(9606)",
        "REFERENCE_MODULES",
        "ok_conv2d_backward",
        "ok_cnn_loss_and_grads",
    ),
    points_shown=nt.points_totals_in_intro,
)
