"""Palette clean-up (sort, merge, drop) and the ignore mask."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from chromapal.adjust import (
    clean_palette,
    drop_small,
    hide_colors,
    ignore_mask,
    merge_similar,
    sort_palette,
)
from chromapal.colorspace import ciede2000, lab_from_srgb, oklab_from_srgb
from chromapal.palette import Palette
from chromapal.pipeline import extract_palette

WHITE, BLACK, RED, GREEN, BLUE = (255, 255, 255), (0, 0, 0), (255, 0, 0), (0, 128, 0), (0, 0, 255)


def make(colors, shares, **kw):
    """A palette from colour tuples and shares."""
    return Palette(
        np.array(colors, np.uint8), np.array(shares, float), source="x.png", k=len(colors), **kw
    )


@pytest.fixture
def mixed():
    """Five colours with distinct lightness, hue and chroma, largest share first."""
    return make(
        [(128, 128, 128), BLUE, (250, 250, 210), RED, (0, 100, 0)], [0.3, 0.25, 0.2, 0.15, 0.1]
    )


def test_sort_by_share_is_largest_first(mixed):
    """Sorting by share puts the largest share first."""
    shuffled = make(mixed.colors[::-1], mixed.proportions[::-1])
    assert sort_palette(shuffled, "share").hex == mixed.hex


def test_sort_by_lightness_goes_dark_to_light(mixed):
    """Sorting by lightness orders by Oklab L, dark to light."""
    out = sort_palette(mixed, "lightness")
    L = oklab_from_srgb(out.colors)[:, 0]
    assert list(L) == sorted(L)
    assert out.hex == ["#006400", "#0000ff", "#808080", "#ff0000", "#fafad2"]


def test_sort_by_hue_goes_round_the_circle_with_greys_last(mixed):
    """Hue order is red, yellowish, green, blue, then the greys."""
    assert sort_palette(mixed, "hue").hex == ["#ff0000", "#fafad2", "#006400", "#0000ff", "#808080"]


def test_sort_by_chroma_puts_the_most_vivid_first(mixed):
    """Chroma order starts with the most saturated colour and ends with grey."""
    out = sort_palette(mixed, "chroma")
    assert out.hex[0] == "#0000ff" and out.hex[-1] == "#808080"


def test_sort_keeps_colour_share_pairs_and_metadata(mixed):
    """Sorting moves each share with its colour and keeps source, k and note."""
    out = sort_palette(mixed, "hue")
    pairs = {s.hex: s.proportion for s in mixed}
    assert {s.hex: s.proportion for s in out} == pytest.approx(pairs)
    assert (out.source, out.k) == ("x.png", 5)


def test_unknown_sort_key_is_a_value_error(mixed):
    """An unknown sort key raises ValueError listing the valid ones."""
    with pytest.raises(ValueError, match="expected one of share, lightness, hue, chroma"):
        sort_palette(mixed, "size")


def test_merge_joins_close_colours_and_adds_their_shares():
    """Two near-identical reds merge into one colour carrying both shares; far colours stay."""
    p = make([(200, 20, 20), BLUE, (204, 22, 20)], [0.5, 0.3, 0.2])
    out = merge_similar(p, 5)
    assert len(out) == 2
    assert out.proportions == pytest.approx([0.7, 0.3])
    # The merged colour is the share-weighted mean, between the two reds.
    assert 200 <= out.colors[0, 0] <= 204 and out.colors[0, 1] in (20, 21, 22)


def test_merge_leaves_no_pair_closer_than_the_threshold():
    """After merging, every pair of colours is at least the threshold apart and shares sum to 1."""
    rng = np.random.default_rng(1)
    colors = rng.integers(0, 256, (24, 3))
    p = make(colors, rng.random(24))
    out = merge_similar(p, 20)
    lab = lab_from_srgb(out.colors)
    dist = ciede2000(lab[:, None], lab[None, :])[np.triu_indices(len(out), 1)]
    assert len(out) < 24 and dist.min() >= 20
    assert out.proportions.sum() == pytest.approx(1)
    assert len(set(out.hex)) == len(out)


def test_merge_with_zero_only_joins_duplicates():
    """A threshold of 0 merges exact duplicates only."""
    out = merge_similar(make([RED, RED, BLUE], [0.2, 0.3, 0.5]), 0)
    assert out.hex == ["#ff0000", "#0000ff"] or out.hex == ["#0000ff", "#ff0000"]
    shares = dict(zip(out.hex, out.proportions, strict=True))
    assert shares == pytest.approx({"#ff0000": 0.5, "#0000ff": 0.5})


def test_drop_small_removes_tiny_colours_and_rescales():
    """Colours under the minimum share go; the rest are rescaled to sum to 1, order kept."""
    out = drop_small(make([RED, BLUE, GREEN], [0.6, 0.3, 0.1]), 0.2)
    assert out.hex == ["#ff0000", "#0000ff"]
    assert out.proportions == pytest.approx([2 / 3, 1 / 3])


def test_drop_small_always_keeps_the_largest():
    """A minimum above every share still leaves the largest colour."""
    out = drop_small(make([RED, BLUE], [0.6, 0.4]), 0.9)
    assert out.hex == ["#ff0000"] and out.proportions == pytest.approx([1.0])


def test_clean_palette_merges_then_drops_then_sorts():
    """`clean_palette` applies merge, min-share and sort in that order."""
    p = make([(200, 20, 20), (203, 21, 20), BLUE, GREEN], [0.1, 0.1, 0.75, 0.05])
    out = clean_palette(p, merge=5, min_share=0.1, sort="hue")
    assert len(out) == 2 and out.hex[1] == "#0000ff"
    assert out.proportions == pytest.approx([0.2 / 0.95, 0.75 / 0.95])


@given(colors=arrays(np.uint8, (6, 3)), delta=st.floats(0, 40))
@settings(max_examples=30, deadline=None)
def test_merge_invariants(colors, delta):
    """Whatever the colours, merging keeps shares summing to 1 and leaves no duplicate colour."""
    out = merge_similar(make(colors, np.full(6, 1 / 6)), delta)
    assert out.proportions.sum() == pytest.approx(1) and len(set(out.hex)) == len(out)


def test_ignore_mask_matches_within_the_cielab_tolerance():
    """Pixels within the ΔE76 tolerance of an ignored colour match; others do not."""
    pixels = np.array([WHITE, (250, 250, 250), (200, 200, 200), BLACK, RED], np.uint8)
    lab = lab_from_srgb(pixels)
    expected = np.linalg.norm(lab - lab_from_srgb(np.array(WHITE, np.uint8)), axis=1) <= 5
    assert (
        list(ignore_mask(pixels, [WHITE], 5)) == list(expected) == [True, True, False, False, False]
    )
    assert list(ignore_mask(pixels, [WHITE, BLACK], 0)) == [True, False, False, True, False]


def test_ignore_mask_does_not_modify_pixels_and_handles_empty_input():
    """The mask leaves its input alone and is empty for no pixels."""
    pixels = np.array([WHITE, RED], np.uint8)
    before = pixels.copy()
    ignore_mask(pixels, [WHITE], 10)
    assert np.array_equal(pixels, before)
    assert ignore_mask(np.zeros((0, 3), np.uint8), [WHITE], 10).shape == (0,)


def test_ignored_background_is_left_out_of_the_clustering():
    """A white background hidden with `hide_colors` is not in the palette; shares cover the rest."""
    image = np.full((20, 20, 3), 255, np.uint8)
    image[5:10, 5:15] = RED
    image[10:15, 5:15] = BLUE
    palette = extract_palette(hide_colors(image, [WHITE], 10), k=3)
    assert sorted(palette.hex) == ["#0000ff", "#ff0000"]
    assert palette.proportions == pytest.approx([0.5, 0.5])


def test_hide_colors_keeps_existing_transparency():
    """Already transparent pixels stay transparent; other alpha values are kept."""
    image = np.zeros((1, 3, 4), np.uint8)
    image[0] = [(255, 255, 255, 255), (10, 20, 30, 0), (10, 20, 30, 200)]
    out = hide_colors(image, [WHITE], 1)
    assert list(out[0, :, 3]) == [0, 0, 200]
