"""Write scores into nbgrader's gradebook, one writer at a time, and seal them.

Only the grading command's main process writes the gradebook (student code never sees
it). Every score it writes is also recorded in a sealed ledger (an HMAC with a key that
stays on the grading machine), so :func:`verify` can tell which scores changed outside
grading: a hand edit of ``gradebook.db``, a script, a manual grade nobody re-sealed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nbgrader.api import Gradebook, MissingEntry


@contextlib.contextmanager
def locked(db_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the gradebook (across processes and machines sharing it)."""
    lock = db_path.with_name(db_path.name + ".lock")
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Ledger:
    """Sealed copies of every score the grader wrote."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / "ledger.json"
        key_path = folder / ".ledger-key"
        if not key_path.exists():
            key_path.write_bytes(os.urandom(32))
            key_path.chmod(0o600)
        self.key = key_path.read_bytes()
        self.entries: dict[str, dict] = (
            json.loads(self.path.read_text()) if self.path.exists() else {}
        )

    def seal(self, key: str, auto: float | None, manual: float | None) -> dict:
        """Return the sealed entry of one score (its values and their HMAC)."""
        message = json.dumps([key, auto, manual]).encode()
        mac = hmac.new(self.key, message, hashlib.sha256).hexdigest()
        return {"auto": auto, "manual": manual, "mac": mac}

    def record(self, key: str, auto: float | None, manual: float | None) -> None:
        """Seal one score into the ledger (in memory; :meth:`save` writes it)."""
        self.entries[key] = self.seal(key, auto, manual)

    def save(self) -> None:
        """Write the ledger to disk atomically."""
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.entries, indent=0, sort_keys=True))
        tmp.replace(self.path)


def grade_key(assignment: str, student: str, notebook: str, grade_id: str) -> str:
    """Return the ledger's key of one graded cell of one student's notebook."""
    return f"{assignment}/{student}/{notebook}/{grade_id}"


def write_scores(
    db_url: str,
    ledger: Ledger,
    *,
    assignment: str,
    student: str,
    notebook: str,
    cells: dict[str, list[float]],
    timestamp: datetime | None = None,
) -> None:
    """Store one notebook's autograded scores (the assignment must be released)."""
    with Gradebook(db_url) as gb, warnings.catch_warnings():
        # nbgrader's add_submission trips SQLAlchemy's autoflush warnings; they are harmless.
        warnings.simplefilter("ignore")
        gb.update_or_create_student(student)
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            submission = gb.add_submission(assignment, student)
        stamp = timestamp or datetime.now(UTC).replace(tzinfo=None)
        # nbgrader declares its models' fields as SQLAlchemy columns; instances hold values.
        submission.timestamp = stamp  # pyright: ignore[reportAttributeAccessIssue]
        for grade in gb.find_submission_notebook(notebook, assignment, student).grades:
            if grade.name in cells:
                grade.auto_score = cells[grade.name][0]
            ledger.record(
                grade_key(assignment, student, notebook, grade.name),
                grade.auto_score,
                grade.manual_score,
            )
        gb.db.commit()
    ledger.save()


def _grades(gb: Gradebook) -> Iterator[tuple[str, Any]]:
    """Yield (ledger key, grade) for every graded cell of every submission in ``gb``."""
    for assignment in gb.assignments:
        for submission in assignment.submissions:
            for nb in submission.notebooks:
                for grade in nb.grades:
                    names = (assignment.name, submission.student.id, nb.name, grade.name)
                    yield grade_key(*map(str, names)), grade


def verify(db_url: str, ledger: Ledger) -> list[str]:
    """Return one line per score that differs from what the grader sealed."""
    problems = []
    seen = set()
    with Gradebook(db_url) as gb:
        for key, grade in _grades(gb):
            seen.add(key)
            entry = ledger.entries.get(key)
            if entry is None:
                problems.append(f"{key}: score written outside grading")
                continue
            sealed = ledger.seal(key, entry["auto"], entry["manual"])
            if not hmac.compare_digest(sealed["mac"], entry["mac"]):
                problems.append(f"{key}: the ledger entry itself was edited")
            elif (grade.auto_score, grade.manual_score) != (entry["auto"], entry["manual"]):
                problems.append(
                    f"{key}: changed outside grading (sealed auto={entry['auto']}, "
                    f"manual={entry['manual']}; now auto={grade.auto_score}, "
                    f"manual={grade.manual_score})"
                )
    for key in sorted(set(ledger.entries) - seen):
        problems.append(f"{key}: deleted from the gradebook")
    return problems


def reseal(db_url: str, ledger: Ledger) -> int:
    """Accept the gradebook as it is now (after manual grading); return the entries sealed."""
    count = 0
    ledger.entries = {}
    with Gradebook(db_url) as gb:
        for key, grade in _grades(gb):
            ledger.record(key, grade.auto_score, grade.manual_score)
            count += 1
    ledger.save()
    return count
