"""The k-means loops and assignment-rule kernels of chromapal._kernels with hostile arguments, and leaks.

See test_kernels_hostile.py: checks that could crash run in a child interpreter.
"""

from __future__ import annotations

import numpy as np
import pytest

from chromapal import cluster
from kernel_child import run_child

K = pytest.importorskip("chromapal._kernels")


# -- k-means loops ---------------------------------------------------------------------------------


def test_loops_on_unaligned_buffers_equal_aligned() -> None:
    """Every float64 kernel given arrays at odd addresses returns and writes what it does for aligned ones."""
    run_child(
        """
        rng = np.random.default_rng(2)
        pts = rng.uniform(0, 100, (300, 3)); w = rng.uniform(1, 10, 300); ctr = pts[:5].copy()

        a, b = ctr.copy(), unaligned(ctr)
        assert K.lloyd(pts, w, a, 20, 1e-6) == K.lloyd(unaligned(pts), unaligned(w), b, 20, 1e-6)
        assert (a == b).all()
        a, b = ctr.copy(), unaligned(ctr)
        assert K.weiszfeld(pts, w, a, 3, 0.5) == K.weiszfeld(unaligned(pts), unaligned(w), b, 3, 0.5)
        assert (a == b).all()
        a, b = np.empty((5, 3)), unaligned(np.zeros((5, 3)))
        assert K.median_cut(pts, w, a) == K.median_cut(unaligned(pts), unaligned(w), b)
        assert (a == b).all()
        assert K.mean_de2000(pts, w, ctr) == K.mean_de2000(unaligned(pts), unaligned(w), unaligned(ctr))
        la, lb = np.empty(5), unaligned(np.zeros(5))
        assert K.swap_stats(pts, w, ctr, la) == K.swap_stats(unaligned(pts), unaligned(w), unaligned(ctr), lb)
        assert (la == lb).all()
        l1, d1 = np.empty(300, np.int64), np.empty(300)
        l2, d2 = unaligned(np.zeros(300, np.int64)), unaligned(np.zeros(300))
        K.assign(pts, ctr, l1, d1)
        K.assign(unaligned(pts), unaligned(ctr), l2, d2)
        assert (l1 == l2).all() and (d1 == d2).all()
        o1, o2 = np.empty(300), unaligned(np.zeros(300))
        K.ciede2000_pairs(pts, pts[::-1].copy(), o1)
        K.ciede2000_pairs(unaligned(pts), unaligned(pts[::-1].copy()), o2)
        assert (o1 == o2).all()
        """
    )


#: Loop calls with empty, ragged, negative or mismatched arguments, each expected to raise.
LOOP_CASES = {
    "lloyd-no-points": "K.lloyd, np.zeros((0, 3)), np.zeros(0), np.zeros((2, 3)), 5, 0.1",
    "lloyd-no-centres": "K.lloyd, np.zeros((4, 3)), np.ones(4), np.zeros((0, 3)), 5, 0.1",
    "lloyd-negative-iterations": "K.lloyd, np.zeros((4, 3)), np.ones(4), np.zeros((2, 3)), -1, 0.1",
    "lloyd-ragged-weights": "K.lloyd, np.zeros((4, 3)), bytes(33), np.zeros((2, 3)), 5, 0.1",
    "lloyd-ragged-centres": "K.lloyd, np.zeros((4, 3)), np.ones(4), bytearray(50), 5, 0.1",
    "lloyd-read-only-centres": "K.lloyd, np.zeros((4, 3)), np.ones(4), bytes(48), 5, 0.1",
    "weiszfeld-negative-iterations": "K.weiszfeld, np.zeros((4, 3)), np.ones(4), np.zeros((2, 3)), -5, 0.5",
    "weiszfeld-no-points": "K.weiszfeld, b'', b'', np.zeros((2, 3)), 2, 0.5",
    "median-cut-no-centres": "K.median_cut, np.zeros((4, 3)), np.ones(4), bytearray()",
    "median-cut-points-short": "K.median_cut, np.zeros((3, 3)), np.ones(4), np.zeros((2, 3))",
    "mean-de2000-no-centres": "K.mean_de2000, np.zeros((4, 3)), np.ones(4), b''",
    "swap-stats-one-centre": "K.swap_stats, np.zeros((4, 3)), np.ones(4), np.zeros((1, 3)), np.zeros(1)",
    "swap-stats-loss-short": "K.swap_stats, np.zeros((4, 3)), np.ones(4), np.zeros((3, 3)), np.zeros(2)",
    "assign-no-centres": "K.assign, np.zeros((4, 3)), b'', np.zeros(4, np.int64), np.zeros(4)",
    "assign-labels-short": "K.assign, np.zeros((4, 3)), np.zeros((2, 3)), np.zeros(3, np.int64), np.zeros(4)",
    "assign-ragged-points": "K.assign, bytes(25), np.zeros((2, 3)), np.zeros(1, np.int64), np.zeros(1)",
    "pairs-ragged-out": "K.ciede2000_pairs, np.zeros((1, 3)), np.zeros((1, 3)), bytearray(9)",
    "pairs-mismatched": "K.ciede2000_pairs, np.zeros((2, 3)), np.zeros((1, 3)), np.zeros(2)",
}


@pytest.mark.parametrize("args", LOOP_CASES.values(), ids=LOOP_CASES.keys())
def test_loops_reject_hostile_shapes(args: str) -> None:
    """Empty, ragged or mismatched buffers and negative counts raise an argument error."""
    run_child(f"rejects({args})")


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("weights", ["nan", "zero"])
def test_weiszfeld_keeps_the_input_centres_when_no_score_is_a_number(
    weights: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All-NaN or all-zero weights (every score NaN): the input centres and an infinite score, as in NumPy."""
    rng = np.random.default_rng(3)
    lab = rng.uniform(0, 100, (200, 3))
    w = np.full(200, np.nan) if weights == "nan" else np.zeros(200)
    centers = rng.uniform(0, 100, (4, 3))

    compiled, compiled_score = cluster._weiszfeld(lab, w, centers, 4)
    monkeypatch.setattr(cluster, "KERNELS", None)
    reference, reference_score = cluster._weiszfeld(lab, w, centers, 4)

    np.testing.assert_array_equal(compiled, centers)
    np.testing.assert_array_equal(reference, centers)
    assert compiled_score == reference_score == np.inf


def test_weiszfeld_with_nan_points_returns_the_input_centres() -> None:
    """NaN points make every score NaN: the kernel leaves the caller's centres as they were."""
    run_child(
        """
        pts = np.full((50, 3), np.nan); ctr = np.arange(6, dtype=float).reshape(2, 3); before = ctr.copy()
        assert K.weiszfeld(pts, np.ones(50), ctr, 3, 0.5) == float('inf')
        assert (ctr == before).all()
        """
    )


def test_median_cut_fills_rows_it_cannot_make_with_nan() -> None:
    """Asked for more boxes than points, the rows past the returned count are NaN, not stale memory."""
    out = np.zeros((5, 3))

    made = K.median_cut(np.array([[0.0, 0, 0], [1, 2, 3]]), np.ones(2), out)

    assert made == 2
    np.testing.assert_array_equal(out[:2], [[0, 0, 0], [1, 2, 3]])
    assert np.isnan(out[2:]).all()


def test_loops_survive_nan_and_infinite_inputs() -> None:
    """NaN/inf points and weights give NaN-ish results but no crash, hang or sanitizer report."""
    run_child(
        """
        rng = np.random.default_rng(4)
        for bad in (np.nan, np.inf, -np.inf):
            pts = rng.uniform(0, 100, (300, 3)); pts[::7] = bad
            w = rng.uniform(0, 2, 300); w[::5] = bad
            ctr = pts[1:5].copy()
            K.lloyd(pts, w, ctr.copy(), 10, 1e-6)
            K.weiszfeld(pts, w, ctr.copy(), 3, 0.5)
            assert 1 <= K.median_cut(pts, w, np.empty((6, 3))) <= 6
            K.mean_de2000(pts, w, ctr)
            assert 0 <= K.swap_stats(pts, w, ctr, np.empty(4)) < 300
            K.assign(pts, ctr, np.empty(300, np.int64), np.empty(300))
            K.ciede2000_pairs(pts, pts[::-1].copy(), np.empty(300))
        """
    )


# -- assignment-rule, dithering and exact-colour kernels (assign.py, dither.py, finish.py) ---------

RULE_KERNELS = ("nearest_de2000", "flatten", "flat_error", "dither", "distinct_colors", "rows_stats", "cell_colours")
needs_rule_kernels = pytest.mark.skipif(
    not all(hasattr(K, name) for name in RULE_KERNELS), reason="no assignment-rule kernels in this build"
)


@needs_rule_kernels
def test_dither_with_non_finite_palette_stays_in_bounds() -> None:
    """NaN or infinite palette colours and tables: every label is still a palette index, nothing read outside."""
    run_child(
        """
        px = np.full((6, 5, 3), 100, np.uint8)
        lin, m = np.linspace(0, 1, 256), np.eye(3).ravel()
        for bad in (np.nan, np.inf, -np.inf):
            labels = np.full(30, 7, np.uint8)
            K.dither(px, 5, 3, 0, np.array([[bad, 0.0, bad], [0.5, 0, 0]]), lin, m, m, labels)
            assert (labels < 2).all()
            labels[:] = 7
            K.dither(px, 5, 3, 0, np.zeros((2, 3)), np.full(256, bad), m, m, labels)
            assert (labels < 2).all()
        """
    )


@needs_rule_kernels
def test_rule_kernels_reject_tables_that_point_outside() -> None:
    """Labels >= k, split rows past `sub`, a ragged `sub`, short tables or bad shapes raise before a pixel is read."""
    run_child(
        """
        px = np.zeros((4, 3), np.uint8)
        ok_cells, sub = np.zeros(32768, np.int32), np.zeros(512, np.uint8)
        counts, labels = np.zeros(256, np.int64), np.zeros(4, np.uint8)
        colors, lin, m, white = np.zeros((2, 3)), np.zeros(256), np.eye(3).ravel(), np.ones(3)
        rows = (np.zeros((3, 3)), np.zeros((3, 3)), np.ones(3, np.int64))
        for cells, sb in [
            (np.full(32768, 2, np.int32), sub),        # label 2 with k = 2 colours
            (np.full(32768, -2, np.int32), sub),       # split row 1 of a one-row sub
            (np.full(32768, -(2**31), np.int32), sub), # split row 2**31 - 1
            (ok_cells[:-1], sub),                      # short table
            (ok_cells, np.zeros(511, np.uint8)),       # ragged sub
            (ok_cells, np.full(512, 9, np.uint8)),     # split label past k
        ]:
            rejects(K.flat_error, px, 3, 0, cells, sb, colors, lin, m, white, counts)
            rejects(K.rows_stats, *rows, cells, sb, colors, np.zeros(2, np.int64), np.zeros(2, np.int64))
            if len(cells) < 32768 or len(sb) % 512:
                rejects(K.flatten, px, 3, 0, cells, sb, labels, counts)
        rejects(K.flatten, px, 3, 0, ok_cells, sub, np.zeros(3, np.uint8), counts)  # labels neither empty nor n
        rejects(K.flatten, px, 3, 0, unaligned(ok_cells), sub, labels, counts)
        rejects(K.rows_stats, np.full((3, 3), np.nan), *rows[1:], ok_cells, sub, colors, np.zeros(2, np.int64), np.zeros(2, np.int64))
        rejects(K.rows_stats, np.full((3, 3), 256.0), *rows[1:], ok_cells, sub, colors, np.zeros(2, np.int64), np.zeros(2, np.int64))
        for width in (3, 0, -2):  # does not divide the pixels, zero, negative
            rejects(K.dither, px, width, 3, 0, colors, lin, m, m, labels)
        rejects(K.dither, px, 2, 3, 0, np.zeros((257, 3)), lin, m, m, labels)  # more colours than a label byte holds
        rejects(K.distinct_colors, px, 5, 0, lin, m, white)
        rejects(K.distinct_colors, px, 3, 0, lin[:-1], m, white)
        rejects(K.nearest_de2000, np.zeros((4, 3)), b'', np.zeros(4, np.int64), np.zeros(4))
        """
    )


@needs_rule_kernels
def test_rows_stats_counts_wrap_instead_of_overflowing() -> None:
    """Pixel counts the caller made huge add as unsigned numbers (no signed overflow, which UBSan reports)."""
    run_child(
        """
        colors = np.zeros((2, 3)); lab = np.zeros((2, 3)); counts = np.full(2, np.iinfo(np.int64).max)
        owned, top = np.zeros(1, np.int64), np.zeros(1, np.int64)
        K.rows_stats(colors, lab, counts, np.zeros(32768, np.int32), np.zeros(0, np.uint8), np.zeros((1, 3)), owned, top)
        assert owned[0] == -2 and top[0] == 0
        """
    )


@needs_rule_kernels
def test_rule_kernels_random_arguments_never_crash() -> None:
    """1,200 seeded calls of these kernels with random buffers and integers: each returns or raises an argument error."""
    run_child(
        """
        import random
        rnd = random.Random(12)
        INTS = [-(2**31), -1, 0, 1, 2, 3, 4, 5, 255, 2**31 - 1]

        def buf(sizes=(0, 1, 3, 8, 12, 24, 48, 72, 512, 2048, 131072)):
            n = rnd.choice(sizes)
            kind = rnd.randrange(4)
            if kind == 0:  # a valid-looking cells table: labels 0..3 and a few split rows
                return np.array(rnd.choices([0, 1, 2, 3, -1, -2], k=n // 4), np.int32)
            data = bytearray(rnd.getrandbits(8) for _ in range(min(n, 64))) + bytearray(max(n - 64, 0))
            if kind == 1:
                return data
            if kind == 2:
                return memoryview(bytearray(b'x') + data)[1:]
            return np.frombuffer(data, np.float64, count=len(data) // 8).copy()

        def i():
            return rnd.choice(INTS)

        calls = [
            (K.nearest_de2000, lambda: (buf(), buf(), buf(), buf())),
            (K.flatten, lambda: (buf(), i(), i(), buf(), buf(), buf(), buf())),
            (K.flat_error, lambda: (buf(), i(), i(), buf(), buf(), buf(), buf(), buf(), buf(), buf())),
            (K.dither, lambda: (buf(), i(), i(), i(), buf(), buf(), buf(), buf(), buf())),
            (K.distinct_colors, lambda: (buf(), i(), i(), buf(), buf(), buf())),
            (K.rows_stats, lambda: (buf(), buf(), buf(), buf(), buf(), buf(), buf(), buf())),
            (K.cell_colours, lambda: (buf(), i(), i(), buf(), buf(), buf(), buf())),
        ]
        for j in range(1200):
            fn, make = calls[j % len(calls)]
            try:
                fn(*make())
            except ARGUMENT_ERRORS:
                pass
        """
    )


def test_no_leaks_on_success_and_error_paths() -> None:
    """Repeated calls that succeed, copy misaligned buffers or fail leave no PyMem blocks or buffer exports behind.

    (LeakSanitizer is off in ``make fuzz``: CPython keeps objects at exit on purpose.
    tracemalloc sees every PyMem_Malloc of the kernels, and a buffer never released
    would keep its array's reference count up.)
    """
    run_child(
        """
        import sys, tracemalloc
        rng = np.random.default_rng(5)
        pts = unaligned(rng.uniform(0, 100, (300, 3))); w = unaligned(rng.uniform(1, 2, 300))
        ctr = unaligned(pts[:4].copy()); loss = unaligned(np.zeros(4))
        px = rng.integers(0, 256, (300, 3), dtype=np.uint8)
        counts, sums = unaligned(np.zeros(4096, np.int64)), unaligned(np.zeros(3 * 4096, np.int64))
        arrays = [pts, w, ctr, loss, counts, sums]

        def calls():
            K.lloyd(pts, w, ctr, 3, 1e-6); K.weiszfeld(pts, w, ctr, 2, 0.5)
            K.median_cut(pts, w, ctr); K.mean_de2000(pts, w, ctr); K.swap_stats(pts, w, ctr, loss)
            K.histogram(px, 3, 0, 4, counts, sums)
            rejects(K.lloyd, pts, w[:-1], ctr, 3, 1e-6)
            rejects(K.weiszfeld, pts, w, ctr, -1, 0.5)
            rejects(K.swap_stats, pts, w, ctr, loss[:-1])
            rejects(K.histogram, px, 3, 0, 4, counts[:-1], sums)
            rejects(K.histogram, px, 3, 0, 4, counts, b'x' * 8)
            rejects(K.png_unfilter, b'', 2**62, 2**62, 4, bytearray())

        calls()
        refs = [sys.getrefcount(a) for a in arrays]
        tracemalloc.start()
        calls()
        before = tracemalloc.take_snapshot()
        for _ in range(300):
            calls()
        after = tracemalloc.take_snapshot()
        grown = sum(s.size_diff for s in after.compare_to(before, 'filename'))
        assert grown < 64 * 1024, f'{grown} bytes more after 300 rounds'
        assert [sys.getrefcount(a) for a in arrays] == refs
        """
    )
