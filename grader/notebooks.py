"""Check a submission before grading and rebuild it from the instructor's notebook.

The pre-check reads a submitted folder without running anything: does the notebook
parse, do its cells match the release, is anything unexpected lying next to it, does
its code contain patterns worth a human look. :func:`rebuild` then makes the notebook
that is actually graded: the instructor's notebook (locked cells, test cells and hidden
tests, metadata) with only the student's answers and own extra cells merged in. Edited,
deleted or duplicated test cells and forged metadata therefore change nothing, and
they are reported.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

# Files a student may hand in next to the notebook (copied into the private folder).
DATA_SUFFIXES = {
    ".csv", ".json", ".txt", ".md", ".npy", ".npz", ".png", ".jpg", ".jpeg", ".gif",
    ".pt", ".pth", ".ckpt", ".pdf",
}  # fmt: skip
MAX_EXTRA_BYTES = 200 * 2**20

# Patterns in a student's code that deserve a human look (never a penalty by themselves).
SUSPICIOUS = [
    (
        r"solutions/|gradebook|HIDDEN TESTS|nbgrader_config|\b(import|from)\s+grader\b|"
        r"grading/|\.ledger-key|ledger\.json",
        "mentions instructor files",
    ),
    (
        r"input_transformers|set_custom_exc|events\.register|register_magic|"
        r"excepthook|showtraceback|run_cell|ast_transformers",
        "changes how IPython runs cells",
    ),
    (r"\bbuiltins\b|__builtins__", "changes Python's builtins"),
    (r"\b(np|numpy)\.\w+(\.\w+)*\s*=[^=]", "replaces a NumPy function"),
    (
        r"helpers\.check\.asserts|\bcheck_array\s*=|\bcall_student\s*=",
        "touches the grading helpers",
    ),
    (
        r"sys\._getframe|inspect\.(stack|currentframe|getouterframes)|\bf_back\b|"
        r"\bf_locals\b|gc\.get_(objects|referrers)",
        "looks at the caller's frames",
    ),
    (r"def\s+__(eq|ne|bool|array_ufunc)__", "defines a comparison that may lie"),
    (r"NBGRADER|os\.environ|getpass|gethostname|getuid|platform\.node", "sniffs the environment"),
    (
        r"os\._exit|os\.fork|os\.kill|\bsignal\.|ctypes|subprocess|multiprocessing|os\.system",
        "starts processes or signals",
    ),
    (r"urllib|requests\.|http\.client|\bsocket\b", "uses the network"),
]


@dataclass
class PreCheck:
    """What the pre-check found: ``fatal`` stops grading; ``flags`` ask for review."""

    notebook: Path | None = None
    # The submission with any nbgrader metadata an editor stripped given back (see
    # :func:`restore_metadata`): what is rebuilt and graded.
    restored: nbformat.NotebookNode | None = None
    fatal: str = ""
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra_files: list[Path] = field(default_factory=list)


def nbgrader_meta(cell: dict) -> dict:
    """Return a copy of a cell's nbgrader metadata (empty for a plain cell)."""
    return dict(cell.get("metadata", {}).get("nbgrader", {}))


def is_answer(cell: dict) -> bool:
    """Return True for a cell the student writes (a solution cell that is not locked)."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("solution")) and not meta.get("locked", False)


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read and validate a notebook; raise ValueError with a readable reason."""
    try:
        raw = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path.name} is not valid JSON ({error})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise ValueError(f"{path.name} is JSON but not a notebook (no list of cells)")
    if raw.get("nbformat") != 4:
        raise ValueError(f"{path.name} has nbformat {raw.get('nbformat')!r}; version 4 is needed")
    try:
        nb = nbformat.reads(json.dumps(raw), as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # noqa: BLE001 - nbformat raises several kinds
        raise ValueError(f"{path.name} is not a valid notebook: {str(error)[:300]}") from None
    return nb


def suspicious(source: str) -> list[str]:
    """Return the reasons ``source`` looks suspicious (empty if it looks ordinary)."""
    return [why for pattern, why in SUSPICIOUS if re.search(pattern, source)]


def precheck(folder: Path, release: Path) -> PreCheck:
    """Check ``folder`` (one student's submission of one assignment) against ``release``."""
    result = PreCheck()
    name = release.name
    candidate = folder / name
    if not candidate.is_file() or candidate.is_symlink():
        others = sorted(p.name for p in folder.glob("*.ipynb"))
        hint = f" (found {', '.join(others)})" if others else ""
        result.fatal = f"the notebook {name} is missing{hint}"
        return result
    result.notebook = candidate
    try:
        student = read_notebook(candidate)
    except ValueError as error:
        result.fatal = str(error)
        return result
    released = read_notebook(release)
    student, lost = restore_metadata(student, released)
    result.restored = student
    if lost:
        which = ", ".join(lost) if len(lost) <= 6 else f"{len(lost)} cells"
        result.notes.append(
            f"the nbgrader metadata of {which} was missing (an editor that strips cell "
            "metadata?): matched to the release by cell id, order and content, and graded; "
            "work on the notebook in Jupyter to keep it"
        )
    answers = [nbgrader_meta(c)["grade_id"] for c in released.cells if is_answer(c)]
    present = {nbgrader_meta(c).get("grade_id") for c in student.cells}
    if answers and not present & set(answers) and not any(nbgrader_meta(c) for c in student.cells):
        result.fatal = (
            f"{name} has no nbgrader metadata and none of its cells could be matched to the "
            f"release's answer cells ({', '.join(answers)}): start again from the released "
            "notebook and copy the answers into its cells"
        )
        return result
    _compare_cells(student, released, result)
    allowed = {p.name for p in release.parent.iterdir()}
    total = 0
    for path in sorted(folder.iterdir()):
        if path.name == name or path.name in ("timestamp.txt", ".ipynb_checkpoints"):
            continue
        if path.is_symlink() or not path.is_file():
            result.flags.append(
                f"unexpected {'link' if path.is_symlink() else 'folder'} {path.name!r} "
                "next to the notebook (not used)"
            )
            continue
        if path.name in allowed or path.suffix.lower() in DATA_SUFFIXES:
            total += path.stat().st_size
            if total > MAX_EXTRA_BYTES:
                result.flags.append(
                    f"extra files above {MAX_EXTRA_BYTES} bytes: {path.name} not used"
                )
                continue
            result.extra_files.append(path)
            if path.name not in allowed:
                result.notes.append(f"extra file {path.name} handed in")
        else:
            result.flags.append(
                f"unexpected file {path.name!r} next to the notebook "
                "(not used: it could shadow a module)"
            )
    return result


def _compare_cells(
    student: nbformat.NotebookNode, released: nbformat.NotebookNode, result: PreCheck
) -> None:
    by_id = {c.get("id"): c for c in released.cells}
    by_grade = {nbgrader_meta(c).get("grade_id"): c for c in released.cells if nbgrader_meta(c)}
    seen: dict[str, int] = {}
    for cell in student.cells:
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id")
        if gid is not None:
            seen[gid] = seen.get(gid, 0) + 1
            ref = by_grade.get(gid)
            if ref is None:
                result.flags.append(f"cell with unknown grade_id {gid!r} (not used)")
                continue
            ref_meta = nbgrader_meta(ref)
            for key in ("grade", "solution", "locked", "points"):
                if meta.get(key) != ref_meta.get(key):
                    result.flags.append(
                        f"cell {gid}: nbgrader metadata {key!r} changed from "
                        f"{ref_meta.get(key)!r} to {meta.get(key)!r} (the release's is used)"
                    )
            if not is_answer(ref) and cell.source != ref.source and ref.cell_type == "code":
                result.flags.append(f"locked cell {gid} was edited (the release's is used)")
        elif cell.get("id") in by_id and nbgrader_meta(by_id[cell.get("id")]):
            result.flags.append(
                f"cell {cell.get('id')} lost its nbgrader metadata (the release's is used)"
            )
        ref = by_grade.get(gid) if gid is not None else by_id.get(cell.get("id"))
        written_by_student = ref is None or is_answer(ref) or not nbgrader_meta(ref)
        if cell.cell_type == "code" and written_by_student:
            # Only what the student wrote counts: lines the release already had in this cell
            # (a grading guard that reads NBGRADER_EXECUTION, say) are the course's own.
            given = {line.strip() for line in ref.source.splitlines()} if ref is not None else set()
            added = "\n".join(
                line for line in cell.source.splitlines() if line.strip() not in given
            )
            for why in suspicious(added):
                label = gid or cell.get("id") or "?"
                note = f"cell {label}: {why}"
                if note not in result.flags:
                    result.flags.append(note)
    for gid, count in seen.items():
        if count > 1:
            result.notes.append(f"cell {gid} appears {count} times (the first copy is used)")
    for gid, ref in by_grade.items():
        if gid not in seen:
            what = "answer" if is_answer(ref) else "locked"
            result.notes.append(f"{what} cell {gid} was deleted (the release's is used)")


def _content_key(cell: dict) -> tuple:
    return ("content", cell.get("cell_type"), cell.get("source", "").strip())


def restore_metadata(
    student: nbformat.NotebookNode, release: nbformat.NotebookNode
) -> tuple[nbformat.NotebookNode, list[str]]:
    """Give cells that lost their nbgrader metadata the release's; return (notebook, grade ids).

    Editors other than Jupyter may drop cell metadata, keeping the cell ids or making new
    ones. A cell is matched to the release's cell with its id; failing that, locked cells
    (and plain ones) by their unchanged content, in order; an answer cell is then the
    student's cell, between the same matched neighbours, that looks most like the
    release's version of it. Cells that match nothing stay the student's own extra cells.
    """
    nb = copy.deepcopy(student)
    have = {nbgrader_meta(c).get("grade_id") for c in nb.cells if nbgrader_meta(c)}
    wanted = {nbgrader_meta(c).get("grade_id") for c in release.cells if nbgrader_meta(c)}
    if wanted <= have:
        return nb, []
    restored: list[str] = []

    def adopt(cell: nbformat.NotebookNode, ref: nbformat.NotebookNode) -> None:
        cell.setdefault("metadata", {})["nbgrader"] = copy.deepcopy(ref.metadata["nbgrader"])
        cell["id"] = ref.get("id", cell.get("id"))
        have.add(nbgrader_meta(ref)["grade_id"])
        restored.append(nbgrader_meta(ref)["grade_id"])

    by_id = {c.get("id"): c for c in release.cells}
    for cell in nb.cells:
        ref = by_id.get(cell.get("id"))
        if not nbgrader_meta(cell) and ref is not None and nbgrader_meta(ref):
            if nbgrader_meta(ref)["grade_id"] not in have and ref.cell_type == cell.cell_type:
                adopt(cell, ref)
    # The rest by order and content: each side as a sequence of keys; equal keys match.
    student_ids = {c.get("id") for c in nb.cells}

    def release_key(i: int, ref: nbformat.NotebookNode) -> tuple:
        gid = nbgrader_meta(ref).get("grade_id")
        if gid in have or (gid is None and ref.get("id") in student_ids):
            return ("known", gid, ref.get("id") if gid is None else None)
        return ("answer", i) if is_answer(ref) else _content_key(ref)

    def student_key(cell: nbformat.NotebookNode) -> tuple:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid is not None:
            return ("known", gid, None)
        if cell.get("id") in by_id and not nbgrader_meta(by_id[cell.get("id")]):
            return ("known", None, cell.get("id"))
        return _content_key(cell)

    rkeys = [release_key(i, c) for i, c in enumerate(release.cells)]
    skeys = [student_key(c) for c in nb.cells]
    matcher = difflib.SequenceMatcher(None, rkeys, skeys, autojunk=False)
    pairs = [
        (block.a + k, block.b + k)
        for block in matcher.get_matching_blocks()
        for k in range(block.size)
    ]
    for i, j in pairs:
        ref, cell = release.cells[i], nb.cells[j]
        if rkeys[i][0] == "content":
            if nbgrader_meta(ref):
                adopt(cell, ref)
            else:
                cell["id"] = ref.get("id", cell.get("id"))
    _match_answers(release, nb, rkeys, pairs, adopt)
    return nb, restored


def _match_answers(
    release: nbformat.NotebookNode,
    nb: nbformat.NotebookNode,
    rkeys: list[tuple],
    pairs: list[tuple[int, int]],
    adopt: Callable[[nbformat.NotebookNode, nbformat.NotebookNode], None],
) -> None:
    """Match each unmatched answer cell to a student cell between the same neighbours."""
    claimed = {j for _, j in pairs}
    bounds = [(-1, -1), *pairs, (len(release.cells), len(nb.cells))]
    for (i0, j0), (i1, j1) in zip(bounds, bounds[1:], strict=False):
        start = j0 + 1
        for i in range(i0 + 1, i1):
            ref = release.cells[i]
            if rkeys[i][0] != "answer":
                continue
            options = [
                j
                for j in range(start, j1)
                if j not in claimed
                and nb.cells[j].cell_type == ref.cell_type
                and not nbgrader_meta(nb.cells[j])
            ]
            if not options:
                continue
            # The one most like the release's version (its signature, its comments).
            best = max(
                options,
                key=lambda j: difflib.SequenceMatcher(None, ref.source, nb.cells[j].source).ratio(),
            )
            adopt(nb.cells[best], ref)
            claimed.add(best)
            start = best + 1


def rebuild(
    source: nbformat.NotebookNode, student: nbformat.NotebookNode
) -> tuple[nbformat.NotebookNode, int]:
    """Return the notebook to grade and how many answer cells came from the student.

    **Shapes:** ``source`` is the instructor's notebook (same cells as the release).

    Every cell comes from ``source`` except answer cells (taken from the student by
    grade_id, first copy wins), unlocked cells without nbgrader metadata (the student's
    version, by cell id) and cells the student added (kept where they were, stripped of
    any nbgrader metadata). Outputs are cleared.
    """
    source_ids = {c.get("id") for c in source.cells}
    source_grades = {nbgrader_meta(c).get("grade_id") for c in source.cells if nbgrader_meta(c)}
    answers: dict[str | None, nbformat.NotebookNode] = {}
    free: dict[str, nbformat.NotebookNode] = {}
    added: dict[str | None, list[nbformat.NotebookNode]] = {}
    anchor: str | None = None
    for cell in student.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        cid = cell.get("id")
        if gid in source_grades:
            answers.setdefault(gid, cell)
            anchor = gid
        elif gid is None and cid in source_ids:
            free.setdefault(cid, cell)
            anchor = cid
        elif gid is None:
            added.setdefault(anchor, []).append(cell)
    merged = copy.deepcopy(source)
    cells = []
    used = 0
    for cell in added.get(None, []):
        cells.append(_plain(cell))
    for ref in merged.cells:
        meta = nbgrader_meta(ref)
        key = meta.get("grade_id") if meta else ref.get("id")
        if meta and is_answer(ref) and key in answers:
            ref.source = answers[key].source
            used += 1
        elif not meta and key in free and ref.cell_type == free[key].cell_type:
            ref.source = free[key].source
        cells.append(ref)
        for extra in added.get(key, []):
            cells.append(_plain(extra))
    merged.cells = cells
    for cell in merged.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return merged, used


def _plain(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A student's own cell, without metadata, with a fresh id."""
    kind = cell.cell_type if cell.cell_type in ("code", "markdown") else "raw"
    maker = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell}.get(
        kind, nbformat.v4.new_raw_cell
    )
    return maker(source=cell.source)


def answer_sources(nb: nbformat.NotebookNode) -> list[str]:
    """Return the code cells the cross-check harness runs: everything but test cells."""
    return [
        c.source
        for c in nb.cells
        if c.cell_type == "code" and not nbgrader_meta(c).get("grade", False)
    ]


def hidden_lines(
    source: nbformat.NotebookNode, release: nbformat.NotebookNode | None = None
) -> set[str]:
    """Return the distinctive lines of the hidden tests (used to scrub outputs).

    Lines that the students' version shows anyway (boilerplate shared with the visible
    tests) are not secrets and are left out.
    """
    hidden_block = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)
    # Text also found outside the hidden blocks (in solutions or visible tests) is not a
    # secret: a student may well write or see it.
    visible = "\n".join(
        hidden_block.sub("", cell.source)
        for cell in [*source.cells, *(release.cells if release is not None else [])]
    )
    lines: set[str] = set()
    for cell in source.cells:
        text = cell.source
        for block in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", text, re.S):
            for line in block.splitlines():
                line = line.strip()
                if (
                    len(line) >= 24
                    and line not in visible
                    and not line.startswith(("import ", "from "))
                ):
                    lines.add(line)
    return lines


def scrub_outputs(nb: nbformat.NotebookNode, secret_lines: set[str]) -> int:
    """Remove outputs that quote hidden-test lines; return how many were removed."""
    removed = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.outputs:
            text = json.dumps(out)
            if any(line in text or json.dumps(line)[1:-1] in text for line in secret_lines):
                removed += 1
                if out.get("output_type") == "error":
                    kept.append(
                        nbformat.v4.new_output(
                            "error",
                            ename=out.get("ename", "Error"),
                            evalue="(message hidden: it quoted a hidden test)",
                            traceback=[],
                        )
                    )
                elif out.get("output_type") == "stream" and out.get("name") == "stderr":
                    kept.append(nbformat.v4.new_output("stream", name="stderr", text="(hidden)\n"))
                continue
            kept.append(out)
        cell.outputs = kept
    return removed
