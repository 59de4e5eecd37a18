"""Tests of ``python -m grader similarity`` on the real release of assignment 01.

A small class hands in 01_pixels: alice (the solution's answers), bob (alice's answers with
renamed variables and reworded comments), carol and dave (each wrote every function
their own way), hal (three functions from alice, four from carol), erin and frank (the
untouched release), gus (a corrupt notebook). Nothing is graded: similarity reads only
submitted/ and the release.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from copydetect import compare_files
from nbgrader.api import Base, Gradebook
from sqlalchemy import create_engine

from grader.autograde import load_course
from grader.cli import main
from grader.notebooks import nbgrader_meta, read_notebook
from grader.similarity import (
    answer_code,
    answer_ids,
    boilerplate_hashes,
    compare,
    fingerprint,
    shared_tokens,
    similarity,
    starter,
    submissions,
)

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "01_pixels"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"

# carol's and dave's answers, written independently of the solution and of each other.
CAROL = {
    "load_rgb_solution": """def load_rgb(path):
    from PIL import Image
    with Image.open(path) as picture:
        return np.array(picture.convert("RGB"))
""",
    "image_shape_solution": """def image_shape(img):
    shape = tuple(int(n) for n in img.shape)
    return shape if len(shape) == 3 else shape + (1,)
""",
    "channels_first_solution": """def to_channels_first(img):
    return np.moveaxis(np.atleast_3d(img), -1, 0)
""",
    "grayscale_solution": """def to_grayscale(img):
    red, green, blue = img[..., 0], img[..., 1], img[..., 2]
    return 0.299 * red.astype(float) + 0.587 * green + 0.114 * blue
""",
    "scale_solution": """def scale_to_unit(img):
    assert img.dtype == np.uint8, "only uint8 pictures"
    out = np.empty(img.shape, dtype=np.float32)
    np.divide(img, 255, out=out)
    return out
""",
    "crop_solution": """def center_crop(img, size):
    h, w = img.shape[0], img.shape[1]
    y0 = h // 2 - size // 2 + (h % 2 and size % 2 == 0) * 0
    y0, x0 = (h - size) // 2, (w - size) // 2
    return img[y0:y0 + size][:, x0:x0 + size]
""",
    "resize_solution": """def resize_nearest(img, height, width):
    out = []
    for i in range(height):
        row = []
        for j in range(width):
            row.append(img[int((i + 0.5) * img.shape[0] / height),
                           int((j + 0.5) * img.shape[1] / width)])
        out.append(row)
    return np.array(out, dtype=img.dtype)
""",
}
DAVE = {
    "load_rgb_solution": """def load_rgb(path):
    import matplotlib.pyplot as plt
    arr = plt.imread(path)
    if arr.dtype != np.uint8:
        arr = (arr * 255).round().astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    return arr[:, :, :3]
""",
    "image_shape_solution": """def image_shape(img):
    try:
        h, w, c = img.shape
    except ValueError:
        (h, w), c = img.shape, 1
    return int(h), int(w), int(c)
""",
    "channels_first_solution": """def to_channels_first(img):
    if len(img.shape) < 3:
        img = img.reshape(img.shape + (1,))
    return img.transpose(2, 0, 1)
""",
    "grayscale_solution": """def to_grayscale(img):
    coefficients = [0.299, 0.587, 0.114]
    total = np.zeros(img.shape[:2])
    for k in range(3):
        total += coefficients[k] * img[:, :, k]
    return total
""",
    "scale_solution": """def scale_to_unit(img):
    if not np.issubdtype(img.dtype, np.uint8):
        raise TypeError("needs uint8")
    return (img / 255.0).astype("float32")
""",
    "crop_solution": """def center_crop(img, size):
    margin_top = (img.shape[0] - size) // 2
    margin_left = (img.shape[1] - size) // 2
    rows = slice(margin_top, margin_top + size)
    cols = slice(margin_left, margin_left + size)
    return img[rows, cols, ...]
""",
    "resize_solution": """def resize_nearest(img, height, width):
    src_h, src_w = img.shape[:2]
    ys = np.floor((np.arange(height) + 0.5) * (src_h / height)).astype(np.int64)
    xs = np.floor((np.arange(width) + 0.5) * (src_w / width)).astype(np.int64)
    return img[ys][:, xs]
""",
}
# bob copied alice: every name renamed, every comment reworded, the markers dropped.
RENAMES = {"img": "picture", "H": "rows_total", "W": "cols_total", "top": "start_y",
           "left": "start_x", "weights": "mix", "rows": "row_index", "cols": "col_index",
           "height": "new_h", "width": "new_w"}  # fmt: skip


def solution_answers() -> dict[str, str]:
    """Return the solution's answer cells by grade_id, without nbgrader's markers."""
    nb = read_notebook(ROOT / "solutions" / ASSIGNMENT / NOTEBOOK)
    release = read_notebook(ROOT / "exercises" / ASSIGNMENT / NOTEBOOK)
    ids = answer_ids(release)
    return {
        nbgrader_meta(c)["grade_id"]: re.sub(r" *### (BEGIN|END) SOLUTION\n", "", c.source)
        for c in nb.cells
        if nbgrader_meta(c).get("grade_id") in ids
    }


def disguise(source: str) -> str:
    """Rename the variables and reword the comments of ``source`` (what a copier does)."""
    for old, new in RENAMES.items():
        source = re.sub(rf"\b{old}\b", new, source)
    return re.sub(r"#.*", "# my own note", source)


def hand_in(course: Path, student: str, answers: dict[str, str] | None) -> None:
    """Write ``student``'s submission: the release with ``answers`` in its answer cells."""
    nb = read_notebook(course / "exercises" / ASSIGNMENT / NOTEBOOK)
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if answers and gid in answers:
            cell.source = answers[gid]
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / NOTEBOOK)


def make_class(tmp_path: Path) -> Path:
    """Write a course with the real 01_pixels release and the class described above."""
    course = tmp_path / "course"
    (course / "exercises").mkdir(parents=True)
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "exercises" / ASSIGNMENT, course / "exercises" / ASSIGNMENT)
    alice = solution_answers()
    hand_in(course, "alice", alice)
    hand_in(course, "bob", {gid: disguise(src) for gid, src in alice.items()})
    hand_in(course, "carol", CAROL)
    hand_in(course, "dave", DAVE)
    # hal pieced his together: three functions from alice (disguised), four from carol.
    first = list(alice)[:3]
    hand_in(course, "hal", {**CAROL, **{gid: disguise(alice[gid]) for gid in first}})
    hand_in(course, "erin", None)
    hand_in(course, "frank", None)
    (course / "submitted" / "gus" / ASSIGNMENT).mkdir(parents=True)
    (course / "submitted" / "gus" / ASSIGNMENT / NOTEBOOK).write_text('{"cells": [')
    return course


def test_a_copied_pair_is_reported_first_and_honest_or_starter_pairs_are_not(
    tmp_path: Path,
) -> None:
    course = load_course(make_class(tmp_path))
    report = similarity(course, ASSIGNMENT, threshold=0.4)
    pairs = [(p.first, p.second) for p in report.pairs]
    # Best first; honest dave and the two who handed in the starter are in no pair.
    assert pairs == [("alice", "bob"), ("carol", "hal"), ("alice", "hal"), ("bob", "hal")]
    assert report.pairs[0].score > 0.95 and report.pairs[-1].score < 0.6
    assert report.too_short == ["erin", "frank"]
    assert "not valid JSON" in report.skipped["gus"]
    assert report.students == ["alice", "bob", "carol", "dave", "erin", "frank", "hal"]


def test_stubs_left_in_place_and_short_answers_never_make_a_pair() -> None:
    release = read_notebook(ROOT / "exercises" / ASSIGNMENT / NOTEBOOK)
    ids = answer_ids(release)
    stub = next(c.source for c in release.cells if nbgrader_meta(c).get("grade_id") == ids[4])
    one_line = stub.replace(
        "# YOUR CODE HERE\n    raise NotImplementedError()", "return img.astype(np.float32) / 255"
    )

    def only(gid: str, source: str) -> str:
        return answer_code(_with_answers(release, {gid: source}), ids)

    codes = {
        # Each wrote one function their own way and left the six other stubs untouched.
        "carol": only(ids[0], CAROL[ids[0]]),
        "dave": only(ids[0], DAVE[ids[0]]),
        # The obvious one-line answer, which two students may well write alike by chance.
        "hana": only(ids[4], one_line),
        "ivan": only(ids[4], one_line),
    }
    pairs, too_short = compare(codes, [answer_code(release, ids)], 0.3)
    assert [(p.first, p.second) for p in pairs] == []
    assert too_short == []


def test_shared_tokens_are_copydetects_own_count(tmp_path: Path) -> None:
    course = load_course(make_class(tmp_path))
    ids, boilerplate = starter(course, ASSIGNMENT)
    codes, _ = submissions(course, ASSIGNMENT, ids)
    skip = boilerplate_hashes(boilerplate)
    prints = [fingerprint(codes[s], skip) for s in ("alice", "bob", "carol", "dave")]
    shared = shared_tokens(prints)
    expected = [[compare_files(a, b)[0] for b in prints] for a in prints]
    assert shared.tolist() == expected
    assert shared[0, 1] > 0 and shared[2, 3] < shared[0, 1]


def test_the_command_writes_a_self_contained_report_and_never_touches_grades(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_class(tmp_path)
    course = load_course(root)
    # A new Gradebook stamps its alembic version (15 s); the tables alone are enough here.
    Base.metadata.create_all(create_engine(course.db_url))
    with Gradebook(course.db_url) as gb:
        gb.update_or_create_assignment(ASSIGNMENT)
        gb.update_or_create_student("alice")
    results = course.grading / "results" / ASSIGNMENT / "alice"
    results.mkdir(parents=True)
    (results / "run1.json").write_text(json.dumps({"assignment": ASSIGNMENT, "student": "x"}))
    grade_files = [course.db_path, results / "run1.json"]

    def grades() -> list[str]:
        return [hashlib.sha256(p.read_bytes()).hexdigest() for p in grade_files]

    before = grades()
    assert main(["--root", str(root), "similarity", ASSIGNMENT, "--threshold", "0.9"]) == 0
    out = capsys.readouterr().out
    assert grades() == before
    assert "alice ~ bob" in out and "skipped gus" in out

    page = (course.grading / "similarity" / f"{ASSIGNMENT}.html").read_text()
    data = json.loads((course.grading / "similarity" / f"{ASSIGNMENT}.json").read_text())
    assert [(p["first"], p["second"]) for p in data["pairs"]] == [("alice", "bob")]
    assert data["threshold"] == 0.9 and data["when"] and data["skipped"].keys() == {"gus"}
    # Both students' code side by side, escaped, with the shared code marked.
    alice, bob = re.findall(r"<h3>(\w+):.*?</h3><pre>(.*?)</pre>", page, re.S)
    assert (alice[0], bob[0]) == ("alice", "bob")
    assert "<mark>" in alice[1] and "img.ndim" in alice[1] and "picture.ndim" in bob[1]
    assert "-&gt; (H, W, C)" in alice[1]
    assert not re.search(r"<(script|link|img|iframe)\b|(src|href)=['\"]?(https?:)?//", page)

    assert main(["--root", str(root), "status"]) == 0
    out = capsys.readouterr().out
    assert f"{ASSIGNMENT}: 1 pair(s) at or above 0.9, see grading/similarity/" in out
    assert grades() == before


def test_fewer_than_two_submissions_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_class(tmp_path)
    for student in ("bob", "carol", "dave", "erin", "frank", "hal"):
        shutil.rmtree(root / "submitted" / student)
    assert main(["--root", str(root), "similarity", ASSIGNMENT]) == 1
    err = capsys.readouterr().err
    assert "1 readable submission(s)" in err and "at least 2 are needed" in err
    assert not (root / "grading" / "similarity").exists()


@pytest.mark.slow
def test_two_hundred_submissions_take_seconds() -> None:
    release = read_notebook(ROOT / "exercises" / ASSIGNMENT / NOTEBOOK)
    ids = answer_ids(release)
    answers = solution_answers()
    codes = {}
    for i in range(200):
        # Near-copies of one solution (a renamed variable, an added line) are the slowest
        # case: every pair shares code, and every pair is reported.
        varied = {
            g: s.replace("img", f"img{i % 7}") + f"    n{i} = {i}\n" for g, s in answers.items()
        }
        codes[f"s{i:03}"] = answer_code(_with_answers(release, varied), ids)
    start = time.perf_counter()
    pairs, _ = compare(codes, [answer_code(release, ids)], 0.6)
    seconds = time.perf_counter() - start
    assert len(pairs) == 200 * 199 // 2
    assert seconds < 60, f"{seconds:.1f} s for 200 submissions"


def _with_answers(nb: nbformat.NotebookNode, answers: dict[str, str]) -> nbformat.NotebookNode:
    copy = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in copy.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return copy
