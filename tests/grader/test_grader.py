"""Tests of the instructor workflow (grader.cli and its parts), on a throwaway course.

Fast tests check the pieces (pre-check, rebuild, ledger, sandbox, collect, cross-check
comparisons, the histogram); one slow test walks a small class through a whole term:
release, collect, autograde with two workers, feedback, grades, status, a tampered
gradebook. The red team lives in test_redteam.py.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
from matplotlib.figure import Figure
from nbgrader_tools import course_cli
from toy_course import HIDDEN, VISIBLE, meta, student, toy_release, toy_source

from grader import crosscheck as cc
from grader.autograde import Runner, Settings, load_course, private_paths, run_harness
from grader.cli import collect_folder, parser
from grader.gradebook import Ledger
from grader.harness import encode
from grader.notebooks import hidden_lines, precheck, read_notebook, rebuild, scrub_outputs
from grader.report import score_histogram
from grader.sandbox import (
    Sandbox,
    available,
    claim_uids,
    clean_env,
    exposed,
    preflight,
    python_paths,
)

ROOT = Path(__file__).resolve().parents[2]

# --- pre-check and rebuild -------------------------------------------------------------


def test_precheck_reports_corrupt_json_and_missing_notebooks(tmp_path: Path) -> None:
    release = tmp_path / "release" / "toy.ipynb"
    release.parent.mkdir()
    nbformat.write(toy_release(), release)
    sub = tmp_path / "sub"
    sub.mkdir()
    assert "missing" in precheck(sub, release).fatal
    (sub / "toy.ipynb").write_text('{"cells": [')
    assert "not valid JSON" in precheck(sub, release).fatal
    (sub / "toy.ipynb").write_text('{"cells": [], "nbformat": 3}')
    assert "nbformat" in precheck(sub, release).fatal


def test_precheck_flags_shadow_modules_edits_and_suspicious_code(tmp_path: Path) -> None:
    release = tmp_path / "release" / "toy.ipynb"
    release.parent.mkdir()
    nbformat.write(toy_release(), release)
    sub = tmp_path / "sub"
    sub.mkdir()
    nb = student(
        "import numpy as np\nnp.allclose = lambda *a, **k: True\ndef double(x):\n    return x"
    )
    nb.cells[3].source = "pass"
    nb.cells[3].metadata["nbgrader"]["points"] = 100
    nbformat.write(nb, sub / "toy.ipynb")
    (sub / "numpy.py").write_text("x = 1")
    (sub / "results.csv").write_text("a,b\n")
    check = precheck(sub, release)
    text = " | ".join(check.flags)
    assert not check.fatal
    assert "numpy.py" in text and "shadow" in text
    assert "replaces a NumPy function" in text
    assert "locked cell double_tests was edited" in text
    assert "'points' changed from 1 to 100" in text
    assert [p.name for p in check.extra_files] == ["results.csv"]


def test_precheck_judges_only_what_the_student_added_to_a_cell(tmp_path: Path) -> None:
    guard = 'import os\nGRADING = bool(os.environ.get("NBGRADER_EXECUTION"))\n'
    nb = toy_release()
    nb.cells[2].source = guard + nb.cells[2].source  # the release's answer cell has a guard
    release = tmp_path / "release" / "toy.ipynb"
    release.parent.mkdir()
    nbformat.write(nb, release)
    sub = tmp_path / "sub"
    sub.mkdir()
    honest = copy.deepcopy(nb)
    honest.cells[2].source = guard + "def double(x):\n    return 2 * x\n"
    nbformat.write(honest, sub / "toy.ipynb")
    assert precheck(sub, release).flags == []
    sniffing = copy.deepcopy(honest)
    sniffing.cells[2].source = guard + (
        "def double(x):\n    return 42 if os.environ.get('NBGRADER_EXECUTION') else 2 * x\n"
    )
    nbformat.write(sniffing, sub / "toy.ipynb")
    assert any("sniffs the environment" in f for f in precheck(sub, release).flags)


def test_rebuild_takes_only_answers_from_the_student() -> None:
    source = toy_source()
    nb = student("def double(x):\n    return x + x\n")
    nb.cells[3].source = "pass"  # an edited visible test
    nb.cells[4].metadata["nbgrader"]["points"] = 1000
    del nb.cells[4]  # a deleted hidden test
    twin = copy.deepcopy(nb.cells[2])
    twin.source = "def double(x):\n    return 0\n"  # a duplicated answer, broken
    nb.cells.insert(3, twin)
    own = nbformat.v4.new_code_cell("helper = 1")
    nb.cells.insert(3, own)
    forged = nbformat.v4.new_code_cell(
        "pass", metadata=meta("bonus", grade=True, solution=False, locked=True, points=50)
    )
    nb.cells.append(forged)
    merged, used = rebuild(source, nb)
    assert used == 1
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in merged.cells]
    assert ids == ["intro", "setup", "double_solution", None, "double_tests", "double_hidden"]
    assert merged.cells[2].source == "def double(x):\n    return x + x\n"
    assert merged.cells[3].source == "helper = 1"
    assert merged.cells[4].source == VISIBLE
    assert merged.cells[5].source == HIDDEN and merged.cells[5].metadata.nbgrader.points == 2


def test_hidden_lines_are_scrubbed_from_outputs() -> None:
    secrets = hidden_lines(toy_source())
    assert any("hidden check number one" in line for line in secrets)
    nb = toy_source()
    nb.cells[3].outputs = [nbformat.v4.new_output("stream", name="stdout", text=HIDDEN)]
    nb.cells[4].outputs = [nbformat.v4.new_output("stream", name="stdout", text="fine\n")]
    assert scrub_outputs(nb, secrets) == 1
    assert nb.cells[3].outputs == [] and len(nb.cells[4].outputs) == 1


# --- ledger ------------------------------------------------------------------------------


def test_ledger_detects_edits_of_its_own_entries(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    ledger.record("a/s/nb/cell", 1.0, None)
    ledger.save()
    assert ledger.entries["a/s/nb/cell"]["mac"] == ledger.seal("a/s/nb/cell", 1.0, None)["mac"]
    forged = ledger.seal("a/s/nb/cell", 5.0, None)["mac"]
    assert forged != ledger.entries["a/s/nb/cell"]["mac"]
    assert (tmp_path / ".ledger-key").stat().st_mode & 0o077 == 0


# --- cross-check comparisons ------------------------------------------------------------


def test_compare_is_strict_about_type_dtype_shape_and_values() -> None:
    want = {"value": encode(np.arange(6, dtype=np.float64).reshape(2, 3))}
    case = {"kind": "value", "accepted": []}
    assert cc.compare(
        case, want, {"value": encode(np.arange(6, dtype=np.float64).reshape(2, 3) + 1e-12)}
    )
    assert not cc.compare(
        case, want, {"value": encode(np.arange(6, dtype=np.float32).reshape(2, 3))}
    )
    assert not cc.compare(case, want, {"value": encode(np.arange(6, dtype=np.float64))})
    assert not cc.compare(case, want, {"value": encode(np.zeros((2, 3)))})
    assert not cc.compare(case, want, {"value": encode([0, 1, 2])})
    assert not cc.compare(case, want, {"raised": ["ValueError"]})
    assert not cc.compare(case, want, None)

    class Anything:
        def __eq__(self, other: object) -> bool:
            return True

    assert encode(Anything())["t"] == "other"
    assert not cc.compare(case, want, {"value": encode(Anything())})
    raises = {"kind": "raises", "accepted": ["TypeError", "ValueError"]}
    assert cc.compare(raises, {"raised": ["TypeError"]}, {"raised": ["ValueError", "Exception"]})
    assert not cc.compare(raises, {"raised": ["TypeError"]}, {"value": encode(1)})


def test_perturb_keeps_shapes_dtypes_and_ranges_but_changes_values() -> None:
    x = np.random.default_rng(0).integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    call = {
        "cell": "c",
        "function": "f",
        "kind": "value",
        "accepted": [],
        "args": [x, 3],
        "kwargs": {},
    }
    (case,) = cc.perturb([call], secret=b"k" * 16)
    fresh = case["args"][0]
    assert fresh.shape == x.shape and fresh.dtype == x.dtype
    assert not np.array_equal(fresh, x)
    assert case["args"][1] == 3
    (again,) = cc.perturb([call], secret=b"other-secret")
    assert not np.array_equal(again["args"][0], fresh)


def test_crosscheck_score_flags_cells_it_refutes() -> None:
    cells = {"t1": [1.0, 1.0], "t2": [2.0, 2.0], "t3": [3.0, 3.0]}
    verdicts = {"t1": {"passed": 2, "failed": 0}, "t2": {"passed": 1, "failed": 1}}
    total, refuted = cc.crosscheck_score(cells, verdicts)
    assert total == 4.0 and refuted == ["t2"]


# --- sandbox -------------------------------------------------------------------------------


def run_boxed(
    tmp_path: Path, code: str, timeout: float = 60, readonly: tuple[Path, ...] | None = None
) -> subprocess.CompletedProcess:
    work = tmp_path / "box"
    work.mkdir(exist_ok=True)
    (uid,), locks = claim_uids(1)
    try:
        if uid is not None:
            os.chown(work, uid, uid)
        box = Sandbox(
            workdir=work, readonly=readonly or python_paths(), env=clean_env(work), uid=uid
        )
        return subprocess.run(
            box.argv([sys.executable, "-c", code]), capture_output=True, text=True, timeout=timeout
        )
    finally:
        for fd in locks:
            os.close(fd)


CLAIM = (
    "import sys, time; from grader.sandbox import claim_uids\n"
    "uids, _ = claim_uids(int(sys.argv[1])); print(*uids, flush=True); time.sleep(30)\n"
)


@pytest.mark.skipif(os.geteuid() != 0, reason="user ids are only switched when grading as root")
def test_two_grading_runs_on_one_machine_never_share_a_user_id() -> None:
    # Cleanup kills every process of a slot's user id: a shared id would kill the other
    # run's kernels. A SIGKILLed run's ids come free again.
    def start(count: int) -> tuple[subprocess.Popen, set[int]]:
        proc = subprocess.Popen(
            [sys.executable, "-c", CLAIM, str(count)], stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        assert proc.stdout is not None
        return proc, set(map(int, proc.stdout.readline().split()))

    first, a = start(3)
    second, b = start(2)
    try:
        assert len(a) == 3 and len(b) == 2 and not a & b
        first.kill()
        first.wait()
        third, c = start(3)
        third.kill()
        assert c & a, "the ids of a killed run were not released"
    finally:
        for proc in (first, second):
            proc.kill()


@pytest.fixture
def sandbox_ok() -> None:
    reason = available()
    if reason:
        pytest.fail(f"the grading sandbox is not available: {reason}")


def test_sandbox_hides_the_course_and_the_network(tmp_path: Path, sandbox_ok: None) -> None:
    code = (
        "import os, socket\n"
        f"print(os.path.exists({str(ROOT / 'solutions')!r}),"
        f" os.path.exists({str(ROOT / 'nbgrader_config.py')!r}))\n"
        "try:\n    socket.create_connection(('1.1.1.1', 80), timeout=2); print('net')\n"
        "except OSError:\n    print('no-net')\n"
        "print(sorted(os.environ))\n"
        "open('mine.txt', 'w').write('ok')\n"
    )  # fmt: skip
    proc = run_boxed(tmp_path, code)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "False False"
    assert lines[1] == "no-net"
    assert "CNN_COURSE_CACHE" in lines[2] and "SSH_AUTH_SOCK" not in lines[2]
    assert (tmp_path / "box" / "mine.txt").read_text() == "ok"


def test_sandbox_limits_memory_and_processes(tmp_path: Path, sandbox_ok: None) -> None:
    code = (
        "import os, subprocess\n"
        "try:\n    bytearray(64 * 2**30); print('allocated')\n"
        "except MemoryError:\n    print('memory-refused')\n"
        "kids = []\n"
        "try:\n"
        "    for _ in range(500):\n        kids.append(subprocess.Popen(['sleep', '30']))\n"
        "    print('forked', len(kids))\n"
        "except OSError:\n    print('fork-refused', len(kids))\n"
    )  # fmt: skip
    proc = run_boxed(tmp_path, code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "memory-refused"
    assert proc.stdout.splitlines()[1].startswith("fork-refused")


# What a submission must never see, wherever the course keeps it.
PRIVATE = ("grader", "solutions", "grading", "gradebook.db", "nbgrader_config.py", "tests")


def grading_runner(tmp_path: Path, data_dir: Path | None = None) -> Runner:
    data = os.environ.get("CNN_COURSE_DATA")
    settings = Settings(data_dir=data_dir or (Path(data) if data else None))
    return Runner(load_course(ROOT), settings, tmp_path / "run")


def test_a_submission_sees_helpers_and_data_but_nothing_of_the_grader(
    tmp_path: Path, sandbox_ok: None
) -> None:
    runner = grading_runner(tmp_path)
    # The sandbox binds the data folder at its resolved path (../shared may be a link).
    data_dir = runner.settings.data_dir.resolve() if runner.settings.data_dir else "/nowhere"
    code = (
        "import importlib.util, json, os, sys\n"
        f"root = {str(ROOT)!r}\n"
        "print(json.dumps({\n"
        "    'grader': importlib.util.find_spec('grader') is not None,\n"
        "    'helpers': importlib.util.find_spec('helpers.check') is not None,\n"
        "    'listing': sorted(os.listdir(root)),\n"
        f"    'shown': [p for p in {PRIVATE!r} if os.path.lexists(os.path.join(root, p))],\n"
        f"    'source': os.path.exists({str(ROOT / 'grader' / 'harness.py')!r}),\n"
        f"    'data': os.path.isdir({str(data_dir)!r}),\n"
        "}))\n"
    )  # fmt: skip
    proc = run_boxed(tmp_path, code, readonly=runner.readonly)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen["helpers"] and not seen["grader"] and not seen["source"], seen
    assert seen["shown"] == [] and set(seen["listing"]) <= {"helpers", ".venv"}, seen
    assert seen["data"] == (runner.settings.data_dir is not None)


def test_no_sandbox_is_made_that_would_show_the_course(tmp_path: Path) -> None:
    course = load_course(ROOT)
    shown = exposed([ROOT], private_paths(course))
    assert ROOT / "grader" in shown and course.grading in shown and course.db_path in shown
    assert exposed([ROOT / "helpers", ROOT / ".venv"], private_paths(course)) == []
    assert exposed([course.grading / "reference"], private_paths(course)) == [course.grading]
    with pytest.raises(SystemExit, match="refusing to grade"):
        grading_runner(tmp_path, data_dir=ROOT)


def test_the_harness_runs_in_a_sandbox_without_the_grader(tmp_path: Path, sandbox_ok: None) -> None:
    runner = grading_runner(tmp_path)
    cells = [
        "import importlib.util, os, pathlib\n"
        "def size(path):\n    return type(path).__name__, pathlib.Path(path).stat().st_size\n"
        "def grader_found():\n    return importlib.util.find_spec('grader') is not None\n"
        "def exists(path):\n    return os.path.exists(path)\n"
    ]
    cases = [
        {"id": 0, "function": "size", "args": [cc.FileArg("x.bin", b"abcd", True)], "kwargs": {}},
        {"id": 1, "function": "grader_found", "args": [], "kwargs": {}},
        {"id": 2, "function": "exists", "args": [str(ROOT / "grader")], "kwargs": {}},
        {"id": 3, "function": "missing", "args": [], "kwargs": {}},
    ]
    log = tmp_path / "harness.log"
    result = run_harness(runner, "toy", "_expected", "toy.ipynb", cells, cases, 0, log)
    got = {r["id"]: r for r in result["records"]}
    assert cc.decode(got[0]["value"]) == ["PosixPath", 4], result
    assert cc.decode(got[1]["value"]) is False and cc.decode(got[2]["value"]) is False
    assert got[3] == {"id": 3, "missing": True}


def test_the_capture_hook_records_calls_without_the_grader(tmp_path: Path) -> None:
    (tmp_path / "picture.png").write_bytes(b"not really a picture")
    capture = tmp_path / cc.CAPTURE_FILE
    program = cc.capture_cell(capture) + "\n".join(
        [
            cc.marker_cell("double_tests"),
            "import pathlib",
            "from helpers.check import call_student, check_raises",
            "def double(x):\n    if x is None:\n        raise ValueError('no')\n    return x",
            "call_student(double, pathlib.Path('picture.png'), name='double')",
            "check_raises(double, None, exception=ValueError)",
            "call_student(len, [1, 2])",
        ]
    )
    # The hook runs where nothing of the grader is importable: an empty folder, no path.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-c", program], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    first, second = cc.read_capture(capture)
    assert first["cell"] == "double_tests" and first["function"] == "double"
    (picture,) = first["args"]
    assert isinstance(picture, cc.FileArg) and picture.as_path
    assert picture.name == "picture.png" and picture.data == b"not really a picture"
    assert second["kind"] == "raises" and second["accepted"] == ["ValueError"]


# --- collect -------------------------------------------------------------------------------


def test_collect_takes_notebooks_zips_and_folders(tmp_path: Path) -> None:
    course = tmp_path / "course"
    (course / "exercises" / "toy").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.release_directory = 'exercises'\n"
    )
    nbformat.write(toy_release(), course / "exercises" / "toy" / "toy.ipynb")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    nbformat.write(student("def double(x):\n    return 2 * x"), inbox / "ada.ipynb")
    with zipfile.ZipFile(inbox / "grace.zip", "w") as zf:
        zf.writestr("grace-toy/Untitled.ipynb", nbformat.writes(toy_release()))
        zf.writestr("grace-toy/data.csv", "1,2\n")
    with zipfile.ZipFile(inbox / "mallory.zip", "w") as zf:
        zf.writestr("../../escape.txt", "x")
    (inbox / "alan").mkdir()
    nbformat.write(toy_release(), inbox / "alan" / "toy.ipynb")
    (inbox / "bad name!.ipynb").write_text("{}")
    taken, problems = collect_folder(load_course(course), "toy", inbox)
    assert sorted(taken) == ["ada", "alan", "grace", "mallory"]
    sub = course / "submitted"
    assert (sub / "grace" / "toy" / "toy.ipynb").is_file()
    assert (sub / "grace" / "toy" / "data.csv").is_file()
    assert not (tmp_path / "escape.txt").exists()
    assert any("outside its folder" in p for p in problems)
    assert any("usable student id" in p for p in problems)
    assert read_notebook(sub / "ada" / "toy" / "toy.ipynb").cells[2].source.endswith("2 * x")


def test_histogram_is_a_figure() -> None:
    fig = score_histogram([10.0, 50.0, 75.0, 100.0, 100.0], 100.0, "toy")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert sum(p.get_height() for p in ax.patches) == 5
    assert "median" in " ".join(t.get_text() for t in ax.get_legend().get_texts())


def test_every_verb_has_help() -> None:
    verbs = parser()._subparsers._group_actions[0].choices  # noqa: SLF001
    assert set(verbs) == {
        "release",
        "collect",
        "autograde",
        "merge",
        "feedback",
        "similarity",
        "grades",
        "status",
    }


# --- a whole term on the toy course ----------------------------------------------------------


@pytest.mark.slow
def test_a_whole_term_on_a_toy_course(tmp_path: Path, sandbox_ok: None) -> None:
    course = tmp_path / "course"
    (course / "solutions" / "toy").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
    nbformat.write(toy_source(), course / "solutions" / "toy" / "toy.ipynb")
    assert course_cli(course, "release").returncode == 0
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    nbformat.write(student("def double(x):\n    return 2 * x"), inbox / "ada.ipynb")
    nbformat.write(student("def double(x):\n    return 4"), inbox / "bob.ipynb")
    cheat = (
        "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n"
        "def double(x):\n    return 0"
    )
    nbformat.write(student(cheat), inbox / "eve.ipynb")
    # A cheat no hook reset undoes: the grading helper patched in memory. Only the
    # cross-check, which calls double() in a fresh interpreter, catches it.
    patched = (
        "import helpers.check, helpers.check.asserts\n"
        "helpers.check.call_student = helpers.check.asserts.call_student = "
        "lambda f, x, **k: 2 * x\n"
        "def double(x):\n    return 0"
    )
    nbformat.write(student(patched), inbox / "mal.ipynb")
    (inbox / "zed.ipynb").write_text('{"cells": [')
    assert course_cli(course, "collect", "toy", "--from", str(inbox)).returncode == 0

    proc = course_cli(course, "autograde", "--jobs", "2", "--cell-timeout", "10", "--quiet")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (
        "5 notebooks" in proc.stdout and "4 graded" in proc.stdout and "1 rejected" in proc.stdout
    )
    results = {
        p.parent.name: json.loads(p.read_text())
        for p in (course / "grading" / "results" / "toy").glob("*/toy.json")
    }
    assert results["ada"]["score"] == 3 and not results["ada"]["flags"]
    assert results["bob"]["cells"] == {"double_tests": [1.0, 1.0], "double_hidden": [0.0, 2.0]}
    # The swallowing handler is taken out before the test cells run, and reported.
    assert results["eve"]["score"] == 0 and results["eve"]["crosscheck_score"] == 0
    assert any("custom exception handler" in f for f in results["eve"]["flags"])
    assert results["mal"]["score"] == 3 and results["mal"]["crosscheck_score"] == 0
    assert any("cross-check" in f for f in results["mal"]["flags"])
    assert results["zed"]["status"] == "rejected" and "JSON" in results["zed"]["reason"]
    logs = list((course / "grading" / "runs").glob("*/logs/toy/*.log"))
    assert {p.stem for p in logs} >= {"ada", "bob", "eve", "mal", "zed"}

    proc = course_cli(course, "feedback")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = (course / "feedback" / "bob" / "toy" / "toy.html").read_text()
    assert "double(21) should be 42" in page  # the failure message is shown ...
    assert "call_student(double, 21)" not in page  # ... the hidden test's code is not

    proc = course_cli(course, "grades", "--csv", "grades.csv")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = (course / "grades.csv").read_text().splitlines()
    assert rows[0].startswith("student,assignment,score,max_score,crosscheck_score")
    assert len(rows) == 5
    assert (course / "grading" / "summary" / "toy-histogram.png").stat().st_size > 1000

    proc = course_cli(course, "status")
    assert "changed outside grading: 0" in proc.stdout and "rejected: 1" in proc.stdout
    import sqlite3

    with sqlite3.connect(course / "gradebook.db") as db:
        # Bob's hidden-test score, raised by hand in the database.
        db.execute(
            "UPDATE grade SET auto_score = 2 WHERE id = (SELECT g.id FROM grade g "
            "JOIN submitted_notebook n ON g.notebook_id = n.id "
            "JOIN submitted_assignment a ON n.assignment_id = a.id "
            "JOIN base_cell c ON g.cell_id = c.id "
            "WHERE a.student_id = 'bob' AND c.name = 'double_hidden')"
        )
    proc = course_cli(course, "status")
    assert proc.returncode == 1 and "changed outside grading: 1" in proc.stdout, proc.stdout
    assert "toy/bob/toy/double_hidden" in proc.stdout


@pytest.mark.slow
def test_missing_data_stops_the_run_before_anyone_is_graded(
    tmp_path: Path, sandbox_ok: None
) -> None:
    course = tmp_path / "course"
    (course / "solutions" / "toy").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
    source = toy_source()
    # The hidden test needs the course data, as the real assignments do.
    source.cells[4].source = source.cells[4].source.replace(
        "### END HIDDEN TESTS",
        "import os\nopen(os.path.join(os.environ['CNN_COURSE_DATA'], 'mnist', "
        "'t10k-labels-idx1-ubyte.gz'), 'rb').close()\n### END HIDDEN TESTS",
    )
    nbformat.write(source, course / "solutions" / "toy" / "toy.ipynb")
    assert course_cli(course, "release").returncode == 0
    folder = course / "submitted" / "ada" / "toy"
    folder.mkdir(parents=True)
    nbformat.write(student("def double(x):\n    return 2 * x"), folder / "toy.ipynb")
    env_before = os.environ.get("CNN_COURSE_DATA")
    os.environ["CNN_COURSE_DATA"] = str(tmp_path / "no-data-here")
    try:
        proc = course_cli(course, "autograde", "--jobs", "1", "--cell-timeout", "10", "--quiet")
    finally:
        if env_before is None:
            del os.environ["CNN_COURSE_DATA"]
        else:
            os.environ["CNN_COURSE_DATA"] = env_before
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "environment fault" in proc.stdout and "double_hidden" in proc.stdout
    record = json.loads((course / "grading" / "results" / "toy" / "ada" / "toy.json").read_text())
    assert record["status"] == "failed" and "environment fault" in record["reason"]
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        assert gb.assignments[0].submissions == []


# --- student ids, pre-flight, metadata lost by an editor -----------------------------------


def _release_course(tmp_path: Path) -> Path:
    course = tmp_path / "course"
    (course / "exercises" / "toy").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.release_directory = 'exercises'\n"
    )
    nbformat.write(toy_release(), course / "exercises" / "toy" / "toy.ipynb")
    return course


def test_collect_refuses_ids_with_a_newline_and_reports_two_files_of_one_student(
    tmp_path: Path,
) -> None:
    course = _release_course(tmp_path)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    honest = nbformat.writes(student("def double(x):\n    return 2 * x"))
    (inbox / "eve\n.ipynb").write_text(honest)
    (inbox / "ada.ipynb").write_text(honest)
    (inbox / "ada_toy.ipynb").write_text(honest)
    (inbox / "bo.ipynb").write_text(honest)
    taken, problems = collect_folder(load_course(course), "toy", inbox)
    assert taken == ["bo"]
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["bo"]
    assert any("'eve\\n'" in p and "usable student id" in p for p in problems), problems
    (twice,) = [p for p in problems if p.startswith("ada:")]
    assert "ada.ipynb" in twice and "ada_toy.ipynb" in twice and "none was collected" in twice


def _preflight(tmp_path: Path, readonly: tuple[Path, ...]) -> str:
    work = tmp_path / "box"
    work.mkdir(exist_ok=True)
    (uid,), locks = claim_uids(1)
    try:
        return preflight(Sandbox(workdir=work, readonly=readonly, env=clean_env(work), uid=uid))
    finally:
        for fd in locks:
            os.close(fd)


def test_preflight_says_what_to_fix_when_the_sandbox_cannot_import_helpers(
    tmp_path: Path, sandbox_ok: None
) -> None:
    import helpers

    assert _preflight(tmp_path, (*python_paths(), Path(helpers.__file__).resolve().parent)) == ""
    reason = _preflight(tmp_path, python_paths())
    assert "No module named 'helpers'" in reason and "pip install -e ." in reason, reason
    assert "\n" not in reason and "Traceback" not in reason


@pytest.mark.slow
def test_a_virtualenv_reached_through_a_symlink_grades(tmp_path: Path, sandbox_ok: None) -> None:
    course = tmp_path / "course"
    (course / "solutions" / "toy").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text((ROOT / "nbgrader_config.py").read_text())
    nbformat.write(toy_source(), course / "solutions" / "toy" / "toy.ipynb")
    assert course_cli(course, "release").returncode == 0
    folder = course / "submitted" / "ada" / "toy"
    folder.mkdir(parents=True)
    nbformat.write(student("def double(x):\n    return 2 * x"), folder / "toy.ipynb")
    # The instructor's interpreter, as they reach it: through a link outside the course.
    venv = tmp_path / "elsewhere" / "venv"
    venv.parent.mkdir()
    venv.symlink_to(Path(sys.prefix).resolve())
    env = dict(os.environ, PYTHONPATH=str(ROOT), PATH=f"{venv / 'bin'}:{os.environ['PATH']}")
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "grader", "autograde", "--jobs", "1", "--quiet"],
        cwd=course, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads((course / "grading" / "results" / "toy" / "ada" / "toy.json").read_text())
    assert record["status"] == "graded" and record["score"] == 3, record
    assert record["crosscheck_score"] == 3, record


def test_metadata_an_editor_stripped_is_matched_to_the_release(tmp_path: Path) -> None:
    release = toy_release()
    for new_ids in (False, True):
        nb = student("def double(x):\n    return 2 * x")
        for n, cell in enumerate(nb.cells):
            cell.metadata = {}
            if new_ids:
                cell["id"] = f"new{n}"
        nb.cells.insert(3, nbformat.v4.new_code_cell("print(double(1))"))
        folder = tmp_path / f"new-ids-{new_ids}"
        folder.mkdir()
        nbformat.write(nb, folder / "toy.ipynb")
        release_path = tmp_path / "toy.ipynb"
        nbformat.write(release, release_path)
        check = precheck(folder, release_path)
        assert not check.fatal and not check.flags, (check.fatal, check.flags)
        assert any("nbgrader metadata" in n and "Jupyter" in n for n in check.notes), check.notes
        merged, used = rebuild(toy_source(), check.restored)
        assert used == 1
        assert [c.source for c in merged.cells[2:4]] == [
            "def double(x):\n    return 2 * x",
            "print(double(1))",
        ]
        assert merged.cells[4].source == VISIBLE and merged.cells[5].source == HIDDEN


def test_the_worker_disarms_exit_and_restores_the_course_constants(sandbox_ok: None) -> None:
    import asyncio
    import shutil
    import tempfile

    import helpers
    from grader.worker import execute, scores

    nb = toy_release()
    nb.cells[2].source = (
        "import helpers.kernels as k\nk.TINY_IMAGE.setflags(write=True)\nk.TINY_IMAGE[...] = 0\n"
        "def double(x):\n    return 2 * x\nexit()"
    )
    nb.cells[3].source = "from helpers.kernels import TINY_IMAGE\nassert TINY_IMAGE.sum() == 13"
    nb.cells[4].source = "assert double(21) == 42"
    # Short: the kernel's socket paths live in it.
    jobdir = Path(tempfile.mkdtemp(prefix="grade-"))
    (uid,), locks = claim_uids(1)
    try:
        work = jobdir / "sandbox"
        work.mkdir()
        box = Sandbox(
            workdir=work,
            readonly=(*python_paths(), Path(helpers.__file__).resolve().parent),
            env=clean_env(work),
            uid=uid,
        )
        job = {"jobdir": str(jobdir), "cell_timeout": 20, "output_cap": 2**20}
        notes, flags, _ = asyncio.run(execute(nb, job, box))
    finally:
        for fd in locks:
            os.close(fd)
        shutil.rmtree(jobdir, ignore_errors=True)
    assert scores(nb) == {"double_tests": [1.0, 1.0], "double_hidden": [2.0, 2.0]}, notes
    assert any("double_solution called exit()" in f for f in flags), flags
    assert any("TINY_IMAGE" in f and "restored" in f for f in flags), flags
    assert not notes, notes
