"""Fast paths for convolution: im2col and row strips turn the sliding window into products.

Nothing here is needed to understand what a convolution computes (see :mod:`helpers.ops.conv`);
it is why the NumPy network trains in seconds rather than hours. ``_offsets`` also serves
``correlate2d`` and the pooling layers: they loop over the offsets inside a window, never
over the windows. Everything here is private to :mod:`helpers.ops`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__: list[str] = []


def _offsets(
    kh: int, kw: int, sh: int, sw: int, oh: int, ow: int
) -> Iterator[tuple[int, int, slice, slice]]:
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


def _col2im(
    dcols: np.ndarray,
    padded_shape: tuple[int, int, int, int],
    kh: int,
    kw: int,
    sh: int,
    sw: int,
    oh: int,
    ow: int,
) -> np.ndarray:
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
    """Count the strip positions whose window, moved down by up to KH - 1 rows, still fits.

    Every real window starts in one of them: its top row is at most Hp - KH.
    """
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
    dout: np.ndarray,
    strips: np.ndarray,
    w: np.ndarray,
    padded_shape: tuple[int, int, int, int],
    sh: int,
    sw: int,
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
