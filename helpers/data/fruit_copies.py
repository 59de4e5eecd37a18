"""Find a copy of Fruits-360 and check its photos against the course's shipped checksums.

A copy is a folder in the data set's own layout (``Training/<Class>/*.jpg``, ``Test/...``) or a
release zip read in place. Both answer the same questions (which classes, which files, their
hashes, their bytes), so the loaders need not care which one they hold.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .checksums import HashBook, folder_hashes, sha256_bytes
from .sources import DataError, how_to_fix

FRUITS_MANIFEST = "fruits-360-subset.sha256"


@lru_cache(maxsize=1)
def fruit_manifest() -> dict[str, str]:
    """Return the shipped SHA-256 of every file of the course's 8-class subset, by relative path."""
    text = (resources.files("helpers.data") / "manifests" / FRUITS_MANIFEST).read_text()
    manifest = {}
    for line in text.splitlines():
        if line.strip():
            digest, rel = line.split("  ", 1)
            manifest[rel] = digest
    return manifest


class FolderCopy:
    """A Fruits-360 copy in the data set's own layout: <root>/Training/<Class>/*.jpg."""

    def __init__(self, root: Path, note: str, *, in_cache: bool = False) -> None:
        self.root, self.note, self.in_cache = root, note, in_cache

    def classes(self, split_dir: str) -> list[str]:
        """Return the class names in `split_dir` ("Training" or "Test"), sorted."""
        base = self.root / split_dir
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    def files(self, split_dir: str, name: str) -> list[str]:
        """Return the photos of one class as sorted 'Split/Class/file' paths."""
        folder = self.root / split_dir / name
        if not folder.is_dir():
            return []
        return sorted(
            f"{split_dir}/{name}/{p.name}"
            for p in folder.iterdir()
            if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.is_file()
        )

    def hashes(self, rels: Sequence[str]) -> dict[str, str]:
        """Return the SHA-256 of each photo, hashing only files that changed."""
        return folder_hashes(self.root, rels)

    def read(self, rel: str) -> bytes:
        """Return the bytes of one photo."""
        return (self.root / rel).read_bytes()

    def where(self, rel: str) -> str:
        """Return where one photo lives, for messages."""
        return str(self.root / rel)

    def close(self) -> None:
        """Release nothing: a folder holds no open files."""


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


class ZipCopy:
    """A Fruits-360 release zip, read member by member without unpacking it."""

    def __init__(self, path: Path, note: str) -> None:
        self.path, self.note = path, note
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
        """Return the class names in `split_dir` ("Training" or "Test"), sorted."""
        return sorted(
            {rel.split("/")[1] for rel in self.members if rel.startswith(split_dir + "/")}
        )

    def files(self, split_dir: str, name: str) -> list[str]:
        """Return the photos of one class as sorted 'Split/Class/file' paths."""
        prefix = f"{split_dir}/{name}/"
        return sorted(rel for rel in self.members if rel.startswith(prefix))

    def member_dir(self, split_dir: str, name: str) -> str:
        """Return the zip's folder of one class, e.g. 'fruits-360/Test/Lemon'."""
        return self.members[self.files(split_dir, name)[0]].rsplit("/", 1)[0]

    def hashes(self, rels: Sequence[str]) -> dict[str, str]:
        """Return the SHA-256 of each photo, hashing only members not seen before."""
        # A member's size and CRC-32 stamp its content, like size and mtime stamp a file.
        st = self.path.stat()
        book = HashBook(f"zip:{self.path.resolve()}:{st.st_size}:{st.st_mtime_ns}")
        out = {}
        for rel in rels:
            info = self.zf.getinfo(self.members[rel])
            stamp = [info.file_size, info.CRC]
            digest = book.get(rel, stamp)
            if digest is None:
                digest = sha256_bytes(self.read(rel))
                book.put(rel, stamp, digest)
            out[rel] = digest
        book.save()
        return out

    def read(self, rel: str) -> bytes:
        """Return the bytes of one photo, or raise DataError if the zip is damaged."""
        try:
            return self.zf.read(self.members[rel])
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as err:
            raise DataError(
                f"{self.where(rel)} cannot be read from the zip ({err}): the zip is damaged. "
                "Get a fresh copy of it."
            ) from err

    def where(self, rel: str) -> str:
        """Return where one photo lives ('archive.zip::member'), for messages."""
        return f"{self.path}::{self.members[rel]}"

    def close(self) -> None:
        """Close the zip file."""
        self.zf.close()


FruitCopy = FolderCopy | ZipCopy


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


def named_fruits(root: Path, how: str) -> FruitCopy:
    """Find a Fruits-360 copy (folder layout or release zip) in the folder the user named."""
    if root.is_file() and root.suffix.lower() == ".zip":
        return ZipCopy(root, f"{root} (named by {how})")
    if not root.is_dir():
        raise DataError(f"The folder {root} (named by {how}) does not exist. " + how_to_fix())
    # The course's layout first (<root>/fruits-360/Training), then a release unpacked a few
    # folders deep, then <root> itself, then a release zip in either place.
    layout = _find_layout_dir(root / "fruits-360", depth=3) or _find_layout_dir(root, depth=0)
    if layout is not None:
        return FolderCopy(layout, f"{layout} (named by {how})")
    for folder in (root / "fruits-360", root):
        zips = sorted(folder.glob("*.zip")) if folder.is_dir() else []
        if zips:
            return ZipCopy(zips[0], f"{zips[0]} (named by {how})")
    raise DataError(
        f"No Fruits-360 data found in {root} (named by {how}). Expected a folder fruits-360/ "
        "holding Training/<Class>/*.jpg and Test/<Class>/*.jpg, or the data set's release zip. "
        + how_to_fix()
    )


def mismatches(copy: FruitCopy, rels: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """Return the SHA-256 of each file and the files that differ from the shipped manifest."""
    manifest = fruit_manifest()
    digests = copy.hashes(rels)
    bad = [rel for rel in rels if manifest.get(rel, digests[rel]) != digests[rel]]
    return digests, bad


def verified_hashes(copy: FruitCopy, rels: Sequence[str]) -> dict[str, str]:
    """Hash `rels` and compare with the shipped manifest; raise naming the first bad file."""
    digests, bad = mismatches(copy, rels)
    if bad:
        rel = bad[0]
        if isinstance(copy, FolderCopy) and copy.in_cache:
            advice = f"Delete the folder {copy.root} and load again."
        else:
            advice = (
                "Replace it with a fresh copy of the data set (this loader does not change your "
                "files), or pass verify=False to use a different release knowingly."
            )
        raise DataError(
            f"{copy.where(rel)} is corrupt or not the course's version of this image: SHA-256 "
            f"{digests[rel]}, expected {fruit_manifest()[rel]} ({len(bad)} such file(s) in "
            f"this class). {advice}"
        )
    return digests
