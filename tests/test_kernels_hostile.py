"""chromapal._kernels called directly with hostile arguments: they raise or return sane values, never crash.

Each check that could crash runs in a child interpreter (`kernel_child.run_child`),
so a segfault or a sanitizer abort fails that test instead of killing pytest. Under
``make fuzz`` the children load the sanitized build of the extension, so an
out-of-bounds access, a misaligned load, a shift by a negative amount or a signed
overflow in a kernel fails the test even when it would not crash. The k-means
loops, the assignment-rule kernels and the leak check are in
test_kernels_hostile_loops.py.
"""

from __future__ import annotations

import pytest

from kernel_child import run_child

K = pytest.importorskip("chromapal._kernels")


# -- png_unfilter ---------------------------------------------------------------------------------

#: Hostile png_unfilter calls, each expected to raise: (name, arguments as Python source).
PNG_CASES = {
    "empty-buffers-huge-height-and-row": "b'', 2**62, 2**62, 4, bytearray()",
    "empty-buffers-max-row": f"b'', 1, {2**63 - 1}, 3, bytearray()",
    "empty-buffers-max-height": f"b'', {2**63 - 1}, 3, 3, bytearray()",
    # 3 * (row + 1) and 3 * row wrap to 5 and 2 in 64 bits: the old signed check let this through
    "sizes-that-wrap-to-the-buffers": "bytes(5), 3, 6148914691236517206, 3, bytearray(2)",
    "sizes-that-wrap-to-zero-height": "b'', 4, 4611686018427387904, 4, bytearray()",
    "zero-height": "bytes(13), 0, 12, 3, bytearray(12)",
    "negative-height": "bytes(13), -1, 12, 3, bytearray(12)",
    "negative-row": "bytes(13), 1, -12, 3, bytearray(12)",
    "zero-bpp": "bytes(13), 1, 12, 0, bytearray(12)",
    "negative-bpp": "bytes(13), 1, 12, -4, bytearray(12)",
    "row-not-whole-pixels": "bytes(12), 1, 11, 3, bytearray(11)",
    "raw-one-byte-short": "bytes(12), 1, 12, 3, bytearray(12)",
    "out-one-byte-short": "bytes(13), 1, 12, 3, bytearray(11)",
    "unknown-filter-type": "bytes([5]) + bytes(12), 1, 12, 3, bytearray(12)",
    "height-beyond-ssize_t": "bytes(13), 2**64, 12, 3, bytearray(12)",
}


@pytest.mark.parametrize("args", PNG_CASES.values(), ids=PNG_CASES.keys())
def test_png_unfilter_rejects_hostile_sizes(args: str) -> None:
    """Sizes that overflow, mismatch or are negative raise an argument error before any byte is written."""
    run_child(f"rejects(K.png_unfilter, {args})")


def test_png_unfilter_rejects_overlapping_buffers() -> None:
    """raw and out sharing memory (views of one bytearray) is refused, not undefined behaviour."""
    run_child(
        """
        mem = bytearray(2 * 13)
        view = memoryview(mem)
        rejects(K.png_unfilter, view[0:13], 1, 12, 3, view[6:18])
        """
    )


def test_png_unfilter_works_on_odd_addresses() -> None:
    """Buffers starting at odd addresses unfilter exactly as aligned ones (all five filter types)."""
    run_child(
        """
        rng = np.random.default_rng(0)
        h, row = 10, 12
        raw = rng.integers(0, 256, (h, row + 1), dtype=np.uint8)
        raw[:, 0] = np.arange(h) % 5
        expected = np.empty((h, row), np.uint8)
        K.png_unfilter(raw.tobytes(), h, row, 3, expected)
        got = bytearray(h * row + 1)
        K.png_unfilter(memoryview(bytearray(b'x' + raw.tobytes()))[1:], h, row, 3, memoryview(got)[1:])
        assert bytes(got[1:]) == expected.tobytes()
        """
    )


# -- histograms ------------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [-1, 0, 9, -100, 2**31 - 1, -(2**31)])
def test_histograms_reject_bits_before_shifting_by_them(bits: int) -> None:
    """Out-of-range bits raise ValueError; no shift by a negative or oversized amount happens first."""
    run_child(
        f"""
        px = np.zeros((4, 3), np.uint8)
        rejects(K.histogram, px, 3, 0, {bits}, np.zeros(4096, np.int64), np.zeros(3 * 4096, np.int64))
        rejects(K.exact_histogram, px, 3, 0, {bits}, np.zeros(4096, np.int64), np.zeros(8, np.int64))
        """
    )


@pytest.mark.parametrize("rank", [-1, -(2**63), 1, 2**62, 2**63 - 1])
def test_exact_histogram_rejects_ranks_outside_the_counts(rank: int) -> None:
    """A negative or too large rank is refused before it is shifted (no UB, no write out of bounds)."""
    run_child(
        f"""
        px = np.array([[255, 255, 255]], np.uint8)
        rank = np.zeros(1 << 15, np.int64)
        rank[-1] = {rank}
        counts = np.zeros(8, np.int64)  # room for rank 0 only
        rejects(K.exact_histogram, px, 3, 0, 5, rank, counts)
        """
    )


def test_histogram_counters_wrap_instead_of_overflowing() -> None:
    """Counters the caller left at INT64_MAX wrap (defined unsigned arithmetic), never signed overflow."""
    run_child(
        """
        px = np.array([[0, 0, 0]], np.uint8)
        counts = np.full(8, np.iinfo(np.int64).max)
        sums = np.zeros(24, np.int64)
        assert K.histogram(px, 3, 0, 1, counts, sums) == 1
        assert counts[0] == np.iinfo(np.int64).min
        """
    )


def test_histograms_on_unaligned_buffers_equal_aligned() -> None:
    """int64 outputs at odd addresses get the same counts as aligned ones (copied, never misaligned loads)."""
    run_child(
        """
        rng = np.random.default_rng(1)
        px = rng.integers(0, 256, (500, 4), dtype=np.uint8)
        c, s = np.zeros(4096, np.int64), np.zeros(3 * 4096, np.int64)
        cu, su = unaligned(c), unaligned(s)
        assert K.histogram(px, 4, 10, 4, c, s) == K.histogram(px, 4, 10, 4, cu, su)
        assert (c == cu).all() and (s == su).all()
        rank = np.zeros(4096, np.int64)
        occupied = np.flatnonzero(c)
        rank[occupied] = np.arange(len(occupied))
        e = np.zeros(len(occupied) << 12, np.int64)
        eu = unaligned(e)
        K.exact_histogram(px, 4, 10, 4, rank, e)
        K.exact_histogram(px, 4, 10, 4, unaligned(rank), eu)
        assert (e == eu).all() and e.sum() == c.sum()
        """
    )


def test_random_arguments_never_crash() -> None:
    """2,000 seeded calls with random buffers, sizes and integers: each returns or raises an argument error."""
    run_child(
        """
        import random
        rnd = random.Random(11)
        INTS = [-(2**63), -(2**31), -1, 0, 1, 2, 3, 4, 5, 8, 9, 12, 24, 255, 2**31 - 1, 2**32, 2**62, 2**63 - 1]
        SMALL = [-(2**31), -1, 0, 1, 3, 10]

        def buf():
            n = rnd.choice([0, 1, 3, 7, 8, 9, 12, 13, 24, 25, 48, 96, 192, 4096 * 8, 4096 * 24])
            data = bytearray(rnd.getrandbits(8) for _ in range(min(n, 64))) + bytearray(max(n - 64, 0))
            kind = rnd.randrange(4)
            if kind == 0:
                return bytes(data)
            if kind == 1:
                return data
            view = memoryview(bytearray(b'x') + data)[1:]  # odd address
            return view if kind == 2 else np.frombuffer(data, np.float64, count=len(data) // 8).copy()

        calls = [
            (K.histogram, lambda: (buf(), rnd.choice(INTS), rnd.choice(INTS), rnd.choice(INTS), buf(), buf())),
            (K.exact_histogram, lambda: (buf(), rnd.choice(INTS), rnd.choice(INTS), rnd.choice(INTS), buf(), buf())),
            (K.png_unfilter, lambda: (buf(), rnd.choice(INTS), rnd.choice(INTS), rnd.choice(INTS), buf())),
            (K.lloyd, lambda: (buf(), buf(), buf(), rnd.choice(SMALL), rnd.choice([0.0, 1e-3, float('nan')]))),
            (K.weiszfeld, lambda: (buf(), buf(), buf(), rnd.choice(SMALL), rnd.choice([0.0, 0.5, -1.0, float('nan')]))),
            (K.median_cut, lambda: (buf(), buf(), buf())),
            (K.assign, lambda: (buf(), buf(), buf(), buf())),
            (K.mean_de2000, lambda: (buf(), buf(), buf())),
            (K.swap_stats, lambda: (buf(), buf(), buf(), buf())),
            (K.ciede2000_pairs, lambda: (buf(), buf(), buf())),
        ]
        for i in range(2000):
            fn, make = calls[i % len(calls)]
            args = make()
            try:
                fn(*args)
            except ARGUMENT_ERRORS:
                pass
        """
    )
