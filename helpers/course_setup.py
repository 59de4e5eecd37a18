"""Get a notebook ready for the course: the right version of ``helpers``, and the data it needs.

The setup cell at the top of every chapter and exercise (written by ``_ext/course.py``) ends
with::

    importlib.import_module("helpers.course_setup").prepare(COURSE, data=("mnist", "fruits"))

where ``COURSE`` describes the course's deployment (its version, website and data mirrors, as
``course.toml`` sets them). From a terminal, e.g. to fetch the data ahead of time on Binder::

    python -m helpers.course_setup --data mnist --data fruits [--mirror URL]...

The data comes through the course's loaders, so every file is checked against its checksum
and a download shows a progress bar; see :mod:`helpers.data` for where they look.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from helpers.data.fallback import describe_fallback
from helpers.data.fruits import ensure_fruits
from helpers.data.mnist import ensure_mnist
from helpers.data.sources import MIRRORS_ENV, DataError, named_root

DISTRIBUTION = "pixels-to-predictions"
SITE_ENV = "P2P_COURSE_SITE"  # replaces the course's site, e.g. a local `make serve`
# The data sets a notebook can ask for, each with the function that makes its files available
# (checked, downloaded when missing) and returns where they are.
DATASETS: dict[str, Callable[[], str]] = {"mnist": ensure_mnist, "fruits": ensure_fruits}


def installed_version() -> str | None:
    """Return the installed version of the course package, or None when run from a checkout."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return None


def version_warning(course: Mapping[str, Any]) -> str | None:
    """Return what to do when the installed package is not the course's version, else None."""
    wanted, installed = course.get("version"), installed_version()
    if not wanted or installed is None or installed == wanted:
        return None
    command = f"pip install {DISTRIBUTION}=={wanted}"
    site = os.environ.get(SITE_ENV) or course.get("site")
    if site:
        command += f" --find-links {site.rstrip('/')}/wheels/"
    return (
        f"Warning: this notebook was written for helpers {wanted}, but helpers {installed} is "
        "installed, so some cells may fail or give other results. To install the right "
        f"version, run\n    {command}\nin a terminal (or put %pip in front of it in a cell), "
        "then restart the kernel."
    )


# Packages a notebook kernel (Colab's, say) may have imported before the setup cell's pip run
# replaced them: module name -> distribution name.
RELOAD_SENSITIVE = {"numpy": "numpy", "matplotlib": "matplotlib", "torch": "torch", "PIL": "pillow"}


def stale_modules() -> list[str]:
    """Return the packages this process loaded before pip installed another version of them."""
    stale = []
    for module, distribution in RELOAD_SENSITIVE.items():
        loaded = sys.modules.get(module)
        if loaded is None or not hasattr(loaded, "__version__"):
            continue
        try:
            on_disk = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
        if str(loaded.__version__) != on_disk:
            stale.append(f"{distribution} {loaded.__version__} (now {on_disk} on disk)")
    return stale


def export_mirrors(mirrors: Sequence[str]) -> None:
    """Set CNN_COURSE_MIRRORS to the course's mirrors, unless the environment already names some."""
    if mirrors and not os.environ.get(MIRRORS_ENV):
        os.environ[MIRRORS_ENV] = " ".join(mirrors)


def ensure_data(name: str) -> str | None:
    """Make the data set `name` available; return where it is, or None after saying why not."""
    try:
        return DATASETS[name]()
    except DataError as err:
        if named_root(None) is not None:
            # A folder the student named is used or reported, never replaced by a stand-in.
            print(f"Problem with the {name} data: {err}", file=sys.stderr)
        else:
            print(
                f"The {name} data is not available (offline?): {err}\n"
                f"Until it is, {describe_fallback(name)}.",
                file=sys.stderr,
            )
        return None


def _prepare(course: Mapping[str, Any], data: Sequence[str]) -> bool:
    """Do what `prepare` does; return True when every data set asked for is available."""
    names = [data] if isinstance(data, str) else list(data)
    unknown = [name for name in names if name not in DATASETS]
    if unknown:
        raise ValueError(
            f"Unknown data set {', '.join(map(repr, unknown))}: choose among "
            f"{', '.join(map(repr, DATASETS))}."
        )
    warning = version_warning(course)
    if warning:
        print(warning, file=sys.stderr)
    stale = stale_modules()
    if stale:
        print(
            f"Restart the kernel (on Colab: Runtime > Restart session), then run this cell again: "
            f"the course installed other versions of packages already in use: {', '.join(stale)}.",
            file=sys.stderr,
        )
    export_mirrors(course.get("mirrors") or ())
    version = installed_version()
    ready = [f"helpers {version}" if version else f"helpers from {Path(__file__).parent}"]
    complete = True
    for name in names:
        where = ensure_data(name)
        complete = complete and where is not None
        ready.append(f"{name} from {where}" if where else f"{name}: NOT AVAILABLE (see above)")
    print("Ready: " + "; ".join(ready))
    return complete


def prepare(course: Mapping[str, Any], *, data: Sequence[str] = ()) -> None:
    """Check the package version, export the course's mirrors and fetch the named data sets.

    `course` holds at least "version" and "site" (for the advice when versions differ) and
    "mirrors" (base URLs); `data` names data sets among "mnist" and "fruits". Prints one
    "Ready: ..." line saying where each data set came from; offline, it says what the loaders
    will use instead and how to fix it, and raises nothing.
    """
    _prepare(course, data)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return 0 when every data set asked for is available, else 1."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.course_setup",
        description="Fetch the course's data sets into its cache, checked against their "
        "checksums, and say where they came from.",
    )
    parser.add_argument(
        "--data", action="append", default=[], choices=list(DATASETS), help="a data set to fetch"
    )
    parser.add_argument(
        "--mirror",
        action="append",
        default=[],
        metavar="URL",
        help="a base URL serving mnist/<file> and fruits-360/<release zip>, tried before the "
        f"public mirrors (and before those already in ${MIRRORS_ENV})",
    )
    args = parser.parse_args(argv)
    if args.mirror:
        mirrors = [*args.mirror, *os.environ.get(MIRRORS_ENV, "").split()]
        os.environ[MIRRORS_ENV] = " ".join(mirrors)
    return 0 if _prepare({}, args.data) else 1


if __name__ == "__main__":
    sys.exit(main())
