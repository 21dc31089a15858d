"""chromapal.arrays: which arrays are images, and how uint16 and float ones become uint8.

The scaling is scikit-image's ``img_as_ubyte`` rule (uint16: ``value // 256``; float:
``rint(value * 255)`` clipped, values in [-1, 1]); the expected values below are worked
out by hand from that rule, not computed with the code under test.
"""

from __future__ import annotations

import numpy as np
import pytest

from chromapal import extract, extract_palette, load_image
from chromapal.arrays import as_image_array

RED = (255, 0, 0)


def test_uint8_is_used_as_it_is():
    """A uint8 (H, W, 3|4) array comes back with the same values."""
    for channels in (3, 4):
        arr = np.arange(2 * 3 * channels, dtype=np.uint8).reshape(2, 3, channels)
        assert np.array_equal(as_image_array(arr), arr)


def test_uint16_keeps_the_high_byte():
    """uint16 values map to value // 256 (skimage's rule), so 65535 is 255 and 256 is 1."""
    arr = np.array([[[0, 255, 256], [25700, 32768, 65535]]], np.uint16)

    assert as_image_array(arr).tolist() == [[[0, 0, 1], [100, 128, 255]]]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_floats_in_zero_one_scale_to_255_rounded_half_to_even(dtype):
    """0 -> 0, 1 -> 255, 0.5 -> 128 (127.5 to even), 0.25 -> 64 (63.75), 0.375 -> 96 (95.625).

    Values exact in float16, so every float type gives the same bytes.
    """
    arr = np.array([[[0.0, 1.0, 0.5], [0.25, 0.375, 0.75]]], dtype)

    assert as_image_array(arr).tolist() == [[[0, 255, 128], [64, 96, 191]]]


def test_negative_floats_down_to_minus_one_clip_to_black():
    """Values in [-1, 0) become 0, as skimage clips them."""
    arr = np.array([[[-1.0, -0.2, 0.0]]])

    assert as_image_array(arr).tolist() == [[[0, 0, 0]]]


@pytest.mark.parametrize("value", [1.5, -1.5, 255.0])
def test_floats_outside_minus_one_one_are_a_value_error(value):
    """A float image of 0-255 values (a common mistake) is refused with the range and a hint."""
    arr = np.full((2, 2, 3), value)

    with pytest.raises(ValueError, match=r"image arrays of float64 must hold values in \[0, 1\] \(got .*astype"):
        as_image_array(arr)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_and_infinite_floats_are_a_value_error(value):
    arr = np.zeros((2, 2, 3), np.float32)
    arr[1, 1, 1] = value

    with pytest.raises(ValueError, match=r"float32 must not hold NaN or infinite values"):
        as_image_array(arr)


@pytest.mark.parametrize(
    "dtype", [np.int64, np.int32, np.int16, np.int8, np.uint32, np.uint64, bool, np.complex128, object]
)
def test_other_dtypes_are_a_type_error_naming_the_dtype(dtype):
    """bool, signed and wider integers, complex and object arrays: a TypeError naming the dtype."""
    arr = np.zeros((2, 2, 3), dtype)

    with pytest.raises(TypeError, match=rf"must be uint8, uint16 or float in \[0, 1\] \(got {np.dtype(dtype)}\)"):
        as_image_array(arr)


@pytest.mark.parametrize("shape", [(4, 4, 2), (4, 4, 5), (0, 4, 3), (4, 0, 4), (0, 0), (2, 2, 2, 3), (5,), ()])
def test_other_shapes_are_a_value_error_naming_the_shape(shape):
    """(H, W, 2), 4-D, 1-D, 0-D and empty arrays: a ValueError naming the shape."""
    with pytest.raises(ValueError, match=rf"image arrays must have shape .* \(got {__import__('re').escape(str(shape))}\)"):
        as_image_array(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("shape", [(3, 5), (3, 5, 1)])
def test_greyscale_arrays_become_grey_rgb(shape):
    """(H, W) and (H, W, 1) arrays are grey: each value repeated in R, G and B."""
    arr = np.arange(15, dtype=np.uint8).reshape(shape)

    out = as_image_array(arr)

    assert out.shape == (3, 5, 3)
    assert np.array_equal(out[..., 0], arr.reshape(3, 5)) and np.array_equal(out[..., 2], arr.reshape(3, 5))


def test_non_contiguous_arrays_are_accepted():
    arr = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)[:, ::2]

    out = load_image(arr).pixels

    assert np.array_equal(out, arr) and out.flags.c_contiguous


def test_all_red_int64_image_is_an_error_not_black():
    """The issue's case: an int64 array of red was read as raw bytes (87.5 % black); now a TypeError."""
    red = np.zeros((8, 8, 3), np.int64)
    red[..., 0] = 255

    for call in (lambda: extract(red, k=2), lambda: extract_palette(red, k=2), lambda: load_image(red)):
        with pytest.raises(TypeError, match=r"\(got int64\)"):
            call()


def test_float_and_uint16_red_give_a_red_palette():
    """A float [0, 1] and a uint16 red image give #ff0000 through extract and extract_palette."""
    red_float = np.zeros((8, 8, 3))
    red_float[..., 0] = 1.0
    red_16 = (red_float * 65535).astype(np.uint16)

    for image in (red_float, red_16):
        assert extract(image, k=1).hex == ["#ff0000"]
        assert extract_palette(image, k=1).hex == ["#ff0000"]


def test_two_channel_array_is_a_value_error_not_an_index_error():
    """The issue's (H, W, 2) case raised IndexError; now a ValueError naming the shape."""
    with pytest.raises(ValueError, match=r"\(got \(4, 4, 2\)\)"):
        extract_palette(np.zeros((4, 4, 2), np.uint8), k=2)
