"""Exports of the palette database: CSV and Parquet (a row per colour), JSON Lines (one per image).

Every row carries the palette's k, options (an image batched with several k has a
palette per k) and error ``delta_e`` (the mean CIEDE2000 from the image to its palette;
empty for palettes stored before it was measured), the colour's named-colour facet
(`chromapal.facets`) and, for IIIF canvases, the manifest, canvas, label, image URL,
rights and required statement, so an export can credit the holder. A `PaletteFilter`
exports some palettes only (by k and options).

A file is written whole or not at all (`chromapal.export.atomic`): a failed export leaves
no partial file, and an older export of the same name stays as it was.
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import os
from collections.abc import Generator, Iterator
from typing import IO, Any, Final

from .export.atomic import atomic_path
from .facets import facet_of
from .store import IIIF_COLUMNS, PaletteFilter, PaletteStore, StoreError
from .store_schema import select_columns

#: Columns of the flat exports (CSV, Parquet): one row per palette colour.
FLAT_COLUMNS: Final = (
    "source",
    "size",
    "mtime_ns",
    "k",
    "space",
    "options",
    "width",
    "height",
    "note",
    "load_ms",
    "extract_ms",
    "delta_e",
    "rank",
    "hex",
    "r",
    "g",
    "b",
    "ok_l",
    "ok_a",
    "ok_b",
    "lab_l",
    "lab_a",
    "lab_b",
    "share",
    "facet",
    *IIIF_COLUMNS,
)
_IMAGE_COLUMNS: Final = 12  # the palette's columns, before "rank"
_RGB: Final = slice(14, 17)  # "r", "g", "b"
_FACET: Final = 24  # index of "facet"; the IIIF columns follow it


def flat_rows(
    store: PaletteStore, where: PaletteFilter | None = None
) -> Generator[tuple[Any, ...], None, None]:
    """Every stored colour (that `where` takes) as a tuple in `FLAT_COLUMNS` order, by image then rank."""
    condition, params = (where or PaletteFilter()).sql("i")
    cursor = store.conn.execute(
        "SELECT i.source, i.size, i.mtime_ns, i.k, i.space, i.options, i.width, i.height, i.note, "
        f"i.load_ms, i.extract_ms, {select_columns(['delta_e'], store.columns, 'i.')}, "
        "c.rank, c.hex, c.r, c.g, c.b, c.ok_l, c.ok_a, c.ok_b, "
        f"c.lab_l, c.lab_a, c.lab_b, c.share, {', '.join('f.' + c for c in IIIF_COLUMNS)} "
        "FROM images AS i JOIN colors AS c ON c.image_id = i.id "
        "LEFT JOIN iiif AS f ON f.image_id = i.id "
        f"WHERE {condition} ORDER BY i.id, c.rank",
        params,
    )
    try:
        while rows := cursor.fetchmany(4096):
            facets = facet_of([row[_RGB] for row in rows])  # one CIEDE2000 call per chunk
            for row, facet in zip(rows, facets, strict=True):
                yield (*row[:_FACET], facet, *row[_FACET:])
    finally:
        cursor.close()


def write_csv(store: PaletteStore, out: IO[str], where: PaletteFilter | None = None) -> int:
    """Write one CSV row per colour (`FLAT_COLUMNS`, with a header); return the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FLAT_COLUMNS)
    n = 0
    # closing(): a reader that hangs up (BrokenPipeError) must not leave an open cursor
    # to be finalised after the database is closed.
    with contextlib.closing(flat_rows(store, where)) as rows:
        for row in rows:
            writer.writerow(row)
            n += 1
    return n


def write_jsonl(store: PaletteStore, out: IO[str], where: PaletteFilter | None = None) -> int:
    """Write one JSON object per palette, its colours nested; return the number of palettes."""
    n = 0
    with contextlib.closing(flat_rows(store, where)) as rows:
        n = _write_jsonl_rows(rows, out)
    return n


def _write_jsonl_rows(flat: Iterator[tuple[Any, ...]], out: IO[str]) -> int:
    n = 0
    for _, group in itertools.groupby(flat, key=lambda r: (r[0], r[5])):
        rows = list(group)
        image = dict(zip(FLAT_COLUMNS[:_IMAGE_COLUMNS], rows[0][:_IMAGE_COLUMNS], strict=True))
        image["options"] = json.loads(image["options"])
        i = _IMAGE_COLUMNS  # "rank"
        image["colors"] = [
            {
                "rank": r[i],
                "hex": r[i + 1],
                "rgb": list(r[i + 2 : i + 5]),
                "oklab": list(r[i + 5 : i + 8]),
                "lab": list(r[i + 8 : i + 11]),
                "share": r[i + 11],
                "facet": r[_FACET],
            }
            for r in rows
        ]
        facets: dict[str, float] = {}
        for r in rows:
            facets[r[_FACET]] = facets.get(r[_FACET], 0.0) + r[_FACET - 1]
        image["facets"] = dict(sorted(facets.items(), key=lambda item: -item[1]))
        record = dict(zip(IIIF_COLUMNS, rows[0][_FACET + 1 :], strict=True))
        image["iiif"] = record if any(v is not None for v in record.values()) else None
        out.write(json.dumps(image) + "\n")
        n += 1
    return n


def write_parquet(
    store: PaletteStore,
    path: str | os.PathLike[str],
    *,
    batch_rows: int = 100_000,
    where: PaletteFilter | None = None,
) -> int:
    """Write one Parquet row per colour (`FLAT_COLUMNS`), streaming; return the number of rows.

    Raises
    ------
    StoreError
        If pyarrow is not installed.
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise StoreError("Parquet export needs pyarrow: pip install 'chromapal[parquet]'") from exc
    types = [
        pa.string(),
        pa.int64(),
        pa.int64(),
        pa.int32(),
        pa.string(),
        pa.string(),
        pa.int32(),
        pa.int32(),
        pa.string(),
        pa.float64(),
        pa.float64(),
        pa.float64(),
        pa.int32(),
        pa.string(),
        pa.uint8(),
        pa.uint8(),
        pa.uint8(),
    ]
    types += [pa.float64()] * 7
    types += [pa.string()] * (1 + len(IIIF_COLUMNS))
    schema = pa.schema(list(zip(FLAT_COLUMNS, types, strict=True)))
    n = 0
    with contextlib.closing(flat_rows(store, where)) as rows, pq.ParquetWriter(path, schema) as writer:
        while chunk := list(itertools.islice(rows, batch_rows)):
            columns = list(zip(*chunk, strict=True))
            writer.write_table(
                pa.table(
                    [pa.array(c, t) for c, t in zip(columns, types, strict=True)], schema=schema
                )
            )
            n += len(chunk)
        if n == 0:
            writer.write_table(schema.empty_table())
    return n


_TEXT_WRITERS: Final = {"csv": write_csv, "jsonl": write_jsonl}
#: Export formats, for CLI choices and messages.
EXPORT_FORMATS: Final = ("csv", "jsonl", "parquet")


def export(
    store: PaletteStore,
    fmt: str,
    out: str | os.PathLike[str] | IO[str],
    where: PaletteFilter | None = None,
) -> int:
    """Write every stored palette (that `where` takes) to `out` (a path, or a text stream) as `fmt`.

    A path is written whole or not at all: into a temporary file beside it, renamed at the
    end, so a failed export leaves no partial file (and an older export stays as it was).

    Returns the number of rows (csv, parquet: colours) or lines (jsonl: palettes) written.

    Raises
    ------
    ValueError
        If `fmt` is not one of `EXPORT_FORMATS`, or a stream is given for Parquet.
    StoreError
        If Parquet is asked for and pyarrow is not installed.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(
            f"unknown export format {fmt!r}; expected one of {', '.join(EXPORT_FORMATS)}"
        )
    if fmt == "parquet":
        if not isinstance(out, (str, os.PathLike)):
            raise ValueError("Parquet export needs a file path, not a stream")
        with atomic_path(out) as temporary:
            return write_parquet(store, temporary, where=where)
    if isinstance(out, (str, os.PathLike)):
        with atomic_path(out) as temporary, open(temporary, "w", encoding="utf-8", newline="") as fh:
            return _TEXT_WRITERS[fmt](store, fh, where)
    return _TEXT_WRITERS[fmt](store, out, where)
