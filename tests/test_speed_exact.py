"""Issues 12 and 16: the faster kernels give exactly what the plain search gives.

The rule's table skips palette colours that a lower bound shows cannot be the nearest
(`nearest_de2000`); CIEDE2000 runs in stages. Both must change nothing: the labels and
differences are compared bit for bit with an exhaustive search built from
``ciede2000_pairs`` (every pair computed, the first centre on ties).
"""

from __future__ import annotations

import numpy as np
import pytest

from chromapal.assign import cell_centres_lab
from chromapal.colorspace import ciede2000, lab_from_srgb

K = pytest.importorskip("chromapal._kernels")


def exhaustive(points: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label (first on ties) and dE2000 of each point, from every pair's compiled dE2000."""
    n, k = len(points), len(centers)
    de = np.empty((k, n))
    for j in range(k):
        K.ciede2000_pairs(points, np.ascontiguousarray(np.broadcast_to(centers[j], (n, 3))), de[j])
    labels = np.argmin(de, axis=0)  # NumPy's argmin takes the first of equal minima
    return labels, de[labels, np.arange(n)]


def pruned(points: np.ndarray, centers: np.ndarray, threads: int) -> tuple[np.ndarray, np.ndarray]:
    labels, de = np.empty(len(points), np.int64), np.empty(len(points))
    old = K.set_threads(threads)
    try:
        K.nearest_de2000(np.ascontiguousarray(points), np.ascontiguousarray(centers), labels, de)
    finally:
        K.set_threads(old)
    return labels, de


@pytest.mark.parametrize("k", [1, 2, 4, 8, 16, 64])
@pytest.mark.parametrize("seed", [0, 1])
def test_nearest_de2000_equals_the_exhaustive_search(k: int, seed: int) -> None:
    """Every cell centre (32,768 points): the same label and the same dE2000 bits as computing every pair."""
    rng = np.random.default_rng(seed)
    centers = lab_from_srgb(rng.integers(0, 256, (k, 3)))
    points = np.ascontiguousarray(cell_centres_lab())
    want = exhaustive(points, centers)
    for threads in (1, 2):
        got = pruned(points, centers, threads)
        assert np.array_equal(got[0], want[0])
        assert np.array_equal(got[1].view(np.int64), want[1].view(np.int64))  # bit for bit


def test_nearest_de2000_ties_go_to_the_first_centre() -> None:
    """Repeated centres and centres of one lightness (the bound is 0 for them): the first of equals wins."""
    rng = np.random.default_rng(5)
    base = lab_from_srgb(rng.integers(0, 256, (6, 3)))
    grey_ramp = lab_from_srgb(np.repeat(np.arange(0, 256, 51)[:, None], 3, axis=1))
    same_l = base.copy()
    same_l[:, 0] = 50.0
    centers = np.concatenate([base[3:], base, same_l, grey_ramp, base[:2]])  # exact repeats, late ones lose
    points = np.concatenate([cell_centres_lab()[::7], centers, same_l + [0.0, 1e-12, 0.0]])
    want = exhaustive(np.ascontiguousarray(points), centers)
    got = pruned(points, centers, 1)
    assert np.array_equal(got[0], want[0])
    assert np.array_equal(got[1], want[1])
    # a point that is a centre is labelled with the first copy of it, at distance 0
    first = {tuple(c): j for j, c in reversed(list(enumerate(centers.tolist())))}
    for i, c in enumerate(centers.tolist(), start=len(cell_centres_lab()[::7])):
        assert got[0][i] == first[tuple(c)] and got[1][i] == 0.0


def test_lightness_bound_holds_on_every_pair() -> None:
    """The bound the search relies on, |dL| / S_L <= dE2000, over random pairs (the compiled dE2000)."""
    rng = np.random.default_rng(11)
    a = lab_from_srgb(rng.integers(0, 256, (200_000, 3)))
    b = lab_from_srgb(rng.integers(0, 256, (200_000, 3)))
    b[:50_000, 1:] = a[:50_000, 1:]  # same chroma and hue: the bound is the whole difference
    de = np.empty(len(a))
    K.ciede2000_pairs(a, b, de)
    l_bar = (a[:, 0] + b[:, 0]) / 2
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / np.sqrt(20 + (l_bar - 50) ** 2)
    bound = np.abs(b[:, 0] - a[:, 0]) / s_l
    assert (bound <= de * (1 + 1e-9)).all()
    np.testing.assert_allclose(de[:50_000], bound[:50_000], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(de, ciede2000(a, b), rtol=1e-9, atol=1e-9)  # the staged formula is CIEDE2000
