"""A reader who copies a chapter's shown code cells, in order, into a fresh kernel gets no error.

The website hides the code cells tagged ``remove-cell`` or ``remove-input`` (they glue numbers
into the text, draw figures, set up demos). A shown cell must not rely on a name that only a
hidden cell defines. ``hide-input`` cells count as shown: the reader can open them. The
generated setup cell (tag ``course-setup``) runs first, as it does in every notebook.

Two checks, on every chapter and the notation page:

* a static one (fast, in the normal suite): parse each shown cell with ``ast``/``symtable``
  and report every name it loads that no earlier shown cell (nor the cell itself) defines and
  that is not a builtin;
* a real one (``slow``): run exactly those cells in a fresh ``python3`` kernel with nbclient,
  in ``book/`` with the course data, and report the first error.

Each failure names the chapter, the cell's index in the notebook (jupytext's numbering, the
same as the twin ``book/*.ipynb``), the cell's first line and the missing name or error.
"""

from __future__ import annotations

import ast
import builtins
import os
import symtable
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
CHAPTERS = sorted(BOOK.glob("0*.md")) + [BOOK / "notation.md"]
HIDDEN_TAGS = {"remove-cell", "remove-input"}
SETUP_TAG = "course-setup"
# Names a Jupyter kernel provides besides Python's builtins.
KERNEL_NAMES = {"get_ipython", "display", "In", "Out", "exit", "quit", "__file__"}
COMPREHENSIONS = {"listcomp", "setcomp", "dictcomp", "genexpr"}


@dataclass(frozen=True)
class Cell:
    """A code cell of a chapter: its index in the notebook, its source and whether it is shown."""

    index: int
    source: str
    shown: bool
    setup: bool

    @property
    def first_line(self) -> str:
        """The first line of the source that says something (not a blank or a magic)."""
        for line in self.source.splitlines():
            if line.strip() and not line.lstrip().startswith("%"):
                return line.strip()
        return self.source.strip().splitlines()[0] if self.source.strip() else ""


def code_cells(chapter: Path) -> list[Cell]:
    """The chapter's code cells, read with jupytext, with their visibility on the website."""
    notebook = jupytext.read(chapter)
    cells = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        tags = set(cell.metadata.get("tags", []))
        cells.append(
            Cell(index, cell.source, shown=not tags & HIDDEN_TAGS, setup=SETUP_TAG in tags)
        )
    return cells


def reader_cells(chapter: Path) -> list[Cell]:
    """What a reader runs: the setup cell, then only the shown cells, in order."""
    return [cell for cell in code_cells(chapter) if cell.setup or cell.shown]


# ---------------------------------------------------------------------------- the static check


def python_source(cell_source: str) -> str:
    """The cell as plain Python: IPython's magics become calls, a cell magic's body is kept."""
    lines = cell_source.splitlines()
    if lines and lines[0].startswith("%%"):
        # %%time, %%capture...: the body is ordinary code run by the magic.
        lines = lines[1:]
    return TransformerManager().transform_cell("\n".join(lines))


def _global_refs(table: symtable.SymbolTable, now: set[str], later: set[str]) -> None:
    """Collect the global names a scope reads: at once (module, class, comprehension bodies)
    into ``now``; when called (function and lambda bodies) into ``later``."""
    for child in table.get_children():
        deferred = child.get_type() == "function" and child.get_name() not in COMPREHENSIONS
        target = later if deferred else now
        for symbol in child.get_symbols():
            if symbol.is_referenced() and symbol.is_global() and not symbol.is_declared_global():
                target.add(symbol.get_name())
        # A function's children run when it runs, whatever they are.
        _global_refs(child, later if deferred else now, later)


def _statement_names(statement: ast.stmt) -> tuple[set[str], set[str], set[str]]:
    """(names read when the statement runs, names its functions read later, names it binds)."""
    table = symtable.symtable(ast.unparse(statement), "<cell>", "exec")
    module = {s.get_name(): s for s in table.get_symbols()}
    binds = {
        name for name, s in module.items() if s.is_assigned() or s.is_imported() or s.is_namespace()
    }
    now: set[str] = set()
    later: set[str] = set()
    _global_refs(table, now, later)
    if isinstance(statement, ast.Assign | ast.AnnAssign | ast.AugAssign) and statement.value:
        # The value is computed before the targets are bound: `x = x + 1` reads an earlier x.
        value = symtable.symtable(ast.unparse(statement.value), "<value>", "exec")
        now |= {s.get_name() for s in value.get_symbols() if s.is_referenced()}
        if isinstance(statement, ast.AugAssign):
            now |= {n.id for n in ast.walk(statement.target) if isinstance(n, ast.Name)}
        # Names read by subscripts or attributes of the targets (`a[i] = ...`).
        targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
        for target in targets:
            if not isinstance(target, ast.Name):
                now |= {
                    n.id
                    for n in ast.walk(target)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                }
        return now, later, binds
    # Other statements (for, with, def, import...) bind before they read: `for i in ...: f(i)`.
    now |= {name for name, s in module.items() if s.is_referenced()}
    return now - binds, later, binds


def missing_names(source: str, known: set[str]) -> tuple[list[str], set[str]]:
    """Names ``source`` reads that neither ``known`` nor the cell itself defines (in order of
    the statements), and the names the cell binds."""
    tree = ast.parse(python_source(source))
    available = set(known) | set(dir(builtins)) | KERNEL_NAMES
    missing: list[str] = []
    deferred: set[str] = set()
    bound: set[str] = set()
    for statement in tree.body:
        now, later, binds = _statement_names(statement)
        missing += sorted(n for n in now - available if n not in missing)
        deferred |= later
        available |= binds
        bound |= binds
    missing += sorted(n for n in deferred - available if n not in missing)
    return missing, bound


def static_problems(chapter: Path) -> list[str]:
    """One line per name a shown cell reads that only hidden cells (or nothing) define."""
    problems = []
    known: set[str] = set()
    hidden_defs: dict[str, int] = {}
    for cell in code_cells(chapter):
        try:
            missing, bound = missing_names(cell.source, known)
        except SyntaxError as error:
            if cell.shown or cell.setup:
                problems.append(
                    f"{chapter.name} cell {cell.index} ({cell.first_line!r}): "
                    f"does not parse: {error}"
                )
            continue
        if cell.shown or cell.setup:
            for name in missing:
                where = (
                    f"defined only in hidden cell {hidden_defs[name]}"
                    if name in hidden_defs
                    else "not defined by any earlier cell"
                )
                problems.append(
                    f"{chapter.name} cell {cell.index} ({cell.first_line!r}): "
                    f"uses {name!r}, {where}"
                )
            known |= bound
        else:
            for name in bound - known:
                hidden_defs.setdefault(name, cell.index)
    return problems


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_shown_cells_use_no_name_from_hidden_cells(chapter: Path) -> None:
    problems = static_problems(chapter)
    assert not problems, (
        "a reader who runs only the shown cells gets a NameError (move the definition into a "
        "shown cell, or re-derive the value there):\n" + "\n".join(problems)
    )


def test_the_static_check_finds_what_it_should() -> None:
    assert missing_names("y = x + 1\n", set())[0] == ["x"]
    assert missing_names("y = x + 1\n", {"x"})[0] == []
    assert missing_names("x = x + 1\n", set())[0] == ["x"]
    assert missing_names("x += 1\n", set())[0] == ["x"]
    assert missing_names("for i in range(3):\n    print(i)\n", set())[0] == []
    assert missing_names("import numpy as np\nnp.zeros(3)\n", set())[0] == []
    assert missing_names("np.zeros(3)\nimport numpy as np\n", set())[0] == ["np"]
    assert missing_names("[v for v in data]\n", set())[0] == ["data"]
    assert missing_names("def f():\n    return g()\ndef g():\n    return 1\n", set())[0] == []
    assert missing_names("def f():\n    return h()\n", set())[0] == ["h"]
    assert missing_names("f = lambda: k\n", set())[0] == ["k"]
    assert missing_names("class A:\n    n = size\n", set())[0] == ["size"]
    assert missing_names("with open(p) as fh:\n    fh.read()\n", set())[0] == ["p"]
    assert missing_names("a[i] = 1\n", set())[0] == ["a", "i"]
    assert missing_names("%matplotlib inline\nprint(len([]))\n", set())[0] == []
    assert missing_names("%%time\ntotal = sum(values)\n", set())[0] == ["values"]
    assert missing_names("try:\n    pass\nexcept ValueError as e:\n    print(e)\n", set())[0] == []
    assert missing_names("(n := 3)\nprint(n)\n", set())[0] == []


def test_hidden_cells_are_named(tmp_path: Path) -> None:
    page = tmp_path / "09_demo.md"
    page.write_text(
        "---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
        "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n"
        "# Demo\n\n"
        "```{code-cell} ipython3\n:tags: [remove-cell]\n\nsobel_x = 1\n```\n\n"
        "```{code-cell} ipython3\n:tags: [hide-input]\n\nshown = 2\n```\n\n"
        "```{code-cell} ipython3\nprint(sobel_x, shown, nowhere)\n```\n"
    )
    assert static_problems(page) == [
        "09_demo.md cell 3 ('print(sobel_x, shown, nowhere)'): uses 'nowhere', "
        "not defined by any earlier cell",
        "09_demo.md cell 3 ('print(sobel_x, shown, nowhere)'): uses 'sobel_x', "
        "defined only in hidden cell 1",
    ]


# ---------------------------------------------------------------------------- the real run


def run_shown_cells(chapter: Path, timeout: int = 1500) -> str | None:
    """Run the setup cell and the shown cells in a fresh kernel; describe the first error."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    cells = reader_cells(chapter)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.cells = [nbformat.v4.new_code_cell(cell.source) for cell in cells]
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=timeout,
        resources={"metadata": {"path": str(BOOK)}},
    )
    try:
        client.execute()
    except CellExecutionError as error:
        for cell, run in zip(cells, notebook.cells, strict=True):
            errors = [o for o in run.get("outputs", []) if o.get("output_type") == "error"]
            if errors:
                return (
                    f"{chapter.name} cell {cell.index} ({cell.first_line!r}): "
                    f"{errors[0]['ename']}: {errors[0]['evalue']}"
                )
        return f"{chapter.name}: {str(error).splitlines()[-1]}"
    return None


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_shown_cells_run_alone_in_a_fresh_kernel(chapter: Path, data_dir: Path) -> None:
    os.environ["CNN_COURSE_DATA"] = str(data_dir)
    problem = run_shown_cells(chapter)
    assert problem is None, (
        "the setup cell and the shown cells, run alone in order in a fresh kernel, fail:\n"
        + problem
    )
