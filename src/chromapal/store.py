"""SQLite storage of batch results: one writer, WAL mode, whole palettes per transaction.

The tables are described in `chromapal.store_schema`. An image's ``images``,
``colors``, ``facets`` and ``iiif`` rows are written in one transaction (a batch groups
many palettes per transaction, `chromapal.store_write`), so a process killed at any
moment (even ``kill -9``) leaves either the whole palette or none of it.
The "done" key is (source, size, mtime, options): a changed file is processed again and
its old palette for those options replaced in the same transaction; other options give
another palette, kept beside the first (``batch -k 1-10`` keeps ten palettes per image).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import PaletteError
from .facets import facet_shares
from .store_write import StoreWriter
from .store_schema import (  # noqa: F401 - re-exported: the store's public names
    PaletteFilter,
    StoredImage,
    CELL,
    COLOR_COLUMNS,
    IIIF_COLUMNS,
    IMAGE_COLUMNS,
    SCHEMA,
    SCHEMA_V2,
    SCHEMA_VERSION,
    TABLES,
    add_missing_columns,
    bucket_number,
    bucket_of,
    cell_index,
    color_rows,
    iiif_text,
    image_columns,
    options_key,
    select_columns,
)


class StoreError(PaletteError, ValueError):
    """The database is missing, not a chromapal database, or cannot be written."""


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
                self.conn.executescript(SCHEMA)
                self.conn.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            else:
                self._check_schema()
            self._upgrade()
            self.columns = image_columns(self.conn)  # an old read-only file lacks the newer ones
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

    def _upgrade(self) -> None:
        """Bring an older database to `SCHEMA_VERSION`, keeping its palettes.

        Version 2 adds the facet and IIIF tables (facets filled in), version 3 the column
        ``images.delta_e`` (NULL for old palettes). A read-only file is read as it is.
        """
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None and int(row[0]) >= SCHEMA_VERSION and self._has("facets") and self._has("images_k", "index"):
            return
        try:
            with self._transaction():
                for statement in SCHEMA_V2.split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
                self._backfill_facets()
                add_missing_columns(self.conn)
                self.conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
        except sqlite3.OperationalError:
            pass

    def _has(self, name: str, kind: str = "table") -> bool:
        row = self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = ? AND name = ?", (kind, name))
        return row.fetchone() is not None

    def _backfill_facets(self) -> None:
        """Compute the facets of palettes stored before facets existed."""
        ids = [
            row[0]
            for row in self.conn.execute(
                "SELECT id FROM images WHERE id NOT IN (SELECT image_id FROM facets)"
            )
        ]
        for image_id in ids:
            colors = self.conn.execute(
                "SELECT r, g, b, share FROM colors WHERE image_id = ? ORDER BY rank", (image_id,)
            ).fetchall()
            self._write_facets(image_id, [c[:3] for c in colors], [c[3] for c in colors])

    def _write_facets(
        self, image_id: int, rgb: Sequence[Sequence[int]], shares: Sequence[float]
    ) -> None:
        self.conn.executemany(
            "INSERT INTO facets (image_id, name, share) VALUES (?, ?, ?)",
            [(image_id, name, share) for name, share in facet_shares(rgb, shares).items()],
        )

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

        Any earlier palette or failure of the same (source, options) is replaced; palettes
        of the same source with other options are kept. The record's ``"iiif"`` dict, if
        any, gives the `IIIF_COLUMNS`. Returns the new image id. A batch writes many
        palettes per transaction through `writer` instead.
        """
        writer = self.writer(every=1)
        writer.add_palette(record, options, run_id=run_id)  # committed at once (every=1)
        return int(writer.last_ids[0] or 0)

    def add_failure(
        self, record: Mapping[str, Any], options: str, *, run_id: int | None = None
    ) -> None:
        """Store one failed worker record, removing any palette of the same (source, options)."""
        writer = self.writer(every=1)
        writer.add_failure(record, options, run_id=run_id)  # committed at once (every=1)

    def writer(self, **grouping: Any) -> StoreWriter:
        """A `chromapal.store_write.StoreWriter`: palettes written many per transaction."""
        return StoreWriter(self.conn, **grouping)

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
        if table not in TABLES[1:]:
            raise ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLES[1:])}")
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def images(
        self, where: PaletteFilter | None = None, *, source: str | None = None
    ) -> Iterator[StoredImage]:
        """Stored palettes in insertion order, colours most dominant first.

        Parameters
        ----------
        where : PaletteFilter, optional
            Only the palettes it takes (all by default).
        source : str, optional
            Only the palettes of this source (one per k and options).
        """
        condition, params = (where or PaletteFilter()).sql("images")
        if source is not None:
            condition += " AND images.source = ?"
            params.append(source)
        image_cur = self.conn.execute(
            f"SELECT id, {select_columns(IMAGE_COLUMNS, self.columns)} FROM images WHERE {condition} ORDER BY id",
            params,
        )
        for row in image_cur.fetchall() if source is not None else image_cur:
            yield self.image(row[0], row)

    def image(self, image_id: int, row: Sequence[Any] | None = None) -> StoredImage:
        """One stored palette by id, with its colours, facets and IIIF record.

        Raises
        ------
        KeyError
            If no palette has this id.
        """
        if row is None:
            row = self.conn.execute(
                f"SELECT id, {select_columns(IMAGE_COLUMNS, self.columns)} FROM images WHERE id = ?",
                (image_id,),
            ).fetchone()
            if row is None:
                raise KeyError(image_id)
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
                "FROM colors WHERE image_id = ? ORDER BY rank",
                (image_id,),
            )
        ]
        facets = dict(
            self.conn.execute(
                "SELECT name, share FROM facets WHERE image_id = ? ORDER BY share DESC", (image_id,)
            ).fetchall()
        )
        return StoredImage(
            *row[1:], colors=colors, image_id=image_id, facets=facets, iiif=self.iiif(image_id)
        )

    def iiif(self, image_id: int) -> dict[str, Any] | None:
        """The IIIF record of a palette (`IIIF_COLUMNS`), or None for a file or plain URL."""
        row = self.conn.execute(
            f"SELECT {', '.join(IIIF_COLUMNS)} FROM iiif WHERE image_id = ?", (image_id,)
        ).fetchone()
        return None if row is None else dict(zip(IIIF_COLUMNS, row, strict=True))

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
