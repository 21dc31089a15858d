"""The grouped writer: many palettes per transaction, rows exactly as one palette at a time writes them."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from chromapal.facets import facet_shares
from chromapal.store import PaletteStore, options_key
from chromapal.store_schema import color_rows
from chromapal.store_write import StoreWriter

OPTIONS = options_key({"k": 8})


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def palette_record(i: int, rng: np.random.Generator, n: int = 8) -> dict:
    """A worker record of `n` random colours."""
    return {
        "source": f"/img/{i}.png", "size": i, "mtime_ns": 1, "width": 4, "height": 4,
        "colors": rng.integers(0, 256, (n, 3)).tolist(),
        "shares": np.sort(rng.dirichlet(np.ones(n)))[::-1].tolist(), "k": n, "delta_e": 1.5,
    }


def committed(path) -> int:
    """Palettes another connection sees (what a crash right now would keep)."""
    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def db(tmp_path):
    with PaletteStore(tmp_path / "p.sqlite") as store:
        yield store


def test_palettes_wait_for_the_interval_and_commit_together(db):
    """The first result commits at once; the next wait until the oldest is `seconds` old."""
    clock, rng = FakeClock(), np.random.default_rng(1)
    writer = StoreWriter(db.conn, every=500, seconds=0.25, clock=clock)
    writer.add_palette(palette_record(0, rng), OPTIONS)  # nothing before it: results come slowly
    assert committed(db.path) == 1
    for i in range(1, 4):
        clock.now += 0.05
        writer.add_palette(palette_record(i, rng), OPTIONS)
    assert committed(db.path) == 1
    writer.tick()  # the oldest waiting has waited 0.1 s
    assert committed(db.path) == 1
    clock.now += 0.2
    writer.tick()
    assert committed(db.path) == 4
    assert writer.transactions == 2


def test_every_n_palettes_is_a_commit(db):
    """With fast results, a transaction holds `every` palettes."""
    clock, rng = FakeClock(), np.random.default_rng(2)
    writer = StoreWriter(db.conn, every=10, seconds=60.0, clock=clock)
    writer.last = clock.now  # not a slow arrival
    for i in range(25):
        writer.add_palette(palette_record(i, rng), OPTIONS)
    assert committed(db.path) == 20
    writer.flush()
    assert committed(db.path) == 25 and writer.transactions == 3


def test_a_result_after_a_long_gap_is_committed_with_the_waiting_ones(db):
    """Results `seconds` apart gain nothing from waiting: each commits on arrival."""
    clock, rng = FakeClock(), np.random.default_rng(3)
    writer = StoreWriter(db.conn, every=500, seconds=0.25, clock=clock)
    for i in range(3):
        clock.now += 1.0
        writer.add_palette(palette_record(i, rng), OPTIONS)
        assert committed(db.path) == i + 1


def test_leaving_on_an_exception_commits_what_is_waiting(db):
    """Ctrl-C (or any exception) inside the block: the finished palettes are committed first."""
    clock, rng = FakeClock(), np.random.default_rng(4)
    with pytest.raises(KeyboardInterrupt):
        with StoreWriter(db.conn, every=500, seconds=60.0, clock=clock) as writer:
            writer.last = clock.now
            for i in range(5):
                writer.add_palette(palette_record(i, rng), OPTIONS)
            assert committed(db.path) == 0
            raise KeyboardInterrupt
    assert committed(db.path) == 5


def test_a_bad_record_is_refused_alone(db):
    """A share that is not a number fails on add; the palettes around it are stored."""
    rng = np.random.default_rng(5)
    with StoreWriter(db.conn, every=500, seconds=60.0) as writer:
        writer.add_palette(palette_record(0, rng), OPTIONS)
        with pytest.raises(ValueError):
            writer.add_palette({**palette_record(1, rng), "shares": ["x"] * 8}, OPTIONS)
        with pytest.raises(ValueError):
            writer.add_palette({**palette_record(2, rng), "shares": [1.0]}, OPTIONS)
        with pytest.raises(OverflowError):
            writer.add_palette({**palette_record(3, rng), "colors": [[300, 0, 0]] * 8}, OPTIONS)
        writer.add_palette(palette_record(4, rng), OPTIONS)
    assert sorted(image.source for image in db.images()) == ["/img/0.png", "/img/4.png"]


def test_grouped_rows_equal_one_palette_at_a_time(db):
    """The vectorised colour and facet rows of a group are those of the per-palette functions."""
    rng = np.random.default_rng(6)
    records = [palette_record(i, rng, n=int(rng.integers(1, 12))) for i in range(60)]
    with db.writer(every=1000, seconds=60.0) as writer:
        for record in records:
            writer.add_palette(record, OPTIONS)
    assert writer.transactions <= 2
    for record in records:
        (image,) = db.images(source=record["source"])
        rows = db.conn.execute(
            "SELECT * FROM colors WHERE image_id = ? ORDER BY rank", (image.image_id,)
        ).fetchall()
        expected = color_rows(image.image_id, record["colors"], record["shares"])
        # ints, hex and cell exactly; Oklab/CIELAB floats to the last bits (matrix products
        # over a group and over one palette may round the last bit differently)
        assert [(*r[:6], r[12], r[13]) for r in rows] == [(*r[:6], r[12], r[13]) for r in expected]
        assert np.allclose([r[6:12] for r in rows], [r[6:12] for r in expected], rtol=1e-13, atol=1e-13)
        assert list(image.facets.items()) == list(facet_shares(record["colors"], record["shares"]).items())


def test_one_source_twice_in_a_group_keeps_the_last(db):
    """A palette and then a failure of the same (source, options) in one group: only the failure."""
    rng = np.random.default_rng(7)
    with db.writer(every=1000, seconds=60.0) as writer:
        writer.add_palette(palette_record(0, rng), OPTIONS)
        writer.add_palette(palette_record(0, rng), OPTIONS)
        assert db.count("images") >= 0
        writer.add_failure({"source": "/img/0.png", "error": "E", "reason": "r"}, OPTIONS)
        writer.add_palette(palette_record(1, rng), OPTIONS)
    assert [image.source for image in db.images()] == ["/img/1.png"]
    assert db.failures() == [{"source": "/img/0.png", "error": "E", "reason": "r"}]
    assert db.count("colors") == 8 and db.conn.execute("SELECT COUNT(*) FROM facets").fetchone()[0] > 0
