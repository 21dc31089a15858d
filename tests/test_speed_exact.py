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
    """`nearest_de2000` (the search with the lightness bound) on `threads` threads."""
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


# -- the exact colours of a few cells, stopping early ------------------------------------------


def cell_colours_call(px: np.ndarray, cells: np.ndarray, need: np.ndarray | None) -> tuple[bool, np.ndarray]:
    """`cell_colours` on an RGB image for `cells`, with their true totals; (complete, counts)."""
    from chromapal.assign import cell_index

    flat = px.reshape(-1, px.shape[-1])
    rank = np.full(32768, len(cells), np.int64)
    rank[cells] = np.arange(len(cells))
    totals = np.array([(cell_index(flat[:, :3]) == c).sum() for c in cells], np.int64)
    counts = np.zeros((len(cells) + 1) * 512, np.int64)
    done = K.cell_colours(px, px.shape[-1], 0, rank, totals, np.zeros(0) if need is None else need, counts)
    return done, counts


def test_cell_colours_counts_like_a_bincount_and_stops_only_when_nothing_can_reach_the_need() -> None:
    """Full counts without a need; with one, False only if no colour of the cells could exceed it."""
    from chromapal.assign import cell_index

    rng = np.random.default_rng(2)
    px = rng.integers(96, 112, (300, 200, 3), dtype=np.uint8)  # 8 cells of 512 colours, ~7,500 pixels each
    px[:, :50] = (200, 16, 40)  # one colour holds a quarter of the image: its cell's majority
    cells = np.unique(cell_index(np.array([[200, 16, 40], [100, 100, 100], [100, 100, 110]])))
    done, counts = cell_colours_call(px, cells, None)
    flat = px.reshape(-1, 3)
    key = np.searchsorted(cells, cell_index(flat))
    inside = np.isin(cell_index(flat), cells)
    want = np.bincount(key[inside] * 512 + ((flat[inside] & 7) @ [64, 8, 1]), minlength=len(cells) * 512)
    assert done and np.array_equal(counts[: len(cells) * 512], want)
    top = want.reshape(len(cells), 512).max(axis=1)
    # a need below a cell's top colour: the pass must run to the end, with every count
    done, full = cell_colours_call(px, cells, top - 1.0)
    assert done and np.array_equal(full[: len(cells) * 512], want)
    # the two cells of noise only, each colour needing half its cell: none can get there, and
    # that is certain long before the end of the image, so the pass stops early (False)
    noisy = cells[top < 100]
    totals = np.array([(cell_index(flat) == c).sum() for c in noisy])
    assert len(noisy) == 2 and (totals > 50).all()
    done, _ = cell_colours_call(px, noisy, 0.5 * totals)
    assert not done


@pytest.mark.parametrize("rank_value", [-1, 3, 2**62])
def test_cell_colours_refuses_ranks_outside_the_table(rank_value: int) -> None:
    """A hostile rank table (negative or past m) is a ValueError before any count is written out of bounds."""
    px = np.zeros((4, 4, 3), np.uint8)
    rank = np.full(32768, rank_value, np.int64)
    with pytest.raises(ValueError, match="rank"):
        K.cell_colours(px, 3, 0, rank, np.zeros(2, np.int64), np.zeros(0), np.zeros(3 * 512, np.int64))


def test_cell_colours_refuses_mismatched_buffers() -> None:
    """Buffers of the wrong length (need, counts, rank) or channels other than 3 and 4: ValueError."""
    px = np.zeros((4, 4, 3), np.uint8)
    rank = np.zeros(32768, np.int64)
    for totals, need, counts in [
        (np.zeros(2, np.int64), np.zeros(1), np.zeros(3 * 512, np.int64)),  # need of the wrong length
        (np.zeros(2, np.int64), np.zeros(0), np.zeros(2 * 512, np.int64)),  # counts one block short
        (np.zeros(2, np.int64), np.zeros(0), np.zeros(3 * 512 + 1, np.int64)),
    ]:
        with pytest.raises(ValueError):
            K.cell_colours(px, 3, 0, rank, totals, need, counts)
    with pytest.raises(ValueError):
        K.cell_colours(px, 5, 0, rank, np.zeros(1, np.int64), np.zeros(0), np.zeros(2 * 512, np.int64))
    with pytest.raises(ValueError):
        K.cell_colours(px, 3, 0, rank[:-1], np.zeros(1, np.int64), np.zeros(0), np.zeros(2 * 512, np.int64))


def test_snapping_on_a_flat_art_image_is_unchanged_by_the_early_stop(monkeypatch) -> None:
    """A flat panel with noisy anti-aliasing-like edges: the same palette when the early stop is disabled."""
    import chromapal
    import chromapal.finish as fin

    rng = np.random.default_rng(4)
    px = np.zeros((240, 320, 3), np.uint8)
    px[:] = (250, 250, 250)
    px[40:200, 30:150] = (170, 0, 0)
    px[60:180, 170:300] = (6, 159, 95)
    noise = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    mask = rng.random((240, 320)) < 0.35  # many colours: the histogram keeps cell means
    px[mask] = noise[mask]
    fast = chromapal.extract_palette(px, k=4)
    real = fin.cell_colours
    monkeypatch.setattr(fin, "cell_colours", lambda p, t, c, totals=None, need=None: real(p, t, c))
    slow = chromapal.extract_palette(px, k=4)
    assert np.array_equal(fast.colors, slow.colors) and np.array_equal(fast.proportions, slow.proportions)


def test_jpeg_scan_count_equals_bytes_count_across_block_edges(monkeypatch) -> None:
    """The scan markers are counted like bytes.count, also when a marker straddles two reads."""
    import io

    import chromapal.jpeg as jpeg

    rng = np.random.default_rng(9)
    data = bytes(rng.choice(np.array([0xFF, 0xDA, 0x00, 0x37], np.uint8), size=5000))
    monkeypatch.setattr(jpeg, "_BLOCK", 7)  # many block edges, some inside a marker
    for start in (0, 1, 2, 13):
        assert jpeg._count_scans(io.BytesIO(data), start, len(data)) == data[start:].count(b"\xff\xda")


# -- the rule after a few colours change -----------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_rule_after_a_change_equals_a_fresh_rule(seed: int) -> None:
    """A snapped or replaced colour: the rule updated from the previous one is the fresh rule, array for array."""
    from chromapal.assign import rule_for_cells

    rng = np.random.default_rng(seed)
    k = int(rng.choice([2, 4, 8, 16]))
    cells = np.unique(rng.integers(0, 32768, 6000))
    before = rng.integers(0, 256, (k, 3)).astype(np.uint8)
    before[0] = ((cells[0] >> 10) << 3, ((cells[0] >> 5) & 31) << 3, (cells[0] & 31) << 3)  # a cell holding a colour
    old = rule_for_cells(before, cells)
    after = before.copy()
    for j in rng.choice(k, size=max(1, k // 2), replace=False):
        kind = rng.integers(3)
        if kind == 0:  # a snap: a step of one level
            after[j] = np.clip(after[j].astype(int) + rng.integers(-1, 2, 3), 0, 255)
        elif kind == 1:  # replaced by a far colour
            after[j] = rng.integers(0, 256, 3)
        else:  # moved next to another colour: near-ties between the two
            after[j] = np.clip(after[(j + 1) % k].astype(int) + [0, 0, 1], 0, 255)
    if np.array_equal(after, before):
        after[0, 0] ^= 1
    updated = rule_for_cells(after, cells, previous=old)
    fresh = rule_for_cells(after, cells)
    for name in ("colors", "cells", "sub", "base"):
        assert np.array_equal(getattr(updated, name), getattr(fresh, name)), name
    assert np.array_equal(updated.decided[1], fresh.decided[1])
    assert np.array_equal(updated.decided[2], fresh.decided[2])


def test_rule_update_keeps_first_colour_on_exact_ties() -> None:
    """A changed colour becoming an exact copy of an earlier one: cells stay with the earlier (first) one."""
    from chromapal.assign import rule_for_cells

    cells = np.arange(0, 32768, 5)
    before = np.array([[10, 200, 30], [240, 240, 240], [90, 10, 160], [5, 5, 5]], np.uint8)
    old = rule_for_cells(before, cells)
    after = before.copy()
    after[3] = after[0]  # colours 0 and 3 now equal: every tie goes to 0
    updated, fresh = rule_for_cells(after, cells, previous=old), rule_for_cells(after, cells)
    assert np.array_equal(updated.base, fresh.base)
    assert not np.any(updated.decided[1] == 3)


def test_linear_memo_returns_fresh_exact_results() -> None:
    """The kept conversion: equal to a fresh one, unaffected by callers changing input or output."""
    import chromapal.colorspace as cs

    rng = np.random.default_rng(8)
    colors = rng.random((5000, 3)) * 255
    first = cs.srgb_to_linear(colors)
    first[:] = -1.0  # a caller writing into its result changes nothing kept
    again = cs.srgb_to_linear(colors)
    assert np.array_equal(again, cs._decode_gamma(colors / 255.0))
    colors[7, 1] = 3.0  # the input changed in place: converted afresh
    assert np.array_equal(cs.srgb_to_linear(colors), cs._decode_gamma(colors / 255.0))
    image = rng.random((300, 400, 3)) * 255  # image-sized: never held
    cs.srgb_to_linear(image)
    assert all(seen.size <= 3 * 32768 for seen, _ in cs._memo)


def test_coarsen_equals_grouping_by_unique() -> None:
    """The 4-bit histogram from whole-table sums is the one np.unique grouping gave, bit for bit."""
    from chromapal.sample import ColorCounts, coarsen

    rng = np.random.default_rng(10)
    colors = rng.random((9000, 3)) * 255
    counts = ColorCounts(colors, rng.integers(1, 500, 9000), False)
    got = coarsen(counts, 4)
    c = np.floor(colors).astype(np.intp) >> 4
    cell = (c[:, 0] << 8) | (c[:, 1] << 4) | c[:, 2]
    uniq, inverse = np.unique(cell, return_inverse=True)
    n = np.bincount(inverse, counts.counts, minlength=len(uniq))
    sums = np.stack([np.bincount(inverse, counts.counts * colors[:, j], minlength=len(uniq)) for j in range(3)], 1)
    assert np.array_equal(got.counts, n.astype(np.int64))
    assert np.array_equal(got.colors, sums / n[:, None])
