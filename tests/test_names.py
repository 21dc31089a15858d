"""Colour names: the shipped CSS and xkcd lists, nearest name by CIEDE2000, parsing names."""

from __future__ import annotations

import numpy as np
import pytest

from chromapal.colorspace import ciede2000, lab_from_srgb
from chromapal.errors import InvalidColorError
from chromapal.names import name_list, nearest_names, palette_names, parse_color
from chromapal.palette import Palette

# A few entries checked against the published lists (CSS Color 4; xkcd rgb.txt).
CSS_SAMPLES = {
    "rebeccapurple": (102, 51, 153),
    "cornflowerblue": (100, 149, 237),
    "peru": (205, 133, 63),
}
XKCD_SAMPLES = {"cloudy blue": (172, 194, 217), "puke green": (154, 174, 7), "blue": (3, 67, 223)}


def test_lists_have_their_published_sizes():
    """The CSS list has the 148 named colours, the xkcd list the survey's 949 names."""
    assert len(name_list("css").names) == 148
    assert len(name_list("xkcd").names) == 949
    assert len(set(name_list("xkcd").names)) == 949


@pytest.mark.parametrize(("which", "samples"), [("css", CSS_SAMPLES), ("xkcd", XKCD_SAMPLES)])
def test_list_entries_have_their_published_values(which, samples):
    """Sample entries of each list carry their published sRGB values."""
    table = name_list(which)
    for name, rgb in samples.items():
        assert tuple(table.rgb[table.names.index(name)]) == rgb


@pytest.mark.parametrize("which", ["css", "xkcd"])
def test_every_listed_colour_is_named_by_itself_or_an_alias(which):
    """Each listed colour's nearest name is a name with that exact colour (aliases share values)."""
    table = name_list(which)
    named = nearest_names(table.rgb, which)
    for got, rgb in zip(named, table.rgb, strict=True):
        assert tuple(table.rgb[table.names.index(got)]) == tuple(rgb)


def test_nearest_name_minimises_ciede2000():
    """The chosen name is the one with the smallest CIEDE2000 difference, found by brute force."""
    rng = np.random.default_rng(5)
    colors = rng.integers(0, 256, (40, 3), dtype=np.uint8)
    table = name_list("xkcd")
    for color, got in zip(colors, nearest_names(colors, "xkcd"), strict=True):
        dist = ciede2000(lab_from_srgb(color), table.lab)  # this colour against every name
        assert dist[table.names.index(got)] == pytest.approx(dist.min())


def test_near_colours_get_the_expected_names():
    """Slightly-off primaries and greys get their obvious CSS names."""
    assert nearest_names([(250, 2, 3), (2, 2, 2), (254, 254, 252), (0, 0, 250)], "css") == [
        "red",
        "black",
        "white",
        "blue",
    ]


def test_palette_names_gives_both_lists_in_palette_order():
    """`palette_names` names every colour from both lists, in the palette's order."""
    palette = Palette(np.array([(102, 51, 153), (3, 67, 223)], np.uint8), [0.6, 0.4])
    names = palette_names(palette)
    assert len(names["css"]) == len(names["xkcd"]) == 2
    assert names["css"][0] == "rebeccapurple" and names["xkcd"][1] == "blue"


def test_parse_color_accepts_css_names_and_hex():
    """CSS names (any case, spaces ignored) and hex codes become RGB tuples."""
    assert parse_color("White") == (255, 255, 255)
    assert parse_color("dark slate gray") == (47, 79, 79)
    assert parse_color("#f0f0f0") == (240, 240, 240)
    assert parse_color("abc") == (170, 187, 204)


def test_parse_color_rejects_other_text():
    """Text that is neither a CSS name nor hex raises InvalidColorError naming the value."""
    with pytest.raises(InvalidColorError, match="'blu' is not a colour"):
        parse_color("blu")


def test_unknown_list_is_a_value_error():
    """Asking for a list that is not shipped raises ValueError listing the known ones."""
    with pytest.raises(ValueError, match="expected one of css, xkcd"):
        name_list("pantone")
