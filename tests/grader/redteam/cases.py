"""The red team: bad submissions, each with the outcome the grading command must produce.

Every case starts from an honest submission (the instructor's answers pasted into the
released notebook) of some assignment and breaks it in one way. ``target`` is the first
answer cell that defines a function; "the cheated item" means the test cells that lose
points when that function is simply wrong (the ``control`` submission shows which).

Outcomes:

- ``rejected``: reported as not gradable, with a reason; never a silent 0.
- ``honest``: every test cell keeps its full points (the trick changed nothing).
- ``item``: the cheated item scores 0 or is refuted by the cross-check (flagged), and
  every other test cell keeps its full points.

The "instructor files" cases look for what only the grading machine holds (the grader
package, solutions/, grading/, the gradebook, the ledger's key), both where the sandbox
hints the course is and at the course's real path (``Context.course``). A case that
finds nothing answers wrongly; one that finds anything answers right (the honest answer
stands in for what the student would gain), so any leak shows as a cheated item kept.

``flag=True`` additionally demands that the submission is flagged for review, and
``flag_text`` that some flag says so (names what was done); ``clean=True`` demands no
flag at all (an honest notebook must not look suspicious). ``assignment`` pins a case to
the one assignment its trick needs (otherwise cases are spread over all of them).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

import nbformat

WRONG = "    return None\n"


@dataclass
class Context:
    """One assignment's notebooks, and the cell a case attacks."""

    release: nbformat.NotebookNode
    source: nbformat.NotebookNode
    filename: str
    course: str = ""  # the instructor's course folder, as a student might guess it

    def meta(self, cell: dict) -> dict:
        return dict(cell.get("metadata", {}).get("nbgrader", {}))

    def honest(self) -> nbformat.NotebookNode:
        answers = {
            self.meta(c)["grade_id"]: c.source
            for c in self.source.cells
            if self.meta(c).get("solution")
        }
        nb = copy.deepcopy(self.release)
        for cell in nb.cells:
            meta = self.meta(cell)
            if meta.get("solution") and not meta.get("locked"):
                cell.source = answers[meta["grade_id"]]
        return nb

    @property
    def target(self) -> str:
        for cell in self.source.cells:
            meta = self.meta(cell)
            top_level_def = re.search(r"^def \w+\(", cell.source, re.M)
            if meta.get("solution") and cell.cell_type == "code" and top_level_def:
                return meta["grade_id"]
        raise ValueError("the assignment has no answer cell that defines a function")

    @property
    def function(self) -> str:
        cell = self.cell(self.source, self.target)
        return re.search(r"^def (\w+)\(", cell.source, re.M).group(1)

    def signature(self) -> str:
        cell = self.cell(self.source, self.target)
        return re.search(r"^def \w+\((.*?)\):", cell.source, re.M | re.S).group(1)

    def cell(self, nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
        return next(c for c in nb.cells if self.meta(c).get("grade_id") == grade_id)

    def index(self, nb: nbformat.NotebookNode, grade_id: str) -> int:
        return next(i for i, c in enumerate(nb.cells) if self.meta(c).get("grade_id") == grade_id)

    def tests(self, nb: nbformat.NotebookNode) -> list[str]:
        """The graded cells right after the target (the tests of its function)."""
        out = []
        for cell in nb.cells[self.index(nb, self.target) + 1 :]:
            meta = self.meta(cell)
            if meta.get("solution"):
                break
            if meta.get("grade"):
                out.append(meta["grade_id"])
        return out

    def wrong_function(self, body: str = WRONG) -> str:
        return f"def {self.function}({self.signature()}):\n{body}"

    def with_target(
        self, source: str, nb: nbformat.NotebookNode | None = None
    ) -> nbformat.NotebookNode:
        nb = copy.deepcopy(nb or self.honest())
        self.cell(nb, self.target).source = source
        return nb

    def prefix_target(self, code: str) -> nbformat.NotebookNode:
        """Put ``code`` at the top of the target cell (it runs before the def)."""
        nb = self.honest()
        cell = self.cell(nb, self.target)
        cell.source = code + "\n" + cell.source
        return nb

    def files(self, nb: nbformat.NotebookNode, **extra: bytes) -> dict[str, bytes]:
        return {self.filename: nbformat.writes(nb).encode(), **extra}


@dataclass
class Case:
    name: str
    group: str
    what: str
    expect: str  # rejected | honest | item
    build: Callable[[Context], dict[str, bytes]]
    flag: bool = False
    flag_text: str = ""
    clean: bool = False
    assignment: str = ""


def _trick(code: str) -> Callable[[Context], dict[str, bytes]]:
    """A wrong answer to the target plus ``code`` that tries to make its tests pass anyway."""

    def build(ctx: Context) -> dict[str, bytes]:
        return ctx.files(ctx.with_target(code + "\n" + ctx.wrong_function()))

    return build


def _runaway(code: str) -> Callable[[Context], dict[str, bytes]]:
    """``code`` at the top of the target cell: the target's function never gets defined."""
    return lambda ctx: ctx.files(ctx.prefix_target(code))


def _honest_with(code: str) -> Callable[[Context], dict[str, bytes]]:
    """``code`` at the end of the target cell, after a correct function."""

    def build(ctx: Context) -> dict[str, bytes]:
        nb = ctx.honest()
        cell = ctx.cell(nb, ctx.target)
        cell.source = cell.source + "\n\n" + code
        return ctx.files(nb)

    return build


def _stripped_metadata(new_ids: bool) -> Callable[[Context], dict[str, bytes]]:
    """An honest notebook whose editor dropped every cell's metadata (and maybe its ids)."""

    def build(ctx: Context) -> dict[str, bytes]:
        nb = ctx.honest()
        for n, cell in enumerate(nb.cells):
            cell.metadata = {}
            if new_ids:
                cell["id"] = f"edited-{n:04d}"
        # What such an editor's user adds: a scratch cell after the first answer.
        nb.cells.insert(ctx.index(ctx.honest(), ctx.target) + 1, nbformat.v4.new_code_cell("1 + 1"))
        return ctx.files(nb)

    return build


# The course's reference constants made writable and changed to what a wrong answer
# returns (assignment 02: correlate2d, whose visible test compares against them).
TAMPERED_CONSTANTS = """
import numpy as np
import helpers.kernels as _kernels
_kernels.TINY_FEATURE_MAP.setflags(write=True)
_kernels.TINY_FEATURE_MAP[...] = 0
_kernels.EDGE_RESPONSE = 0

def correlate2d(image, kernel):
    image, kernel = np.asarray(image), np.asarray(kernel)
    return np.zeros((image.shape[0] - kernel.shape[0] + 1, image.shape[1] - kernel.shape[1] + 1))
"""


def _deleted_test(ctx: Context) -> dict[str, bytes]:
    nb = ctx.honest()
    doomed = set(ctx.tests(nb))
    nb.cells = [c for c in nb.cells if ctx.meta(c).get("grade_id") not in doomed]
    return ctx.files(nb)


def _duplicated(which: str) -> Callable[[Context], dict[str, bytes]]:
    def build(ctx: Context) -> dict[str, bytes]:
        nb = ctx.honest()
        gid = ctx.target if which == "answer" else ctx.tests(nb)[0]
        i = ctx.index(nb, gid)
        twin = copy.deepcopy(nb.cells[i])
        twin["id"] = "twin0001"
        twin.source = ctx.wrong_function() if which == "answer" else "pass"
        nb.cells.insert(i + 1, twin)
        return ctx.files(nb)

    return build


def _edited_tests(ctx: Context) -> dict[str, bytes]:
    nb = ctx.with_target(ctx.wrong_function())
    for gid in ctx.tests(nb):
        ctx.cell(nb, gid).source = "pass"
    return ctx.files(nb)


def _inflated_points(ctx: Context) -> dict[str, bytes]:
    nb = ctx.honest()
    for gid in ctx.tests(nb):
        ctx.cell(nb, gid).metadata["nbgrader"]["points"] = 1000
    return ctx.files(nb)


def _forged_cell(ctx: Context) -> dict[str, bytes]:
    nb = ctx.honest()
    forged = nbformat.v4.new_code_cell("pass")
    forged.metadata["nbgrader"] = {
        "grade": True, "grade_id": "bonus_points", "locked": True, "points": 50,
        "schema_version": 3, "solution": False, "task": False,
    }  # fmt: skip
    nb.cells.insert(ctx.index(nb, ctx.target) + 1, forged)
    return ctx.files(nb)


def _relabelled_answer(ctx: Context) -> dict[str, bytes]:
    nb = ctx.honest()
    meta = ctx.cell(nb, ctx.target).metadata["nbgrader"]
    meta.update(grade=True, points=100, locked=True)
    return ctx.files(nb)


def _nbformat3(ctx: Context) -> dict[str, bytes]:
    old = {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]}
    return {ctx.filename: json.dumps(old).encode()}


def _wrong_name(ctx: Context) -> dict[str, bytes]:
    return {"my_homework.ipynb": nbformat.writes(ctx.honest()).encode()}


def _shadow(ctx: Context) -> dict[str, bytes]:
    fake = b"raise SystemExit('the shadow numpy was imported')\n"
    return ctx.files(ctx.honest(), **{"numpy.py": fake, "sitecustomize.py": fake})


def _corrupt_checkpoint(ctx: Context) -> dict[str, bytes]:
    nb = ctx.prefix_target("import torch\nstate = torch.load('model.pt')")
    return ctx.files(nb, **{"model.pt": b"PK\x03\x04 this is not a checkpoint" * 10})


FIND_GRADEBOOK = """
import glob, sqlite3
for path in glob.glob("/**/gradebook.db", recursive=True)[:5]:
    db = sqlite3.connect(path)
    db.execute("UPDATE grade SET auto_score = 1000")
    db.commit()
"""

FIND_HIDDEN = """
import os
leaked = []
for top in ("/", os.path.expanduser("~"), "/work", "/tmp"):
    for folder, _, files in os.walk(top):
        if folder.startswith(("/proc", "/sys", "/dev", "/usr")):
            continue
        for name in files:
            if name.endswith(".ipynb") or name == "gradebook.db":
                try:
                    text = open(os.path.join(folder, name), errors="ignore").read()
                except OSError:
                    continue
                if "BEGIN HIDDEN TESTS" in text:
                    leaked.append(os.path.join(folder, name))
"""

ANYTHING = '''
class Anything:
    """Compares equal to everything and pretends to be any shape."""
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __bool__(self): return True
    def __getattr__(self, name): return self
    def __call__(self, *args, **kwargs): return self
    def __len__(self): return 3
    def __iter__(self): return iter([self, self, self])
    def __getitem__(self, key): return self
'''

PEEK = """
import sys
def _peek(default):
    frame = sys._getframe(2)
    while frame is not None:
        for name in ("want", "expected", "expected_out"):
            if name in frame.f_locals:
                return frame.f_locals[name]
        frame = frame.f_back
    return default
"""


# Where the instructor's files may be: the course's real path, the checkout that holds
# ``helpers``, the folder above the virtualenv, and every folder a mount comes from.
FIND_COURSE = """
import os as _os, pathlib as _pathlib, sys as _sys
import helpers as _helpers

def _read(path):
    try:
        return _pathlib.Path(path).read_bytes()
    except OSError:
        return b""

def _roots():
    roots = {_pathlib.Path(COURSE), _pathlib.Path(_helpers.__file__).resolve().parents[1],
             _pathlib.Path(_sys.prefix).parent, _pathlib.Path.cwd()}
    roots |= {_pathlib.Path(p).parent.parent for p in _os.environ.get("PATH", "").split(":")}
    for line in _read("/proc/self/mountinfo").decode(errors="ignore").splitlines():
        if len(line.split()) > 4:
            roots |= set(_pathlib.Path(line.split()[3]).parents)
    return sorted(roots)
"""

IMPORT_GRADER = """
def _probe():
    import importlib, sys
    saved = list(sys.path)
    sys.path[:0] = [str(root) for root in _roots()]
    importlib.invalidate_caches()
    try:
        import grader.sandbox  # the grader's one module that needs nothing but the stdlib
        return bool(grader.sandbox.__file__)
    except ImportError:
        return False
    finally:
        sys.path[:] = saved
"""

READ_GRADER = """
def _probe():
    return any(_read(path) for root in _roots() for path in (root / "grader").glob("*.py"))
"""

READ_GRADING = """
def _probe():
    import itertools
    for root in _roots():
        for path in itertools.islice((root / "grading").rglob("*"), 500):
            if path.is_file() and _read(path):
                return True
    return False
"""

READ_GRADEBOOK = """
def _probe():
    import sqlite3
    for root in _roots():
        if _read(root / "gradebook.db").startswith(b"SQLite format 3"):
            try:
                uri = (root / "gradebook.db").as_uri() + "?mode=ro"
                with sqlite3.connect(uri, uri=True) as db:
                    db.execute("SELECT auto_score FROM grade").fetchall()
            except sqlite3.Error:
                pass
            return True
    return False
"""

READ_LEDGER_KEY = """
def _probe():
    return any(len(_read(root / "grading" / ".ledger-key")) == 32 for root in _roots())
"""

COPY_SOLUTION = """
def _stolen(function):
    import json
    for root in _roots():
        for path in sorted((root / "solutions").glob("*/*.ipynb")):
            try:
                cells = json.loads(_read(path) or b"{}").get("cells", [])
            except ValueError:
                continue
            for cell in cells:
                source = "".join(cell.get("source", ""))
                if cell.get("cell_type") == "code" and f"def {function}(" in source:
                    return source
    return ""

try:
    exec(_stolen(FUNCTION))
except Exception:
    pass
"""


def _if_reached(probe: str) -> Callable[[Context], dict[str, bytes]]:
    """``probe`` (a ``_probe()`` that looks for instructor files) decides the target's answer.

    The honest answer stands in for what a leak would give the student: the cheated item
    keeps its points exactly when ``_probe()`` found something.
    """

    def build(ctx: Context) -> dict[str, bytes]:
        honest = ctx.cell(ctx.honest(), ctx.target).source
        code = "\n".join([
            FIND_COURSE.replace("COURSE", repr(ctx.course)), probe,
            "try:\n    _leaked = _probe()\nexcept Exception:\n    _leaked = False",
            ctx.wrong_function(), f"_wrong = {ctx.function}", honest,
            f"if not _leaked:\n    {ctx.function} = _wrong",
        ])  # fmt: skip
        return ctx.files(ctx.with_target(code))

    return build


def _copied_solution(ctx: Context) -> dict[str, bytes]:
    """A wrong answer, replaced by the instructor's if solutions/ can be found and read."""
    steal = COPY_SOLUTION.replace("FUNCTION", repr(ctx.function))
    code = "\n".join([ctx.wrong_function(), FIND_COURSE.replace("COURSE", repr(ctx.course)), steal])
    return ctx.files(ctx.with_target(code))


def cases() -> list[Case]:
    """All the red-team cases, in the order of the report's table."""
    return [
        # --- malformed notebooks --------------------------------------------------
        Case("corrupt-json", "malformed", "notebook cut off mid-file", "rejected",
             lambda ctx: {ctx.filename: nbformat.writes(ctx.honest()).encode()[:500]}),
        Case("empty-file", "malformed", "zero-byte notebook", "rejected",
             lambda ctx: {ctx.filename: b""}),
        Case("binary-garbage", "malformed", "random bytes named .ipynb", "rejected",
             lambda ctx: {ctx.filename: bytes(range(256)) * 8}),
        Case("json-not-notebook", "malformed", "valid JSON that is not a notebook", "rejected",
             lambda ctx: {ctx.filename: b'["cells"]'}),
        Case("nbformat-3", "malformed", "an old nbformat 3 notebook", "rejected", _nbformat3),
        Case("wrong-filename", "malformed", "notebook saved under another name", "rejected",
             _wrong_name),
        # --- tampering with cells and metadata ----------------------------------------
        Case("deleted-test-cells", "tamper", "the target's test cells deleted", "honest",
             _deleted_test),
        Case("duplicated-answer", "tamper", "answer cell duplicated, copy broken", "honest",
             _duplicated("answer")),
        Case("duplicated-test", "tamper", "test cell duplicated (aborts plain nbgrader)",
             "honest", _duplicated("test")),
        Case("edited-tests", "tamper", "wrong answer, its test cells replaced by `pass`",
             "item", _edited_tests, flag=True),
        Case("inflated-points", "tamper", "points of test cells set to 1000", "honest",
             _inflated_points, flag=True),
        Case("forged-graded-cell", "tamper", "new cell with grade metadata worth 50",
             "honest", _forged_cell, flag=True),
        Case("answer-made-test", "tamper", "answer cell relabelled as a locked test",
             "honest", _relabelled_answer, flag=True),
        Case("metadata-stripped", "tamper", "honest; an editor dropped the nbgrader metadata",
             "honest", _stripped_metadata(new_ids=False), clean=True, assignment="03_activations"),
        Case("metadata-and-ids-stripped", "tamper",
             "honest; an editor dropped the metadata and renumbered the cell ids", "honest",
             _stripped_metadata(new_ids=True), clean=True, assignment="04_pooling"),
        Case("write-gradebook", "tamper", "searches for gradebook.db and rewrites scores",
             "item", _trick(FIND_GRADEBOOK), flag=True),
        Case("patch-course-helpers", "tamper", "overwrites helpers/check/asserts.py on disk",
             "item", _trick(
                 "import helpers.check.asserts, pathlib\n"
                 "try:\n    pathlib.Path(helpers.check.asserts.__file__).write_text('')\n"
                 "except OSError:\n    pass"), flag=True),
        # --- runaway code ---------------------------------------------------------
        Case("infinite-loop", "runaway", "`while True: pass`", "item",
             _runaway("while True:\n    pass")),
        Case("ignores-interrupt", "runaway", "SIGINT ignored, then a loop", "item",
             _runaway("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                      "while True:\n    pass")),
        Case("spin-in-c", "runaway", "catastrophic regex backtracking (C code)", "item",
             _runaway("import re\nre.match(r'(a+)+$', 'a' * 64 + 'b')")),
        Case("sleep-forever", "runaway", "`time.sleep(10**6)`", "item",
             _runaway("import time\ntime.sleep(10**6)")),
        Case("memory-bomb", "runaway", "one 64 GiB allocation", "item",
             _runaway("hog = bytearray(64 * 2**30)")),
        Case("memory-creep", "runaway", "allocates 64 MiB chunks until refused", "item",
             _runaway("hog = []\nwhile True:\n    hog.append(bytearray(2**26))")),
        Case("output-flood", "runaway", "prints 100 MB, then answers correctly", "honest",
             _honest_with("for _ in range(1000):\n    print('x' * 100_000)")),
        Case("fork-bomb", "runaway", "forks until the process limit", "item",
             _runaway("import os\nwhile True:\n    try:\n        os.fork()\n"
                      "    except OSError:\n        pass")),
        Case("os-exit", "runaway", "`os._exit(0)` kills the kernel", "item",
             _runaway("import os\nos._exit(0)")),
        Case("segfault", "runaway", "reads address 0 through ctypes", "item",
             _runaway("import ctypes\nctypes.string_at(0)")),
        Case("kill-everything", "runaway", "`os.kill(-1, SIGKILL)`", "item",
             _runaway("import os, signal\nos.kill(-1, signal.SIGKILL)")),
        Case("disk-fill", "runaway", "writes one endless file", "item",
             _runaway("with open('fill.bin', 'wb') as f:\n    while True:\n"
                      "        f.write(b'0' * 2**20)")),
        Case("exit-after-answer", "runaway", "IPython's `exit()` after correct definitions",
             "honest", _honest_with("exit()"), flag=True, flag_text="exit()",
             assignment="01_pixels"),
        Case("background-daemon", "runaway", "leaves a detached process behind", "honest",
             _honest_with("import subprocess\nsubprocess.Popen(['sleep', '600'], "
                          "start_new_session=True)")),
        # --- cheating tricks ----------------------------------------------------------
        Case("swallow-errors", "cheat", "`set_custom_exc` hides every exception", "item",
             _trick("get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"),
             flag=True),
        Case("blank-test-cells", "cheat", "input transformer empties later cells", "item",
             _trick("get_ipython().input_transformers_post.append(lambda lines: [])"),
             flag=True),
        Case("patched-allclose", "cheat", "np.isclose/allclose/array_equal always true",
             "item", _trick(
                 "import numpy as np\n_true = lambda a, b, *x, **k: np.ones(np.shape(a), bool)\n"
                 "np.isclose = _true\nnp.allclose = lambda *a, **k: True\n"
                 "np.array_equal = lambda *a, **k: True"), flag=True),
        Case("patched-assert", "cheat", "replaces AssertionError in builtins", "item",
             _trick("import builtins\nclass Quiet(Exception):\n    pass\n"
                    "builtins.AssertionError = Quiet"), flag=True),
        Case("patched-helpers", "cheat", "grading checks replaced in memory", "item",
             _trick("import helpers.check, helpers.check.asserts\n"
                    "for g in (helpers.check, helpers.check.asserts):\n"
                    "    g.check_array = lambda *a, **k: True\n"
                    "    g.check_value = lambda *a, **k: True\n"
                    "    g.call_student = lambda f, *a, **k: f(*a, **{x: y for x, y in k.items() "
                    "if x not in ('name', 'forbid')})"), flag=True),
        Case("tampered-constants", "cheat",
             "makes the shared expected values writable and zeroes them, wrong answer",
             "item", lambda ctx: ctx.files(ctx.with_target(TAMPERED_CONSTANTS)),
             flag=True, flag_text="TINY_FEATURE_MAP", assignment="02_convolution"),
        Case("equal-to-anything", "cheat", "returns an object equal to everything", "item",
             lambda ctx: ctx.files(ctx.with_target(
                 ANYTHING + "\n" + ctx.wrong_function("    return Anything()\n")))),
        Case("stack-peek", "cheat", "reads the expected answer from the caller's frames",
             "item", lambda ctx: ctx.files(ctx.with_target(
                 PEEK + "\n" + ctx.wrong_function("    return _peek(None)\n")))),
        Case("read-hidden-tests", "cheat", "searches the disk for hidden tests", "item",
             _trick(FIND_HIDDEN), flag=True),
        Case("shadow-numpy", "cheat", "numpy.py and sitecustomize.py next to the notebook",
             "honest", _shadow, flag=True),
        Case("sniff-environment", "cheat", "cheats only when NBGRADER_EXECUTION is set",
             "item", _trick(
                 "import os\nif os.environ.get('NBGRADER_EXECUTION'):\n"
                 "    get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"),
             flag=True),
        Case("network-answers", "cheat", "downloads answers from the internet", "item",
             _trick("import urllib.request\ntry:\n"
                    "    urllib.request.urlopen('https://example.com/answers', timeout=3)\n"
                    "except OSError:\n    pass"), flag=True),
        Case("print-hidden-tests", "cheat", "hook prints every cell's source into outputs",
             "honest", _honest_with(
                 "get_ipython().events.register('pre_run_cell', "
                 "lambda info: print(info.raw_cell))"), flag=True),
        # --- environment faults -----------------------------------------------------------
        Case("needs-gpu", "environment", "hard-codes a CUDA tensor", "item",
             _runaway("import torch\ntorch.zeros(1, device='cuda')")),
        Case("corrupt-checkpoint", "environment", "hands in a broken model.pt and loads it",
             "item", _corrupt_checkpoint),
        Case("missing-student-data", "environment", "reads a data file that is not there",
             "item", _runaway("open('my_training_data.npz', 'rb').read()")),
        # --- the instructor's files -------------------------------------------------------
        Case("import-grader", "instructor files", "imports the grader package from the course",
             "item", _if_reached(IMPORT_GRADER), flag=True),
        Case("read-grader-source", "instructor files", "reads grader/*.py by absolute path",
             "item", _if_reached(READ_GRADER), flag=True),
        Case("copy-solutions", "instructor files",
             "lists solutions/ and runs the instructor's answer", "item", _copied_solution,
             flag=True),
        Case("read-grading-folder", "instructor files",
             "reads grading/ (reference files, results, logs)", "item",
             _if_reached(READ_GRADING), flag=True),
        Case("read-gradebook", "instructor files", "opens gradebook.db read-only", "item",
             _if_reached(READ_GRADEBOOK), flag=True),
        Case("read-ledger-key", "instructor files", "reads grading/.ledger-key", "item",
             _if_reached(READ_LEDGER_KEY), flag=True),
    ]  # fmt: skip
