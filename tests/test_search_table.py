"""The in-memory colour table behind several-colour and --like search (`chromapal.search_table`).

Random queries on a store generated here are compared with a brute-force scan of every
stored palette; the table must follow the database as palettes are added, replaced in
place and deleted.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chromapal import search_multi
from chromapal.colorspace import ciede2000, lab_from_srgb
from chromapal.search_like import palette_distance, search_like
from chromapal.search_multi import ColorQuery, search_colors
from chromapal.search_table import ColourTable, table
from chromapal.store import PaletteStore, options_key

pytest.importorskip("scipy", reason="similar-palette search needs scipy (the search extra)")

KEY = options_key({"k": 4})


def palettes_of(db: PaletteStore) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Image id -> (CIELAB, shares, ranks) read straight from the database."""
    out: dict[int, list] = {}
    for image_id, rank, lab_l, a, b, share in db.conn.execute(
        "SELECT image_id, rank, lab_l, lab_a, lab_b, share FROM colors ORDER BY image_id, rank"
    ):
        out.setdefault(image_id, []).append((rank, lab_l, a, b, share))
    return {i: (np.array([r[1:4] for r in v]), np.array([r[4] for r in v]), np.array([r[0] for r in v]))
            for i, v in out.items()}


def brute_colors(db, queries: list[ColorQuery], max_de: float, limit: int) -> list[tuple[float, int]]:
    """Images holding every query colour, by weighted mean ΔE then id, as the search defines it."""
    total = sum(q.weight for q in queries)
    out = []
    for image_id, (lab, shares, _) in palettes_of(db).items():
        mean, ok = 0, True
        for q in queries:
            rgb = np.array([int(q.color[i : i + 2], 16) for i in (1, 3, 5)], np.uint8)
            de = np.where(shares >= q.min_share, ciede2000(lab_from_srgb(rgb), lab), np.inf)
            if de.min() > max_de:
                ok = False
                break
            mean += q.weight * float(de.min())
        if ok:
            out.append((mean / total, image_id))
    return sorted(out)[:limit]


def add_random(db: PaletteStore, rng: np.random.Generator, n: int, prefix: str) -> None:
    """Store `n` random palettes of 1-6 colours, a fifth of them near a few shared colours."""
    for i in range(n):
        k = int(rng.integers(1, 7))
        rgb = rng.integers(0, 256, (k, 3))
        if i % 5 == 0:  # clusters of similar colours, so queries find many close matches
            rgb = np.clip(np.array([[200, 40, 40], [240, 230, 210], [30, 40, 90], [90, 90, 90], [10, 200, 10],
                                    [250, 250, 250]])[:k] + rng.integers(-8, 9, (k, 3)), 0, 255)
        shares = np.sort(rng.dirichlet(np.ones(k)))[::-1]
        db.add_palette({"source": f"{prefix}{i:04d}.png", "colors": rgb.tolist(), "shares": shares.tolist(),
                        "k": k}, KEY)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """600 random palettes."""
    path = tmp_path_factory.mktemp("table") / "p.sqlite"
    with PaletteStore(path) as db:
        add_random(db, np.random.default_rng(5), 600, "img")
    db = PaletteStore(path, create=False)
    yield db
    db.close()


hex_colors = st.sampled_from(["#c83030", "#f0e6d2", "#1e285a", "#5a5a5a", "#0ac80a", "#fafafa"]) | st.tuples(
    st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)
).map(lambda c: "#{:02x}{:02x}{:02x}".format(*c))
color_queries = st.builds(
    ColorQuery,
    hex_colors,
    st.sampled_from([1.0, 0.5, 2.0, 3.0]),
    st.sampled_from([0.0, 0.0, 0.05, 0.1, 0.3]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    queries=st.lists(color_queries, min_size=1, max_size=3),
    max_de=st.sampled_from([3.0, 8.0, 15.0, 30.0]),
    limit=st.sampled_from([1, 5, 20, 200]),
)
def test_several_colours_equal_a_brute_force_scan(store, queries, max_de, limit):
    """Same images, same order, same distances as a scan of every palette, both ways.

    A small store always takes the direct read (`DIRECT_ROWS`); with it set to -1 the
    search takes the growing radii instead.
    """
    want = brute_colors(store, queries, max_de, limit)
    for direct_rows in (search_multi.DIRECT_ROWS, -1):
        saved, search_multi.DIRECT_ROWS = search_multi.DIRECT_ROWS, direct_rows
        try:
            got = search_colors(store, queries, max_delta_e=max_de, limit=limit)
        finally:
            search_multi.DIRECT_ROWS = saved
        assert [m.image_id for m in got] == [i for _, i in want], direct_rows
        assert [m.distance for m in got] == pytest.approx([d for d, _ in want], abs=1e-12)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(image=st.integers(1, 600), limit=st.sampled_from([1, 5, 20]))
def test_like_equals_a_brute_force_scan_when_exact(store, image, limit):
    """A stored palette's nearest palettes: the nearest distance always, all of them when exact."""
    rows = store.conn.execute("SELECT r, g, b, share FROM colors WHERE image_id = ? ORDER BY rank",
                              (image,)).fetchall()
    rgb, shares = [r[:3] for r in rows], [r[3] for r in rows]
    got = search_like(store, rgb, shares, limit=limit)
    want = sorted((palette_distance(lab_from_srgb(np.array(rgb, np.uint8)), shares, lab, s), i)
                  for i, (lab, s, _) in palettes_of(store).items())[:limit]
    assert got[0].distance == pytest.approx(want[0][0], abs=1e-9)
    if all(m.exact for m in got):
        assert [m.distance for m in got] == pytest.approx([d for d, _ in want], abs=1e-9)


def test_box_rows_equal_a_mask_over_every_row(store):
    """The table's box read equals a mask over every row; palettes come back by id, in order."""
    tab = table(store)
    rng = np.random.default_rng(3)
    lab = tab.lab.T
    for _ in range(50):
        c = rng.uniform([0, -80, -100], [100, 90, 90])
        lo, hi = c - rng.uniform(0, 30, 3), c + rng.uniform(0, 30, 3)
        share = float(rng.choice([0.0, 0.1]))
        want = np.flatnonzero(np.all((lab >= lo) & (lab <= hi), axis=1) & (tab.share >= share))
        assert np.array_equal(np.sort(tab.box(lo, hi, share)), want)
    ids = np.array([5, 1, 999_999, 3])
    rows = tab.palettes(ids)
    assert tab.image_id[rows].tolist() == [i for i in (5, 1, 3) for _ in range(int((tab.image_id == i).sum()))]


def test_the_table_follows_the_database(tmp_path):
    """Added palettes are found, one replaced in place or deleted is not returned."""
    rng = np.random.default_rng(9)
    path = tmp_path / "t.sqlite"
    with PaletteStore(path) as db:
        add_random(db, rng, 50, "a")
        first = table(db)
        assert search_colors(db, ["#123456", "#fedcba"], max_delta_e=2) == []
        # Added after the table was read: found, and the table was extended, not reread.
        db.add_palette({"source": "new.png", "colors": [[18, 52, 86], [254, 220, 186]],
                        "shares": [0.5, 0.5], "k": 2}, KEY)
        got = search_colors(db, ["#123456", "#fedcba"], max_delta_e=2)
        assert [m.source for m in got] == ["new.png"] and got[0].distance == 0
        assert table(db) is not first and len(table(db).share) == len(first.share) + 2
        # The last palette replaced: it gets the same id again, with other colours.
        db.add_failure({"source": "new.png", "error": "X", "reason": "gone"}, KEY)
        db.add_palette({"source": "new.png", "colors": [[200, 10, 10]], "shares": [1.0], "k": 1}, KEY)
        assert search_colors(db, ["#123456", "#fedcba"], max_delta_e=2) == []
        assert [m.source for m in search_colors(db, ["#c80a0a"], max_delta_e=1)] == ["new.png"]
        # Deleted without anything added after it: the stale table is noticed and reread.
        source = search_like(db, [[200, 10, 10]], [1.0], limit=1)[0].source
        assert source == "new.png"
        db.add_failure({"source": "new.png", "error": "X", "reason": "gone"}, KEY)
        assert all(m.source != "new.png" for m in search_like(db, [[200, 10, 10]], [1.0], limit=3))
        assert search_colors(db, ["#c80a0a"], max_delta_e=1) == []


def test_an_empty_store_answers_nothing(tmp_path):
    """An empty database gives an empty table and no results, not an error."""
    with PaletteStore(tmp_path / "e.sqlite") as db:
        assert search_colors(db, ["red", "blue"]) == []
        assert search_like(db, [[1, 2, 3]], [1.0]) == []
        assert isinstance(table(db), ColourTable) and table(db).nbytes > 0


@pytest.mark.parametrize("radius", [1.0, 2.5, 5.0, 10.0])
def test_box_and_slabs_hold_every_srgb_colour_within_the_radius(radius):
    """For random queries (a third saturated blues), every sRGB colour within ΔE00 is in the slabs."""
    from chromapal.search import RayProfile

    rng = np.random.default_rng(int(radius * 10) + 1)
    for i in range(60):
        q = rng.integers(0, 256, 3) if i % 3 else np.array([rng.integers(0, 120), rng.integers(0, 120), 230])
        spread = int(12 * radius + 20)
        cand = np.clip(q + rng.integers(-spread, spread + 1, (4000, 3)), 0, 255).astype(np.uint8)
        lq, lc = lab_from_srgb(q.astype(np.uint8)), lab_from_srgb(cand)
        profile = RayProfile(lq, 10.0)
        near = lc[ciede2000(lq, lc) <= radius]
        lo, hi = profile.box(radius)
        assert np.all((near >= lo) & (near <= hi)), (q, radius)
        slabs = profile.slabs(radius)
        assert slabs is None or slabs.holds(near.T).all(), (q, radius)


def test_a_database_too_large_for_the_table_is_one_clear_error(tmp_path, monkeypatch):
    """More colours than MAX_COLOURS: a PaletteError naming the file and the bound, no table built."""
    from chromapal import search_table
    from chromapal.errors import PaletteError

    with PaletteStore(tmp_path / "big.sqlite") as db:
        add_random(db, np.random.default_rng(2), 30, "b")
        n = db.count("colors")
        monkeypatch.setattr(search_table, "MAX_COLOURS", n - 1)
        monkeypatch.setattr(search_table, "_FETCH", 7)
        for run in (lambda: search_colors(db, ["red", "blue"]), lambda: search_like(db, [[1, 2, 3]], [1.0])):
            with pytest.raises(PaletteError, match=f"big.sqlite: more than {n - 1:,} stored colours"):
                run()
        monkeypatch.setattr(search_table, "MAX_COLOURS", n)
        assert len(table(db).share) == n


def test_a_large_table_is_saved_and_memory_mapped_by_the_next_process(tmp_path, monkeypatch):
    """Saved under CHROMAPAL_CACHE_DIR, reloaded with the same arrays, ignored when stale or damaged."""
    from chromapal import search_cache, search_table

    monkeypatch.setenv("CHROMAPAL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(search_cache, "PERSIST_COLOURS", 1)
    path = tmp_path / "s.sqlite"
    with PaletteStore(path) as db:
        add_random(db, np.random.default_rng(4), 40, "s")
    with PaletteStore(path, create=False) as db:
        built = table(db)
        want = [m.image_id for m in search_colors(db, ["#c83030", "#f0e6d2"], max_delta_e=30)]
        search_table.forget(db)  # as a new process would
        loaded = table(db)
        assert loaded is not built and isinstance(loaded.share, np.memmap)
        for name in search_cache.ARRAYS:
            assert np.array_equal(getattr(loaded, name), getattr(built, name))
        assert [m.image_id for m in search_colors(db, ["#c83030", "#f0e6d2"], max_delta_e=30)] == want
    (folder,) = (tmp_path / "cache").iterdir()
    # A damaged file is ignored (rebuilt and saved again), never an error.
    good = {name: np.load(folder / f"{name}.npy") for name in search_cache.ARRAYS}
    n = len(good["share"])
    attacks = {
        "by_id": np.full(n, 10**9, dtype=np.int32),  # rows out of range
        "image_id": np.full(n, 10**6, dtype=np.int32),  # ids past the id index
        "starts": good["starts"][::-1].copy(),  # cells out of order
        "share": good["share"].astype(np.float32),  # wrong type
        "lab": np.zeros((3, 2)),  # wrong shape
    }
    for name, bad in attacks.items():
        np.save(folder / f"{name}.npy", bad)
        with PaletteStore(path, create=False) as db:
            search_table.forget(db)
            assert not isinstance(table(db).share, np.memmap), name
            assert [m.image_id for m in search_colors(db, ["#c83030", "#f0e6d2"], max_delta_e=30)] == want
    (folder / "key.json").write_text("not json")
    with PaletteStore(path, create=False) as db:
        search_table.forget(db)
        assert not isinstance(table(db).share, np.memmap)
        # A palette added: the saved table no longer matches.
        search_table.forget(db)
        db.add_palette({"source": "late.png", "colors": [[200, 48, 48], [240, 230, 210]],
                        "shares": [0.5, 0.5], "k": 2}, KEY)
        assert not isinstance(table(db).share, np.memmap)
        assert "late.png" in [m.source for m in search_colors(db, ["#c83030", "#f0e6d2"], max_delta_e=30)]
