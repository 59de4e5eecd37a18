"""Bring files into the course cache with pooch: download from mirrors, verify, unpack.

pooch downloads each file to a temporary name beside its destination, checks its SHA-256 and
only then renames it into place, so the cache never holds a half-written or unverified file.
pooch tries one URL per file, so `download` walks the list of mirrors itself and turns each
failure into a sentence a student can act on. The course's own small files (hash books,
decoded arrays) go through `atomic_write` for the same all-or-nothing promise.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pooch

from .sources import DataError, how_to_fix


@contextmanager
def atomic_write(dest: Path) -> Iterator[Path]:
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


class _NoHashHint(logging.Filter):
    """Drop pooch's advice to pin an unknown hash: it speaks to pooch users, not students."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("SHA256 hash of downloaded file")


@contextmanager
def _without_hash_hint() -> Iterator[None]:
    hint_filter = _NoHashHint()
    logger = pooch.get_logger()
    logger.addFilter(hint_filter)
    try:
        yield
    finally:
        logger.removeFilter(hint_filter)


def _incomplete_read(err: BaseException) -> tuple[int, int] | None:
    """Find the (bytes read, bytes missing) of the IncompleteRead that requests wraps twice."""
    for inner in err.args:
        if isinstance(inner, BaseException):
            partial, missing = getattr(inner, "partial", None), getattr(inner, "expected", None)
            if isinstance(partial, int) and isinstance(missing, int):
                return partial, missing
            found = _incomplete_read(inner)
            if found is not None:
                return found
    return None


def _damage(err: Exception) -> str | None:
    """Say what was wrong with a download that arrived but cannot be used; None if none came."""
    if isinstance(err, ValueError):  # pooch's verdict on a checksum mismatch
        return "wrong SHA-256 checksum"
    counts = _incomplete_read(err)
    if counts is None:
        return None
    partial, missing = counts
    return f"the connection broke after {partial:,} of {partial + missing:,} bytes"


def _unreachable(err: Exception) -> str:
    """Say in words why a mirror gave nothing at all."""
    # requests' errors carry the request; those without a response never reached a server.
    if hasattr(err, "request") and getattr(err, "response", None) is None:
        return f"cannot be reached (offline, or the site is down): {err}"
    return str(err)  # e.g. "404 Client Error: Not Found for url: …", or a cache we cannot write


def download(name: str, urls: Sequence[str], folder: Path, *, sha256: str | None = None) -> Path:
    """Download `name` into `folder` from the first URL that serves it intact; return its path.

    With `sha256` given, pooch verifies the file before it appears under its name; without it
    the file is taken as served (the caller records its hash). A mirror that serves a damaged
    file is reported with a warning and the next one is tried; when every mirror fails,
    DataError lists why and says what to do. A progress bar is shown when tqdm is installed.
    """
    progressbar = importlib.util.find_spec("tqdm") is not None
    downloader = pooch.HTTPDownloader(progressbar=progressbar, chunk_size=1 << 20, timeout=60)
    known_hash = None if sha256 is None else f"sha256:{sha256}"
    failures = []
    for url in urls:
        try:
            with _without_hash_hint():
                fetched = pooch.retrieve(
                    url,
                    known_hash,
                    fname=name,
                    path=folder,
                    # pooch's Downloader protocol names its parameters unlike its own classes.
                    downloader=downloader,  # pyright: ignore[reportArgumentType]
                )
            return Path(fetched)
        except (ValueError, OSError) as err:  # requests' errors are OSErrors too
            damage = _damage(err)
            if damage is None:
                failures.append(f"{url}: {_unreachable(err)}")
                continue
            message = f"{url} served a damaged copy of {name} ({damage}); it was discarded"
            warnings.warn(message, stacklevel=3)
            failures.append(message)
    raise DataError(
        f"Could not download {name}; every mirror failed:\n  "
        + "\n  ".join(failures)
        + "\n"
        + how_to_fix()
    )


def unzip(archive: Path, member_dir: str, into: Path) -> Path:
    """Unpack the folder `member_dir` of the zip `archive` under `into`; return that folder.

    pooch.Unzip picks members by name prefix, so a sibling folder whose name starts the same
    way ("Lemon Meyer" beside "Lemon") is unpacked too: use only the folder returned.
    """
    unpack = pooch.Unzip(members=[member_dir], extract_dir=str(into))
    try:
        unpack(str(archive), "download", None)
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise DataError(
            f"{archive} cannot be unpacked ({err}): the zip is damaged. Delete the folder "
            f"{archive.parent} and load again to download a fresh copy."
        ) from err
    return into / member_dir
