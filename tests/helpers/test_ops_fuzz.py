"""Property tests of helpers.ops against PyTorch, and a fuzz test of malformed inputs.

Hypothesis draws shapes, strides, paddings, padding modes, kernel flips, dtypes and the
convolution's layout (im2col or row strips); every forward and backward result must match
torch.nn.functional / autograd to 1e-10 (float64) or 1e-4 relative + 1e-4 absolute (float32).
``max_examples`` keeps the whole file to a few seconds.

The fuzz test throws random, often malformed arguments at every op: each call must either
return an output of exactly the expected shape or raise ValueError/TypeError with a sentence;
any other exception is a bug.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from helpers import ops

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def tol(dtype) -> dict[str, float]:
    return {"rtol": 1e-9, "atol": 1e-10} if dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-4}


def arrays(rng: np.random.Generator, shape, dtype) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


pairs = st.tuples(st.integers(1, 3), st.integers(1, 3))
paddings = st.one_of(
    st.just("valid"),
    st.just("same"),
    st.integers(0, 2),
    st.tuples(st.integers(0, 2), st.integers(0, 2)),
)


# More examples than the other properties: they are shared between the two layouts.
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 3),
    f=st.integers(1, 4),
    hw=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    k=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.one_of(st.integers(1, 3), pairs),
    padding=paddings,
    mode=st.sampled_from(ops.PADDING_MODES),
    flip=st.booleans(),
    bias=st.booleans(),
    dtype=st.sampled_from([np.float32, np.float64]),
    layout=st.sampled_from(["im2col", "strips"]),
    seed=st.integers(0, 2**16),
)
def test_conv2d_matches_torch(
    n, c, f, hw, k, stride, padding, mode, flip, bias, dtype, layout, seed
):
    top, bottom, left, right = ops.checks._resolve_padding(padding, *k)
    assume(k[0] <= hw[0] + top + bottom and k[1] <= hw[1] + left + right)
    rng = np.random.default_rng(seed)
    x = arrays(rng, (n, c, *hw), dtype)
    w = arrays(rng, (f, c, *k), dtype)
    b = arrays(rng, (f,), dtype) if bias else None
    # Both ways of computing the layer, whatever the patch length K = C*KH*KW they get here.
    with mock.patch.object(ops.conv, "PER_IMAGE_MAX_K", 10**9 if layout == "im2col" else 0):
        out, cache = ops.conv2d_forward(
            x, w, b, stride=stride, padding=padding, padding_mode=mode, flip_kernel=flip
        )
    assert cache.layout == layout

    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True) if bias else None
    xp = F.pad(
        xt, (left, right, top, bottom), mode="replicate" if mode == "replicate" else "constant"
    )
    ref = F.conv2d(xp, wt.flip((2, 3)) if flip else wt, bt, stride=stride)
    assert out.shape == tuple(ref.shape) and out.dtype == dtype
    np.testing.assert_allclose(out, ref.detach().numpy(), **tol(dtype))

    g = arrays(rng, out.shape, dtype)
    ref.backward(torch.tensor(g))
    dx, dw, db = ops.conv2d_backward(g, cache)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **tol(dtype))
    np.testing.assert_allclose(dw, wt.grad.numpy(), **tol(dtype))
    if bias:
        np.testing.assert_allclose(db, bt.grad.numpy(), **tol(dtype))
    else:
        assert db is None


@FAST
@given(
    shape=st.tuples(st.integers(1, 2), st.integers(1, 3), st.integers(1, 9), st.integers(1, 9)),
    size=st.one_of(st.integers(1, 4), st.tuples(st.integers(1, 4), st.integers(1, 4))),
    stride=st.one_of(st.none(), st.integers(1, 4), pairs),
    kind=st.sampled_from(["max", "avg", "sum"]),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_pooling_matches_torch(shape, size, stride, kind, dtype, seed):
    kh, kw = (size, size) if isinstance(size, int) else size
    assume(kh <= shape[2] and kw <= shape[3])
    rng = np.random.default_rng(seed)
    x = arrays(rng, shape, dtype)  # continuous values: no ties, so the arg-max is unique
    out, cache = getattr(ops, f"{kind}_pool2d_forward")(x, size=size, stride=stride)
    xt = torch.tensor(x, requires_grad=True)
    s = size if stride is None else stride
    ref = F.max_pool2d(xt, size, s) if kind == "max" else F.avg_pool2d(xt, size, s)
    if kind == "sum":
        ref = ref * (kh * kw)
    assert out.shape == tuple(ref.shape) and out.dtype == dtype
    np.testing.assert_allclose(out, ref.detach().numpy(), **tol(dtype))
    g = arrays(rng, out.shape, dtype)
    ref.backward(torch.tensor(g))
    dx = getattr(ops, f"{kind}_pool2d_backward")(g, cache)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **tol(dtype))


@FAST
@given(
    n=st.integers(1, 6),
    k=st.integers(2, 8),
    scale=st.sampled_from([0.1, 1.0, 30.0, 300.0]),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_softmax_and_cross_entropy_match_torch(n, k, scale, dtype, seed):
    rng = np.random.default_rng(seed)
    s = (rng.standard_normal((n, k)) * scale).astype(dtype)
    y = rng.integers(0, k, n)
    np.testing.assert_allclose(
        ops.softmax(s), torch.softmax(torch.tensor(s), 1).numpy(), **tol(dtype)
    )
    loss, cache = ops.cross_entropy_forward(s, y)
    st_ = torch.tensor(s, requires_grad=True)
    ref = F.cross_entropy(st_, torch.tensor(y))
    np.testing.assert_allclose(loss, ref.item(), **tol(dtype))
    ref.backward()
    np.testing.assert_allclose(
        ops.cross_entropy_backward(1.0, cache), st_.grad.numpy(), **tol(dtype)
    )


# ---------------------------------------------------------------------------------------------
# Fuzz: malformed inputs end in ValueError/TypeError, or in an output of the right shape
# ---------------------------------------------------------------------------------------------

weird_scalars = st.one_of(
    st.sampled_from([None, "2", 1.5, -1, 0, True, [], (1, 2, 3), (0, 1), {"a": 1}, 2]),
    st.integers(1, 2),
)
dtypes = st.sampled_from(
    [np.float32, np.float64, np.int64, np.uint8, np.bool_, np.complex64, np.str_, object]
)


@st.composite
def maybe_arrays(draw):
    """An array of random rank, size and dtype, sometimes with NaN; or something else entirely."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from([None, "image", 3.0, [[1, 2], [3]], {"x": 1}, [1, "a"]]))
    shape = tuple(draw(st.lists(st.integers(0, 6), min_size=0, max_size=5)))
    dtype = draw(dtypes)
    arr = np.ones(shape).astype(dtype) if dtype is not object else np.empty(shape, dtype=object)
    if dtype in (np.float32, np.float64) and arr.size and draw(st.booleans()):
        arr.flat[draw(st.integers(0, arr.size - 1))] = draw(st.sampled_from([np.nan, np.inf]))
    return arr


@st.composite
def small_arrays(draw, ndim):
    """A small, mostly well-formed array of the given rank (so valid calls happen too)."""
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=ndim, max_size=ndim)))
    if ndim == 4:  # few channels, so that image and filter often agree
        shape = (shape[0], draw(st.integers(1, 2)), *shape[2:])
    dtype = draw(st.sampled_from([np.float32, np.float64, np.uint8]))
    return np.random.default_rng(draw(st.integers(0, 99))).random(shape).astype(dtype)


def array_args(ndim):
    return st.one_of(maybe_arrays(), small_arrays(ndim), small_arrays(ndim))


def _expect(call, expected_shape):
    """Run ``call``; accept a clear ValueError/TypeError, or an output of expected_shape."""
    try:
        out = call()
    except (ValueError, TypeError) as err:
        text = str(err)
        assert len(text) > 20 and " " in text, f"unhelpful message: {text!r}"
        assert expected_shape is None, f"a valid call raised: {text}"
        event("rejected with a clear error")
        return None
    event("accepted")
    out_arr = out[0] if isinstance(out, tuple) else out
    assert expected_shape is not None, "a malformed call returned a result instead of raising"
    assert np.shape(out_arr) == expected_shape
    return out


def _valid_array(a, ndim) -> bool:
    return (
        isinstance(a, np.ndarray)
        and a.ndim == ndim
        and a.size > 0
        and a.dtype.kind in "biuf"
        and (a.dtype.kind != "f" or bool(np.isfinite(a).all()))
    )


def _int_pair(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return (v, v) if v >= 1 else None
    if isinstance(v, tuple) and len(v) == 2 and all(type(i) is int and i >= 1 for i in v):
        return v
    return None


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    x=array_args(4),
    w=array_args(4),
    b=st.one_of(st.none(), array_args(1)),
    stride=weird_scalars,
    pad=weird_scalars,
)
def test_fuzz_conv2d(x, w, b, stride, pad):
    shape = None
    sp = _int_pair(stride)
    pad_ok = (type(pad) is int and pad >= 0) or (
        isinstance(pad, tuple) and len(pad) == 2 and all(type(p) is int and p >= 0 for p in pad)
    )
    if _valid_array(x, 4) and _valid_array(w, 4) and sp and pad_ok and x.shape[1] == w.shape[1]:
        bias_ok = b is None or (_valid_array(b, 1) and b.shape == (w.shape[0],))
        ph, pw = (pad, pad) if isinstance(pad, int) else pad
        if bias_ok and w.shape[2] <= x.shape[2] + 2 * ph and w.shape[3] <= x.shape[3] + 2 * pw:
            oh = ops.output_size(x.shape[2], w.shape[2], sp[0], ph)
            ow = ops.output_size(x.shape[3], w.shape[3], sp[1], pw)
            shape = (x.shape[0], w.shape[0], oh, ow)
    _expect(lambda: ops.conv2d_forward(x, w, b, stride=stride, padding=pad), shape)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    x=array_args(4),
    size=weird_scalars,
    stride=weird_scalars,
    kind=st.sampled_from(["max", "avg", "sum"]),
)
def test_fuzz_pooling(x, size, stride, kind):
    shape = None
    kp = _int_pair(size)
    sp = kp if stride is None else _int_pair(stride)  # stride defaults to the window size
    if _valid_array(x, 4) and kp and sp and kp[0] <= x.shape[2] and kp[1] <= x.shape[3]:
        shape = (
            *x.shape[:2],
            (x.shape[2] - kp[0]) // sp[0] + 1,
            (x.shape[3] - kp[1]) // sp[1] + 1,
        )
    result = _expect(
        lambda: getattr(ops, f"{kind}_pool2d_forward")(x, size=size, stride=stride), shape
    )
    if result is not None:  # a valid call must also survive its backward pass
        out, cache = result
        assert getattr(ops, f"{kind}_pool2d_backward")(np.ones_like(out), cache).shape == x.shape


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    x=array_args(2),
    w=array_args(2),
    b=array_args(1),
    op=st.sampled_from(["relu", "sigmoid", "tanh", "leaky_relu", "flatten", "dense", "softmax"]),
)
def test_fuzz_other_ops(x, w, b, op):
    if isinstance(x, float):  # element-wise ops also take a plain number, as a 0-d array
        x = np.asarray(x)
    numeric = isinstance(x, np.ndarray) and x.dtype.kind in "biuf"
    ok_any = numeric and (x.dtype.kind != "f" or bool(np.isfinite(x).all()))
    if op in ("relu", "sigmoid", "tanh", "leaky_relu"):
        _expect(lambda: getattr(ops, f"{op}_forward")(x), x.shape if ok_any else None)
    elif op == "flatten":
        # A reshape: a NaN passes through unharmed, so flatten does not look for one.
        good = numeric and x.ndim >= 2 and x.size > 0
        _expect(
            lambda: ops.flatten_forward(x), (x.shape[0], x.size // x.shape[0]) if good else None
        )
    elif op == "softmax":
        _expect(lambda: ops.softmax(x), x.shape if _valid_array(x, 2) else None)
    else:
        good = _valid_array(x, 2) and _valid_array(w, 2) and _valid_array(b, 1)
        good = good and x.shape[1] == w.shape[0] and b.shape == (w.shape[1],)
        _expect(lambda: ops.dense_forward(x, w, b), (x.shape[0], w.shape[1]) if good else None)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    image=st.one_of(array_args(2), small_arrays(3)),
    kernel=array_args(2),
    mode=st.sampled_from(["zeros", "replicate", "reflect", None]),
    pad=weird_scalars,
)
def test_fuzz_correlate2d_and_pad2d(image, kernel, mode, pad):
    shape = None
    pad_ok = (type(pad) is int and pad >= 0) or (
        isinstance(pad, tuple) and len(pad) == 2 and all(type(p) is int and p >= 0 for p in pad)
    )
    image_ok = isinstance(image, np.ndarray) and image.ndim in (2, 3) and image.size > 0
    image_ok = image_ok and _valid_array(image.reshape(image.shape[0], -1), 2)
    if image_ok and _valid_array(kernel, 2) and mode in ops.PADDING_MODES and pad_ok:
        ph, pw = (pad, pad) if isinstance(pad, int) else pad
        if (
            kernel.shape[0] <= image.shape[0] + 2 * ph
            and kernel.shape[1] <= image.shape[1] + 2 * pw
        ):
            oh = image.shape[0] + 2 * ph - kernel.shape[0] + 1
            ow = image.shape[1] + 2 * pw - kernel.shape[1] + 1
            shape = (oh, ow, *image.shape[2:])
    _expect(lambda: ops.correlate2d(image, kernel, padding=pad, mode=mode), shape)

    pad_shape = None
    if (
        isinstance(image, np.ndarray)
        and image.ndim in (2, 3, 4)
        and image.size > 0
        and image.dtype.kind in "biuf"
        and mode in ops.PADDING_MODES
        and pad_ok
    ):
        ph, pw = (pad, pad) if isinstance(pad, int) else pad
        grow = (
            (2 * ph, 2 * pw, 0) if image.ndim == 3 else (0,) * (image.ndim - 2) + (2 * ph, 2 * pw)
        )
        pad_shape = tuple(s + g for s, g in zip(image.shape, grow, strict=True))
    _expect(lambda: ops.pad2d(image, padding=pad, mode=mode), pad_shape)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    scores=array_args(2),
    targets=st.one_of(array_args(2), array_args(1), small_arrays(1).map(lambda a: a.astype(int))),
    loss=st.sampled_from(["cross_entropy", "squared_error"]),
)
def test_fuzz_losses(scores, targets, loss):
    # Loss outputs are scalars; the point here is only that bad input never slips through.
    try:
        value, cache = getattr(ops, f"{loss}_forward")(scores, targets)
    except (ValueError, TypeError) as err:
        assert len(str(err)) > 20
        return
    assert _valid_array(scores, 2) and np.isfinite(value)
    grad = getattr(ops, f"{loss}_backward")(1.0, cache)
    assert grad.shape == scores.shape
