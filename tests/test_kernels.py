"""chromapal._kernels: each compiled loop against its NumPy twin, and bad arguments."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from chromapal import cluster, colorspace
from chromapal.colorspace import lab_from_srgb

K = pytest.importorskip("chromapal._kernels")

#: Agreement required between the compiled and the NumPy CIEDE2000.
DE_TOLERANCE = 1e-9
#: Random pairs whose hues are this close (degrees) to equal or opposite are tested separately.
HUE_MARGIN = 0.05
#: Agreement required between compiled and NumPy float loops over the same points.
LOOP_TOLERANCE = 1e-9

# Sharma, Wu & Dalal (2005) Table 1: the 34 pairs (L1, a1, b1, L2, a2, b2); expected values in
# test_colorspace.py. Pairs 9-15 are near, but not exactly at, opposite hues.
SHARMA_PAIRS = np.array(
    [
        (50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485),
        (50.0000, 3.1571, -77.2803, 50.0000, 0.0000, -82.7485),
        (50.0000, 2.8361, -74.0200, 50.0000, 0.0000, -82.7485),
        (50.0000, -1.3802, -84.2814, 50.0000, 0.0000, -82.7485),
        (50.0000, -1.1848, -84.8006, 50.0000, 0.0000, -82.7485),
        (50.0000, -0.9009, -85.5211, 50.0000, 0.0000, -82.7485),
        (50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000),
        (50.0000, -1.0000, 2.0000, 50.0000, 0.0000, 0.0000),
        (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0009),
        (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0010),
        (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0011),
        (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0012),
        (50.0000, -0.0010, 2.4900, 50.0000, 0.0009, -2.4900),
        (50.0000, -0.0010, 2.4900, 50.0000, 0.0010, -2.4900),
        (50.0000, -0.0010, 2.4900, 50.0000, 0.0011, -2.4900),
        (50.0000, 2.5000, 0.0000, 50.0000, 0.0000, -2.5000),
        (50.0000, 2.5000, 0.0000, 73.0000, 25.0000, -18.0000),
        (50.0000, 2.5000, 0.0000, 61.0000, -5.0000, 29.0000),
        (50.0000, 2.5000, 0.0000, 56.0000, -27.0000, -3.0000),
        (50.0000, 2.5000, 0.0000, 58.0000, 24.0000, 15.0000),
        (50.0000, 2.5000, 0.0000, 50.0000, 3.1736, 0.5854),
        (50.0000, 2.5000, 0.0000, 50.0000, 3.2972, 0.0000),
        (50.0000, 2.5000, 0.0000, 50.0000, 1.8634, 0.5757),
        (50.0000, 2.5000, 0.0000, 50.0000, 3.2592, 0.3350),
        (60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387),
        (63.0109, -31.0961, -5.8663, 62.8187, -29.7946, -4.0864),
        (61.2901, 3.7196, -5.3901, 61.4292, 2.2480, -4.9620),
        (35.0831, -44.1164, 3.7933, 35.0232, -40.0716, 1.5901),
        (22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619),
        (36.4612, 47.8580, 18.3852, 36.2715, 50.5065, 21.2231),
        (90.8027, -2.0831, 1.4410, 91.1528, -1.6435, 0.0447),
        (90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239),
        (6.7747, -0.2908, -2.4247, 5.8714, -0.0985, -2.2286),
        (2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514),
    ]
)


def compiled_de(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """ΔE2000 of each row pair through `_kernels.ciede2000_pairs`."""
    out = np.empty(len(lab1))
    K.ciede2000_pairs(np.ascontiguousarray(lab1, float), np.ascontiguousarray(lab2, float), out)
    return out


def random_lab(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` random CIELAB colours over (and beyond) the sRGB gamut."""
    return np.c_[rng.uniform(0, 100, n), rng.uniform(-128, 128, (n, 2))]


def weighted_points(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Random sRGB colours as CIELAB points with pixel counts."""
    rng = np.random.default_rng(seed)
    return lab_from_srgb(rng.integers(0, 256, (n, 3)).astype(float)), rng.integers(1, 100, n).astype(float)


# -- CIEDE2000 ---------------------------------------------------------------------------------


def test_ciede2000_pairs_match_numpy_on_sharma_pairs() -> None:
    """The compiled ΔE2000 equals colorspace.ciede2000 to 1e-9 on the 34 Sharma pairs, both ways round."""
    a, b = SHARMA_PAIRS[:, :3], SHARMA_PAIRS[:, 3:]

    np.testing.assert_allclose(compiled_de(a, b), colorspace.ciede2000(a, b), rtol=0, atol=DE_TOLERANCE)
    np.testing.assert_allclose(compiled_de(b, a), colorspace.ciede2000(b, a), rtol=0, atol=DE_TOLERANCE)


def hue_gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the angle in degrees between the hue lines of `a` and `b` (0 for equal or opposite hues)."""
    gap = np.degrees(np.arctan2(a[:, 2], a[:, 1]) - np.arctan2(b[:, 2], b[:, 1])) % 180
    return np.minimum(gap, 180 - gap)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_ciede2000_pairs_match_numpy_on_random_pairs(seed: int) -> None:
    """On random CIELAB pairs (hues not within HUE_MARGIN of equal or opposite) both agree to 1e-9."""
    rng = np.random.default_rng(seed)
    a, b = random_lab(rng, 5000), random_lab(rng, 5000)
    keep = hue_gap(a, b) > HUE_MARGIN
    a, b = a[keep], b[keep]

    np.testing.assert_allclose(compiled_de(a, b), colorspace.ciede2000(a, b), rtol=0, atol=DE_TOLERANCE)


def test_ciede2000_pairs_match_numpy_with_zero_chroma() -> None:
    """Pairs with a grey (a = b = 0) on either side, or both, agree to 1e-9."""
    rng = np.random.default_rng(1)
    a, b = random_lab(rng, 2000), random_lab(rng, 2000)
    a[:1000, 1:] = 0
    b[500:1500, 1:] = 0

    np.testing.assert_allclose(compiled_de(a, b), colorspace.ciede2000(a, b), rtol=0, atol=DE_TOLERANCE)


def test_ciede2000_pairs_match_numpy_on_close_pairs() -> None:
    """Pairs a small random step apart (centre and point after k-means) agree to 1e-9."""
    rng = np.random.default_rng(2)
    a = random_lab(rng, 5000)
    b = a + rng.normal(0, 0.5, a.shape)

    np.testing.assert_allclose(compiled_de(a, b), colorspace.ciede2000(a, b), rtol=0, atol=DE_TOLERANCE)


def test_ciede2000_pairs_match_numpy_on_equal_hues() -> None:
    """Pairs of the same hue that differ in chroma (tints of one colour) agree to 1e-9."""
    rng = np.random.default_rng(3)
    a = random_lab(rng, 5000)
    b = a.copy()
    b[:, 1:] *= 1.001

    np.testing.assert_allclose(compiled_de(a, b), colorspace.ciede2000(a, b), rtol=0, atol=DE_TOLERANCE)


def test_ciede2000_pairs_match_numpy_on_nearly_opposite_hues() -> None:
    """Pairs whose hues differ by 180 +- 1e-4 degrees (not exactly opposite) agree to 1e-9."""
    rng = np.random.default_rng(5)
    n = 5000
    hue = rng.uniform(0, 2 * np.pi, n)
    other = hue + np.pi + np.radians(1e-4) * rng.choice([-1, 1], n)
    chroma1, chroma2 = rng.uniform(5, 120, n), rng.uniform(5, 120, n)
    a = np.c_[rng.uniform(0, 100, n), chroma1 * np.cos(hue), chroma1 * np.sin(hue)]
    b = np.c_[rng.uniform(0, 100, n), chroma2 * np.cos(other), chroma2 * np.sin(other)]

    np.testing.assert_allclose(compiled_de(a, b), colorspace.ciede2000(a, b), rtol=0, atol=DE_TOLERANCE)


def test_ciede2000_pairs_is_zero_on_identical_colours() -> None:
    """The compiled ΔE2000 of a colour with itself is exactly 0."""
    a = random_lab(np.random.default_rng(4), 1000)

    assert np.all(compiled_de(a, a) == 0)


# -- histogram ---------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [3, 4])
def test_histogram_matches_bincount(channels: int) -> None:
    """Cell counts and channel sums equal NumPy's bincount of the same cells; the return is the pixels counted."""
    rng = np.random.default_rng(5)
    px = rng.integers(0, 256, (3000, channels), dtype=np.uint8)
    bits, ncells = 4, 1 << 12
    counts, sums = np.zeros(ncells, np.int64), np.zeros((ncells, 3), np.int64)

    counted = K.histogram(px, channels, 100, bits, counts, sums)

    keep = px[:, 3] >= 100 if channels == 4 else np.ones(len(px), bool)
    rgb = px[keep, :3].astype(np.int64)
    cell = (rgb[:, 0] >> 4) << 8 | (rgb[:, 1] >> 4) << 4 | rgb[:, 2] >> 4
    assert counted == keep.sum()
    np.testing.assert_array_equal(counts, np.bincount(cell, minlength=ncells))
    for j in range(3):
        np.testing.assert_array_equal(sums[:, j], np.bincount(cell, rgb[:, j], minlength=ncells))


@pytest.mark.parametrize(
    "args",
    [
        (np.zeros(12, np.uint8), 5, 0, 4, np.zeros(4096, np.int64), np.zeros(3 * 4096, np.int64)),  # channels
        (np.zeros(12, np.uint8), 3, 0, 9, np.zeros(4096, np.int64), np.zeros(3 * 4096, np.int64)),  # bits
        (np.zeros(12, np.uint8), 3, 0, 4, np.zeros(10, np.int64), np.zeros(3 * 4096, np.int64)),  # counts
        (np.zeros(13, np.uint8), 3, 0, 4, np.zeros(4096, np.int64), np.zeros(3 * 4096, np.int64)),  # not whole pixels
    ],
    ids=["channels", "bits", "counts-size", "ragged"],
)
def test_histogram_rejects_bad_arguments(args: tuple) -> None:
    """Bad channel counts, depths or buffer sizes raise ValueError instead of writing out of bounds."""
    with pytest.raises(ValueError):
        K.histogram(*args)


def test_exact_histogram_rejects_a_rank_table_that_misses_pixels() -> None:
    """A counts buffer too small for the pixels' keys raises ValueError, not a crash."""
    px = np.array([[255, 255, 255]], np.uint8)
    rank = np.zeros(1 << 15, np.int64)
    rank[-1] = 5  # points past the end of a one-cell counts buffer

    with pytest.raises(ValueError, match="rank table does not cover the pixels"):
        K.exact_histogram(px, 3, 0, 5, rank, np.zeros(8, np.int64))


# -- k-means loops -------------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 16))
def test_assign_matches_numpy(seed: int, k: int) -> None:
    """Compiled nearest-centre labels and squared distances equal the NumPy ones."""
    rng = np.random.default_rng(seed)
    points, centers = rng.normal(size=(500, 3)), rng.normal(size=(k, 3))
    labels, d2 = np.empty(500, np.int64), np.empty(500)

    K.assign(points, centers, labels, d2)

    ref_labels, ref_d2 = cluster._nearest_numpy(points, centers)
    np.testing.assert_array_equal(labels, ref_labels)
    np.testing.assert_allclose(d2, ref_d2, rtol=0, atol=LOOP_TOLERANCE)


def test_lloyd_matches_numpy() -> None:
    """Compiled Lloyd steps from the same start give the NumPy centres and step count."""
    points, weights = weighted_points(6)
    start = points[:: len(points) // 10][:10].copy()
    a, b = start.copy(), start.copy()

    it_c = K.lloyd(points, weights, a, 60, 1e-5)
    it_np = cluster._lloyd(points, weights, b, 60, 1e-5)

    assert it_c == it_np
    np.testing.assert_allclose(a, b, rtol=0, atol=LOOP_TOLERANCE)


def test_lloyd_reseeds_an_empty_cluster_like_numpy() -> None:
    """A centre nobody is nearest to is moved to the worst point, as in the NumPy loop."""
    points = np.array([[0.0, 0, 0], [1, 0, 0], [10, 0, 0], [11, 0, 0]])
    weights = np.ones(4)
    start = np.array([[5.0, 0, 0], [100, 100, 100]])  # the second centre owns nothing
    a, b = start.copy(), start.copy()

    K.lloyd(points, weights, a, 1, 0.0)
    cluster._lloyd(points, weights, b, 1, 0.0)

    np.testing.assert_allclose(a, b, rtol=0, atol=LOOP_TOLERANCE)


def test_weiszfeld_matches_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiled ΔE2000-weighted mean steps give the NumPy centres and score."""
    lab, weights = weighted_points(7)
    centers = cluster.kmeans(lab, 6, weights=weights).centers

    compiled, compiled_score = cluster._weiszfeld(lab, weights, centers, 5)
    monkeypatch.setattr(cluster, "KERNELS", None)
    reference, reference_score = cluster._weiszfeld(lab, weights, centers, 5)

    np.testing.assert_allclose(compiled, reference, rtol=0, atol=LOOP_TOLERANCE)
    assert compiled_score == pytest.approx(reference_score, abs=LOOP_TOLERANCE)
    assert compiled_score == pytest.approx(cluster.mean_de2000(lab, weights, compiled), abs=LOOP_TOLERANCE)


def test_mean_de2000_matches_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled weighted mean ΔE2000 to the nearest centre equals the NumPy one."""
    lab, weights = weighted_points(8)
    centers = lab[:7].copy()

    compiled = cluster.mean_de2000(lab, weights, centers)
    monkeypatch.setattr(cluster, "KERNELS", None)

    assert compiled == pytest.approx(cluster.mean_de2000(lab, weights, centers), abs=LOOP_TOLERANCE)


def test_swap_stats_matches_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiled removal losses and worst point equal the NumPy ones."""
    lab, weights = weighted_points(9)
    centers = cluster.kmeans(lab, 5, weights=weights).centers

    loss, worst = cluster._swap_stats(lab, weights, centers)
    monkeypatch.setattr(cluster, "KERNELS", None)
    ref_loss, ref_worst = cluster._swap_stats(lab, weights, centers)

    np.testing.assert_allclose(loss, ref_loss, rtol=0, atol=LOOP_TOLERANCE * len(lab))
    assert worst == ref_worst


def test_swap_stats_needs_two_centres() -> None:
    """swap_stats with one centre raises ValueError instead of reading past the centres."""
    lab, weights = weighted_points(10, 5)

    with pytest.raises(ValueError, match="need k >= 2"):
        K.swap_stats(lab, weights, lab[:1].copy(), np.empty(1))


@pytest.mark.parametrize("fn", ["lloyd", "weiszfeld"])
def test_loops_reject_mismatched_shapes(fn: str) -> None:
    """Points and weights of different lengths raise ValueError naming the expected shapes."""
    points, centers = np.zeros((5, 3)), np.zeros((2, 3))

    with pytest.raises(ValueError, match=r"points must be \(n, 3\) float64"):
        getattr(K, fn)(points, np.ones(4), centers, 3, 0.5)


def test_median_cut_returns_at_most_the_boxes_it_can_make() -> None:
    """Asked for more boxes than distinct points, the compiled median cut makes one box per point."""
    points = np.repeat(np.array([[0.0, 0, 0], [1, 1, 1]]), 3, axis=0)
    centers = np.empty((6, 3))

    made = K.median_cut(points, np.ones(6), centers)

    assert made == 6  # boxes of equal points can still be split; the centres repeat
    np.testing.assert_allclose(np.unique(centers, axis=0), [[0, 0, 0], [1, 1, 1]])
