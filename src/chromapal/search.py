"""Search stored palettes for a colour: an indexed CIELAB box prefilter, then exact CIEDE2000.

How a query runs
----------------
1. The query colour is converted to CIELAB. `search_box` finds a box in CIELAB that holds
   every colour within ``max_delta_e`` (CIEDE2000) of it.
2. The box is read from the covering index ``colors_search (bucket, lab_l, lab_a, lab_b,
   share)``: buckets are 4-unit CIELAB cells numbered so that one (L, a) column of cells
   is one contiguous range, so the box is a few dozen index range scans; rows outside the
   box or under ``min_share`` are dropped by SQLite before they reach Python.
3. CIEDE2000 is computed exactly (`chromapal.colorspace.ciede2000`) for the rows left,
   and images are ranked by their closest colour: smallest ΔE first, larger share first
   on ties.
4. Ranking by distance allows iterative deepening: the search first looks within 1/32,
   1/16, 1/8, 1/4 and 1/2 of ``max_delta_e`` (`DEEPENING`) and stops as soon as
   ``limit`` images are found, because
   no image outside a smaller radius can rank before those inside it. A common colour
   in a million palettes is answered from a small box; a rare one from a sparse box.

The box and slabs around the query colour are measured by `chromapal.search_region`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final

import numpy as np

from ._types import FloatArray
from .colorspace import ciede2000, lab_from_srgb
from .names import parse_color
from .palette import to_hex
from .search_region import RayProfile, search_box  # noqa: F401  (search_box: re-exported)
from .search_table import StaleTable
from .store import PaletteFilter, PaletteStore, bucket_number, cell_index

#: Fractions of max_delta_e searched in turn until `limit` images are found.
DEEPENING: Final = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)


@dataclass(frozen=True)
class Match:
    """One image whose palette holds a colour near the query."""

    source: str
    hex: str  # the palette colour closest to the query
    share: float  # of that colour in its image
    delta_e: float  # CIEDE2000 between the query and that colour
    rank: int  # of that colour in the palette (1 = most dominant)
    k: int
    image_id: int
    options: str = "{}"  # canonical JSON of the palette's non-default extraction options
    label: str | None = None  # the IIIF canvas label, if the image came from a manifest

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict."""
        return {
            "source": self.source,
            "hex": self.hex,
            "share": self.share,
            "delta_e": round(self.delta_e, 4),
            "rank": self.rank,
            "k": self.k,
            "options": json.loads(self.options),
            "label": self.label,
        }


def search(
    store: PaletteStore,
    color: str | tuple[int, int, int],
    *,
    max_delta_e: float = 10.0,
    min_share: float = 0.0,
    limit: int = 20,
    where: PaletteFilter | None = None,
) -> list[Match]:
    """Images whose palette holds a colour within `max_delta_e` (CIEDE2000) of `color`.

    Parameters
    ----------
    store : PaletteStore
        An open database filled by ``chromapal batch``.
    color : str or (r, g, b)
        Hex code (``'#c1a4a9'``), CSS colour name (``'red'``) or uint8 sRGB triple.
    max_delta_e : float
        Largest CIEDE2000 difference accepted, > 0.
    min_share : float
        Palette colours covering less of their image than this (0-1) are ignored.
    limit : int
        Number of images returned at most.
    where : PaletteFilter, optional
        Only palettes with these k and options (all by default).

    Returns
    -------
    list of Match
        Best first: smallest ΔE, then largest share. One entry per stored palette (an
        image stored with several k or options may appear once per palette).

    Raises
    ------
    InvalidColorError
        If `color` is neither a hex colour nor a CSS colour name.
    ValueError
        If `max_delta_e` <= 0, `min_share` is outside [0, 1] or `limit` < 1.
    """
    if not max_delta_e > 0:
        raise ValueError(f"max_delta_e must be positive (got {max_delta_e})")
    if not 0 <= min_share <= 1:
        raise ValueError(f"min_share must be between 0 and 1 (got {min_share})")
    if limit < 1:
        raise ValueError(f"limit must be at least 1 (got {limit})")
    query = query_lab(color)
    try:
        where = plan_filter(store, where)
    except NothingStored:
        return []
    profile = RayProfile(query, max_delta_e)
    for fraction in DEEPENING:
        radius = max_delta_e * fraction
        best = _closest_per_image(store, query, profile.box(radius), radius, min_share)
        if where:
            best = {i: best[i] for i in filter_ids(store, best, where)}
        if len(best) >= limit or fraction == 1.0:
            break
    top = sorted(best.items(), key=lambda item: (item[1][0], -item[1][1], item[0]))[:limit]
    return [_match(store, image_id, *found) for image_id, found in top]


def query_lab(color: str | Iterable[int]) -> FloatArray:
    """CIELAB of a query colour: hex code, CSS colour name or uint8 sRGB triple.

    Raises
    ------
    InvalidColorError
        If a string is neither a hex code nor a CSS colour name.
    """
    rgb = parse_color(color) if isinstance(color, str) else tuple(int(v) for v in color)
    return lab_from_srgb(np.array(rgb, dtype=np.uint8))


def plan_filter(store: PaletteStore, where: PaletteFilter | None) -> PaletteFilter | None:
    """`where` as a search should apply it: None when it takes every stored palette.

    Raises `NothingStored` when it takes none. Both are known from indexed look-ups: one
    row of the filter, and for a k-only filter the smallest and largest stored k.
    """
    if not where:
        return None
    condition, params = where.sql("images")
    if store.conn.execute(f"SELECT 1 FROM images WHERE {condition} LIMIT 1", params).fetchone() is None:
        raise NothingStored
    if where.k and not where.options:
        low = store.conn.execute("SELECT MIN(k) FROM images").fetchone()[0]
        high = store.conn.execute("SELECT MAX(k) FROM images").fetchone()[0]
        if set(range(low, high + 1)) <= set(where.k):
            return None
    return where


class NothingStored(Exception):
    """No stored palette passes the filter: every search answers nothing."""


def filter_ids(store: PaletteStore, ids: Iterable[int], where: PaletteFilter) -> set[int]:
    """The ids among `ids` of palettes that `where` takes (asked in chunks of 500)."""
    condition, params = where.sql("images")
    ids = list(ids)
    kept: set[int] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        kept.update(
            row[0]
            for row in store.conn.execute(
                f"SELECT id FROM images WHERE id IN ({', '.join('?' * len(chunk))}) AND {condition}",
                [*chunk, *params],
            )
        )
    return kept


def closest_per_image(
    store: PaletteStore,
    query: FloatArray,
    radius: float,
    min_share: float = 0.0,
    *,
    profile: RayProfile | None = None,
) -> dict[int, tuple[float, float, int]]:
    """Map image id -> (ΔE, share, rank) of its palette colour closest to `query`, within `radius`.

    `profile` (made for a radius at least `radius`) is reused across calls if given.
    """
    box = (profile or RayProfile(query, radius)).box(radius)
    return _closest_per_image(store, query, box, radius, min_share)


def _closest_per_image(
    store: PaletteStore,
    query: FloatArray,
    box: tuple[FloatArray, FloatArray],
    radius: float,
    min_share: float,
) -> dict[int, tuple[float, float, int]]:
    """Map image id -> (ΔE, share, rank) of its closest colour within `radius`, read from `box`."""
    rows: list[tuple[float, ...]] = []
    rows.extend(_box_rows(store, *box, min_share))
    if not rows:
        return {}
    arr = np.array(rows, dtype=np.float64)  # image_id, rank, L, a, b, share
    de = ciede2000(query, arr[:, 2:5])
    keep = de <= radius
    arr, de = arr[keep], de[keep]
    # Best colour of each image: sort by (image, ΔE, -share) and keep each image's first row.
    order = np.lexsort((-arr[:, 5], de, arr[:, 0]))
    arr, de = arr[order], de[order]
    first = np.ones(len(arr), dtype=bool)
    first[1:] = arr[1:, 0] != arr[:-1, 0]
    return {
        int(i): (float(d), float(s), int(r))
        for (i, r, s), d in zip(arr[first][:, [0, 1, 5]], de[first], strict=True)
    }


def _box_rows(
    store: PaletteStore, lo: FloatArray, hi: FloatArray, min_share: float
) -> Iterator[tuple[float, ...]]:
    """Yield (image_id, rank, L, a, b, share) of colours in the box; a scan per (L, a) column."""
    sql = (
        "SELECT image_id, rank, lab_l, lab_a, lab_b, share FROM colors INDEXED BY colors_search "
        "WHERE bucket BETWEEN ? AND ? AND lab_l BETWEEN ? AND ? AND lab_a BETWEEN ? AND ? "
        "AND lab_b BETWEEN ? AND ? AND share >= ?"
    )
    box = (lo[0], hi[0], lo[1], hi[1], lo[2], hi[2], min_share)
    ib_lo, ib_hi = cell_index(lo[2], 2), cell_index(hi[2], 2)
    for il in range(cell_index(lo[0], 0), cell_index(hi[0], 0) + 1):
        for ia in range(cell_index(lo[1], 1), cell_index(hi[1], 1) + 1):
            # fetchall: one C call per column, not a Python step per row
            yield from store.conn.execute(
                sql, (bucket_number(il, ia, ib_lo), bucket_number(il, ia, ib_hi), *box)
            ).fetchall()


def describe(store: PaletteStore, image_id: int) -> tuple[str, int, str, str | None]:
    """(source, k, options, IIIF label or None) of a stored palette.

    Raises
    ------
    StaleTable
        If the palette is no longer stored (the search's colour table is out of date).
    """
    row = store.conn.execute(
        "SELECT i.source, i.k, i.options, f.label FROM images AS i "
        "LEFT JOIN iiif AS f ON f.image_id = i.id WHERE i.id = ?",
        (image_id,),
    ).fetchone()
    if row is None:  # deleted since the colour table was read
        raise StaleTable(image_id)
    return row[0], row[1], row[2], row[3]


def _match(store: PaletteStore, image_id: int, delta_e: float, share: float, rank: int) -> Match:
    source, k, options, label = describe(store, image_id)
    r, g, b = store.conn.execute(
        "SELECT r, g, b FROM colors WHERE image_id = ? AND rank = ?", (image_id, rank)
    ).fetchone()
    return Match(
        source=source,
        hex=to_hex((r, g, b)),
        share=share,
        delta_e=delta_e,
        rank=rank,
        k=k,
        image_id=image_id,
        options=options,
        label=label,
    )
