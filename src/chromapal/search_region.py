"""The CIELAB region a colour search reads: a box, and slabs that cut it closer.

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
points in each axis, widened by `BOX_MARGIN` (`BLUE_BOX_MARGIN` for blue and purple queries)
to cover the gaps between rays. The test
suite checks that the box holds every colour within ``t`` for thousands of random sRGB
pairs; the bound is empirical, not a proof.

Several colours and similar palettes (`chromapal.search_multi`, `chromapal.search_like`)
also cut the box by slabs (`RayProfile.slabs`): two planes across each of 13 directions,
measured the same way from each ray's reach bisected 4 times past the grid (not for
blue and purple queries, `BLUE_HUES`, where the region has lobes the rays can miss). On 8 million
random colours this halves the rows read at ΔE 10 (for example 279,000 -> 121,000 rows
for ``#c1a4a9``, 58,000 of them within the radius); ``bench_search.py --check-box``
checks them beside the box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from ._types import FloatArray
from .colorspace import ciede2000

#: Relative widening of the measured box (covers the directions between sampled rays).
BOX_MARGIN: Final = 0.15
#: The same for query hues within `BLUE_HUES`, where the region has thin lobes: at 0.15 one
#: of 4,000 random queries (seed 13 of ``bench_search.py --check-box``) had a colour within
#: ΔE 10 of #2a3aa8 up to 1.5 units outside the box; at 0.25, none of 16,000 (seeds 4, 13, 21, 99).
BLUE_BOX_MARGIN: Final = 0.25
#: Absolute widening in CIELAB units.
BOX_PAD: Final = 0.5
#: Extent of 8-bit sRGB in CIELAB (D65): no stored colour lies outside.
LAB_RANGE: Final = ((0.0, 100.0), (-87.0, 99.0), (-108.0, 95.0))

_N_RAYS: Final = 1000
# Radii, as multiples of t_max, at which each ray is sampled: ratio 1.27 between steps, from
# 1/20 of the smallest deepening radius to 12 t_max, past the farthest reach seen.
_RADII: Final = np.geomspace(0.05 / 32, 12.0, 38)
def _fibonacci_sphere(n: int) -> FloatArray:
    """`n` unit vectors spread evenly over the sphere."""
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    phi = np.pi * (1 + 5**0.5) * i
    rho = np.sqrt(1 - z * z)
    return np.stack([z, rho * np.cos(phi), rho * np.sin(phi)], axis=1)


_RAYS: Final = _fibonacci_sphere(_N_RAYS)

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

    def is_blue(self) -> bool:
        """Whether the query's CIELAB hue lies within `BLUE_HUES`."""
        hue = np.degrees(np.arctan2(self.lab[2], self.lab[1])) % 360
        return bool(BLUE_HUES[0] <= hue <= BLUE_HUES[1])

    def box(self, t: float) -> tuple[FloatArray, FloatArray]:
        """Box corners for radius `t` (at most the `t_max` the profile was made for)."""
        offsets = self._offsets(t)
        grow = 1 + (BLUE_BOX_MARGIN if self.is_blue() else BOX_MARGIN)
        lo = self.lab + np.minimum(offsets.min(axis=0), 0) * grow - BOX_PAD
        hi = self.lab + np.maximum(offsets.max(axis=0), 0) * grow + BOX_PAD
        bounds = np.array(LAB_RANGE)
        return np.maximum(lo, bounds[:, 0]), np.minimum(hi, bounds[:, 1])

    def slabs(self, t: float) -> Slabs | None:
        """The region for radius `t` between two planes across each of `SLAB_DIRECTIONS`.

        Measured and widened like `box`: the extent of the ray points projected on each
        direction, times ``1 + BOX_MARGIN``, plus `BOX_PAD`, but each ray's reach is
        bisected 4 times past the sampled grid (within 1.5 % rather than 27 %). With the box they make a
        polyhedron much closer to the region than the box alone: the region of a
        saturated colour is a tilted ellipsoid, which its box holds with much empty room.

        None (no slabs: the box alone) for a query whose CIELAB hue is within
        `BLUE_HUES`: there CIEDE2000's rotation term gives the region thin lobes that
        rays can miss by several units (3 colours of 4,000 random queries fell outside
        the slabs at ΔE 10, all with hues near 300°).
        """
        if self.is_blue():
            return None
        proj = self._offsets(t, refine=4) @ SLAB_DIRECTIONS.T  # (rays, directions)
        centre = SLAB_DIRECTIONS @ self.lab
        grow = 1 + BOX_MARGIN
        lo = centre + np.minimum(proj.min(axis=0), 0) * grow - BOX_PAD
        hi = centre + np.maximum(proj.max(axis=0), 0) * grow + BOX_PAD
        return Slabs(SLAB_DIRECTIONS, lo, hi)


#: CIELAB hues (degrees) around 275°, where CIEDE2000's rotation term acts, given no slabs.
BLUE_HUES: Final = (215.0, 335.0)


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
    """Unit vectors (L, a, b) of the slabs.

    L, eight directions in the (a, b) plane 22.5° apart, and four tilted 45° towards L.
    """
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
