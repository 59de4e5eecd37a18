"""Load Fruits-360: the course's eight classes of 100×100 fruit photos, and its running strawberry.

Photos come from the folder the user named (a folder layout or a release zip) or from the course
cache, filled from the release zip on demand. Decoded classes are kept as .npz files in the cache
(keyed by the photos' hashes) and in memory, so a repeated load decodes nothing.

Every photo is one frame of a short video of a fruit turning in front of the camera, and its file
name says which: ``<frame>_100.jpg`` for the first turn of a class, ``r_<frame>_100.jpg`` for a
second turn about another axis. The ``Test/`` folder holds frames of the very videos
``Training/`` comes from: mostly one stretch of frames that ``Training/`` lacks, but also frames
right next to training ones, and there is no validation folder. ``fruit_frames`` reads the
video and frame of every photo from its file name, and ``split_fruit_videos`` holds out whole
stretches of consecutive frames of every video, for a fair validation and test set.
"""

from __future__ import annotations

import math
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
# The stretches of every video that split_fruit_videos holds out, as fractions of its frames.
# Both lie in the middle: a video shows a little more than one turn, so its first and last
# frames show the same side of the fruit, while a frame from the middle has no twin.
FRUIT_HOLD_OUT = {"val": (0.30, 0.40), "test": (0.55, 0.65)}
# A frame name: an optional "r_" (the second turn), the frame number, then the photo size.
_FRAME_NAME = re.compile(r"^(?P<turn>r_)?(?P<frame>\d+)_\d+\.(?:jpe?g|png)$", re.IGNORECASE)


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
    return_files: bool = False,
) -> tuple[np.ndarray, np.ndarray, list[str]] | tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Load Fruits-360 photos of the requested classes (default: the course's eight).

    **Shapes:** x (N, 100, 100, 3) uint8 RGB; y (N,) int64, an index into names;
    names: the class names, sorted; with ``return_files=True`` also files, N paths such as
    ``"Training/Kiwi/r_12_100.jpg"``, one per photo in the order of x (``fruit_frames`` reads
    them).

    Returns new arrays the caller may modify, and the list of class names (and of files). Files
    of the course's subset are checked against its checksums (verify=False uses differing files
    knowingly, e.g. a newer release); other files of the data set cannot be checked and are
    counted as such. There is no offline fallback: a training set of one packaged photo would
    teach nothing.
    """
    split_dir, names = _check_fruit_args(split, classes)
    copy = _fruit_copy(
        split_dir, names, data_dir=data_dir, allow_download=allow_download, verify=verify
    )
    manifest = fruit_manifest()
    parts, counts, known, files = [], [], 0, []
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
            files.extend(rels)
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
    if return_files:
        return x, y, names, files
    return x, y, names


def fruit_frames(files: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read from each photo's path the video it was cut from and its frame number.

    A video is named by its class and turn, e.g. ``"Kiwi"`` for the frames ``<n>_100.jpg`` and
    ``"Kiwi r"`` for ``r_<n>_100.jpg``, the second turn about another axis. The split folder is
    not part of the name: ``Training/`` and ``Test/`` hold frames of the same videos.

    **Shapes:** files: N paths ``"<Split>/<Class>/<file>"`` as ``load_fruits(return_files=True)``
    returns them → videos (N,) str, frames (N,) int64.

    Returns the two arrays; raises ValueError for a path that is not a Fruits-360 frame.
    """
    videos, frames = [], []
    for path in files:
        parts = str(path).replace("\\", "/").split("/")
        match = _FRAME_NAME.match(parts[-1]) if len(parts) >= 2 else None
        if match is None:
            raise ValueError(
                f"{path!r} is not a Fruits-360 frame: expected '<Split>/<Class>/<frame>_100.jpg' "
                "or '.../r_<frame>_100.jpg', as load_fruits(return_files=True) returns them."
            )
        videos.append(parts[-2] + (" r" if match["turn"] else ""))
        frames.append(int(match["frame"]))
    return np.array(videos, dtype=str), np.array(frames, dtype=np.int64)


def split_fruit_videos(
    files: Sequence[str],
    *,
    hold_out: dict[str, tuple[float, float]] | None = None,
    margin: int = 5,
) -> dict[str, np.ndarray]:
    """Split photos by video frames: hold out whole stretches of every video, train on the rest.

    Neighbouring frames of a video are near copies, so a random split of the photos would put
    twins of training photos into the held-out parts. Here each part of ``hold_out`` (default
    ``FRUIT_HOLD_OUT``: ``"val"`` from 30 % to 40 % of every video's frames, ``"test"`` from
    55 % to 65 %) takes a stretch of consecutive frames of every video, ``"train"`` the frames
    outside all stretches, and the ``margin`` frames on either side of a stretch go nowhere,
    so that no training photo is a direct neighbour of a held-out one.

    **Shapes:** files: N photo paths (see ``fruit_frames``) → {part: (n_part,) int64 indices
    into files, sorted}, with "train" first.

    Returns the index arrays; every photo is in at most one part.
    """
    hold_out = dict(FRUIT_HOLD_OUT if hold_out is None else hold_out)
    if "train" in hold_out:
        raise ValueError("'train' is what remains; name the held-out parts otherwise.")
    if margin < 0:
        raise ValueError(f"margin must not be negative, got {margin}.")
    stretches = sorted(hold_out.items(), key=lambda item: item[1])
    for name, (start, stop) in stretches:
        if not 0 <= start < stop <= 1:
            raise ValueError(
                f"hold_out[{name!r}] must be (start, stop) fractions with 0 <= start < stop <= 1; "
                f"got {(start, stop)}."
            )
    for (first, (_, stop)), (second, (start, _)) in zip(stretches, stretches[1:], strict=False):
        if start < stop:
            raise ValueError(f"The stretches {first!r} and {second!r} overlap.")
    videos, frames = fruit_frames(files)
    part = np.full(len(frames), "train", dtype=object)
    near = np.zeros(len(frames), dtype=bool)
    for video in np.unique(videos):
        mine = videos == video
        low, high = int(frames[mine].min()), int(frames[mine].max())
        length = high - low + 1
        for name, (start, stop) in stretches:
            # Rounded half up (Python's round() would round 27.5 and 28.5 both to 28).
            first = low + math.floor(start * length + 0.5)
            last = low + math.floor(stop * length + 0.5)
            held = mine & (frames >= first) & (frames < last)
            part[held] = name
            near |= mine & (frames >= first - margin) & (frames < last + margin) & ~held
    part[near & (part == "train")] = None
    names = ["train", *(name for name, _ in stretches)]
    return {name: np.flatnonzero(part == name).astype(np.int64) for name in names}


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
