"""The SQLite store: schema, one transaction per image, the done key, exports."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import numpy as np
import pytest

from chromapal.colorspace import lab_from_srgb, oklab_from_srgb
from chromapal import store_export
from chromapal.store import CELL, PaletteFilter, PaletteStore, StoreError, bucket_of, options_key
from chromapal.store_export import export

OPTIONS = options_key({"k": 2, "space": "oklab"})
CLOSE = 1e-9


def record(
    source: str = "/img/a.png", size: int = 10, mtime_ns: int = 1, colors=None, shares=None
) -> dict:
    """Return a successful worker record with two colours."""
    return {
        "source": source,
        "ok": True,
        "size": size,
        "mtime_ns": mtime_ns,
        "width": 4,
        "height": 2,
        "colors": colors or [[255, 0, 0], [0, 0, 255]],
        "shares": shares or [0.75, 0.25],
        "note": None,
        "load_ms": 1.0,
        "extract_ms": 2.0,
    }


@pytest.fixture
def store(tmp_path):
    """Open an empty store in a temporary folder."""
    with PaletteStore(tmp_path / "p.sqlite") as s:
        yield s


def test_palette_rows_hold_every_colour_representation(store):
    """A stored palette has a row per colour: rank from 1, hex, RGB, Oklab, CIELAB, share, cell."""
    store.add_palette(record(), OPTIONS)

    rows = store.conn.execute(
        "SELECT rank, hex, r, g, b, ok_l, ok_a, ok_b, lab_l, lab_a, lab_b, share, bucket "
        "FROM colors ORDER BY rank"
    ).fetchall()

    assert [r[:5] for r in rows] == [(1, "#ff0000", 255, 0, 0), (2, "#0000ff", 0, 0, 255)]
    lab = lab_from_srgb(np.array([[255, 0, 0], [0, 0, 255]], np.uint8))
    np.testing.assert_allclose(
        [r[5:8] for r in rows], oklab_from_srgb(np.array([[255, 0, 0], [0, 0, 255]], np.uint8))
    )
    np.testing.assert_allclose([r[8:11] for r in rows], lab)
    assert [r[11] for r in rows] == [0.75, 0.25]
    assert [r[12] for r in rows] == bucket_of(lab).tolist()


def test_done_key_is_source_size_mtime_and_options(store):
    """A palette is done only for the same size, modification time and options."""
    store.add_palette(record(size=10, mtime_ns=5), OPTIONS)

    assert store.is_done("/img/a.png", 10, 5, OPTIONS)
    assert not store.is_done("/img/a.png", 11, 5, OPTIONS)
    assert not store.is_done("/img/a.png", 10, 6, OPTIONS)
    assert not store.is_done("/img/a.png", 10, 5, options_key({"k": 3, "space": "oklab"}))
    assert not store.is_done("/img/b.png", 10, 5, OPTIONS)


def test_storing_again_replaces_the_row_set(store):
    """A redone image keeps exactly one images row and its new colours only."""
    store.add_palette(record(mtime_ns=1), OPTIONS)
    store.add_palette(record(mtime_ns=2, colors=[[0, 255, 0]], shares=[1.0]), OPTIONS)

    assert store.count("images") == 1
    assert store.conn.execute("SELECT hex, share FROM colors").fetchall() == [("#00ff00", 1.0)]
    assert store.is_done("/img/a.png", 10, 2, OPTIONS)


def test_failure_replaces_a_stale_palette_and_success_clears_the_failure(store):
    """A file that now fails loses its old palette; a later success removes the failure."""
    store.add_palette(record(), OPTIONS)
    store.add_failure(
        {
            "source": "/img/a.png",
            "size": 3,
            "mtime_ns": 9,
            "error": "UnreadableImageError",
            "reason": "/img/a.png: not an image",
        },
        OPTIONS,
    )

    assert (store.count("images"), store.count("colors")) == (0, 0)
    assert store.failures() == [
        {
            "source": "/img/a.png",
            "error": "UnreadableImageError",
            "reason": "/img/a.png: not an image",
        }
    ]

    store.add_palette(record(), OPTIONS)
    assert (store.count("images"), store.count("failures")) == (1, 0)


def test_an_error_inside_the_transaction_leaves_no_partial_rows(store):
    """If writing the colours fails after the image row, nothing of that image is kept."""
    with pytest.raises(ValueError):
        store.add_palette(record(shares=["not a number", 0.5]), OPTIONS)

    assert (store.count("images"), store.count("colors")) == (0, 0)


def test_missing_database_is_an_error_when_not_creating(tmp_path):
    """Opening a missing database for reading raises StoreError naming the file."""
    with pytest.raises(StoreError) as info:
        PaletteStore(tmp_path / "none.sqlite", create=False)

    assert str(info.value) == (
        f"{tmp_path / 'none.sqlite'}: no such database; "
        f"create one with `chromapal batch --db {tmp_path / 'none.sqlite'}`"
    )


def test_a_foreign_file_is_not_a_chromapal_database(tmp_path):
    """A text file, or an SQLite file without our tables, is refused with StoreError."""
    (tmp_path / "notes.sqlite").write_text("hello " * 200)
    with pytest.raises(StoreError, match="cannot open as a chromapal database"):
        PaletteStore(tmp_path / "notes.sqlite", create=False)


def test_database_uses_wal(store):
    """The journal is in WAL mode so readers never block the writer."""
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_buckets_are_cells_with_b_fastest():
    """Colours in one CELL-sized cell share a bucket; the next b cell is the next number."""
    base = np.array([48.0, 0.0, 0.0])  # a corner of a cell

    b0, b_same, b_next = bucket_of(
        np.array([base, base + [CELL * 0.9, 0, CELL * 0.9], base + [0, 0, CELL]])
    )

    assert b0 == b_same
    assert b_next == b0 + 1


def test_csv_export_has_a_row_per_colour(store):
    """CSV export: header of FLAT_COLUMNS, one row per colour with the stored values."""
    store.add_palette(record(), OPTIONS)
    out = io.StringIO()

    assert export(store, "csv", out) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["source"], r["rank"], r["hex"], r["share"], r["k"]) for r in rows] == [
        ("/img/a.png", "1", "#ff0000", "0.75", "2"),
        ("/img/a.png", "2", "#0000ff", "0.25", "2"),
    ]


def test_jsonl_export_has_a_line_per_image(store):
    """JSON Lines export: one object per image with its options and nested colours."""
    store.add_palette(record("/img/a.png"), OPTIONS)
    store.add_palette(record("/img/b.png", colors=[[1, 2, 3]], shares=[1.0]), OPTIONS)
    out = io.StringIO()

    assert export(store, "jsonl", out) == 2
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["source"] for line in lines] == ["/img/a.png", "/img/b.png"]
    assert lines[0]["options"] == {"k": 2, "space": "oklab"}
    assert [c["hex"] for c in lines[0]["colors"]] == ["#ff0000", "#0000ff"]
    assert lines[1]["colors"][0]["rgb"] == [1, 2, 3]


def test_parquet_export_round_trips(store, tmp_path):
    """Parquet export holds the same rows as the database."""
    pq = pytest.importorskip(
        "pyarrow.parquet", reason="pyarrow (the parquet extra) is not installed"
    )
    store.add_palette(record(), OPTIONS)

    assert export(store, "parquet", tmp_path / "out.parquet") == 2
    table = pq.read_table(tmp_path / "out.parquet").to_pydict()
    assert table["hex"] == ["#ff0000", "#0000ff"]
    assert table["r"] == [255, 0]
    assert table["share"] == pytest.approx([0.75, 0.25], abs=CLOSE)


def test_unknown_export_format_is_refused(store):
    """An unknown format raises ValueError listing the known ones."""
    with pytest.raises(
        ValueError, match="unknown export format 'xml'; expected one of csv, jsonl, parquet"
    ):
        export(store, "xml", io.StringIO())


# -- foreign databases and whole-or-nothing exports ---------------------------------------------


def test_a_database_with_other_programs_tables_is_refused_byte_for_byte_unchanged(tmp_path):
    """Opening another program's SQLite file (to write or to read) changes nothing in it."""
    path = tmp_path / "photos.db"
    con = sqlite3.connect(path)
    con.executescript(
        "CREATE TABLE albums (id INTEGER PRIMARY KEY, title TEXT);"
        "CREATE TABLE images (id INTEGER PRIMARY KEY, album INTEGER, file TEXT);"  # a clashing name
        "INSERT INTO albums VALUES (1, 'holiday');"
    )
    con.commit()
    con.close()
    before = path.read_bytes()

    for create in (True, False):
        with pytest.raises(StoreError, match=r"not a chromapal database \(it holds other tables: albums\)"):
            PaletteStore(path, create=create)

    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos.db"]


def test_a_chromapal_database_and_an_empty_file_are_accepted(tmp_path):
    """The refusal is only for foreign tables: a new, an empty or a chromapal file opens."""
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    with PaletteStore(empty) as db:
        db.add_palette(record(), OPTIONS)
    with PaletteStore(empty, create=False) as again:
        assert again.count("images") == 1


def test_a_file_that_is_not_sqlite_is_refused_unchanged(tmp_path):
    """A PNG given as the database: a one-line StoreError, the file untouched."""
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    before = path.read_bytes()

    with pytest.raises(StoreError, match="cannot open as a chromapal database"):
        PaletteStore(path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_an_export_that_fails_midway_leaves_no_file(store, tmp_path, monkeypatch, fmt):
    """A writer failing after some rows: the exception propagates, no file, no temporary left."""
    if fmt == "parquet":
        pytest.importorskip("pyarrow", reason="pyarrow (the parquet extra) is not installed")
    for i in range(3):
        store.add_palette(record(source=f"/img/{i}.png"), OPTIONS)
    real_rows = store_export.flat_rows

    def rows_then_fail(s, *args):
        rows = real_rows(s, *args)
        try:
            yield next(rows)
            yield next(rows)
            raise RuntimeError("the writer broke midway")
        finally:
            rows.close()

    monkeypatch.setattr(store_export, "flat_rows", rows_then_fail)
    out = tmp_path / "out" / f"palettes.{fmt}"
    out.parent.mkdir()
    with pytest.raises(RuntimeError, match="midway"):
        export(store, fmt, out)

    assert list(out.parent.iterdir()) == []


def test_an_export_replaces_the_old_file_only_when_complete(store, tmp_path):
    """A finished export replaces the old file in one step (the rename), keeping its mode."""
    store.add_palette(record(), OPTIONS)
    out = tmp_path / "palettes.csv"
    out.write_text("old\n")
    out.chmod(0o640)

    assert export(store, "csv", out) == 2
    assert out.read_text().startswith("source,size,")
    assert out.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("palettes")) == [
        "palettes.csv"
    ]


# -- every (image, options) palette, facets, IIIF records, filters (issues 13 and 15) -----


def test_other_options_keep_a_second_palette_beside_the_first(store):
    """k = 2 and k = 3 of one image: two palettes; storing k = 2 again replaces only k = 2."""
    k3 = options_key({"k": 3})
    store.add_palette(record(), OPTIONS)
    store.add_palette(record(colors=[[1, 2, 3], [4, 5, 6], [7, 8, 9]], shares=[0.5, 0.3, 0.2]), k3)
    store.add_palette(record(shares=[0.6, 0.4]), OPTIONS)
    palettes = {im.options: im for im in store.images()}
    assert set(palettes) == {OPTIONS, k3}
    assert [c["share"] for c in palettes[OPTIONS].colors] == [0.6, 0.4]
    assert [im.options for im in store.images(PaletteFilter(k=(3,)))] == [k3]
    assert [im.options for im in store.images(source="/img/a.png")] == [k3, OPTIONS]  # by id: k = 2 rewritten last


def test_facets_and_iiif_records_are_written_and_replaced_with_the_palette(store):
    iiif = {"manifest": "https://m", "canvas": "https://m/c1", "label": "Sheet 1", "image_url": "https://i",
            "service": "https://s", "rights": "https://r", "required_statement": "Museum"}
    store.add_palette({**record(), "iiif": iiif}, OPTIONS)
    (image,) = store.images()
    assert image.facets == pytest.approx({"red": 0.75, "blue": 0.25})
    assert image.iiif == iiif
    store.add_palette(record(colors=[[250, 250, 250], [0, 0, 0]], shares=[0.9, 0.1]), OPTIONS)
    (image,) = store.images()
    assert image.facets == pytest.approx({"white": 0.9, "black": 0.1}) and image.iiif is None
    assert store.count("facets") == 2 and store.count("iiif") == 0


def test_a_version_1_database_gains_facets_when_opened(tmp_path):
    """A database written before facets existed: tables added and facets computed, palettes kept."""
    path = tmp_path / "old.sqlite"
    with PaletteStore(path) as db:
        db.add_palette(record(), OPTIONS)
        db.conn.execute("DROP TABLE facets")
        db.conn.execute("DROP TABLE iiif")
        db.conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    with PaletteStore(path, create=False) as db:
        (image,) = db.images()
        assert image.facets == pytest.approx({"red": 0.75, "blue": 0.25})
        assert db.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "3"


def test_exports_carry_facets_iiif_records_and_take_filters(store):
    iiif = {"manifest": "https://m", "canvas": "https://m/c1", "label": "Sheet 1"}
    store.add_palette({**record(), "iiif": iiif}, OPTIONS)
    store.add_palette(record(source="/img/b.png", colors=[[0, 128, 0]], shares=[1.0]), options_key({"k": 1}))
    out = io.StringIO()
    assert export(store, "csv", out) == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["source"], r["k"], r["facet"], r["label"]) for r in rows] == [
        ("/img/a.png", "2", "red", "Sheet 1"), ("/img/a.png", "2", "blue", "Sheet 1"), ("/img/b.png", "1", "green", "")]
    out = io.StringIO()
    assert export(store, "jsonl", out, PaletteFilter(k=(2,))) == 1
    (line,) = [json.loads(x) for x in out.getvalue().splitlines()]
    assert line["facets"] == pytest.approx({"red": 0.75, "blue": 0.25})
    assert line["iiif"]["label"] == "Sheet 1" and line["iiif"]["rights"] is None


def test_an_option_filter_refuses_a_name_that_is_not_an_identifier():
    with pytest.raises(ValueError, match="not an option name"):
        PaletteFilter(options={"k') OR 1=1 --": 1}).sql()


def test_the_palette_error_is_stored_read_back_and_exported(store, tmp_path):
    """``delta_e`` (issue 12): a column of ``images``, a field of StoredImage, a column of every export."""
    store.add_palette({**record(), "delta_e": 3.25}, OPTIONS)
    store.add_palette(record(source="/img/b.png"), OPTIONS)  # a record without it: NULL
    assert [im.delta_e for im in store.images()] == [3.25, None]
    assert store.image(1).delta_e == 3.25
    out = io.StringIO()
    export(store, "csv", out)
    assert [r["delta_e"] for r in csv.DictReader(io.StringIO(out.getvalue()))] == ["3.25", "3.25", "", ""]
    out = io.StringIO()
    export(store, "jsonl", out)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["delta_e"] for line in lines] == [3.25, None]
    assert [c["share"] for c in lines[0]["colors"]] == [0.75, 0.25]  # the columns after it did not shift
    assert [c["rgb"] for c in lines[0]["colors"]] == [[255, 0, 0], [0, 0, 255]]
    assert lines[0]["facets"] == pytest.approx({"red": 0.75, "blue": 0.25})
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow (the parquet extra) is not installed")
    export(store, "parquet", tmp_path / "out.parquet")
    table = pq.read_table(tmp_path / "out.parquet")
    assert str(table.schema.field("delta_e").type) == "double"
    assert table.to_pydict()["delta_e"] == [3.25, 3.25, None, None]


def version_2_database(path) -> None:
    """Write a database as chromapal wrote it at schema version 2: ``images`` without ``delta_e``."""
    with PaletteStore(path) as db:
        db.add_palette({**record(), "delta_e": 1.5}, OPTIONS)
        db.conn.execute("ALTER TABLE images DROP COLUMN delta_e")
        db.conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")


@pytest.mark.parametrize("create", [True, False])
def test_a_version_2_database_gains_the_delta_e_column_when_opened(tmp_path, create):
    """The column is added, NULL for the old palettes, which are kept; new palettes carry it."""
    path = tmp_path / "v2.sqlite"
    version_2_database(path)
    with sqlite3.connect(path) as raw:
        assert "delta_e" not in {row[1] for row in raw.execute("PRAGMA table_info(images)")}
    with PaletteStore(path, create=create) as db:
        assert db.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "3"
        (old,) = db.images()
        assert (old.source, old.delta_e, [c["hex"] for c in old.colors]) == ("/img/a.png", None, ["#ff0000", "#0000ff"])
        db.add_palette({**record(source="/img/b.png"), "delta_e": 2.0}, OPTIONS)
        assert [im.delta_e for im in db.images()] == [None, 2.0]
    with PaletteStore(path, create=False) as db:  # opened again: nothing more to do
        assert [im.delta_e for im in db.images()] == [None, 2.0]


def test_a_read_only_version_2_database_still_opens_and_exports(tmp_path, monkeypatch):
    """A file that cannot be written is read as it is: ``delta_e`` reads None, the file is unchanged."""
    import chromapal.store as store_module

    path = tmp_path / "v2.sqlite"
    version_2_database(path)
    before = path.read_bytes()
    connect = sqlite3.connect
    monkeypatch.setattr(
        store_module.sqlite3, "connect", lambda p, **kw: connect(f"file:{p}?mode=ro", uri=True, **kw)
    )
    with PaletteStore(path, create=False) as db:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            db.conn.execute("UPDATE meta SET value = '0'")  # the simulation is read-only indeed
        (image,) = db.images()
        assert (image.delta_e, image.k, [c["hex"] for c in image.colors]) == (None, 2, ["#ff0000", "#0000ff"])
        assert db.image(image.image_id).delta_e is None
        out = io.StringIO()
        assert export(db, "csv", out) == 2
        assert [r["delta_e"] for r in csv.DictReader(io.StringIO(out.getvalue()))] == ["", ""]
        assert db.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "2"
    assert path.read_bytes() == before
