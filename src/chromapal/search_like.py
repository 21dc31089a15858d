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
``q``, so ``EMD >= Σ share(q) · min_j ΔE(q, p_j)``. For a radius ``r`` the indexed box search
of `chromapal.search` gives, for each query colour, the images holding a colour within
``r`` and how close it is; an image outside every box has a lower bound of at least ``r``.
Candidates are scored exactly in the order of their lower bound until the bound passes
the ``limit``-th best distance; if that distance is at most ``r`` no other stored palette
can beat the results, otherwise ``r`` is doubled (up to `MAX_RADIUS`).
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
from .search import RayProfile, closest_per_image, describe, filter_ids
from .store import PaletteFilter, PaletteStore

#: Equal units each palette's shares are rounded to.
UNITS: Final = 40
#: First and largest search radius (CIEDE2000) of the candidate boxes.
FIRST_RADIUS: Final = 6.0
MAX_RADIUS: Final = 24.0


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
    """Earth mover's distance between two palettes in CIEDE2000 (shares rounded to `UNITS`).

    Raises
    ------
    PaletteError
        If scipy is not installed.
    """
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError as exc:
        raise PaletteError("similar-palette search needs scipy: pip install 'chromapal[search]'") from exc

    ua, ub = units(shares_a), units(shares_b)
    la = np.asarray(lab_a, dtype=np.float64).reshape(-1, 3)
    lb = np.asarray(lab_b, dtype=np.float64).reshape(-1, 3)
    small = ciede2000(la[:, None, :], lb[None, :, :])  # k_a x k_b, expanded to units below
    cost = small[np.repeat(np.arange(len(la)), ua)][:, np.repeat(np.arange(len(lb)), ub)]
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
        Nearest first.

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
    query = lab_from_srgb(arr)
    weights = units(shares) / UNITS
    used = [i for i in range(len(arr)) if weights[i] > 0]
    radius = FIRST_RADIUS
    scored: dict[int, float] = {}
    profiles = {i: RayProfile(query[i], MAX_RADIUS) for i in used}
    while True:
        bounds: dict[int, float] = {}
        for i in used:
            found = closest_per_image(store, query[i], radius, profile=profiles[i])
            for image_id, (de, _, _) in found.items():
                bounds[image_id] = bounds.get(image_id, radius) - weights[i] * (radius - de)
        # bounds start at `radius` (every colour at least `radius` away) and drop by each
        # colour found closer: Σ w_i · min(ΔE_i, r).
        if exclude is not None or where:
            bounds = _allowed(store, bounds, where, exclude)
        top = _score(store, query, shares, bounds, scored, limit)
        if (len(top) >= limit and top[-1][0] <= radius) or radius >= MAX_RADIUS:
            break
        radius *= 2
    exact = len(top) >= limit and top[-1][0] <= radius
    out = []
    for distance, image_id in top:
        source, k, options, label = describe(store, image_id)
        out.append(LikeMatch(source, image_id, k, options, label, distance, exact or distance <= radius))
    return out


def _allowed(
    store: PaletteStore, bounds: dict[int, float], where: PaletteFilter | None, exclude: str | None
) -> dict[int, float]:
    ids = filter_ids(store, bounds, where) if where else set(bounds)
    if exclude is not None:
        ids -= {
            row[0] for row in store.conn.execute("SELECT id FROM images WHERE source = ?", (exclude,))
        }
    return {i: bounds[i] for i in ids}


def _score(
    store: PaletteStore,
    query: FloatArray,
    shares: Sequence[float],
    bounds: dict[int, float],
    scored: dict[int, float],
    limit: int,
) -> list[tuple[float, int]]:
    """Exact distances in lower-bound order until the bound passes the `limit`-th best."""
    best: list[tuple[float, int]] = []  # max-heap by distance: (-distance, id)
    for image_id, bound in sorted(bounds.items(), key=lambda item: item[1]):
        if len(best) >= limit and bound >= -best[0][0]:
            break
        if image_id not in scored:
            rows = store.conn.execute(
                "SELECT lab_l, lab_a, lab_b, share FROM colors WHERE image_id = ? ORDER BY rank",
                (image_id,),
            ).fetchall()
            pal = np.array(rows, dtype=np.float64)
            scored[image_id] = palette_distance(query, shares, pal[:, :3], pal[:, 3])
        item = (-scored[image_id], image_id)
        if len(best) < limit:
            heapq.heappush(best, item)
        elif item > best[0]:
            heapq.heapreplace(best, item)
    return sorted((-d, i) for d, i in best)
