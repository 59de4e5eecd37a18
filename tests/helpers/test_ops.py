"""helpers.ops: hand-computed cases, fixed comparisons with PyTorch, input checks, no mutation.

Random shapes against PyTorch live in test_ops_fuzz.py; numerical gradient checks in
test_gradcheck.py. Tolerances: float64 results must agree with PyTorch float64 to 1e-10
(absolute, on values of order 1); float32 results to 1e-4 relative + 1e-4 absolute.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import ops
from helpers.kernels import TINY_FEATURE_MAP, TINY_IMAGE, TINY_KERNEL

RNG = np.random.default_rng(1234)


def tol(dtype) -> dict[str, float]:
    return {"rtol": 1e-9, "atol": 1e-10} if dtype == np.float64 else {"rtol": 1e-4, "atol": 1e-4}


def torch_conv(x, w, b, *, stride, pad, mode, flip):
    """PyTorch reference: explicit F.pad, then F.conv2d; returns out and (dx, dw, db) for g."""
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = None if b is None else torch.tensor(b, requires_grad=True)
    top, bottom, left, right = pad
    xp = F.pad(
        xt, (left, right, top, bottom), mode="replicate" if mode == "replicate" else "constant"
    )
    out = F.conv2d(xp, wt.flip((2, 3)) if flip else wt, bt, stride=stride)
    return out, xt, wt, bt


# ---------------------------------------------------------------------------------------------
# Worked examples of the syllabus
# ---------------------------------------------------------------------------------------------


def test_tiny_example_by_hand():
    out = ops.correlate2d(TINY_IMAGE, TINY_KERNEL)
    np.testing.assert_array_equal(out, [[4, 3, 4], [2, 4, 3], [2, 3, 4]])
    np.testing.assert_array_equal(out, TINY_FEATURE_MAP)


def test_tiny_example_through_conv2d_forward_with_bias():
    x = TINY_IMAGE[None, None].astype(np.float64)
    w = TINY_KERNEL[None, None].astype(np.float64)
    out, _ = ops.conv2d_forward(x, w, np.array([1.0]))
    np.testing.assert_array_equal(out[0, 0], TINY_FEATURE_MAP + 1)


def test_first_value_of_tiny_map_is_the_sum_of_the_masked_patch():
    # The top-left 3x3 patch is [[1,1,1],[0,1,1],[0,0,1]]; the X of ones picks 1+1+1+0+1 = 4.
    patch = TINY_IMAGE[:3, :3]
    assert int((patch * TINY_KERNEL).sum()) == 4 == ops.correlate2d(TINY_IMAGE, TINY_KERNEL)[0, 0]


def test_shape_chain_of_the_reference_network():
    rows = ops.summarize_network(ops.REFERENCE_NETWORK, (1, 28, 28))
    spatial = [r.output_shape[1] for r in rows if len(r.output_shape) == 3]
    assert [28, *spatial] == [28, 26, 13, 11, 5, 3]
    assert [r.output_shape for r in rows][-3:] == [(576,), (64,), (10,)]


def test_reference_network_parameter_counts():
    counts = [ops.layer_parameters(s) for s in ops.REFERENCE_NETWORK]
    assert [c for c in counts if c] == [320, 18_496, 36_928, 36_928, 650]
    assert ops.count_parameters(ops.REFERENCE_NETWORK) == 93_322
    conv_part = sum(ops.layer_parameters(s) for s in ops.REFERENCE_NETWORK[:5])
    assert conv_part == 55_744


def test_reference_network_counts_match_pytorch():
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 32, 3),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(64, 64, 3),
        torch.nn.Flatten(),
        torch.nn.Linear(576, 64),
        torch.nn.Linear(64, 10),
    )
    assert sum(p.numel() for p in model.parameters()) == ops.count_parameters(ops.REFERENCE_NETWORK)
    out = model(torch.zeros(1, 1, 28, 28))
    assert out.shape == (1, 10)


def test_lenet5_shapes_and_total():
    rows = ops.summarize_network(ops.LENET5, (1, 32, 32))
    shapes = [r.output_shape for r in rows]
    assert shapes[:4] == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5)]
    assert shapes[4:] == [(400,), (120,), (84,), (10,)]
    assert [r.parameters for r in rows if r.parameters] == [156, 2_416, 48_120, 10_164, 850]
    assert ops.count_parameters(ops.LENET5) == 61_706


def test_tuple_specs_equal_dataclass_specs():
    tuples = [
        ("conv", 1, 32, 3),
        ("pool", 2),
        ("conv", 32, 64, 3),
        ("pool", 2),
        ("conv", 64, 64, 3),
        ("flatten",),
        ("dense", 576, 64),
        ("relu",),
        ("dense", 64, 10),
    ]
    assert ops.count_parameters(tuples) == 93_322
    shapes = [r.output_shape for r in ops.summarize_network(tuples, (1, 28, 28))]
    assert shapes[-1] == (10,) and shapes[4] == (64, 3, 3)


def test_summary_table_prints_every_layer_and_the_total():
    text = ops.format_summary(ops.summarize_network(ops.REFERENCE_NETWORK, (1, 28, 28)))
    assert "93,322" in text and "32 x 26 x 26" in text and "18,496" in text
    assert len(text.splitlines()) == 2 + len(ops.REFERENCE_NETWORK) + 1


@pytest.mark.parametrize(
    ("specs", "shape", "message"),
    [
        ([("conv", 3, 8, 3)], (1, 28, 28), "expects 3 input channel"),
        ([("conv", 1, 8, 3), ("dense", 100, 10)], (1, 28, 28), "flatten"),
        ([("conv", 1, 8, 3), ("flatten",), ("dense", 100, 10)], (1, 28, 28), "5408"),
        ([("conv", 1, 8, 30)], (1, 28, 28), "does not fit"),
        ([("maxout", 2)], (1, 28, 28), "unknown layer kind"),
        ([("conv", 1, 8)], (1, 28, 28), "wrong number of values"),
        (["conv"], (1, 28, 28), "layer spec"),
        ([("pool", 2)], (28, 28), r"\(C, H, W\)"),
    ],
)
def test_summarize_network_explains_mismatches(specs, shape, message):
    with pytest.raises((ValueError, TypeError), match=message):
        ops.summarize_network(specs, shape)


@pytest.mark.parametrize(
    ("n", "k", "stride", "padding", "expected"),
    [
        (28, 3, 1, 0, 26),
        (26, 2, 2, 0, 13),
        (11, 2, 2, 0, 5),
        (28, 3, 1, "same", 28),
        (28, 3, 1, "valid", 26),
        (28, 5, 2, 2, 14),
        (7, 3, 2, 1, 4),
        (32, 5, 1, 0, 28),
        (5, 3, 3, 0, 1),
    ],
)
def test_output_size_formula(n, k, stride, padding, expected):
    assert ops.output_size(n, k, stride, padding) == expected


def test_output_size_agrees_with_conv2d_forward():
    for n, k, s, p in [(9, 3, 2, 1), (10, 4, 3, 2), (6, 6, 1, 0), (7, 2, 2, 0)]:
        out, _ = ops.conv2d_forward(
            np.ones((1, 1, n, n)), np.ones((1, 1, k, k)), stride=s, padding=p
        )
        assert out.shape[2:] == (ops.output_size(n, k, s, p),) * 2


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((3, 5), ValueError, "does not fit"),
        ((28, 3, 0), ValueError, "stride must be positive"),
        ((28, 3, 1.5), TypeError, "whole number"),
        ((28, 3, 1, -1), ValueError, "padding"),
        ((28, 3, 1, "full"), ValueError, "valid"),
        ((0, 3), ValueError, "positive"),
    ],
)
def test_output_size_rejects_bad_arguments(args, error, message):
    with pytest.raises(error, match=message):
        ops.output_size(*args)


# ---------------------------------------------------------------------------------------------
# Padding
# ---------------------------------------------------------------------------------------------


def test_zero_and_replicate_padding_by_hand():
    x = np.array([[1, 2], [3, 4]])
    np.testing.assert_array_equal(
        ops.pad2d(x, padding=1, mode="zeros"),
        [[0, 0, 0, 0], [0, 1, 2, 0], [0, 3, 4, 0], [0, 0, 0, 0]],
    )
    np.testing.assert_array_equal(
        ops.pad2d(x, padding=1, mode="replicate"),
        [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]],
    )


def test_pad2d_keeps_uint8_and_channels_last_layout():
    img = RNG.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    out = ops.pad2d(img, padding=(1, 2), mode="replicate")
    assert out.dtype == np.uint8 and out.shape == (6, 9, 3)
    np.testing.assert_array_equal(out, np.pad(img, ((1, 1), (2, 2), (0, 0)), mode="edge"))


@pytest.mark.parametrize("mode", ["zeros", "replicate"])
def test_pad2d_batch_matches_torch(mode):
    x = RNG.standard_normal((2, 3, 4, 5))
    ours = ops.pad2d(x, padding=(0, 2, 3, 1), mode=mode)
    ref = F.pad(
        torch.tensor(x), (3, 1, 0, 2), mode="replicate" if mode == "replicate" else "constant"
    )
    np.testing.assert_array_equal(ours, ref.numpy())


# ---------------------------------------------------------------------------------------------
# Convolution: fixed cases against PyTorch
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("stride", "padding", "mode", "flip"),
    [
        (1, 0, "zeros", False),
        (2, 1, "zeros", False),
        ((1, 2), (2, 0), "replicate", False),
        (1, "same", "zeros", True),
        (3, "same", "replicate", True),
    ],
)
def test_conv2d_forward_backward_match_torch(dtype, stride, padding, mode, flip):
    x = RNG.standard_normal((3, 2, 9, 8)).astype(dtype)
    w = RNG.standard_normal((4, 2, 3, 2)).astype(dtype)
    b = RNG.standard_normal(4).astype(dtype)
    out, cache = ops.conv2d_forward(
        x, w, b, stride=stride, padding=padding, padding_mode=mode, flip_kernel=flip
    )
    pad = ops.checks._resolve_padding(padding, 3, 2)
    ref, xt, wt, bt = torch_conv(x, w, b, stride=stride, pad=pad, mode=mode, flip=flip)
    assert out.dtype == dtype and out.shape == tuple(ref.shape)
    np.testing.assert_allclose(out, ref.detach().numpy(), **tol(dtype))
    g = RNG.standard_normal(out.shape).astype(dtype)
    ref.backward(torch.tensor(g))
    dx, dw, db = ops.conv2d_backward(g, cache)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **tol(dtype))
    np.testing.assert_allclose(dw, wt.grad.numpy(), **tol(dtype))
    np.testing.assert_allclose(db, bt.grad.numpy(), **tol(dtype))


@pytest.mark.parametrize("channels", [1, 5])  # patch length 9 and 45: both layouts
def test_both_patch_layouts_match_torch(channels):
    assert 9 <= ops.conv.PER_IMAGE_MAX_K < 9 * 5
    x = RNG.standard_normal((2, channels, 7, 6))
    w = RNG.standard_normal((3, channels, 3, 3))
    b = RNG.standard_normal(3)
    kw = {"stride": (2, 1), "padding": 1, "padding_mode": "replicate", "flip_kernel": True}
    out, cache = ops.conv2d_forward(x, w, b, **kw)
    assert cache.layout == ("im2col" if channels == 1 else "strips")
    ref, xt, wt, bt = torch_conv(
        x, w, b, stride=(2, 1), pad=(1, 1, 1, 1), mode="replicate", flip=True
    )
    np.testing.assert_allclose(out, ref.detach().numpy(), atol=1e-10)
    g = RNG.standard_normal(out.shape)
    ref.backward(torch.tensor(g))
    for mine, t in zip(ops.conv2d_backward(g, cache), (xt, wt, bt), strict=True):
        np.testing.assert_allclose(mine, t.grad.numpy(), atol=1e-10)


def test_conv2d_without_bias_returns_no_bias_gradient():
    x, w = RNG.standard_normal((2, 1, 5, 5)), RNG.standard_normal((3, 1, 3, 3))
    out, cache = ops.conv2d_forward(x, w)
    np.testing.assert_allclose(out, F.conv2d(torch.tensor(x), torch.tensor(w)).numpy(), atol=1e-12)
    dx, dw, db = ops.conv2d_backward(np.ones_like(out), cache)
    assert db is None and dx.shape == x.shape and dw.shape == w.shape


def test_multichannel_filter_sums_its_kernels():
    # A filter is a stack of kernels, one per channel; the map is the sum of the per-channel maps.
    x = RNG.standard_normal((1, 3, 6, 6))
    w = RNG.standard_normal((1, 3, 3, 3))
    out, _ = ops.conv2d_forward(x, w)
    per_channel = sum(ops.correlate2d(x[0, c], w[0, c]) for c in range(3))
    np.testing.assert_allclose(out[0, 0], per_channel, atol=1e-12)


def test_number_of_filters_is_number_of_feature_maps():
    out, _ = ops.conv2d_forward(np.zeros((2, 3, 8, 8)), np.zeros((7, 3, 3, 3)), np.zeros(7))
    assert out.shape == (2, 7, 6, 6)


def test_same_padding_keeps_size_and_valid_shrinks_28_to_26():
    x = np.zeros((1, 1, 28, 28))
    assert ops.conv2d_forward(x, np.zeros((1, 1, 3, 3)), padding="same")[0].shape[2:] == (28, 28)
    assert ops.conv2d_forward(x, np.zeros((1, 1, 3, 3)), padding="valid")[0].shape[2:] == (26, 26)


def test_mixed_precision_promotes_to_float64():
    out, _ = ops.conv2d_forward(
        np.ones((1, 1, 4, 4), np.float32), np.ones((1, 1, 2, 2), np.float64)
    )
    assert out.dtype == np.float64


def test_uint8_images_are_computed_in_float64():
    x = np.full((1, 1, 3, 3), 200, dtype=np.uint8)
    out, _ = ops.conv2d_forward(x, np.ones((1, 1, 3, 3), np.float32))
    assert out.dtype == np.float64 and out[0, 0, 0, 0] == 1800  # no uint8 overflow


def test_correlate2d_colour_image_filters_each_channel():
    img = RNG.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    k = RNG.standard_normal((3, 3))
    out = ops.correlate2d(img, k, padding="same", mode="replicate")
    assert out.shape == (10, 12, 3)
    for c in range(3):
        np.testing.assert_allclose(
            out[..., c], ops.correlate2d(img[..., c], k, padding=1, mode="replicate"), atol=1e-9
        )
    batch = np.moveaxis(img, -1, 0)[:, None].astype(np.float64)  # (3, 1, H, W)
    ref, _ = ops.conv2d_forward(batch, k[None, None], padding=1, padding_mode="replicate")
    np.testing.assert_allclose(np.moveaxis(ref[:, 0], 0, -1), out, atol=1e-9)


def test_correlate2d_stride_skips_positions():
    img = RNG.standard_normal((9, 9))
    k = RNG.standard_normal((3, 3))
    np.testing.assert_allclose(
        ops.correlate2d(img, k, stride=2), ops.correlate2d(img, k)[::2, ::2], atol=1e-12
    )


def test_hand_set_kernel_in_torch_conv2d_gives_the_same_map():
    # The bridge to the capstone: assign a NumPy kernel to nn.Conv2d's weights.
    from helpers.kernels import get_kernel

    img = RNG.random((12, 12)).astype(np.float32)
    layer = torch.nn.Conv2d(1, 1, 3, bias=False)
    with torch.no_grad():
        layer.weight[:] = torch.from_numpy(get_kernel("sobel_x").astype(np.float32))
        ref = layer(torch.from_numpy(img)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(ops.correlate2d(img, get_kernel("sobel_x")), ref, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------


def test_max_pool_by_hand_and_routing_to_the_argmax():
    x = np.array([[1, 3, 2, 0], [4, 2, 1, 5], [0, 1, 7, 2], [3, 2, 2, 6]], float)[None, None]
    out, cache = ops.max_pool2d_forward(x)
    np.testing.assert_array_equal(out[0, 0], [[4, 5], [3, 7]])
    dx = ops.max_pool2d_backward(np.array([[[[10.0, 20.0], [30.0, 40.0]]]]), cache)
    expected = np.zeros((4, 4))
    expected[1, 0], expected[1, 3], expected[3, 0], expected[2, 2] = 10, 20, 30, 40
    np.testing.assert_array_equal(dx[0, 0], expected)


def test_max_pool_ties_route_to_the_first_maximum_like_torch():
    x = np.ones((1, 1, 4, 4))
    _, cache = ops.max_pool2d_forward(x, size=2)
    dx = ops.max_pool2d_backward(np.ones((1, 1, 2, 2)), cache)
    xt = torch.ones(1, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    F.max_pool2d(xt, 2).sum().backward()
    np.testing.assert_array_equal(dx, xt.grad.numpy())
    assert dx.sum() == 4  # each window's gradient goes to exactly one pixel


def test_max_pooled_map_is_never_darker():
    x = RNG.random((2, 3, 8, 8))
    out, _ = ops.max_pool2d_forward(x)
    assert out.min() >= x.min() and out.mean() >= x.mean()
    assert out.shape == (2, 3, 4, 4)  # 2x2/2 halves height and width, keeps depth


def test_avg_and_sum_pool_by_hand():
    x = np.arange(16, dtype=float).reshape(1, 1, 4, 4)
    avg, _ = ops.avg_pool2d_forward(x)
    total, cache = ops.sum_pool2d_forward(x)
    np.testing.assert_array_equal(avg[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    np.testing.assert_array_equal(total, 4 * avg)
    np.testing.assert_array_equal(ops.sum_pool2d_backward(np.ones((1, 1, 2, 2)), cache), 1)


@pytest.mark.parametrize("kind", ["max", "avg", "sum"])
@pytest.mark.parametrize(("size", "stride"), [(2, None), (3, 1), (2, 3), ((2, 3), (1, 2))])
def test_pooling_matches_torch(kind, size, stride):
    x = RNG.standard_normal((2, 3, 8, 9))
    out, cache = getattr(ops, f"{kind}_pool2d_forward")(x, size=size, stride=stride)
    xt = torch.tensor(x, requires_grad=True)
    torch_stride = size if stride is None else stride
    if kind == "max":
        ref = F.max_pool2d(xt, size, torch_stride)
    else:
        ref = F.avg_pool2d(xt, size, torch_stride)
        if kind == "sum":
            ref = ref * float(np.prod(np.broadcast_to(size, 2)))
    np.testing.assert_allclose(out, ref.detach().numpy(), atol=1e-12)
    g = RNG.standard_normal(out.shape)
    ref.backward(torch.tensor(g))
    dx = getattr(ops, f"{kind}_pool2d_backward")(g, cache)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)


def test_pool_backward_rejects_the_cache_of_another_pool():
    _, cache = ops.avg_pool2d_forward(np.ones((1, 1, 4, 4)))
    with pytest.raises(TypeError, match="avg_pool2d_forward"):
        ops.max_pool2d_backward(np.ones((1, 1, 2, 2)), cache)


# ---------------------------------------------------------------------------------------------
# Activations, flatten, dense
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "torch_fn", "kwargs"),
    [
        ("relu", torch.relu, {}),
        ("leaky_relu", lambda t: F.leaky_relu(t, 0.1), {"slope": 0.1}),
        ("sigmoid", torch.sigmoid, {}),
        ("tanh", torch.tanh, {}),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_match_torch(name, torch_fn, kwargs, dtype):
    x = (RNG.standard_normal((2, 3, 4, 5)) * 3).astype(dtype)
    out, cache = getattr(ops, f"{name}_forward")(x, **kwargs)
    xt = torch.tensor(x, requires_grad=True)
    ref = torch_fn(xt)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, ref.detach().numpy(), **tol(dtype))
    g = RNG.standard_normal(x.shape).astype(dtype)
    ref.backward(torch.tensor(g))
    dx = getattr(ops, f"{name}_backward")(g, cache)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **tol(dtype))


def test_relu_rectifies_and_sigmoid_does_not_overflow():
    out, _ = ops.relu_forward(np.array([-2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(out, [0, 0, 3])
    with np.errstate(over="raise"):
        s, _ = ops.sigmoid_forward(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(s, [0, 0.5, 1])


def test_relu_is_not_the_np_max_bug():
    # np.max(0, x) reduces over axis 0 instead of comparing element-wise.
    x = np.array([[-1.0, 2.0], [3.0, -4.0]])
    out, _ = ops.relu_forward(x)
    np.testing.assert_array_equal(out, np.maximum(0, x))


def test_flatten_of_3x3x64_gives_576_and_round_trips():
    x = RNG.standard_normal((5, 64, 3, 3))
    out, cache = ops.flatten_forward(x)
    assert out.shape == (5, 576)
    np.testing.assert_array_equal(ops.flatten_backward(out, cache), x)
    out[0, 0] = 99.0
    assert x[0, 0, 0, 0] != 99.0  # the output is a new array, not a view of x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_matches_torch_linear(dtype):
    x = RNG.standard_normal((4, 6)).astype(dtype)
    w = RNG.standard_normal((6, 3)).astype(dtype)
    b = RNG.standard_normal(3).astype(dtype)
    out, cache = ops.dense_forward(x, w, b)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ref = F.linear(xt, wt.T, bt)
    np.testing.assert_allclose(out, ref.detach().numpy(), **tol(dtype))
    g = RNG.standard_normal(out.shape).astype(dtype)
    ref.backward(torch.tensor(g))
    for mine, t in zip(ops.dense_backward(g, cache), (xt, wt, bt), strict=True):
        np.testing.assert_allclose(mine, t.grad.numpy(), **tol(dtype))


# ---------------------------------------------------------------------------------------------
# Softmax and losses
# ---------------------------------------------------------------------------------------------


def test_softmax_is_stable_and_sums_to_one():
    s = np.array([[1000.0, 1000.0, -1000.0], [1.0, 2.0, 3.0]])
    p = ops.softmax(s)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1)
    np.testing.assert_allclose(p[0], [0.5, 0.5, 0])
    np.testing.assert_allclose(p, torch.softmax(torch.tensor(s), 1).numpy(), atol=1e-15)
    assert list(p.argmax(axis=1)) == [0, 2]


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_matches_torch(reduction):
    s = RNG.standard_normal((5, 4)) * 4
    y = RNG.integers(0, 4, 5)
    loss, cache = ops.cross_entropy_forward(s, y, reduction=reduction)
    st = torch.tensor(s, requires_grad=True)
    ref = F.cross_entropy(st, torch.tensor(y), reduction=reduction)
    assert loss == pytest.approx(ref.item(), rel=1e-12)
    ref.backward()
    np.testing.assert_allclose(ops.cross_entropy_backward(1.0, cache), st.grad.numpy(), atol=1e-14)


def test_cross_entropy_with_one_hot_rows_equals_labels():
    s = RNG.standard_normal((3, 4))
    y = np.array([2, 0, 3])
    onehot = np.eye(4)[y]
    assert ops.cross_entropy_forward(s, onehot)[0] == pytest.approx(
        ops.cross_entropy_forward(s, y)[0]
    )


def test_squared_error_boat_example():
    # Output [0.2, 0.4, 0.1, 0.3], target "boat" [0, 0, 1, 0]: ½(0.04 + 0.16 + 0.81 + 0.09).
    out = np.array([[0.2, 0.4, 0.1, 0.3]])
    loss, cache = ops.squared_error_forward(out, np.array([[0.0, 0.0, 1.0, 0.0]]))
    assert loss == pytest.approx(0.55)
    grad = ops.squared_error_backward(1.0, cache)
    np.testing.assert_allclose(grad, [[0.2, 0.4, -0.9, 0.3]])
    # One gradient step moves the output towards the target, and the error drops.
    assert ops.squared_error_forward(out - 0.5 * grad, np.array([2]))[0] < loss


def test_squared_error_matches_torch_mse():
    o = RNG.standard_normal((6, 3))
    t = RNG.standard_normal((6, 3))
    loss, _ = ops.squared_error_forward(o, t, reduction="mean")
    ref = 0.5 * F.mse_loss(torch.tensor(o), torch.tensor(t), reduction="sum").item() / 6
    assert loss == pytest.approx(ref, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Clear errors and no mutation
# ---------------------------------------------------------------------------------------------

X = np.zeros((2, 3, 8, 8))
W = np.zeros((4, 3, 3, 3))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: ops.conv2d_forward(X[0], W), ValueError, "4-D array"),
        (lambda: ops.conv2d_forward(X, W[:, :1]), ValueError, "channel mismatch"),
        (lambda: ops.conv2d_forward(X, np.zeros((4, 3, 9, 9))), ValueError, "larger than"),
        (lambda: ops.conv2d_forward(X, W, stride=0), ValueError, "stride must be positive"),
        (lambda: ops.conv2d_forward(X, W, stride=-1), ValueError, "stride"),
        (lambda: ops.conv2d_forward(X, W, stride=1.5), TypeError, "whole number"),
        (lambda: ops.conv2d_forward(X.astype(str), W), TypeError, "must hold numbers"),
        (lambda: ops.conv2d_forward(X.astype(complex), W), TypeError, "complex"),
        (lambda: ops.conv2d_forward(np.full_like(X, np.nan), W), ValueError, "NaN"),
        (lambda: ops.conv2d_forward(X, W, np.zeros(3)), ValueError, "one bias per filter"),
        (lambda: ops.conv2d_forward(X, W, padding="full"), ValueError, "valid"),
        (lambda: ops.conv2d_forward(X, W, padding_mode="reflect"), ValueError, "replicate"),
        (lambda: ops.max_pool2d_forward(X, size=9), ValueError, "larger than"),
        (lambda: ops.max_pool2d_forward(X, stride=0), ValueError, "positive"),
        (lambda: ops.dense_forward(X, np.zeros((3, 2)), np.zeros(2)), ValueError, "flatten"),
        (
            lambda: ops.dense_forward(np.zeros((2, 5)), np.zeros((4, 2)), np.zeros(2)),
            ValueError,
            "5",
        ),
        (lambda: ops.softmax(np.zeros(3)), ValueError, "2-D"),
        (lambda: ops.cross_entropy_forward(np.zeros((2, 3)), [0, 3]), ValueError, "0..2"),
        (lambda: ops.cross_entropy_forward(np.zeros((2, 3)), [0.0, 1.0]), TypeError, "integers"),
        (lambda: ops.correlate2d(np.zeros((2, 2)), np.ones((3, 3))), ValueError, "larger than"),
        (lambda: ops.leaky_relu_forward(X, slope=-1), ValueError, "slope"),
        (lambda: ops.relu_backward(np.zeros(3), object()), TypeError, "relu_forward"),
    ],
)
def test_bad_input_gets_a_clear_error(call, error, message):
    with pytest.raises(error, match=message) as info:
        call()
    text = str(info.value)
    assert len(text) > 25 and text[0].isalpha() and text.rstrip()[-1] in ".)'", text


def test_backward_checks_the_shape_of_dout():
    out, cache = ops.conv2d_forward(X, W)
    with pytest.raises(ValueError, match=re.escape(str(out.shape))):
        ops.conv2d_backward(np.zeros((2, 4, 5, 5)), cache)


def test_no_op_modifies_its_inputs():
    x = RNG.standard_normal((2, 3, 6, 6))
    w = RNG.standard_normal((4, 3, 3, 3))
    b = RNG.standard_normal(4)
    saved = [a.copy() for a in (x, w, b)]
    out, cache = ops.conv2d_forward(x, w, b, padding=1, padding_mode="replicate")
    g = RNG.standard_normal(out.shape)
    g_saved = g.copy()
    ops.conv2d_backward(g, cache)
    for fwd, bwd in [
        (ops.relu_forward, ops.relu_backward),
        (ops.sigmoid_forward, ops.sigmoid_backward),
        (ops.tanh_forward, ops.tanh_backward),
        (ops.max_pool2d_forward, ops.max_pool2d_backward),
        (ops.avg_pool2d_forward, ops.avg_pool2d_backward),
    ]:
        y, c = fwd(x)
        bwd(np.ones_like(y), c)
    ops.pad2d(x, padding=2, mode="replicate")
    ops.correlate2d(x[0, 0], w[0, 0], padding="same")
    for before, after in zip(saved, (x, w, b), strict=True):
        np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(g, g_saved)
