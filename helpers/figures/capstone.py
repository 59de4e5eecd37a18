"""Figures for chapter 7 (the capstone): feature maps of a trained network, tiled.

``feature_map_grid`` lays every map of one layer out as a mosaic beside the input, on one
colour scale so that maps can be compared; with the first layer's weights it also shows
each filter in the corner of the map it makes. The demo in :mod:`helpers.demos.capstone`
draws one such figure per input and layer.
"""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from helpers.figures.common import _SIGNED_CMAP, _hide_ticks, _imshow
from helpers.images import check_image

__all__ = ["feature_map_grid"]


_GAP_GREY = 0.55  # the frame between tiles: darker than the white of a zero value


def _tile(picture: np.ndarray, size: int) -> np.ndarray:
    """Centre an RGB picture (h, w, 3) on a ``size`` × ``size`` tile of the frame grey."""
    tile = np.full((size, size, 3), _GAP_GREY)
    h, w = picture.shape[:2]
    top, left = (size - h) // 2, (size - w) // 2
    tile[top : top + h, left : left + w] = picture
    return tile


def _with_filters(tiles: list[np.ndarray], filters: np.ndarray) -> list[np.ndarray]:
    """Inset each conv filter (F, C, k, k) in the top-left corner of its map's tile.

    Grey kernels are drawn red/blue around a white zero, colour kernels as small colour
    patches around a mid-grey zero; all filters share one stretch, so strengths compare.
    """
    F, C, k, _ = filters.shape
    size = tiles[0].shape[0]
    block = max(1, round(0.4 * size / k))  # each weight becomes a block of pixels
    limit = float(np.abs(filters).max()) or 1.0
    if C == 1:
        rgb = colormaps[_SIGNED_CMAP](Normalize(-limit, limit)(filters[:, 0]))[..., :3]
    else:
        rgb = filters.transpose(0, 2, 3, 1) / (2 * limit) + 0.5
    big = rgb.repeat(block, axis=1).repeat(block, axis=2)
    side = min(k * block, size - 2)
    out = []
    for tile, picture in zip(tiles, big, strict=True):
        tile = tile.copy()
        tile[: side + 2, : side + 2] = 0.0  # a black frame sets the filter apart from the map
        tile[1 : side + 1, 1 : side + 1] = picture[:side, :side]
        out.append(tile)
    return out


def _mosaic(tiles: list[np.ndarray], columns: int, gap: int) -> np.ndarray:
    """Lay equal square RGB tiles out in a grid, row by row, with ``gap`` pixels between them."""
    size = tiles[0].shape[0]
    rows = -(-len(tiles) // columns)
    step = size + gap
    out = np.full((rows * step + gap, columns * step + gap, 3), _GAP_GREY)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        out[gap + r * step : gap + r * step + size, gap + c * step : gap + c * step + size] = tile
    return out


def feature_map_grid(
    image: np.ndarray,
    maps: np.ndarray,
    *,
    signed: bool,
    title: str = "",
    image_title: str = "input",
    filters: np.ndarray | None = None,
) -> Figure:
    """Show one layer's feature maps for one input, all on one colour scale, beside the input.

    Signed maps (a convolution's output before ReLU) are drawn with a diverging colour map
    centred on zero: red positive, blue negative, white zero. Maps after ReLU or pooling are
    never negative and are drawn in viridis from 0. With ``filters`` (the layer's weights,
    first layer only) each map shows the filter that made it, framed in its top-left corner.

    **Shapes:** image (H, W) or (H, W, 3); maps (C, h, w); filters (C, C_in, k, k) with
    C_in 1 or 3.

    Returns the Figure: the input on the left; on the right every map as a tile of one mosaic
    (grey frames between tiles), with a colour bar.
    """
    picture = check_image(image, name="image")
    m = np.asarray(maps, dtype=float)
    if m.ndim != 3 or 0 in m.shape:
        raise ValueError(f"maps must be shaped (C, h, w), one map per channel; got {m.shape}.")
    if not np.all(np.isfinite(m)):
        raise ValueError("maps hold NaN or infinite values; check the model's output.")
    if not signed and m.min() < 0:
        raise ValueError(
            f"maps go down to {m.min():.3g}, but maps after ReLU or pooling are never "
            "negative: pass signed=True for a convolution's output before ReLU."
        )
    limit = float(np.abs(m).max()) or 1.0
    norm = Normalize(-limit, limit) if signed else Normalize(0.0, limit)
    cmap = colormaps[_SIGNED_CMAP if signed else "viridis"]
    size = max(m.shape[1:])
    tiles = [_tile(rgb, size) for rgb in cmap(norm(m))[..., :3]]
    if filters is not None:
        w = np.asarray(filters, dtype=float)
        if w.ndim != 4 or w.shape[0] != m.shape[0] or w.shape[1] not in (1, 3):
            raise ValueError(
                f"filters must be (C, C_in, k, k) with one filter per map ({m.shape[0]}) and "
                f"C_in 1 or 3; got {w.shape}."
            )
        tiles = _with_filters(tiles, w)
    # A grid about twice as wide as tall fits the panel, and whole rows waste no space.
    columns = min(
        range(1, len(tiles) + 1),
        key=lambda c: abs(np.log(c / -(-len(tiles) // c) / 2.2)) + (len(tiles) % c > 0),
    )
    mosaic = _mosaic(tiles, columns, gap=max(1, size // 10))

    fig = Figure(figsize=(9.5, 3.7), layout="constrained")
    ax_in, ax_maps = fig.subplots(1, 2, width_ratios=[1, 3.6])
    _imshow(ax_in, picture)
    ax_in.set_title(image_title, fontsize=8)  # small: a class name may be long
    ax_maps.imshow(mosaic, interpolation="nearest")
    _hide_ticks(ax_maps)
    ax_maps.set_title(title, fontsize=10)
    fig.colorbar(
        ScalarMappable(norm=norm, cmap=cmap),
        ax=ax_maps,
        shrink=0.9,
        label="map value (white = 0)" if signed else "map value",
    )
    return fig
