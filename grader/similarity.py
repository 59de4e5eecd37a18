"""Find pairs of submissions whose answers are suspiciously alike (a report, never a grade).

Only the answer cells count (the cells the release asks students to write, found by their
nbgrader ``grade_id``), and everything the release already shows, the starter code above
all (``def f(x):``, ``# YOUR CODE HERE``, ``raise NotImplementedError()``), is boilerplate:
two students who both left a stub untouched are not alike. copydetect does the
fingerprinting (hashed k-grams of code whose names and strings are normalized and
comments dropped, so renaming variables or rewording comments hides nothing); this module picks
the code, compares every pair and writes one self-contained HTML page and one JSON file
per assignment into ``grading/similarity/``. It reads ``submitted/`` and the release only.
"""

from __future__ import annotations

import html
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import nbformat
import numpy as np
from copydetect import CodeFingerprint, compare_files
from copydetect.defaults import NOISE_THRESHOLD

from grader.autograde import Course
from grader.notebooks import is_answer, nbgrader_meta, read_notebook

DEFAULT_THRESHOLD = 0.4
# copydetect's guarantee threshold equals its noise threshold by default: every k-gram
# is a fingerprint (a window of 1), which is affordable for notebook-sized answers.
WINDOW = 1
# A pair sharing less normalized code than this is never reported, whatever its score:
# two students who both wrote the obvious one-line answer are not alike.
MIN_SHARED = 4 * NOISE_THRESHOLD
# The HTML page shows the code of this many pairs (the best); the JSON lists them all.
SHOWN = 100


@dataclass
class Pair:
    """Two students, how much of each one's own code the other also has, and where."""

    first: str
    second: str
    score: float
    similarity: dict[str, float]
    shared: int
    slices: dict[str, list[tuple[int, int]]] = field(default_factory=dict, repr=False)


@dataclass
class Report:
    """One assignment's comparison: who was read, the pairs at or above the threshold."""

    assignment: str
    threshold: float
    when: str
    students: list[str]
    pairs: list[Pair]
    skipped: dict[str, str]
    too_short: list[str]
    code: dict[str, str] = field(repr=False)


# --- the code that counts ------------------------------------------------------------------


def answer_ids(release: nbformat.NotebookNode) -> list[str]:
    """Return the grade_ids of the release's code answer cells, in notebook order."""
    return [
        nbgrader_meta(c)["grade_id"]
        for c in release.cells
        if c.cell_type == "code" and is_answer(c) and nbgrader_meta(c).get("grade_id")
    ]


def answer_code(nb: nbformat.NotebookNode, ids: list[str]) -> str:
    """Return the notebook's answer cells named by ``ids``, one after another.

    Cells are found by grade_id (the first copy wins, as in grading), not by their own
    metadata, which a student may have edited. Each starts with a comment naming it
    (copydetect ignores comments, so the headers never match anything).
    """
    found: dict[str, str] = {}
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if cell.cell_type == "code" and gid in ids and gid not in found:
            found[gid] = cell.source
    return "".join(f"# --- {gid} ---\n{found[gid].rstrip()}\n\n" for gid in ids if gid in found)


def starter(course: Course, assignment: str) -> tuple[dict[str, list[str]], list[str]]:
    """Return the release's answer cell ids per notebook and its code as boilerplate.

    The boilerplate is the starter answers laid out exactly as a student's are (so
    k-grams across two untouched stubs are covered too) plus every other code cell of
    the release (tests a student pasted into an answer are not theirs either).
    """
    ids: dict[str, list[str]] = {}
    texts: list[str] = []
    for name in course.notebooks(assignment):
        release = read_notebook(course.release / assignment / name)
        ids[name] = answer_ids(release)
        texts.append(answer_code(release, ids[name]))
        texts += [c.source for c in release.cells if c.cell_type == "code"]
    return ids, texts


def submissions(
    course: Course, assignment: str, ids: dict[str, list[str]]
) -> tuple[dict[str, str], dict[str, str]]:
    """Return {student: answer code} and {student: why they were skipped}."""
    codes: dict[str, str] = {}
    skipped: dict[str, str] = {}
    folders = sorted(course.submitted.glob(f"*/{assignment}")) if course.submitted.is_dir() else []
    for folder in folders:
        student = folder.parent.name
        if not folder.is_dir():
            continue
        parts = []
        found = sorted(folder.glob("*.ipynb"))
        for name in ids:
            path = folder / name
            # One notebook under another name is the one (as collect and grading assume).
            if not path.is_file() and len(ids) == 1 and len(found) == 1:
                path = found[0]
            if not path.is_file() or path.is_symlink():
                skipped[student] = f"no {name} in {folder.relative_to(course.root)}"
                break
            try:
                parts.append(answer_code(read_notebook(path), ids[name]))
            except (ValueError, OSError) as error:
                skipped[student] = str(error)
                break
        else:
            codes[student] = "".join(parts)
    return codes, skipped


# --- comparing -------------------------------------------------------------------------------


def fingerprint(code: str, boilerplate: np.ndarray) -> CodeFingerprint:
    """Fingerprint Python ``code`` in memory, leaving out the boilerplate's k-grams."""
    return CodeFingerprint(
        "answers.py",
        NOISE_THRESHOLD,
        WINDOW,
        boilerplate=boilerplate,
        language="python",
        fp=io.StringIO(code),
    )


def boilerplate_hashes(texts: list[str]) -> np.ndarray:
    """Return every k-gram hash of the starter texts (copydetect's boilerplate format)."""
    hashes = [h for text in texts for h in fingerprint(text, np.array([])).hashes]
    return np.unique(np.array(hashes, dtype=np.int64))


def shared_tokens(prints: list[CodeFingerprint]) -> np.ndarray:
    """Return ``M[i, j]``: how much of student i's normalized code student j also has.

    The same count as copydetect's ``compare_files`` (the length of the union of i's
    k-grams whose fingerprint j has too), for every pair at once: comparing 200 students
    pair by pair in ``compare_files`` took 100 s on the course machine, this a second or two.
    """
    n, k = len(prints), NOISE_THRESHOLD
    out = np.zeros((n, n), dtype=np.int64)
    # Every (fingerprint, student) pair, sorted by fingerprint: who holds what.
    held_hash = np.concatenate([np.fromiter(fp.hashes, np.int64) for fp in prints])
    held_by = np.concatenate([np.full(len(fp.hashes), i) for i, fp in enumerate(prints)])
    order = np.argsort(held_hash, kind="stable")
    held_hash, held_by = held_hash[order], held_by[order]
    for i, fp in enumerate(prints):
        mine = np.fromiter(fp.hash_idx, np.int64, len(fp.hash_idx))
        left = np.searchsorted(held_hash, mine, "left")
        counts = np.searchsorted(held_hash, mine, "right") - left
        gather = np.arange(counts.sum()) + np.repeat(left - (np.cumsum(counts) - counts), counts)
        holds = np.zeros((n, len(mine)), dtype=bool)
        holds[held_by[gather], np.repeat(np.arange(len(mine)), counts)] = True
        # Where each fingerprint starts in i's code; a position is shared if a shared
        # k-gram covers it, i.e. one starts at most k - 1 characters before it.
        lists = [fp.hash_idx[h] for h in fp.hash_idx]
        where = np.concatenate([np.asarray(x, dtype=np.int64) for x in lists])
        which = np.repeat(np.arange(len(lists)), [len(x) for x in lists])
        others = np.nonzero(holds.any(axis=1))[0]
        starts = np.zeros((len(others), len(fp.filtered_code) + 1), dtype=np.int32)
        starts[:, where + 1] = holds[others][:, which]
        running = np.cumsum(starts, axis=1)
        window = running[:, 1:] - running[:, np.maximum(np.arange(1, running.shape[1]) - k, 0)]
        out[i, others] = (window > 0).sum(axis=1)
    return out


def compare(
    codes: dict[str, str], boilerplate: list[str], threshold: float
) -> tuple[list[Pair], list[str]]:
    """Compare every pair of students; return the pairs at or above ``threshold``, best first.

    A pair's score is the larger of its two similarities (the share of one student's own
    code, starter excluded, that the other also has): a student who copied everything and
    added more still shows up. The second list names students with too little code of
    their own to compare (shorter than copydetect's noise threshold once the starter is
    removed, e.g. an untouched release). Only the first :data:`SHOWN` pairs carry the
    positions of their shared code (for the HTML page).
    """
    skip = boilerplate_hashes(boilerplate)
    prints = {student: fingerprint(code, skip) for student, code in codes.items()}
    too_short = sorted(s for s, fp in prints.items() if not fp.hashes)
    names = sorted(s for s in prints if prints[s].hashes)
    if len(names) < 2:
        return [], too_short
    shared = shared_tokens([prints[s] for s in names])
    sim = shared / np.array([prints[s].token_coverage for s in names])[:, None]
    score = np.maximum(sim, sim.T)
    found = (score >= threshold) & (np.minimum(shared, shared.T) >= MIN_SHARED)
    pairs = [
        Pair(
            first=names[i],
            second=names[j],
            score=round(float(score[i, j]), 4),
            similarity={names[i]: round(float(sim[i, j]), 4), names[j]: round(float(sim[j, i]), 4)},
            shared=int(shared[i, j]),
        )
        for i, j in zip(*np.nonzero(np.triu(found, k=1)), strict=True)
    ]
    pairs.sort(key=lambda p: (-p.score, -p.shared, p.first, p.second))
    for pair in pairs[:SHOWN]:
        _, _, (first, second) = compare_files(prints[pair.first], prints[pair.second])
        pair.slices = {pair.first: _spans(first), pair.second: _spans(second)}
    return pairs, too_short


def _spans(slices: np.ndarray) -> list[tuple[int, int]]:
    """copydetect's 2×N array of starts and ends, as a list of (start, end)."""
    if slices.size == 0:
        return []
    return [(int(s), int(e)) for s, e in zip(slices[0], slices[1], strict=True)]


def similarity(course: Course, assignment: str, threshold: float = DEFAULT_THRESHOLD) -> Report:
    """Compare the answers of every submission of ``assignment``; raise ValueError if < 2."""
    if not course.notebooks(assignment):
        raise ValueError(
            f"{assignment} is not released (no notebook in {course.release / assignment}); "
            "name a released assignment."
        )
    ids, boilerplate = starter(course, assignment)
    codes, skipped = submissions(course, assignment, ids)
    if len(codes) < 2:
        raise ValueError(
            f"{assignment} has {len(codes)} readable submission(s) in {course.submitted} "
            f"({len(skipped)} skipped): at least 2 are needed to compare."
        )
    pairs, too_short = compare(codes, boilerplate, threshold)
    return Report(
        assignment=assignment,
        threshold=threshold,
        when=datetime.now(UTC).isoformat(timespec="seconds"),
        students=sorted(codes),
        pairs=pairs,
        skipped=skipped,
        too_short=too_short,
        code=codes,
    )


# --- the report ------------------------------------------------------------------------------

CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; font-size: .8rem;
      border: 1px solid #ddd; white-space: pre; }
mark { background: #ffd27f; }
table { border-collapse: collapse; } td, th { padding: .2rem .6rem; border: 1px solid #ddd; }
.note { color: #555; }
"""


def highlight(code: str, spans: list[tuple[int, int]]) -> str:
    """Return ``code`` escaped for HTML with the shared ``spans`` wrapped in <mark>."""
    out, at = [], 0
    for start, end in sorted(spans):
        start = max(start, at)
        if end <= start:
            continue
        out += [html.escape(code[at:start]), "<mark>", html.escape(code[start:end]), "</mark>"]
        at = end
    out.append(html.escape(code[at:]))
    return "".join(out)


def render_html(report: Report) -> str:
    """Return the report as one HTML page: no scripts, no external files, inline CSS."""
    e = html.escape
    names = [f"{e(p.first)} ↔ {e(p.second)}" for p in report.pairs]
    rows = "".join(
        f"<tr><td>{f'<a href=#pair{i}>{name}</a>' if i <= SHOWN else name}</td>"
        f"<td>{p.score:.0%}</td><td>{p.shared}</td></tr>"
        for i, (p, name) in enumerate(zip(report.pairs, names, strict=True), 1)
    )
    head = (
        f"<h1>Similar answers in {e(report.assignment)}</h1>"
        f"<p class='note'>{len(report.students)} submissions read at {e(report.when)}, their "
        f"answer cells compared (starter code ignored): {len(report.pairs)} pair(s) at or above "
        f"{report.threshold:.0%}. A high score asks for a human look; it is not a verdict.</p>"
    )
    table = (
        "<table><tr><th>pair</th><th>score</th><th>shared tokens</th></tr>" + rows + "</table>"
        if report.pairs
        else "<p>No pair at or above the threshold.</p>"
    )
    sections = []
    for i, p in enumerate(report.pairs[:SHOWN], 1):
        sides = "".join(
            f"<div><h3>{e(s)}: {p.similarity[s]:.0%} of their code is shared</h3>"
            f"<pre>{highlight(report.code[s], p.slices[s])}</pre></div>"
            for s in (p.first, p.second)
        )
        sections.append(
            f"<section id='pair{i}'><h2>{i}. {e(p.first)} ↔ {e(p.second)}: {p.score:.0%}</h2>"
            f"<div class='pair'>{sides}</div></section>"
        )
    notes = [f"<li>{e(s)}: skipped ({e(why)})</li>" for s, why in sorted(report.skipped.items())]
    notes += [
        f"<li>{e(s)}: not compared (no code of their own beyond the starter long enough "
        f"to compare)</li>"
        for s in report.too_short
    ]
    extra = f"<h2>Not compared</h2><ul>{''.join(notes)}</ul>" if notes else ""
    if len(report.pairs) > SHOWN:
        sections.append(
            f"<p class='note'>The code of the {len(report.pairs) - SHOWN} other pairs is not "
            "shown: raise the threshold to see fewer pairs.</p>"
        )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Similarity: {e(report.assignment)}</title><style>{CSS}</style></head>"
        f"<body>{head}{table}{''.join(sections)}{extra}</body></html>\n"
    )


def to_json(report: Report) -> dict:
    """Return the report's machine-readable part (no code, no highlight positions)."""
    pairs = [
        {"first": p.first, "second": p.second, "score": p.score}
        | {"similarity": p.similarity, "shared": p.shared}
        for p in report.pairs
    ]
    return {
        "assignment": report.assignment,
        "threshold": report.threshold,
        "when": report.when,
        "students": report.students,
        "skipped": report.skipped,
        "too_short": report.too_short,
        "pairs": pairs,
    }


def write(report: Report, folder: Path) -> tuple[Path, Path]:
    """Write ``<assignment>.html`` and ``<assignment>.json`` into ``folder``; return both."""
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / f"{report.assignment}.html"
    data = folder / f"{report.assignment}.json"
    page.write_text(render_html(report), encoding="utf-8")
    data.write_text(json.dumps(to_json(report), indent=1) + "\n", encoding="utf-8")
    return page, data


def saved(course: Course) -> list[str]:
    """Return one line per saved report: its assignment, pairs above threshold, its page."""
    lines = []
    for path in sorted((course.grading / "similarity").glob("*.json")):
        try:
            data = json.loads(path.read_text())
            count, threshold = len(data["pairs"]), data["threshold"]
        except (ValueError, KeyError, TypeError):
            lines.append(f"{path.stem}: {path} is unreadable (run `similarity` again)")
            continue
        page = path.with_suffix(".html").relative_to(course.root)
        lines.append(f"{path.stem}: {count} pair(s) at or above {threshold:g}, see {page}")
    return lines
