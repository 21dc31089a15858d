"""Search by several colours at once, and by named-colour facets.

Several colours
---------------
Each query colour has a weight and a minimum share (``'#c1a4a9:30%'``: the image must
hold a colour within the ΔE radius of it covering at least 30 % of the image). An image
matches when its palette holds every query colour; it is ranked by the weighted mean of
the CIEDE2000 differences between each query colour and its closest palette colour
(weights default to 1), then by image id. Colours are read from the in-memory colour
table (`chromapal.search_table`), in each colour's CIELAB box cut by slabs
(`chromapal.search.RayProfile`), and ΔE is computed exactly for the rows left.

When the rarest colour's box holds at most `DIRECT_ROWS` rows, the whole radius is read
at once: that colour's images first, then each other colour only among the images
found so far; the results are the images left, ranked. Otherwise the radius grows
(`MULTI_DEEPENING`). An image in no box has every colour farther than that radius, so
its mean is above it; an image in some boxes has a lower bound (the radius standing in
for the colours not found). Candidates are scored exactly in bound order (from their
hits, or from their palettes when a colour was not in its box) until the bound passes
the `limit`-th best; once that best is within the radius no other image can beat the
results. When more than `MAX_READ` palettes would be read at one radius the next one is
tried instead. Both ways give the same results.

Facets
------
``facets={"blue": 0.3}`` keeps the images whose colours snapping to "blue" cover at least
30 % of the image (`chromapal.facets`), read from the ``facets_search`` index. Alone,
facets rank images by the share of the facet asked with the largest minimum, largest first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ._types import FloatArray
from .errors import InvalidColorError
from .facets import check_facet
from .search import NothingStored, describe, filter_ids, plan_filter, query_lab
from .search_multi_scan import MAX_READ, in_every_box, mean_distance, score_candidates, with_facets  # noqa: F401
from .search_region import RayProfile
from .search_table import ColourTable, closest, with_table
from .store import PaletteFilter, PaletteStore

#: Rows in the box of the rarest colour under which the whole radius is read at once,
#: each colour only among the images holding the ones before it (`chromapal.search_multi_scan.in_every_box`).
DIRECT_ROWS = 400_000
#: Fractions of the radius searched in turn (see the module docstring).
MULTI_DEEPENING = (1 / 8, 1 / 4, 3 / 8, 1 / 2, 5 / 8, 3 / 4, 1.0)


@dataclass(frozen=True)
class ColorQuery:
    """One colour of a query: the colour, its weight in the ranking and the share it needs."""

    color: str
    weight: float = 1.0
    min_share: float = 0.0

    @classmethod
    def parse(cls, text: str) -> ColorQuery:
        """Parse ``COLOR[:MIN_SHARE%][*WEIGHT]``: ``'#c1a4a9:30%'``, ``'red*2'``, ``'navy:0.1'``.

        Raises
        ------
        InvalidColorError
            If the colour, the share or the weight cannot be read.
        """
        rest, weight = text, 1.0
        if "*" in rest:
            rest, _, w = rest.rpartition("*")
            weight = _number(w, text, "weight")
            if not weight > 0:
                raise InvalidColorError(f"{text!r}: the weight must be positive")
        color, share = rest, 0.0
        if ":" in rest:
            color, _, s = rest.rpartition(":")
            share = _number(s.rstrip("%"), text, "share") / (100 if s.endswith("%") else 1)
            if not 0 <= share <= 1:
                raise InvalidColorError(f"{text!r}: the share must be between 0 and 100 %")
        query_lab(color)  # raises InvalidColorError for an unknown colour
        return cls(color.strip(), weight, share)


def _number(text: str, whole: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidColorError(f"{whole!r}: {text!r} is not a number ({what})") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidColorError(f"{whole!r}: {text!r} is not a finite number ({what})")
    return value


@dataclass(frozen=True)
class MultiMatch:
    """One image holding every query colour (and facet)."""

    source: str
    image_id: int
    k: int
    options: str
    label: str | None
    distance: float  # weighted mean ΔE over the query colours; 0 for a facet-only query
    colors: list[dict[str, object]] = field(default_factory=list)  # per query colour
    facets: dict[str, float] = field(default_factory=dict)  # share of each asked facet

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict."""
        return {
            "source": self.source,
            "k": self.k,
            "options": json.loads(self.options),
            "label": self.label,
            "distance": round(self.distance, 4),
            "colors": self.colors,
            "facets": {name: round(share, 4) for name, share in self.facets.items()},
        }


def search_colors(
    store: PaletteStore,
    colors: Sequence[ColorQuery | str],
    *,
    facets: Mapping[str, float] | None = None,
    max_delta_e: float = 10.0,
    limit: int = 20,
    where: PaletteFilter | None = None,
) -> list[MultiMatch]:
    """Images whose palette holds every colour of `colors` and covers every facet of `facets`.

    Parameters
    ----------
    store : PaletteStore
        An open database.
    colors : sequence of ColorQuery or str
        Query colours (strings are parsed with `ColorQuery.parse`); may be empty if
        `facets` is not.
    facets : mapping, optional
        ``{facet name: minimum share (0-1)}``.
    max_delta_e : float
        Largest CIEDE2000 difference accepted for each colour, > 0.
    limit : int
        Number of images returned at most, >= 1.
    where : PaletteFilter, optional
        Only palettes with these k and options.

    Returns
    -------
    list of MultiMatch
        Best first (smallest weighted mean ΔE; for facets alone, largest smallest share).

    Raises
    ------
    InvalidColorError
        If a colour cannot be read.
    ValueError
        If nothing is asked, a facet is unknown or a number is out of range.
    """
    queries = [c if isinstance(c, ColorQuery) else ColorQuery.parse(c) for c in colors]
    wanted = {check_facet(name): float(share) for name, share in (facets or {}).items()}
    if not queries and not wanted:
        raise ValueError("give at least one colour or facet to search for")
    if not max_delta_e > 0:
        raise ValueError(f"max_delta_e must be positive (got {max_delta_e})")
    if limit < 1:
        raise ValueError(f"limit must be at least 1 (got {limit})")
    for name, share in wanted.items():
        if not 0 <= share <= 1:
            raise ValueError(f"the share of facet {name!r} must be between 0 and 1 (got {share})")
    try:
        where = plan_filter(store, where)
    except NothingStored:
        return []
    if not queries:
        return _facets_only(store, wanted, limit, where)
    labs = [query_lab(q.color) for q in queries]
    return with_table(
        store, lambda tab: _search(store, tab, queries, labs, wanted, max_delta_e, limit, where)
    )




def _search(
    store: PaletteStore,
    tab: ColourTable,
    queries: Sequence[ColorQuery],
    labs: Sequence[FloatArray],
    wanted: Mapping[str, float],
    max_delta_e: float,
    limit: int,
    where: PaletteFilter | None,
) -> list[MultiMatch]:
    """`search_colors` on the colour table `tab` (see the module docstring)."""
    total = sum(q.weight for q in queries)
    profiles = [RayProfile(lab, max_delta_e) for lab in labs]
    sizes = [tab.box_size(*profile.box(max_delta_e)) for profile in profiles]
    deepening = MULTI_DEEPENING if min(sizes) > DIRECT_ROWS else (1.0,)
    found: dict[int, list[tuple[float, float, int]]] = {}
    memos: list[dict] = [{} for _ in queries]  # ΔE of the rows read at smaller radii
    read: dict[int, list[tuple[float, float, int]] | None] = {}  # palettes read so far
    for fraction in deepening:
        radius = max_delta_e * fraction
        if fraction == 1.0:
            hits = in_every_box(tab, queries, labs, profiles, sizes, radius, memos)
        else:
            hits = [
                closest(tab, lab, profile, radius, q.min_share, memo)
                for q, lab, profile, memo in zip(queries, labs, profiles, memos, strict=True)
            ]
        if fraction < 1.0:
            found, complete = score_candidates(
                store, tab, queries, labs, hits, radius, max_delta_e, total, limit, wanted, where, read
            )
            scored = sorted((mean_distance(queries, found[i], total), i) for i in found)
            # An image in no box has every colour farther than `radius`: its mean is above it.
            if complete and len(scored) >= limit and scored[limit - 1][0] <= radius:
                break
            continue
        # The whole radius: the images in every colour's box.
        common = hits[0][0]
        for h in hits[1:]:
            common = np.intersect1d(common, h[0], assume_unique=True)
        if len(common) and wanted:
            common = np.array(sorted(with_facets(store, dict.fromkeys(common.tolist()), wanted)), dtype=np.int64)
        if len(common) and where:
            common = np.array(sorted(filter_ids(store, common.tolist(), where)), dtype=np.int64)
        at = [np.searchsorted(h[0], common) for h in hits]
        # The weighted mean as `_mean` computes it, one colour after the other.
        mean = np.zeros(len(common))
        for q, h, idx in zip(queries, hits, at, strict=True):
            mean = mean + q.weight * h[1][idx]
        top = np.lexsort((common, mean / total))[:limit]
        found = {
            int(common[t]): [
                (float(h[1][idx[t]]), float(h[2][idx[t]]), int(h[3][idx[t]]))
                for h, idx in zip(hits, at, strict=True)
            ]
            for t in top.tolist()
        }
        scored = sorted((mean_distance(queries, found[i], total), i) for i in found)
    scored = scored[:limit]
    out = []
    for distance, image_id in scored:
        image_hits = found[image_id]
        out.append(
            _multi_match(
                store,
                image_id,
                distance,
                [
                    {"query": q.color, "delta_e": round(de, 4), "share": share, "rank": rank}
                    for q, (de, share, rank) in zip(queries, image_hits, strict=True)
                ],
                wanted,
            )
        )
    return out


def _facets_only(
    store: PaletteStore, wanted: Mapping[str, float], limit: int, where: PaletteFilter | None
) -> list[MultiMatch]:
    """Rank by the first facet's share (its index, largest first), joined to the other facets.

    One query: SQLite walks the first facet's index in share order, looks each image's
    other facets up by primary key, and stops after `limit` rows.
    """
    (first, first_share), *others = sorted(wanted.items(), key=lambda item: -item[1])
    joins, params = [], []
    for n, (name, share) in enumerate(others):
        joins.append(f"JOIN facets AS f{n} ON f{n}.image_id = a.image_id AND f{n}.name = ? AND f{n}.share >= ?")
        params += [name, share]
    condition, where_params = (where or PaletteFilter()).sql("i")
    rows = store.conn.execute(
        f"SELECT a.image_id FROM facets AS a INDEXED BY facets_search {' '.join(joins)} "
        f"JOIN images AS i ON i.id = a.image_id "
        f"WHERE a.name = ? AND a.share >= ? AND {condition} ORDER BY a.share DESC, a.image_id LIMIT ?",
        [*params, first, first_share, *where_params, limit],
    ).fetchall()
    return [_multi_match(store, image_id, 0.0, [], wanted) for (image_id,) in rows]


def _multi_match(
    store: PaletteStore,
    image_id: int,
    distance: float,
    colors: list[dict[str, object]],
    wanted: Mapping[str, float],
) -> MultiMatch:
    source, k, options, label = describe(store, image_id)
    facets = {}
    if wanted:
        facets = {
            name: share
            for name, share in store.conn.execute(
                f"SELECT name, share FROM facets WHERE image_id = ? AND name IN "
                f"({', '.join('?' * len(wanted))})",
                (image_id, *wanted),
            )
        }
    return MultiMatch(source, image_id, k, options, label, distance, colors, facets)
