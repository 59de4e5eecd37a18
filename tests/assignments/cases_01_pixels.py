"""01_pixels: its parts, the rules of its hidden tests and its plausible wrong answers.

Each wrong answer must lose exactly the points of the test cells it names; the checks every
assignment shares are in test_every_assignment.py.
"""

from __future__ import annotations

from functools import partial

import nbgrader_tools as nt
from nbgrader_tools import define

NAME = "01_pixels"
PARTS = nt.standard_parts(
    "load_rgb", "image_shape", "channels_first", "grayscale", "scale", "crop", "resize"
)
_wrong = partial(nt.mutation, PARTS)


def _resize(rows: str, cols: str) -> str:
    """A resize_nearest that checks its input like the solution but picks other pixels."""
    return define(
        "resize_nearest(img, height, width)",
        f"""
if img.ndim not in (2, 3) or height < 1 or width < 1:
    raise ValueError("bad picture or size")
H, W = img.shape[:2]
rows = {rows}
cols = {cols}
return img[rows[:, np.newaxis], cols]
""",
    )


MUTATIONS = [
    _wrong(
        "load_rgb keeps whatever the file holds (alpha, no channel axis)",
        "load_rgb_solution",
        define("load_rgb(path)", "return iio.imread(path)"),
        hidden_only=True,
    ),
    _wrong(
        "load_rgb scales to floats in [0, 1]",
        "load_rgb_solution",
        define("load_rgb(path)", "return iio.imread(path)[:, :, :3] / 255"),
    ),
    _wrong(
        "image_shape returns img.shape (no channel count for greyscale)",
        "image_shape_solution",
        define("image_shape(img)", "return tuple(img.shape)"),
    ),
    _wrong(
        "image_shape puts the width first",
        "image_shape_solution",
        define(
            "image_shape(img)",
            """
height, width = img.shape[:2]
channels = img.shape[2] if img.ndim == 3 else 1
if img.ndim not in (2, 3):
    raise ValueError("not a picture")
return (width, height, channels)
""",
        ),
        reason="should be (37, 53, 3), but it is (53, 37, 3)",
        hidden_only=True,
    ),
    _wrong(
        "to_channels_first transposes H and W instead of moving the channels",
        "channels_first_solution",
        define(
            "to_channels_first(img)",
            """
if img.ndim == 2:
    return img[np.newaxis]
return img.T
""",
        ),
    ),
    _wrong(
        "to_channels_first hands the work to PyTorch",
        "channels_first_solution",
        define(
            "to_channels_first(img)",
            """
import torch

if img.ndim == 2:
    img = img[:, :, None]
if img.ndim != 3:
    raise ValueError("not a picture")
return torch.from_numpy(img).permute(2, 0, 1).numpy()
""",
        ),
        reason="called torch",
        hidden_only=True,
    ),
    _wrong(
        "to_grayscale uses the weights in BGR order",
        "grayscale_solution",
        define(
            "to_grayscale(img)",
            """
if img.ndim != 3 or img.shape[-1] != 3:
    raise ValueError("not a colour picture")
return img.astype(np.float64) @ np.array([0.114, 0.587, 0.299])
""",
        ),
    ),
    _wrong(
        "to_grayscale rounds back to uint8",
        "grayscale_solution",
        define(
            "to_grayscale(img)",
            """
if img.ndim != 3 or img.shape[-1] != 3:
    raise ValueError("not a colour picture")
return np.round(img @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)
""",
        ),
        reason="should have dtype float64",
    ),
    _wrong(
        "to_grayscale rounds to whole numbers (keeping float64)",
        "grayscale_solution",
        define(
            "to_grayscale(img)",
            """
if img.ndim != 3 or img.shape[-1] != 3:
    raise ValueError("not a colour picture")
return np.round(img.astype(np.float64) @ np.array([0.299, 0.587, 0.114]))
""",
        ),
    ),
    _wrong(
        "to_grayscale scales a float input in place",
        "grayscale_solution",
        define(
            "to_grayscale(img)",
            """
if img.ndim != 3 or img.shape[-1] != 3:
    raise ValueError("not a colour picture")
img = np.asarray(img, dtype=np.float64)  # no copy when img is already float64
img *= np.array([0.299, 0.587, 0.114])
return img.sum(axis=2)
""",
        ),
        reason="changed its input in place",
        hidden_only=True,
    ),
    _wrong(
        "to_grayscale calls helpers.images.to_grayscale",
        "grayscale_solution",
        define(
            "to_grayscale(img)",
            """
from helpers.images import to_grayscale as reference

if img.ndim != 3 or img.shape[-1] != 3:
    raise ValueError("not a colour picture")
return reference(img.astype(np.float64))
""",
        ),
        reason="called helpers.images.to_grayscale",
        hidden_only=True,
    ),
    _wrong(
        "scale_to_unit divides by 256",
        "scale_solution",
        define(
            "scale_to_unit(img)",
            """
if img.dtype != np.uint8:
    raise TypeError("uint8 only")
return img.astype(np.float32) / 256
""",
        ),
    ),
    _wrong(
        "scale_to_unit returns float64",
        "scale_solution",
        define(
            "scale_to_unit(img)",
            """
if img.dtype != np.uint8:
    raise TypeError("uint8 only")
return img / 255
""",
        ),
        reason="should have dtype float32",
    ),
    _wrong(
        "scale_to_unit divides by the picture's own largest value",
        "scale_solution",
        define(
            "scale_to_unit(img)",
            """
if img.dtype != np.uint8:
    raise TypeError("uint8 only")
return img.astype(np.float32) / img.max()
""",
        ),
        reason="must stay dark",
        hidden_only=True,
    ),
    _wrong(
        "scale_to_unit stretches the picture's own range to [0, 1]",
        "scale_solution",
        define(
            "scale_to_unit(img)",
            """
if img.dtype != np.uint8:
    raise TypeError("uint8 only")
low, high = img.min(), img.max()
return ((img - low) / (high - low)).astype(np.float32)
""",
        ),
        reason="must stay dark",
        hidden_only=True,
    ),
    _wrong(
        "scale_to_unit accepts float input (scales twice)",
        "scale_solution",
        define("scale_to_unit(img)", "return (img / 255).astype(np.float32)"),
        hidden_only=True,
        reason="should raise TypeError",
    ),
    _wrong(
        "center_crop rounds an odd margin up",
        "crop_solution",
        define(
            "center_crop(img, size)",
            """
H, W = img.shape[:2]
if img.ndim not in (2, 3) or not 1 <= size <= min(H, W):
    raise ValueError("does not fit")
top, left = (H - size + 1) // 2, (W - size + 1) // 2
return img[top : top + size, left : left + size]
""",
        ),
        hidden_only=True,
    ),
    _wrong(
        "center_crop keeps one row and column too many",
        "crop_solution",
        define(
            "center_crop(img, size)",
            """
H, W = img.shape[:2]
if img.ndim not in (2, 3) or not 1 <= size <= min(H, W):
    raise ValueError("does not fit")
top, left = (H - size) // 2, (W - size) // 2
return img[top : top + size + 1, left : left + size + 1]
""",
        ),
    ),
    _wrong(
        "center_crop does not check that the window fits",
        "crop_solution",
        define(
            "center_crop(img, size)",
            """
H, W = img.shape[:2]
top, left = (H - size) // 2, (W - size) // 2
return img[top : top + size, left : left + size]
""",
        ),
        reason="should raise ValueError",
        hidden_only=True,
    ),
    _wrong(
        "center_crop checks the window against the height only",
        "crop_solution",
        define(
            "center_crop(img, size)",
            """
if img.ndim not in (2, 3):
    raise ValueError("not a picture")
H, W = img.shape[:2]
if not 1 <= size <= H:
    raise ValueError("does not fit")
top, left = (H - size) // 2, (W - size) // 2
return img[top : top + size, left : left + size]
""",
        ),
        reason="should raise ValueError",
        hidden_only=True,
    ),
    _wrong(
        "resize_nearest samples top-left corners, not centres (PyTorch's mode='nearest')",
        "resize_solution",
        _resize(
            "(np.arange(height) * H / height).astype(int)",
            "(np.arange(width) * W / width).astype(int)",
        ),
    ),
    _wrong(
        "resize_nearest spreads the samples from corner to corner (linspace)",
        "resize_solution",
        _resize(
            "np.round(np.linspace(0, H - 1, height)).astype(int)",
            "np.round(np.linspace(0, W - 1, width)).astype(int)",
        ),
    ),
    _wrong(
        "resize_nearest rounds the centre instead of taking the floor",
        "resize_solution",
        _resize(
            "np.minimum(np.round((np.arange(height) + 0.5) * H / height), H - 1).astype(int)",
            "np.minimum(np.round((np.arange(width) + 0.5) * W / width), W - 1).astype(int)",
        ),
    ),
    _wrong(
        "resize_nearest takes (width, height), like Pillow",
        "resize_solution",
        _resize(
            "((np.arange(width) + 0.5) * H / width).astype(int)",
            "((np.arange(height) + 0.5) * W / height).astype(int)",
        ),
        reason="should have shape",
    ),
    _wrong(
        "resize_nearest indexes a channel axis a greyscale picture lacks",
        "resize_solution",
        define(
            "resize_nearest(img, height, width)",
            """
if img.ndim not in (2, 3) or height < 1 or width < 1:
    raise ValueError("bad picture or size")
H, W = img.shape[:2]
rows = ((np.arange(height) + 0.5) * H / height).astype(int)
cols = ((np.arange(width) + 0.5) * W / width).astype(int)
return img[rows][:, cols, :]
""",
        ),
        reason="IndexError",
    ),
    _wrong(
        "resize_nearest fills a float64 array (loses the dtype)",
        "resize_solution",
        define(
            "resize_nearest(img, height, width)",
            """
if img.ndim not in (2, 3) or height < 1 or width < 1:
    raise ValueError("bad picture or size")
H, W = img.shape[:2]
out = np.zeros((height, width) + img.shape[2:])
for i in range(height):
    for j in range(width):
        out[i, j] = img[int((i + 0.5) * H / height), int((j + 0.5) * W / width)]
return out
""",
        ),
        reason="should have dtype uint8",
    ),
    _wrong(
        "resize_nearest hands the work to Pillow",
        "resize_solution",
        define(
            "resize_nearest(img, height, width)",
            """
from PIL import Image

if img.ndim not in (2, 3) or height < 1 or width < 1:
    raise ValueError("bad picture or size")
return np.asarray(Image.fromarray(img).resize((width, height), Image.Resampling.NEAREST))
""",
        ),
        reason="called PIL",
        hidden_only=True,
    ),
    _wrong(
        "resize_nearest accepts sizes below 1",
        "resize_solution",
        define(
            "resize_nearest(img, height, width)",
            """
if img.ndim not in (2, 3):
    raise ValueError("not a picture")
H, W = img.shape[:2]
rows = ((np.arange(height) + 0.5) * H / height).astype(int)
cols = ((np.arange(width) + 0.5) * W / width).astype(int)
return img[rows[:, np.newaxis], cols]
""",
        ),
        reason="should raise ValueError",
        hidden_only=True,
    ),
]

ASSIGNMENT = nt.Assignment(
    name=NAME,
    parts=PARTS,
    mutations=tuple(MUTATIONS),
    hidden_rules=nt.HiddenRules(
        require=(
            nt.need("does not switch off helpers", "forbid=REFERENCE_MODULES"),
            nt.PRIVATE_COPIES,
            nt.FRESH_INPUTS,
        ),
    ),
    leaks=("default_rng(", "REFERENCE_MODULES", "0.299 * x"),
)
