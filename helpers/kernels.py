"""A catalogue of classic hand-made kernels, and the small worked examples of the course.

Every kernel comes with a one-line description that the book prints next to its effect:

>>> from helpers.kernels import get_kernel, describe
>>> get_kernel("sobel_x")
array([[-1.,  0.,  1.],
       [-2.,  0.,  2.],
       [-1.,  0.,  1.]])

Kernels are applied by cross-correlation (``helpers.ops.correlate2d``), as in deep learning.
``get_kernel`` always returns a fresh copy, so editing it never changes the catalogue.

The running "tiny" example (a 5x5 binary image, a 3x3 kernel and the 3x3 feature map worked
out by hand) and the worked edge-detector pixel (centre 200, response 175) live here too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "CATALOGUE",
    "EDGE_KERNEL",
    "EDGE_PATCH",
    "EDGE_RESPONSE",
    "TINY_FEATURE_MAP",
    "TINY_IMAGE",
    "TINY_KERNEL",
    "Kernel",
    "describe",
    "gaussian_kernel",
    "get_kernel",
    "names",
]


@dataclass(frozen=True)
class Kernel:
    """A named kernel with a one-line description of what it does to a picture."""

    name: str
    weights: np.ndarray
    description: str


def _kernel(name: str, rows: list[list[float]], description: str, scale: float = 1.0) -> Kernel:
    """Build a read-only catalogue entry from its rows of weights, times ``scale``."""
    weights = np.array(rows, dtype=np.float64) * scale
    weights.setflags(write=False)  # the catalogue is shared: hand out copies, never edit it
    return Kernel(name, weights, description)


CATALOGUE: dict[str, Kernel] = {
    k.name: k
    for k in [
        _kernel(
            "identity",
            [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
            "Copies every pixel unchanged: the do-nothing filter.",
        ),
        _kernel(
            "box_blur",
            [[1, 1, 1], [1, 1, 1], [1, 1, 1]],
            "Replaces each pixel by the mean of its 3x3 neighbourhood: a soft, even blur.",
            scale=1 / 9,
        ),
        _kernel(
            "gaussian_blur",
            [[1, 2, 1], [2, 4, 2], [1, 2, 1]],
            "A blur that weighs close neighbours more than far ones: smoother than a box.",
            scale=1 / 16,
        ),
        _kernel(
            "gaussian_blur_5x5",
            [
                [1, 4, 6, 4, 1],
                [4, 16, 24, 16, 4],
                [6, 24, 36, 24, 6],
                [4, 16, 24, 16, 4],
                [1, 4, 6, 4, 1],
            ],
            "A wider Gaussian blur over a 5x5 neighbourhood.",
            scale=1 / 256,
        ),
        _kernel(
            "sharpen",
            [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
            "Boosts each pixel against its four neighbours: edges and details stand out.",
        ),
        _kernel(
            "laplacian",
            [[0, -1, 0], [-1, 4, -1], [0, -1, 0]],
            "Edge detector: 0 on flat areas (weights sum to 0), large where brightness changes.",
        ),
        _kernel(
            "laplacian_diagonal",
            [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
            "Edge detector that also compares the diagonal neighbours: edges in every direction.",
        ),
        _kernel(
            "sobel_x",
            [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
            "Responds to left-to-right brightness changes, so it finds vertical edges.",
        ),
        _kernel(
            "sobel_y",
            [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
            "Responds to top-to-bottom brightness changes, so it finds horizontal edges.",
        ),
        _kernel(
            "prewitt_x",
            [[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]],
            "Like Sobel x with equal row weights: a plainer vertical-edge detector.",
        ),
        _kernel(
            "prewitt_y",
            [[-1, -1, -1], [0, 0, 0], [1, 1, 1]],
            "Like Sobel y with equal column weights: a plainer horizontal-edge detector.",
        ),
        _kernel(
            "emboss",
            [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
            "Lights one side of every edge and shades the other: a raised, stamped look.",
        ),
        _kernel(
            "outline",
            [[-1, -1, -1], [-1, 9, -1], [-1, -1, -1]],
            "Sharpens using all eight neighbours: stronger than 'sharpen', keeps the picture.",
        ),
    ]
}
"""Every kernel of the course by name (see ``names()``)."""


def names() -> list[str]:
    """Return the catalogue's kernel names in the order the book presents them."""
    return list(CATALOGUE)


def _lookup(name: str) -> Kernel:
    """Return the catalogue entry called ``name``, or say which names exist."""
    if not isinstance(name, str):
        raise TypeError(f"a kernel name is a string such as 'sobel_x', got {name!r}.")
    if name not in CATALOGUE:
        raise ValueError(f"no kernel called {name!r}; choose one of: {', '.join(CATALOGUE)}.")
    return CATALOGUE[name]


def get_kernel(name: str) -> np.ndarray:
    """Return a fresh float64 copy of the named kernel.

    **Shapes:** (3, 3) for all kernels except ``gaussian_blur_5x5`` (5, 5).
    """
    return _lookup(name).weights.copy()


def describe(name: str) -> str:
    """Return the one-line description of the named kernel."""
    return _lookup(name).description


def gaussian_kernel(size: int = 3, sigma: float = 1.0) -> np.ndarray:
    """Return a size x size Gaussian blur kernel whose weights sum to one.

    **Shapes:** (size, size) float64; ``size`` must be odd so the kernel has a centre.
    """
    if isinstance(size, bool) or not isinstance(size, int | np.integer):
        raise TypeError(f"size must be an int, got {size!r}.")
    if size < 1 or size % 2 == 0:
        raise ValueError(f"size must be a positive odd number (3, 5, 7, ...), got {size}.")
    if not isinstance(sigma, int | float | np.number) or not sigma > 0:
        raise ValueError(f"sigma must be a positive number, got {sigma!r}.")
    r = np.arange(size) - size // 2
    g = np.exp(-(r**2) / (2.0 * float(sigma) ** 2))
    k = np.outer(g, g)
    return k / k.sum()


# ---------------------------------------------------------------------------------------------
# The running "tiny" example: a 5x5 binary image and a 3x3 kernel, worked by hand
# ---------------------------------------------------------------------------------------------

TINY_IMAGE = np.array(
    [
        [1, 1, 1, 0, 0],
        [0, 1, 1, 1, 0],
        [0, 0, 1, 1, 1],
        [0, 0, 1, 1, 0],
        [0, 1, 1, 0, 0],
    ]
)
"""The 5x5 binary image of the running example (int array of 0s and 1s)."""

TINY_KERNEL = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]])
"""The 3x3 kernel of the running example (an X of ones)."""

TINY_FEATURE_MAP = np.array([[4, 3, 4], [2, 4, 3], [2, 3, 4]])
"""The 3x3 feature map worked out by hand (valid cross-correlation of the two above)."""

for _arr in (TINY_IMAGE, TINY_KERNEL, TINY_FEATURE_MAP):
    _arr.setflags(write=False)

# ---------------------------------------------------------------------------------------------
# The worked edge-detector pixel
# ---------------------------------------------------------------------------------------------

EDGE_PATCH = np.array(
    [
        [145, 150, 148],
        [160, 200, 155],
        [152, 160, 158],
    ]
)
"""A 3x3 greyscale patch around a bright pixel (200) on a darker background.

The Laplacian ignores the corners (weight 0) and gives 4*200 - (150 + 160 + 155 + 160) = 175.
"""

EDGE_KERNEL = CATALOGUE["laplacian"].weights
"""The Laplacian edge detector [[0, -1, 0], [-1, 4, -1], [0, -1, 0]] (read-only)."""

EDGE_RESPONSE = 175
"""The response of ``EDGE_KERNEL`` to ``EDGE_PATCH``, worked out by hand."""

EDGE_PATCH.setflags(write=False)
