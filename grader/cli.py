"""The instructor's command: ``python -m grader VERB …`` (run it from the course root).

Verbs, in the order of a term:

- ``release [A …]``      generate the student versions (exercises/) and register them;
  ``--exchange`` also publishes them (``nbgrader release_assignment``)
- ``collect A --from D``  take submissions from a folder of ``<student>.ipynb``/``.zip``/folders
  ``collect A``           … or from the nbgrader exchange (``nbgrader collect``)
- ``autograde [A …]``     grade everyone (or ``--student S``) in sandboxes, ``--jobs N`` at once
- ``merge``               write results graded elsewhere (``--no-gradebook``) into the gradebook
- ``feedback [A …]``      HTML feedback per student, checked to never show hidden tests;
  ``--release`` also publishes it (``nbgrader release_feedback``)
- ``similarity A``        pairs of submissions with alike answers, one HTML/JSON report (no grades)
- ``grades``              grades.csv, a summary per assignment and a histogram of each
- ``status``              who is missing, who failed to grade and why, what is flagged,
  which scores changed outside grading

``python -m grader VERB --help`` lists each verb's options.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from grader.autograde import Course, Settings, autograde, load_course, store
from grader.sandbox import Limits, available

# Matched whole (re.fullmatch): `$` alone would accept a name ending in a newline.
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")
MAX_ZIP_BYTES = 200 * 2**20
MAX_ZIP_FILES = 200


def nbgrader(course: Course, *args: str) -> int:
    """Run an nbgrader command in the course root (nbgrader only reads the config there)."""
    command = [sys.executable, "-m", "nbgrader", *args]
    print("$", " ".join(["nbgrader", *args]), flush=True)
    return subprocess.call(command, cwd=course.root)


def source_assignments(course: Course) -> list[str]:
    """Return the assignments of the source folder (folders holding a notebook)."""
    return sorted(p.name for p in course.source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


# --- release -------------------------------------------------------------------------------


# nbgrader copies every file of a source folder into the student release: a trained
# network left there would hand students the instructor's answer to the capstone.
NEVER_RELEASED = ("*.pt", "*.pth", "*.ckpt", "*.onnx", "*.safetensors")


def cmd_release(course: Course, args: argparse.Namespace) -> int:
    """``release``: generate the student versions, unless a model file would be published."""
    names = args.assignments or source_assignments(course)
    leaks = sorted(
        str(p.relative_to(course.root))
        for name in names
        for pattern in NEVER_RELEASED
        for p in (course.source / name).rglob(pattern)
    )
    if leaks:
        print(
            f"release: {', '.join(leaks)} would be published to students; move reference "
            "files to grading/reference/<assignment>/ (the grader reads them there).",
            file=sys.stderr,
        )
        return 1
    for name in names:
        if nbgrader(course, "generate_assignment", name, "--force") != 0:
            print(f"release: nbgrader could not generate {name}", file=sys.stderr)
            return 1
        # Publishing again replaces the published version; fetched copies stay as they are.
        if args.exchange and nbgrader(course, "release_assignment", name, "--force") != 0:
            print(f"release: nbgrader could not publish {name} to the exchange", file=sys.stderr)
            return 1
    return 0


# --- collect -------------------------------------------------------------------------------


def _safe_extract(archive: Path, dest: Path) -> str:
    """Extract a student's zip into ``dest``; return '' or the reason it was refused."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) > MAX_ZIP_FILES or sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                return f"{archive.name} is too big ({len(members)} files)"
            names = [Path(m.filename) for m in members]
            if any(n.is_absolute() or ".." in n.parts for n in names):
                return f"{archive.name} contains paths outside its folder"
            # A zip of one folder is unpacked without that folder.
            tops = {n.parts[0] for n in names if len(n.parts) > 1}
            strip = len(tops) == 1 and all(len(n.parts) > 1 for n in names)
            dest.mkdir(parents=True, exist_ok=True)
            for member, name in zip(members, names, strict=True):
                if (member.external_attr >> 16) & 0o170000 == 0o120000:
                    continue  # symlinks are never unpacked
                rel = Path(*name.parts[1:]) if strip else name
                if "__MACOSX" in rel.parts:
                    continue
                target = dest / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
    except zipfile.BadZipFile:
        return f"{archive.name} is not a valid zip file"
    return ""


def _one_entry_per_student(
    folder: Path, assignment: str, problems: list[str]
) -> list[tuple[str, Path]]:
    """Return (student id, entry) for each usable student of ``folder``; report the rest."""
    by_student: dict[str, list[Path]] = {}
    for entry in sorted(folder.iterdir()):
        student = entry.stem if entry.is_file() else entry.name
        student = student.removesuffix(f"_{assignment}").removesuffix(f"-{assignment}")
        if not STUDENT_ID.fullmatch(student):
            problems.append(f"{entry.name!r}: {student!r} is not a usable student id")
            continue
        by_student.setdefault(student, []).append(entry)
    chosen = []
    for student, entries in sorted(by_student.items()):
        if len(entries) > 1:
            # Neither is more likely the one meant: taking one would silently drop the other.
            names = ", ".join(e.name for e in entries)
            problems.append(
                f"{student}: {names} are all submissions of {student}; none was collected "
                f"(keep one of them in {folder} and collect again)"
            )
        else:
            chosen.append((student, entries[0]))
    return chosen


def collect_folder(course: Course, assignment: str, folder: Path) -> tuple[list[str], list[str]]:
    """Copy submissions named by student into submitted/; return (students, problems)."""
    notebooks = course.notebooks(assignment)
    if not notebooks:
        raise SystemExit(
            f"{assignment} is not released (no notebook in {course.release / assignment})"
        )
    taken, problems = [], []
    for student, entry in _one_entry_per_student(folder, assignment, problems):
        if entry.is_symlink():
            problems.append(f"{entry.name}: links are not collected")
            continue
        dest = course.submitted / student / assignment
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        if entry.suffix == ".ipynb":
            shutil.copyfile(entry, dest / notebooks[0])
        elif entry.suffix == ".zip":
            reason = _safe_extract(entry, dest)
            if reason:
                problems.append(f"{student}: {reason}")
        elif entry.is_dir():
            for path in entry.rglob("*"):
                if path.is_file() and not path.is_symlink():
                    target = dest / path.relative_to(entry)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
        else:
            problems.append(f"{entry.name}: not a notebook, zip or folder")
            shutil.rmtree(dest)
            continue
        if len(notebooks) == 1 and not (dest / notebooks[0]).exists():
            found = sorted(dest.glob("*.ipynb"))
            if len(found) == 1:
                found[0].rename(dest / notebooks[0])
        stamp = datetime.fromtimestamp(entry.stat().st_mtime, UTC)
        (dest / "timestamp.txt").write_text(stamp.strftime("%Y-%m-%d %H:%M:%S.%f"))
        taken.append(student)
    return taken, problems


def cmd_collect(course: Course, args: argparse.Namespace) -> int:
    """``collect``: take submissions from a folder, or from the nbgrader exchange."""
    if args.source is None:
        return nbgrader(course, "collect", args.assignment, "--update")
    taken, problems = collect_folder(course, args.assignment, Path(args.source))
    print(f"collected {len(taken)} submissions of {args.assignment} into {course.submitted}")
    for line in problems:
        print("  problem:", line)
    return 0


# --- autograde and merge ---------------------------------------------------------------------


def _size(text: str) -> int:
    units = {"k": 2**10, "m": 2**20, "g": 2**30}
    text = text.strip().lower()
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


def cmd_autograde(course: Course, args: argparse.Namespace) -> int:
    """``autograde``: grade the submissions in sandboxes and print the run's summary."""
    reason = available()
    if reason:
        print(f"autograde: {reason}", file=sys.stderr)
        return 2
    shard = tuple(int(n) for n in args.shard.split("/"))
    if len(shard) != 2 or not 1 <= shard[0] <= shard[1]:
        raise SystemExit("--shard must look like K/N with 1 <= K <= N")
    data = os.environ.get("CNN_COURSE_DATA")
    settings = Settings(
        jobs=args.jobs,
        cell_timeout=args.cell_timeout or course.cell_timeout,
        budget=args.budget,
        limits=Limits(memory_bytes=_size(args.memory), processes=args.processes),
        output_cap=_size(args.output_cap),
        crosscheck=not args.no_crosscheck,
        write_gradebook=not args.no_gradebook,
        keep_jobs=args.keep_jobs,
        data_dir=Path(data) if data else None,
    )
    summary = autograde(
        course,
        settings,
        assignments=args.assignments or None,
        students=args.student or None,
        shard=(shard[0], shard[1]),
        progress=not args.quiet,
    )
    print(
        f"\n{summary['submissions']} notebooks in {summary['seconds']:.0f} s "
        f"({summary['per_minute']:.1f}/min with {summary['jobs']} workers): "
        f"{summary['graded']} graded, {summary['flagged']} flagged, "
        f"{summary['rejected']} rejected, {summary['failed']} failed"
    )
    for fault in summary["faults"]:
        print("  ", fault)
    for rec in summary["records"]:
        if rec["status"] != "graded" or rec["flags"]:
            why = rec["reason"] or "; ".join(rec["flags"])
            print(f"  {rec['status']:8} {rec['assignment']}/{rec['student']}: {why[:160]}")
    print(f"logs: {course.grading / 'runs' / summary['run'] / 'logs'}")
    return 1 if summary["faults"] else 0


def cmd_merge(course: Course, args: argparse.Namespace) -> int:
    """``merge``: write every result in grading/results into the gradebook."""
    from grader.autograde import Record
    from grader.gradebook import Ledger

    ledger = Ledger(course.grading)
    count = 0
    for path in sorted((course.grading / "results").glob("*/*/*.json")):
        rec = Record(**json.loads(path.read_text()))
        store(course, rec, ledger)
        count += rec.status == "graded"
    print(f"merged {count} graded notebooks into {course.db_path}")
    return 0


# --- feedback --------------------------------------------------------------------------------


def cmd_feedback(course: Course, args: argparse.Namespace) -> int:
    """``feedback``: make the HTML feedback, deleting any page that shows a hidden test."""
    from grader.notebooks import hidden_lines, read_notebook

    status = 0
    for name in args.assignments or course.assignments():
        students = args.student or sorted(
            p.parent.name for p in course.autograded.glob(f"*/{name}") if p.is_dir()
        )
        extra = [f"--student={s}" for s in args.student or []]
        if nbgrader(course, "generate_feedback", name, "--force", *extra) != 0:
            # nbgrader may stop at the first broken notebook: retry one student at a time
            # so that one student's problem never costs the others their feedback.
            failed = [
                s
                for s in students
                if nbgrader(course, "generate_feedback", name, "--force", f"--student={s}") != 0
            ]
            if failed:
                print(f"feedback: {name}: no feedback for {', '.join(failed)}", file=sys.stderr)
                status = 1
        secrets = set()
        for nb in course.notebooks(name):
            secrets |= hidden_lines(
                read_notebook(course.source / name / nb), read_notebook(course.release / name / nb)
            )
        for page in course.feedback.glob(f"*/{name}/*.html"):
            text = page.read_text(errors="replace")
            import html

            plain = html.unescape(re.sub(r"<[^>]+>", "", text))
            if any(line in plain for line in secrets):
                page.unlink()
                print(f"feedback: {page} showed a hidden test and was deleted", file=sys.stderr)
                status = 1
        if args.release and release_feedback(course, name) != 0:
            status = 1
    return status


def release_feedback(course: Course, assignment: str) -> int:
    """Publish the feedback pages of ``assignment`` to the exchange (``nbgrader release_feedback``).

    nbgrader files each page under a hash of its submission's secret, which only the
    submitting student's own cache holds: ``fetch_feedback`` brings each student their own
    page and no one else's. Pages of submissions that did not come through the exchange
    (no secret), or that were replaced by a later submission not yet graded, are held back.
    """
    held = []
    for folder in sorted(course.feedback.glob(f"*/{assignment}")):
        student = folder.parent.name
        submitted = course.submitted / student / assignment
        graded = list((course.autograded / student / assignment).glob("*.ipynb"))
        stamp, secret = submitted / "timestamp.txt", submitted / "submission_secret.txt"
        if not (stamp.is_file() and secret.is_file()):
            held.append((student, "not submitted through the exchange"))
        elif not graded or stamp.stat().st_mtime > min(p.stat().st_mtime for p in graded):
            held.append((student, "submitted again since grading: autograde first"))
        else:
            # nbgrader reads both beside the page to name it for the submission it graded.
            for path in (stamp, secret):
                shutil.copyfile(path, folder / path.name)
    for student, why in held:
        print(f"feedback: {assignment}/{student} not released ({why})", file=sys.stderr)
    exclude = ",".join(student for student, _ in held)
    extra = [f"--CourseDirectory.student_id_exclude={exclude}"] if exclude else []
    if nbgrader(course, "release_feedback", assignment, *extra) != 0:
        print(f"feedback: nbgrader could not release the feedback of {assignment}", file=sys.stderr)
        return 1
    return 0


# --- similarity ------------------------------------------------------------------------------


def cmd_similarity(course: Course, args: argparse.Namespace) -> int:
    """``similarity``: report pairs of submissions with alike answers (grades are untouched)."""
    from grader.similarity import DEFAULT_THRESHOLD, similarity, write

    if args.threshold is None:
        args.threshold = DEFAULT_THRESHOLD
    if not 0 < args.threshold <= 1:
        raise SystemExit("--threshold must be a share between 0 and 1, such as 0.4")
    try:
        report = similarity(course, args.assignment, args.threshold)
    except ValueError as error:
        print(f"similarity: {error}", file=sys.stderr)
        return 1
    page, _ = write(report, Path(args.out) if args.out else course.grading / "similarity")
    print(
        f"{len(report.students)} submissions of {args.assignment} compared: "
        f"{len(report.pairs)} pair(s) at or above {args.threshold:g}"
    )
    for pair in report.pairs[: args.limit]:
        print(f"  {pair.score:6.0%}  {pair.first} ~ {pair.second}")
    if len(report.pairs) > args.limit:
        print(f"  … and {len(report.pairs) - args.limit} more pairs")
    for student, why in sorted(report.skipped.items()):
        print(f"  skipped {student}: {why}")
    if report.too_short:
        print(f"  too little own code to compare: {', '.join(report.too_short)}")
    print(f"report: {page}")
    return 0


# --- grades and status ---------------------------------------------------------------------


def cmd_grades(course: Course, args: argparse.Namespace) -> int:
    """``grades``: write grades.csv, print a summary and save a histogram per assignment."""
    from grader.late import PolicyError, load_policy
    from grader.lms import FORMATS, RosterError, export, load_roster, roster_lines
    from grader.report import grade_table, score_histogram, summary, write_csv

    formats = FORMATS if "all" in (args.format or []) else tuple(dict.fromkeys(args.format or []))
    roster_path = Path(args.roster) if args.roster else course.grading / "roster.csv"
    try:
        policy = load_policy(course.grading / "late.toml")
        if args.roster and not roster_path.is_file():
            raise RosterError(f"{roster_path} does not exist.")
        roster = load_roster(roster_path) if roster_path.is_file() else None
        if roster is None and set(formats) - {"generic"}:
            raise RosterError(
                f"--format {'/'.join(f for f in formats if f != 'generic')} needs a roster: "
                f"write {roster_path} (columns student,lms_id,name,email) or pass --roster PATH."
            )
    except (PolicyError, RosterError) as err:
        print(f"grades: {err}", file=sys.stderr)
        return 2
    rows = grade_table(course, policy)
    out = Path(args.csv)
    write_csv(rows, out)
    print(f"{len(rows)} rows written to {out}")
    for fmt in formats:
        path = out.with_name(f"{out.stem}-{fmt}.csv")
        export(fmt, rows, roster, policy.canvas_ids, path)
        print(f"{fmt} grades written to {path}")
    for line in roster_lines(rows, roster, roster_path):
        print(line)
    plots = course.grading / "summary"
    plots.mkdir(parents=True, exist_ok=True)
    stats = summary(rows)
    print(f"{'assignment':14} {'n':>4} {'mean':>7} {'median':>7} {'min':>6} {'max':>6} / max")
    for name, s in stats.items():
        print(
            f"{name:14} {s['n']:>4} {s['mean']:>7} {s['median']:>7} "
            f"{s['min']:>6g} {s['max']:>6g} / {s['max_score']:g}"
        )
        scores = [float(r["score"]) for r in rows if r["assignment"] == name]
        fig = score_histogram(scores, s["max_score"], f"{name}: {s['n']} students")
        fig.savefig(plots / f"{name}-histogram.png", dpi=100)
    (plots / "summary.json").write_text(json.dumps(stats, indent=1))
    print(f"histograms in {plots}")
    flagged = [r for r in rows if r["changed_outside_grading"]]
    if flagged:
        print(f"warning: {len(flagged)} rows changed outside grading (see `status`)")
    return 0


def cmd_status(course: Course, args: argparse.Namespace) -> int:
    """``status``: list who is missing, rejected, failed, flagged or changed by hand."""
    from grader.gradebook import Ledger, reseal
    from grader.late import PolicyError
    from grader.report import status_table

    if args.reseal:
        count = reseal(course.db_url, Ledger(course.grading))
        print(f"sealed {count} scores as they are now")
    try:
        table = status_table(course)
    except PolicyError as err:
        print(f"status: {err}", file=sys.stderr)
        return 2
    for title, lines in table.items():
        print(f"{title}: {len(lines)}")
        for line in lines[: args.limit]:
            print("   ", line)
        if len(lines) > args.limit:
            print(f"    … and {len(lines) - args.limit} more")
    return 1 if table["changed outside grading"] else 0


# --- the command line ------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    """Return the command line parser, one subcommand per verb."""
    top = argparse.ArgumentParser(
        prog="python -m grader", description=(__doc__ or "").split("\n")[0]
    )
    top.add_argument("--root", default=".", help="the course folder (holds nbgrader_config.py)")
    verbs = top.add_subparsers(dest="verb", required=True)

    p = verbs.add_parser("release", help="generate the student versions")
    p.add_argument("assignments", nargs="*")
    p.add_argument(
        "--exchange",
        action="store_true",
        help="also publish them to nbgrader's exchange (students then fetch_assignment)",
    )
    p.set_defaults(run=cmd_release)

    p = verbs.add_parser("collect", help="collect submissions")
    p.add_argument("assignment")
    p.add_argument(
        "--from", dest="source", help="folder of <student>.ipynb, <student>.zip or <student>/"
    )
    p.set_defaults(run=cmd_collect)

    p = verbs.add_parser("autograde", help="grade submissions in sandboxes")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument("--jobs", "-j", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    p.add_argument(
        "--cell-timeout",
        type=float,
        default=None,
        help="seconds per cell (default: nbgrader_config)",
    )
    p.add_argument("--budget", type=float, default=900, help="wall-clock seconds per notebook")
    p.add_argument("--memory", default="4g", help="address-space limit per kernel (e.g. 4g)")
    p.add_argument("--processes", type=int, default=96, help="process/thread limit per kernel")
    p.add_argument("--output-cap", default="2m", help="notebook output kept per submission")
    p.add_argument("--no-crosscheck", action="store_true")
    p.add_argument(
        "--no-gradebook", action="store_true", help="only write grading/results (cluster shards)"
    )
    p.add_argument("--shard", default="1/1", help="grade only the K-th of N equal parts (K/N)")
    p.add_argument("--keep-jobs", action="store_true", help="keep the per-job folders (debugging)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_autograde)

    p = verbs.add_parser("merge", help="write all results in grading/results into the gradebook")
    p.set_defaults(run=cmd_merge)

    p = verbs.add_parser("feedback", help="HTML feedback without hidden tests")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--student", action="append")
    p.add_argument(
        "--release",
        action="store_true",
        help="also publish the pages to nbgrader's exchange (students then fetch_feedback)",
    )
    p.set_defaults(run=cmd_feedback)

    p = verbs.add_parser("similarity", help="pairs of submissions with alike answers")
    p.add_argument("assignment")
    p.add_argument(
        "--threshold", type=float, help="report pairs at or above this share (default 0.4)"
    )
    p.add_argument(
        "--out", help="folder for <assignment>.html and .json (default grading/similarity)"
    )
    p.add_argument("--limit", type=int, default=20, help="pairs printed (the report has all)")
    p.set_defaults(run=cmd_similarity)

    p = verbs.add_parser("grades", help="grades.csv, summary and histograms")
    p.add_argument("--csv", default="grades.csv")
    p.add_argument(
        "--format",
        action="append",
        choices=("canvas", "moodle", "generic", "all"),
        help="also write CSV-FORMAT.csv for this LMS (repeatable; all: every one)",
    )
    p.add_argument("--roster", help="student ids to LMS ids (default grading/roster.csv)")
    p.set_defaults(run=cmd_grades)

    p = verbs.add_parser("status", help="missing, failed, flagged, changed outside grading")
    p.add_argument("--limit", type=int, default=50, help="lines shown per section")
    p.add_argument(
        "--reseal", action="store_true", help="accept manual grades made since the last run"
    )
    p.set_defaults(run=cmd_status)
    return top


def main(argv: list[str] | None = None) -> int:
    """Run one verb in the course folder; return the exit status."""
    args = parser().parse_args(argv)
    # nbgrader creates a new gradebook by calling `alembic` from PATH: use this Python's.
    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    course = load_course(Path(args.root))
    return args.run(course, args)
