"""SQLite storage of batch results: one writer, WAL mode, one transaction per image.

Schema
------
``runs``
    One row per ``chromapal batch`` invocation: options, inputs, counts, times.
``images``
    One row per (source, options): the palette's image, with the file's size and
    modification time (NULL for URLs), width, height and timings.
``colors``
    The palette: one row per colour with rank (1 = most dominant), hex, sRGB, Oklab,
    CIELAB, share and ``bucket``, a coarse CIELAB cell number indexed for search.
``failures``
    One row per (source, options) that could not be processed, with the reason.

An image's ``images`` and ``colors`` rows are written in one transaction, so a process
killed at any moment (even ``kill -9``) leaves either the whole palette or none of it.
The "done" key is (source, size, mtime, options): a changed file, or other options,
is processed again and its old rows are replaced in the same transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from ._types import FloatArray, IntArray
from .colorspace import lab_from_srgb, oklab_from_srgb
from .errors import PaletteError

SCHEMA_VERSION: Final = 1
#: The tables of a chromapal database; a file holding any other table is refused.
TABLES: Final = ("meta", "runs", "images", "colors", "failures")

#: Edge of a search cell in CIELAB units; see `bucket_of`.
CELL: Final = 4.0
#: Cells per axis: L in [0, 100] needs 26, a and b in [-128, 128) need 64.
_NA: Final = 64
_NB: Final = 64
_AB_OFFSET: Final = 128.0

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started REAL NOT NULL,
    finished REAL,
    options TEXT NOT NULL,
    inputs TEXT NOT NULL,
    version TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    interrupted INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    size INTEGER,
    mtime_ns INTEGER,
    options TEXT NOT NULL,
    k INTEGER NOT NULL,
    space TEXT NOT NULL,
    width INTEGER,
    height INTEGER,
    n_colors INTEGER NOT NULL,
    note TEXT,
    load_ms REAL,
    extract_ms REAL,
    run_id INTEGER,
    created REAL NOT NULL,
    UNIQUE (source, options)
);
CREATE TABLE IF NOT EXISTS colors (
    image_id INTEGER NOT NULL,
    rank INTEGER NOT NULL,
    hex TEXT NOT NULL,
    r INTEGER NOT NULL,
    g INTEGER NOT NULL,
    b INTEGER NOT NULL,
    ok_l REAL NOT NULL,
    ok_a REAL NOT NULL,
    ok_b REAL NOT NULL,
    lab_l REAL NOT NULL,
    lab_a REAL NOT NULL,
    lab_b REAL NOT NULL,
    share REAL NOT NULL,
    bucket INTEGER NOT NULL,
    PRIMARY KEY (image_id, rank)
) WITHOUT ROWID;
-- Covering index for search: a bucket range scan reads L, a, b, share and the key only.
CREATE INDEX IF NOT EXISTS colors_search ON colors (bucket, lab_l, lab_a, lab_b, share);
CREATE TABLE IF NOT EXISTS failures (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    size INTEGER,
    mtime_ns INTEGER,
    options TEXT NOT NULL,
    error TEXT NOT NULL,
    reason TEXT NOT NULL,
    run_id INTEGER,
    created REAL NOT NULL,
    UNIQUE (source, options)
);
"""

_COLOR_COLUMNS: Final = (
    "image_id, rank, hex, r, g, b, ok_l, ok_a, ok_b, lab_l, lab_a, lab_b, share, bucket"
)


class StoreError(PaletteError, ValueError):
    """The database is missing, not a chromapal database, or cannot be written."""


def bucket_of(lab: FloatArray) -> IntArray:
    """Search cell number of CIELAB colours ``(..., 3)``: ``(iL * 64 + ia) * 64 + ib``.

    Cells are `CELL` units on each axis; b is the fastest-varying index, so the cells
    of one (L, a) column form one contiguous range of numbers.
    """
    lab = np.asarray(lab, dtype=np.float64)
    il = np.floor(np.clip(lab[..., 0], 0.0, 100.0) / CELL).astype(np.int64)
    ia = np.floor(np.clip(lab[..., 1] + _AB_OFFSET, 0.0, _NA * CELL - 1e-9) / CELL).astype(np.int64)
    ib = np.floor(np.clip(lab[..., 2] + _AB_OFFSET, 0.0, _NB * CELL - 1e-9) / CELL).astype(np.int64)
    return (il * _NA + ia) * _NB + ib


def cell_index(value: float, axis: int) -> int:
    """Cell index of one coordinate on `axis` (0 = L, 1 = a, 2 = b), clipped like `bucket_of`."""
    if axis == 0:
        return int(np.floor(min(max(value, 0.0), 100.0) / CELL))
    return int(np.floor(min(max(value + _AB_OFFSET, 0.0), _NA * CELL - 1e-9) / CELL))


def bucket_number(il: int, ia: int, ib: int) -> int:
    """Cell number from per-axis cell indices (see `bucket_of`)."""
    return (il * _NA + ia) * _NB + ib


def options_key(options: Mapping[str, Any]) -> str:
    """Canonical JSON text of extraction options: the same options give the same key."""
    return json.dumps(dict(options), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class StoredImage:
    """One stored palette as read back from the database."""

    source: str
    size: int | None
    mtime_ns: int | None
    options: str
    k: int
    space: str
    width: int | None
    height: int | None
    note: str | None
    load_ms: float | None
    extract_ms: float | None
    colors: list[dict[str, Any]]


def color_rows(
    image_id: int, rgb: Sequence[Sequence[int]], shares: Sequence[float]
) -> list[tuple[Any, ...]]:
    """Return the ``colors`` rows of one palette: hex, sRGB, Oklab, CIELAB, share, bucket."""
    arr = np.asarray(rgb, dtype=np.uint8).reshape(-1, 3)
    oklab = oklab_from_srgb(arr)
    lab = lab_from_srgb(arr)
    buckets = bucket_of(lab)
    rows = []
    for rank, ((r, g, b), ok, lb, share, bucket) in enumerate(
        zip(arr.tolist(), oklab.tolist(), lab.tolist(), shares, buckets.tolist(), strict=True), 1
    ):
        rows.append(
            (image_id, rank, f"#{r:02x}{g:02x}{b:02x}", r, g, b, *ok, *lb, float(share), bucket)
        )
    return rows


class PaletteStore:
    """The SQLite database of a batch: open it, write results one image at a time, read them back.

    Parameters
    ----------
    path : str or Path
        Database file. Created (with its folder's permission) unless `create` is False.
    create : bool
        If False, a missing file raises `StoreError` instead of being created.

    Raises
    ------
    StoreError
        If the file is missing (and `create` is False), is not an SQLite database, or
        cannot be opened.
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise StoreError(
                f"{self.path}: no such database; create one with `chromapal batch --db {self.path}`"
            )
        try:
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
            self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open as a chromapal database ({exc})") from exc
        try:
            self._refuse_foreign()  # before anything is written, even the journal mode
            self.conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed transaction survives any process crash; only a
            # power cut may lose the last few commits (never corrupt the database).
            self.conn.execute("PRAGMA synchronous=NORMAL")
            if create:
                self.conn.executescript(_SCHEMA)
                self.conn.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            else:
                self._check_schema()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            raise StoreError(f"{self.path}: cannot open as a chromapal database ({exc})") from exc
        except StoreError:
            self.conn.close()
            raise

    def _refuse_foreign(self) -> None:
        """Refuse a database holding tables or views that are not chromapal's (another program's).

        Only reads: the file is left byte for byte as it was.
        """
        names = {
            row[0]
            for row in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
            )
        }
        foreign = sorted(names - set(TABLES))
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise StoreError(
                f"{self.path}: not a chromapal database (it holds other tables: {shown}); "
                "left unchanged, give another --db"
            )

    def _check_schema(self) -> None:
        tables = {
            row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if not {"images", "colors", "failures", "runs"} <= tables:
            raise StoreError(f"{self.path}: not a chromapal database (no palette tables)")

    def close(self) -> None:
        """Close the connection (committed data is already on disk)."""
        self.conn.close()

    def __enter__(self) -> PaletteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------

    def start_run(self, options: str, inputs: Sequence[str], version: str) -> int:
        """Record the start of a batch run and return its id."""
        with self._transaction():
            cur = self.conn.execute(
                "INSERT INTO runs (started, options, inputs, version) VALUES (?, ?, ?, ?)",
                (time.time(), options, json.dumps(list(inputs)), version),
            )
        return int(cur.lastrowid or 0)

    def finish_run(
        self, run_id: int, *, done: int, skipped: int, failed: int, interrupted: bool
    ) -> None:
        """Record the counts and end time of a run."""
        with self._transaction():
            self.conn.execute(
                "UPDATE runs SET finished = ?, done = ?, skipped = ?, failed = ?, interrupted = ? "
                "WHERE id = ?",
                (time.time(), done, skipped, failed, int(interrupted), run_id),
            )

    def add_palette(
        self, record: Mapping[str, Any], options: str, *, run_id: int | None = None
    ) -> int:
        """Store one successful worker record (see `chromapal.batch.process`) in one transaction.

        Any earlier palette or failure of the same (source, options) is replaced.
        Returns the new image id.
        """
        opts = json.loads(options)
        with self._transaction():
            self._forget(record["source"], options)
            cur = self.conn.execute(
                "INSERT INTO images (source, size, mtime_ns, options, k, space, width, height, "
                "n_colors, note, load_ms, extract_ms, run_id, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record["source"],
                    record.get("size"),
                    record.get("mtime_ns"),
                    options,
                    record.get("k", opts.get("k")),
                    record.get("space", opts.get("space", "oklab")),
                    record.get("width"),
                    record.get("height"),
                    len(record["colors"]),
                    record.get("note"),
                    record.get("load_ms"),
                    record.get("extract_ms"),
                    run_id,
                    time.time(),
                ),
            )
            image_id = int(cur.lastrowid or 0)
            self.conn.executemany(
                f"INSERT INTO colors ({_COLOR_COLUMNS}) VALUES ({', '.join('?' * 14)})",
                color_rows(image_id, record["colors"], record["shares"]),
            )
        return image_id

    def add_failure(
        self, record: Mapping[str, Any], options: str, *, run_id: int | None = None
    ) -> None:
        """Store one failed worker record, removing any palette of the same (source, options)."""
        with self._transaction():
            self._forget(record["source"], options)
            self.conn.execute(
                "INSERT INTO failures (source, size, mtime_ns, options, error, reason, run_id, "
                "created)"
                " "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record["source"],
                    record.get("size"),
                    record.get("mtime_ns"),
                    options,
                    record.get("error", "Error"),
                    record.get("reason", ""),
                    run_id,
                    time.time(),
                ),
            )

    def _forget(self, source: str, options: str) -> None:
        """Delete the palette and failure of (source, options); call inside a transaction."""
        row = self.conn.execute(
            "SELECT id FROM images WHERE source = ? AND options = ?", (source, options)
        ).fetchone()
        if row is not None:
            self.conn.execute("DELETE FROM colors WHERE image_id = ?", (row[0],))
            self.conn.execute("DELETE FROM images WHERE id = ?", (row[0],))
        self.conn.execute(
            "DELETE FROM failures WHERE source = ? AND options = ?", (source, options)
        )

    def _transaction(self) -> _Transaction:
        return _Transaction(self.conn)

    # -- reading -------------------------------------------------------------------------

    def is_done(self, source: str, size: int | None, mtime_ns: int | None, options: str) -> bool:
        """Tell whether a palette of `source` with this size, mtime and options is stored.

        URLs (size and mtime None) are done once stored with the same options.
        """
        row = self.conn.execute(
            "SELECT size, mtime_ns FROM images WHERE source = ? AND options = ?", (source, options)
        ).fetchone()
        return row is not None and (row[0], row[1]) == (size, mtime_ns)

    def count(self, table: str) -> int:
        """Return the number of rows in `table` (one of images, colors, failures, runs)."""
        if table not in ("images", "colors", "failures", "runs"):
            raise ValueError(f"unknown table {table!r}; expected images, colors, failures or runs")
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def images(self) -> Iterator[StoredImage]:
        """Every stored palette, in insertion order, with its colours most dominant first."""
        image_cur = self.conn.execute(
            "SELECT id, source, size, mtime_ns, options, k, space, width, height, note, load_ms, "
            "extract_ms "
            "FROM images ORDER BY id"
        )
        for row in image_cur:
            colors = [
                {
                    "rank": c[0],
                    "hex": c[1],
                    "rgb": [c[2], c[3], c[4]],
                    "oklab": [c[5], c[6], c[7]],
                    "lab": [c[8], c[9], c[10]],
                    "share": c[11],
                }
                for c in self.conn.execute(
                    "SELECT rank, hex, r, g, b, ok_l, ok_a, ok_b, lab_l, lab_a, lab_b, share "
                    "FROM colors "
                    "WHERE image_id = ? ORDER BY rank",
                    (row[0],),
                )
            ]
            yield StoredImage(*row[1:], colors=colors)  # type: ignore[misc]

    def failures(self) -> list[dict[str, Any]]:
        """Every stored failure: source, error class name and reason."""
        rows = self.conn.execute(
            "SELECT source, error, reason FROM failures ORDER BY id"
        ).fetchall()
        return [{"source": s, "error": e, "reason": r} for s, e, r in rows]


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception (Ctrl-C included)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
