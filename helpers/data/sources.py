"""Say where the data comes from: the folders to look in, the cache, and where each load came from.

The search order, first match wins: the folder passed as ``data_dir=``, the folder named by
``CNN_COURSE_DATA``, the course's cache (``CNN_COURSE_CACHE`` or the user cache folder), a
download into that cache, and last the announced offline fallback. Downloads try the course's
own mirrors first (the base URLs in ``CNN_COURSE_MIRRORS``, space separated, each serving
``mnist/<file>`` and ``fruits-360/<release zip>``), then the public ones.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

DATA_ENV = "CNN_COURSE_DATA"
CACHE_ENV = "CNN_COURSE_CACHE"
MIRRORS_ENV = "CNN_COURSE_MIRRORS"
APP_NAME = "pixels-to-predictions"


class DataError(ValueError, RuntimeError):
    """A data file is missing, corrupt or unreadable; the message says what to do."""


class DataFallbackWarning(UserWarning):
    """The real data set could not be found, so a smaller packaged substitute is used."""


def cache_dir() -> Path:
    """Return the course's cache folder (CNN_COURSE_CACHE if set, else the user cache)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    # appauthor=False keeps the Windows folder one level shallower, where earlier releases put it.
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def course_mirrors() -> list[str]:
    """Return the base URLs listed in CNN_COURSE_MIRRORS, in order, each ending in "/"."""
    # A course's setup cell exports its mirrors here (helpers.course_setup), so every loader
    # in the kernel tries them before the public mirrors.
    return [url.rstrip("/") + "/" for url in os.environ.get(MIRRORS_ENV, "").split()]


def named_root(data_dir: str | os.PathLike | None) -> tuple[Path, str] | None:
    """Return the folder the user named (argument first, then env var) and how it was named."""
    if data_dir is not None:
        return Path(data_dir).expanduser(), "data_dir="
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser(), f"${DATA_ENV}"
    return None


def how_to_fix() -> str:
    """Return the sentence every 'data not found' message ends with."""
    return (
        f"To fix it: pass data_dir= or set the environment variable {DATA_ENV} to a folder "
        "holding mnist/ and fruits-360/, or connect to the internet so the course can "
        f"download the data into its cache ({cache_dir()})."
    )


_SOURCES: dict[str, str] = {}


def note_source(key: str, text: str) -> None:
    """Remember where the data of `key` (e.g. "mnist/train") came from this time."""
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
