"""The scans behind several-colour search (`chromapal.search_multi`), on the colour table.

`in_every_box` reads the whole radius at once, each colour among the images holding the
ones before it; `score_candidates` scores the images found at one radius in lower-bound
order, reading whole palettes (`read_hits`) for the images not in every colour's box.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ._types import FloatArray, IntArray
from .colorspace import ciede2000
from .search import filter_ids
from .search_table import ColourTable, closest
from .store import PaletteFilter, PaletteStore

if TYPE_CHECKING:
    from .search_multi import ColorQuery
    from .search_region import RayProfile

#: Palettes read per radius at most, for images not found in every colour's box.
MAX_READ = 2_000

Hits = tuple[IntArray, FloatArray, FloatArray, IntArray]  # ids, ΔE, share, rank per image


def in_every_box(
    tab: ColourTable,
    queries: Sequence[ColorQuery],
    labs: Sequence[FloatArray],
    profiles: Sequence[RayProfile],
    sizes: Sequence[int],
    radius: float,
    memos: Sequence[dict],
) -> list[Hits]:
    """Each colour's hits within `radius`, of the images found for the colours before it.

    The colour with the fewest rows in its box is read first; each next colour reads
    only the rows of the images found so far. The images found for the last colour are
    those in every colour's box: the same as reading every box whole, for less ΔE.
    """
    hits: list[Hits | None] = [None] * len(queries)
    among = None
    for n in np.argsort(sizes, kind="stable").tolist():
        hits[n] = h = closest(tab, labs[n], profiles[n], radius, queries[n].min_share, memos[n], among)
        among = np.zeros(len(tab.offsets), dtype=bool)
        among[h[0]] = True
    return [h for h in hits if h is not None]


def mean_distance(queries: Sequence[ColorQuery], hits: Sequence[tuple[float, float, int]], total: float) -> float:
    """The weighted mean ΔE of an image's hits (one colour after the other, as ranked)."""
    return sum(q.weight * hit[0] for q, hit in zip(queries, hits, strict=True)) / total


def score_candidates(
    store: PaletteStore,
    tab: ColourTable,
    queries: Sequence[ColorQuery],
    labs: Sequence[FloatArray],
    hits: Sequence[Hits],
    radius: float,
    max_delta_e: float,
    total: float,
    limit: int,
    wanted: Mapping[str, float],
    where: PaletteFilter | None,
    memo: dict[int, list[tuple[float, float, int]] | None],
) -> tuple[dict[int, list[tuple[float, float, int]]], bool]:
    """Images found in any colour's box at `radius`, scored exactly in lower-bound order.

    An image's bound is its weighted mean with ``radius`` for each colour not found
    within it. Images found for every colour are scored from their hits; the others
    from their palettes, in chunks of 500. Scoring stops once the `limit`-th best
    mean is at most the next bound (True), or after `MAX_READ` palettes (False: the
    ranking is not complete at this radius). `memo` keeps the hits of palettes read
    (None: not every colour within reach) for the next radii.
    """
    ids = np.unique(np.concatenate([h[0] for h in hits]))
    bound = np.full(len(ids), float(radius))
    count = np.zeros(len(ids), dtype=np.int64)
    for q, h in zip(queries, hits, strict=True):
        w = q.weight / total
        at = np.searchsorted(ids, h[0])
        bound[at] = bound[at] - w * (radius - h[1])
        count[at] += 1
    ranked = np.argsort(bound, kind="stable")
    found: dict[int, list[tuple[float, float, int]]] = {}
    best: list[float] = []
    read = 0
    for start in range(0, len(ranked), 500):
        chunk = ranked[start : start + 500]
        if len(best) >= limit and sorted(best)[limit - 1] <= bound[chunk[0]]:
            break
        if read >= MAX_READ:  # not proven at this radius: the caller widens it
            return found, False
        if wanted:
            keep = with_facets(store, dict.fromkeys(ids[chunk].tolist()), wanted)
            chunk = chunk[np.isin(ids[chunk], list(keep))]
        if where:
            keep = filter_ids(store, ids[chunk].tolist(), where)
            chunk = chunk[np.isin(ids[chunk], list(keep))]
        complete_hits = chunk[count[chunk] == len(hits)]
        for image_id in ids[complete_hits].tolist():
            image_hits = []
            for h in hits:
                j = int(np.searchsorted(h[0], image_id))
                image_hits.append((float(h[1][j]), float(h[2][j]), int(h[3][j])))
            found[image_id] = image_hits
            best.append(mean_distance(queries, image_hits, total))
        partial = ids[chunk[count[chunk] < len(hits)]]
        read += len(partial)
        unread = [i for i in partial.tolist() if i not in memo]
        new = read_hits(tab, queries, labs, np.array(unread, dtype=np.int64), max_delta_e)
        memo.update((i, new.get(i)) for i in unread)
        for image_id in partial.tolist():
            image_hits = memo[image_id]
            if image_hits is not None:
                found[image_id] = image_hits
                best.append(mean_distance(queries, image_hits, total))
    return found, True


def read_hits(
    tab: ColourTable,
    queries: Sequence[ColorQuery],
    labs: Sequence[FloatArray],
    ids: IntArray,
    max_delta_e: float,
) -> dict[int, list[tuple[float, float, int]]]:
    """Each image's closest colour to every query colour, from its palette; only those within reach.

    Ties in ΔE go to the larger share, then to the lower rank.
    """
    pos = tab.palettes(ids)
    if not len(pos):
        return {}
    image, share, rank = tab.image_id[pos], tab.share[pos], tab.rank[pos]
    new = np.ones(len(pos), dtype=bool)
    new[1:] = image[1:] != image[:-1]
    group = np.cumsum(new) - 1
    ok = np.ones(int(group[-1]) + 1, dtype=bool)
    picks = []
    for lab, q in zip(labs, queries, strict=True):
        de = np.where(share >= q.min_share, ciede2000(lab, tab.lab[:, pos].T), np.inf)
        order = np.lexsort((np.arange(len(pos)), -share, de, group))
        # Groups are contiguous and ascending, so they start at the same places once sorted.
        j = order[new]  # each group's first row is its best
        ok &= de[j] <= max_delta_e
        picks.append((de[j], share[j], rank[j]))
    first = image[new]
    return {
        int(first[g]): [(float(d[g]), float(s[g]), int(r[g])) for d, s, r in picks]
        for g in np.flatnonzero(ok).tolist()
    }


def with_facets(
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
