"""The cross-check: re-run each graded function on inputs it never saw, outside nbgrader.

1. **Capture.** The instructor's notebook runs once in the sandbox with
   :mod:`grader.capture_hook` in front: it records every call the test cells make through
   ``helpers.check``'s ``call_student`` / ``check_raises`` (function name, inputs, test cell).
2. **Perturb.** :func:`perturb` gives each recorded call fresh inputs: every array (and
   every picture file) gets new random values of the same shape, dtype and range.
3. **Expect.** The instructor's answer cells run on the perturbed inputs through
   :mod:`grader.harness`; what they return (or raise) is the expected behaviour.
4. **Check.** Each student's answer cells run through the same harness in a fresh
   sandbox; :func:`compare` checks the results here, outside the student's reach.
   A test cell is *confirmed* when every one of its calls matches.

A student whose nbgrader score is above the cross-check score is flagged for review.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from grader import capture_hook
from grader.harness import FileArg, load_calls

CAPTURE_FILE = "capture.pkl"
HOOK_SOURCE = Path(capture_hook.__file__)


def capture_cell(capture: Path) -> str:
    """Return the capture run's first cell: it loads :mod:`grader.capture_hook` and installs it.

    The kernel cannot import the hook (the sandbox holds nothing of ``grader``), so the
    cell carries the module's text and makes a module of it there.
    """
    name = capture_hook.MODULE_NAME
    return (
        "import sys as _cc_sys, types as _cc_types\n"
        f"_cc_hook = _cc_types.ModuleType({name!r})\n"
        f"_cc_sys.modules[{name!r}] = _cc_hook\n"
        f"exec(compile({HOOK_SOURCE.read_text()!r}, {HOOK_SOURCE.name!r}, 'exec'), "
        "_cc_hook.__dict__)\n"
        f"_cc_hook.install({str(capture)!r})\n"
        "del _cc_sys, _cc_types, _cc_hook\n"
    )


def marker_cell(grade_id: str) -> str:
    """Source of the capture-run cell placed before test cell ``grade_id``."""
    return f"import builtins as _cc_b\n_cc_b.{capture_hook.CELL_NAME} = {grade_id!r}\n"


def read_capture(path: Path) -> list[dict]:
    """Read the calls the capture hook recorded."""
    entries = []
    data = path.read_bytes() if path.exists() else b""
    offset = 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 8], "little")
        entries.append(load_calls(data[offset + 8 : offset + 8 + size]))
        offset += 8 + size
    return entries


def _fresh_array(arr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if arr.size == 0 or arr.dtype.hasobject:
        return arr.copy()
    if arr.dtype.kind == "b":
        return rng.random(arr.shape) < 0.5
    if arr.dtype.kind in "ui":
        low, high = int(arr.min()), int(arr.max())
        if low == high:
            low, high = (0, 255) if arr.dtype == np.uint8 else (low - 3, high + 3)
            info = np.iinfo(arr.dtype)
            low, high = max(low, info.min), min(high, info.max)
        return rng.integers(low, high, size=arr.shape, endpoint=True).astype(arr.dtype)
    if arr.dtype.kind == "f":
        finite = arr[np.isfinite(arr)]
        if finite.size == 0:
            return arr.copy()
        low, high = float(finite.min()), float(finite.max())
        if math.isclose(low, high):
            low, high = low - 1.0, high + 1.0
        return rng.uniform(low, high, size=arr.shape).astype(arr.dtype)
    return arr.copy()


def _fresh_file(arg: FileArg, rng: np.random.Generator) -> FileArg:
    suffix = Path(arg.name).suffix.lower()
    if suffix in (".png", ".bmp", ".tif", ".tiff", ".jpg", ".jpeg"):
        import imageio.v3 as iio

        try:
            pixels = np.asarray(iio.imread(io.BytesIO(arg.data)))
            buffer = io.BytesIO()
            iio.imwrite(buffer, _fresh_array(pixels, rng), extension=suffix)
            return FileArg("fresh_" + arg.name, buffer.getvalue(), arg.as_path)
        except Exception:  # noqa: BLE001 - an undecodable file is used as it is
            return arg
    if suffix == ".npy":
        buffer = io.BytesIO()
        np.save(buffer, _fresh_array(np.load(io.BytesIO(arg.data)), rng))
        return FileArg("fresh_" + arg.name, buffer.getvalue(), arg.as_path)
    return arg


def _fresh(value: Any, rng: np.random.Generator) -> Any:
    if isinstance(value, np.ndarray):
        return _fresh_array(value, rng)
    if isinstance(value, FileArg):
        return _fresh_file(value, rng)
    if type(value).__module__.startswith("torch") and type(value).__name__ == "Tensor":
        import torch

        fresh = _fresh_array(value.detach().cpu().numpy(), rng)
        return torch.from_numpy(fresh).to(value.device).requires_grad_(value.requires_grad)
    if isinstance(value, tuple | list):
        return type(value)(_fresh(v, rng) for v in value)
    if isinstance(value, dict):
        return {k: _fresh(v, rng) for k, v in value.items()}
    return copy.deepcopy(value)


def perturb(calls: Iterable[dict], *, secret: bytes) -> list[dict]:
    """Give every recorded call fresh inputs (seeded by ``secret``); return the cases."""
    cases = []
    for index, call in enumerate(calls):
        seed = int.from_bytes(hashlib.sha256(secret + index.to_bytes(4, "little")).digest()[:8])
        rng = np.random.default_rng(seed)
        cases.append(
            {
                "id": index,
                "cell": call["cell"],
                "function": call["function"],
                "kind": call["kind"],
                "accepted": call["accepted"],
                "args": _fresh(call["args"], rng),
                "kwargs": _fresh(call["kwargs"], rng),
            }
        )
    return cases


def decode(enc: Any) -> Any:
    """Turn a harness encoding back into a value; arrays never carry Python objects."""
    kind = enc["t"]
    if kind == "py":
        value = enc["v"]
        return float(value) if enc["type"] == "float" and isinstance(value, str) else value
    if kind in ("tuple", "list"):
        return [decode(v) for v in enc["items"]]
    if kind == "dict":
        return {k: decode(v) for k, v in enc["items"].items()}
    if kind in ("nd", "np", "tensor"):
        dtype = np.dtype(enc["dtype"])
        if dtype.hasobject:
            raise ValueError("object arrays are not accepted")
        raw = base64.b64decode(enc["b64"])
        return np.frombuffer(raw, dtype=dtype).reshape(enc["shape"])
    raise ValueError(f"cannot compare a {enc.get('type')}")


def _same(got: Any, want: Any) -> bool:
    if got["t"] != want["t"]:
        return False
    kind = want["t"]
    if kind == "py":
        if got["type"] != want["type"]:
            return False
        if want["type"] == "float":
            a, b = decode(got), decode(want)
            return (math.isnan(a) and math.isnan(b)) or math.isclose(
                a, b, rel_tol=1e-6, abs_tol=1e-9
            )
        return got["v"] == want["v"]
    if kind in ("tuple", "list"):
        return len(got["items"]) == len(want["items"]) and all(
            _same(g, w) for g, w in zip(got["items"], want["items"], strict=True)
        )
    if kind == "dict":
        return got["items"].keys() == want["items"].keys() and all(
            _same(got["items"][k], want["items"][k]) for k in want["items"]
        )
    if kind in ("nd", "np", "tensor"):
        if got["dtype"] != want["dtype"] or got["shape"] != want["shape"]:
            return False
        a, b = decode(got), decode(want)
        if a.dtype.kind in "fc":
            scale = float(np.max(np.abs(b[np.isfinite(b)]), initial=1.0))
            return bool(np.allclose(a, b, rtol=1e-5, atol=1e-6 * scale, equal_nan=True))
        return bool(np.array_equal(a, b))
    return False


def checkable(case: dict, expected: dict) -> bool:
    """Return True if the instructor's record can serve as the expected behaviour.

    A call the test expected to return must return for the instructor too, and a call
    the test expected to raise must raise one of the accepted exceptions; otherwise the
    fresh inputs changed what the call tests, and the case is dropped.
    """
    if case["kind"] == "raises":
        return "raised" in expected and bool(set(case["accepted"]) & set(expected["raised"]))
    if "value" not in expected:
        return False

    def plain(enc: dict) -> bool:
        if enc["t"] == "other":
            return False
        if enc["t"] in ("tuple", "list"):
            return all(plain(v) for v in enc["items"])
        if enc["t"] == "dict":
            return all(plain(v) for v in enc["items"].values())
        return True

    return plain(expected["value"])


def compare(case: dict, expected: dict, got: dict | None) -> bool:
    """Return True if the student's record ``got`` behaves like the instructor's."""
    if got is None or got.get("missing"):
        return False
    if "raised" in expected:
        return "raised" in got and bool(set(case["accepted"]) & set(got["raised"]))
    return "value" in got and _same(got["value"], expected["value"])


def cell_verdicts(
    cases: list[dict], expected: dict[int, dict], records: list[dict]
) -> dict[str, dict[str, int]]:
    """Return {grade_id: {"passed": n, "failed": m}} over the checkable cases."""
    got = {r["id"]: r for r in records if isinstance(r, dict) and "id" in r}
    verdicts: dict[str, dict[str, int]] = {}
    for case in cases:
        if case["id"] not in expected or case["cell"] is None:
            continue
        tally = verdicts.setdefault(case["cell"], {"passed": 0, "failed": 0})
        ok = compare(case, expected[case["id"]], got.get(case["id"]))
        tally["passed" if ok else "failed"] += 1
    return verdicts


def crosscheck_score(
    cells: dict[str, list[float]], verdicts: dict[str, dict[str, int]]
) -> tuple[float, list[str]]:
    """Return the cross-check total and the test cells nbgrader passed but it refutes."""
    total = 0.0
    refuted = []
    for grade_id, (score, max_score) in cells.items():
        tally = verdicts.get(grade_id)
        if tally is None:
            total += score
        elif tally["failed"] == 0:
            total += max_score
        elif score > 0:
            refuted.append(grade_id)
    return total, refuted
