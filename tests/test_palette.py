"""chromapal.palette: the immutable Palette value, its dict/JSON forms and hex helpers."""

from __future__ import annotations

import dataclasses
import json

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given

from chromapal import InvalidColorError, Palette, Swatch
from chromapal.palette import dumps_palettes, parse_hex, relative_luminance, text_color_for, to_hex

#: Difference allowed between a float sum and the value it should have.
SUM_TOLERANCE = 1e-9


@pytest.fixture
def palette() -> Palette:
    """Three colours, 50/30/20 %, with a source, a note and extra metadata."""
    return Palette(
        np.array([(255, 0, 0), (0, 128, 0), (18, 52, 86)], np.uint8),
        [0.5, 0.3, 0.2],
        source="bands.png",
        k=3,
        note="a note",
        meta={"seconds": 0.25},
    )


def test_hex_lists_the_colours_in_order(palette):
    """.hex gives '#rrggbb' strings, most dominant first."""
    assert palette.hex == ["#ff0000", "#008000", "#123456"]


def test_iteration_yields_swatches(palette):
    """Iterating gives Swatch(rgb, proportion) with plain ints and floats."""
    swatches = list(palette)

    assert swatches == [
        Swatch((255, 0, 0), 0.5),
        Swatch((0, 128, 0), 0.3),
        Swatch((18, 52, 86), 0.2),
    ]
    assert all(type(v) is int for s in swatches for v in s.rgb)
    assert [s.hex for s in palette.swatches] == palette.hex
    assert len(palette) == 3 and palette[1] == swatches[1] and palette[-1] == swatches[2]


def test_fields_cannot_be_reassigned(palette):
    """The palette is frozen: assigning an attribute raises."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        palette.k = 5  # type: ignore[misc]


def test_arrays_and_meta_cannot_be_modified(palette):
    """Its colour and proportion arrays are read-only and its meta mapping too."""
    with pytest.raises(ValueError, match="read-only"):
        palette.colors[0, 0] = 1
    with pytest.raises(ValueError, match="read-only"):
        palette.proportions[0] = 1.0
    with pytest.raises(TypeError):
        palette.meta["seconds"] = 1  # type: ignore[index]


def test_palette_copies_its_inputs():
    """Changing the arrays a palette was built from does not change the palette."""
    colors = np.array([(1, 2, 3)], np.uint8)
    props = np.array([1.0])
    palette = Palette(colors, props)

    colors[0, 0] = 99
    props[0] = 0.5

    assert palette.hex == ["#010203"] and palette.proportions.tolist() == [1.0]


def test_to_dict_has_the_documented_keys(palette):
    """to_dict gives source, k, space, colours (hex, rgb, proportion, names), note and meta."""
    assert palette.to_dict() == {
        "source": "bands.png",
        "k": 3,
        "space": "oklab",
        "colors": [
            {"hex": "#ff0000", "rgb": [255, 0, 0], "proportion": 0.5, "name": "red", "xkcd_name": "fire engine red"},
            {"hex": "#008000", "rgb": [0, 128, 0], "proportion": 0.3, "name": "green", "xkcd_name": "tree green"},
            {"hex": "#123456", "rgb": [18, 52, 86], "proportion": 0.2, "name": "midnightblue",
             "xkcd_name": "marine blue"},
        ],
        "note": "a note",
        "seconds": 0.25,
    }
    assert "name" not in palette.to_dict(names=False)["colors"][0]
    assert "delta_e" not in palette.to_dict()  # unknown for a palette made by hand


def test_dict_and_json_round_trip(palette):
    """from_dict(to_dict(p)) and from_dict(json.loads(p.to_json())) equal p, meta included."""
    assert Palette.from_dict(palette.to_dict()) == palette
    again = Palette.from_dict(json.loads(palette.to_json()))
    assert again == palette and dict(again.meta) == {"seconds": 0.25}


def test_from_dict_accepts_hex_only_colours():
    """Colours may be given by hex alone; missing proportions are shared equally."""
    palette = Palette.from_dict({"colors": [{"hex": "#fff"}, {"hex": "000000"}]})

    assert palette.hex == ["#ffffff", "#000000"] and palette.proportions.tolist() == [0.5, 0.5]


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ({}, ValueError, "needs a 'colors' list"),
        ({"colors": [{"hex": "#12345"}]}, InvalidColorError, r"'#12345' is not a colour"),
        ({"colors": [{"rgb": [300, 0, 0]}]}, ValueError, r"colors must be integers from 0 to 255"),
        ({"colors": [{"rgb": [1, 2]}]}, ValueError, r"colors must have shape \(n, 3\)"),
        (
            {"colors": [{"rgb": [1, 2, 3], "proportion": -0.5}]},
            ValueError,
            "finite and non-negative",
        ),
    ],
)
def test_from_dict_rejects_bad_data_clearly(data, error, message):
    """Malformed dicts raise a ValueError saying what is wrong."""
    with pytest.raises(error, match=message):
        Palette.from_dict(data)


def test_mismatched_lengths_are_an_error():
    """As many proportions as colours are required."""
    with pytest.raises(ValueError, match="2 colours but 1 proportions"):
        Palette(np.zeros((2, 3), np.uint8), [1.0])


def test_equality_compares_values(palette):
    """Palettes with the same values are equal; a different share or note is not."""
    same = Palette(
        palette.colors.copy(), palette.proportions.copy(), source="bands.png", k=3, note="a note"
    )
    other = Palette(palette.colors, [0.6, 0.2, 0.2], source="bands.png", k=3, note="a note")

    assert same == palette and other != palette and palette != "palette"


def test_repr_html_shows_every_colour(palette):
    """The notebook view contains every hex code and the escaped source name."""
    rendered = Palette(palette.colors, palette.proportions, source="<b>&.png")._repr_html_()

    assert all(h in rendered for h in palette.hex)
    assert "&lt;b&gt;&amp;.png" in rendered and "<b>" not in rendered


def test_repr_lists_hex_and_percent(palette):
    """Repr shows each colour with its share."""
    assert repr(palette) == "Palette([#ff0000 50.0%, #008000 30.0%, #123456 20.0%])"


@pytest.mark.parametrize(
    ("text", "rgb"),
    [
        ("#c1a4a9", (193, 164, 169)),
        ("c1a4a9", (193, 164, 169)),
        ("#CAB", (204, 170, 187)),
        (" #000000 ", (0, 0, 0)),
    ],
)
def test_parse_hex(text, rgb):
    """3- and 6-digit hex codes, with or without '#', parse to RGB; to_hex reverses it."""
    assert parse_hex(text) == rgb
    assert parse_hex(to_hex(rgb)) == rgb


@pytest.mark.parametrize("text", ["", "#12", "#1234567", "#ggg", "red"])
def test_parse_hex_rejects_non_colours(text):
    """Anything but a 3- or 6-digit hex code is an InvalidColorError quoting the input."""
    with pytest.raises(
        InvalidColorError, match=r"is not a colour; expected a hex code like '#c1a4a9'"
    ):
        parse_hex(text)


def test_relative_luminance_and_text_colour():
    """WCAG luminance is 1 for white and 0 for black; text on them is black and white."""
    assert relative_luminance((255, 255, 255)) == pytest.approx(1.0)
    assert relative_luminance((0, 0, 0)) == 0.0
    assert text_color_for((255, 255, 255)) == "#000000"
    assert text_color_for((0, 0, 0)) == "#ffffff"


def test_dumps_palettes_is_json(palette):
    """One palette or a list of them dumps to JSON that parses back to the dicts."""
    one = palette.to_dict()

    assert json.loads(dumps_palettes(one)) == one
    assert json.loads(dumps_palettes([one, one])) == [one, one]


_colors = st.lists(st.tuples(*[st.integers(0, 255)] * 3), min_size=0, max_size=12, unique=True)


@given(colors=_colors, data=st.data())
def test_any_palette_survives_a_json_round_trip(colors, data):
    """Any palette comes back equal from its JSON text."""
    weights = data.draw(st.lists(st.floats(0.001, 1.0), min_size=len(colors), max_size=len(colors)))
    total = sum(weights) or 1.0
    palette = Palette(
        np.array(colors, np.uint8).reshape(-1, 3), [w / total for w in weights], k=len(colors) or 1
    )

    again = Palette.from_dict(json.loads(palette.to_json()))

    assert again == palette
    assert abs(sum(again.proportions) - (1.0 if colors else 0.0)) < SUM_TOLERANCE
