"""Tests of palette strips: band widths, label contrast, SVG structure."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from chromapal import Palette
from chromapal.render.swatches import swatch_image, swatch_svg

SHARES = [0.437, 0.25, 0.171, 0.09, 0.043, 0.009]
COLORS = [
    (240, 240, 235),
    (16, 16, 24),
    (230, 57, 70),
    (29, 53, 87),
    (168, 218, 220),
    (255, 200, 0),
]
PALETTE = Palette(COLORS, SHARES)
SVG = "{http://www.w3.org/2000/svg}"


def run_lengths(row: np.ndarray) -> list[tuple[tuple[int, ...], int]]:
    """(colour, length) of each run of equal pixels along a row."""
    runs: list[tuple[tuple[int, ...], int]] = []
    for pixel in map(tuple, row):
        if runs and runs[-1][0] == pixel:
            runs[-1] = (pixel, runs[-1][1] + 1)
        else:
            runs.append((pixel, 1))
    return runs


@pytest.mark.parametrize("width", [1000, 333])
def test_band_widths_match_the_shares_within_a_pixel(width):
    """Each band is within a pixel of share x width, in palette order, filling the strip."""
    image = np.asarray(swatch_image(PALETTE, width=width, height=90))
    assert image.shape == (90, width, 3)
    runs = run_lengths(image[0])
    assert [c for c, _ in runs] == COLORS
    assert all(abs(n - s * width) <= 1 for (_, n), s in zip(runs, SHARES, strict=True))


def test_equal_widths_ignore_the_shares():
    """With equal=True every band is within a pixel of width / n."""
    runs = run_lengths(np.asarray(swatch_image(PALETTE, width=600, equal=True))[0])
    assert [n for _, n in runs] == [100] * 6


def test_labels_are_black_on_light_and_white_on_dark():
    """Text drawn on the light band is dark, text on the dark band is light."""
    image = np.asarray(swatch_image(PALETTE, width=1000, height=120)).astype(int)
    light, dark = image[:, 5:400], image[:, 450:680]  # inside bands 0 (437 px) and 1 (250 px)
    ink_on_light = light[np.abs(light - COLORS[0]).sum(-1) > 60]
    ink_on_dark = dark[np.abs(dark - COLORS[1]).sum(-1) > 60]
    assert len(ink_on_light) > 50 and len(ink_on_dark) > 50
    assert ink_on_light.sum(-1).min() < 60  # black text
    assert ink_on_dark.sum(-1).max() > 700  # white text


def test_no_labels_leaves_flat_bands():
    """labels=False draws only the colours."""
    image = np.asarray(swatch_image(PALETTE, width=500, height=40, labels=False))
    assert (image == image[0]).all()


def test_a_band_too_narrow_for_any_label_stays_flat():
    """A band narrower than a line of text gets no label and keeps its colour."""
    image = np.asarray(swatch_image(PALETTE, width=1000, height=120))
    band = image[:, 992:1000]  # the last colour, 9 pixels wide
    assert (band == COLORS[5]).all()


def test_svg_parses_with_one_rectangle_per_colour():
    """The SVG is XML with one rect per colour, in its colour, widths proportional to shares."""
    root = ET.fromstring(swatch_svg(PALETTE, width=800, height=100))
    assert root.tag == f"{SVG}svg"
    rects = root.findall(f"{SVG}rect")
    assert [r.get("fill") for r in rects] == PALETTE.hex
    widths = np.array([float(r.get("width")) for r in rects])
    assert widths == pytest.approx(np.array(SHARES) / sum(SHARES) * 800, abs=1e-3)
    xs = np.array([float(r.get("x")) for r in rects])
    assert xs == pytest.approx(np.concatenate([[0], np.cumsum(widths)[:-1]]), abs=2e-3)


def test_svg_labels_name_the_wide_colours_in_contrasting_ink():
    """Every band wide enough carries its hex code, in black or white by contrast."""
    root = ET.fromstring(swatch_svg(PALETTE, width=800, height=100))
    labels = {"".join(t.itertext())[:7]: t.get("fill") for t in root.findall(f"{SVG}text")}
    assert labels["#f0f0eb"] == "#000000"
    assert labels["#101018"] == "#ffffff"
    assert set(PALETTE.hex[:5]) <= set(labels)


def test_palette_methods_delegate_to_the_renderers():
    """Palette.to_image and Palette.to_svg give the strip and its SVG."""
    assert np.array_equal(
        np.asarray(PALETTE.to_image(width=300, height=50)),
        np.asarray(swatch_image(PALETTE, width=300, height=50)),
    )
    assert PALETTE.to_svg(equal=True) == swatch_svg(PALETTE, equal=True)


def test_an_empty_palette_is_refused():
    """A strip needs at least one colour."""
    with pytest.raises(ValueError, match="no colours"):
        swatch_image(Palette(np.zeros((0, 3)), []))
