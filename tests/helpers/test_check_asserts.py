"""Unit tests of helpers.check.asserts: each check fails with a useful message on a wrong answer."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from helpers.check import (
    REFERENCE_MODULES,
    call_student,
    check_array,
    check_raises,
    check_value,
    describe,
    forbidden_calls,
)


def fails(check, *args, **kwargs) -> str:
    """Run a check that must fail; return its message."""
    with pytest.raises(AssertionError) as info:
        check(*args, **kwargs)
    return str(info.value)


@pytest.fixture
def reference_module():
    """A stand-in for a course module holding a reference implementation."""
    module = types.ModuleType("fake_course.reference")
    exec(
        "import numpy as np\n"
        "def to_grayscale(img):\n"
        "    return img.astype(np.float64) @ np.array([0.299, 0.587, 0.114])\n",
        module.__dict__,
    )
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


# --- check_array ----------------------------------------------------------------------------


def test_check_array_accepts_a_right_answer():
    out = np.arange(6, dtype=np.float32).reshape(2, 3) / 7
    assert check_array(out, shape=(2, 3), dtype=np.float32, expected=np.arange(6).reshape(2, 3) / 7)


def test_check_array_wants_a_plain_ndarray():
    message = fails(check_array, [[1, 2]], shape=(1, 2), dtype=np.int64, name="f(x)")
    assert "f(x) should be a NumPy array" in message and "list" in message
    masked = np.ma.masked_array(np.zeros(3))
    assert "MaskedArray" in fails(check_array, masked, shape=(3,), dtype=np.float64)
    assert "None (did you forget `return`?)" in fails(check_array, None, shape=(3,), dtype=float)


def test_check_array_explains_a_tensor():
    import torch

    message = fails(check_array, torch.zeros(3), shape=(3,), dtype=np.float32)
    assert "torch.Tensor" in message and ".numpy()" in message


def test_check_array_reports_shape_before_dtype_and_values():
    out = np.zeros((3, 2), dtype=np.uint8)
    message = fails(check_array, out, shape=(2, 3), dtype=np.float64, expected=np.ones((2, 3)))
    assert message == "the result should have shape (2, 3), but it has shape (3, 2)."


def test_check_array_reports_dtype():
    out = np.zeros((2, 2), dtype=np.float64)
    message = fails(check_array, out, shape=(2, 2), dtype=np.float32, name="scale(x)")
    assert message == "scale(x) should have dtype float32, but it has dtype float64."


def test_check_array_reports_the_first_wrong_value():
    expected = np.arange(12, dtype=np.float64).reshape(3, 4)
    out = expected.copy()
    out[1, 2] += 0.5
    out[2, 3] -= 2.0
    message = fails(check_array, out, shape=(3, 4), dtype=np.float64, expected=expected)
    assert "2 of 12 values are wrong" in message
    assert "index (1, 2): expected 6.0, got 6.5" in message
    assert "Largest difference: 2" in message


def test_check_array_compares_integers_exactly_and_rejects_nan():
    expected = np.array([1, 2, 3], dtype=np.uint8)
    assert "got 4" in fails(
        check_array, np.array([1, 2, 4], np.uint8), shape=(3,), dtype=np.uint8, expected=expected
    )
    nan = np.array([0.0, np.nan])
    assert "1 of 2 values are wrong" in fails(
        check_array, nan, shape=(2,), dtype=np.float64, expected=np.zeros(2)
    )


def test_check_array_tolerance_is_used():
    out = np.array([1.0 + 1e-9])
    assert check_array(out, shape=(1,), dtype=np.float64, expected=[1.0])
    fails(check_array, out, shape=(1,), dtype=np.float64, expected=[1.0], rtol=0, atol=0)


def test_check_array_refuses_an_inconsistent_test():
    with pytest.raises(ValueError, match="inconsistent"):
        check_array(np.zeros(2), shape=(2,), dtype=np.float64, expected=np.zeros(3))


# --- check_value ----------------------------------------------------------------------------


def test_check_value_tuple_of_ints():
    assert check_value((100, 100, 3), (100, 100, 3))
    message = fails(check_value, (53, 37, 3), (37, 53, 3), name="image_shape(x)")
    assert message == "image_shape(x) should be (37, 53, 3), but it is (53, 37, 3)."
    message = fails(check_value, [1, 2], (1, 2), name="f()")
    assert "should be tuple (1, 2)" in message and "list [1, 2]" in message
    assert "should hold 2 values (1, 2), but it holds 3" in fails(
        check_value, (1, 2, 3), (1, 2), name="f()"
    )


def test_check_value_wants_python_ints_not_numpy_ints():
    message = fails(check_value, (np.int64(5), 3), (5, 3), name="f()")
    assert "f()[0] should be int 5" in message and "int(...)" in message


# --- call_student: private copies, in-place changes, errors ---------------------------------


def test_call_student_returns_the_result_and_leaves_the_caller_alone():
    x = np.arange(6.0)
    out = call_student(lambda a: a * 2, x)
    assert np.array_equal(out, np.arange(6.0) * 2)
    assert np.array_equal(x, np.arange(6.0))


def test_call_student_detects_in_place_modification():
    def scale_in_place(img):
        img /= 255
        return img

    x = np.full((2, 2), 255.0)
    message = fails(call_student, scale_in_place, x, name="scale(x)")
    assert "scale(x) changed its input in place" in message
    assert np.all(x == 255.0), "the caller's array was touched"


def test_call_student_detects_in_place_modification_of_keyword_and_nested_arguments():
    def poke(*, images):
        images[1][0, 0] = 7
        return 0

    message = fails(call_student, poke, images=[np.zeros((1, 1)), np.zeros((1, 1))])
    assert "changed its input in place" in message


def test_call_student_explains_exceptions_and_the_stub():
    def broken(img):
        raise ValueError("bad axes")

    def stub(img):
        raise NotImplementedError()

    assert fails(call_student, broken, 1, name="f(1)") == "f(1) raised ValueError: bad axes"
    assert "still the stub" in fails(call_student, stub, 1)


# --- delegation -----------------------------------------------------------------------------


def test_call_through_the_module_is_switched_off(reference_module):
    def student(img):
        return reference_module.to_grayscale(img)

    original = reference_module.to_grayscale
    img = np.ones((2, 2, 3), dtype=np.uint8)
    message = fails(call_student, student, img, forbid=["fake_course.reference"], name="g(img)")
    assert "g(img) called fake_course.reference.to_grayscale" in message
    assert "write the computation yourself" in message
    assert reference_module.to_grayscale is original, "the stub was not removed"
    assert call_student(student, img).shape == (2, 2), "without forbid it must work"


def test_call_through_an_imported_name_is_caught(reference_module):
    reference = reference_module.to_grayscale  # like `from helpers.images import to_grayscale`

    def student(img):
        return reference(img)

    img = np.ones((2, 2, 3), dtype=np.uint8)
    message = fails(call_student, student, img, forbid=["fake_course"])
    assert "called fake_course.reference.to_grayscale" in message


def test_course_helpers_are_caught():
    import helpers.images

    def student(img):
        return helpers.images.to_grayscale(img.astype(np.float64))

    img = np.ones((2, 2, 3), dtype=np.uint8)
    message = fails(call_student, student, img, forbid=REFERENCE_MODULES)
    assert "called helpers.images.to_grayscale" in message


def test_torch_functions_and_tensor_methods_are_caught():
    import torch

    def via_function(img):
        return torch.from_numpy(img).numpy()

    def via_method(tensor):
        return tensor.permute(1, 0)

    assert "called torch" in fails(call_student, via_function, np.zeros((2, 2)), forbid=["torch"])
    message = fails(call_student, via_method, torch.zeros(2, 3), forbid=["torch"])
    assert "called torch" in message and "permute" in message


def test_numpy_is_not_flagged_and_the_profiler_is_restored():
    before = sys.getprofile()
    out = call_student(lambda img: np.moveaxis(img, -1, 0).copy(), np.zeros((2, 3, 4)),
                       forbid=REFERENCE_MODULES)  # fmt: skip
    assert out.shape == (4, 2, 3)
    assert sys.getprofile() is before


def test_forbidden_calls_restores_after_an_error(reference_module):
    original = reference_module.to_grayscale
    before = sys.getprofile()
    with pytest.raises(RuntimeError), forbidden_calls(["fake_course.reference"]) as calls:
        assert reference_module.to_grayscale is not original
        assert calls == []
        raise RuntimeError("student code crashed")
    assert reference_module.to_grayscale is original
    assert sys.getprofile() is before


def test_delegation_is_reported_even_if_the_student_swallows_the_error(reference_module):
    def sneaky(img):
        try:
            return reference_module.to_grayscale(img)
        except AssertionError:
            return img.astype(np.float64) @ np.array([0.299, 0.587, 0.114])

    img = np.ones((2, 2, 3), dtype=np.uint8)
    assert "called" in fails(call_student, sneaky, img, forbid=["fake_course.reference"])


# --- check_raises ---------------------------------------------------------------------------


def test_check_raises():
    def strict(img):
        if img.dtype != np.uint8:
            raise TypeError("uint8 only")
        return img

    def lax(img):
        return img / 255

    def wrong_kind(img):
        raise ValueError("nope")

    x = np.zeros(3)
    assert check_raises(strict, x, exception=TypeError)
    message = fails(check_raises, lax, x, exception=TypeError, name="s(x)", why="float input")
    assert message == (
        "s(x) should raise TypeError (float input), but it returned "
        "a ndarray of shape (3,) and dtype float64."
    )
    message = fails(check_raises, wrong_kind, x, exception=TypeError, name="s(x)")
    assert message == "s(x) should raise TypeError, but it raised ValueError: nope"


def test_check_raises_catches_delegation(reference_module):
    def delegating(img):
        reference_module.to_grayscale(img)
        raise ValueError("after delegating")

    message = fails(
        check_raises, delegating, np.zeros((2, 2)), exception=ValueError, forbid=["fake_course"]
    )
    assert "called fake_course.reference.to_grayscale" in message


def test_describe():
    assert describe(np.zeros((2, 3), np.uint8)) == "a ndarray of shape (2, 3) and dtype uint8"
    assert describe(5) == "int 5"
