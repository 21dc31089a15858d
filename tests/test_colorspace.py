"""chromapal.colorspace: reference values, round trips, n-d input, NaN/inf, CIEDE2000."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest

from chromapal import colorspace as cs

#: Difference allowed from Ottosson's published Oklab values (given to 6 decimals).
OKLAB_TOLERANCE = 1e-5
#: Difference allowed from published CIELAB values (given to 4 decimals).
LAB_TOLERANCE = 1e-3
#: Difference allowed from Sharma, Wu & Dalal's ΔE2000 values (given to 4 decimals).
SHARMA_TOLERANCE = 1e-4
#: Difference allowed between ΔE2000(x, y) and ΔE2000(y, x).
SYMMETRY_TOLERANCE = 1e-12
#: Largest |L* - 50| of sRGB grey 119 (the grey nearest to mid lightness).
MID_GREY_TOLERANCE = 0.3
#: Difference allowed between the same conversion done on differently shaped arrays.
FLOAT_TOLERANCE = 1e-12
#: Largest |a|, |b| of an sRGB grey in CIELAB (the white is the matrix's own).
LAB_GREY_CHROMA = 1e-9
#: Largest |a|, |b| of an sRGB grey in Oklab (Ottosson's matrices are rounded to 10 digits).
OKLAB_GREY_CHROMA = 1e-6
#: Difference allowed after converting to a space and back to float linear light.
INVERSE_TOLERANCE = 1e-9
#: Step of the 8-bit grid on which round trips must be exact (255 is on it).
GRID_STEP = 5

WHITE, BLACK = (255, 255, 255), (0, 0, 0)
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)

# Björn Ottosson, "A perceptual color space for image processing" (2020), sRGB examples
# (also the values of CSS Color 4): colour -> (L, a, b).
OTTOSSON_SRGB = [
    (WHITE, (1.0, 0.0, 0.0)),
    (BLACK, (0.0, 0.0, 0.0)),
    (RED, (0.627955, 0.224863, 0.125846)),
    (GREEN, (0.866440, -0.233888, 0.179498)),
    (BLUE, (0.452014, -0.032457, -0.311528)),
]

# CIELAB (D65) of the sRGB primaries, e.g. Lindbloom's calculator: colour -> (L*, a*, b*).
CIELAB_SRGB = [
    (WHITE, (100.0, 0.0, 0.0)),
    (BLACK, (0.0, 0.0, 0.0)),
    (RED, (53.2408, 80.0925, 67.2032)),
    (GREEN, (87.7347, -86.1827, 83.1793)),
    (BLUE, (32.2970, 79.1875, -107.8602)),
]

# Sharma, Wu & Dalal (2005), "The CIEDE2000 color-difference formula: implementation notes,
# supplementary test data, and mathematical observations", Table 1 (all 34 pairs):
# L1, a1, b1, L2, a2, b2, dE00.
SHARMA = np.array(
    [
        (50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485, 2.0425),
        (50.0000, 3.1571, -77.2803, 50.0000, 0.0000, -82.7485, 2.8615),
        (50.0000, 2.8361, -74.0200, 50.0000, 0.0000, -82.7485, 3.4412),
        (50.0000, -1.3802, -84.2814, 50.0000, 0.0000, -82.7485, 1.0000),
        (50.0000, -1.1848, -84.8006, 50.0000, 0.0000, -82.7485, 1.0000),
        (50.0000, -0.9009, -85.5211, 50.0000, 0.0000, -82.7485, 1.0000),
        (50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000, 2.3669),
        (50.0000, -1.0000, 2.0000, 50.0000, 0.0000, 0.0000, 2.3669),
        (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0009, 7.1792),
        (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0010, 7.1792),
        (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0011, 7.2195),
        (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0012, 7.2195),
        (50.0000, -0.0010, 2.4900, 50.0000, 0.0009, -2.4900, 4.8045),
        (50.0000, -0.0010, 2.4900, 50.0000, 0.0010, -2.4900, 4.8045),
        (50.0000, -0.0010, 2.4900, 50.0000, 0.0011, -2.4900, 4.7461),
        (50.0000, 2.5000, 0.0000, 50.0000, 0.0000, -2.5000, 4.3065),
        (50.0000, 2.5000, 0.0000, 73.0000, 25.0000, -18.0000, 27.1492),
        (50.0000, 2.5000, 0.0000, 61.0000, -5.0000, 29.0000, 22.8977),
        (50.0000, 2.5000, 0.0000, 56.0000, -27.0000, -3.0000, 31.9030),
        (50.0000, 2.5000, 0.0000, 58.0000, 24.0000, 15.0000, 19.4535),
        (50.0000, 2.5000, 0.0000, 50.0000, 3.1736, 0.5854, 1.0000),
        (50.0000, 2.5000, 0.0000, 50.0000, 3.2972, 0.0000, 1.0000),
        (50.0000, 2.5000, 0.0000, 50.0000, 1.8634, 0.5757, 1.0000),
        (50.0000, 2.5000, 0.0000, 50.0000, 3.2592, 0.3350, 1.0000),
        (60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644),
        (63.0109, -31.0961, -5.8663, 62.8187, -29.7946, -4.0864, 1.2630),
        (61.2901, 3.7196, -5.3901, 61.4292, 2.2480, -4.9620, 1.8731),
        (35.0831, -44.1164, 3.7933, 35.0232, -40.0716, 1.5901, 1.8645),
        (22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373),
        (36.4612, 47.8580, 18.3852, 36.2715, 50.5065, 21.2231, 1.4146),
        (90.8027, -2.0831, 1.4410, 91.1528, -1.6435, 0.0447, 1.4441),
        (90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239, 1.5381),
        (6.7747, -0.2908, -2.4247, 5.8714, -0.0985, -2.2286, 0.6377),
        (2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514, 0.9082),
    ]
)

#: Conversions from sRGB and back to uint8, by name (the clustering spaces).
ROUND_TRIPS = {name: pair for name, pair in cs.SPACES.items()}


def srgb_grid(step: int = GRID_STEP) -> np.ndarray:
    """Every colour whose channels are multiples of `step` (and 255), as (n, 3) uint8."""
    levels = np.unique(np.r_[np.arange(0, 256, step), 255]).astype(np.uint8)
    return np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 3)


# -- reference values ---------------------------------------------------------------------


@pytest.mark.parametrize(("rgb", "expected"), OTTOSSON_SRGB, ids=str)
def test_oklab_of_srgb_matches_ottosson(rgb: tuple[int, int, int], expected: tuple[float, ...]) -> None:
    """SRGB white, black and primaries convert to Ottosson's published Oklab values."""
    got = cs.oklab_from_srgb(np.array(rgb, np.uint8))

    np.testing.assert_allclose(got, expected, rtol=0, atol=OKLAB_TOLERANCE)


@pytest.mark.parametrize(("rgb", "expected"), CIELAB_SRGB, ids=str)
def test_cielab_of_srgb_matches_reference(rgb: tuple[int, int, int], expected: tuple[float, ...]) -> None:
    """SRGB white, black and primaries convert to the published CIELAB (D65) values."""
    got = cs.lab_from_srgb(np.array(rgb, np.uint8))

    np.testing.assert_allclose(got, expected, rtol=0, atol=LAB_TOLERANCE)


def test_greys_have_no_chroma_in_either_space() -> None:
    """Every sRGB grey has a = b = 0 in CIELAB and (to rounding) in Oklab, and L rises with it."""
    greys = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)

    lab, ok = cs.lab_from_srgb(greys), cs.oklab_from_srgb(greys)

    np.testing.assert_allclose(lab[:, 1:], 0, atol=LAB_GREY_CHROMA)
    np.testing.assert_allclose(ok[:, 1:], 0, atol=OKLAB_GREY_CHROMA)
    assert np.all(np.diff(lab[:, 0]) > 0) and np.all(np.diff(ok[:, 0]) > 0)
    assert abs(lab[119, 0] - 50) < MID_GREY_TOLERANCE


def test_float_input_matches_uint8_input() -> None:
    """Float sRGB in [0, 255] converts like the same uint8 values (bin means keep precision)."""
    grid = srgb_grid(17)

    np.testing.assert_allclose(cs.oklab_from_srgb(grid.astype(float)), cs.oklab_from_srgb(grid), atol=FLOAT_TOLERANCE)
    np.testing.assert_allclose(cs.lab_from_srgb(grid.astype(float)), cs.lab_from_srgb(grid), atol=INVERSE_TOLERANCE)


# -- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("space", list(ROUND_TRIPS))
def test_round_trip_is_exact_on_an_8bit_grid(space: str) -> None:
    """SRGB -> space -> sRGB gives back every 8-bit colour of a grid exactly."""
    to_space, to_srgb = ROUND_TRIPS[space]
    grid = srgb_grid()

    back = to_srgb(to_space(grid))

    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, grid)


@pytest.mark.parametrize("space", list(ROUND_TRIPS))
def test_round_trip_is_exact_for_every_level_of_each_channel(space: str) -> None:
    """All 256 levels of each channel alone, and of grey, survive the round trip exactly."""
    to_space, to_srgb = ROUND_TRIPS[space]
    levels = np.arange(256, dtype=np.uint8)
    zeros = np.zeros_like(levels)
    ramps = np.concatenate(
        [np.stack(c, axis=1) for c in ((levels, zeros, zeros), (zeros, levels, zeros), (zeros, zeros, levels))]
        + [np.repeat(levels[:, None], 3, axis=1)]
    )

    np.testing.assert_array_equal(to_srgb(to_space(ramps)), ramps)


@pytest.mark.parametrize("space", list(cs.SPACE_TO_LINEAR))
def test_to_linear_inverts_from_srgb(space: str) -> None:
    """Each space's to-linear conversion inverts its from-sRGB conversion."""
    to_space, _ = cs.SPACES[space]
    grid = srgb_grid(15)

    np.testing.assert_allclose(
        cs.SPACE_TO_LINEAR[space](to_space(grid)), cs.srgb_to_linear(grid), atol=INVERSE_TOLERANCE
    )


def test_out_of_gamut_colours_are_clipped() -> None:
    """Oklab and CIELAB colours outside the sRGB gamut come back clipped into uint8, not wrapped."""
    far = np.array([[2.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.7, 0.5, 0.0]])

    got = cs.oklab_to_srgb(far)

    assert got[:2].tolist() == [[255, 255, 255], [0, 0, 0]]
    assert got[2, 0] == 255  # a strong red beyond the gamut saturates, it does not wrap to 0
    assert cs.lab_to_srgb(np.array([[150.0, 0, 0], [-20.0, 0, 0]])).tolist() == [[255, 255, 255], [0, 0, 0]]


# -- shapes and non-finite input -----------------------------------------------------------


@pytest.mark.parametrize(
    "convert",
    [cs.oklab_from_srgb, cs.lab_from_srgb, cs.unit_from_srgb, cs.srgb_to_linear],
    ids=lambda f: f.__name__,
)
def test_n_dimensional_input_keeps_its_shape(convert: Callable[[np.ndarray], np.ndarray]) -> None:
    """A (2, 3, 4, 3) array converts element by element, like the same colours flattened."""
    rgb = np.random.default_rng(0).integers(0, 256, size=(2, 3, 4, 3), dtype=np.uint8)

    got = convert(rgb)

    assert got.shape == rgb.shape
    np.testing.assert_allclose(got.reshape(-1, 3), convert(rgb.reshape(-1, 3)), rtol=0, atol=FLOAT_TOLERANCE)


@pytest.mark.parametrize("space", list(ROUND_TRIPS))
def test_n_dimensional_round_trip(space: str) -> None:
    """The inverse conversions accept (..., 3) arrays and give (..., 3) uint8."""
    to_space, to_srgb = ROUND_TRIPS[space]
    rgb = np.random.default_rng(1).integers(0, 256, size=(5, 1, 2, 3), dtype=np.uint8)

    np.testing.assert_array_equal(to_srgb(to_space(rgb)), rgb)


def test_single_colour_is_a_1d_array() -> None:
    """One colour of shape (3,) converts to shape (3,)."""
    assert cs.oklab_from_srgb(np.array(RED, np.uint8)).shape == (3,)
    assert cs.lab_to_srgb(np.array([50.0, 0.0, 0.0])).shape == (3,)


@pytest.mark.parametrize("space", list(ROUND_TRIPS))
def test_nan_and_inf_do_not_crash(space: str) -> None:
    """NaN and +-inf convert without raising, and leave the finite rows in the same call untouched."""
    to_space, to_srgb = ROUND_TRIPS[space]
    bad = np.array([[np.nan, 0, 0], [np.inf, 10, 10], [-np.inf, 10, 10], [128.0, 64.0, 32.0]])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        coords = to_space(bad)
        back = to_srgb(coords)
        lab_bad = np.array([[np.nan, 0, 0], [50, np.inf, 0], [50, 0, -np.inf]])
        to_srgb(lab_bad)
        cs.SPACE_TO_LINEAR[space](lab_bad)

    assert coords.shape == bad.shape and back.shape == bad.shape and back.dtype == np.uint8
    np.testing.assert_allclose(coords[3], to_space(bad[3]), rtol=0, atol=FLOAT_TOLERANCE)
    assert np.isnan(coords[0]).any()


def test_ciede2000_with_nan_is_nan_not_an_error() -> None:
    """ΔE2000 of a NaN colour is NaN; the other pairs of the call are unaffected."""
    a = np.array([[np.nan, 0, 0], [50, 10, 10]])
    b = np.array([[50, 0, 0], [50, 10, 10]])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = cs.ciede2000(a, b)

    assert np.isnan(got[0]) and got[1] == 0


# -- CIEDE2000 -----------------------------------------------------------------------------


def test_ciede2000_matches_sharma_table() -> None:
    """All 34 pairs of Sharma, Wu & Dalal (2005) Table 1 are reproduced to 1e-4."""
    got = cs.ciede2000(SHARMA[:, 0:3], SHARMA[:, 3:6])

    np.testing.assert_allclose(got, SHARMA[:, 6], rtol=0, atol=SHARMA_TOLERANCE)


def test_ciede2000_is_symmetric() -> None:
    """ΔE2000(x, y) == ΔE2000(y, x) on the Sharma pairs and on random pairs."""
    rng = np.random.default_rng(2)
    a = np.concatenate([SHARMA[:, 0:3], np.c_[rng.uniform(0, 100, 500), rng.uniform(-128, 128, (500, 2))]])
    b = np.concatenate([SHARMA[:, 3:6], np.c_[rng.uniform(0, 100, 500), rng.uniform(-128, 128, (500, 2))]])

    np.testing.assert_allclose(cs.ciede2000(a, b), cs.ciede2000(b, a), rtol=0, atol=SYMMETRY_TOLERANCE)


def test_ciede2000_is_zero_for_identical_colours() -> None:
    """Identical colours, greys included, are at distance exactly 0."""
    rng = np.random.default_rng(3)
    lab = np.concatenate([[[50.0, 0, 0], [0, 0, 0], [100, 0, 0]], rng.uniform(-100, 100, (200, 3))])

    assert np.all(cs.ciede2000(lab, lab) == 0)


def test_ciede2000_broadcasts() -> None:
    """One colour against many broadcasts to one distance per colour, as the pairs would give."""
    lab = SHARMA[:, 3:6]

    np.testing.assert_allclose(
        cs.ciede2000(SHARMA[16, 0:3], lab), cs.ciede2000(np.tile(SHARMA[16, 0:3], (34, 1)), lab), atol=FLOAT_TOLERANCE
    )
    assert cs.ciede2000(SHARMA[:, 0:3].reshape(2, 17, 3), lab.reshape(2, 17, 3)).shape == (2, 17)


# -- spaces registry ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"), [("OKLAB", "oklab"), ("lab", "cielab"), ("rgb", "srgb"), ("ok", "oklab")]
)
def test_canonical_space_accepts_aliases(name: str, expected: str) -> None:
    """Space names are case-insensitive and the aliases map to the registered names."""
    assert cs.canonical_space(name) == expected


def test_unknown_space_is_a_value_error_naming_it() -> None:
    """An unknown space raises ValueError naming it and the accepted ones."""
    with pytest.raises(ValueError, match=r"unknown colour space 'hsv'; expected one of oklab, cielab, srgb"):
        cs.canonical_space("hsv")
