"""Tests of the renderers' shared pieces: k ranges, output formats and saving."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from chromapal import Palette
from chromapal.render.common import (
    check_ks,
    fit_side,
    format_of,
    palettes_for,
    parse_ks,
    save_image,
)


@pytest.mark.parametrize(
    ("text", "ks"),
    [
        ("1-10", list(range(1, 11))),
        ("2,4,8", [2, 4, 8]),
        ("2-4, 8", [2, 3, 4, 8]),
        ("5", [5]),
        ("8,2,2-3", [2, 3, 8]),
    ],
)
def test_k_ranges_parse_to_sorted_unique_lists(text, ks):
    """Ranges and lists of k give the sorted k values, each once."""
    assert parse_ks(text) == ks


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5-3", "'5-3' runs backwards; write it as '3-5'"),
        (
            "0-3",
            "'0-3' has k outside 1-256; expected k values from 1 to 256 like '1-10' or '2,4,8'",
        ),
        (
            "2-300",
            "'2-300' has k outside 1-256; expected k values from 1 to 256 like '1-10' or '2,4,8'",
        ),
        ("a-b", "'a-b' is not a k range; expected k values from 1 to 256 like '1-10' or '2,4,8'"),
        ("", "'' is not a k range; expected k values from 1 to 256 like '1-10' or '2,4,8'"),
        ("3,", "'3,' is not a k range; expected k values from 1 to 256 like '1-10' or '2,4,8'"),
        ("-3", "'-3' is not a k range; expected k values from 1 to 256 like '1-10' or '2,4,8'"),
    ],
)
def test_bad_k_ranges_say_what_is_accepted(text, message):
    """A malformed, backwards or out-of-range k range is a ValueError naming it."""
    with pytest.raises(ValueError) as info:
        parse_ks(text)
    assert str(info.value) == message


def test_k_values_from_python_are_checked():
    """K values given as a Python iterable must lie in 1..256 and not be empty."""
    assert check_ks(range(3, 0, -1)) == [1, 2, 3]
    with pytest.raises(ValueError, match="between 1 and 256"):
        check_ks([0, 3])
    with pytest.raises(ValueError, match="no k values"):
        check_ks([])


def test_palettes_for_an_image_match_extract(bands):
    """One palette per k, each the palette `extract` gives for that k."""
    from chromapal import extract

    palettes = palettes_for(bands, [1, 2, 3])
    assert [len(p) for p in palettes] == [1, 2, 3]
    assert palettes[2] == extract(bands, 3)


def test_unknown_extension_is_an_error():
    """An output format is chosen by extension; an unknown one is refused with the accepted list."""
    assert format_of("a/B.PNG", ["png", "gif"]) == "png"
    with pytest.raises(ValueError) as info:
        format_of("out.xyz", ["png", "gif"])
    assert str(info.value) == "out.xyz: unknown output format 'xyz'; expected one of gif, png"


def test_indexed_png_stays_indexed_and_jpeg_is_flattened_on_white(tmp_path):
    """A palette image is written to PNG as it is; JPEG gets its transparent pixels on white."""
    image = Image.fromarray(
        np.kron(np.array([[0, 1], [1, 2]], np.uint8), np.ones((8, 8), np.uint8))
    )
    image.putpalette(bytes([200, 0, 0, 0, 0, 200, 0, 0, 0]), rawmode="RGB")
    image.info["transparency"] = 2
    save_image(image, tmp_path / "a.png")
    save_image(image, tmp_path / "a.jpg")
    with Image.open(tmp_path / "a.png") as png, Image.open(tmp_path / "a.jpg") as jpg:
        assert png.mode == "P" and np.array_equal(np.asarray(png), np.asarray(image))
        assert jpg.mode == "RGB"
        assert np.allclose(np.asarray(jpg)[12, 12], 255, atol=8)  # a transparent pixel, on white


def test_fit_side_keeps_the_aspect_ratio():
    """Scaling to a longest side keeps the aspect ratio; small images and 0 are left alone."""
    image = Image.new("RGB", (1000, 500))
    assert fit_side(image, 800).size == (800, 400)
    assert fit_side(image, 2000) is image
    assert fit_side(image, 0) is image


def test_a_palette_sequence_is_passed_through():
    """Palettes given instead of an image are used as they are."""
    p = Palette([[1, 2, 3]], [1.0])
    assert palettes_for([p, p], [5]) == [p, p]
    assert palettes_for(p, [5]) == [p]
