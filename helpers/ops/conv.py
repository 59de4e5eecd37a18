"""Slide kernels over images: the convolution layer and its one-picture cousins.

``conv2d_forward`` / ``conv2d_backward`` are the layer of a CNN, on NCHW batches with F
filters; ``correlate2d`` and ``convolve2d`` filter one picture with one 2-D kernel, as the
book's demos do. Like every deep-learning library, the layer computes a cross-correlation;
``flip_kernel=True`` (or ``convolve2d``) gives the convolution of signal processing.

The public functions read like the lesson: check the inputs, pad, slide. The matrix-product
tricks that make the layer fast live in :mod:`helpers.ops.fastconv`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from helpers.ops.checks import (
    _as_float_array,
    _check_cache,
    _check_dout,
    _check_finite,
    _check_padding_mode,
    _check_rank,
    _pair,
    _resolve_padding,
)
from helpers.ops.fastconv import (
    _col2im,
    _conv_by_strips,
    _conv_by_strips_backward,
    _im2col,
    _offsets,
    _row_strips,
)
from helpers.ops.padding import _pad_last_two, _unpad_grad

__all__ = [
    "Conv2dCache",
    "PER_IMAGE_MAX_K",
    "conv2d_backward",
    "conv2d_forward",
    "convolve2d",
    "correlate2d",
]

# Two ways to turn the sliding window into matrix products, chosen by K = C*KH*KW, the length
# of one patch (one receptive field, all channels).
# - Small K (a first layer on greyscale input, K = 9): "im2col" per image. Every receptive
#   field is copied into a column, and one (F, K) @ (K, OH*OW) product per image writes NCHW
#   directly.
# - Larger K: "row strips". Only the KW column shifts of the batch are copied, channels first,
#   into a matrix whose columns run over (image, padded row, output column). Moving every
#   window down by i rows is then a shift by i*OW along that axis: a view, no copy. KH
#   products (F, KW*C) @ (KW*C, N*Hp*OW), one per kernel row, add up to the output (plus rows
#   that are thrown away: windows that would start in the last KH - 1 rows of an image).
#   That copies KH times less than im2col. With many channels the copy, which NumPy does on
#   one core, was what kept im2col at 2.5-3x PyTorch's time while the products (all cores)
#   were already as fast as PyTorch's convolution (benchmarks/bench_ops, numpy 2.4).
PER_IMAGE_MAX_K = 32


class Conv2dCache(NamedTuple):
    """What ``conv2d_backward`` needs from the forward pass."""

    x_shape: tuple[int, int, int, int]
    layout: str  # "im2col" or "strips": how ``patches`` holds the input
    patches: np.ndarray  # im2col: (N, K, OH*OW); strips: (KW*C [+ 1 row of ones], N*Hp*OW)
    w_used: np.ndarray  # the (possibly flipped) filters that were slid over the image
    has_bias: bool
    stride: tuple[int, int]
    pad: tuple[int, int, int, int]
    padding_mode: str
    flip_kernel: bool
    out_shape: tuple[int, int, int, int]


class _ConvInputs(NamedTuple):
    """The arguments of ``conv2d_forward`` once checked, arrays in the dtype it computes in."""

    x: np.ndarray  # (N, C, H, W)
    w: np.ndarray  # (F, C, KH, KW), as given (not yet flipped)
    b: np.ndarray | None  # (F,)
    stride: tuple[int, int]
    pad: tuple[int, int, int, int]  # top, bottom, left, right
    padding_mode: str
    flip_kernel: bool


def _check_conv_inputs(
    x: Any, w: Any, b: Any, stride: Any, padding: Any, padding_mode: Any, flip_kernel: Any
) -> _ConvInputs:
    """Check every argument of ``conv2d_forward`` and explain the first problem found.

    **Shapes:** ``x`` (N, C, H, W), ``w`` (F, C, KH, KW), ``b`` (F,) or None; the kernel
    must fit inside the padded image.

    Returns the arguments as ``_ConvInputs``: the arrays converted to the dtype of the
    result (float64 as soon as one of them is), ``stride`` as a pair and ``padding`` as
    (top, bottom, left, right). Raises TypeError or ValueError otherwise.
    """
    x = _as_float_array(x, "x")
    w = _as_float_array(w, "w")
    _check_rank(x, 4, "x", "(N, C, H, W)", " A single image needs a batch axis: x[None].")
    _check_rank(w, 4, "w", "(F, C, KH, KW)", " One 2-D kernel k becomes k[None, None].")
    _, c, h, wd = x.shape
    f, cw, kh, kw = w.shape
    if c != cw:
        raise ValueError(
            f"channel mismatch: the images have {c} channel(s) but each filter has {cw}; "
            f"a filter needs one kernel per input channel (w.shape[1] must equal x.shape[1])."
        )
    arrays = [x, w]
    if b is not None:
        b = _as_float_array(b, "b")
        if b.shape != (f,):
            raise ValueError(f"b must hold one bias per filter, shape ({f},), got {b.shape}.")
        arrays.append(b)
    dtype = np.result_type(*arrays)
    sh, sw = _pair(stride, "stride")
    top, bottom, left, right = _resolve_padding(padding, kh, kw)
    padding_mode = _check_padding_mode(padding_mode)
    if not isinstance(flip_kernel, bool | np.bool_):
        raise TypeError(f"flip_kernel must be True or False, got {flip_kernel!r}.")
    hp, wp = h + top + bottom, wd + left + right
    if kh > hp or kw > wp:
        raise ValueError(
            f"the {kh}x{kw} kernel is larger than the {hp}x{wp} padded input "
            f"({h}x{wd} image with padding {padding!r}); use a smaller kernel or more padding."
        )
    for arr, name in zip(arrays, ("x", "w", "b"), strict=False):
        _check_finite(arr, name)
    return _ConvInputs(
        x=x.astype(dtype, copy=False),
        w=w.astype(dtype, copy=False),
        b=None if b is None else b.astype(dtype, copy=False),
        stride=(sh, sw),
        pad=(top, bottom, left, right),
        padding_mode=padding_mode,
        flip_kernel=bool(flip_kernel),
    )


def conv2d_forward(
    x: Any,
    w: Any,
    b: Any = None,
    *,
    stride: Any = 1,
    padding: Any = 0,
    padding_mode: str = "zeros",
    flip_kernel: bool = False,
) -> tuple[np.ndarray, Conv2dCache]:
    """Slide F filters over a batch of images: the convolution layer of a CNN.

    **Shapes:** ``x`` (N, C, H, W), ``w`` (F, C, KH, KW), ``b`` (F,) or None
    -> ``out`` (N, F, OH, OW) with ``OH = output_size(H, KH, stride, padding)``.

    Each output value is the dot product of one filter with the C x KH x KW patch under it,
    plus that filter's bias. By default this is cross-correlation, what deep-learning
    libraries call convolution; ``flip_kernel=True`` flips each kernel upside down and left
    to right first, which is the true convolution of signal processing.
    ``stride`` and ``padding`` are an int or a pair (height, width); ``padding`` may also be
    ``"valid"`` or ``"same"``; ``padding_mode`` is ``"zeros"`` or ``"replicate"``.
    Returns ``(out, cache)``.
    """
    x, w, b, (sh, sw), pad, padding_mode, flip_kernel = _check_conv_inputs(
        x, w, b, stride, padding, padding_mode, flip_kernel
    )
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    # Padding makes a new array; without it the input is only read, never copied.
    xp = _pad_last_two(x, *pad, padding_mode) if any(pad) else x
    hp, wp = xp.shape[2:]
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    w_used = np.ascontiguousarray(w[:, :, ::-1, ::-1] if flip_kernel else w)
    # The same sums of products, computed one of two ways (see PER_IMAGE_MAX_K above).
    if c * kh * kw <= PER_IMAGE_MAX_K:
        layout, patches = "im2col", _im2col(xp, kh, kw, sh, sw, oh, ow)
        out = np.matmul(w_used.reshape(f, -1), patches).reshape(n, f, oh, ow)
        if b is not None:
            out += b[:, None, None]
    else:
        layout, patches = "strips", _row_strips(xp, kw, sw, ow, ones_row=b is not None)
        out = _conv_by_strips(patches, w_used, b, n, hp, sh, oh)
    cache = Conv2dCache(
        x_shape=(n, c, h, wd),
        layout=layout,
        patches=patches,
        w_used=w_used,
        has_bias=b is not None,
        stride=(sh, sw),
        pad=pad,
        padding_mode=padding_mode,
        flip_kernel=flip_kernel,
        out_shape=(n, f, oh, ow),
    )
    return out, cache


def conv2d_backward(dout: Any, cache: Conv2dCache) -> tuple[np.ndarray, np.ndarray, Any]:
    """Backpropagate through ``conv2d_forward``.

    **Shapes:** ``dout`` (N, F, OH, OW) -> ``dx`` (N, C, H, W), ``dw`` (F, C, KH, KW),
    ``db`` (F,) (None when the forward pass had no bias).

    The weight gradient correlates the input with the upstream gradient; the input gradient
    sends every output's gradient back through the filter onto the pixels it looked at, which
    is a full convolution of ``dout`` with the flipped filter.
    Returns ``(dx, dw, db)``.
    """
    _check_cache(cache, Conv2dCache, "conv2d_backward", "conv2d_forward")
    dout = _check_dout(dout, cache.out_shape, "conv2d_backward")
    n, c, h, wd = cache.x_shape
    _, f, oh, ow = cache.out_shape
    _, _, kh, kw = cache.w_used.shape
    sh, sw = cache.stride
    top, bottom, left, right = cache.pad
    dtype = np.result_type(cache.patches, dout)
    dout = dout.astype(dtype, copy=False)
    w_used = cache.w_used.astype(dtype, copy=False)
    padded_shape = (n, c, h + top + bottom, wd + left + right)

    db = dout.sum(axis=(0, 2, 3)) if cache.has_bias else None
    if cache.layout == "im2col":
        g = dout.reshape(n, f, oh * ow)
        # Per image (F, OH*OW) @ (OH*OW, K), summed over the batch.
        dw = np.matmul(g, cache.patches.transpose(0, 2, 1)).sum(axis=0).reshape(f, c, kh, kw)
        dxp = _col2im(np.matmul(w_used.reshape(f, -1).T, g), padded_shape, kh, kw, sh, sw, oh, ow)
    else:
        dxp, dw = _conv_by_strips_backward(dout, cache.patches, w_used, padded_shape, sh, sw)
    dw = np.ascontiguousarray(dw[:, :, ::-1, ::-1] if cache.flip_kernel else dw)
    dx = np.ascontiguousarray(_unpad_grad(dxp, top, bottom, left, right, cache.padding_mode))
    return dx, dw, db


def _check_correlate_inputs(
    image: Any, kernel: Any, stride: Any, padding: Any, mode: Any
) -> tuple[np.ndarray, np.ndarray, tuple[int, int], tuple[int, int, int, int], str]:
    """Check the arguments of ``correlate2d`` and explain the first problem found.

    **Shapes:** ``image`` (H, W) or (H, W, C), ``kernel`` (KH, KW) that fits inside the
    padded image.

    Returns ``(image, kernel, stride, pad, mode)``: both arrays in the dtype of the result,
    ``stride`` as a pair and ``pad`` as (top, bottom, left, right).
    """
    img = _as_float_array(image, "image")
    k = _as_float_array(kernel, "kernel")
    if img.ndim not in (2, 3):
        raise ValueError(
            f"image must be (H, W) greyscale or (H, W, C) colour, got shape {img.shape}; "
            f"for batches (N, C, H, W) use conv2d_forward."
        )
    if img.size == 0:
        raise ValueError(f"image is empty (shape {img.shape}).")
    _check_rank(k, 2, "kernel", "(KH, KW)")
    kh, kw = k.shape
    sh, sw = _pair(stride, "stride")
    top, bottom, left, right = _resolve_padding(padding, kh, kw)
    mode = _check_padding_mode(mode)
    h, wd = img.shape[:2]
    hp, wp = h + top + bottom, wd + left + right
    if kh > hp or kw > wp:
        raise ValueError(
            f"the {kh}x{kw} kernel is larger than the {hp}x{wp} padded image; "
            f"use a smaller kernel or more padding."
        )
    _check_finite(img, "image")
    _check_finite(k, "kernel")
    dtype = np.result_type(img, k)
    pad = (top, bottom, left, right)
    return img.astype(dtype, copy=False), k.astype(dtype, copy=False), (sh, sw), pad, mode


def correlate2d(
    image: Any, kernel: Any, *, stride: Any = 1, padding: Any = 0, mode: str = "zeros"
) -> np.ndarray:
    """Slide one 2-D kernel over one picture (cross-correlation), channel by channel.

    **Shapes:** ``image`` (H, W) or (H, W, C) channels-last, ``kernel`` (KH, KW)
    -> (OH, OW) or (OH, OW, C) float64 (float32 stays float32).

    The convenience for demos and widgets: a colour picture is filtered one channel at a time
    with the same kernel. ``padding`` is an int, a pair, ``"valid"`` or ``"same"``;
    ``mode`` is ``"zeros"`` or ``"replicate"``. No bias is added. Returns the feature map.
    """
    img, k, (sh, sw), pad, mode = _check_correlate_inputs(image, kernel, stride, padding, mode)
    kh, kw = k.shape
    chw = img[None] if img.ndim == 2 else np.moveaxis(img, -1, 0)
    xp = _pad_last_two(chw, *pad, mode)
    hp, wp = xp.shape[1:]
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    out = np.zeros((chw.shape[0], oh, ow), dtype=xp.dtype)
    # KH*KW shifted views, each scaled by one kernel weight: no copies of patches needed.
    for i, j, rows, columns in _offsets(kh, kw, sh, sw, oh, ow):
        if k[i, j] != 0:
            out += k[i, j] * xp[:, rows, columns]
    return out[0] if img.ndim == 2 else np.ascontiguousarray(np.moveaxis(out, 0, -1))


def convolve2d(
    image: Any, kernel: Any, *, stride: Any = 1, padding: Any = 0, mode: str = "zeros"
) -> np.ndarray:
    """Apply a true convolution: ``correlate2d`` with the kernel flipped in both directions.

    **Shapes:** as ``correlate2d``. For a kernel that is symmetric under a half-turn (box blur,
    Gaussian, Laplacian) the result equals ``correlate2d``; for Sobel it changes sign.
    Returns the feature map.
    """
    k = _as_float_array(kernel, "kernel")
    _check_rank(k, 2, "kernel", "(KH, KW)")
    return correlate2d(image, k[::-1, ::-1], stride=stride, padding=padding, mode=mode)
