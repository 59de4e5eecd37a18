"""The NumPy engine of the course: every CNN layer as a forward/backward pair.

Every op follows one contract, so that a network is just a chain of calls:

* ``*_forward(x, ..., *, options) -> (out, cache)`` computes the layer's output and keeps,
  in ``cache``, whatever the backward pass will need;
* ``*_backward(dout, cache) -> dx`` (or ``(dx, dw, db)`` for layers with parameters) turns
  the gradient of the loss with respect to ``out`` into gradients with respect to the inputs.

Images are batches in NCHW order: ``(N, C, H, W)`` = (images, channels, height, width).
Filters are ``(F, C, KH, KW)``: F filters, each a stack of C kernels of size KH x KW.
float32 and float64 inputs keep their precision; integer and boolean inputs (uint8 pictures)
are computed in float64. Every op checks its inputs and explains in a sentence what is wrong;
no op modifies an array that the caller passed in.

The module reads top to bottom like the course: input checks, padding, convolution, pooling,
activations, flatten and dense layers, softmax and losses, and finally the arithmetic of
output sizes and parameter counts for whole networks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

# ---------------------------------------------------------------------------------------------
# Input checks shared by every op
# ---------------------------------------------------------------------------------------------

PADDING_MODES = ("zeros", "replicate")


def _numeric_array(value: Any, name: str) -> np.ndarray:
    """Return ``value`` as a NumPy array of real numbers, or raise TypeError."""
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError) as err:
            raise TypeError(
                f"{name} must be a NumPy array of numbers; could not turn the "
                f"{type(value).__name__} you passed into one ({err})."
            ) from None
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} holds complex numbers ({arr.dtype}); images and weights are real.")
    if kind not in "biuf":
        raise TypeError(
            f"{name} must hold numbers (float32, float64, integers), but its dtype is {arr.dtype}."
        )
    return arr


def _as_float_array(value: Any, name: str) -> np.ndarray:
    """Return ``value`` as a float32/float64 array, or raise TypeError for non-numbers."""
    arr = _numeric_array(value, name)
    if arr.dtype == np.float32 or arr.dtype == np.float64:
        return arr
    if arr.dtype.kind == "f":  # float16 and longdouble: compute in the nearest common precision
        return arr.astype(np.float32 if arr.dtype.itemsize < 4 else np.float64)
    return arr.astype(np.float64)


def _check_rank(arr: np.ndarray, ndim: int, name: str, layout: str, hint: str = "") -> None:
    if arr.ndim != ndim:
        raise ValueError(
            f"{name} must be a {ndim}-D array {layout}, but it has {arr.ndim} "
            f"dimension(s) with shape {arr.shape}.{hint}"
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); every axis needs at least 1 entry.")


def _check_finite(arr: np.ndarray, name: str) -> None:
    # The sum is a cheap first test (NaN and inf propagate into it); only when it fails do
    # we look element by element, so that a large but finite input is never rejected.
    with np.errstate(over="ignore", invalid="ignore"):
        total = arr.sum()
    if np.isfinite(total) or np.isfinite(arr).all():
        return
    n_nan = int(np.isnan(arr).sum())
    n_inf = int(np.isinf(arr).sum())
    raise ValueError(
        f"{name} contains {n_nan} NaN and {n_inf} infinite value(s); the result would be "
        f"meaningless. Look for a division by zero or a diverging training step upstream."
    )


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be a whole number (int), got {value!r}.")
    return int(value)


def _pair(value: Any, name: str, *, minimum: int = 1) -> tuple[int, int]:
    """Read an int or a pair of ints (height, width) that must each be >= minimum."""
    if isinstance(value, tuple | list):
        if len(value) != 2:
            raise ValueError(
                f"{name} must be one int or a pair (height, width), got {len(value)} values."
            )
        pair = (_as_int(value[0], name), _as_int(value[1], name))
    else:
        v = _as_int(value, name)
        pair = (v, v)
    if min(pair) < minimum:
        what = "positive" if minimum == 1 else f"at least {minimum}"
        raise ValueError(f"{name} must be {what}, got {value!r}.")
    return pair


def _resolve_padding(padding: Any, kh: int, kw: int) -> tuple[int, int, int, int]:
    """Turn a padding option into (top, bottom, left, right) for a KH x KW kernel."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            # k - 1 extra rows in total keep the size at stride 1; an even kernel puts the
            # odd one out at the bottom/right, as PyTorch does.
            return ((kh - 1) // 2, kh - 1 - (kh - 1) // 2, (kw - 1) // 2, kw - 1 - (kw - 1) // 2)
        raise ValueError(
            f'padding must be "valid", "same", an int or a pair (ph, pw); got {padding!r}.'
        )
    ph, pw = _pair(padding, "padding", minimum=0)
    return (ph, ph, pw, pw)


def _check_padding_mode(mode: Any) -> str:
    if mode not in PADDING_MODES:
        raise ValueError(
            f"padding mode must be one of {', '.join(map(repr, PADDING_MODES))}; got {mode!r}."
        )
    return mode


def _check_dout(dout: Any, shape: tuple[int, ...], op: str) -> np.ndarray:
    dout = _as_float_array(dout, "dout")
    if dout.shape != tuple(shape):
        raise ValueError(
            f"dout must have the shape of the forward output {tuple(shape)} in {op}, "
            f"but it has shape {dout.shape}."
        )
    _check_finite(dout, "dout")
    return dout


def _check_cache(cache: Any, kind: type, op: str, forward: str) -> None:
    if not isinstance(cache, kind):
        raise TypeError(
            f"{op} needs the cache returned by {forward}, got {type(cache).__name__}. "
            f"Pass the second value that {forward} returned."
        )


# ---------------------------------------------------------------------------------------------
# Padding
# ---------------------------------------------------------------------------------------------


def _pad_last_two(x: np.ndarray, top: int, bottom: int, left: int, right: int, mode: str):
    """Pad the last two axes of ``x`` into a new array (zeros or a copy of the border)."""
    h, w = x.shape[-2:]
    out = np.zeros(x.shape[:-2] + (h + top + bottom, w + left + right), dtype=x.dtype)
    out[..., top : top + h, left : left + w] = x
    if mode == "replicate":
        out[..., :top, left : left + w] = x[..., :1, :]
        out[..., top + h :, left : left + w] = x[..., -1:, :]
        # Columns second, over the full height, so that the corners copy the corner pixel.
        out[..., :, :left] = out[..., :, left : left + 1]
        out[..., :, left + w :] = out[..., :, left + w - 1 : left + w]
    return out


def _unpad_grad(g: np.ndarray, top: int, bottom: int, left: int, right: int, mode: str):
    """Undo ``_pad_last_two`` for a gradient: border copies send their gradient home."""
    h = g.shape[-2] - top - bottom
    w = g.shape[-1] - left - right
    if mode == "replicate":
        g = g.copy()
        g[..., :, left] += g[..., :, :left].sum(axis=-1)
        g[..., :, left + w - 1] += g[..., :, left + w :].sum(axis=-1)
        g[..., top, left : left + w] += g[..., :top, left : left + w].sum(axis=-2)
        g[..., top + h - 1, left : left + w] += g[..., top + h :, left : left + w].sum(axis=-2)
    return g[..., top : top + h, left : left + w]


def _read_pad_widths(padding: Any) -> tuple[int, int, int, int]:
    if isinstance(padding, tuple | list) and len(padding) == 4:
        widths = tuple(_as_int(p, "padding") for p in padding)
        if min(widths) < 0:
            raise ValueError(f"padding widths must be 0 or more, got {padding!r}.")
        return widths  # type: ignore[return-value]
    if isinstance(padding, str):
        raise ValueError(
            "pad2d needs explicit widths (an int, (ph, pw) or (top, bottom, left, right)); "
            '"valid" and "same" only make sense together with a kernel size.'
        )
    ph, pw = _pair(padding, "padding", minimum=0)
    return (ph, ph, pw, pw)


def pad2d(x: Any, *, padding: Any, mode: str = "zeros") -> np.ndarray:
    """Pad an image, or a batch of images, around its height and width.

    **Shapes:** ``x`` is (H, W) greyscale, (H, W, C) colour (channels last, as imageio and
    matplotlib hold pictures) or (N, C, H, W) a batch; the result has the same layout with
    H + top + bottom rows and W + left + right columns.

    ``padding`` is an int (all four sides), ``(ph, pw)`` or ``(top, bottom, left, right)``.
    ``mode="zeros"`` surrounds the image with black pixels; ``mode="replicate"`` duplicates
    the border pixels outwards. Returns a new array; ``x`` is left untouched.
    """
    # No arithmetic happens, so a uint8 picture stays uint8.
    arr = _numeric_array(x, "x")
    if arr.ndim not in (2, 3, 4):
        raise ValueError(
            f"pad2d expects an (H, W), (H, W, C) or (N, C, H, W) array, got shape {arr.shape}."
        )
    if arr.size == 0:
        raise ValueError(f"x is empty (shape {arr.shape}); there is nothing to pad.")
    top, bottom, left, right = _read_pad_widths(padding)
    mode = _check_padding_mode(mode)
    if arr.ndim == 3:  # (H, W, C): move channels first, pad, move them back
        padded = _pad_last_two(np.moveaxis(arr, -1, 0), top, bottom, left, right, mode)
        return np.ascontiguousarray(np.moveaxis(padded, 0, -1))
    return _pad_last_two(arr, top, bottom, left, right, mode)


# ---------------------------------------------------------------------------------------------
# Output size
# ---------------------------------------------------------------------------------------------


def output_size(n: int, k: int, stride: int = 1, padding: Any = 0) -> int:
    """Return the output length of a convolution or pooling along one axis.

    **Shapes:** input length ``n``, kernel (window) length ``k``; the answer is
    ``floor((n + 2 * padding - k) / stride) + 1``. ``padding`` may also be ``"valid"`` (0)
    or ``"same"`` (k - 1 extra positions in total, so the answer is ``ceil(n / stride)``).
    Height and width are computed separately: call it once for each.
    """
    n = _as_int(n, "n")
    k = _as_int(k, "k")
    stride = _as_int(stride, "stride")
    if n < 1 or k < 1:
        raise ValueError(f"input size and kernel size must be positive, got n={n}, k={k}.")
    if stride < 1:
        raise ValueError(f"stride must be positive, got {stride}.")
    if isinstance(padding, str):
        top, bottom, _, _ = _resolve_padding(padding, k, k)
    else:
        top = bottom = _as_int(padding, "padding")
        if top < 0:
            raise ValueError(f"padding must be 0 or more, got {padding}.")
    padded = n + top + bottom
    if k > padded:
        raise ValueError(
            f"a kernel of size {k} does not fit in an input of size {n} padded to {padded}."
        )
    return (padded - k) // stride + 1


# ---------------------------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------------------------


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


def _offsets(kh: int, kw: int, sh: int, sw: int, oh: int, ow: int):
    """Yield (i, j, rows, cols) for every position (i, j) inside a KH x KW window.

    ``x[..., rows, cols]`` is then the strided view of the pixel at offset (i, j) of every
    window: an (OH, OW) grid. Looping over the KH*KW offsets instead of the OH*OW windows
    keeps the Python loop tiny and leaves the heavy lifting to vectorised NumPy.
    """
    for i in range(kh):
        for j in range(kw):
            yield i, j, slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw)


def _im2col(xp: np.ndarray, kh: int, kw: int, sh: int, sw: int, oh: int, ow: int) -> np.ndarray:
    """Copy every KH x KW receptive field of the padded batch into a column.

    Returns (N, C*KH*KW, OH*OW): column p of image n holds the pixels that output position p
    looks at.
    """
    n, c = xp.shape[:2]
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=xp.dtype)
    for i, j, rows, columns in _offsets(kh, kw, sh, sw, oh, ow):
        cols[:, :, i, j] = xp[:, :, rows, columns]
    return cols.reshape(n, c * kh * kw, oh * ow)


def _col2im(dcols: np.ndarray, padded_shape, kh: int, kw: int, sh: int, sw: int, oh: int, ow: int):
    """Add every column's gradient back onto the pixels it came from (inverse of im2col).

    Returns the (N, C, Hp, Wp) gradient of the padded input.
    Within one offset (i, j) the target pixels are distinct, so ``+=`` loses no update.
    """
    n, c, hp, wp = padded_shape
    grads = dcols.reshape(n, c, kh, kw, oh, ow)
    dxp = np.zeros((n, c, hp, wp), dtype=dcols.dtype)
    for i, j, rows, columns in _offsets(kh, kw, sh, sw, oh, ow):
        dxp[:, :, rows, columns] += grads[:, :, i, j]
    return dxp


def _row_strips(xp: np.ndarray, kw: int, sw: int, ow: int, *, ones_row: bool) -> np.ndarray:
    """Copy the KW column shifts of the padded batch into one matrix, channels first.

    Returns (KW*C [+ 1], N*Hp*OW): row (j, c) holds ``xp[n, c, h, j + sw*q]`` for every image
    n, padded row h and output column q, in that order. With ``ones_row`` a last row of ones
    follows, so that the product with the first kernel row can add the bias as well.
    """
    n, c, hp, _ = xp.shape
    strips = np.empty((kw * c + ones_row, n * hp * ow), dtype=xp.dtype)
    xt = xp.transpose(1, 0, 2, 3)
    for j in range(kw):
        strips[j * c : (j + 1) * c].reshape(c, n, hp, ow)[...] = xt[
            :, :, :, j : j + sw * (ow - 1) + 1 : sw
        ]
    if ones_row:
        strips[-1] = 1
    return strips


def _kernel_rows(w: np.ndarray) -> np.ndarray:
    """Regroup (F, C, KH, KW) filters as KH matrices (F, KW*C), one per kernel row.

    ``_kernel_rows(w)[i]`` multiplies the row strips moved down by i rows.
    """
    f, c, kh, kw = w.shape
    return np.ascontiguousarray(w.transpose(2, 0, 3, 1)).reshape(kh, f, kw * c)


def _strip_span(strips: np.ndarray, kh: int, ow: int) -> int:
    # The strip positions whose window, moved down by up to KH - 1 rows, still lies inside the
    # matrix. Every real window starts in one of them: its top row is at most Hp - KH.
    return strips.shape[1] - (kh - 1) * ow


def _conv_by_strips(
    strips: np.ndarray, w: np.ndarray, b: np.ndarray | None, n: int, hp: int, sh: int, oh: int
) -> np.ndarray:
    """Correlate with the filters by KH products over row strips; returns (N, F, OH, OW).

    ``strips`` comes from ``_row_strips``, with its row of ones when there is a bias ``b``.
    """
    f, c, kh, kw = w.shape
    ow = strips.shape[1] // (n * hp)
    rows = _kernel_rows(w)
    span = _strip_span(strips, kh, ow)
    first = rows[0] if b is None else np.concatenate([rows[0], b[:, None]], axis=1)
    pixels = strips[: kw * c]  # without the row of ones
    # sums[f, (n, h, q)]: the window whose top-left pixel is (h, q*sw) of image n, for every h.
    sums = np.empty((f, strips.shape[1]), dtype=strips.dtype)
    np.matmul(first, strips[:, :span], out=sums[:, :span])
    term = np.empty((f, span), dtype=strips.dtype)  # one buffer for every later kernel row
    for i in range(1, kh):
        sums[:, :span] += np.matmul(rows[i], pixels[:, i * ow : i * ow + span], out=term)
    # Keep the rows where a window really starts (every sh-th, up to Hp - KH); the others mixed
    # rows of two images or were never filled.
    grid = sums.reshape(f, n, hp, ow)[:, :, 0 : sh * (oh - 1) + 1 : sh]
    return np.ascontiguousarray(grid.transpose(1, 0, 2, 3))


def _conv_by_strips_backward(
    dout: np.ndarray, strips: np.ndarray, w: np.ndarray, padded_shape, sh: int, sw: int
) -> tuple[np.ndarray, np.ndarray]:
    """Backpropagate ``_conv_by_strips``; returns (dxp, dw) for the padded input and filters."""
    n, c, hp, wp = padded_shape
    f, _, kh, kw = w.shape
    oh, ow = dout.shape[2:]
    pixels = strips[: kw * c]  # a row of ones for the bias may follow; db is summed directly
    span = _strip_span(strips, kh, ow)
    # Spread dout over the (f, n, h, q) grid of the strips: zero where no window starts
    # (g is zero beyond ``span`` as well, so the products can stop there).
    g = np.zeros((f, n, hp, ow), dtype=dout.dtype)
    g[:, :, 0 : sh * (oh - 1) + 1 : sh] = dout.transpose(1, 0, 2, 3)
    g = g.reshape(f, n * hp * ow)[:, :span]
    rows = _kernel_rows(w)
    dw_rows = np.stack([g @ pixels[:, i * ow : i * ow + span].T for i in range(kh)])
    dw = dw_rows.reshape(kh, f, kw, c).transpose(1, 3, 0, 2)
    dpixels = np.zeros(pixels.shape, dtype=g.dtype)
    term = np.empty((kw * c, span), dtype=g.dtype)
    for i in range(kh):
        dpixels[:, i * ow : i * ow + span] += np.matmul(rows[i].T, g, out=term)
    # Undo the strip copy: each column shift j sends its gradient back to its pixels.
    dxp_t = np.zeros((c, n, hp, wp), dtype=g.dtype)
    for j in range(kw):
        dxp_t[:, :, :, j : j + sw * (ow - 1) + 1 : sw] += dpixels[j * c : (j + 1) * c].reshape(
            c, n, hp, ow
        )
    return dxp_t.transpose(1, 0, 2, 3), dw


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
    x = _as_float_array(x, "x")
    w = _as_float_array(w, "w")
    _check_rank(x, 4, "x", "(N, C, H, W)", " A single image needs a batch axis: x[None].")
    _check_rank(w, 4, "w", "(F, C, KH, KW)", " One 2-D kernel k becomes k[None, None].")
    n, c, h, wd = x.shape
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

    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    xp = x.astype(dtype, copy=False)
    if top or bottom or left or right:  # only read from here on, so no copy without padding
        xp = _pad_last_two(xp, top, bottom, left, right, padding_mode)
    w_used = np.ascontiguousarray(w[:, :, ::-1, ::-1] if flip_kernel else w, dtype=dtype)
    if c * kh * kw <= PER_IMAGE_MAX_K:
        layout, patches = "im2col", _im2col(xp, kh, kw, sh, sw, oh, ow)
        out = np.matmul(w_used.reshape(f, -1), patches).reshape(n, f, oh, ow)
        if b is not None:
            out += b.astype(dtype, copy=False)[:, None, None]
    else:
        layout, patches = "strips", _row_strips(xp, kw, sw, ow, ones_row=b is not None)
        b_used = None if b is None else b.astype(dtype, copy=False)
        out = _conv_by_strips(patches, w_used, b_used, n, hp, sh, oh)
    cache = Conv2dCache(
        x_shape=(n, c, h, wd),
        layout=layout,
        patches=patches,
        w_used=w_used,
        has_bias=b is not None,
        stride=(sh, sw),
        pad=(top, bottom, left, right),
        padding_mode=padding_mode,
        flip_kernel=bool(flip_kernel),
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
    chw = img[None] if img.ndim == 2 else np.moveaxis(img, -1, 0)
    xp = _pad_last_two(chw.astype(dtype, copy=False), top, bottom, left, right, mode)
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    out = np.zeros((chw.shape[0], oh, ow), dtype=dtype)
    # KH*KW shifted views, each scaled by one kernel weight: no copies of patches needed.
    for i, j, rows, columns in _offsets(kh, kw, sh, sw, oh, ow):
        if k[i, j] != 0:
            out += k[i, j].astype(dtype) * xp[:, rows, columns]
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


# ---------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------


class Pool2dCache(NamedTuple):
    """What the pooling backward passes need from the forward pass."""

    kind: str
    x: np.ndarray
    out: np.ndarray
    size: tuple[int, int]
    stride: tuple[int, int]


def _window_views(size, stride, out_hw):
    """Yield an index for each offset inside the pooling window (see ``_offsets``)."""
    for _, _, rows, columns in _offsets(*size, *stride, *out_hw):
        yield (Ellipsis, rows, columns)


def _pool_forward(x: Any, size: Any, stride: Any, kind: str) -> tuple[np.ndarray, Pool2dCache]:
    x = _as_float_array(x, "x")
    _check_rank(x, 4, "x", "(N, C, H, W)", " A single image needs a batch axis: x[None].")
    kh, kw = _pair(size, "size")
    sh, sw = (kh, kw) if stride is None else _pair(stride, "stride")
    h, wd = x.shape[2:]
    if kh > h or kw > wd:
        raise ValueError(f"the {kh}x{kw} pooling window is larger than the {h}x{wd} input.")
    _check_finite(x, "x")
    oh, ow = (h - kh) // sh + 1, (wd - kw) // sw + 1
    out = None
    for idx in _window_views((kh, kw), (sh, sw), (oh, ow)):
        view = x[idx]
        if out is None:
            out = view.copy()
        elif kind == "max":
            np.maximum(out, view, out=out)
        else:
            out += view
    if kind == "avg":
        out /= kh * kw
    return out, Pool2dCache(kind, x, out, (kh, kw), (sh, sw))


def _pool_backward(dout: Any, cache: Pool2dCache, kind: str) -> np.ndarray:
    op = f"{kind}_pool2d_backward"
    _check_cache(cache, Pool2dCache, op, f"{kind}_pool2d_forward")
    if cache.kind != kind:
        raise TypeError(f"{op} got the cache of {cache.kind}_pool2d_forward.")
    dout = _check_dout(dout, cache.out.shape, op)
    x = cache.x
    dtype = np.result_type(x, dout)
    dx = np.zeros(x.shape, dtype=dtype)
    views = _window_views(cache.size, cache.stride, cache.out.shape[2:])
    if kind == "max":
        # Route each gradient to the first position (in reading order) holding the maximum,
        # as PyTorch does, so that ties do not double-count.
        taken = np.zeros(cache.out.shape, dtype=bool)
        for idx in views:
            hit = x[idx] == cache.out
            hit &= ~taken
            taken |= hit
            dx[idx] += np.where(hit, dout, 0)
    else:
        share = dout / (cache.size[0] * cache.size[1]) if kind == "avg" else dout
        for idx in views:
            dx[idx] += share
    return dx


def max_pool2d_forward(x: Any, *, size: Any = 2, stride: Any = None):
    """Keep the largest value of every window of every feature map.

    **Shapes:** ``x`` (N, C, H, W) -> ``out`` (N, C, OH, OW) with
    ``OH = (H - size) // stride + 1``; ``size`` and ``stride`` are an int or a pair and
    ``stride`` defaults to ``size`` (non-overlapping windows). A smaller stride makes windows
    overlap; a larger one skips pixels. Pooling has no weights and keeps the depth C.
    Returns ``(out, cache)``.
    """
    return _pool_forward(x, size, stride, "max")


def max_pool2d_backward(dout: Any, cache: Pool2dCache) -> np.ndarray:
    """Send each window's gradient to the position that held its maximum (the arg-max).

    **Shapes:** ``dout`` (N, C, OH, OW) -> ``dx`` (N, C, H, W); every other position gets 0.
    Returns ``dx``.
    """
    return _pool_backward(dout, cache, "max")


def avg_pool2d_forward(x: Any, *, size: Any = 2, stride: Any = None):
    """Replace every window of every feature map by its mean.

    **Shapes:** as ``max_pool2d_forward``. Returns ``(out, cache)``.
    """
    return _pool_forward(x, size, stride, "avg")


def avg_pool2d_backward(dout: Any, cache: Pool2dCache) -> np.ndarray:
    """Share each window's gradient equally among its size*size positions.

    **Shapes:** ``dout`` (N, C, OH, OW) -> ``dx`` (N, C, H, W). Returns ``dx``.
    """
    return _pool_backward(dout, cache, "avg")


def sum_pool2d_forward(x: Any, *, size: Any = 2, stride: Any = None):
    """Replace every window of every feature map by its sum.

    **Shapes:** as ``max_pool2d_forward``. Returns ``(out, cache)``.
    """
    return _pool_forward(x, size, stride, "sum")


def sum_pool2d_backward(dout: Any, cache: Pool2dCache) -> np.ndarray:
    """Copy each window's gradient to every position of the window.

    **Shapes:** ``dout`` (N, C, OH, OW) -> ``dx`` (N, C, H, W). Returns ``dx``.
    """
    return _pool_backward(dout, cache, "sum")


# ---------------------------------------------------------------------------------------------
# Activations (element-wise; any shape)
# ---------------------------------------------------------------------------------------------


class ActivationCache(NamedTuple):
    """The forward input (or output) that an activation's derivative is computed from."""

    kind: str
    value: np.ndarray
    slope: float = 0.0


def _activation_input(x: Any) -> np.ndarray:
    x = _as_float_array(x, "x")
    _check_finite(x, "x")
    return x


def _activation_dout(dout: Any, cache: ActivationCache, kind: str) -> np.ndarray:
    _check_cache(cache, ActivationCache, f"{kind}_backward", f"{kind}_forward")
    if cache.kind != kind:
        raise TypeError(f"{kind}_backward got the cache of {cache.kind}_forward.")
    return _check_dout(dout, cache.value.shape, f"{kind}_backward")


def relu_forward(x: Any) -> tuple[np.ndarray, ActivationCache]:
    """Apply ReLU(x) = max(0, x) element-wise: negative responses become 0.

    **Shapes:** any shape -> the same shape. Returns ``(out, cache)``.
    """
    x = _activation_input(x)
    return np.maximum(x, 0), ActivationCache("relu", x)


def relu_backward(dout: Any, cache: ActivationCache) -> np.ndarray:
    """Let the gradient through where the input was positive, block it elsewhere.

    **Shapes:** ``dout`` like the forward input -> ``dx`` the same shape. Returns ``dx``.
    """
    dout = _activation_dout(dout, cache, "relu")
    return np.where(cache.value > 0, dout, 0).astype(np.result_type(dout, cache.value))


def leaky_relu_forward(x: Any, *, slope: float = 0.01) -> tuple[np.ndarray, ActivationCache]:
    """Apply leaky ReLU: x where x > 0, ``slope * x`` elsewhere, so negatives keep a gradient.

    **Shapes:** any shape -> the same shape. Returns ``(out, cache)``.
    """
    if isinstance(slope, bool) or not isinstance(slope, int | float | np.floating | np.integer):
        raise TypeError(f"slope must be a number, got {slope!r}.")
    if not (math.isfinite(slope) and slope >= 0):
        raise ValueError(f"slope must be a finite number >= 0, got {slope!r}.")
    x = _activation_input(x)
    out = np.where(x > 0, x, x * x.dtype.type(slope))
    return out, ActivationCache("leaky_relu", x, float(slope))


def leaky_relu_backward(dout: Any, cache: ActivationCache) -> np.ndarray:
    """Multiply the gradient by 1 where the input was positive and by ``slope`` elsewhere.

    **Shapes:** ``dout`` like the forward input -> ``dx`` the same shape. Returns ``dx``.
    """
    dout = _activation_dout(dout, cache, "leaky_relu")
    dtype = np.result_type(dout, cache.value)
    return np.where(cache.value > 0, dout, dout * cache.slope).astype(dtype)


def sigmoid_forward(x: Any) -> tuple[np.ndarray, ActivationCache]:
    """Squash every value into (0, 1) with 1 / (1 + exp(-x)), without overflow.

    **Shapes:** any shape -> the same shape. Returns ``(out, cache)``.
    """
    x = _activation_input(x)
    # exp of a non-positive number never overflows; both branches use it.
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)
    return out, ActivationCache("sigmoid", out)


def sigmoid_backward(dout: Any, cache: ActivationCache) -> np.ndarray:
    """Multiply the gradient by s(1 - s): at most 1/4, and near 0 where the sigmoid saturates.

    **Shapes:** ``dout`` like the forward input -> ``dx`` the same shape. Returns ``dx``.
    """
    dout = _activation_dout(dout, cache, "sigmoid")
    s = cache.value
    return dout * s * (1 - s)


def tanh_forward(x: Any) -> tuple[np.ndarray, ActivationCache]:
    """Squash every value into (-1, 1) with tanh.

    **Shapes:** any shape -> the same shape. Returns ``(out, cache)``.
    """
    x = _activation_input(x)
    out = np.tanh(x)
    return out, ActivationCache("tanh", out)


def tanh_backward(dout: Any, cache: ActivationCache) -> np.ndarray:
    """Multiply the gradient by 1 - tanh(x)^2, which also vanishes where tanh saturates.

    **Shapes:** ``dout`` like the forward input -> ``dx`` the same shape. Returns ``dx``.
    """
    dout = _activation_dout(dout, cache, "tanh")
    t = cache.value
    return dout * (1 - t * t)


# ---------------------------------------------------------------------------------------------
# Flatten and dense (fully connected) layers
# ---------------------------------------------------------------------------------------------


def flatten_forward(x: Any) -> tuple[np.ndarray, tuple[int, ...]]:
    """Unroll every image's feature maps into one long vector, e.g. (64, 3, 3) -> 576.

    **Shapes:** ``x`` (N, ...) with at least 2 axes -> ``out`` (N, prod(...)), a new array.
    Returns ``(out, cache)``; the cache is the input shape.
    """
    x = _as_float_array(x, "x")
    if x.ndim < 2 or x.size == 0:
        raise ValueError(
            f"flatten needs a non-empty batch of shape (N, ...) with at least 2 axes, "
            f"got shape {x.shape}."
        )
    return x.reshape(x.shape[0], -1).copy(), tuple(x.shape)


def flatten_backward(dout: Any, cache: tuple[int, ...]) -> np.ndarray:
    """Fold the gradient back into the shape of the flattened input.

    **Shapes:** ``dout`` (N, D) -> ``dx`` the forward input's shape. Returns ``dx``.
    """
    if not (isinstance(cache, tuple) and all(isinstance(s, int) for s in cache)):
        raise TypeError("flatten_backward needs the cache (input shape) from flatten_forward.")
    n = cache[0]
    dout = _check_dout(dout, (n, math.prod(cache[1:])), "flatten_backward")
    return dout.reshape(cache).copy()


class DenseCache(NamedTuple):
    """The input and weights that ``dense_backward`` needs."""

    x: np.ndarray
    w: np.ndarray
    out_shape: tuple[int, int]


def dense_forward(x: Any, w: Any, b: Any) -> tuple[np.ndarray, DenseCache]:
    """Connect every input to every output: ``out = x @ w + b`` (an affine map).

    **Shapes:** ``x`` (N, D), ``w`` (D, M), ``b`` (M,) -> ``out`` (N, M).
    The weight matrix is stored inputs-by-outputs, so it has D*M + M parameters with the bias
    (576*64 + 64 = 36,928). Returns ``(out, cache)``.
    """
    x = _as_float_array(x, "x")
    w = _as_float_array(w, "w")
    b = _as_float_array(b, "b")
    _check_rank(x, 2, "x", "(N, D)", " Flatten feature maps first with flatten_forward.")
    _check_rank(w, 2, "w", "(D, M)")
    if x.shape[1] != w.shape[0]:
        raise ValueError(
            f"size mismatch: each input has {x.shape[1]} features but w expects "
            f"{w.shape[0]} (w has shape {w.shape}, rows = inputs, columns = outputs)."
        )
    if b.shape != (w.shape[1],):
        raise ValueError(f"b must hold one bias per output, shape ({w.shape[1]},), got {b.shape}.")
    for arr, name in ((x, "x"), (w, "w"), (b, "b")):
        _check_finite(arr, name)
    dtype = np.result_type(x, w, b)
    out = x.astype(dtype, copy=False) @ w.astype(dtype, copy=False) + b.astype(dtype, copy=False)
    return out, DenseCache(x, w, out.shape)


def dense_backward(dout: Any, cache: DenseCache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagate through ``dense_forward``.

    **Shapes:** ``dout`` (N, M) -> ``dx`` (N, D), ``dw`` (D, M), ``db`` (M,).
    Returns ``(dx, dw, db)``.
    """
    _check_cache(cache, DenseCache, "dense_backward", "dense_forward")
    dout = _check_dout(dout, cache.out_shape, "dense_backward")
    dtype = np.result_type(cache.x, cache.w, dout)
    dout = dout.astype(dtype, copy=False)
    dx = dout @ cache.w.T.astype(dtype, copy=False)
    dw = cache.x.T.astype(dtype, copy=False) @ dout
    return dx, dw, dout.sum(axis=0)


# ---------------------------------------------------------------------------------------------
# Softmax and losses
# ---------------------------------------------------------------------------------------------

REDUCTIONS = ("mean", "sum")


def _scores(scores: Any, name: str = "scores") -> np.ndarray:
    s = _as_float_array(scores, name)
    _check_rank(s, 2, name, "(N, K): one row of K class scores per example", " Use s[None].")
    _check_finite(s, name)
    return s


def _log_softmax(s: np.ndarray) -> np.ndarray:
    # Subtracting the row maximum changes nothing mathematically and keeps exp() <= 1.
    shifted = s - s.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(scores: Any) -> np.ndarray:
    """Turn each row of scores into probabilities that are positive and sum to one.

    **Shapes:** ``scores`` (N, K) -> probabilities (N, K). Numerically stable: scores of
    1000 or -1000 do not overflow. Returns the probabilities.
    """
    return np.exp(_log_softmax(_scores(scores)))


class SoftmaxCache(NamedTuple):
    """The probabilities that ``softmax_backward`` needs."""

    probs: np.ndarray


def softmax_forward(scores: Any) -> tuple[np.ndarray, SoftmaxCache]:
    """Apply ``softmax`` as a layer, for losses that do not include it.

    **Shapes:** ``scores`` (N, K) -> ``probs`` (N, K). Returns ``(probs, cache)``.
    """
    probs = softmax(scores)
    return probs, SoftmaxCache(probs)


def softmax_backward(dout: Any, cache: SoftmaxCache) -> np.ndarray:
    """Multiply the gradient by the softmax Jacobian: ``p * (dout - sum(dout * p))`` per row.

    **Shapes:** ``dout`` (N, K) -> ``dscores`` (N, K). Returns ``dscores``.
    """
    _check_cache(cache, SoftmaxCache, "softmax_backward", "softmax_forward")
    p = cache.probs
    dout = _check_dout(dout, p.shape, "softmax_backward")
    return p * (dout - (dout * p).sum(axis=1, keepdims=True))


def _targets(targets: Any, n: int, k: int, *, dtype, distribution: bool) -> np.ndarray:
    """Turn class labels (N,) or target rows (N, K) into an (N, K) float array."""
    t = _numeric_array(targets, "targets")
    if t.ndim == 1:
        if t.dtype.kind not in "iu":
            raise TypeError(
                f"class labels (shape (N,)) must be integers, got dtype {t.dtype}; "
                f"for one-hot rows pass an (N, K) array."
            )
        if t.shape[0] != n:
            raise ValueError(f"got {t.shape[0]} labels for {n} rows of scores.")
        if t.min() < 0 or t.max() >= k:
            raise ValueError(
                f"class labels must lie in 0..{k - 1} for {k} classes, "
                f"got values from {t.min()} to {t.max()}."
            )
        onehot = np.zeros((n, k), dtype=dtype)
        onehot[np.arange(n), t] = 1
        return onehot
    if t.shape != (n, k):
        raise ValueError(
            f"targets must be labels of shape ({n},) or rows of shape ({n}, {k}), "
            f"got shape {t.shape}."
        )
    t = t.astype(dtype)
    _check_finite(t, "targets")
    if distribution:
        if (t < 0).any() or not np.allclose(t.sum(axis=1), 1, atol=1e-3):
            raise ValueError(
                "target rows for cross-entropy must be probabilities (>= 0, each row summing "
                "to 1), such as one-hot vectors."
            )
    return t


def _check_reduction(reduction: Any) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f'reduction must be "mean" or "sum", got {reduction!r}.')
    return reduction


def _check_scalar_dout(dout: Any, op: str) -> float:
    if isinstance(dout, bool) or not isinstance(dout, int | float | np.number):
        arr = np.asarray(dout) if isinstance(dout, np.ndarray) else None
        if arr is None or arr.shape != () or arr.dtype.kind not in "iuf":
            raise TypeError(f"{op}: dout must be a number (the loss gradient, usually 1.0).")
        dout = arr.item()
    if not math.isfinite(dout):
        raise ValueError(f"{op}: dout must be finite, got {dout!r}.")
    return float(dout)


class LossCache(NamedTuple):
    """What a loss backward needs: the prediction, the target rows and how they were summed."""

    kind: str
    prediction: np.ndarray  # probabilities for cross-entropy, raw outputs for squared error
    targets: np.ndarray
    reduction: str


def cross_entropy_forward(
    scores: Any, targets: Any, *, reduction: str = "mean"
) -> tuple[float, LossCache]:
    """Compute softmax + categorical cross-entropy, ``-sum(t * log p)`` per example.

    **Shapes:** ``scores`` (N, K) raw class scores (logits); ``targets`` (N,) integer labels or
    (N, K) one-hot / probability rows -> a float: the mean over the batch (``reduction="mean"``)
    or the total (``"sum"``). The softmax is built in and computed stably in log space.
    Returns ``(loss, cache)``.
    """
    s = _scores(scores)
    reduction = _check_reduction(reduction)
    t = _targets(targets, *s.shape, dtype=s.dtype, distribution=True)
    logp = _log_softmax(s)
    total = -(t * logp).sum()
    loss = total / s.shape[0] if reduction == "mean" else total
    return float(loss), LossCache("cross_entropy", np.exp(logp), t, reduction)


def cross_entropy_backward(dout: Any, cache: LossCache) -> np.ndarray:
    """Return the gradient of the loss with respect to the scores: ``p - t`` per example.

    **Shapes:** ``dout`` a number (1.0 when the loss is the final output) -> ``dscores``
    (N, K), divided by N for ``reduction="mean"``. Returns ``dscores``.
    """
    _check_cache(cache, LossCache, "cross_entropy_backward", "cross_entropy_forward")
    if cache.kind != "cross_entropy":
        raise TypeError(f"cross_entropy_backward got the cache of {cache.kind}_forward.")
    dout = _check_scalar_dout(dout, "cross_entropy_backward")
    scale = dout / cache.prediction.shape[0] if cache.reduction == "mean" else dout
    return (cache.prediction - cache.targets) * cache.prediction.dtype.type(scale)


def squared_error_forward(
    output: Any, targets: Any, *, reduction: str = "sum"
) -> tuple[float, LossCache]:
    """Compute the sum of ½(target − output)², the classic error of early neural networks.

    **Shapes:** ``output`` (N, K) the network's outputs (scores or probabilities);
    ``targets`` (N,) integer labels (turned into one-hot rows) or (N, K) -> a float:
    the total over everything (``reduction="sum"``) or the per-example mean (``"mean"``).
    Returns ``(loss, cache)``.
    """
    o = _scores(output, "output")
    reduction = _check_reduction(reduction)
    t = _targets(targets, *o.shape, dtype=o.dtype, distribution=False)
    total = 0.5 * ((t - o) ** 2).sum()
    loss = total / o.shape[0] if reduction == "mean" else total
    return float(loss), LossCache("squared_error", o, t, reduction)


def squared_error_backward(dout: Any, cache: LossCache) -> np.ndarray:
    """Return the gradient with respect to the outputs: ``output - target``.

    **Shapes:** ``dout`` a number -> ``doutput`` (N, K), divided by N for ``reduction="mean"``.
    Returns ``doutput``.
    """
    _check_cache(cache, LossCache, "squared_error_backward", "squared_error_forward")
    if cache.kind != "squared_error":
        raise TypeError(f"squared_error_backward got the cache of {cache.kind}_forward.")
    dout = _check_scalar_dout(dout, "squared_error_backward")
    scale = dout / cache.prediction.shape[0] if cache.reduction == "mean" else dout
    return (cache.prediction - cache.targets) * cache.prediction.dtype.type(scale)


# ---------------------------------------------------------------------------------------------
# Whole networks: layer specs, output shapes and parameter counts
# ---------------------------------------------------------------------------------------------
#
# A network is described by a list of layer specs. Each spec is a small dataclass below, or
# the equivalent tuple, which is quicker to type in a notebook:
#
#   ("conv", C_in, C_out, k)                 Conv2dSpec(C_in, C_out, k)
#   ("conv", C_in, C_out, k, stride, pad)    Conv2dSpec(C_in, C_out, k, stride, pad)
#   ("pool", size) / ("pool", size, stride)  PoolSpec(size, stride)  (max pooling)
#   ("avgpool", size) / ("sumpool", size)    PoolSpec(size, kind="avg" / "sum")
#   ("flatten",)                             FlattenSpec()
#   ("dense", n_in, n_out)                   DenseSpec(n_in, n_out)
#   ("relu",), ("sigmoid",), ("tanh",), ("leaky_relu",), ("softmax",)   ActivationSpec(name)
#
# Activations have no parameters and keep the shape, so REFERENCE_NETWORK and LENET5 record
# them as the ``activation`` of the conv/dense layer they follow rather than as extra rows.


@dataclass(frozen=True)
class Conv2dSpec:
    """A convolution layer: ``out_channels`` filters of size k x k over ``in_channels``."""

    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int = 1
    padding: int | str = 0
    activation: str | None = None

    @property
    def parameters(self) -> int:
        return (self.kernel_size * self.kernel_size * self.in_channels + 1) * self.out_channels

    @property
    def label(self) -> str:
        k = self.kernel_size
        text = f"conv {self.out_channels}@{k}x{k}"
        if self.stride != 1:
            text += f", stride {self.stride}"
        if self.padding not in (0, "valid"):
            text += f", padding {self.padding}"
        return text + (f" + {self.activation}" if self.activation else "")


@dataclass(frozen=True)
class PoolSpec:
    """A pooling layer (no parameters); ``stride`` defaults to ``size``."""

    size: int = 2
    stride: int | None = None
    kind: str = "max"

    parameters = 0

    @property
    def label(self) -> str:
        stride = self.size if self.stride is None else self.stride
        text = f"{self.kind} pool {self.size}x{self.size}"
        return text + (f", stride {stride}" if stride != self.size else "")


@dataclass(frozen=True)
class FlattenSpec:
    """Flatten (C, H, W) feature maps into one vector of C*H*W values."""

    parameters = 0
    label = "flatten"


@dataclass(frozen=True)
class DenseSpec:
    """A fully connected layer from ``in_features`` to ``out_features`` values."""

    in_features: int
    out_features: int
    activation: str | None = None

    @property
    def parameters(self) -> int:
        return (self.in_features + 1) * self.out_features

    @property
    def label(self) -> str:
        text = f"dense {self.in_features}->{self.out_features}"
        return text + (f" + {self.activation}" if self.activation else "")


@dataclass(frozen=True)
class ActivationSpec:
    """An element-wise activation (no parameters, shape unchanged)."""

    name: str = "relu"

    parameters = 0

    @property
    def label(self) -> str:
        return self.name


LayerSpec = Conv2dSpec | PoolSpec | FlattenSpec | DenseSpec | ActivationSpec
ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "softmax")

REFERENCE_NETWORK: list[LayerSpec] = [
    Conv2dSpec(1, 32, 3, activation="relu"),
    PoolSpec(2),
    Conv2dSpec(32, 64, 3, activation="relu"),
    PoolSpec(2),
    Conv2dSpec(64, 64, 3, activation="relu"),
    FlattenSpec(),
    DenseSpec(576, 64, activation="relu"),
    DenseSpec(64, 10, activation="softmax"),
]
"""The course's reference CNN for 28x28x1 digits (the capstone's PyTorch model): 93,322 weights."""

LENET5: list[LayerSpec] = [
    Conv2dSpec(1, 6, 5, activation="tanh"),
    PoolSpec(2, kind="avg"),
    Conv2dSpec(6, 16, 5, activation="tanh"),
    PoolSpec(2, kind="avg"),
    FlattenSpec(),
    DenseSpec(400, 120, activation="tanh"),
    DenseSpec(120, 84, activation="tanh"),
    DenseSpec(84, 10, activation="softmax"),
]
"""LeNet-5 on 32x32x1 input, every C3 map connected to all six S2 maps: 61,706 weights."""


def as_layer_spec(spec: Any) -> LayerSpec:
    """Return ``spec`` as a layer-spec dataclass, reading the tuple forms listed above."""
    if isinstance(spec, Conv2dSpec | PoolSpec | FlattenSpec | DenseSpec | ActivationSpec):
        return spec
    if not isinstance(spec, tuple | list) or not spec or not isinstance(spec[0], str):
        raise TypeError(
            f"a layer spec is a dataclass such as Conv2dSpec or a tuple like "
            f"('conv', 1, 32, 3), ('pool', 2), ('flatten',), ('dense', 576, 64); got {spec!r}."
        )
    kind, args = spec[0], tuple(spec[1:])
    try:
        if kind == "conv":
            made: LayerSpec = Conv2dSpec(*args)
        elif kind in ("pool", "maxpool", "avgpool", "sumpool"):
            pool_kind = {"pool": "max", "maxpool": "max"}.get(kind, kind[:3])
            made = PoolSpec(*args, kind=pool_kind)
        elif kind == "flatten":
            made = FlattenSpec(*args)
        elif kind == "dense":
            made = DenseSpec(*args)
        elif kind in ACTIVATIONS:
            made = ActivationSpec(kind, *args)
        else:
            raise ValueError(
                f"unknown layer kind {kind!r}; use conv, pool, avgpool, sumpool, flatten, "
                f"dense or an activation ({', '.join(ACTIVATIONS)})."
            )
    except TypeError as err:
        raise ValueError(f"layer spec {spec!r} has the wrong number of values: {err}.") from None
    return made


def layer_parameters(spec: Any) -> int:
    """Return the number of trainable weights and biases of one layer spec.

    **Shapes:** conv ``(k*k*C_in + 1) * C_out``; dense ``(n_in + 1) * n_out``; others 0.
    """
    return as_layer_spec(spec).parameters


def count_parameters(specs: Any) -> int:
    """Return the total parameter count of a list of layer specs (93,322 for the reference)."""
    return sum(layer_parameters(s) for s in specs)


class LayerSummary(NamedTuple):
    """One row of a network summary table."""

    label: str
    output_shape: tuple[int, ...]
    parameters: int


def summarize_network(specs: Any, input_shape: Any) -> list[LayerSummary]:
    """Walk a list of layer specs over an input shape, layer by layer.

    **Shapes:** ``input_shape`` (C, H, W) of one image (no batch axis); each row gives the
    output shape after that layer, (C, H, W) for conv/pool and (D,) after flatten.
    Raises ValueError where the layers do not fit together (a conv expecting 3 channels on
    a 1-channel input, a dense layer whose inputs do not match the flattened size).
    Returns a list of ``LayerSummary(label, output_shape, parameters)``.
    """
    shape = tuple(_as_int(s, "input_shape") for s in input_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"input_shape must be (C, H, W) with positive sizes, got {input_shape!r}.")
    rows = []
    for position, raw in enumerate(specs, start=1):
        spec = as_layer_spec(raw)
        where = f"layer {position} ({spec.label})"
        if isinstance(spec, Conv2dSpec | PoolSpec) and len(shape) != 3:
            raise ValueError(f"{where} needs (C, H, W) feature maps but gets shape {shape}.")
        if isinstance(spec, Conv2dSpec):
            if spec.in_channels != shape[0]:
                raise ValueError(
                    f"{where} expects {spec.in_channels} input channel(s) but the previous "
                    f"layer produces {shape[0]}."
                )
            size = [output_size(n, spec.kernel_size, spec.stride, spec.padding) for n in shape[1:]]
            shape = (spec.out_channels, *size)
        elif isinstance(spec, PoolSpec):
            stride = spec.size if spec.stride is None else spec.stride
            shape = (shape[0], *(output_size(n, spec.size, stride) for n in shape[1:]))
        elif isinstance(spec, FlattenSpec):
            shape = (math.prod(shape),)
        elif isinstance(spec, DenseSpec):
            if len(shape) != 1:
                raise ValueError(f"{where} needs a flat vector; add a flatten layer before it.")
            if spec.in_features != shape[0]:
                raise ValueError(
                    f"{where} expects {spec.in_features} inputs but gets {shape[0]} values."
                )
            shape = (spec.out_features,)
        rows.append(LayerSummary(spec.label, shape, spec.parameters))
    return rows


def format_summary(rows: list[LayerSummary]) -> str:
    """Return the summary rows as a plain-text table with a total line, ready to print."""
    body = [(r.label, " x ".join(map(str, r.output_shape)), f"{r.parameters:,}") for r in rows]
    body.append(("total", "", f"{sum(r.parameters for r in rows):,}"))
    widths = [
        max(len(row[i]) for row in body + [("layer", "output", "parameters")]) for i in range(3)
    ]
    header = ("layer", "output", "parameters")
    lines = [f"{header[0]:<{widths[0]}}  {header[1]:<{widths[1]}}  {header[2]:>{widths[2]}}"]
    lines.append("-" * len(lines[0]))
    for label, shape, params in body:
        lines.append(f"{label:<{widths[0]}}  {shape:<{widths[1]}}  {params:>{widths[2]}}")
    return "\n".join(lines)
