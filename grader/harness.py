"""Call a notebook's graded functions on fresh inputs, inside the sandbox (the cross-check).

For a student's notebook the grading worker evaluates this file's source in the notebook's
own kernel once its last cell has run (:func:`in_kernel`): the answers are defined there
already, so nothing runs twice. For the instructor's notebook, and for a student's whose
kernel was stopped, ``python -I harness.py CELLS.json CASES.pkl OUT.jsonl`` runs the given
code cells (the answers and the release's setup code, never a test cell) in a fresh
IPython shell instead (:func:`main`). Either way it calls each case's function on its
inputs and writes one JSON line per case: the returned value in a plain encoding, or the
names of the raised exception's classes.
Nothing here judges the result: the grading command compares the lines with what the
instructor's solution returned, outside the sandbox, so patching NumPy, assert or the
grading helpers in here changes nothing.

The sandbox holds nothing of the ``grader`` package: the worker copies this one file into
a read-only folder beside the cells and cases and runs it by path. It must therefore stay
self-contained (the standard library, NumPy and IPython only).
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import pickle
import re
import signal
import sys
from pathlib import Path
from typing import Any

import numpy as np

# Bound before any student code runs.
_b64 = base64.b64encode
_dumps = json.dumps
_ndarray = np.ndarray
_generic = np.generic
_write = os.write
MAX_ARRAY_BYTES = 64 * 2**20
CALL_TIMEOUT_S = 10
CELL_TIMEOUT_S = 60


class FileArg:
    """A file a test handed to a function: its name and bytes, written out before the call."""

    def __init__(self, name: str, data: bytes, as_path: bool) -> None:
        self.name = name
        self.data = data
        self.as_path = as_path


def encode(value: Any, depth: int = 0) -> Any:
    """Encode a returned value as plain JSON, keeping types, dtypes and shapes."""
    if depth > 20:
        return {"t": "other", "type": "too deep"}
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return {"t": "py", "type": kind.__name__, "v": value}
    if kind is float:
        return {"t": "py", "type": "float", "v": value if math.isfinite(value) else repr(value)}
    if kind in (tuple, list):
        return {"t": kind.__name__, "items": [encode(v, depth + 1) for v in value]}
    if kind is dict and all(type(k) is str for k in value):
        return {"t": "dict", "items": {k: encode(v, depth + 1) for k, v in value.items()}}
    if kind.__module__.startswith("torch") and kind.__name__ == "Tensor":
        arr = value.detach().cpu().numpy()
        return {**encode(arr, depth + 1), "t": "tensor"}
    if kind is _ndarray or isinstance(value, _generic) and kind.__module__ == "numpy":
        arr = np.asarray(value)
        if arr.dtype.hasobject or arr.nbytes > MAX_ARRAY_BYTES:
            return {"t": "other", "type": f"array of {arr.dtype}, {arr.nbytes} bytes"}
        return {
            "t": "nd" if kind is _ndarray else "np",
            "dtype": arr.dtype.str,
            "shape": list(arr.shape),
            "b64": _b64(np.ascontiguousarray(arr).tobytes()).decode(),
        }
    return {"t": "other", "type": f"{kind.__module__}.{kind.__qualname__}"}


class _CaseUnpickler(pickle.Unpickler):
    # A FileArg was pickled as grader.harness.FileArg (the cases) or _capture_hook.FileArg
    # (the capture run); neither module exists where it is read, so it is found by name.
    def find_class(self, module: str, name: str) -> Any:
        if name == "FileArg":
            return FileArg
        return super().find_class(module, name)


def load_calls(data: bytes) -> Any:
    """Unpickle recorded calls or cases, with every FileArg as this module's FileArg."""
    return _CaseUnpickler(io.BytesIO(data)).load()


def materialise(value: Any, folder: Path) -> Any:
    """Write FileArg inputs to ``folder`` and replace them by their paths."""
    if isinstance(value, FileArg):
        path = folder / value.name
        path.write_bytes(value.data)
        return path if value.as_path else str(path)
    if isinstance(value, tuple | list):
        return type(value)(materialise(v, folder) for v in value)
    if isinstance(value, dict):
        return {k: materialise(v, folder) for k, v in value.items()}
    return value


def _alarm(signum: int, frame: Any) -> None:
    raise TimeoutError("the call or cell took too long")


def run_cells(shell: Any, cells: list[str]) -> None:
    """Run the notebook's code cells in ``shell``, each under the cell time limit."""
    signal.signal(signal.SIGALRM, _alarm)
    for number, source in enumerate(cells):
        if source.lstrip().startswith("%%"):
            continue
        # Line magics (%matplotlib inline) need a real kernel; they set up nothing graded.
        source = re.sub(r"(?m)^\s*[%!].*$", "pass", source)
        signal.alarm(CELL_TIMEOUT_S)
        try:
            outcome = shell.run_cell(source, store_history=False, silent=True)
        finally:
            signal.alarm(0)
        if not outcome.success:
            error = outcome.error_in_exec or outcome.error_before_exec
            print(f"cell {number}: {type(error).__name__}: {str(error)[:200]}", flush=True)


def call_cases(namespace: dict, cases: list[dict], out: int, out_path: str) -> int:
    """Call every case's function from ``namespace``; write one JSON line per case to ``out``."""
    signal.signal(signal.SIGALRM, _alarm)
    folder = Path(out_path).parent / "crosscheck-files"
    folder.mkdir(exist_ok=True)
    for case in cases:
        record: dict[str, Any] = {"id": case["id"]}
        func = namespace.get(case["function"])
        if not callable(func):
            record["missing"] = True
        else:
            args = materialise(case["args"], folder)
            kwargs = materialise(case["kwargs"], folder)
            signal.alarm(CALL_TIMEOUT_S)
            try:
                record["value"] = encode(func(*args, **kwargs))
            except BaseException as error:  # noqa: BLE001 - SystemExit and the like count too
                record["raised"] = [c.__name__ for c in type(error).__mro__]
                record["message"] = str(error)[:300]
            finally:
                signal.alarm(0)
        _write(out, (_dumps(record) + "\n").encode())
    os.close(out)
    sys.stdout.flush()
    return 0


def in_kernel(cases_path: str, out_path: str) -> int:
    """Call the cases on the functions the notebook's kernel defined (after its last cell).

    The worker evaluates this file's source in the student's kernel once every cell has
    run: the answers are already defined there, so nothing is run twice. Whatever the
    student's code did to this interpreter, the values still go out to be compared
    outside the sandbox with the instructor's, on inputs the kernel never saw before.
    """
    from IPython.core.interactiveshell import InteractiveShell

    cases = load_calls(Path(cases_path).read_bytes())
    out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    return call_cases(InteractiveShell.instance().user_ns, cases, out, out_path)


def main(cells_path: str, cases_path: str, out_path: str) -> int:
    """Run the cells, call every case's function, write one JSON line per case."""
    cells = json.loads(Path(cells_path).read_text())
    cases = load_calls(Path(cases_path).read_bytes())
    out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    run_cells(shell, cells)
    return call_cases(dict(shell.user_ns), cases, out, out_path)


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:4]))
