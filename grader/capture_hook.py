"""Record the calls a notebook's test cells make to a student's functions (the capture run).

The grader never imports this module in the kernel: nothing of ``grader`` exists in the
sandbox. :func:`grader.crosscheck.capture_cell` sends this file's *text* as the first cell
of the instructor's notebook, where it is loaded as the module ``_capture_hook`` and
:func:`install` wraps ``call_student`` and ``check_raises`` of ``helpers.check`` (both
where they are defined and where the test cells import them from). Every call a test cell
makes is appended to the capture file; :func:`grader.crosscheck.read_capture` reads it back.

Only the instructor's notebook ever runs with this hook, so it trusts what it records. It
must stay self-contained: the standard library and ``helpers`` only.
"""

from __future__ import annotations

import builtins
import pathlib
import pickle
from collections.abc import Callable, Iterable
from typing import Any

# The name the capture run's marker cells give the current test cell, in builtins.
CELL_NAME = "_cc_cell"
# The name this module has in the capture kernel's sys.modules (pickle finds FileArg there).
MODULE_NAME = "_capture_hook"
MAX_FILE_BYTES = 64 * 2**20


class FileArg:
    """A file a test handed to a function: its name and bytes.

    The grader reads it back as :class:`grader.harness.FileArg` (matched by class name).
    """

    def __init__(self, name: str, data: bytes, as_path: bool) -> None:
        self.name = name
        self.data = data
        self.as_path = as_path


def snapshot(value: Any) -> Any:
    """Return ``value`` with every path of an existing file replaced by the file's bytes."""
    if isinstance(value, str | pathlib.Path) and len(str(value)) < 4096:
        try:
            path = pathlib.Path(value)
            if path.is_file() and path.stat().st_size < MAX_FILE_BYTES:
                return FileArg(path.name, path.read_bytes(), isinstance(value, pathlib.Path))
        except (OSError, ValueError):
            pass
    if isinstance(value, tuple | list):
        return type(value)(snapshot(v) for v in value)
    return value


def record(
    capture: str,
    kind: str,
    func: Callable[..., Any],
    args: tuple,
    kwargs: dict,
    accepted: Iterable[type[BaseException]] = (),
) -> None:
    """Append one call of a notebook-defined ``func`` to the file ``capture``."""
    if getattr(func, "__module__", None) != "__main__":
        return
    try:
        entry = {
            "cell": getattr(builtins, CELL_NAME, None),
            "function": getattr(func, "__name__", "?"),
            "kind": kind,
            "accepted": [e.__name__ for e in accepted],
            "args": snapshot(list(args)),
            "kwargs": {k: snapshot(v) for k, v in kwargs.items()},
        }
        blob = pickle.dumps(entry)
    except Exception:  # noqa: BLE001 - a call that cannot be recorded is simply not replayed
        return
    with open(capture, "ab") as handle:
        handle.write(len(blob).to_bytes(8, "little") + blob)


def install(capture: str) -> None:
    """Wrap the grading helpers so that every call they make is recorded in ``capture``."""
    import helpers.check
    import helpers.check.asserts as asserts

    call_student = asserts.call_student
    check_raises = asserts.check_raises

    def recorded_call(func, *args, name=None, forbid=(), **kwargs):
        record(capture, "value", func, args, kwargs)
        return call_student(func, *args, name=name, forbid=forbid, **kwargs)

    def recorded_raises(func, *args, exception, name=None, why="", forbid=(), **kwargs):
        wanted = exception if isinstance(exception, tuple) else (exception,)
        record(capture, "raises", func, args, kwargs, wanted)
        return check_raises(
            func, *args, exception=exception, name=name, why=why, forbid=forbid, **kwargs
        )

    # Test cells import from the package, which re-exports the module's functions.
    wrappers = {"call_student": recorded_call, "check_raises": recorded_raises}
    for module in (asserts, helpers.check):
        for name, wrapper in wrappers.items():
            setattr(module, name, wrapper)
