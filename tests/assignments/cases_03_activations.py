"""03_activations: its parts, the rules of its hidden tests and its plausible wrong answers.

The wrong answers: ReLU written with np.max, the leaky slope on the positive side, a naive
sigmoid that overflows, a sigmoid or a tanh slope computed in the input's own dtype (uint8
wraps around, float16 keeps 3 digits), the sigmoid's slope as s instead of s(1 - s), a sign
error in tanh's slope, the two layers multiplied in the wrong order, the bias forgotten, a
witness that looks at the first output only, ...; each must lose exactly the points of the
test cells it names.
"""

from __future__ import annotations

from functools import partial

import nbgrader_tools as nt
from nbgrader_tools import define

NAME = "03_activations"
PARTS = nt.standard_parts(
    "relu", "leaky", "sigmoid", "derivatives", "saturation", "collapse", "witness"
)
_wrong = partial(nt.mutation, PARTS)

_RELU_DERIVATIVE = define("relu_derivative(x)", "return (np.asarray(x) > 0).astype(np.float64)")
_LEAKY_DERIVATIVE = define(
    "leaky_relu_derivative(x, slope=0.01)",
    """
if slope < 0:
    raise ValueError("negative slope")
return np.where(np.asarray(x) > 0, 1.0, float(slope))
""",
)
_SIGMOID_DERIVATIVE = define("sigmoid_derivative(x)", "s = sigmoid(x)\nreturn s * (1.0 - s)")
_TANH_DERIVATIVE = define(
    "tanh_derivative(x)", "t = np.tanh(np.asarray(x, dtype=np.float64))\nreturn 1.0 - t * t"
)
_COLLAPSE_CHECKS = """
W1, b1, W2, b2 = (np.asarray(a, dtype=np.float64) for a in (W1, b1, W2, b2))
if W1.ndim != 2 or W2.ndim != 2 or W2.shape[1] != W1.shape[0]:
    raise ValueError("the weights do not fit together")
if b1.shape != (W1.shape[0],) or b2.shape != (W2.shape[0],):
    raise ValueError("a bias does not fit its weights")
"""
_SATURATION_CHECKS = """
steepest = {"sigmoid": 0.25, "tanh": 1.0}
if activation not in steepest or not 0 < threshold < steepest[activation]:
    raise ValueError("no such point")
"""

MUTATIONS = [
    _wrong(
        "relu written with np.max(0, x) instead of np.maximum",
        "relu_solution",
        define("relu(x)", "return np.max(0, x)") + "\n\n" + _RELU_DERIVATIVE,
    ),
    _wrong(
        "leaky_relu applies the slope to the positive side",
        "leaky_solution",
        define(
            "leaky_relu(x, slope=0.01)",
            """
if slope < 0:
    raise ValueError("negative slope")
x = np.asarray(x, dtype=np.float64)
return np.where(x > 0, slope * x, x)
""",
        )
        + "\n\n"
        + _LEAKY_DERIVATIVE,
    ),
    _wrong(
        "sigmoid computed naively as 1 / (1 + exp(-x)) (overflows for x << 0)",
        "sigmoid_solution",
        define("sigmoid(x)", "return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))"),
        hidden_only=True,
        reason="overflow",
    ),
    _wrong(
        "sigmoid written as exp(x) / (1 + exp(x)): nan for large x",
        "sigmoid_solution",
        define("sigmoid(x)", "e = np.exp(np.asarray(x, dtype=np.float64))\nreturn e / (1.0 + e)"),
    ),
    _wrong(
        "sigmoid converts to float64 only at the end (-x wraps around for uint8 pictures)",
        "sigmoid_solution",
        define(
            "sigmoid(x)",
            """
x = np.asarray(x)
e = np.exp(-np.abs(x))
return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(np.float64)
""",
        ),
        hidden_only=True,
        reason="uint8",
    ),
    _wrong(
        "sigmoid_derivative returns s instead of s(1 - s)",
        "derivatives_solution",
        define("sigmoid_derivative(x)", "return sigmoid(x)") + "\n\n" + _TANH_DERIVATIVE,
    ),
    _wrong(
        "tanh_derivative with a sign error: tanh^2 - 1",
        "derivatives_solution",
        _SIGMOID_DERIVATIVE
        + "\n\n"
        + define(
            "tanh_derivative(x)",
            "t = np.tanh(np.asarray(x, dtype=np.float64))\nreturn t * t - 1.0",
        ),
    ),
    _wrong(
        "tanh_derivative converts to float64 only at the end (float16 slopes for uint8 input)",
        "derivatives_solution",
        _SIGMOID_DERIVATIVE
        + "\n\n"
        + define(
            "tanh_derivative(x)",
            "t = np.tanh(np.asarray(x))\nreturn (1.0 - t * t).astype(np.float64)",
        ),
        hidden_only=True,
    ),
    _wrong(
        "saturation_point finds where the activation itself (not its slope) saturates",
        "saturation_solution",
        define(
            "saturation_point(activation, threshold=0.01)",
            _SATURATION_CHECKS
            + """
if activation == "sigmoid":
    return float(np.log((1 - threshold) / threshold))
return float(np.arctanh(1 - threshold))
""",
        ),
    ),
    _wrong(
        "collapse_linear multiplies the weights in the wrong order (W1 @ W2)",
        "collapse_solution",
        define(
            "collapse_linear(W1, b1, W2, b2)",
            _COLLAPSE_CHECKS + "return W1 @ W2, W2 @ b1 + b2",
        ),
    ),
    _wrong(
        "collapse_linear forgets the first bias (b = b2)",
        "collapse_solution",
        define("collapse_linear(W1, b1, W2, b2)", _COLLAPSE_CHECKS + "return W2 @ W1, b2"),
    ),
    _wrong(
        "nonlinearity_witness only searches near the origin",
        "witness_solution",
        define(
            "nonlinearity_witness(W1, b1, W2, b2)",
            """
rng = np.random.default_rng(0)

def g(v):
    return W2 @ np.maximum(W1 @ v + b1, 0) + b2

for _ in range(1000):
    x, y = rng.uniform(-1, 1, size=(2, W1.shape[1]))
    if np.max(np.abs(g((x + y) / 2) - (g(x) + g(y)) / 2)) > 1e-3:
        break
return x, y
""",
        ),
        hidden_only=True,
    ),
    _wrong(
        "nonlinearity_witness looks at the first output only",
        "witness_solution",
        define(
            "nonlinearity_witness(W1, b1, W2, b2)",
            """
W1, b1, W2, b2 = (np.asarray(a, dtype=np.float64) for a in (W1, b1, W2, b2))

def first_output(v):
    return W2[0] @ np.maximum(W1 @ v + b1, 0.0) + b2[0]

for h in range(W1.shape[0]):
    a = W1[h]
    if not np.any(a) or W2[0, h] == 0:
        continue
    for eps in (1.0, 1e-2, 1e-4):
        x = a * (eps - b1[h]) / (a @ a)
        y = a * (-eps - b1[h]) / (a @ a)
        gx, gy = first_output(x), first_output(y)
        if abs(first_output((x + y) / 2) - (gx + gy) / 2) > 1e-4 * (1 + abs(gx) + abs(gy)):
            return x, y
raise ValueError("no unit's bend shows in the output")
""",
        ),
        hidden_only=True,
        reason="first output ignores every unit",
    ),
    _wrong(
        "nonlinearity_witness tests additivity (linear) instead of midpoints (affine)",
        "witness_solution",
        define(
            "nonlinearity_witness(W1, b1, W2, b2)",
            """
rng = np.random.default_rng(0)

def g(v):
    return W2 @ np.maximum(W1 @ v + b1, 0) + b2

for _ in range(1000):
    x, y = rng.uniform(-0.1, 0.1, size=(2, W1.shape[1]))
    if np.max(np.abs(g(x + y) - (g(x) + g(y)))) > 1e-6:
        break
return x, y
""",
        ),
    ),
]

ASSIGNMENT = nt.Assignment(
    name=NAME,
    parts=PARTS,
    mutations=tuple(MUTATIONS),
    hidden_rules=nt.reference_modules_and("scipy.special"),
    # Code that only the instructor version may hold (solutions and hidden-test internals).
    leaks=(
        "FORBIDDEN",
        "def stable(",
        "def exact(",
        "np.exp(-np.abs(x))",
        "return W2 @ W1",
        "one_minus_s",
    ),
    points_shown=nt.points_in_hidden_cells,
)
