"""Terminal schemes: readable (WCAG contrast computed here independently), hue families kept."""

from __future__ import annotations

import colorsys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from theme_checks import COMMENT, contrast, luminance, violations

from chromapal.colorspace import oklab_from_srgb
from chromapal.palette import Palette
from chromapal.pipeline import extract_palette
from chromapal.theme import CVD_TURN, HUE_TOLERANCE, SLOT_HUES, make_theme

#: Slack on the Oklab hue check for 8-bit rounding, degrees.
HUE_ROUNDING = 3.0
#: Broad HSV hue families (degrees; red wraps round 0) each chromatic slot must stay in;
#: red may turn toward orange and green toward teal for colour-blind readers (CVD_TURN).
HSV_FAMILIES = {
    1: (-30, 40),
    2: (70, 185),
    3: (40, 80),
    4: (200, 265),
    5: (275, 345),
    6: (160, 205),
}
MIN_SATURATION = 0.25


def assert_readable(theme, strict=False):
    """Every promise of the module doc, computed independently (tests/theme_checks.py)."""
    assert violations(theme, strict=strict) == []
    least = COMMENT
    assert contrast(theme.cursor, theme.background) >= least


def assert_hue_families(theme):
    """Slots 1-6 and 9-14 are clearly coloured, each in its red ... cyan hue family."""
    for slot, target in SLOT_HUES.items():
        for color in (theme.ansi[slot], theme.ansi[slot + 8]):
            _, a, b = oklab_from_srgb(np.array(color, np.uint8))
            hue = np.degrees(np.arctan2(b, a))
            turn = CVD_TURN if slot in (1, 2) else 0.0
            off = (hue - target + 180) % 360 - 180
            assert -HUE_TOLERANCE - HUE_ROUNDING <= off <= HUE_TOLERANCE + turn + HUE_ROUNDING, (
                slot,
                color,
            )
            h, s, _ = colorsys.rgb_to_hsv(*(c / 255 for c in color))
            lo, hi = HSV_FAMILIES[slot]
            deg = h * 360 if h * 360 < 330 else h * 360 - 360
            assert lo <= deg <= hi and s >= MIN_SATURATION, (slot, color, deg, s)


def flat(*colors):
    """A 10-pixel-high image of equal vertical bands of `colors`."""
    return np.concatenate([np.tile(np.array(c, np.uint8), (10, 5, 1)) for c in colors], axis=1)


IMAGES = {
    "grey": flat((128, 128, 128)),
    "black": flat((0, 0, 0)),
    "white": flat((255, 255, 255)),
    "black-and-white": flat((0, 0, 0), (255, 255, 255)),
    "red-and-blue": flat((200, 30, 30), (20, 40, 200)),
    "greens": flat((20, 90, 30), (150, 220, 140)),
    "sepia": flat((112, 66, 20), (200, 170, 120), (60, 40, 20)),
}


@pytest.mark.parametrize("light", [False, True], ids=["dark", "light"])
@pytest.mark.parametrize("name", list(IMAGES))
def test_schemes_are_readable_and_keep_hue_families(name, light):
    """Monochrome, two-colour and narrow-hue images give a valid, readable 16-colour scheme."""
    theme = make_theme(extract_palette(IMAGES[name], k=8), light=light)
    assert len(theme.ansi) == 16
    assert_readable(theme)
    assert_hue_families(theme)
    assert len({theme.ansi[s] for s in SLOT_HUES}) == 6


@pytest.mark.parametrize("light", [False, True], ids=["dark", "light"])
def test_photo_scheme_is_readable(small_photo, light):
    """The macaw photo gives a readable scheme whose background is dark (or light with --light)."""
    theme = make_theme(extract_palette(np.asarray(small_photo), k=8), light=light)
    assert_readable(theme)
    assert_hue_families(theme)
    bg = luminance(theme.background)
    # WCAG: white 3:1 on colours with 4.5:1 on the background needs luminance <= 0.0278
    assert (bg > 0.9) if light else (bg <= 1.05 / 3 / 4.5 - 0.05)


def test_image_colours_are_used_when_present():
    """A strongly red image gives a red slot with its own red hue."""
    theme = make_theme(Palette(np.array([(190, 40, 40), (30, 30, 30)], np.uint8), [0.5, 0.5]))
    _, a, b = oklab_from_srgb(np.array(theme.ansi[1], np.uint8))
    _, a0, b0 = oklab_from_srgb(np.array((190, 40, 40), np.uint8))
    turn = np.degrees(np.arctan2(b, a)) - np.degrees(np.arctan2(b0, a0))
    assert -HUE_ROUNDING < turn < CVD_TURN + HUE_ROUNDING  # toward orange only if needed


def test_background_is_tinted_by_the_dominant_colour():
    """The background takes its hue from the most common colour (blue image: bluish background)."""
    theme = make_theme(Palette(np.array([(30, 60, 160), (200, 200, 200)], np.uint8), [0.8, 0.2]))
    r, g, b = theme.background
    assert b > r and b > g


def test_theme_hex_lists_all_nineteen_colours():
    """`Theme.hex` names background, foreground, cursor and color0-color15."""
    h = make_theme(Palette(np.array([(90, 90, 90)], np.uint8), [1.0])).hex()
    assert list(h) == ["background", "foreground", "cursor"] + [f"color{i}" for i in range(16)]
    assert all(len(v) == 7 and v.startswith("#") for v in h.values())


def test_empty_palette_is_a_value_error():
    """A theme needs at least one colour."""
    with pytest.raises(ValueError, match="empty palette"):
        make_theme(Palette(np.zeros((0, 3), np.uint8), []))


@given(
    colors=arrays(np.uint8, st.tuples(st.integers(1, 6), st.just(3))),
    light=st.booleans(),
    strict=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_any_palette_gives_a_readable_scheme(colors, light, strict):
    """Whatever the palette, the contrast guarantees and hue families hold, strict or not."""
    palette = Palette(colors, np.full(len(colors), 1 / len(colors)))
    theme = make_theme(palette, light=light, strict=strict)
    assert_readable(theme, strict=strict)
    assert_hue_families(theme)
    if strict and not light:  # white on red and blue at 4.5:1 needs a near-black background
        assert luminance(theme.background) <= 0.00185
    if not light:  # never below 3:1 for white on red and blue
        assert min(contrast(theme.ansi[15], theme.ansi[i]) for i in (1, 4)) >= 3.0
