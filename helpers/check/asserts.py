"""Checks used by the test cells of the graded notebooks.

Every check raises ``AssertionError`` with a sentence a student can act on: what was
expected, what came back, and (where it helps) why it matters. Checks look at the
type first, then the shape, then the dtype and only then the values, so the first
message is about the most basic thing that is wrong.

Hidden tests call a student's function through :func:`call_student`, which hands it
private copies of the inputs (so the test keeps the originals to compute its own
expected answer), notices if the function changed its inputs in place, and notices if
it handed the work to a course helper or to PyTorch instead of computing it.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

# What a "write it yourself with NumPy" exercise switches off while the student's code runs:
# the course's own reference implementations and PyTorch.
REFERENCE_MODULES: tuple[str, ...] = ("helpers.images", "helpers.ops", "torch", "torchvision")


def describe(value: Any) -> str:
    """Name a value the way a student would recognise it in a message."""
    if isinstance(value, np.ndarray):
        return f"a {type(value).__name__} of shape {value.shape} and dtype {value.dtype}"
    if value is None:
        return "None (did you forget `return`?)"
    kind = type(value)
    module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
    return f"{module}{kind.__qualname__} {_short_repr(value)}"


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_array(
    out: Any,
    *,
    shape: tuple[int, ...],
    dtype: Any,
    expected: Any = None,
    rtol: float = 1e-6,
    atol: float = 1e-8,
    name: str = "the result",
) -> bool:
    """Check that ``out`` is a plain ndarray with this shape, dtype and (optionally) values.

    **Shapes:** ``out`` and ``expected`` both ``shape``.

    Returns True, so a test cell can end in ``assert check_array(...)``; raises
    ``AssertionError`` describing the first difference (type, shape, dtype, values).
    """
    dtype = np.dtype(dtype)
    shape = tuple(int(n) for n in shape)
    if expected is not None:
        expected = np.asarray(expected)
        if expected.shape != shape:
            raise ValueError(
                f"check_array was given expected values of shape {expected.shape} "
                f"but shape={shape}; the test itself is inconsistent."
            )
    if type(out) is not np.ndarray:
        hint = ""
        if isinstance(out, np.ndarray):
            hint = " Convert it with np.asarray(...)."
        elif isinstance(out, list | tuple):
            hint = " Build the result with NumPy operations, or wrap it in np.array(...)."
        elif type(out).__module__.startswith("torch"):
            hint = " Convert a tensor with .numpy() (or do the work in NumPy)."
        raise AssertionError(
            f"{name} should be a NumPy array (numpy.ndarray), but it is {describe(out)}.{hint}"
        )
    if out.shape != shape:
        raise AssertionError(f"{name} should have shape {shape}, but it has shape {out.shape}.")
    if out.dtype != dtype:
        raise AssertionError(f"{name} should have dtype {dtype}, but it has dtype {out.dtype}.")
    if expected is None:
        return True
    if dtype.kind in "fc":
        close = np.isclose(out, expected, rtol=rtol, atol=atol, equal_nan=False)
    else:
        close = out == expected
    if bool(np.all(close)):
        return True
    wrong = np.argwhere(~close)
    where = tuple(int(i) for i in wrong[0])
    # .item() prints 3, not np.uint8(3).
    got, want = out[where].item(), expected[where].item()
    total = close.size
    message = (
        f"{name} has the right shape {shape} and dtype {dtype}, but {len(wrong)} of {total} "
        f"values are wrong. First wrong value at index {where}: expected {want!r}, got {got!r}."
    )
    if dtype.kind in "fc" and np.all(np.isfinite(out)):
        diff = np.abs(out.astype(np.float64) - expected.astype(np.float64))
        message += f" Largest difference: {float(diff.max()):.6g}."
    raise AssertionError(message)


def check_value(out: Any, expected: Any, *, name: str = "the result") -> bool:
    """Check that a plain Python value (int, float, str, tuple of them) equals ``expected``.

    **Shapes:** none; tuples are compared element by element, types included.

    Returns True; raises ``AssertionError`` if the type or the value differs (a NumPy
    integer where a Python int is expected counts as a different type).
    """
    if type(out) is not type(expected):
        hint = ""
        if isinstance(out, np.generic):
            hint = " Convert a NumPy number with int(...) or float(...)."
        raise AssertionError(
            f"{name} should be {describe(expected)}, but it is {describe(out)}.{hint}"
        )
    if isinstance(expected, tuple):
        if len(out) != len(expected):
            raise AssertionError(
                f"{name} should hold {len(expected)} values {expected!r}, "
                f"but it holds {len(out)}: {out!r}."
            )
        for i, (got, want) in enumerate(zip(out, expected, strict=True)):
            if type(got) is not type(want) or isinstance(want, tuple):
                check_value(got, want, name=f"{name}[{i}]")
        if out != expected:
            raise AssertionError(f"{name} should be {expected!r}, but it is {out!r}.")
        return True
    if isinstance(expected, float):
        if not np.isclose(out, expected, rtol=1e-9, atol=1e-12):
            raise AssertionError(f"{name} should be {expected!r}, but it is {out!r}.")
        return True
    if out != expected:
        raise AssertionError(f"{name} should be {expected!r}, but it is {out!r}.")
    return True


# --- running a student's function ------------------------------------------------------------


def _module_of_call(frame: types.FrameType, event: str, arg: Any) -> str:
    """Return the module a profiled call belongs to ('' if unknown)."""
    if event == "call":
        return str(frame.f_globals.get("__name__", ""))
    owner = getattr(arg, "__self__", None)
    if isinstance(owner, types.ModuleType):
        return owner.__name__
    module = getattr(arg, "__module__", None)
    if module:
        return str(module)
    if owner is not None:
        return str(type(owner).__module__)
    return ""


def _matches(module: str, prefixes: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _modules_to_switch_off(prefixes: tuple[str, ...]) -> list[tuple[str, types.ModuleType]]:
    # The course's packages re-export their modules' functions (helpers.ops.conv2d_forward is
    # defined in helpers.ops.conv), so every imported module below a course prefix is swept.
    # A third-party package (torch) only at its top level: the profiler catches the rest, and
    # stubbing its internals would break the test's own use of it.
    found = []
    for modname, module in list(sys.modules.items()):
        if module is None or not _matches(modname, prefixes):
            continue
        if modname in prefixes or modname.startswith("helpers."):
            found.append((modname, module))
    return found


def _defined_in(func: Callable[..., Any], modname: str) -> bool:
    home = func.__module__ or ""
    return home == modname or (modname.startswith("helpers") and _matches(home, (modname,)))


@contextlib.contextmanager
def forbidden_calls(modules: Iterable[str]) -> Iterator[list[str]]:
    """Switch off the functions of ``modules`` and record any call into them.

    **Shapes:** none.

    Yields a list that collects the dotted names of the forbidden functions that were
    called. Functions defined in an already imported module are replaced by stubs that
    raise, so ``helpers.images.to_grayscale(img)`` fails on the spot; a profiler notices
    calls made through another name (``from helpers.images import to_grayscale``) and
    calls into C functions (most of PyTorch). Everything is restored on exit.
    """
    prefixes = tuple(modules)
    calls: list[str] = []
    patched: list[tuple[types.ModuleType, str, Any]] = []

    def make_stub(qualname: str) -> Callable[..., Any]:
        def stub(*args: Any, **kwargs: Any) -> Any:
            calls.append(qualname)
            raise AssertionError(
                f"{qualname} is switched off while your function is graded: "
                "write this part yourself."
            )

        return stub

    for modname, module in _modules_to_switch_off(prefixes):
        for attr, obj in list(vars(module).items()):
            if inspect.isfunction(obj) and _defined_in(obj, modname):
                patched.append((module, attr, obj))
                setattr(module, attr, make_stub(f"{modname}.{attr}"))

    def profiler(frame: types.FrameType, event: str, arg: Any) -> None:
        if event not in ("call", "c_call"):
            return
        module = _module_of_call(frame, event, arg)
        if module and _matches(module, prefixes):
            if event == "call":
                calls.append(f"{module}.{frame.f_code.co_name}")
            else:
                calls.append(f"{module}.{getattr(arg, '__name__', '?')}")

    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        yield calls
    finally:
        sys.setprofile(previous)
        for module, attr, obj in patched:
            setattr(module, attr, obj)


def _same(before: Any, after: Any) -> bool:
    """Return True if ``after`` still equals the private copy ``before``, arrays included."""
    if isinstance(before, np.ndarray):
        return (
            isinstance(after, np.ndarray)
            and before.shape == after.shape
            and before.dtype == after.dtype
            and bool(np.array_equal(before, after, equal_nan=before.dtype.kind in "fc"))
        )
    if isinstance(before, list | tuple):
        return (
            type(before) is type(after)
            and len(before) == len(after)
            and all(_same(b, a) for b, a in zip(before, after, strict=True))
        )
    if isinstance(before, dict):
        return before.keys() == after.keys() and all(_same(before[k], after[k]) for k in before)
    try:
        return bool(before == after)
    except (TypeError, ValueError):
        # Objects without a usable == are compared by how they print.
        return repr(before) == repr(after)


def _student_name(func: Callable[..., Any], name: str | None) -> str:
    return name if name is not None else f"{getattr(func, '__name__', 'your function')}(...)"


def call_student(
    func: Callable[..., Any],
    *args: Any,
    name: str | None = None,
    forbid: Iterable[str] = (),
    **kwargs: Any,
) -> Any:
    """Call a student's function on private copies of the arguments and return its result.

    **Shapes:** whatever ``func`` takes and returns.

    Raises ``AssertionError`` if ``func`` raises, changes its inputs in place, or calls
    a function of a module in ``forbid`` (see :data:`REFERENCE_MODULES`).
    """
    label = _student_name(func, name)
    originals = (args, kwargs)
    args_copy, kwargs_copy = copy.deepcopy(originals)
    with forbidden_calls(forbid) as calls:
        try:
            out = func(*args_copy, **kwargs_copy)
        except Exception as error:
            if calls:
                raise AssertionError(_delegation_message(label, calls)) from None
            raise AssertionError(_raised_message(label, error)) from None
    if calls:
        raise AssertionError(_delegation_message(label, calls))
    if not _same(originals, (args_copy, kwargs_copy)):
        raise AssertionError(
            f"{label} changed its input in place. A function must leave the caller's "
            "array as it was: work on a copy (for example x.astype(...) or x.copy()) "
            "instead of assigning into the input or using +=, *= on it."
        )
    return out


def check_raises(
    func: Callable[..., Any],
    *args: Any,
    exception: type[BaseException] | tuple[type[BaseException], ...],
    name: str | None = None,
    why: str = "",
    forbid: Iterable[str] = (),
    **kwargs: Any,
) -> bool:
    """Check that ``func(*args, **kwargs)`` raises ``exception`` (on private copies).

    **Shapes:** whatever ``func`` takes.

    Returns True; raises ``AssertionError`` if nothing or something else was raised.
    """
    label = _student_name(func, name)
    wanted = exception if isinstance(exception, tuple) else (exception,)
    wanted_names = " or ".join(e.__name__ for e in wanted)
    reason = f" ({why})" if why else ""
    args_copy, kwargs_copy = copy.deepcopy((args, kwargs))
    with forbidden_calls(forbid) as calls:
        try:
            out = func(*args_copy, **kwargs_copy)
        except wanted:
            out = None
            raised = True
        except Exception as error:
            if calls:
                raise AssertionError(_delegation_message(label, calls)) from None
            if isinstance(error, NotImplementedError):
                raise AssertionError(_raised_message(label, error)) from None
            raise AssertionError(
                f"{label} should raise {wanted_names}{reason}, "
                f"but it raised {type(error).__name__}: {error}"
            ) from None
        else:
            raised = False
    if calls:
        raise AssertionError(_delegation_message(label, calls))
    if not raised:
        raise AssertionError(
            f"{label} should raise {wanted_names}{reason}, but it returned {describe(out)}."
        )
    return True


def _raised_message(label: str, error: Exception) -> str:
    if isinstance(error, NotImplementedError):
        return (
            f"{label} raised NotImplementedError: the function is still the stub. "
            "Replace `raise NotImplementedError()` with your code."
        )
    return f"{label} raised {type(error).__name__}: {error}"


def _delegation_message(label: str, calls: list[str]) -> str:
    names = ", ".join(dict.fromkeys(calls))
    return (
        f"{label} called {names}. This exercise asks you to write the computation "
        "yourself with NumPy; the course helpers and PyTorch are switched off while it "
        "is graded."
    )
