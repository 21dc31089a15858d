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

Why a box and how wide
----------------------
CIEDE2000 is not a Euclidean distance in CIELAB: its chroma and hue terms are divided by
``S_C = 1 + 0.045 C'`` and ``S_H``, and near blue the rotation term ``R_T`` stretches the
region ``ΔE00 <= t`` along a diagonal. Over sRGB the region reaches up to about 1.7 t in L
and up to 7 t in a and b (measured on 17 million sRGB pairs), but only 1.3-2 t for
neutral colours. A fixed box would be wasteful, so `search_box` measures the region
around each query: it walks 1000 rays out from the query colour on a geometric grid of
radii (ratio 1.27) and records, for every ray, the first grid radius past the farthest point with
``ΔE00 <= t`` (no monotonicity along the ray is assumed). The box is the extent of those
points in each axis, widened by `BOX_MARGIN` to cover the gaps between rays. The test
suite checks that the box holds every colour within ``t`` for thousands of random sRGB
pairs; the bound is empirical, not a proof.

Several colours and similar palettes (`chromapal.search_multi`, `chromapal.search_like`)
also cut the box by slabs (`RayProfile.slabs`): two planes across each of 13 directions,
measured the same way from each ray's reach bisected 4 times past the grid. On 8 million
random colours this halves the rows read at ΔE 10 (for example 279,000 -> 121,000 rows
for ``#c1a4a9``, 58,000 of them within the radius); ``bench_search.py --check-box``
checks them beside the box.
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
from .search_table import StaleTable
from .store import PaletteFilter, PaletteStore, bucket_number, cell_index

#: Relative widening of the measured box (covers the directions between sampled rays).
BOX_MARGIN: Final = 0.15
#: Absolute widening in CIELAB units.
BOX_PAD: Final = 0.5
#: Extent of 8-bit sRGB in CIELAB (D65): no stored colour lies outside.
LAB_RANGE: Final = ((0.0, 100.0), (-87.0, 99.0), (-108.0, 95.0))

_N_RAYS: Final = 1000
# Radii, as multiples of t_max, at which each ray is sampled: ratio 1.27 between steps, from
# 1/20 of the smallest deepening radius to 12 t_max, past the farthest reach seen.
_RADII: Final = np.geomspace(0.05 / 32, 12.0, 38)
#: Fractions of max_delta_e searched in turn until `limit` images are found.
DEEPENING: Final = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)


def _fibonacci_sphere(n: int) -> FloatArray:
    """`n` unit vectors spread evenly over the sphere."""
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    phi = np.pi * (1 + 5**0.5) * i
    rho = np.sqrt(1 - z * z)
    return np.stack([z, rho * np.cos(phi), rho * np.sin(phi)], axis=1)


_RAYS: Final = _fibonacci_sphere(_N_RAYS)


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


def search_box(lab: FloatArray, max_delta_e: float) -> tuple[FloatArray, FloatArray]:
    """Lower and upper CIELAB corners of a box holding every colour within `max_delta_e` of `lab`.

    Parameters
    ----------
    lab : ndarray of shape (3,)
        The query colour in CIELAB.
    max_delta_e : float
        CIEDE2000 radius, > 0.

    Returns
    -------
    lo, hi : ndarray of shape (3,)
        Box corners, clipped to the CIELAB extent of sRGB (see the module docstring for
        how the box is measured).
    """
    return RayProfile(lab, max_delta_e).box(max_delta_e)


class RayProfile:
    """CIEDE2000 from a colour to points on rays around it; gives boxes for radii up to `t_max`.

    Samples are computed lazily, out to 12 times the largest radius asked for so far, so
    a search that stops at a small radius pays only for the samples near the colour.
    """

    def __init__(self, lab: FloatArray, t_max: float) -> None:
        self.lab = np.asarray(lab, dtype=np.float64).reshape(3)
        self.t_max = t_max
        self.radii = t_max * _RADII
        self.delta_e = np.empty((len(_RAYS), 0))

    def _sample(self, t: float) -> int:
        """Compute samples out to 12 `t`; return how many radii that covers."""
        n = min(len(self.radii), int(np.searchsorted(self.radii, _RADII[-1] * t, side="right")) + 1)
        have = self.delta_e.shape[1]
        if n > have:
            points = self.lab + _RAYS[:, None, :] * self.radii[None, have:n, None]
            self.delta_e = np.concatenate([self.delta_e, ciede2000(self.lab, points)], axis=1)
        return n

    def _offsets(self, t: float, refine: int = 0) -> FloatArray:
        """Per ray, the point at the first sampled radius past the region ``ΔE00 <= t``.

        `refine` > 0 bisects that many times between the farthest sample inside and the
        next one (outside), and takes the first point found outside.
        """
        n = self._sample(t)
        inside = self.delta_e[:, :n] <= t
        last = n - 1 - np.argmax(inside[:, ::-1], axis=1)  # farthest inside sample per ray
        # The next sample is outside: the boundary lies before it (no monotonicity assumed).
        reach = self.radii[np.minimum(last + 1, n - 1)]
        reach[~inside.any(axis=1)] = self.radii[0]
        if refine:
            low = np.where(inside.any(axis=1), self.radii[last], 0.0)
            high = reach.copy()
            for _ in range(refine):
                mid = (low + high) / 2
                out = ciede2000(self.lab, self.lab + _RAYS * mid[:, None]) > t
                high = np.where(out, mid, high)
                low = np.where(out, low, mid)
            reach = high
        return _RAYS * reach[:, None]

    def box(self, t: float) -> tuple[FloatArray, FloatArray]:
        """Box corners for radius `t` (at most the `t_max` the profile was made for)."""
        offsets = self._offsets(t)
        grow = 1 + BOX_MARGIN
        lo = self.lab + np.minimum(offsets.min(axis=0), 0) * grow - BOX_PAD
        hi = self.lab + np.maximum(offsets.max(axis=0), 0) * grow + BOX_PAD
        bounds = np.array(LAB_RANGE)
        return np.maximum(lo, bounds[:, 0]), np.minimum(hi, bounds[:, 1])

    def slabs(self, t: float) -> Slabs:
        """The region for radius `t` between two planes across each of `SLAB_DIRECTIONS`.

        Measured and widened like `box`: the extent of the ray points projected on each
        direction, times ``1 + BOX_MARGIN``, plus `BOX_PAD`, but each ray's reach is
        bisected 4 times past the sampled grid (within 1.5 % rather than 27 %). With the box they make a
        polyhedron much closer to the region than the box alone: the region of a
        saturated colour is a tilted ellipsoid, which its box holds with much empty room.
        """
        proj = self._offsets(t, refine=4) @ SLAB_DIRECTIONS.T  # (rays, directions)
        centre = SLAB_DIRECTIONS @ self.lab
        grow = 1 + BOX_MARGIN
        lo = centre + np.minimum(proj.min(axis=0), 0) * grow - BOX_PAD
        hi = centre + np.maximum(proj.max(axis=0), 0) * grow + BOX_PAD
        return Slabs(SLAB_DIRECTIONS, lo, hi)


@dataclass(frozen=True)
class Slabs:
    """Bounds ``lo <= (L, a, b) · direction <= hi`` on CIELAB colours, one per direction."""

    directions: FloatArray
    lo: FloatArray
    hi: FloatArray

    def holds(self, lab: FloatArray) -> np.ndarray:
        """Mask of the colours within every slab (`lab` of shape (3, n))."""
        keep = np.ones(lab.shape[1], dtype=bool)
        for (dl, da, db), lo, hi in zip(self.directions, self.lo, self.hi, strict=True):
            proj = lab[1] * da + lab[2] * db
            if dl:
                proj += lab[0] * dl
            keep &= (proj >= lo) & (proj <= hi)
        return keep


def _slab_directions() -> FloatArray:
    """L, and eight directions in the (a, b) plane (22.5° apart), and four tilted 45°
    towards L, as unit vectors (L, a, b)."""
    flat = np.pi / 8 * np.arange(8)
    tilted = np.pi / 2 * np.arange(4)
    e = np.sqrt(0.5)
    return np.concatenate([
        np.array([[1.0, 0.0, 0.0]]),
        np.stack([np.zeros(8), np.cos(flat), np.sin(flat)], axis=1),
        np.stack([np.full(4, e), e * np.cos(tilted), e * np.sin(tilted)], axis=1),
    ])


#: Directions (L, a, b) of the slabs that, with the box, bound the region searched for
#: several colours and similar palettes (`RayProfile.slabs`).
SLAB_DIRECTIONS: Final = _slab_directions()


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
