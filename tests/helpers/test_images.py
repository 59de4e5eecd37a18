"""Image utilities: right shapes and values, clear errors, inputs never modified."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from helpers import images

uint8_images = arrays(
    np.uint8,
    st.tuples(st.integers(1, 12), st.integers(1, 12), st.just(3)),
)


@pytest.fixture()
def photo() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)


def test_check_image_accepts_grey_and_colour(photo: np.ndarray) -> None:
    assert images.check_image(photo) is photo
    assert images.check_image(photo[:, :, 0]).shape == (6, 8)


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (np.zeros((3, 6, 8)), ValueError, "channels-first"),
        (np.zeros((6, 8, 4)), ValueError, "RGBA"),
        (np.zeros((2, 6, 8, 3)), ValueError, "got shape"),
        (np.zeros((0, 5)), ValueError, "empty"),
        (np.array([["a", "b"]]), TypeError, "numbers"),
        (np.zeros((4, 4), dtype=bool), TypeError, "numbers"),
    ],
)
def test_check_image_explains_bad_input(bad: np.ndarray, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        images.check_image(bad)


def test_scale_to_unit_and_back(photo: np.ndarray) -> None:
    before = photo.copy()
    unit = images.scale_to_unit(photo)
    assert unit.dtype == np.float32 and unit.shape == photo.shape
    assert unit.min() >= 0 and unit.max() <= 1
    np.testing.assert_allclose(unit * 255, photo, atol=1e-4)
    np.testing.assert_array_equal(images.to_uint8(unit), photo)
    np.testing.assert_array_equal(photo, before)
    assert images.scale_to_unit(np.array([0, 255], dtype=np.uint8)).tolist() == [0.0, 1.0]


def test_scale_to_unit_refuses_floats() -> None:
    with pytest.raises(TypeError, match="uint8"):
        images.scale_to_unit(np.ones((2, 2), dtype=np.float32))


def test_to_uint8_refuses_out_of_range_values() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        images.to_uint8(np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match="NaN"):
        images.to_uint8(np.array([0.5, np.nan]))
    with pytest.raises(TypeError, match="float"):
        images.to_uint8(np.array([1, 2], dtype=np.uint8))


def test_to_grayscale_uses_luminance_weights() -> None:
    img = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], dtype=np.uint8)
    grey = images.to_grayscale(img)
    assert grey.shape == (1, 4) and grey.dtype == np.uint8
    assert grey.tolist() == [[76, 150, 29, 255]]  # round(255 * w) for each weight, white stays
    as_float = images.to_grayscale(img.astype(np.float32) / 255)
    assert as_float.dtype == np.float32
    np.testing.assert_allclose(as_float[0], [0.299, 0.587, 0.114, 1.0], rtol=1e-6)


@given(uint8_images)
def test_to_grayscale_stays_between_darkest_and_brightest_channel(img: np.ndarray) -> None:
    grey = images.to_grayscale(img).astype(int)
    wide = img.astype(int)
    assert (grey >= wide.min(axis=2)).all() and (grey <= wide.max(axis=2)).all()


def test_to_grayscale_rejects_grey_input_and_bad_weights(photo: np.ndarray) -> None:
    with pytest.raises(ValueError, match="colour"):
        images.to_grayscale(photo[:, :, 0])
    with pytest.raises(ValueError, match="sum"):
        images.to_grayscale(photo, weights=(0.5, 0.5, 0.5))


def test_crop_copies_the_window(photo: np.ndarray) -> None:
    piece = images.crop(photo, 1, 2, 3, 4)
    np.testing.assert_array_equal(piece, photo[1:4, 2:6])
    assert not np.shares_memory(piece, photo)
    piece[...] = 0
    assert photo[1:4, 2:6].any()


@pytest.mark.parametrize(
    ("args", "match"),
    [((5, 0, 3, 3), "does not fit"), ((0, -1, 2, 2), "does not fit"), ((0, 0, 0, 2), "at least")],
)
def test_crop_refuses_windows_off_the_image(photo: np.ndarray, args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        images.crop(photo, *args)


def test_channel_moves_round_trip(photo: np.ndarray) -> None:
    chw = images.to_channels_first(photo)
    assert chw.shape == (3, 6, 8)
    np.testing.assert_array_equal(chw[1], photo[:, :, 1])
    np.testing.assert_array_equal(images.to_channels_last(chw), photo)
    batch = np.stack([photo, photo[::-1]])
    nchw = images.to_channels_first(batch)
    assert nchw.shape == (2, 3, 6, 8)
    np.testing.assert_array_equal(nchw[1, 2], photo[::-1, :, 2])
    grey = photo[:, :, 0]
    one = images.to_channels_first(grey)
    assert one.shape == (1, 6, 8) and one.dtype == photo.dtype
    np.testing.assert_array_equal(one[0], grey)
    assert not np.shares_memory(one, grey)
    with pytest.raises(ValueError, match="axes"):
        images.to_channels_first(np.zeros(5))


def test_to_grayscale_is_the_rounded_float_luminance(photo: np.ndarray) -> None:
    # The uint8 result is the float64 weighted sum, rounded to the nearest byte.
    exact = photo.astype(np.float64) @ np.array(images.LUMA_WEIGHTS)
    np.testing.assert_array_equal(images.to_grayscale(photo), exact.round().astype(np.uint8))
    as_float = images.to_grayscale(photo.astype(np.float64))
    assert as_float.dtype == np.float64
    np.testing.assert_allclose(as_float, exact)


def test_resize_keeps_dtype_and_constant_images() -> None:
    flat = np.full((10, 20, 3), 77, dtype=np.uint8)
    out = images.resize(flat, 5, 7)
    assert out.shape == (5, 7, 3) and out.dtype == np.uint8 and (out == 77).all()
    floats = np.full((9, 9), 0.25, dtype=np.float32)
    small = images.resize(floats, 3, 3)
    assert small.dtype == np.float32 and np.allclose(small, 0.25)


def test_resize_averages_when_shrinking() -> None:
    stripes = np.zeros((8, 8), dtype=np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes average out to mid-grey
    out = images.resize(stripes, 4, 4).astype(int)
    # Away from the border every new pixel averages equal amounts of black and white;
    # a resize that only picked pixels would give pure 0 or 255 stripes instead.
    assert np.abs(out[:, 1:-1] - 128).max() <= 2
    assert np.abs(out - 128).max() < 40


def test_resize_nearest_copies_the_pixel_under_each_centre() -> None:
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    before = img.copy()
    out = images.resize_nearest(img, 10, 20)
    assert out.shape == (10, 20, 3) and out.dtype == np.uint8
    for i, j in [(0, 0), (3, 7), (9, 19)]:
        # floor((i + 0.5) * 37 / 10), floor((j + 0.5) * 53 / 20), in exact integers.
        r, c = (2 * i + 1) * 37 // 20, (2 * j + 1) * 53 // 40
        np.testing.assert_array_equal(out[i, j], img[r, c])
    np.testing.assert_array_equal(img, before)
    assert not np.shares_memory(out, img)


def test_resize_nearest_halves_grows_and_keeps_float_and_grey() -> None:
    grid = np.arange(64, dtype=np.float32).reshape(8, 8)
    # Halving: new pixel i is centred on the border of old pixels 2i and 2i + 1 and takes
    # the lower one, 2i + 1.
    np.testing.assert_array_equal(images.resize_nearest(grid, 4, 4), grid[1::2, 1::2])
    assert images.resize_nearest(grid, 4, 4).dtype == np.float32
    tiny = np.array([[1, 2], [3, 4]], dtype=np.uint8)
    np.testing.assert_array_equal(
        images.resize_nearest(tiny, 4, 2), np.array([[1, 2], [1, 2], [3, 4], [3, 4]])
    )
    np.testing.assert_array_equal(images.resize_nearest(grid, 8, 8), grid)
    four = np.zeros((5, 6, 4), dtype=np.uint8)
    assert images.resize_nearest(four, 3, 2).shape == (3, 2, 4)


def test_resize_nearest_picks_pixels_where_resize_averages() -> None:
    stripes = np.zeros((8, 8), dtype=np.uint8)
    stripes[:, ::2] = 255
    # Halving one-pixel stripes keeps only the odd columns: all black, no grey at all.
    assert (images.resize_nearest(stripes, 4, 4) == 0).all()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((np.zeros(5), 2, 2), ValueError),
        ((np.zeros((4, 4)), 0, 2), ValueError),
        ((np.zeros((2, 3, 4, 3)), 2, 2), ValueError),
        ((np.zeros((4, 4)), 2.0, 2), TypeError),
    ],
)
def test_resize_nearest_refuses_bad_input(args: tuple, error: type) -> None:
    with pytest.raises(error):
        images.resize_nearest(*args)


def test_square_resize_crop_and_pad() -> None:
    wide = np.zeros((4, 8), dtype=np.uint8)
    wide[:, 2:6] = 200  # the central square is all 200
    np.testing.assert_array_equal(images.square_resize(wide, 4, mode="crop"), np.full((4, 4), 200))
    padded = images.square_resize(wide, 8, mode="pad", fill=9)
    assert padded.shape == (8, 8)
    assert (padded[:2] == 9).all() and (padded[-2:] == 9).all()
    np.testing.assert_array_equal(padded[2:6], wide)
    colour = np.zeros((3, 5, 3), dtype=np.uint8)
    assert images.square_resize(colour, 10, mode="pad").shape == (10, 10, 3)
    with pytest.raises(ValueError, match="mode"):
        images.square_resize(wide, 4, mode="stretch")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="size"):
        images.square_resize(wide, 0)
