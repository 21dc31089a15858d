"""Images with the most similar palettes: an earth mover's distance in CIEDE2000.

The distance
------------
Two palettes are two distributions of colour: colours with shares summing to 1. Their
distance is the earth mover's distance (EMD): the least total ``share x ΔE00`` needed
to move one distribution onto the other. It compares palettes of different k, weighs a
colour by how much of the image it covers (a 2 % accent moved far costs little, the
background moved a little costs a lot), and never matches two colours to one while
leaving another unmatched, as a sum of nearest-colour distances would. CIEDE2000 is the
ground distance because it is the difference the rest of chromapal's search uses.

Shares are rounded to `UNITS` equal units (largest remainders), so each palette is
`UNITS` points and the EMD is an optimal one-to-one matching of points, solved exactly
by `scipy.optimize.linear_sum_assignment` in about 50 µs. With `UNITS` = 20 shares are
exact to 2.5 % of the image.

Finding the nearest without reading every palette
-------------------------------------------------
Every unit of the query's colour ``q`` must travel at least to the stored colour nearest
``q``, so ``EMD >= Σ share(q) · min_j ΔE(q, p_j)``. For a radius ``r`` the box search of the
in-memory colour table (`chromapal.search_table`) gives, for each query colour, the images holding a colour within
``r`` and how close it is; an image outside every box has a lower bound of at least ``r``.
The bound is taken over the query's dominant colours only (those covering 80 % of it,
at most `BOUND_COLORS`, weight ``c`` together): an image outside their boxes has a
bound of at least ``c · r``. Candidates are scored exactly in the order of their lower
bound until the bound passes the ``limit``-th best distance; if that distance is at most
``c · r`` no other stored palette can beat the results (``exact=True``), otherwise ``r``
grows by `GROWTH`, up to `MAX_RADIUS`.

Work is bounded so that a query on a million palettes stays interactive: the radius
stops growing when the next one would hold more than `MAX_CANDIDATES` images (the
candidates grow with the cube of the radius), and at most `MAX_SCORED` palettes are
scored. A search stopped by these bounds returns the best palettes it
scored, marked ``exact=False``. That happens when nothing stored is near the query
(every palette is more than about ``MAX_RADIUS`` away), where the order among far
palettes matters little.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np

from ._types import FloatArray
from .colorspace import ciede2000, lab_from_srgb
from .errors import PaletteError
from .search import NothingStored, describe, filter_ids, plan_filter
from .search_region import RayProfile
from .search_table import ColourTable, closest, with_table
from .store import PaletteFilter, PaletteStore

#: Equal units each palette's shares are rounded to.
UNITS: Final = 40
#: First and largest search radius (CIEDE2000) of the candidate boxes.
FIRST_RADIUS: Final = 2.0
MAX_RADIUS: Final = 16.0
#: Query colours the lower bound is computed from, at most (the most dominant ones).
BOUND_COLORS: Final = 3
#: Work bounds: no wider radius once this many candidates are found, and no more than
#: this many palettes scored exactly; a search stopped by them says ``exact=False``.
MAX_CANDIDATES: Final = 5_000
#: Ratio between successive radii.
GROWTH: Final = 1.5
MAX_SCORED: Final = 600


@dataclass(frozen=True)
class LikeMatch:
    """One stored palette and its distance to the query palette."""

    source: str
    image_id: int
    k: int
    options: str
    label: str | None
    distance: float  # EMD in CIEDE2000 units
    exact: bool  # False: a palette farther than MAX_RADIUS might be nearer

    def to_dict(self) -> dict[str, object]:
        """Return a JSON-ready dict."""
        return {
            "source": self.source,
            "k": self.k,
            "options": json.loads(self.options),
            "label": self.label,
            "distance": round(self.distance, 4),
            "exact": self.exact,
        }


def units(shares: Sequence[float], n: int = UNITS) -> np.ndarray:
    """Round shares to `n` whole units by largest remainders; they add up to `n`."""
    s = np.asarray(shares, dtype=np.float64)
    s = s / s.sum() * n if s.sum() > 0 else np.full(len(s), n / max(len(s), 1))
    base = np.floor(s).astype(np.int64)
    extra = n - int(base.sum())
    if extra > 0:
        base[np.argsort(-(s - base), kind="stable")[:extra]] += 1
    return base


def palette_distance(
    lab_a: FloatArray, shares_a: Sequence[float], lab_b: FloatArray, shares_b: Sequence[float]
) -> float:
    """Earth mover's distance between two palettes in CIEDE2000 (shares rounded to `UNITS`)."""
    la = np.asarray(lab_a, dtype=np.float64).reshape(-1, 3)
    lb = np.asarray(lab_b, dtype=np.float64).reshape(-1, 3)
    return transport_cost(ciede2000(la[:, None, :], lb[None, :, :]), shares_a, shares_b)


def transport_cost(
    delta_e: FloatArray,
    shares_a: Sequence[float],
    shares_b: Sequence[float],
    units_a: np.ndarray | None = None,
) -> float:
    """EMD from the ``k_a x k_b`` CIEDE2000 matrix of two palettes and their shares.

    `units_a`, if given, is ``units(shares_a)`` computed once for many calls.

    Raises
    ------
    PaletteError
        If scipy is not installed.
    """
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError as exc:
        raise PaletteError("similar-palette search needs scipy: pip install 'chromapal[search]'") from exc
    ua, ub = units(shares_a) if units_a is None else units_a, units(shares_b)
    cost = delta_e[np.repeat(np.arange(len(ua)), ua)][:, np.repeat(np.arange(len(ub)), ub)]
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].sum() / UNITS)


def search_like(
    store: PaletteStore,
    rgb: Sequence[Sequence[int]],
    shares: Sequence[float],
    *,
    limit: int = 20,
    where: PaletteFilter | None = None,
    exclude: str | None = None,
) -> list[LikeMatch]:
    """Stored palettes nearest to the palette (`rgb`, `shares`), by `palette_distance`.

    Parameters
    ----------
    store : PaletteStore
        An open database.
    rgb, shares : sequences
        The query palette: uint8 sRGB colours and their shares.
    limit : int
        Number of palettes returned at most, >= 1.
    where : PaletteFilter, optional
        Only palettes with these k and options.
    exclude : str, optional
        A source left out (the query image itself, when it is stored).

    Returns
    -------
    list of LikeMatch
        Nearest first; ``exact`` tells whether the order is proven over the whole
        database (see the module docstring) or the work bounds were reached first.

    Raises
    ------
    ValueError
        If the palette is empty or `limit` < 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1 (got {limit})")
    arr = np.asarray(rgb, dtype=np.uint8).reshape(-1, 3)
    if len(arr) == 0 or len(arr) != len(shares):
        raise ValueError("the query palette needs as many shares as colours, and at least one")
    try:
        where = plan_filter(store, where)
    except NothingStored:
        return []
    query = lab_from_srgb(arr)
    return with_table(store, lambda tab: _search(store, tab, query, shares, limit, where, exclude))


def _search(
    store: PaletteStore,
    tab: ColourTable,
    query: FloatArray,
    shares: Sequence[float],
    limit: int,
    where: PaletteFilter | None,
    exclude: str | None,
) -> list[LikeMatch]:
    """`search_like` on the colour table `tab`."""
    weights = units(shares) / UNITS
    # The bound uses the query's dominant colours (enough to cover 80 % of it, at most
    # `BOUND_COLORS`): a bound over some of the colours is still a lower bound.
    order = [int(i) for i in np.argsort(-weights, kind="stable") if weights[i] > 0]
    used = []
    for i in order[:BOUND_COLORS]:
        used.append(i)
        if weights[used].sum() >= 0.8:
            break
    covered = float(weights[used].sum())
    profiles = {i: RayProfile(query[i], MAX_RADIUS) for i in used}
    memos: dict[int, dict] = {i: {} for i in used}  # ΔE of the rows read at smaller radii
    scored: dict[int, float] = {}
    radius = FIRST_RADIUS
    while True:
        found = [closest(tab, query[i], profiles[i], radius, 0.0, memos[i]) for i in used]
        ids = np.unique(np.concatenate([f[0] for f in found]))
        # Σ w_i · min(ΔE_i, r): start at r · (weight covered), lower by each colour found.
        bound = np.full(len(ids), radius * covered)
        for i, (found_ids, de, _, _) in zip(used, found, strict=True):
            at = np.searchsorted(ids, found_ids)
            bound[at] = bound[at] - weights[i] * (radius - de)
        if exclude is not None or where:
            keep = _allowed(store, ids.tolist(), where, exclude)
            mask = np.isin(ids, np.array(sorted(keep), dtype=np.int64))
            ids, bound = ids[mask], bound[mask]
        top, complete = _score(tab, query, shares, ids, bound, scored, limit)
        proven = complete and len(top) >= limit and top[-1][0] <= radius * covered
        # The next radius holds about GROWTH**3 times the candidates: stop if that is too many.
        if proven or radius >= MAX_RADIUS or len(ids) * GROWTH**3 > MAX_CANDIDATES:
            break
        radius = min(radius * GROWTH, MAX_RADIUS)
    out = []
    for distance, image_id in top:
        source, k, options, label = describe(store, image_id)
        out.append(LikeMatch(source, image_id, k, options, label, distance, proven))
    return out


def _allowed(
    store: PaletteStore, ids: list[int], where: PaletteFilter | None, exclude: str | None
) -> set[int]:
    """The ids among `ids` that `where` takes, without the palettes of `exclude`."""
    kept = filter_ids(store, ids, where) if where else set(ids)
    if exclude is not None:
        kept -= {
            row[0] for row in store.conn.execute("SELECT id FROM images WHERE source = ?", (exclude,))
        }
    return kept


def _score(
    tab: ColourTable,
    query: FloatArray,
    shares: Sequence[float],
    ids: np.ndarray,
    bound: FloatArray,
    scored: dict[int, float],
    limit: int,
) -> tuple[list[tuple[float, int]], bool]:
    """Exact distances in lower-bound order until the bound passes the `limit`-th best.

    Returns the best ``(distance, id)`` pairs and whether the scan ended by the bound
    (True) rather than by `MAX_SCORED`.
    """
    best: list[tuple[float, int]] = []  # max-heap by distance: (-distance, id)
    order = np.argsort(bound, kind="stable")
    ranked = list(zip(ids[order].tolist(), bound[order].tolist(), strict=True))
    complete = True
    for start in range(0, len(ranked), 100):
        chunk = ranked[start : start + 100]
        if len(best) >= limit and chunk[0][1] >= -best[0][0]:
            break
        new = [i for i, _ in chunk if i not in scored]
        if len(scored) + len(new) > MAX_SCORED:
            complete = False
            new = new[: max(0, MAX_SCORED - len(scored))]
        _palettes_into(tab, query, shares, new, scored)
        for image_id, bound in chunk:
            if len(best) >= limit and bound >= -best[0][0]:
                break
            if image_id not in scored:
                continue
            item = (-scored[image_id], image_id)
            if len(best) < limit:
                heapq.heappush(best, item)
            elif item > best[0]:
                heapq.heapreplace(best, item)
    return sorted((-d, i) for d, i in best), complete


def _palettes_into(
    tab: ColourTable,
    query: FloatArray,
    shares: Sequence[float],
    ids: list[int],
    scored: dict[int, float],
) -> None:
    """Store the distances of the palettes of `ids` in `scored`."""
    if not ids:
        return
    pos = tab.palettes(np.array(ids, dtype=np.int64))
    if not len(pos):
        return
    image = tab.image_id[pos]
    # One CIEDE2000 call for every (query colour, stored colour) pair of the chunk.
    de = ciede2000(query[:, None, :], tab.lab[:, pos].T[None, :, :])
    share = tab.share[pos]
    cuts = np.flatnonzero(np.diff(image)) + 1
    query_units = units(shares)
    for lo, hi in zip([0, *cuts.tolist()], [*cuts.tolist(), len(pos)], strict=True):
        scored[int(image[lo])] = transport_cost(de[:, lo:hi], shares, share[lo:hi], query_units)
