"""02_convolution: its parts, the rules of its hidden tests and its plausible wrong answers.

The wrong answers: off-by-one output size, stride ignored, padding on one side only,
replicate padding done as zeros, bias forgotten, missing kernel flip, the loop version passed
off as vectorised, products taken in uint8 (they wrap around at 256), Sobel x and y
confused, ...; each must lose exactly the points of the test
cells it names.
"""

from __future__ import annotations

from functools import partial

import nbgrader_tools as nt
from nbgrader_tools import define

NAME = "02_convolution"
PARTS = nt.standard_parts(
    "correlate2d", "output_size", "pad", "conv2d", "convolve2d", "fast", "match"
)
_wrong = partial(nt.mutation, PARTS)

_CHECK_2D = """
image = np.asarray(image, dtype=np.float64)
kernel = np.asarray(kernel, dtype=np.float64)
if image.ndim != 2 or kernel.ndim != 2:
    raise ValueError("2-D picture and kernel only")
H, W = image.shape
KH, KW = kernel.shape
if KH > H or KW > W:
    raise ValueError("the kernel does not fit")
"""

# The checks of _CHECK_2D, with the arrays left in the dtype they came in.
_CHECK_2D_NO_CAST = """
if image.ndim != 2 or kernel.ndim != 2:
    raise ValueError("2-D picture and kernel only")
H, W = image.shape
KH, KW = kernel.shape
if KH > H or KW > W:
    raise ValueError("the kernel does not fit")
OH, OW = H - KH + 1, W - KW + 1
out = np.zeros((OH, OW))
"""

_MATCH = """
candidates = {}
for kernel_name in KERNEL_NAMES:
    kernel = get_kernel(SWAP.get(kernel_name, kernel_name))
    windows = np.lib.stride_tricks.sliding_window_view(np.asarray(image, float), kernel.shape)
    candidates[kernel_name] = np.einsum("hwuv,uv->hw", windows, kernel)
return {
    label: min(candidates, key=lambda k: np.abs(fmap - candidates[k]).max())
    for label, fmap in maps.items()
}
"""

MUTATIONS = [
    _wrong(
        "correlate2d stops one row and one column early (off-by-one output size)",
        "correlate2d_solution",
        define(
            "correlate2d(image, kernel)",
            _CHECK_2D
            + """
out = np.zeros((H - KH, W - KW))
for i in range(H - KH):
    for j in range(W - KW):
        out[i, j] = np.sum(image[i : i + KH, j : j + KW] * kernel)
return out
""",
        ),
    ),
    _wrong(
        "correlate2d multiplies in the input dtype (uint8 products wrap around at 256)",
        "correlate2d_solution",
        define(
            "correlate2d(image, kernel)",
            _CHECK_2D_NO_CAST
            + """
for i in range(OH):
    for j in range(OW):
        out[i, j] = np.sum(image[i : i + KH, j : j + KW] * kernel)
return out
""",
        ),
        hidden_only=True,
        reason="uint8",
    ),
    _wrong(
        "output_size ignores the stride",
        "output_size_solution",
        define(
            "output_size(n, k, stride=1, padding=0)",
            """
if n < 1 or k < 1 or stride < 1 or padding < 0 or k > n + 2 * padding:
    raise ValueError("bad sizes")
return n + 2 * padding - k + 1
""",
        ),
    ),
    _wrong(
        "output_size does not check that the kernel fits",
        "output_size_solution",
        define(
            "output_size(n, k, stride=1, padding=0)", "return (n + 2 * padding - k) // stride + 1"
        ),
        hidden_only=True,
        reason="should raise ValueError",
    ),
    _wrong(
        "pad pads only the top and the left (one side only)",
        "pad_solution",
        define(
            'pad(x, p, mode="zeros")',
            """
if x.ndim < 2 or p < 0 or mode not in ("zeros", "replicate"):
    raise ValueError("bad input")
H, W = x.shape[-2:]
if mode == "zeros":
    out = np.zeros(x.shape[:-2] + (H + p, W + p), dtype=x.dtype)
    out[..., p:, p:] = x
    return out
rows = np.clip(np.arange(-p, H), 0, H - 1)
cols = np.clip(np.arange(-p, W), 0, W - 1)
return x[..., rows[:, np.newaxis], cols]
""",
        ),
    ),
    _wrong(
        "pad fills replicate padding with zeros",
        "pad_solution",
        define(
            'pad(x, p, mode="zeros")',
            """
if x.ndim < 2 or p < 0 or mode not in ("zeros", "replicate"):
    raise ValueError("bad input")
H, W = x.shape[-2:]
out = np.zeros(x.shape[:-2] + (H + 2 * p, W + 2 * p), dtype=x.dtype)
out[..., p : p + H, p : p + W] = x
return out
""",
        ),
    ),
    _wrong(
        "pad hands the work to np.pad",
        "pad_solution",
        define(
            'pad(x, p, mode="zeros")',
            """
if x.ndim < 2 or p < 0 or mode not in ("zeros", "replicate"):
    raise ValueError("bad input")
width = [(0, 0)] * (x.ndim - 2) + [(p, p), (p, p)]
return np.pad(x, width, mode="constant" if mode == "zeros" else "edge")
""",
        ),
        hidden_only=True,
        reason="called numpy.lib._arraypad_impl",
    ),
    _wrong(
        "conv2d forgets the bias",
        "conv2d_solution",
        define(
            "conv2d(x, w, b, stride=1, padding=0)",
            """
x, w, b = (np.asarray(a, dtype=np.float64) for a in (x, w, b))
if x.ndim != 4 or w.ndim != 4 or w.shape[1] != x.shape[1] or b.shape != (w.shape[0],):
    raise ValueError("shapes do not fit")
N, C, H, W = x.shape
F, _, KH, KW = w.shape
if stride < 1 or padding < 0 or KH > H + 2 * padding or KW > W + 2 * padding:
    raise ValueError("the kernel does not fit")
xp = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
xp[:, :, padding : padding + H, padding : padding + W] = x
windows = np.lib.stride_tricks.sliding_window_view(xp, (KH, KW), axis=(2, 3))
windows = windows[:, :, ::stride, ::stride]
return np.einsum("nchwuv,fcuv->nfhw", windows, w)
""",
        ),
    ),
    _wrong(
        "convolve2d does not flip the kernel (cross-correlation)",
        "convolve2d_solution",
        define(
            "convolve2d(image, kernel)",
            _CHECK_2D
            + """
windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)
return np.einsum("hwuv,uv->hw", windows, kernel)
""",
        ),
    ),
    _wrong(
        "correlate2d_fast is the loop version passed off as vectorised",
        "fast_solution",
        define("correlate2d_fast(image, kernel)", "return correlate2d(image, kernel)"),
        reason="times faster",
    ),
    _wrong(
        "correlate2d_fast multiplies in the input dtype (uint8 products wrap around at 256)",
        "fast_solution",
        define(
            "correlate2d_fast(image, kernel)",
            _CHECK_2D_NO_CAST
            + """
for u in range(KH):
    for v in range(KW):
        out += kernel[u, v] * image[u : u + OH, v : v + OW]
return out
""",
        ),
        hidden_only=True,
        reason="uint8",
    ),
    _wrong(
        "match_feature_maps mixes up Sobel x and Sobel y",
        "match_solution",
        define(
            "match_feature_maps(image, maps)",
            'SWAP = {"sobel_x": "sobel_y", "sobel_y": "sobel_x"}\n' + _MATCH,
        ),
    ),
    _wrong(
        "match_feature_maps hard-codes the answer for the visible maps",
        "match_solution",
        define(
            "match_feature_maps(image, maps)",
            'return {"A": "sobel_y", "B": "laplacian", "C": "box_blur", "D": "sobel_x"}',
        ),
        hidden_only=True,
    ),
]

ASSIGNMENT = nt.Assignment(
    name=NAME,
    parts=PARTS,
    mutations=tuple(MUTATIONS),
    hidden_rules=nt.reference_modules_and("scipy.signal"),
    # Code that only the instructor version may hold (solutions and hidden-test internals).
    leaks=(
        "FORBIDDEN",
        "def loop_version",
        "def reference(",
        "np.clip(np.arange(-p",
        'einsum("nchwuv',
    ),
    points_shown=nt.points_in_hidden_cells,
)
