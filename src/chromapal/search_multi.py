"""Search by several colours at once, and by named-colour facets.

Several colours
---------------
Each query colour has a weight and a minimum share (``'#c1a4a9:30%'``: the image must
hold a colour within the ΔE radius of it covering at least 30 % of the image). An image
matches when its palette holds every query colour; it is ranked by the weighted mean of
the CIEDE2000 differences between each query colour and its closest palette colour
(weights default to 1). Each colour is found through the indexed CIELAB box of
`chromapal.search`, with the same iterative deepening: within a fraction ``f`` of the
radius, an image not found holds some query colour farther than ``f`` times the radius,
so its weighted mean is above ``(smallest weight / total weight) · f · radius``; once
`limit` images score below that the search stops.

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

from .errors import InvalidColorError
from .facets import check_facet
from ._types import FloatArray
from .search import DEEPENING, RayProfile, closest_per_image, describe, filter_ids, query_lab
from .store import PaletteFilter, PaletteStore


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
    if not queries:
        return _facets_only(store, wanted, limit, where)
    labs = [query_lab(q.color) for q in queries]
    profiles = [RayProfile(lab, max_delta_e) for lab in labs]
    total = sum(q.weight for q in queries)
    sure = min(q.weight for q in queries) / total
    for fraction in DEEPENING:
        radius = max_delta_e * fraction
        found = _holding_all(store, queries, labs, profiles, radius)
        if found and wanted:
            found = {i: found[i] for i in _with_facets(store, found, wanted)}
        if found and where:
            found = {i: found[i] for i in filter_ids(store, found, where)}
        scored = sorted(
            (sum(q.weight * hit[0] for q, hit in zip(queries, hits, strict=True)) / total, i)
            for i, hits in found.items()
        )
        # An image missing at this radius has a colour farther than it: its distance is
        # above sure * radius, so results up to that are final.
        if fraction == 1.0 or sum(1 for d, _ in scored[:limit] if d <= sure * radius) >= limit:
            break
    scored = scored[:limit]
    out = []
    for distance, image_id in scored:
        hits = found[image_id]
        out.append(
            _multi_match(
                store,
                image_id,
                distance,
                [
                    {"query": q.color, "delta_e": round(de, 4), "share": share, "rank": rank}
                    for q, (de, share, rank) in zip(queries, hits, strict=True)
                ],
                wanted,
            )
        )
    return out


def _holding_all(
    store: PaletteStore,
    queries: Sequence[ColorQuery],
    labs: Sequence[FloatArray],
    profiles: Sequence[RayProfile],
    radius: float,
) -> dict[int, list[tuple[float, float, int]]]:
    """Images holding a colour within `radius` of every query colour, with each closest hit."""
    found: dict[int, list[tuple[float, float, int]]] = {}
    for n, (q, lab, profile) in enumerate(zip(queries, labs, profiles, strict=True)):
        best = closest_per_image(store, lab, radius, q.min_share, profile=profile)
        if n == 0:
            found = {i: [hit] for i, hit in best.items()}
        else:
            found = {i: [*hits, best[i]] for i, hits in found.items() if i in best}
        if not found:
            break
    return found


def _with_facets(
    store: PaletteStore, ids: Mapping[int, object], wanted: Mapping[str, float]
) -> set[int]:
    """The ids among `ids` whose facet shares reach every `wanted` minimum."""
    keep = set(ids)
    for name, share in wanted.items():
        listed = list(keep)
        keep = set()
        for start in range(0, len(listed), 500):
            chunk = listed[start : start + 500]
            keep.update(
                row[0]
                for row in store.conn.execute(
                    f"SELECT image_id FROM facets WHERE name = ? AND share >= ? "
                    f"AND image_id IN ({', '.join('?' * len(chunk))})",
                    (name, share, *chunk),
                )
            )
    return keep


def _facets_only(
    store: PaletteStore, wanted: Mapping[str, float], limit: int, where: PaletteFilter | None
) -> list[MultiMatch]:
    """Rank by the first facet's share (from its index), keeping images that have the rest."""
    (first, first_share), *others = sorted(wanted.items(), key=lambda item: -item[1])
    out: list[MultiMatch] = []
    cursor = store.conn.execute(
        "SELECT image_id FROM facets INDEXED BY facets_search WHERE name = ? AND share >= ? "
        "ORDER BY share DESC, image_id",
        (first, first_share),
    )
    while len(out) < limit and (rows := cursor.fetchmany(500)):
        ids = [row[0] for row in rows]
        keep = _with_facets(store, dict.fromkeys(ids), dict(others)) if others else set(ids)
        if where:
            keep &= filter_ids(store, keep, where)
        for image_id in ids:
            if image_id in keep and len(out) < limit:
                out.append(_multi_match(store, image_id, 0.0, [], wanted))
    return out


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
