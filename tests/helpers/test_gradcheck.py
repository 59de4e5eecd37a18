"""Every backward pass of helpers.ops against numerical_gradient, and the gradcheck helpers.

All checks run in float64 on small inputs; the analytic and numerical gradients must agree to a
relative error below 1e-6 (central differences with h = 1e-5 reach about 1e-9 on smooth ops).
Inputs for ReLU and max pooling are kept away from their kinks (0 and ties).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import ops
from helpers.ops.gradcheck import Comparison, compare, numerical_gradient, rel_error

RNG = np.random.default_rng(7)
LIMIT = 1e-6


def away_from_zero(shape) -> np.ndarray:
    x = RNG.uniform(0.2, 1.5, shape)
    return x * RNG.choice([-1.0, 1.0], shape)


def distinct(shape) -> np.ndarray:
    """Values spaced at least 0.01 apart, so a max-pool window never holds a near-tie."""
    return (RNG.permutation(int(np.prod(shape))) * 0.01).reshape(shape)


# ---------------------------------------------------------------------------------------------
# The helpers themselves
# ---------------------------------------------------------------------------------------------


def test_numerical_gradient_of_a_known_function():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = numerical_gradient(lambda v: (v**3).sum(), x)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-8)


def test_numerical_gradient_with_dout_and_without_touching_x():
    x = RNG.standard_normal(5)
    saved = x.copy()
    dout = RNG.standard_normal(5)
    grad = numerical_gradient(np.sin, x, dout=dout)
    np.testing.assert_allclose(grad, np.cos(x) * dout, rtol=1e-8)
    np.testing.assert_array_equal(x, saved)


def test_numerical_gradient_explains_array_outputs_without_dout():
    with pytest.raises(ValueError, match="dout"):
        numerical_gradient(np.sin, np.ones(3))
    with pytest.raises(TypeError, match="function"):
        numerical_gradient("sin", np.ones(3))


def test_rel_error():
    assert rel_error([1.0, 2.0], [1.0, 2.0]) == 0
    assert rel_error([1.0], [1.1]) == pytest.approx(0.1 / 2.1)
    with pytest.raises(ValueError, match="shapes"):
        rel_error(np.ones(2), np.ones(3))


def test_compare_prints_exact_close_and_different(capsys):
    exact = compare("a", np.arange(3.0), np.arange(3.0))
    close = compare("b", np.ones(3), np.ones(3) + 1e-8)
    far = compare("c", np.ones(3), torch.tensor([1.0, 2.0, 1.0]))
    shape = compare("d", np.ones(3), np.ones(4))
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "a: exact match"
    assert out[1].startswith("b: close (max difference 1e-08")
    assert out[2].startswith("c: DIFFERENT (max difference 1")
    assert "shapes" in out[3]
    assert isinstance(exact, Comparison) and exact.exact and exact.close and bool(exact)
    assert close.close and not close.exact and close.max_abs_diff == pytest.approx(1e-8)
    assert not far and far.max_abs_diff == pytest.approx(1.0)
    assert not shape.same_shape and not shape


# ---------------------------------------------------------------------------------------------
# Every backward pass against the numerical gradient
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stride", "padding", "mode", "flip"),
    [(1, 0, "zeros", False), (2, 1, "zeros", True), ((1, 2), "same", "replicate", False)],
)
def test_conv2d_backward(stride, padding, mode, flip):
    x = RNG.standard_normal((2, 2, 5, 6))
    w = RNG.standard_normal((3, 2, 3, 2))
    b = RNG.standard_normal(3)
    kw = {"stride": stride, "padding": padding, "padding_mode": mode, "flip_kernel": flip}
    out, cache = ops.conv2d_forward(x, w, b, **kw)
    g = RNG.standard_normal(out.shape)
    dx, dw, db = ops.conv2d_backward(g, cache)
    assert (
        rel_error(dx, numerical_gradient(lambda v: ops.conv2d_forward(v, w, b, **kw)[0], x, dout=g))
        < LIMIT
    )
    assert (
        rel_error(dw, numerical_gradient(lambda v: ops.conv2d_forward(x, v, b, **kw)[0], w, dout=g))
        < LIMIT
    )
    assert (
        rel_error(db, numerical_gradient(lambda v: ops.conv2d_forward(x, w, v, **kw)[0], b, dout=g))
        < LIMIT
    )


@pytest.mark.parametrize("kind", ["max", "avg", "sum"])
@pytest.mark.parametrize(("size", "stride"), [(2, None), (3, 1), (2, 3)])
def test_pooling_backward(kind, size, stride):
    x = distinct((2, 2, 7, 7))
    forward = getattr(ops, f"{kind}_pool2d_forward")
    out, cache = forward(x, size=size, stride=stride)
    g = RNG.standard_normal(out.shape)
    dx = getattr(ops, f"{kind}_pool2d_backward")(g, cache)
    num = numerical_gradient(lambda v: forward(v, size=size, stride=stride)[0], x, dout=g, h=1e-4)
    assert rel_error(dx, num) < LIMIT


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_activation_backward(name):
    x = away_from_zero((3, 4))
    forward = getattr(ops, f"{name}_forward")
    out, cache = forward(x)
    g = RNG.standard_normal(out.shape)
    dx = getattr(ops, f"{name}_backward")(g, cache)
    assert rel_error(dx, numerical_gradient(lambda v: forward(v)[0], x, dout=g)) < LIMIT


def test_flatten_backward():
    x = RNG.standard_normal((2, 3, 2, 2))
    out, cache = ops.flatten_forward(x)
    g = RNG.standard_normal(out.shape)
    num = numerical_gradient(lambda v: ops.flatten_forward(v)[0], x, dout=g)
    assert rel_error(ops.flatten_backward(g, cache), num) < LIMIT


def test_dense_backward():
    x, w, b = RNG.standard_normal((4, 5)), RNG.standard_normal((5, 3)), RNG.standard_normal(3)
    out, cache = ops.dense_forward(x, w, b)
    g = RNG.standard_normal(out.shape)
    dx, dw, db = ops.dense_backward(g, cache)
    assert (
        rel_error(dx, numerical_gradient(lambda v: ops.dense_forward(v, w, b)[0], x, dout=g))
        < LIMIT
    )
    assert (
        rel_error(dw, numerical_gradient(lambda v: ops.dense_forward(x, v, b)[0], w, dout=g))
        < LIMIT
    )
    assert (
        rel_error(db, numerical_gradient(lambda v: ops.dense_forward(x, w, v)[0], b, dout=g))
        < LIMIT
    )


def test_softmax_backward():
    s = RNG.standard_normal((3, 5))
    p, cache = ops.softmax_forward(s)
    g = RNG.standard_normal(p.shape)
    num = numerical_gradient(lambda v: ops.softmax_forward(v)[0], s, dout=g)
    assert rel_error(ops.softmax_backward(g, cache), num) < LIMIT


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("soft_targets", [False, True])
def test_cross_entropy_backward(reduction, soft_targets):
    s = RNG.standard_normal((4, 3))
    t = RNG.dirichlet(np.ones(3), 4) if soft_targets else np.array([0, 2, 1, 2])
    loss, cache = ops.cross_entropy_forward(s, t, reduction=reduction)
    num = numerical_gradient(lambda v: ops.cross_entropy_forward(v, t, reduction=reduction)[0], s)
    assert rel_error(ops.cross_entropy_backward(1.0, cache), num) < LIMIT
    # dout scales the gradient: the chain rule for a loss multiplied by a constant.
    np.testing.assert_allclose(ops.cross_entropy_backward(2.5, cache), 2.5 * num, rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_squared_error_backward(reduction):
    o, t = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    _, cache = ops.squared_error_forward(o, t, reduction=reduction)
    num = numerical_gradient(lambda v: ops.squared_error_forward(v, t, reduction=reduction)[0], o)
    assert rel_error(ops.squared_error_backward(1.0, cache), num) < LIMIT


def test_gradient_check_catches_a_wrong_backward():
    # A backward that forgets the ReLU mask must fail the same check that the real one passes.
    x = away_from_zero((3, 4))
    g = RNG.standard_normal(x.shape)
    num = numerical_gradient(lambda v: ops.relu_forward(v)[0], x, dout=g)
    assert rel_error(g, num) > 0.5
