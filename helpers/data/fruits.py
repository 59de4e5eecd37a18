"""Load Fruits-360: the course's eight classes of 100×100 fruit photos, and its running strawberry.

Photos come from the folder the user named (a folder layout or a release zip) or from the course
cache, filled from the release zip on demand. Decoded classes are kept as .npz files in the cache
(keyed by the photos' hashes) and in memory, so a repeated load decodes nothing.
"""

from __future__ import annotations

import os
import re
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .checksums import sha256_bytes
from .fallback import fallback_photo
from .fetch import atomic_write
from .fruit_cache import cached_fruits
from .fruit_copies import FruitCopy, fruit_manifest, named_fruits, verified_hashes
from .sources import DataError, cache_dir, named_root, note_source

# The course uses these eight Fruits-360 classes unless told otherwise.
COURSE_FRUITS = (
    "Apple Red 1",
    "Kiwi",
    "Lemon",
    "Orange",
    "Peach",
    "Pear",
    "Plum",
    "Strawberry",
)
FRUIT_SPLITS = {"train": "Training", "test": "Test"}
FRUIT_SHAPE = (100, 100, 3)
EXAMPLE_FRUIT = "Test/Strawberry/r_321_100.jpg"


def _fruit_copy(
    split_dir: str,
    names: Sequence[str],
    *,
    data_dir: str | os.PathLike | None,
    allow_download: bool,
    verify: bool,
) -> FruitCopy:
    """Return the first Fruits-360 copy in the search order that can serve `names`."""
    named = named_root(data_dir)
    if named is not None:
        return named_fruits(*named)
    return cached_fruits(split_dir, names, allow_download=allow_download, verify=verify)


def _decode(data: bytes, where: str) -> np.ndarray:
    """Decode one image file to a (100, 100, 3) uint8 RGB array."""
    import imageio.v3 as iio

    try:
        img = iio.imread(data, extension=Path(where).suffix.lower() or ".jpg")
    except Exception as err:  # imageio raises many types for undecodable bytes
        raise DataError(f"{where} cannot be decoded as an image ({err}).") from err
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    img = img[..., :3]
    if img.shape != FRUIT_SHAPE or img.dtype != np.uint8:
        raise DataError(
            f"{where} is {img.shape} {img.dtype}; the course expects 100×100 RGB uint8 photos "
            "(the 100x100 release of Fruits-360)."
        )
    return img


_MEMO_FRUITS: dict[str, np.ndarray] = {}


def _class_images(
    copy: FruitCopy, rels: Sequence[str], digests: dict[str, str], label: str
) -> np.ndarray:
    """Decode the images of one class, via an in-process memo and a .npz cache keyed by content."""
    key = sha256_bytes("\n".join(f"{rel} {digests[rel]}" for rel in rels).encode())
    if key in _MEMO_FRUITS:
        return _MEMO_FRUITS[key]
    slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")
    npz = cache_dir() / "decoded" / f"fruits-{slug}-{key[:16]}.npz"
    x = None
    if npz.is_file():
        try:
            with np.load(npz, allow_pickle=False) as f:
                x = f["x"]
            if x.shape != (len(rels), *FRUIT_SHAPE) or x.dtype != np.uint8:
                raise ValueError(f"holds {x.shape} {x.dtype}")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            warnings.warn(
                f"The cached array {npz} is damaged ({err}); decoding the photos again.",
                stacklevel=3,
            )
            x = None
    if x is None:
        x = np.stack([_decode(copy.read(rel), copy.where(rel)) for rel in rels])
        try:
            with atomic_write(npz) as tmp, open(tmp, "wb") as f:
                np.savez(f, x=x)
        except OSError:
            pass  # no writable cache: decode again next time
    x.flags.writeable = False
    _MEMO_FRUITS[key] = x
    return x


def _check_fruit_args(split: str, classes: Sequence[str] | None) -> tuple[str, list[str]]:
    """Return the split's folder name and the sorted class names, or explain a bad argument."""
    if split not in FRUIT_SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    if classes is None:
        return FRUIT_SPLITS[split], sorted(COURSE_FRUITS)
    if isinstance(classes, str):
        raise TypeError(f"classes must be a list of class names, e.g. [{classes!r}], not a string.")
    names = list(classes)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"classes must be a non-empty list of class names, got {classes!r}.")
    if len(set(names)) != len(names):
        raise ValueError(f"classes lists a name twice: {names}.")
    return FRUIT_SPLITS[split], sorted(names)


def ensure_fruits(
    *,
    classes: Sequence[str] | None = None,
    data_dir: str | os.PathLike | None = None,
    allow_download: bool = True,
) -> str:
    """Make sure the photos of both splits are available and intact, without decoding them.

    Looks where `load_fruits` looks (data_dir=, CNN_COURSE_DATA, the cache) and fills the cache
    from the release zip when needed. Returns where the photos are, in the words of
    `data_source`; raises DataError when they cannot be had.
    """
    notes, count, known = [], 0, 0
    manifest = fruit_manifest()
    for split in FRUIT_SPLITS:
        split_dir, names = _check_fruit_args(split, classes)
        copy = _fruit_copy(
            split_dir, names, data_dir=data_dir, allow_download=allow_download, verify=True
        )
        try:
            for name in names:
                rels = copy.files(split_dir, name)
                if not rels:
                    raise DataError(f"No class {name!r} in {split_dir}/ of {copy.note}.")
                digests = verified_hashes(copy, rels)
                count += len(rels)
                known += sum(manifest.get(rel) == digests[rel] for rel in rels)
        finally:
            copy.close()
        if copy.note not in notes:
            notes.append(copy.note)
    unknown = count - known
    return (
        f"{' and '.join(notes)}: {count:,} photos of {len(names)} classes, {known:,} verified "
        "against the course's checksums" + (f", {unknown:,} not in them" if unknown else "")
    )


def load_fruits(
    split: str = "train",
    *,
    classes: Sequence[str] | None = None,
    data_dir: str | os.PathLike | None = None,
    allow_download: bool = True,
    verify: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Load Fruits-360 photos of the requested classes (default: the course's eight).

    **Shapes:** x (N, 100, 100, 3) uint8 RGB; y (N,) int64, an index into names;
    names: the class names, sorted.

    Returns new arrays the caller may modify, and the list of class names. Files of the course's
    subset are checked against its checksums (verify=False uses differing files knowingly, e.g.
    a newer release); other files of the data set cannot be checked and are counted as such.
    There is no offline fallback: a training set of one packaged photo would teach nothing.
    """
    split_dir, names = _check_fruit_args(split, classes)
    copy = _fruit_copy(
        split_dir, names, data_dir=data_dir, allow_download=allow_download, verify=verify
    )
    manifest = fruit_manifest()
    parts, counts, known = [], [], 0
    try:
        for name in names:
            rels = copy.files(split_dir, name)
            if not rels:
                available = copy.classes(split_dir)
                raise DataError(
                    f"No class {name!r} in {split_dir}/ of {copy.note}. Classes there: "
                    f"{', '.join(available) or 'none'}."
                )
            digests = verified_hashes(copy, rels) if verify else copy.hashes(rels)
            known += sum(manifest.get(rel) == digests[rel] for rel in rels)
            parts.append(_class_images(copy, rels, digests, f"{split_dir}-{name}"))
            counts.append(len(rels))
    finally:
        copy.close()
    x = np.concatenate(parts)  # a new array: the memo stays untouched
    y = np.repeat(np.arange(len(names), dtype=np.int64), counts)
    unknown = len(x) - known
    note_source(
        f"fruits/{split}",
        f"{copy.note}: {len(x):,} images of {len(names)} classes, {known:,} verified against "
        "the course's checksums" + (f", {unknown:,} not in them" if unknown else ""),
    )
    return x, y, names


def example_fruit(
    *,
    data_dir: str | os.PathLike | None = None,
    allow_download: bool = True,
    allow_fallback: bool = True,
) -> np.ndarray:
    """Return the course's running-example photo: one fixed Fruits-360 test strawberry.

    **Shapes:** (100, 100, 3) uint8 RGB.

    Returns a new array the caller may modify.
    """
    split_dir, name, _ = EXAMPLE_FRUIT.split("/")
    try:
        copy = _fruit_copy(
            split_dir, [name], data_dir=data_dir, allow_download=allow_download, verify=True
        )
    except DataError as err:
        # A folder the user named is used or reported, never silently replaced.
        if not allow_fallback or named_root(data_dir) is not None:
            raise
        return fallback_photo(str(err).splitlines()[0], FRUIT_SHAPE[0])
    try:
        if EXAMPLE_FRUIT not in copy.files(split_dir, name):
            raise DataError(f"The example photo {EXAMPLE_FRUIT} is missing from {copy.note}.")
        verified_hashes(copy, [EXAMPLE_FRUIT])
        img = _decode(copy.read(EXAMPLE_FRUIT), copy.where(EXAMPLE_FRUIT))
    finally:
        copy.close()
    note_source("fruits/example", f"{copy.note}: {EXAMPLE_FRUIT}, checksum verified")
    return img.copy()
