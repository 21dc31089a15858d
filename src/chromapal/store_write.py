"""Writing palettes and failures into the store: many per transaction, whole palettes only.

`StoreWriter` keeps the palettes and failures handed to it and writes them in one
``BEGIN IMMEDIATE`` ... ``COMMIT`` when `COMMIT_EVERY` are waiting, when the oldest has
waited `COMMIT_SECONDS`, when results arrive slowly (a gap of `COMMIT_SECONDS` between
two: grouping would only delay them), and always on `flush` (the end of a run, an
interruption, an exception). A transaction holds whole palettes (image, colour, facet
and IIIF rows together), so a process killed at any moment (even ``kill -9``) leaves
each palette either complete or absent, and a rerun redoes exactly the absent ones.

The colour representations (Oklab, CIELAB, search cell) and the facets of all the
palettes of a group are computed in one vectorised pass; a record that cannot be stored
(a share that is not a number, a colour out of range) is refused when it is added, so
it never costs the rest of its group.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from .colorspace import lab_from_srgb, oklab_from_srgb
from .facets import facet_of
from .store_schema import COLOR_COLUMNS, IIIF_COLUMNS, bucket_of, iiif_text

#: Palettes (and failures) written per transaction at most.
COMMIT_EVERY: Final = 500
#: Seconds a finished palette may wait for its transaction while results keep arriving.
COMMIT_SECONDS: Final = 0.25

_IMAGE_SQL: Final = (
    "INSERT INTO images (source, size, mtime_ns, options, k, space, width, height, "
    "n_colors, note, load_ms, extract_ms, delta_e, run_id, created) "
    f"VALUES ({', '.join('?' * 15)})"
)
_COLOR_SQL: Final = f"INSERT INTO colors ({COLOR_COLUMNS}) VALUES ({', '.join('?' * 14)})"
_FACET_SQL: Final = "INSERT INTO facets (image_id, name, share) VALUES (?, ?, ?)"
_IIIF_SQL: Final = (
    f"INSERT INTO iiif (image_id, {', '.join(IIIF_COLUMNS)}) "
    f"VALUES ({', '.join('?' * (len(IIIF_COLUMNS) + 1))})"
)
_FAILURE_SQL: Final = (
    "INSERT INTO failures (source, size, mtime_ns, options, error, reason, run_id, created) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass
class _Item:
    """One palette or failure waiting for its transaction."""

    record: Mapping[str, Any]
    options: str
    run_id: int | None
    colors: np.ndarray | None = None  # (n, 3) uint8 for a palette, None for a failure
    shares: list[float] | None = None


class StoreWriter:
    """The batch writer of a `chromapal.store.PaletteStore` connection: grouped commits.

    Parameters
    ----------
    conn : sqlite3.Connection
        The store's connection (``isolation_level=None``); nothing else writes through it
        while the writer holds palettes.
    every : int
        Commit when this many palettes and failures are waiting.
    seconds : float
        Commit when the oldest has waited this long, or results come this far apart.
    clock : callable
        Monotonic seconds (tests pass a fake one).

    Use it as a context manager: leaving the block commits what is waiting, also on an
    exception (Ctrl-C included), before the exception goes on.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        every: int = COMMIT_EVERY,
        seconds: float = COMMIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if every < 1:
            raise ValueError(f"every must be at least 1 (got {every})")
        self.conn = conn
        self.every = every
        self.seconds = seconds
        self.clock = clock
        self.pending: list[_Item] = []
        self.oldest = 0.0  # when the first waiting item arrived
        self.last = -float("inf")  # when the latest item arrived
        self.committed = 0  # palettes and failures committed so far
        self.transactions = 0
        self.last_ids: list[int | None] = []  # image ids of the latest commit (None: a failure)

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.flush()

    def add_palette(self, record: Mapping[str, Any], options: str, *, run_id: int | None = None) -> None:
        """Queue one successful worker record (see `chromapal.batch_worker.process`).

        Raises
        ------
        ValueError, TypeError, OverflowError
            If its colours are not sRGB triples 0-255 or its shares are not one number per colour.
        """
        colors = np.asarray(record["colors"], dtype=np.uint8).reshape(-1, 3)
        shares = [float(s) for s in record["shares"]]
        if len(shares) != len(colors):
            raise ValueError(f"{len(colors)} colours but {len(shares)} shares")
        self._queue(_Item(record, options, run_id, colors, shares))

    def add_failure(self, record: Mapping[str, Any], options: str, *, run_id: int | None = None) -> None:
        """Queue one failed worker record; it replaces any palette of the same (source, options)."""
        self._queue(_Item(record, options, run_id))

    def _queue(self, item: _Item) -> None:
        now = self.clock()
        if not self.pending:
            self.oldest = now
        self.pending.append(item)
        slow = now - self.last >= self.seconds
        self.last = now
        if slow or len(self.pending) >= self.every or now - self.oldest >= self.seconds:
            self.flush()

    def tick(self) -> None:
        """Commit if the oldest waiting item has waited `seconds` (call it while idle)."""
        if self.pending and self.clock() - self.oldest >= self.seconds:
            self.flush()

    def flush(self) -> list[int | None]:
        """Write every waiting item in one transaction; return the image ids (None for failures).

        On an error the transaction is rolled back (none of the group is stored) and the
        error raised.
        """
        items, self.pending = self.pending, []
        if not items:
            return []
        rows = _palette_rows(items)
        ids: list[int | None] = []
        now = time.time()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for item in items:
                _forget(self.conn, item.record["source"], item.options)
                ids.append(self._write(item, rows, now))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.committed += len(items)
        self.transactions += 1
        self.last_ids = ids
        return ids

    def _write(self, item: _Item, rows: dict[int, tuple[list[Any], list[Any]]], now: float) -> int | None:
        record = item.record
        if item.colors is None:
            self.conn.execute(
                _FAILURE_SQL,
                (record["source"], record.get("size"), record.get("mtime_ns"), item.options,
                 record.get("error", "Error"), record.get("reason", ""), item.run_id, now),
            )
            return None
        opts = json.loads(item.options)
        cur = self.conn.execute(
            _IMAGE_SQL,
            (
                record["source"], record.get("size"), record.get("mtime_ns"), item.options,
                record.get("k", opts.get("k")), record.get("space", opts.get("space", "oklab")),
                record.get("width"), record.get("height"), len(item.colors), record.get("note"),
                record.get("load_ms"), record.get("extract_ms"), record.get("delta_e"), item.run_id, now,
            ),
        )
        image_id = int(cur.lastrowid or 0)
        color_rows, facet_rows = rows[id(item)]
        self.conn.executemany(_COLOR_SQL, [(image_id, *row) for row in color_rows])
        self.conn.executemany(_FACET_SQL, [(image_id, *row) for row in facet_rows])
        iiif = record.get("iiif")
        if iiif:
            self.conn.execute(_IIIF_SQL, (image_id, *(iiif_text(iiif.get(name)) for name in IIIF_COLUMNS)))
        return image_id


def _palette_rows(items: Sequence[_Item]) -> dict[int, tuple[list[Any], list[Any]]]:
    """Colour rows (without the image id) and facet rows of every palette of a group, vectorised."""
    palettes = [item for item in items if item.colors is not None]
    if not palettes:
        return {}
    rgb = np.concatenate([item.colors for item in palettes])  # type: ignore[misc]
    oklab = oklab_from_srgb(rgb).tolist()
    lab_arr = lab_from_srgb(rgb)
    buckets = bucket_of(lab_arr).tolist()
    lab = lab_arr.tolist()
    names = facet_of(rgb)
    triples = rgb.tolist()
    out: dict[int, tuple[list[Any], list[Any]]] = {}
    start = 0
    for item in palettes:
        shares = item.shares or []
        end = start + len(shares)
        color_rows = [
            (rank, f"#{r:02x}{g:02x}{b:02x}", r, g, b, *oklab[i], *lab[i], shares[rank - 1], buckets[i])
            for rank, (i, (r, g, b)) in enumerate(zip(range(start, end), triples[start:end]), 1)
        ]
        totals: dict[str, float] = {}
        for name, share in zip(names[start:end], shares):
            totals[name] = totals.get(name, 0.0) + share
        out[id(item)] = (color_rows, sorted(totals.items(), key=lambda kv: -kv[1]))
        start = end
    return out


def _forget(conn: sqlite3.Connection, source: str, options: str) -> None:
    """Delete the palette and failure of (source, options); call inside a transaction."""
    row = conn.execute("SELECT id FROM images WHERE source = ? AND options = ?", (source, options)).fetchone()
    if row is not None:
        for table in ("colors", "facets", "iiif"):
            conn.execute(f"DELETE FROM {table} WHERE image_id = ?", (row[0],))
        conn.execute("DELETE FROM images WHERE id = ?", (row[0],))
    conn.execute("DELETE FROM failures WHERE source = ? AND options = ?", (source, options))
