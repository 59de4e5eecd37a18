"""Read the gradebook back: grades as CSV, a per-assignment summary, and who is missing.

:func:`grade_table` and :func:`status_table` only read (the gradebook, the grading
records, the ledger); :func:`score_histogram` is a pure plotting function.
"""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402
from nbgrader.api import Gradebook  # noqa: E402

from grader.autograde import Course  # noqa: E402
from grader.gradebook import Ledger, verify  # noqa: E402
from grader.late import Policy, iso, lateness, load_policy  # noqa: E402


def records(course: Course) -> dict[tuple[str, str], list[dict]]:
    """Return the latest grading records, keyed by (assignment, student)."""
    found: dict[tuple[str, str], list[dict]] = {}
    root = course.grading / "results"
    for path in sorted(root.glob("*/*/*.json")) if root.is_dir() else []:
        rec = json.loads(path.read_text())
        found.setdefault((rec["assignment"], rec["student"]), []).append(rec)
    return found


def grade_table(course: Course, policy: Policy | None = None) -> list[dict]:
    """Return one row per student × assignment with the gradebook's score and the checks.

    ``score`` is the gradebook's raw score; ``late_penalty`` and ``final_score`` apply the
    late policy (``grading/late.toml`` unless ``policy`` is given) to the time stamped on
    the submission, without changing the gradebook.
    """
    policy = policy if policy is not None else load_policy(course.grading / "late.toml")
    recs = records(course)
    changed = {line.split(":")[0].rsplit("/", 2)[0] for line in _tampered(course)}
    rows = []
    with Gradebook(course.db_url) as gb:
        for assignment in gb.assignments:
            for sub in assignment.submissions:
                key = (str(assignment.name), str(sub.student.id))
                mine = recs.get(key, [])
                cross = [
                    r["crosscheck_score"] for r in mine if r.get("crosscheck_score") is not None
                ]
                folder = course.submitted / key[1] / key[0]
                late = lateness(policy, key[1], key[0], folder, sub.score, sub.max_score)
                rows.append(
                    {
                        "student": sub.student.id,
                        "assignment": assignment.name,
                        "score": sub.score,
                        "max_score": sub.max_score,
                        "crosscheck_score": sum(cross) if cross else "",
                        "flagged": "; ".join(f for r in mine for f in r.get("flags", [])),
                        "changed_outside_grading": "yes"
                        if any(k.startswith(f"{assignment.name}/{sub.student.id}") for k in changed)
                        else "",
                        "late": late.describe() if late.seconds_late else "",
                        "late_penalty": late.penalty,
                        "final_score": round(sub.score - late.penalty, 6),
                        "submitted_at": iso(late.submitted),
                        "due": iso(late.due),
                        "extension": late.extension,
                    }
                )
    return rows


def _tampered(course: Course) -> list[str]:
    if not course.db_path.exists():
        return []
    return verify(course.db_url, Ledger(course.grading))


def write_csv(rows: list[dict], path: Path) -> None:
    """Write the grade table as CSV, one row per student × assignment."""
    fields = [
        "student",
        "assignment",
        "score",
        "max_score",
        "crosscheck_score",
        "flagged",
        "changed_outside_grading",
        "late",
        "late_penalty",
        "final_score",
        "submitted_at",
        "due",
        "extension",
    ]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def summary(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Return {assignment: {n, mean, median, min, max, max_score}} over graded rows."""
    result = {}
    for assignment in sorted({r["assignment"] for r in rows}):
        scores = [float(r["score"]) for r in rows if r["assignment"] == assignment]
        result[assignment] = {
            "n": len(scores),
            "mean": round(statistics.fmean(scores), 2),
            "median": round(statistics.median(scores), 2),
            "min": min(scores),
            "max": max(scores),
            "max_score": max(float(r["max_score"]) for r in rows if r["assignment"] == assignment),
        }
    return result


def score_histogram(scores: list[float], max_score: float, title: str) -> Figure:
    """Plot the distribution of one assignment's scores with its mean and median."""
    fig = Figure(figsize=(6, 3.5))
    ax = fig.add_subplot()
    bins = min(20, max(5, int(max_score) or 5))
    ax.hist(scores, bins=bins, range=(0, max_score or 1), color="#4c72b0", edgecolor="white")
    if scores:
        ax.axvline(
            statistics.fmean(scores), color="#dd8452", label=f"mean {statistics.fmean(scores):.1f}"
        )
        ax.axvline(
            statistics.median(scores),
            color="#55a868",
            ls="--",
            label=f"median {statistics.median(scores):.1f}",
        )
        ax.legend(loc="upper left")
    ax.set_xlabel(f"score (out of {max_score:g})")
    ax.set_ylabel("students")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def _late_line(
    policy: Policy, student: str, assignment: str, folder: Path, mine: list[dict]
) -> list[str]:
    """Return the status line of a late submission ([] if it was on time)."""
    graded = [r for r in mine if r["status"] == "graded"]
    score = sum(r["score"] for r in graded)
    max_score = sum(r["max_score"] for r in graded)
    late = lateness(policy, student, assignment, folder, score, max_score)
    if not late.seconds_late:
        return []
    extension = f", extension {late.extension}" if late.extension else ""
    cost = f"penalty {late.penalty:g}/{max_score:g}" if graded else "penalty once graded"
    return [
        f"{assignment}: {student}: {late.describe()} late (due {iso(late.due)}{extension}), {cost}"
    ]


def status_table(course: Course) -> dict[str, list[str]]:
    """Return lists of lines: missing, rejected, failed, flagged, late, similar, changed."""
    recs = records(course)
    students = set()
    if course.submitted.is_dir():
        students |= {p.name for p in course.submitted.iterdir() if p.is_dir()}
    if course.db_path.exists():
        with Gradebook(course.db_url) as gb:
            students |= {s.id for s in gb.students}
    out: dict[str, list[str]] = {
        k: [] for k in ("missing", "not graded yet", "rejected", "failed", "flagged", "late")
    }
    policy = load_policy(course.grading / "late.toml")
    for assignment in course.assignments():
        for student in sorted(students):
            folder = course.submitted / student / assignment
            mine = recs.get((assignment, student))
            if not folder.is_dir():
                out["missing"].append(f"{assignment}: {student} handed nothing in")
            elif not mine:
                out["not graded yet"].append(f"{assignment}: {student}")
            for rec in mine or []:
                if rec["status"] in ("rejected", "failed"):
                    out[rec["status"]].append(f"{assignment}: {student}: {rec['reason']}")
                for flag in rec.get("flags", []):
                    out["flagged"].append(f"{assignment}: {student}: {flag}")
            if folder.is_dir():
                out["late"] += _late_line(policy, student, assignment, folder, mine or [])
    from grader.similarity import saved

    out["similar pairs"] = saved(course)
    out["changed outside grading"] = _tampered(course)
    return out
