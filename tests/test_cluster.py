"""chromapal.cluster: k-means, the median-cut start, k-means++, the ΔE2000 polish; both code paths."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from chromapal import cluster
from chromapal.cluster import kmeans, kmeans_plus_plus, mean_de2000, median_cut, polish_de2000
from chromapal.colorspace import lab_from_srgb

#: Difference allowed between a centre and the exact mean of its points.
MEAN_TOLERANCE = 1e-9
#: Difference allowed between compiled and NumPy centres computed from the same start.
PATH_TOLERANCE = 1e-9
#: Slack on "the polish never raises the mean ΔE2000" (rounding only).
POLISH_SLACK = 1e-9

BLOB_MEANS = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 10.0]])


@pytest.fixture(params=["compiled", "numpy"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test through the compiled kernels, then through the NumPy fallback."""
    if request.param == "compiled" and cluster.KERNELS is None:
        pytest.skip("chromapal._kernels is not built")
    if request.param == "numpy":
        monkeypatch.setattr(cluster, "KERNELS", None)
    return request.param


def both_paths(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """Return `fn(*args, **kwargs)` through the compiled kernels and through NumPy."""
    compiled = fn(*args, **kwargs)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(cluster, "KERNELS", None)
        reference = fn(*args, **kwargs)
    return compiled, reference


def sort_rows(a: np.ndarray) -> np.ndarray:
    """Rows of `a` in lexicographic order."""
    return a[np.lexsort(a.T[::-1])]


def blobs(n_per_blob: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Four tight, far-apart Gaussian blobs in 3-D; returns the points and each point's blob."""
    rng = np.random.default_rng(seed)
    which = np.repeat(np.arange(len(BLOB_MEANS)), n_per_blob)
    return BLOB_MEANS[which] + rng.normal(0, 0.5, (len(which), 3)), which


def random_lab(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """`n` distinct random sRGB colours in CIELAB with random pixel counts."""
    rng = np.random.default_rng(seed)
    rgb = np.unique(rng.integers(0, 256, (n, 3)), axis=0).astype(np.float64)
    return lab_from_srgb(rgb), rng.integers(1, 50, len(rgb)).astype(np.float64)


# -- kmeans ----------------------------------------------------------------------------------


def test_kmeans_finds_the_blob_means(path: str) -> None:
    """On four separated blobs, k=4 puts one centre at each blob's mean and labels by blob."""
    points, which = blobs()

    result = kmeans(points, 4)

    expected = np.stack([points[which == b].mean(axis=0) for b in range(4)])
    np.testing.assert_allclose(sort_rows(result.centers), sort_rows(expected), rtol=0, atol=MEAN_TOLERANCE)
    for b in range(4):  # each blob is one cluster
        assert len(set(result.labels[which == b].tolist())) == 1
    np.testing.assert_array_equal(np.sort(result.weights), [50, 50, 50, 50])


def test_kmeans_uses_the_weights(path: str) -> None:
    """Centres are weight-averaged: a heavy point pulls its blob's centre to itself."""
    points, which = blobs(seed=1)
    weights = np.ones(len(points))
    weights[0] = 1e6

    result = kmeans(points, 4, weights=weights)

    expected = np.average(points[which == 0], axis=0, weights=weights[which == 0])
    assert np.min(np.abs(result.centers - expected).max(axis=1)) < MEAN_TOLERANCE
    assert result.weights.sum() == pytest.approx(weights.sum())


def test_kmeans_labels_are_nearest_centres(path: str) -> None:
    """Each label is the index of the point's nearest centre; weights are the labels' totals."""
    rng = np.random.default_rng(2)
    points, weights = rng.normal(size=(300, 3)), rng.uniform(0.5, 3, 300)

    result = kmeans(points, 7, weights=weights)

    d2 = ((points[:, None, :] - result.centers[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(result.labels, d2.argmin(axis=1))
    np.testing.assert_allclose(result.weights, np.bincount(result.labels, weights, minlength=7))
    assert 1 <= result.iterations <= 60


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40), gap=st.integers(0, 3), grid=st.sampled_from([4, 30, 256]))
def test_kmeans_never_returns_an_empty_cluster(seed: int, n: int, gap: int, grid: int) -> None:
    """With k close to n distinct points, both paths return k centres, each owning weight > 0."""
    rng = np.random.default_rng(seed)
    points = np.unique(rng.integers(0, grid, (n, 3)), axis=0).astype(np.float64)
    weights = rng.integers(1, 10, len(points)).astype(np.float64)
    k = max(1, len(points) - gap)

    for result in both_paths(kmeans, points, k, weights=weights):
        assert result.centers.shape == (k, 3)
        assert np.all(result.weights > 0)
        assert len(np.unique(result.centers, axis=0)) == k


def test_kmeans_caps_k_at_the_number_of_points(path: str) -> None:
    """Asking for more clusters than points gives one cluster per point."""
    points = np.array([[0.0, 0, 0], [1, 1, 1], [5, 5, 5]])

    result = kmeans(points, 10)

    np.testing.assert_array_equal(sort_rows(result.centers), points)
    np.testing.assert_array_equal(result.weights, [1, 1, 1])


def test_kmeans_with_an_init_starts_there(path: str) -> None:
    """Given starting centres, k-means converges from them and leaves `init` unmodified."""
    points, _ = blobs(seed=3)
    init = BLOB_MEANS + 1.0
    before = init.copy()

    result = kmeans(points, 4, init=init)

    np.testing.assert_array_equal(init, before)
    assert np.abs(result.centers - BLOB_MEANS).max() < 0.5  # row i stays the blob it started near


def test_kmeans_does_not_modify_its_input(path: str) -> None:
    """The points and weights passed in are left as they were."""
    rng = np.random.default_rng(4)
    points, weights = rng.normal(size=(100, 3)), rng.uniform(1, 2, 100)
    p0, w0 = points.copy(), weights.copy()

    kmeans(points, 5, weights=weights)

    np.testing.assert_array_equal(points, p0)
    np.testing.assert_array_equal(weights, w0)


@pytest.mark.parametrize(
    ("points", "k", "message"),
    [
        (np.zeros((5, 3)), 0, r"k must be at least 1 \(got 0\)"),
        (np.zeros((0, 3)), 2, r"points must have shape \(n, d\) with n > 0 \(got \(0, 3\)\)"),
        (np.zeros(5), 2, r"points must have shape \(n, d\) with n > 0 \(got \(5,\)\)"),
    ],
)
def test_kmeans_rejects_bad_arguments(points: np.ndarray, k: int, message: str) -> None:
    """A k below 1, or points that are not a non-empty (n, d) array raise ValueError naming the value."""
    with pytest.raises(ValueError, match=message):
        kmeans(points, k)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 200), k=st.integers(1, 12))
def test_compiled_kmeans_equals_numpy_kmeans(seed: int, n: int, k: int) -> None:
    """From the same start, compiled and NumPy Lloyd steps end at the same centres."""
    rng = np.random.default_rng(seed)
    points, weights = rng.normal(size=(n, 3)), rng.uniform(0.5, 5, n)

    compiled, reference = both_paths(kmeans, points, k, weights=weights)

    np.testing.assert_allclose(compiled.centers, reference.centers, rtol=0, atol=PATH_TOLERANCE)
    np.testing.assert_array_equal(compiled.labels, reference.labels)


# -- median cut ------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 120), k=st.integers(1, 40))
def test_median_cut_compiled_equals_numpy(seed: int, n: int, k: int) -> None:
    """Compiled and NumPy median cut give the same set of centres on random weighted points."""
    rng = np.random.default_rng(seed)
    points, weights = rng.normal(size=(n, 3)), rng.uniform(0.5, 5, n)
    k = min(k, n)

    compiled, reference = both_paths(median_cut, points, weights, k)

    np.testing.assert_allclose(sort_rows(compiled), sort_rows(reference), rtol=0, atol=PATH_TOLERANCE)


@pytest.mark.skipif(cluster.KERNELS is None, reason="chromapal._kernels is not built")
@pytest.mark.parametrize(
    ("points", "weights", "k"),
    [
        # two boxes of equal SSE (0.5 each): which one is split third?
        ([[0, 0, 0], [1, 0, 0], [10, 0, 0], [11, 0, 0]], [1, 1, 1, 1], 3),
        # box {(0,7,9), (5,2,9), (0,6,14)} (weights 2) has equal variance along x and z
        ([[0, 7, 9], [5, 2, 9], [0, 6, 14]], [2, 2, 2], 2),
    ],
    ids=["equal-sse", "equal-axis-variance"],
)
def test_median_cut_compiled_equals_numpy_on_ties(points: list[list[int]], weights: list[int], k: int) -> None:
    """On exactly tied boxes or axes, both median cuts still give the same centres."""
    compiled, reference = both_paths(median_cut, np.array(points, float), np.array(weights, float), k)

    np.testing.assert_allclose(sort_rows(compiled), sort_rows(reference), rtol=0, atol=PATH_TOLERANCE)


def test_median_cut_is_deterministic_and_distinct(path: str) -> None:
    """Median cut of distinct points gives k distinct centres, the same on every call."""
    lab, weights = random_lab(5, 500)

    first, second = median_cut(lab, weights, 16), median_cut(lab, weights, 16)

    np.testing.assert_array_equal(first, second)
    assert first.shape == (16, 3) and len(np.unique(first, axis=0)) == 16


def test_median_cut_centres_are_box_means(path: str) -> None:
    """With k = n every point is its own box, so the centres are the points."""
    lab, weights = random_lab(6, 30)

    np.testing.assert_allclose(sort_rows(median_cut(lab, weights, len(lab))), sort_rows(lab), atol=MEAN_TOLERANCE)


def test_median_cut_keeps_equal_colours_together(path: str) -> None:
    """Repeated points are never split apart: two groups of duplicates give their two values."""
    points = np.repeat(np.array([[1.0, 2, 3], [4, 5, 6]]), [7, 3], axis=0)

    np.testing.assert_allclose(sort_rows(median_cut(points, np.ones(10), 2)), [[1, 2, 3], [4, 5, 6]])


# -- k-means++ --------------------------------------------------------------------------------


def test_kmeans_plus_plus_is_reproducible_for_a_seed() -> None:
    """The same seed gives the same start; another seed gives a different one."""
    lab, weights = random_lab(7, 400)

    a = kmeans_plus_plus(lab, weights, 8, np.random.default_rng(0))
    b = kmeans_plus_plus(lab, weights, 8, np.random.default_rng(0))
    c = kmeans_plus_plus(lab, weights, 8, np.random.default_rng(1))

    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_kmeans_plus_plus_picks_distinct_input_points() -> None:
    """The start is k distinct input points (a chosen point has zero chance of being chosen again)."""
    lab, weights = random_lab(8, 50)

    start = kmeans_plus_plus(lab, weights, 20, np.random.default_rng(3))

    assert start.shape == (20, 3) and len(np.unique(start, axis=0)) == 20
    assert all((lab == row).all(axis=1).any() for row in start)


def test_kmeans_plus_plus_caps_k_at_n() -> None:
    """Asking for more starting centres than points gives every point once."""
    lab, weights = random_lab(9, 5)

    start = kmeans_plus_plus(lab, weights, 9, np.random.default_rng(0))

    np.testing.assert_array_equal(sort_rows(start), sort_rows(lab))


# -- mean ΔE2000 and the polish -----------------------------------------------------------------


def test_mean_de2000_is_zero_when_every_point_is_a_centre(path: str) -> None:
    """A palette holding every colour leaves no error; one centre leaves a positive one."""
    lab, weights = random_lab(10, 40)

    assert mean_de2000(lab, weights, lab) == 0
    assert mean_de2000(lab, weights, lab[:1]) > 0


def polish_example(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random weighted CIELAB colours and their k-means centres (2 to 10 of them)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 60))
    k = int(rng.integers(2, min(n, 10) + 1))
    lab = lab_from_srgb(rng.integers(0, 256, (n, 3)).astype(np.float64))
    weights = rng.integers(1, 50, n).astype(np.float64)
    return lab, weights, kmeans(lab, k, weights=weights).centers


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_polish_never_increases_mean_de2000(seed: int) -> None:
    """Polishing k-means centres never raises their weighted mean ΔE2000 (random point sets)."""
    lab, weights, centers = polish_example(seed)

    polished = polish_de2000(lab, weights, centers)

    assert mean_de2000(lab, weights, polished) <= mean_de2000(lab, weights, centers) + POLISH_SLACK


def test_polish_never_increases_mean_de2000_example(path: str) -> None:
    """A found case: 14 colours, k=2; polishing must not raise the mean ΔE2000 (20.02 -> 20.42)."""
    lab, weights, centers = polish_example(297)

    polished = polish_de2000(lab, weights, centers)

    assert mean_de2000(lab, weights, polished) <= mean_de2000(lab, weights, centers) + POLISH_SLACK


def test_polish_usually_lowers_mean_de2000(path: str) -> None:
    """On a photo-like spread of colours, the polish lowers the mean ΔE2000 of k-means centres."""
    lab, weights = random_lab(11, 600)
    centers = kmeans(lab, 8, weights=weights).centers

    polished = polish_de2000(lab, weights, centers)

    assert polished.shape == centers.shape
    assert mean_de2000(lab, weights, polished) < mean_de2000(lab, weights, centers)


def test_polish_does_not_modify_its_input(path: str) -> None:
    """The centres passed to the polish are left as they were."""
    lab, weights = random_lab(12, 100)
    centers = kmeans(lab, 4, weights=weights).centers
    before = centers.copy()

    polish_de2000(lab, weights, centers)

    np.testing.assert_array_equal(centers, before)


def split_example() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two near colours each with a centre, and two far apart colours sharing one centre between them.

    The shared cluster holds all the error; the right move is to give it two centres and
    let one of the two near colours' centres go (it costs ΔE ~2 on 100 pixels).
    """
    lab = np.array([[30.0, 0, 0], [32.0, 0, 0], [70.0, 40, 0], [70.0, -40, 0]])
    weights = np.full(4, 100.0)
    start = np.array([[30.0, 0, 0], [32.0, 0, 0], [70.0, 0, 0]])
    return lab, weights, start


def test_split_move_serves_a_badly_served_cluster_with_two_centres(path: str) -> None:
    """One split round turns the shared centre into one centre per far colour, and lowers the error."""
    lab, weights, start = split_example()

    polished = polish_de2000(lab, weights, start, iters=0, swaps=0, splits=1)

    for far in lab[2:]:
        assert np.min(np.linalg.norm(polished - far, axis=1)) < 1.0
    assert mean_de2000(lab, weights, polished) < 0.5 * mean_de2000(lab, weights, start)


def test_without_split_moves_the_shared_centre_stays(path: str) -> None:
    """The same start with no split round (and no re-weighting or swaps) is returned unchanged."""
    lab, weights, start = split_example()

    polished = polish_de2000(lab, weights, start, iters=0, swaps=0, splits=0)

    np.testing.assert_array_equal(polished, start)


def test_split_move_gives_up_when_no_split_helps(path: str) -> None:
    """Every colour already has its own centre (error 0): no split is kept."""
    lab, weights, _ = split_example()

    assert cluster._try_split(lab, weights, lab.copy(), 0.0, tries=2, iters=3) is None


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_polish_with_the_pipeline_effort_never_increases_mean_de2000(seed: int) -> None:
    """With the swap and split rounds `extract` uses, the polish still never raises the mean ΔE2000."""
    from chromapal.pipeline import POLISH

    lab, weights, centers = polish_example(seed)

    polished = polish_de2000(lab, weights, centers, **POLISH)

    assert mean_de2000(lab, weights, polished) <= mean_de2000(lab, weights, centers) + POLISH_SLACK


# -- two cores: a fixed split, the same result on one thread or two ------------------------------


@pytest.fixture
def kernels() -> Any:
    if cluster.KERNELS is None:
        pytest.skip("chromapal._kernels is not built")
    previous = cluster.KERNELS.set_threads(2)
    yield cluster.KERNELS
    cluster.KERNELS.set_threads(previous)


def _photo_like(seed: int, size: int = 400) -> np.ndarray:
    """A generated (size, size, 3) image with smooth gradients and noise: thousands of histogram cells."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    base = np.stack([np.sin(6 * x + seed), np.cos(5 * y - seed), np.sin(4 * (x + y))], axis=-1)
    img = 127.5 + 110 * base + rng.normal(0, 18, (size, size, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _each_thread_count(kernels: Any, fn: Callable[[], Any]) -> list[Any]:
    out = []
    for n in (1, 2, 1, 2):
        kernels.set_threads(n)
        out.append(fn())
    return out


@pytest.mark.parametrize("k", [4, 8, 16])
def test_palette_is_the_same_on_one_thread_or_two(kernels: Any, k: int) -> None:
    from chromapal.pipeline import extract_palette
    from chromapal.sample import color_counts

    image = _photo_like(k)
    assert len(color_counts(image).counts) >= 4 * 1024  # large enough for every split loop to split
    runs = _each_thread_count(kernels, lambda: extract_palette(image, k=k, delta_e=True))
    for p in runs[1:]:
        assert p.hex == runs[0].hex
        assert np.array_equal(p.proportions, runs[0].proportions)
        assert p.delta_e == runs[0].delta_e
        assert len(set(p.hex)) == k


def test_split_kernels_give_bit_identical_results(kernels: Any) -> None:
    rng = np.random.default_rng(7)
    n, k = 5000, 8  # above every threshold at which a loop is split
    lab = np.ascontiguousarray(rng.uniform([0, -80, -80], [100, 80, 80], (n, 3)))
    w = rng.integers(1, 50, n).astype(np.float64)
    start = np.ascontiguousarray(lab[:k].copy())

    def run() -> tuple[Any, ...]:
        ctr_w = start.copy()
        score = kernels.weiszfeld(lab, w, ctr_w, 5, 0.5)
        ctr_l = start.copy()
        it = kernels.lloyd(lab, w, ctr_l, 40, 1e-7)
        loss = np.empty(k)
        worst = kernels.swap_stats(lab, w, start, loss)
        labels, de = np.empty(n, np.int64), np.empty(n)
        kernels.nearest_de2000(lab, start, labels, de)
        counts, sums = np.zeros(1 << 15, np.int64), np.zeros(3 << 15, np.int64)
        pixels = _photo_like(3)
        counted = kernels.histogram(pixels, 3, 128, 5, counts, sums)
        mean = kernels.mean_de2000(lab, w, start)
        return score, ctr_w.tobytes(), it, ctr_l.tobytes(), loss.tobytes(), worst, labels.tobytes(), \
            de.tobytes(), counts.tobytes(), sums.tobytes(), counted, mean

    runs = _each_thread_count(kernels, run)
    assert all(r == runs[0] for r in runs[1:])
    # and the split sums agree with the NumPy reference
    assert runs[0][-1] == pytest.approx(_numpy_mean_de2000(lab, w, start), rel=1e-9)


def _numpy_mean_de2000(lab: np.ndarray, w: np.ndarray, centers: np.ndarray) -> float:
    with pytest.MonkeyPatch.context() as m:
        m.setattr(cluster, "KERNELS", None)
        return mean_de2000(lab, w, centers)


def test_set_threads_takes_one_or_two(kernels: Any) -> None:
    for bad in (0, 3, -1):
        with pytest.raises(ValueError, match="1 or 2"):
            kernels.set_threads(bad)
    assert kernels.set_threads(1) == 2
    assert kernels.set_threads(2) == 1


def test_split_loops_work_in_a_forked_child(kernels: Any) -> None:
    """After fork the helper thread is gone: the child's calls run both parts themselves, without hanging."""
    import os
    import select
    import signal

    lab = np.ascontiguousarray(np.random.default_rng(1).uniform(0, 60, (4096, 3)))
    w = np.ones(len(lab))
    ctr = np.ascontiguousarray(lab[:8].copy())
    expected = kernels.weiszfeld(lab, w, ctr.copy(), 4, 0.5)  # starts the helper in this process
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            got = kernels.weiszfeld(lab, w, ctr.copy(), 4, 0.5)
            os.write(write_end, b"ok" if got == expected else b"differs")
        finally:
            os._exit(0)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], 30)
    if not ready:
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    answer = os.read(read_end, 16) if ready else b"hung"
    os.close(read_end)
    assert answer == b"ok"
