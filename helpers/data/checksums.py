"""Hash files once: SHA-256 digests remembered by file size and modification time.

A folder of 5,000 photos or a 10 MB MNIST file is hashed on its first load only. Later loads in
the same process find the digest in memory; later processes find it in a small JSON "hash book"
in the course cache, one per folder, valid as long as the file's size and mtime are unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import pooch

from .fetch import atomic_write
from .sources import cache_dir


def sha256_bytes(data: bytes) -> str:
    """Return the SHA-256 hex digest of `data`."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Return the SHA-256 hex digest of the file at `path`, read in chunks."""
    return pooch.file_hash(str(path), alg="sha256")


class HashBook:
    """Remember file hashes by a stamp (e.g. size and mtime) so nothing is re-hashed needlessly."""

    def __init__(self, root_key: str) -> None:
        name = sha256_bytes(root_key.encode())[:20]
        self.path = cache_dir() / "hashes" / f"{name}.json"
        self.entries: dict[str, list] = {}
        self.dirty = False
        try:
            self.entries = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.entries = {}

    def get(self, rel: str, stamp: list) -> str | None:
        """Return the digest recorded for `rel` if it was recorded with this same stamp."""
        entry = self.entries.get(rel)
        if entry is not None and entry[:-1] == stamp:
            return entry[-1]
        return None

    def put(self, rel: str, stamp: list, digest: str) -> None:
        """Record the digest of `rel` under its current stamp."""
        self.entries[rel] = [*stamp, digest]
        self.dirty = True

    def save(self) -> None:
        """Write the book back if anything was added."""
        if not self.dirty:
            return
        try:
            with atomic_write(self.path) as tmp:
                tmp.write_text(json.dumps(self.entries))
        except OSError:
            pass  # a read-only cache only costs speed, never correctness
        self.dirty = False


_MEMO_HASHES: dict[tuple, str] = {}


def folder_hashes(root: Path, rels: Sequence[str]) -> dict[str, str]:
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
                book = HashBook(str(root.resolve()))
            digest = book.get(rel, stamp)
            if digest is None:
                digest = sha256_file(root / rel)
                book.put(rel, stamp, digest)
            _MEMO_HASHES[memo_key] = digest
        out[rel] = digest
    if book is not None:
        book.save()
    return out
