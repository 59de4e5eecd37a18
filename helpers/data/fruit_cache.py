"""Keep Fruits-360 in the course cache: the release zip, and the classes unpacked from it.

Only the classes a load asks for are unpacked, each into a staging folder first, checked
photo by photo against the shipped manifest, then renamed into place: a class folder in the
cache is complete and verified, or absent.

The release zip that GitHub builds on request has no published checksum: its SHA-256 is
recorded on first download (so later damage is noticed), and every photo taken from it is
checked against the manifest before it enters the cache.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from .checksums import folder_hashes, sha256_file
from .fetch import atomic_write, download, unzip
from .fruit_copies import FolderCopy, ZipCopy, fruit_manifest, mismatches
from .sources import DataError, cache_dir, course_mirrors, how_to_fix

# The official release archive, pinned to one commit of the data set's repository (the commit
# TensorFlow Datasets names as release 2019.08.14.0). GitHub builds this zip on request, so its
# own bytes are not promised to stay identical: we record its SHA-256 on first download and
# check every member we use against the course's per-file manifest instead. The course's own
# mirrors (CNN_COURSE_MIRRORS, as <base>/fruits-360/<FRUITS_ARCHIVE_NAME>) are tried first.
FRUITS_ARCHIVE_URLS = ("https://github.com/Horea94/Fruit-Images-Dataset/archive/3a2533e.zip",)
FRUITS_ARCHIVE_NAME = "Fruit-Images-Dataset-3a2533e.zip"
FRUITS_ARCHIVE_SHA256: str | None = None


def cached_fruits(
    split_dir: str, names: Sequence[str], *, allow_download: bool, verify: bool
) -> FolderCopy:
    """Make sure our cache holds intact copies of the requested classes; return that copy."""
    root = cache_dir() / "fruits-360"
    copy = FolderCopy(root, f"{root} (course cache)", in_cache=True)
    todo = []
    for name in names:
        rels = copy.files(split_dir, name)
        if rels and verify and mismatches(copy, rels)[1]:
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
            for name in todo:
                _extract_class(archive, split_dir, name, root, verify=verify)
        finally:
            archive.close()
        copy.note = f"{root} (course cache, extracted from {archive.path.name})"
    return copy


def fruits_archive_urls() -> list[str]:
    """Return the URLs to try for the release zip: the course's mirrors, then the public ones."""
    mirrors = [base + "fruits-360/" + FRUITS_ARCHIVE_NAME for base in course_mirrors()]
    return mirrors + list(FRUITS_ARCHIVE_URLS)


def _cached_archive(allow_download: bool) -> ZipCopy:
    """Return the release zip from our cache, downloading it (and recording its hash) if needed."""
    folder = cache_dir() / "downloads"
    path = folder / FRUITS_ARCHIVE_NAME
    record = path.with_name(path.name + ".sha256")
    expected = FRUITS_ARCHIVE_SHA256
    if expected is None and record.is_file():
        expected = record.read_text().split()[0]
    if path.is_file():
        if expected is None or folder_hashes(folder, [path.name])[path.name] == expected:
            return ZipCopy(path, f"{path} (course cache)")
        warnings.warn(
            f"The cached archive {path} does not match its recorded SHA-256; it is deleted and "
            "downloaded again.",
            stacklevel=5,
        )
        path.unlink()
    if not allow_download:
        raise DataError(
            f"Fruits-360 is not in the course cache {folder} and downloading is switched off. "
            + how_to_fix()
        )
    download(FRUITS_ARCHIVE_NAME, fruits_archive_urls(), folder, sha256=expected)
    try:
        archive = ZipCopy(path, f"{path} (course cache, downloaded)")
    except DataError:
        path.unlink()  # ours, and useless: do not keep or vouch for it
        raise
    if expected is None:
        # First download: remember what arrived so that later damage to it is noticed.
        with atomic_write(record) as tmp:
            tmp.write_text(f"{sha256_file(path)}  {FRUITS_ARCHIVE_NAME}\n")
    return archive


def _extract_class(
    archive: ZipCopy, split_dir: str, name: str, root: Path, *, verify: bool
) -> None:
    """Unpack one class folder of the zip into the cache, checked and all-or-nothing."""
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
        unpacked = unzip(archive.path, archive.member_dir(split_dir, name), staging)
        manifest = fruit_manifest()
        for rel in rels:
            expected = manifest.get(rel)
            photo = unpacked / rel.rsplit("/", 1)[1]
            if verify and expected is not None and sha256_file(photo) != expected:
                raise DataError(
                    f"{archive.where(rel)} does not match the course's checksum: the archive "
                    "is damaged or differs from the course's release. Delete the folder "
                    f"{archive.path.parent} to download it again (with a fresh record of its "
                    "hash), or pass verify=False to use it knowingly."
                )
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(unpacked, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
