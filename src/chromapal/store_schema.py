"""The tables of a palette database and the numbers that index its colours for search.

Schema
------
``runs``
    One row per ``chromapal batch`` invocation: options, inputs, counts, times.
``images``
    One row per (source, options): the palette's image, with the file's size and
    modification time (NULL for URLs), width, height and timings. Every (source,
    options) pair keeps its own palette: ``batch -k 1-10`` stores ten palettes of each
    image, one per k, and a run with other options adds palettes beside the old ones.
    ``delta_e`` is the palette's error: the mean CIEDE2000 from every opaque pixel to
    its palette colour (`chromapal.Palette.delta_e`; NULL for palettes stored before
    schema version 3).
``colors``
    The palette: one row per colour with rank (1 = most dominant), hex, sRGB, Oklab,
    CIELAB, share and ``bucket``, a coarse CIELAB cell number indexed for search.
``facets``
    Named-colour facets (`chromapal.facets`): per palette, the summed share of each
    basic colour name its colours snap to, indexed by (name, share) for search.
``iiif``
    For images read from IIIF manifests: manifest and canvas ids, the canvas label, the
    image URL fetched, the Image API service (for thumbnails), rights and required statement.
``failures``
    One row per (source, options) that could not be processed, with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from ._types import FloatArray, IntArray
from .colorspace import lab_from_srgb, oklab_from_srgb

if TYPE_CHECKING:
    import sqlite3

SCHEMA_VERSION: Final = 3
#: The tables of a chromapal database; a file holding any other table is refused.
TABLES: Final = ("meta", "runs", "images", "colors", "failures", "facets", "iiif")

#: Edge of a search cell in CIELAB units; see `bucket_of`.
CELL: Final = 4.0
#: Cells per axis: L in [0, 100] needs 26, a and b in [-128, 128) need 64.
_NA: Final = 64
_NB: Final = 64
_AB_OFFSET: Final = 128.0

SCHEMA: Final = """
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
    delta_e REAL,
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

#: Tables added by schema version 2, created in older databases when they are opened.
SCHEMA_V2: Final = """
CREATE TABLE IF NOT EXISTS facets (
    image_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    share REAL NOT NULL,
    PRIMARY KEY (image_id, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS facets_search ON facets (name, share, image_id);
-- search -k and export -k: palettes by k
CREATE INDEX IF NOT EXISTS images_k ON images (k);
CREATE TABLE IF NOT EXISTS iiif (
    image_id INTEGER PRIMARY KEY,
    manifest TEXT,
    canvas TEXT,
    label TEXT,
    image_url TEXT,
    service TEXT,
    rights TEXT,
    required_statement TEXT
);
"""

#: Columns of ``images`` added by later versions (3: ``delta_e``), added to older
#: databases when they are opened, NULL in their old rows.
ADDED_COLUMNS: Final = {"delta_e": "REAL"}
#: Columns of ``images`` read back into a `StoredImage` (after its ``id``), in order.
IMAGE_COLUMNS: Final = (
    "source", "size", "mtime_ns", "options", "k", "space", "width", "height", "note",
    "load_ms", "extract_ms", "delta_e",
)
COLOR_COLUMNS: Final = (
    "image_id, rank, hex, r, g, b, ok_l, ok_a, ok_b, lab_l, lab_a, lab_b, share, bucket"
)
#: Columns of the ``iiif`` table after ``image_id``, in order.
IIIF_COLUMNS: Final = (
    "manifest",
    "canvas",
    "label",
    "image_url",
    "service",
    "rights",
    "required_statement",
)


def image_columns(conn: sqlite3.Connection) -> frozenset[str]:
    """The columns the ``images`` table of a database has."""
    return frozenset(row[1] for row in conn.execute("PRAGMA table_info(images)"))


def add_missing_columns(conn: sqlite3.Connection) -> None:
    """Add the `ADDED_COLUMNS` that ``images`` lacks (call inside the upgrade's transaction)."""
    present = image_columns(conn)
    for name, sql_type in ADDED_COLUMNS.items():
        if name not in present:
            conn.execute(f"ALTER TABLE images ADD COLUMN {name} {sql_type}")


def select_columns(names: Sequence[str], present: Collection[str], alias: str = "") -> str:
    """SQL list of `names` (prefixed by `alias`); one missing from `present` reads as NULL.

    A database that could not be upgraded (a read-only file of an older version) is read
    as it is: a column added later reads NULL there.
    """
    return ", ".join(f"{alias}{name}" if name in present else f"NULL AS {name}" for name in names)


def iiif_text(value: Any) -> str | None:
    """A value of the ``iiif`` table as text: strings as they are, anything else as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


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


@dataclass(frozen=True)
class StoredImage:
    """One stored palette as read back from the database (``delta_e``: None if not measured)."""

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
    delta_e: float | None
    colors: list[dict[str, Any]]
    image_id: int = 0
    facets: dict[str, float] = field(default_factory=dict)
    iiif: dict[str, Any] | None = None


@dataclass(frozen=True)
class PaletteFilter:
    """Which stored palettes a search or an export takes: by k and by extraction options.

    Parameters
    ----------
    k : sequence of int, optional
        Palettes with one of these numbers of colours (the ``k`` column: the k asked
        for, or the one chosen with ``k="auto"``).
    options : mapping, optional
        ``{name: value}`` extraction options the palette must have been made with
        (``{"space": "lab"}``); a value equal to `defaults`' also matches palettes
        whose stored options omit it (batch stores only options that differ from the
        defaults).
    defaults : mapping, optional
        The default of each option (`chromapal.batch.BatchOptions` omits those).
    """

    k: tuple[int, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.k or self.options)

    def sql(self, alias: str = "images") -> tuple[str, list[Any]]:
        """Return ``(condition, parameters)`` over the ``images`` table (named `alias`)."""
        parts: list[str] = []
        params: list[Any] = []
        if self.k:
            parts.append(f"{alias}.k IN ({', '.join('?' * len(self.k))})")
            params += [int(k) for k in self.k]
        for name, value in sorted(self.options.items()):
            if not name.isidentifier():
                raise ValueError(f"{name!r} is not an option name")
            text = json.dumps(value)
            clause = f"json_extract({alias}.options, '$.{name}') = json_extract(?, '$')"
            if name in self.defaults and json.dumps(self.defaults[name]) == text:
                clause = f"({clause} OR json_type({alias}.options, '$.{name}') IS NULL)"
            parts.append(clause)
            params.append(text)
        return (" AND ".join(parts) or "1", params)
