"""helpers.kernels: the catalogue, the tiny worked example and the edge-detector pixel."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import kernels as K
from helpers.ops import conv2d_forward, convolve2d, correlate2d


def test_catalogue_has_the_classic_kernels_with_descriptions():
    expected = {"identity", "box_blur", "gaussian_blur", "sharpen", "laplacian"}
    expected |= {"sobel_x", "sobel_y", "emboss"}
    assert expected <= set(K.names())
    for name in K.names():
        text = K.describe(name)
        assert 20 < len(text) < 100 and "\n" not in text and text.endswith(".")
        k = K.get_kernel(name)
        assert k.dtype == np.float64 and k.ndim == 2 and k.shape[0] % 2 == 1


def test_kernel_sums():
    # Blurs keep the overall brightness (sum 1); edge detectors answer 0 on flat areas (sum 0).
    for name in (
        "identity",
        "box_blur",
        "gaussian_blur",
        "gaussian_blur_5x5",
        "sharpen",
        "outline",
    ):
        assert K.get_kernel(name).sum() == pytest.approx(1.0)
    for name in ("laplacian", "laplacian_diagonal", "sobel_x", "sobel_y", "prewitt_x", "prewitt_y"):
        assert K.get_kernel(name).sum() == 0
        flat = np.full((6, 6), 137.0)
        np.testing.assert_allclose(correlate2d(flat, K.get_kernel(name)), 0, atol=1e-9)


def test_get_kernel_returns_a_copy():
    k = K.get_kernel("sharpen")
    k[1, 1] = 100
    assert K.get_kernel("sharpen")[1, 1] == 5


def test_unknown_kernel_lists_the_choices():
    with pytest.raises(ValueError, match="sobel_x"):
        K.get_kernel("sobel")
    with pytest.raises(TypeError, match="string"):
        K.describe(3)


def test_identity_copies_and_box_blur_averages():
    img = np.random.default_rng(0).random((7, 7))
    np.testing.assert_allclose(correlate2d(img, K.get_kernel("identity")), img[1:-1, 1:-1])
    np.testing.assert_allclose(correlate2d(img, K.get_kernel("box_blur"))[0, 0], img[:3, :3].mean())


def test_gaussian_kernel():
    g = K.gaussian_kernel(5, 1.0)
    assert g.shape == (5, 5) and g.sum() == pytest.approx(1) and g.argmax() == 12
    np.testing.assert_allclose(g, g.T)
    with pytest.raises(ValueError, match="odd"):
        K.gaussian_kernel(4)


def test_tiny_example():
    assert K.TINY_IMAGE.shape == (5, 5) and set(np.unique(K.TINY_IMAGE)) == {0, 1}
    np.testing.assert_array_equal(correlate2d(K.TINY_IMAGE, K.TINY_KERNEL), K.TINY_FEATURE_MAP)
    np.testing.assert_array_equal(K.TINY_FEATURE_MAP, [[4, 3, 4], [2, 4, 3], [2, 3, 4]])


def test_worked_edge_pixel_gives_175():
    assert K.EDGE_PATCH[1, 1] == 200
    response = correlate2d(K.EDGE_PATCH, K.EDGE_KERNEL)
    assert response.shape == (1, 1) and response[0, 0] == K.EDGE_RESPONSE == 175
    p = K.EDGE_PATCH
    assert 4 * 200 - (p[0, 1] + p[1, 0] + p[1, 2] + p[2, 1]) == 175


def test_constants_are_read_only():
    with pytest.raises(ValueError):
        K.TINY_IMAGE[0, 0] = 5
    with pytest.raises(ValueError):
        K.EDGE_KERNEL[1, 1] = 0


@pytest.mark.parametrize("name", ["box_blur", "gaussian_blur", "laplacian", "identity"])
def test_correlation_equals_convolution_for_symmetric_kernels(name):
    img = np.random.default_rng(1).random((9, 9))
    k = K.get_kernel(name)
    np.testing.assert_allclose(convolve2d(img, k), correlate2d(img, k), atol=1e-12)


@pytest.mark.parametrize("name", ["sobel_x", "sobel_y", "emboss"])
def test_correlation_differs_from_convolution_for_sobel_and_emboss(name):
    img = np.random.default_rng(2).random((9, 9))
    k = K.get_kernel(name)
    conv, corr = convolve2d(img, k), correlate2d(img, k)
    assert np.abs(conv - corr).max() > 0.1
    if name.startswith("sobel"):
        np.testing.assert_allclose(conv, -corr, atol=1e-12)  # flipping Sobel flips its sign


def test_flip_kernel_in_conv2d_is_true_convolution():
    img = np.random.default_rng(3).random((8, 8))
    k = K.get_kernel("sobel_x")
    out, _ = conv2d_forward(img[None, None], k[None, None], flip_kernel=True)
    np.testing.assert_allclose(out[0, 0], convolve2d(img, k), atol=1e-12)


def test_sobel_finds_oriented_edges():
    img = np.zeros((6, 6))
    img[:, 3:] = 1.0  # a vertical edge: dark left half, bright right half
    assert np.abs(correlate2d(img, K.get_kernel("sobel_x"))).max() == 4
    np.testing.assert_array_equal(correlate2d(img, K.get_kernel("sobel_y")), 0)
